import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ERRNO } from '../../../src/base/errno.js';
import {
  VFIO_DEVICE_GET_INFO,
  VFIO_DEVICE_GET_IRQ_INFO,
  VFIO_DEVICE_GET_REGION_INFO,
  VFIO_DEVICE_SET_IRQS,
  VFIO_IRQ_SET_ACTION_MASK,
  VFIO_IRQ_SET_ACTION_TRIGGER,
  VFIO_IRQ_SET_ACTION_UNMASK,
  VFIO_IRQ_SET_DATA_BOOL,
  VFIO_IRQ_SET_DATA_EVENTFD,
  VFIO_IRQ_SET_DATA_NONE,
  type IrqSet,
  decodeIrqInfo,
  decodeRegionInfo,
  encodeIrqInfo,
  encodeIrqSet,
  encodeRegionInfo,
  rdU32,
} from '../../../src/uapi/vfio-device.js';
import { openNic, type OpenNic } from './probe-helpers.js';

const EVT = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
const NONE_TRIG = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER;
const BOOL_TRIG = VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER;
const INTX = 0;
const MSI = 1;
const MSIX = 2;
const ERR = 3;
const REQ = 4;

const set = (n: OpenNic, s: IrqSet): number => n.file.ioctl(VFIO_DEVICE_SET_IRQS, encodeIrqSet(s));
const efds = (n: OpenNic, k: number): number[] => Array.from({ length: k }, () => n.fds.eventfd());
const cnt = (n: OpenNic, fd: number): bigint => n.fds.eventFd(fd)!.count;
const arm = (v: '6.1' | '6.12' = '6.12'): OpenNic => openNic('arm64-smmuv3-gicv3', v);

test('5.2.1 a buffer shorter than the header or than the payload is -EFAULT', () => {
  const n = arm();
  assert.equal(n.file.ioctl(VFIO_DEVICE_SET_IRQS, new Uint8Array(19)), -ERRNO.EFAULT);
  const [fd] = efds(n, 1);
  const b = encodeIrqSet({ flags: EVT, index: MSIX, start: 0, count: 1, fds: [fd!] });
  assert.equal(n.file.ioctl(VFIO_DEVICE_SET_IRQS, b.subarray(0, 22)), -ERRNO.EFAULT);
});

test('5.2.2 argsz < 20, index >= 5, count >= U32_MAX - start, unknown flag bits: -EINVAL', () => {
  const n = arm();
  assert.equal(set(n, { flags: NONE_TRIG, index: MSIX, start: 0, count: 1, argsz: 19 }), -ERRNO.EINVAL);
  assert.equal(set(n, { flags: NONE_TRIG, index: 5, start: 0, count: 1 }), -ERRNO.EINVAL);
  assert.equal(set(n, { flags: NONE_TRIG, index: 0xffffffff, start: 0, count: 0 }), -ERRNO.EINVAL);
  assert.equal(set(n, { flags: NONE_TRIG, index: MSIX, start: 1, count: 0xfffffffe }), -ERRNO.EINVAL);
  assert.equal(set(n, { flags: NONE_TRIG | (1 << 6), index: MSIX, start: 0, count: 1 }), -ERRNO.EINVAL);
  assert.equal(set(n, { flags: NONE_TRIG | (1 << 31), index: MSIX, start: 0, count: 1 }), -ERRNO.EINVAL);
});

test('5.2.3 start must be below the advertised count even for count 0', () => {
  const n = arm();
  const [fd] = efds(n, 1);
  assert.equal(set(n, { flags: EVT, index: MSIX, start: 0, count: 1, fds: [fd!] }), 0);
  assert.equal(set(n, { flags: NONE_TRIG, index: MSIX, start: 5, count: 0 }), -ERRNO.EINVAL);
  assert.equal(set(n, { flags: NONE_TRIG, index: MSI, start: 1, count: 0 }), -ERRNO.EINVAL);
  assert.equal(set(n, { flags: NONE_TRIG, index: MSIX, start: 4, count: 2 }), -ERRNO.EINVAL);
  // A start inside the block disables the whole block.
  assert.equal(set(n, { flags: NONE_TRIG, index: MSIX, start: 4, count: 0 }), 0);
  assert.equal(n.file.irqs.irqType, 5);
});

