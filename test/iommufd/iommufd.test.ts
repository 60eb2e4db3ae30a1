/**
 * /dev/iommu and the VFIO device cdev on the model (src/iommufd, src/vfio/device-cdev.ts): the rules the
 * conformance golden x86-intel-iommufd-k6.12 checks on a real kernel, plus the machines it cannot boot
 * (AMD's HyperTransport hole, ARM's software MSI window, GICv2m without MSI isolation).
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { ERRNO } from '../../src/base/errno.js';
import { InputError } from '../../src/base/errors.js';
import { runScenarioFull } from '../../src/scenario/runner.js';
// installs the preset loader runScenario uses for a platform name
import '../../src/scenario/platforms.js';
import { U64_MAX } from '../../src/base/u64.js';
import {
  IOMMU_DESTROY,
  IOMMU_IOAS_ALLOC,
  IOMMU_IOAS_ALLOW_IOVAS,
  IOMMU_IOAS_IOVA_RANGES,
  IOMMU_IOAS_MAP,
  IOMMU_IOAS_UNMAP,
  IOMMU_OPTION,
  IOMMU_VFIO_IOAS,
  VFIO_DEVICE_ATTACH_IOMMUFD_PT,
  VFIO_DEVICE_BIND_IOMMUFD,
  VFIO_DEVICE_DETACH_IOMMUFD_PT,
} from '../../src/uapi/iommufd.js';
import {
  VFIO_CHECK_EXTENSION,
  VFIO_DMA_CC_IOMMU,
  VFIO_IOMMU_GET_INFO,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_UNMAP_DMA,
  VFIO_SET_IOMMU,
  VFIO_TYPE1v2_IOMMU,
  getU32,
  getU64,
  putU32,
  putU64,
} from '../../src/uapi/vfio-type1.js';
import { VfioSystem } from '../../src/vfio/system.js';
import { AddressSpace, PROT_READ, PROT_WRITE } from '../../src/mm/address-space.js';
import { kernelProfile } from '../../src/kernel/profile.js';
import { BUF, RO, boot, isNic, toVfio } from '../vfio/machine.js';
import { MACHINES } from '../../src/conformance/machines.js';
import { generateIommufdScenario } from '../../src/conformance/generator-iommufd.js';
import { modelTargetFactory } from '../../src/conformance/model-target.js';
import { runCompiled } from '../../src/conformance/exec.js';
import { parseCompiled } from '../../src/conformance/compiled.js';
import {
  attachIommufdPt,
  bindIommufd,
  detachIommufdPt,
  getHwInfo,
  hwptAlloc,
  ioasCopy,
  ioasAlloc,
  ioasIovaRanges,
  ioasMap,
  iommuDestroy,
} from '../../src/iommufd/typed.js';

const R = 4;
const W = 2;
const FIXED = 1;
/** Where the tests keep the user arrays of IOVA_RANGES / ALLOW_IOVAS. */
const ARR = BUF + 0xf00000n;

