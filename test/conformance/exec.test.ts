import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCompiled } from '../../src/conformance/compiled.js';
import { EXEC_MEMORY, VFIO_IOCTL, runCompiled, type ConformanceTarget } from '../../src/conformance/exec.js';

/** GET_INFO answer captured from x86-intel 6.1 (golden get_info_round1): 116 bytes. */
const INFO_HEX = [
  '74 00 00 00 03 00 00 00 00 10 20 40 00 00 00 00',
  '18 00 00 00 00 00 00 00 02 00 01 00 38 00 00 00',
  '00 00 00 00 00 00 00 00 00 10 00 00 00 00 00 00',
  '00 00 00 10 00 00 00 00 03 00 01 00 44 00 00 00',
  'ff ff 00 00 01 00 01 00 00 00 00 00 02 00 00 00',
  '00 00 00 00 00 00 00 00 00 00 00 00 ff ff df fe',
  '00 00 00 00 00 00 f0 fe 00 00 00 00 ff ff ff ff',
  '7f 00 00 00',
];
const INFO = Uint8Array.from(
  INFO_HEX.join(' ')
    .split(' ')
    .map((x) => parseInt(x, 16)),
);

interface Call {
  fd: number;
  cmd: number;
  arg: number | Uint8Array | string;
}

/** A recording target: GET_INFO answers like the kernel (header only when argsz is short). */
function recorder(): { t: ConformanceTarget; calls: Call[]; files: Map<string, string> } {
  const calls: Call[] = [];
  const files = new Map<string, string>([
    ['/sys/module/vfio_iommu_type1/parameters/dma_entry_limit', '65535\n'],
  ]);
  let next = 3;
  const t: ConformanceTarget = {
    open: () => next++,
    close: () => 0,
    ioctl(fd, cmd, arg) {
      calls.push({ fd, cmd, arg: arg instanceof Uint8Array ? Uint8Array.from(arg) : arg });
      if (cmd === VFIO_IOCTL.IOMMU_GET_INFO && arg instanceof Uint8Array) {
        const argsz = new DataView(arg.buffer).getUint32(0, true);
        if (argsz < 16) return -22;
        if (argsz >= INFO.length) arg.set(INFO);
        else {
          arg.set(INFO.subarray(0, 16));
          arg[0] = INFO.length;
          if (argsz >= 24) arg.fill(0, 16, 20); // cap_offset 0: the chain did not fit
        }
        return 0;
      }
      if (cmd === VFIO_IOCTL.IOMMU_MAP_DMA) return -17;
      return 0;
    },
    readFile: (p) => files.get(p) ?? -2,
    writeFile: (p, v) => (files.set(p, v), v.length),
    listDir: () => -2,
    readLink: () => -2,
    eventfd: () => next++,
    readEventfd: () => -11,
  };
  return { t, calls, files };
}

test('GET_INFO negotiation, HEX and capability decoding print the lines iovaexec printed', () => {
  const { t } = recorder();
  const text =
    'open_container c\nget_info r0 argsz=24\nget_info r1 argsz=last dump=1\nget_info small argsz=16 fill=0xff\n';
  const out = runCompiled(parseCompiled(text, 't.iovx'), t, { groups: [], devices: [] });
  assert.deepEqual(out, [
    'CASE c rc=0 errno=0',
    'CASE r0 rc=0 errno=0 op=GET_INFO argsz_in=24 argsz_out=116 flags=0x3 iova_pgsizes=0x40201000 cap_offset=0',
    'CASE r1 rc=0 errno=0 op=GET_INFO argsz_in=116 argsz_out=116 flags=0x3 iova_pgsizes=0x40201000 cap_offset=24',
    ...INFO_HEX.map((h, i) => `HEX ${(i * 16).toString(16).padStart(4, '0')} ${h}`),
    'CAP off=24 id=2 version=1 next=56 name=MIGRATION flags=0x0 pgsize_bitmap=0x1000 max_dirty_bitmap_size=0x10000000',
    'CAP off=56 id=3 version=1 next=68 name=DMA_AVAIL avail=65535',
    'CAP off=68 id=1 version=1 next=0 name=IOVA_RANGE nr_iovas=2 reserved=0',
    'RANGE idx=0 start=0x0000000000000000 end=0x00000000fedfffff',
    'RANGE idx=1 start=0x00000000fef00000 end=0x0000007fffffffff',
    'CASE small rc=0 errno=0 op=GET_INFO argsz_in=16 argsz_out=116 flags=0x3 iova_pgsizes=0x40201000 cap_offset=4294967295',
    'END lines=4',
  ]);
});