test('5.2.4 exactly one data type; the payload must fit in argsz', () => {
  const n = arm();
  assert.equal(
    set(n, { flags: VFIO_IRQ_SET_ACTION_TRIGGER, index: MSIX, start: 0, count: 1 }),
    -ERRNO.EINVAL,
  );
  assert.equal(
    set(n, { flags: 0x3 | VFIO_IRQ_SET_ACTION_TRIGGER, index: MSIX, start: 0, count: 1, bools: [1] }),
    -ERRNO.EINVAL,
  );
  assert.equal(
    set(n, { flags: 0x7 | VFIO_IRQ_SET_ACTION_TRIGGER, index: MSIX, start: 0, count: 1, fds: [3] }),
    -ERRNO.EINVAL,
  );
  const [fd] = efds(n, 1);
  assert.equal(set(n, { flags: EVT, index: MSIX, start: 0, count: 2, fds: [fd!], argsz: 24 }), -ERRNO.EINVAL);
  assert.equal(
    set(n, { flags: BOOL_TRIG, index: MSIX, start: 0, count: 2, bools: [1], argsz: 21 }),
    -ERRNO.EINVAL,
  );
});

test('5.2.5 no action or two actions: no handler, -ENOTTY (after the data checks)', () => {
  const n = arm();
  assert.equal(set(n, { flags: VFIO_IRQ_SET_DATA_NONE, index: MSIX, start: 0, count: 1 }), -ERRNO.ENOTTY);
  const two = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK | VFIO_IRQ_SET_ACTION_TRIGGER;
  assert.equal(set(n, { flags: two, index: MSIX, start: 0, count: 1 }), -ERRNO.ENOTTY);
  assert.equal(set(n, { flags: two, index: INTX, start: 0, count: 1 }), -ERRNO.ENOTTY);
});

test('5.3 MSI/MSI-X MASK and UNMASK are -ENOTTY, enabled or not', () => {
  const n = arm();
  for (const a of [VFIO_IRQ_SET_ACTION_MASK, VFIO_IRQ_SET_ACTION_UNMASK]) {
    assert.equal(
      set(n, { flags: VFIO_IRQ_SET_DATA_NONE | a, index: MSIX, start: 0, count: 1 }),
      -ERRNO.ENOTTY,
    );
    assert.equal(
      set(n, { flags: VFIO_IRQ_SET_DATA_NONE | a, index: MSI, start: 0, count: 1 }),
      -ERRNO.ENOTTY,
    );
  }
  set(n, { flags: EVT, index: MSIX, start: 0, count: 1, fds: efds(n, 1) });
  assert.equal(
    set(n, { flags: VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK, index: MSIX, start: 0, count: 1 }),
    -ERRNO.ENOTTY,
  );
});

test('5.3.1 disable: count 0 + DATA_NONE frees everything; again (not enabled) -EINVAL', () => {
  const n = arm();
  set(n, { flags: EVT, index: MSIX, start: 0, count: 5, fds: efds(n, 5) });
  const pci = n.p.fabric.pci(n.bdf)!;
  assert.equal(pci.vectors().length, 5);
  assert.equal(set(n, { flags: NONE_TRIG, index: MSIX, start: 0, count: 0 }), 0);
  assert.equal(pci.vectors().length, 0);
  assert.equal(pci.mode, 'none');
  assert.equal(set(n, { flags: NONE_TRIG, index: MSIX, start: 0, count: 0 }), -ERRNO.EINVAL);
});

test('5.3.2 another interrupt type active: -EINVAL (MSI-X <-> MSI, INTx -> MSI-X)', () => {
  const n = arm();
  set(n, { flags: EVT, index: MSIX, start: 0, count: 1, fds: efds(n, 1) });
  assert.equal(set(n, { flags: EVT, index: MSI, start: 0, count: 1, fds: efds(n, 1) }), -ERRNO.EINVAL);
  assert.equal(set(n, { flags: NONE_TRIG, index: MSI, start: 0, count: 0 }), -ERRNO.EINVAL);
  set(n, { flags: NONE_TRIG, index: MSIX, start: 0, count: 0 });
  assert.equal(set(n, { flags: EVT, index: INTX, start: 0, count: 1, fds: efds(n, 1) }), 0);
  assert.equal(set(n, { flags: EVT, index: MSIX, start: 0, count: 1, fds: efds(n, 1) }), -ERRNO.EINVAL);
  assert.equal(set(n, { flags: NONE_TRIG, index: INTX, start: 0, count: 0 }), 0);
  assert.equal(set(n, { flags: EVT, index: MSIX, start: 0, count: 1, fds: efds(n, 1) }), 0);
});