function proc(preset: string, o: { unsafe?: boolean; maxAlign?: bigint } = {}) {
  const core = boot(preset, '6.12');
  const nic = toVfio(core, isNic);
  const mm = new AddressSpace();
  mm.map('buf', BUF, 16n << 20n, PROT_READ | PROT_WRITE);
  mm.map('robuf', RO, 0x10000n, PROT_READ);
  const sys = new VfioSystem({
    core,
    profile: kernelProfile('6.12'),
    mm,
    iommufdParams: { allowUnsafeInterrupts: o.unsafe ?? false },
    iommufdAutoIovaMaxAlign: o.maxAlign,
  });
  const fd = sys.open('/dev/iommu');
  const call = (cmd: number, size: number, fill: (b: Uint8Array) => void, onto = fd) => {
    const b = new Uint8Array(size);
    putU32(b, 0, size);
    fill(b);
    return { rc: sys.ioctl(onto, cmd, b), b };
  };
  const ioasAlloc = () => {
    const r = call(IOMMU_IOAS_ALLOC, 12, () => {});
    return r.rc === 0 ? getU32(r.b, 8) : r.rc;
  };
  const map = (ioas: number, length: bigint, f: { flags?: number; iova?: bigint; uva?: bigint } = {}) => {
    const r = call(IOMMU_IOAS_MAP, 40, (b) => {
      putU32(b, 4, f.flags ?? (f.iova !== undefined ? FIXED | R | W : R | W));
      putU32(b, 8, ioas);
      putU64(b, 16, f.uva ?? BUF);
      putU64(b, 24, length);
      putU64(b, 32, f.iova ?? 0n);
    });
    return { rc: r.rc, iova: getU64(r.b, 32) };
  };
  const unmap = (ioas: number, iova: bigint, length: bigint) => {
    const r = call(IOMMU_IOAS_UNMAP, 24, (b) => {
      putU32(b, 4, ioas);
      putU64(b, 8, iova);
      putU64(b, 16, length);
    });
    return { rc: r.rc, length: getU64(r.b, 16) };
  };
  const ranges = (ioas: number) => {
    const r = call(IOMMU_IOAS_IOVA_RANGES, 32, (b) => {
      putU32(b, 4, ioas);
      putU32(b, 8, 8);
      putU64(b, 16, ARR);
    });
    const n = getU32(r.b, 8);
    const arr = new Uint8Array(16 * n);
    mm.copyFromUser(arr, ARR);
    const list = Array.from({ length: n }, (_, i): [bigint, bigint] => [
      getU64(arr, i * 16),
      getU64(arr, i * 16 + 8),
    ]);
    return { rc: r.rc, list, align: getU64(r.b, 24) };
  };
  const option = (id: number, op: number, object = 0, val = 0n, onto = fd) => {
    const r = call(
      IOMMU_OPTION,
      24,
      (b) => {
        putU32(b, 4, id);
        b[8] = op;
        putU32(b, 12, object);
        putU64(b, 16, val);
      },
      onto,
    );
    return { rc: r.rc, val: getU64(r.b, 16) };
  };
  const cdevOpen = () => sys.open('/dev/vfio/devices/vfio0');
  const bind = (dev: number, ifd = fd) => {
    const r = call(VFIO_DEVICE_BIND_IOMMUFD, 16, (b) => putU32(b, 8, ifd), dev);
    return r.rc === 0 ? getU32(r.b, 12) : r.rc;
  };
  const attach = (dev: number, pt: number) => {
    const r = call(VFIO_DEVICE_ATTACH_IOMMUFD_PT, 12, (b) => putU32(b, 8, pt), dev);
    return r.rc === 0 ? getU32(r.b, 8) : r.rc;
  };
  const detach = (dev: number) => call(VFIO_DEVICE_DETACH_IOMMUFD_PT, 8, () => {}, dev).rc;
  return {
    core,
    nic,
    mm,
    sys,
    fd,
    call,
    ioasAlloc,
    map,
    unmap,
    ranges,
    option,
    cdevOpen,
    bind,
    attach,
    detach,
  };
}

test('dispatch: sizes below the struct are EINVAL, a non-zero tail E2BIG, other numbers ENOTTY', () => {
  const p = proc('qemu-q35-intel-iommu');
  assert.equal(p.call(IOMMU_IOAS_ALLOC, 12, (b) => putU32(b, 0, 11)).rc, -ERRNO.EINVAL);
  assert.equal(p.call(IOMMU_IOAS_ALLOC, 16, (b) => (b[13] = 1)).rc, -ERRNO.E2BIG);
  assert.equal(p.call(IOMMU_IOAS_ALLOC, 16, () => {}).rc, 0);
  assert.equal(p.sys.ioctl(p.fd, 0x3b9f, new Uint8Array(64)), -ERRNO.ENOTTY);
  assert.equal(p.sys.ioctl(p.fd, 0x3c81, new Uint8Array(64)), -ERRNO.ENOTTY);
  assert.equal(
    p.sys.ioctl(p.fd, 0x3b64, new Uint8Array(64)),
    0,
    'VFIO_GET_API_VERSION through the compat path',
  );
});

test('ids: lowest free from 1, reused after DESTROY; an IOAS with a domain is busy', () => {
  const p = proc('qemu-q35-intel-iommu');
  assert.deepEqual([p.ioasAlloc(), p.ioasAlloc(), p.ioasAlloc()], [1, 2, 3]);
  assert.equal(p.call(IOMMU_DESTROY, 8, (b) => putU32(b, 4, 2)).rc, 0);
  assert.equal(p.call(IOMMU_DESTROY, 8, (b) => putU32(b, 4, 2)).rc, -ERRNO.ENOENT);
  assert.equal(p.ioasAlloc(), 2);
  const dev = p.cdevOpen();
  assert.equal(p.bind(dev), 4);
  assert.equal(p.attach(dev, 1), 5, 'the automatic HWPT takes the next id');
  assert.equal(p.call(IOMMU_DESTROY, 8, (b) => putU32(b, 4, 1)).rc, -ERRNO.EBUSY);
  assert.equal(p.call(IOMMU_DESTROY, 8, (b) => putU32(b, 4, 4)).rc, -ERRNO.EBUSY, 'a bound device');
  assert.equal(p.call(IOMMU_DESTROY, 8, (b) => putU32(b, 4, 5)).rc, -ERRNO.EBUSY, 'an automatic HWPT');
});