test('MAP_DMA carries the uapi layout and the executor memory; compact output drops the echo', () => {
  const { t, calls } = recorder();
  const text =
    'open_container c\nmap m flags=3 iova=0xfee00000 size=0x2000 vaddr=buf+0x3000\nformat compact\nmap m2 iova=0x1000 size=0x1000 vaddr=ro+0x0 argsz=64\n';
  const out = runCompiled(parseCompiled(text, 't.iovx'), t, { groups: [], devices: [] });
  assert.equal(
    out[1],
    'CASE m rc=-1 errno=EEXIST op=MAP flags=0x3 iova=0xfee00000 size=0x2000 vaddr_off=0x3000 out_argsz=32 out_flags=0x3 out_iova=0xfee00000 out_size=0x2000',
  );
  assert.equal(out[2], 'CASE m2 rc=-1 errno=EEXIST');
  const b = calls.find((c) => c.cmd === VFIO_IOCTL.IOMMU_MAP_DMA)!.arg as Uint8Array;
  const dv = new DataView(b.buffer);
  assert.equal(dv.getUint32(0, true), 32);
  assert.equal(dv.getUint32(4, true), 3);
  assert.equal(dv.getBigUint64(8, true), EXEC_MEMORY[0]!.addr + 0x3000n);
  assert.equal(dv.getBigUint64(16, true), 0xfee00000n);
  assert.equal(dv.getBigUint64(24, true), 0x2000n);
  const b2 = calls.filter((c) => c.cmd === VFIO_IOCTL.IOMMU_MAP_DMA)[1]!.arg as Uint8Array;
  assert.equal(new DataView(b2.buffer).getUint32(0, true), 64);
  assert.equal(new DataView(b2.buffer).getBigUint64(8, true), EXEC_MEMORY[1]!.addr);
});

test('a closed slot is fd -1 (EBADF from the kernel); closing it again is EBADF', () => {
  const { t, calls } = recorder();
  const out = runCompiled(parseCompiled('close_container c1\nset_iommu s type=3\n', 't.iovx'), t, {
    groups: [],
    devices: [],
  });
  assert.equal(out[0], 'CASE c1 rc=-1 errno=EBADF');
  assert.equal(calls[0]!.fd, -1);
});

test('SET_IRQS packs eventfd slots, -1 and a bad fd after the 20-byte header', () => {
  const { t, calls } = recorder();
  runCompiled(
    parseCompiled('set_irqs s d=0 index=2 start=0 count=3 flags=0x24 data=efd:0,-1,bad\n', 't.iovx'),
    t,
    { groups: [], devices: [] },
  );
  const b = calls[0]!.arg as Uint8Array;
  const dv = new DataView(b.buffer);
  assert.equal(b.length, 32);
  assert.deepEqual(
    [0, 4, 8, 12, 16].map((o) => dv.getUint32(o, true)),
    [32, 0x24, 2, 0, 3],
  );
  assert.ok(dv.getInt32(20, true) >= 0);
  assert.equal(dv.getInt32(24, true), -1);
  assert.equal(dv.getInt32(28, true), 1000);
});

test('module parameters and sysfs reads go through the target files', () => {
  const { t, files } = recorder();
  const out = runCompiled(
    parseCompiled(
      'param_set a p=dma_entry_limit value=16\nparam_get b p=dma_entry_limit\nparam_get c p=nope\n',
      't.iovx',
    ),
    t,
    { groups: [], devices: [] },
  );
  assert.equal(files.get('/sys/module/vfio_iommu_type1/parameters/dma_entry_limit'), '16');
  assert.deepEqual(out.slice(0, 3), [
    'CASE a rc=0 errno=0 param=dma_entry_limit value=16',
    'CASE b rc=0 errno=0 param=dma_entry_limit value=16',
    'CASE c rc=-1 errno=ENOENT param=nope value=',
  ]);
});

test('an executor error stops the scenario with an ERROR line, like iovaexec', () => {
  const { t } = recorder();
  const out = runCompiled(parseCompiled('open_group g g=0\n', 't.iovx'), t, { groups: [], devices: [] });
  assert.deepEqual(out, ['ERROR line 1: open_group: no group number for slot g0 (pass g0=N)']);
});

test('msi_fire programs the e1000e like iovaexec: BME on, mask, clear, unthrottle, unmask+cause, mask', () => {
  const writes: string[] = [];
  const { t } = recorder();
  const target: ConformanceTarget = {
    ...t,
    ioctl(fd, cmd, arg) {
      if (cmd === VFIO_IOCTL.DEVICE_GET_REGION_INFO && arg instanceof Uint8Array) {
        const index = new DataView(arg.buffer).getUint32(8, true);
        new DataView(arg.buffer).setBigUint64(24, BigInt(index) << 40n, true);
        return 0;
      }
      return t.ioctl(fd, cmd, arg);
    },
    pread: (_fd, buf) => buf.length,
    pwrite(_fd, buf, off) {
      writes.push(`${off.toString(16)}=${Buffer.from(buf).toString('hex')}`);
      return buf.length;
    },
  };
  const out = runCompiled(
    parseCompiled('device_fd d g=0 d=0\nmsi_fire f d=0 cause=0x100000\n', 't.iovx'),
    target,
    { groups: [2], devices: ['0000:00:02.0'] },
  );
  assert.equal(out[1], 'CASE f rc=0 errno=0 op=MSI_FIRE cause=0x100000');
  assert.deepEqual(writes, [
    '70000000004=0600',
    'd8=ffffffff',
    'c4=00000000',
    'd0=00001000',
    'c8=00001000',
    'd8=ffffffff',
  ]);
});