test('5.3.3 enable allocates start+count vectors; fd -1 leaves a vector without trigger', () => {
  const n = arm();
  const fds = efds(n, 2);
  assert.equal(set(n, { flags: EVT, index: MSIX, start: 2, count: 2, fds: [fds[0]!, -1] }), 0);
  const pci = n.p.fabric.pci(n.bdf)!;
  assert.deepEqual(
    pci.vectors().map((v) => v.index),
    [0, 1, 2, 3],
  );
  assert.ok(n.file.irqs.trigger(2) !== undefined);
  assert.equal(n.file.irqs.trigger(0), undefined);
  assert.equal(n.file.irqs.trigger(3), undefined);
  // Every vector shares the one doorbell page; all four ITS event ids 0..3 were allocated.
  assert.equal(n.p.fabric.pci(n.bdf)!.model.msixEntry(2).data, 2);
});

test('5.3.3 eventfd lookup: -EBADF for a closed fd, -EINVAL for a file that is not an eventfd; the block is rolled back', () => {
  const n = arm();
  const file = n.fds.openFile('/etc/hostname');
  assert.equal(set(n, { flags: EVT, index: MSIX, start: 0, count: 1, fds: [999] }), -ERRNO.EBADF);
  assert.equal(n.file.irqs.irqType, 5, 'enable rolled back');
  assert.equal(set(n, { flags: EVT, index: MSIX, start: 0, count: 1, fds: [file] }), -ERRNO.EINVAL);
  const [a, b] = efds(n, 2);
  assert.equal(set(n, { flags: EVT, index: MSIX, start: 0, count: 3, fds: [a!, b!, 999] }), -ERRNO.EBADF);
  assert.equal(n.file.irqs.irqType, 5);
  assert.equal(n.p.fabric.pci(n.bdf)!.vectors().length, 0);
  // While enabled: a failing reprogram undoes the vectors done in this call but keeps MSI-X enabled.
  assert.equal(set(n, { flags: EVT, index: MSIX, start: 0, count: 3, fds: [a!, b!, a!] }), 0);
  assert.equal(set(n, { flags: EVT, index: MSIX, start: 0, count: 2, fds: [b!, 999] }), -ERRNO.EBADF);
  assert.equal(n.file.irqs.irqType, MSIX);
  assert.equal(n.file.irqs.trigger(0), undefined);
  assert.equal(n.file.irqs.trigger(1), undefined);
  assert.ok(n.file.irqs.trigger(2) !== undefined);
});

test('5.3.4 DATA_NONE/DATA_BOOL loopback: only where enabled, only vectors with an eventfd, BOOL per byte', () => {
  const n = arm();
  assert.equal(set(n, { flags: NONE_TRIG, index: MSIX, start: 0, count: 1 }), -ERRNO.EINVAL);
  const fds = efds(n, 3);
  set(n, { flags: EVT, index: MSIX, start: 0, count: 3, fds: [fds[0]!, -1, fds[2]!] });
  assert.equal(set(n, { flags: NONE_TRIG, index: MSIX, start: 0, count: 3 }), 0);
  assert.deepEqual([cnt(n, fds[0]!), cnt(n, fds[2]!)], [1n, 1n]);
  assert.equal(set(n, { flags: BOOL_TRIG, index: MSIX, start: 0, count: 3, bools: [0, 1, 1] }), 0);
  assert.deepEqual([cnt(n, fds[0]!), cnt(n, fds[2]!)], [1n, 2n]);
  assert.equal(set(n, { flags: BOOL_TRIG, index: MSIX, start: 0, count: 0 }), 0);
});

test('6.1 vs 6.12: loopback and reprogramming beyond the enabled vectors', () => {
  for (const v of ['6.1', '6.12'] as const) {
    const n = arm(v);
    const [a, b] = efds(n, 2);
    set(n, { flags: EVT, index: MSIX, start: 0, count: 1, fds: [a!] });
    // DATA_NONE at start=1: 6.1 checks num_ctx (-EINVAL), 6.12 skips vectors without a context (0).
    assert.equal(
      set(n, { flags: NONE_TRIG, index: MSIX, start: 1, count: 1 }),
      v === '6.1' ? -ERRNO.EINVAL : 0,
      v,
    );
    // Programming vectors 0..1 with one vector allocated (arm64: no dynamic MSI-X): -EINVAL either way,
    // but 6.12 reprogrammed vector 0 first and its rollback leaves it without trigger.
    assert.equal(set(n, { flags: EVT, index: MSIX, start: 0, count: 2, fds: [a!, b!] }), -ERRNO.EINVAL);
    assert.equal(n.file.irqs.trigger(0) !== undefined, v === '6.1', v);
  }
});