test('Intel: the usable ranges narrow at attach (aperture, MSI window) and widen back at detach', () => {
  const p = proc('qemu-q35-intel-iommu');
  const ioas = p.ioasAlloc();
  assert.deepEqual(p.ranges(ioas), { rc: 0, list: [[0n, U64_MAX]], align: 1n });
  const dev = p.cdevOpen();
  p.bind(dev);
  assert.ok(p.attach(dev, ioas) > 0);
  assert.deepEqual(p.ranges(ioas), {
    rc: 0,
    list: [
      [0n, 0xfedfffffn],
      [0xfef00000n, 0x7fffffffffn],
    ],
    align: 0x1000n,
  });
  assert.equal(p.map(ioas, 0x1000n, { iova: 0xfee00000n }).rc, -ERRNO.EINVAL, 'reserved: EINVAL');
  assert.equal(p.map(ioas, 0x1000n, { iova: 0x8000000000n }).rc, -ERRNO.EINVAL, 'past the aperture');
  assert.equal(p.map(ioas, 0x1000n, { iova: 0x7ffffff000n }).rc, 0);
  assert.equal(p.map(ioas, 0x1000n, { iova: 0x7ffffff000n }).rc, -ERRNO.EEXIST);
  assert.equal(p.detach(dev), 0);
  assert.equal(p.detach(dev), 0, 'not attached: nothing to do');
  assert.deepEqual(p.ranges(ioas).list, [[0n, U64_MAX]]);
});

test('AMD: the HyperTransport hole is reserved IOVA too; ARM SMMUv3: the software MSI window', () => {
  const amd = proc('qemu-q35-amd-iommu');
  const a = amd.ioasAlloc();
  const ad = amd.cdevOpen();
  amd.bind(ad);
  assert.ok(amd.attach(ad, a) > 0);
  const holes = amd.ranges(a).list;
  assert.ok(
    holes.some(([s, l]) => s === 0xfef00000n && l === 0xfcffffffffn),
    `the hole ends below 0xfd00000000: ${holes.map(([s, l]) => s.toString(16) + '-' + l.toString(16)).join(' ')}`,
  );
  const arm = proc('qemu-virt-smmuv3-gicv3');
  const i = arm.ioasAlloc();
  const d = arm.cdevOpen();
  assert.ok(arm.bind(d) > 0, 'the ITS isolates MSIs');
  assert.ok(arm.attach(d, i) > 0);
  assert.equal(arm.map(i, 0x1000n, { iova: 0x8000000n }).rc, -ERRNO.EINVAL, 'inside the software MSI window');
  assert.equal(arm.map(i, 0x1000n, { iova: 0x8100000n }).rc, 0);
});

test('GICv2m: bind refuses without MSI isolation unless iommufd.allow_unsafe_interrupts', () => {
  const safe = proc('qemu-virt-smmuv3-gicv2');
  assert.equal(safe.bind(safe.cdevOpen()), -ERRNO.EPERM);
  const unsafe = proc('qemu-virt-smmuv3-gicv2', { unsafe: true });
  assert.ok(unsafe.bind(unsafe.cdevOpen()) > 0);
  assert.match(unsafe.sys.klog.join('\n'), /MSI interrupts are not secure/);
});

test('allocated IOVAs: lowest fit from 4 KiB, aligned to min(size, user address) up to 2 MiB (4 KiB without THP)', () => {
  for (const [maxAlign, want] of [
    [0x200000n, [0x1000n, 0x10000n, 0x200000n]],
    [0x1000n, [0x1000n, 0x2000n, 0x12000n]],
  ] as const) {
    const p = proc('qemu-q35-intel-iommu', { maxAlign });
    const ioas = p.ioasAlloc() as number;
    const got = [
      p.map(ioas, 0x1000n).iova,
      p.map(ioas, 0x10000n, { uva: BUF + 0x10000n }).iova,
      p.map(ioas, 0x200000n, { uva: BUF + 0x200000n }).iova,
    ];
    assert.deepEqual(got, want);
  }
});