test('dirty ops: DIRTY_PAGES payloads, the vfio_bitmap after UNMAP, fill before and words after', () => {
  const { t, calls } = recorder();
  const mem = new Map<bigint, number>();
  t.writeMemory = (addr, b) => (b.forEach((v, i) => mem.set(addr + BigInt(i), v)), 0);
  t.readMemory = (addr, b) => (b.forEach((_, i) => (b[i] = mem.get(addr + BigInt(i)) ?? 0x5a)), 0);
  // the "kernel" sets bit 1 of the first word it is given
  const ioctl = t.ioctl.bind(t);
  t.ioctl = (fd, cmd, arg) => {
    const r = ioctl(fd, cmd, arg);
    if (cmd === VFIO_IOCTL.IOMMU_DIRTY_PAGES && arg instanceof Uint8Array && arg.length === 48) {
      const at = new DataView(arg.buffer).getBigUint64(40, true);
      mem.set(at, (mem.get(at) ?? 0) | 2);
    }
    return r;
  };
  const buf = EXEC_MEMORY[0]!.addr;
  const text = [
    'open_container c',
    'dirty s flags=1',
    'dirty_get g iova=0x100000 size=0x4000 bsize=8 bitmap=buf+0x100 fill=0 dump=2',
    'unmap u flags=1 iova=0x100000 size=0x4000 bsize=8 bitmap=buf+0x200 dump=1',
    'dirty_get bad iova=0 size=0x1000 bsize=8 bitmap=abs+0x1000 dump=1',
  ].join('\n');
  const out = runCompiled(parseCompiled(text, 't.iovx'), t, { groups: [], devices: [] });
  assert.deepEqual(out, [
    'CASE c rc=0 errno=0',
    'CASE s rc=0 errno=0 op=DIRTY flags=0x1',
    'CASE g rc=0 errno=0 op=DIRTY_GET iova=0x100000 size=0x4000 pgsize=0x1000 bsize=0x8 bitmap=0x100 words=0x2,0x0',
    'CASE u rc=0 errno=0 op=UNMAP flags=0x1 iova=0x100000 size=0x4000 out_argsz=48 out_flags=0x1 out_iova=0x100000 out_size=0x4000 bitmap=0x200 words=0x5a5a5a5a5a5a5a5a',
    'ERROR line 5: bitmap: dump/fill need buf+ or ro+',
  ]);
  const get = calls.find(
    (c) => c.cmd === VFIO_IOCTL.IOMMU_DIRTY_PAGES && c.arg instanceof Uint8Array && c.arg.length === 48,
  )!;
  const dv = new DataView((get.arg as Uint8Array).buffer);
  assert.deepEqual(
    [dv.getUint32(0, true), dv.getUint32(4, true), dv.getBigUint64(8, true), dv.getBigUint64(16, true)],
    [48, 4, 0x100000n, 0x4000n],
  );
  assert.deepEqual(
    [dv.getBigUint64(24, true), dv.getBigUint64(32, true), dv.getBigUint64(40, true)],
    [0x1000n, 8n, buf + 0x100n],
  );
  const um = calls.find((c) => c.cmd === VFIO_IOCTL.IOMMU_UNMAP_DMA)!.arg as Uint8Array;
  assert.equal(um.length, 48);
  assert.equal(new DataView(um.buffer).getBigUint64(40, true), buf + 0x200n);
});

test('group_type writes VALUE and a newline to the group type file and reads the type back', () => {
  const { t, files } = recorder();
  files.set('/sys/kernel/iommu_groups/7/type', 'DMA\n');
  t.writeFile = (p, v) =>
    p.endsWith('/7/type') && v === 'identity\n' ? (files.set(p, 'identity\n'), 9) : -16;
  const out = runCompiled(
    parseCompiled(
      'group_type a g=0 value=identity\ngroup_type b nr=7 value=DMA\ngroup_type c g=1 value=DMA\n',
      't.iovx',
    ),
    t,
    { groups: [7], devices: [] },
  );
  assert.deepEqual(out, [
    'CASE a rc=9 errno=0 op=GROUP_TYPE group=7 value=identity type=identity',
    'CASE b rc=-1 errno=EBUSY op=GROUP_TYPE group=7 value=DMA type=identity',
    'ERROR line 3: group_type: no group number for that slot',
  ]);
});