test('dynamic MSI-X (x86, 6.12): growing an enabled block allocates the vector; 6.1 and arm64 refuse', () => {
  for (const [m, v, ok] of [
    ['x86-intel', '6.12', true],
    ['x86-intel', '6.1', false],
    ['arm64-smmuv3-gicv3', '6.12', false],
  ] as const) {
    const n = openNic(m, v);
    const info = encodeIrqInfo(MSIX);
    assert.equal(n.file.ioctl(VFIO_DEVICE_GET_IRQ_INFO, info), 0);
    assert.equal(decodeIrqInfo(info).flags, ok ? 0x1 : 0x9, `${m} ${v}`);
    const [a, b] = efds(n, 2);
    set(n, { flags: EVT, index: MSIX, start: 0, count: 1, fds: [a!] });
    assert.equal(
      set(n, { flags: EVT, index: MSIX, start: 3, count: 1, fds: [b!] }),
      ok ? 0 : -ERRNO.EINVAL,
      `${m} ${v}`,
    );
    if (ok) assert.equal(n.p.fabric.pci(n.bdf)!.model.msixEntry(3).addr, 0xfee0_0238n);
  }
});

test('ERR/REQ: single trigger rules', () => {
  const n = arm();
  const [a] = efds(n, 1);
  assert.equal(set(n, { flags: NONE_TRIG, index: ERR, start: 0, count: 1 }), -ERRNO.EINVAL, 'no trigger yet');
  assert.equal(set(n, { flags: BOOL_TRIG, index: REQ, start: 0, count: 0 }), -ERRNO.EINVAL);
  assert.equal(set(n, { flags: EVT, index: REQ, start: 0, count: 0 }), -ERRNO.EINVAL);
  assert.equal(set(n, { flags: EVT, index: ERR, start: 0, count: 1, fds: [a!] }), 0);
  assert.equal(set(n, { flags: NONE_TRIG, index: ERR, start: 0, count: 1 }), 0);
  assert.equal(cnt(n, a!), 1n);
  assert.equal(
    set(n, { flags: EVT, index: ERR, start: 0, count: 1, fds: [-5] }),
    0,
    'fd < -1 changes nothing',
  );
  assert.equal(set(n, { flags: BOOL_TRIG, index: ERR, start: 0, count: 1, bools: [1] }), 0);
  assert.equal(cnt(n, a!), 2n);
  assert.equal(set(n, { flags: NONE_TRIG, index: ERR, start: 0, count: 0 }), 0);
  assert.equal(set(n, { flags: NONE_TRIG, index: ERR, start: 0, count: 0 }), -ERRNO.EINVAL);
  assert.equal(
    set(n, { flags: VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK, index: REQ, start: 0, count: 1 }),
    -ERRNO.ENOTTY,
  );
});

test('INTx: enable with an eventfd, mask/unmask, loopback, EVENTFD mask is -ENOTTY', () => {
  const n = arm();
  const [a] = efds(n, 1);
  assert.equal(
    set(n, { flags: VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK, index: INTX, start: 0, count: 1 }),
    -ERRNO.EINVAL,
  );
  assert.equal(set(n, { flags: EVT, index: INTX, start: 0, count: 1, fds: [a!] }), 0);
  assert.equal(
    set(n, {
      flags: VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_MASK,
      index: INTX,
      start: 0,
      count: 1,
      fds: [a!],
    }),
    -ERRNO.ENOTTY,
  );
  assert.equal(
    set(n, { flags: VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK, index: INTX, start: 0, count: 1 }),
    0,
  );
  assert.equal(set(n, { flags: NONE_TRIG, index: INTX, start: 0, count: 1 }), 0);
  assert.equal(cnt(n, a!), 1n);
});

test('GET_IRQ_INFO: argsz and index checks, -EFAULT on a short buffer', () => {
  const n = arm();
  assert.equal(n.file.ioctl(VFIO_DEVICE_GET_IRQ_INFO, encodeIrqInfo(MSI, 15)), -ERRNO.EINVAL);
  assert.equal(n.file.ioctl(VFIO_DEVICE_GET_IRQ_INFO, encodeIrqInfo(5)), -ERRNO.EINVAL);
  assert.equal(n.file.ioctl(VFIO_DEVICE_GET_IRQ_INFO, new Uint8Array(12)), -ERRNO.EFAULT);
  const b = encodeIrqInfo(INTX);
  assert.equal(n.file.ioctl(VFIO_DEVICE_GET_IRQ_INFO, b), 0);
  assert.deepEqual(decodeIrqInfo(b), { argsz: 16, flags: 0x7, index: 0, count: 1 });
});