test('UNMAP takes whole mappings only and answers the bytes it removed', () => {
  const p = proc('qemu-q35-intel-iommu');
  const ioas = p.ioasAlloc() as number;
  p.map(ioas, 0x2000n, { iova: 0x100000n });
  p.map(ioas, 0x1000n, { iova: 0x102000n });
  assert.equal(p.unmap(ioas, 0x101000n, 0x1000n).rc, -ERRNO.ENOENT);
  assert.deepEqual(p.unmap(ioas, 0x100000n, 0x10000n), { rc: 0, length: 0x3000n });
  assert.equal(p.unmap(ioas, 0x100000n, 0x10000n).rc, -ERRNO.ENOENT);
  p.map(ioas, 0x1000n, { iova: 0x5000n });
  assert.deepEqual(p.unmap(ioas, 0n, U64_MAX), { rc: 0, length: 0x1000n }, 'everything');
  assert.equal(p.unmap(ioas, 0n, 0n).rc, -ERRNO.EINVAL);
});

test('mappings made before any domain are checked and pinned at the first attach', () => {
  const p = proc('qemu-q35-intel-iommu');
  const ioas = p.ioasAlloc() as number;
  assert.equal(
    p.map(ioas, 0x1000n, { iova: 0x6000000n, uva: 0x1000n, flags: FIXED | R }).rc,
    0,
    'nothing pinned yet',
  );
  const dev = p.cdevOpen();
  p.bind(dev);
  assert.equal(p.attach(dev, ioas), -ERRNO.EFAULT);
  assert.deepEqual(p.ranges(ioas).list, [[0n, U64_MAX]], 'a failed attach leaves nothing reserved');
  p.unmap(ioas, 0x6000000n, 0x1000n);
  assert.equal(p.map(ioas, 0x800n, { iova: 0x3000800n, uva: BUF + 0x800n, flags: FIXED | R }).rc, 0);
  assert.equal(p.attach(dev, ioas), -ERRNO.EADDRINUSE, 'not 4 KiB aligned for the domain');
});

test('accounting: per user by default (not VmLck), per process after IOMMU_OPTION_RLIMIT_MODE=1', () => {
  const p = proc('qemu-q35-intel-iommu');
  const ioas = p.ioasAlloc() as number;
  const dev = p.cdevOpen();
  p.bind(dev);
  p.attach(dev, ioas);
  p.sys.task.capIpcLock = false;
  p.sys.task.setMemlock(0x10000n, 1n << 40n);
  assert.equal(p.map(ioas, 0x10000n, { iova: 0x20000000n }).rc, 0);
  assert.equal(p.mm.lockedVmBytes, 0);
  assert.equal(p.sys.userLocked.pages, 16);
  assert.equal(p.map(ioas, 0x1000n, { iova: 0x20010000n }).rc, -ERRNO.ENOMEM);
  assert.equal(p.option(0, 0, 0, 1n).rc, -ERRNO.EBUSY, 'only on a context without objects');
  const fd2 = p.sys.open('/dev/iommu');
  assert.equal(p.option(0, 0, 0, 1n, fd2).rc, 0);
  assert.equal(p.option(0, 1, 0, 0n, fd2).val, 1n);
  assert.equal(p.option(0, 0, 0, 3n, fd2).rc, -ERRNO.EINVAL);
});

test('the group file and the cdev exclude each other', () => {
  const p = proc('qemu-q35-intel-iommu');
  const g = p.sys.open(`/dev/vfio/${p.nic.groupId}`);
  const dev = p.cdevOpen();
  assert.equal(p.bind(dev), -ERRNO.EBUSY, 'the group file is open');
  p.sys.close(g);
  assert.ok(p.bind(dev) > 0);
  assert.equal(p.sys.open(`/dev/vfio/${p.nic.groupId}`), -ERRNO.EBUSY);
  assert.equal(p.bind(dev), -ERRNO.EINVAL, 'bound already');
  p.sys.close(dev);
  assert.ok(p.sys.open(`/dev/vfio/${p.nic.groupId}`) >= 0);
});

test('ALLOW_IOVAS steers allocations, not fixed maps; a reserved range inside one is EADDRINUSE', () => {
  const p = proc('qemu-q35-intel-iommu');
  const ioas = p.ioasAlloc() as number;
  const allow = (list: [bigint, bigint][]) => {
    const arr = new Uint8Array(16 * list.length);
    list.forEach(([s, l], i) => {
      putU64(arr, i * 16, s);
      putU64(arr, i * 16 + 8, l);
    });
    p.mm.copyToUser(ARR, arr);
    return p.call(IOMMU_IOAS_ALLOW_IOVAS, 24, (b) => {
      putU32(b, 4, ioas);
      putU32(b, 8, list.length);
      putU64(b, 16, ARR);
    }).rc;
  };
  assert.equal(allow([[0x40000000n, 0x4fffffffn]]), 0);
  assert.equal(p.map(ioas, 0x1000n).iova, 0x40000000n);
  assert.equal(p.map(ioas, 0x1000n, { iova: 0x8000000n }).rc, 0);
  assert.equal(allow([[0x2000n, 0x1000n]]), -ERRNO.EINVAL);
  assert.equal(allow([[0xfe000000n, 0xfeffffffn]]), 0);
  const dev = p.cdevOpen();
  p.bind(dev);
  assert.equal(p.attach(dev, ioas), -ERRNO.EADDRINUSE, 'the MSI window falls in an allowed range');
});

test('random bytes at every iommufd and cdev ioctl never throw', () => {
  const p = proc('qemu-q35-intel-iommu');
  const dev = p.cdevOpen();
  let seed = 7;
  const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const cmds = [
    0x3b80, 0x3b81, 0x3b82, 0x3b83, 0x3b84, 0x3b85, 0x3b86, 0x3b87, 0x3b88, 0x3b89, 0x3b64, 0x3b65,
  ];
  for (let i = 0; i < 20000; i++) {
    const b = new Uint8Array(Math.floor(rnd() * 64));
    for (let k = 0; k < b.length; k++) b[k] = rnd() < 0.6 ? 0 : Math.floor(rnd() * 256);
    if (b.length >= 4 && rnd() < 0.8) putU32(b, 0, [8, 12, 16, 24, 32, 40][Math.floor(rnd() * 6)]!);
    if (b.length >= 12 && rnd() < 0.7) putU32(b, 8, Math.floor(rnd() * 6));
    const onto = rnd() < 0.7 ? p.fd : dev;
    const cmd = onto === dev ? 0x3b76 + Math.floor(rnd() * 4) : cmds[Math.floor(rnd() * cmds.length)]!;
    const rc = p.sys.ioctl(onto, cmd, b);
    assert.ok(Number.isInteger(rc) && rc <= 0x7fffffff);
  }
});

test('QEMU 9.1 flow through the typed layer: GET_HW_INFO, its own HWPT, attach; the HWPT outlives a detach', () => {
  const p = proc('qemu-q35-intel-iommu');
  const ioas = ioasAlloc(p.sys, p.fd).id;
  const dev = p.cdevOpen();
  const devId = bindIommufd(p.sys, dev, p.fd).devId;
  const info = getHwInfo(p.sys, p.fd, devId);
  assert.equal(info.type, 1, 'IOMMU_HW_INFO_TYPE_INTEL_VTD');
  const v = new DataView(info.data.buffer);
  assert.equal(v.getBigUint64(8, true), 0xd2008c22260286n, "QEMU's VT-d CAP as Linux reads it");
  assert.equal(v.getBigUint64(16, true), 0xf00f4an);
  assert.equal(info.capabilities, 0n, 'no dirty tracking');
  assert.equal(hwptAlloc(p.sys, p.fd, devId, ioas, 2).rc, -ERRNO.EOPNOTSUPP);
  const hwpt = hwptAlloc(p.sys, p.fd, devId, ioas);
  assert.equal(hwpt.rc, 0);
  assert.deepEqual(
    ioasIovaRanges(p.sys, p.fd, ioas).ranges,
    [{ start: 0n, last: 0x7fffffffffn }],
    'the aperture is reserved at allocation, before any device',
  );
  assert.equal(attachIommufdPt(p.sys, dev, hwpt.hwptId).hwptId, hwpt.hwptId);
  assert.equal(
    ioasMap(p.sys, p.fd, ioas, { vaddr: BUF, length: 0x1000n, iova: 0xfee00000n }).rc,
    -ERRNO.EINVAL,
  );
  assert.equal(iommuDestroy(p.sys, p.fd, hwpt.hwptId), -ERRNO.EBUSY);
  assert.equal(detachIommufdPt(p.sys, dev), 0);
  assert.equal(ioasIovaRanges(p.sys, p.fd, ioas).ranges.length, 1);
  assert.equal(iommuDestroy(p.sys, p.fd, ioas), -ERRNO.EBUSY, 'the IOAS still has the HWPT');
  assert.equal(iommuDestroy(p.sys, p.fd, hwpt.hwptId), 0);
  assert.equal(iommuDestroy(p.sys, p.fd, ioas), 0);
  // AMD and the SMMU have no hw_info in 6.12
  const amd = proc('qemu-q35-amd-iommu');
  const ad = amd.cdevOpen();
  const aid = bindIommufd(amd.sys, ad, amd.fd).devId;
  assert.deepEqual(
    { type: getHwInfo(amd.sys, amd.fd, aid).type, len: getHwInfo(amd.sys, amd.fd, aid).data.length },
    { type: 0, len: 0 },
  );
});