test('GET_INFO copies 16/20 bytes on 6.1 and min(argsz, 24) on 6.12', () => {
  for (const v of ['6.1', '6.12'] as const) {
    const n = arm(v);
    const b = new Uint8Array(24).fill(0xaa);
    b.set([24, 0, 0, 0], 0);
    assert.equal(n.file.ioctl(VFIO_DEVICE_GET_INFO, b), 0);
    assert.deepEqual([rdU32(b, 4), rdU32(b, 8), rdU32(b, 12), rdU32(b, 16)], [3, 9, 5, 0]);
    assert.equal(rdU32(b, 20), v === '6.1' ? 0xaaaaaaaa : 0, v);
    const s = new Uint8Array(24).fill(0xaa);
    s.set([16, 0, 0, 0], 0);
    assert.equal(n.file.ioctl(VFIO_DEVICE_GET_INFO, s), 0);
    assert.equal(rdU32(s, 16), 0xaaaaaaaa, 'argsz 16: nothing past num_irqs');
    s.set([15, 0, 0, 0], 0);
    assert.equal(n.file.ioctl(VFIO_DEVICE_GET_INFO, s), -ERRNO.EINVAL);
  }
});

test('GET_REGION_INFO: the MSI-X BAR needs 40 bytes; then MSIX_MAPPABLE sits at offset 32', () => {
  const n = arm();
  const short = encodeRegionInfo(3);
  assert.equal(n.file.ioctl(VFIO_DEVICE_GET_REGION_INFO, short), 0);
  assert.deepEqual(decodeRegionInfo(short), {
    argsz: 40,
    flags: 0xf,
    index: 3,
    capOffset: 0,
    size: 0x4000n,
    offset: 0x30000000000n,
  });
  const full = encodeRegionInfo(3, 40);
  assert.equal(n.file.ioctl(VFIO_DEVICE_GET_REGION_INFO, full), 0);
  assert.equal(decodeRegionInfo(full).capOffset, 32);
  assert.deepEqual([...full.subarray(32, 40)], [3, 0, 1, 0, 0, 0, 0, 0]);
  assert.equal(n.file.ioctl(VFIO_DEVICE_GET_REGION_INFO, encodeRegionInfo(8)), -ERRNO.EINVAL);
  assert.equal(n.file.ioctl(VFIO_DEVICE_GET_REGION_INFO, encodeRegionInfo(9)), -ERRNO.EINVAL);
  assert.equal(n.file.ioctl(VFIO_DEVICE_GET_REGION_INFO, encodeRegionInfo(0, 31, 32)), -ERRNO.EINVAL);
  assert.equal(n.file.ioctl(VFIO_DEVICE_GET_REGION_INFO, new Uint8Array(20)), -ERRNO.EFAULT);
  assert.equal(n.file.ioctl(0x3b99, new Uint8Array(32)), -ERRNO.ENOTTY);
});

test('BAR access: the MSI-X table reads as all-ones through the fd and ignores writes', () => {
  const n = arm();
  set(n, { flags: EVT, index: MSIX, start: 0, count: 1, fds: efds(n, 1) });
  const b = new Uint8Array(16);
  assert.equal(n.file.pread(0x30000000000n, b), 16);
  assert.deepEqual([...b], new Array(16).fill(0xff));
  assert.equal(n.file.pwrite(0x30000000000n, new Uint8Array(16)), 16);
  assert.equal(n.p.fabric.pci(n.bdf)!.model.msixEntry(0).addr, 0x0800_0040n);
  assert.equal(n.file.pread(0x30000004000n, b), -ERRNO.EINVAL, 'past the BAR');
  assert.equal(n.file.pread(0x60000000000n, b), -ERRNO.EINVAL, 'no ROM');
});

test('5.3.3 eventfd trigger with count 0 while not enabled: vfio_msi_enable(nvec 0) -> pci_alloc_irq_vectors(1, 0) -ERANGE', () => {
  for (const v of ['6.1', '6.12'] as const) {
    const n = arm(v);
    const pci = n.p.fabric.pci(n.bdf)!;
    for (const index of [MSI, MSIX]) {
      assert.equal(set(n, { flags: EVT, index, start: 0, count: 0 }), -ERRNO.ERANGE);
      assert.equal(pci.mode, 'none');
    }
    // Nothing was left enabled: a real enable still works, and once enabled count 0 is a no-op block.
    assert.equal(set(n, { flags: EVT, index: MSIX, start: 0, count: 1, fds: efds(n, 1) }), 0);
    assert.equal(set(n, { flags: EVT, index: MSIX, start: 0, count: 0 }), 0);
    assert.equal(pci.vectors().length, 1);
  }
});