test('IOAS_COPY shares the pinned pages: charged once, held until the last copy goes', () => {
  const p = proc('qemu-q35-intel-iommu');
  const a = p.ioasAlloc() as number;
  const b = p.ioasAlloc() as number;
  const dev = p.cdevOpen();
  p.bind(dev);
  assert.ok(p.attach(dev, a) > 0);
  // b gets a domain too (a second device is not needed: a HWPT of its own)
  assert.equal(hwptAlloc(p.sys, p.fd, 3, b).rc, 0);
  p.sys.task.capIpcLock = false;
  p.sys.task.setMemlock(0x10000n, 1n << 40n);
  assert.equal(p.map(a, 0x8000n, { iova: 0x100000n }).rc, 0);
  assert.equal(p.sys.userLocked.pages, 8);
  const c = ioasCopy(p.sys, p.fd, {
    dst: b,
    src: a,
    srcIova: 0x100000n,
    length: 0x8000n,
    dstIova: 0x200000n,
  });
  assert.equal(c.rc, 0);
  assert.equal(p.sys.userLocked.pages, 8, 'no new charge');
  assert.equal(p.unmap(a, 0x100000n, 0x8000n).rc, 0);
  assert.equal(p.sys.userLocked.pages, 8, 'the copy still holds the pages');
  const slice = ioasCopy(p.sys, p.fd, { dst: a, src: b, srcIova: 0x202000n, length: 0x2000n });
  assert.equal(slice.rc, 0);
  assert.equal(p.unmap(b, 0x200000n, 0x8000n).rc, 0);
  assert.equal(p.sys.userLocked.pages, 2, 'only the slice is left pinned');
  assert.equal(
    ioasCopy(p.sys, p.fd, { dst: a, src: b, srcIova: 0x200000n, length: 0x1000n }).rc,
    -ERRNO.ENOENT,
  );
  assert.equal(p.map(a, 0x1000n, { iova: 0x300000n, uva: RO, flags: FIXED | R }).rc, 0);
  assert.equal(
    ioasCopy(p.sys, p.fd, { dst: a, src: a, srcIova: 0x300000n, length: 0x1000n }).rc,
    -ERRNO.EPERM,
    'writeable copy of read-only pages',
  );
});

test('closing /dev/iommu frees its HWPTs and gives every pin back', () => {
  const p = proc('qemu-q35-intel-iommu');
  const ioas = p.ioasAlloc() as number;
  const dev = p.cdevOpen();
  const devId = p.bind(dev) as number;
  const hwpt = hwptAlloc(p.sys, p.fd, devId, ioas);
  assert.equal(p.attach(dev, hwpt.hwptId), hwpt.hwptId);
  p.sys.task.capIpcLock = false;
  p.sys.task.setMemlock(1n << 30n, 1n << 30n);
  assert.equal(p.map(ioas, 0x10000n, { iova: 0x100000n }).rc, 0);
  assert.equal(p.sys.userLocked.pages, 16);
  p.sys.close(dev);
  assert.equal(p.sys.userLocked.pages, 16, 'the manual HWPT still holds the pins after the device went');
  p.sys.close(p.fd);
  assert.equal(p.sys.userLocked.pages, 0);
  assert.ok(p.sys.open(`/dev/vfio/${p.nic.groupId}`) >= 0, 'the group is free again');
});

test('long random iommufd sequences on every iommufd machine: no throw, every pin given back at the end', () => {
  for (const machine of MACHINES.filter((m) => m.suite === 'iommufd')) {
    for (let i = 0; i < 3; i++) {
      const text = generateIommufdScenario(4242, 900 + i, 1500);
      const t = modelTargetFactory(machine.name, '6.12')!;
      const out = runCompiled(parseCompiled(text, 'gen'), t.target, t.args);
      assert.match(out.at(-1)!, /^END lines=/, `${machine.name} #${i}: ${out.at(-1)}`);
      assert.ok(out.filter((l) => l.startsWith('CASE ')).length > 1500);
      // the scenario closes the cdev and /dev/iommu: nothing stays pinned or charged
      const vmlck = t.target.readFile('/proc/self/status');
      assert.match(String(vmlck), /VmLck:\s+0 kB/, machine.name);
    }
  }
});

test('scenario mistakes in iommufd steps name the file, line and field', () => {
  const bad = (steps: string, re: RegExp) =>
    assert.throws(
      () =>
        runScenarioFull(
          `name: t\nplatform: qemu-q35-intel-iommu\nsteps:\n  - open_iommufd: { name: o }\n${steps}`,
        ),
      (e: unknown) => e instanceof InputError && re.test(e.message),
    );
  bad(
    '  - iommu_option: { name: x, option: rlimit }\n',
    /:5.*option.*"rlimit" is not rlimit_mode or huge_pages/,
  );
  bad('  - ioas_map: { name: x, iova: 0 }\n', /:5.*length/);
  bad('  - ioas_allow_iovas: { name: x, ranges: [1, 2, 3] }\n', /:5.*pairs of start, last/);
  bad('  - ioas_frob: { name: x }\n', /:5.*ioas_frob/);
});

test('VFIO type1 on /dev/iommu: nothing without a compat IOAS; IOMMU_VFIO_IOAS sets, reads and clears it', () => {
  const p = proc('qemu-q35-intel-iommu');
  const vfioIoas = (op: number, id = 0, reserved = 0) =>
    p.call(IOMMU_VFIO_IOAS, 12, (b) => {
      putU32(b, 4, id);
      b[8] = op;
      b[10] = reserved;
    });
  assert.equal(p.sys.ioctl(p.fd, VFIO_CHECK_EXTENSION, VFIO_DMA_CC_IOMMU), -ERRNO.ENODEV);
  assert.equal(p.sys.ioctl(p.fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU), 1);
  assert.equal(p.sys.ioctl(p.fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), -ERRNO.ENODEV);
  assert.equal(vfioIoas(0).rc, -ERRNO.ENODEV);
  assert.equal(vfioIoas(1, 1).rc, -ERRNO.ENOENT);
  assert.equal(vfioIoas(0, 0, 1).rc, -ERRNO.EOPNOTSUPP);
  assert.equal(vfioIoas(3).rc, -ERRNO.EOPNOTSUPP);
  const ioas = p.ioasAlloc() as number;
  assert.equal(vfioIoas(1, ioas).rc, 0);
  const got = vfioIoas(0);
  assert.equal(getU32(got.b, 4), ioas);
  assert.equal(p.sys.ioctl(p.fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), 0);
  // destroying the compat IOAS clears it
  assert.equal(p.call(IOMMU_DESTROY, 8, (b) => putU32(b, 4, ioas)).rc, 0);
  assert.equal(vfioIoas(0).rc, -ERRNO.ENODEV);
});

test('VFIO type1 on /dev/iommu: GET_INFO caps, MAP/UNMAP rules, TYPE1 cuts, partial unmaps report bytes', () => {
  const p = proc('qemu-q35-intel-iommu');
  const ioas = p.ioasAlloc() as number;
  p.call(IOMMU_VFIO_IOAS, 12, (b) => {
    putU32(b, 4, ioas);
    b[8] = 1;
  });
  const info = (argsz: number) => {
    const b = new Uint8Array(Math.max(argsz, 16));
    putU32(b, 0, argsz);
    return { rc: p.sys.ioctl(p.fd, VFIO_IOMMU_GET_INFO, b), b };
  };
  let r = info(16);
  assert.deepEqual([r.rc, getU32(r.b, 0), getU64(r.b, 8)], [0, 72, 0xfffffffffffff000n]);
  r = info(72);
  assert.equal(getU32(r.b, 16), 24, 'cap_offset');
  assert.deepEqual([r.b[24], getU32(r.b, 28), getU32(r.b, 32)], [3, 40, 0xffffffff], 'DMA_AVAIL, next');
  assert.deepEqual([r.b[40], getU32(r.b, 48), getU64(r.b, 56), getU64(r.b, 64)], [1, 1, 0n, U64_MAX]);
  r = info(40);
  assert.deepEqual([getU32(r.b, 16), getU32(r.b, 28)], [0, 40], 'next set though the range cap is missing');
  const map = (iova: bigint, size: bigint, flags = 3, uva = BUF) => {
    const b = new Uint8Array(32);
    putU32(b, 0, 32);
    putU32(b, 4, flags);
    putU64(b, 8, uva);
    putU64(b, 16, iova);
    putU64(b, 24, size);
    return p.sys.ioctl(p.fd, VFIO_IOMMU_MAP_DMA, b);
  };
  const unmap = (iova: bigint, size: bigint, flags = 0) => {
    const b = new Uint8Array(24);
    putU32(b, 0, 24);
    putU32(b, 4, flags);
    putU64(b, 8, iova);
    putU64(b, 16, size);
    return { rc: p.sys.ioctl(p.fd, VFIO_IOMMU_UNMAP_DMA, b), size: getU64(b, 16) };
  };
  assert.equal(map(0x100000n, 0x4000n, 7), -ERRNO.EINVAL, 'VADDR is not emulated');
  assert.equal(map(0x400000n, 0x1000n), 0);
  assert.equal(map(0x401000n, 0x2000n), 0);
  assert.deepEqual(unmap(0x401000n, 0x1000n), { rc: -ERRNO.ENOENT, size: 0n }, 'large pages: whole mappings');
  assert.deepEqual(unmap(0x400000n, 0x2000n), { rc: -ERRNO.ENOENT, size: 0x1000n }, 'the first one went');
  assert.deepEqual(unmap(0x900000n, 0x1000n), { rc: 0, size: 0n }, 'nothing there is not an error');
  assert.equal(unmap(0x1000n, 0n, 1).rc, -ERRNO.EINVAL, 'no dirty bitmap');
  // TYPE1: large pages off, then an unmap cuts the mapping at its ends
  assert.equal(p.sys.ioctl(p.fd, VFIO_SET_IOMMU, 1), 0);
  assert.deepEqual(unmap(0x402000n, 0x1000n), { rc: 0, size: 0x1000n });
  assert.deepEqual(unmap(0x401800n, 0x1000n).rc, -ERRNO.EINVAL, 'a cut must stay page aligned');
  assert.deepEqual(unmap(0n, 0n, 2), { rc: 0, size: 0x1000n });
  // with the NIC attached the pages are pinned; cutting one keeps them pinned once
  p.sys.task.capIpcLock = false;
  const dev = p.cdevOpen();
  p.bind(dev);
  assert.ok(p.attach(dev, ioas) > 0);
  assert.equal(map(0x600000n, 0x4000n), 0);
  const charged = p.sys.userLocked.pages;
  assert.equal(charged, 4);
  assert.deepEqual(unmap(0x601000n, 0x1000n), { rc: 0, size: 0x1000n });
  assert.equal(p.sys.userLocked.pages, 3);
  assert.equal(p.core.group(p.nic.groupId!)!.domain!.iovaToPhys(0x602000n) !== 0n, true);
  assert.equal(p.core.group(p.nic.groupId!)!.domain!.iovaToPhys(0x601000n), 0n);
});

test('scenario: vfio_ioas, then the container steps on the iommufd handle', () => {
  const text = `name: compat
platform: qemu-q35-intel-iommu
kernel: '6.12'
memory:
  - { name: buf, start: 0x7f0000000000, size: 16MiB, prot: rw }
vaddr_base: buf
steps:
  - open_iommufd: { name: open }
  - vfio_ioas: { name: get_none, action: get, expect: ENODEV }
  - ioas_alloc: { name: ioas }
  - vfio_ioas: { name: set, action: set, expect: ok }
  - vfio_ioas: { name: get, action: get, expect: 'ioas_id=1' }
  - set_iommu: { name: type1, type: 1, fd: iommufd, expect: ok }
  - map_dma: { name: map, iova: 0x100000, size: 0x4000, fd: iommufd, expect: ok }
  - unmap_dma: { name: cut, iova: 0x101000, size: 0x1000, fd: iommufd, expect: 'rc=0 out_size=0x1000' }
  - vfio_ioas: { name: bad, action: swap }
`;
  assert.throws(
    () => runScenarioFull(text, { file: 'c.yaml' }),
    (e: unknown) => {
      assert.ok(e instanceof InputError);
      assert.match(String((e as Error).message), /"swap" is not get, set or clear/);
      return true;
    },
  );
  const r = runScenarioFull(text.replace(/ {2}- vfio_ioas: \{ name: bad.*\n/, ''), { file: 'c.yaml' });
  assert.deepEqual(r.failures, []);
  assert.equal(r.exitCode, 0);
});
