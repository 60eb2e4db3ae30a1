/** The historical MSI designs: byte-level uapi of each design, and sessions that follow or ignore them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ERRNO } from '../../src/base/errno.js';
import { compareDesigns } from '../../src/designs/compare.js';
import { DESIGN_NAMES, findDesign } from '../../src/designs/index.js';
import { runDesignSession } from '../../src/designs/session.js';
import * as U from '../../src/designs/uapi.js';
import { AddressSpace, PROT_READ, PROT_WRITE } from '../../src/mm/address-space.js';
import { bootPreset } from '../../src/scenario/platforms.js';
import {
  TYPE1_INFO_SIZE,
  VFIO_GROUP_SET_CONTAINER,
  VFIO_IOMMU_GET_INFO,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_UNMAP_DMA,
  VFIO_SET_IOMMU,
  VFIO_TYPE1v2_IOMMU,
  getU16,
  getU32,
  getU64,
  putU32,
} from '../../src/uapi/vfio-type1.js';
import { VFIO_PCI_DRIVER, VfioSystem } from '../../src/vfio/system.js';
import { encodeDmaMap, encodeDmaUnmap } from '../../src/vfio/typed.js';

const ARM = 'qemu-virt-smmuv3-gicv3';
const HISI = 'hisilicon-hi1616-like';
const G4 = 4n << 30n;

/** A container with the ARM preset's e1000e attached under `design`. */
function container(design: string, platform = ARM) {
  const core = bootPreset(platform);
  const dev = core.devices().find((d) => d.driver === 'e1000e')!;
  core.unbindDriver(dev);
  core.bindDriver(dev, VFIO_PCI_DRIVER, true);
  const mm = new AddressSpace();
  mm.map('ram', 0x7f00_0000_0000n, 0x20_0000n, PROT_READ | PROT_WRITE);
  const sys = new VfioSystem({ core, mm, design: findDesign(design)!.design });
  const c = sys.open('/dev/vfio/vfio');
  const g = sys.open(`/dev/vfio/${core.groupOf(dev)!.id}`);
  const b = new Uint8Array(4);
  putU32(b, 0, c);
  assert.equal(sys.ioctl(g, VFIO_GROUP_SET_CONTAINER, b), 0);
  assert.equal(sys.ioctl(c, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), 0);
  const map = (flags: number, iova: bigint, size: bigint, vaddr = 0x7f00_0000_0000n) =>
    sys.ioctl(c, VFIO_IOMMU_MAP_DMA, encodeDmaMap({ argsz: 32, flags, vaddr, iova, size }));
  const info = () => {
    const i = new Uint8Array(512);
    putU32(i, 0, 512);
    assert.equal(sys.ioctl(c, VFIO_IOMMU_GET_INFO, i), 0);
    return i;
  };
  return { sys, c, map, info };
}

test('msi-resv: MSI_RESV capability bytes (id 1, v1, size @8, alignment @16) and the window rules', () => {
  const { sys, c, map, info } = container('msi-resv');
  const i = info();
  assert.equal(getU32(i, 4) & 2, 2, 'CAPS flag');
  const off = getU32(i, 16);
  assert.equal(off, TYPE1_INFO_SIZE);
  assert.equal(getU16(i, off), U.VFIO_IOMMU_TYPE1_INFO_CAP_MSI_RESV);
  assert.equal(getU16(i, off + 2), 1);
  assert.equal(getU32(i, off + 4), 0, 'the only capability');
  assert.equal(getU64(i, off + 8), 0x1000n, 'one ITS doorbell page');
  assert.equal(getU64(i, off + 16), 0x1000n);
  const F = U.VFIO_DMA_MAP_FLAG_RESERVED_MSI_IOVA;
  assert.equal(map(F, 0x1000n, 0n), -ERRNO.EINVAL, 'size 0');
  assert.equal(map(F, 0x1800n, 0x1000n), -ERRNO.EINVAL, 'misaligned');
  assert.equal(map(3, 0x4000n, 0x2000n), 0, 'a user mapping');
  assert.equal(map(F, 0x5000n, 0x1000n), -ERRNO.EEXIST, 'window over a user mapping');
  assert.equal(map(F, 0x10000n, 0x10000n), 0, 'window registered, vaddr ignored');
  assert.equal(map(F, 0x30000n, 0x1000n), -ERRNO.EEXIST, 'one window per container');
  assert.equal(map(3, 0x1f000n, 0x2000n), -ERRNO.EEXIST, 'user mapping over the window');
  // UNMAP over everything skips the window: only the user mapping's 8 KiB come back.
  const u = encodeDmaUnmap({ argsz: 24, flags: 0, iova: 0n, size: 0x100000n });
  assert.equal(sys.ioctl(c, VFIO_IOMMU_UNMAP_DMA, u), 0);
  assert.equal(getU64(u, 16), 0x2000n);
  assert.equal(map(3, 0x10000n, 0x1000n), -ERRNO.EEXIST, 'the window outlives UNMAP');
});

test('msi-geometry: programmable geometry (16 pages, order 12) on SMMU, fixed aperture on HiSilicon', () => {
  let i = container('msi-geometry').info();
  let off = getU32(i, 16);
  assert.equal(getU16(i, off), U.VFIO_IOMMU_TYPE1_INFO_CAP_MSI_GEOMETRY);
  assert.equal(getU32(i, off + 8), 0);
  assert.equal(getU32(i, off + 12), 12);
  assert.equal(getU64(i, off + 16), 16n * 0x1000n);
  i = container('msi-geometry', HISI).info();
  off = getU32(i, 16);
  assert.equal(getU32(i, off + 8), U.MSI_GEOMETRY_FLAG_FIXED);
  assert.equal(getU64(i, off + 24), 0xc6010000n);
  assert.equal(getU64(i, off + 32), 0xc601ffffn);
});

test('resv-iova-range: one 32-byte capability per reserved region, linked in order', () => {
  const i = container('resv-iova-range', HISI).info();
  const seen: [bigint, bigint, number][] = [];
  for (let off = getU32(i, 16); off !== 0; off = getU32(i, off + 4)) {
    assert.equal(getU16(i, off), U.VFIO_IOMMU_TYPE1_INFO_CAP_RESV_IOVA_RANGE);
    seen.push([getU64(i, off + 8), getU64(i, off + 16), getU32(i, off + 24)]);
  }
  assert.deepEqual(seen, [
    [0x8000000n, 0x80fffffn, 4],
    [0xc6010000n, 0xc601ffffn, 3],
  ]);
});

test('merged-4.11: no capability chain, no MAP enforcement (RAM over the SW_MSI window is accepted)', () => {
  const { map, info } = container('merged-4.11');
  const i = info();
  assert.equal(getU32(i, 4), 1, 'PGSIZES only');
  assert.equal(map(3, 0x8000000n, 0x200000n), 0);
  const t = container('today');
  assert.equal(t.map(3, 0x8000000n, 0x200000n), -ERRNO.EINVAL, 'today refuses it');
});

test('every design delivers MSI-X on the ARM preset when userspace follows it', () => {
  for (const design of DESIGN_NAMES) {
    const r = runDesignSession({ platform: ARM, design, vmm: 'qemu-virt', memory: G4, mode: 'follow' });
    assert.equal(r.setIrqsRc, 0, design);
    assert.equal(r.delivered, r.vectors, `${design}: ${r.problems.join('; ')}`);
    assert.ok(r.ramWorks, design);
  }
});

test('the failure each design allows when userspace ignores it (RAM bank over 0x8000000)', () => {
  const run = (design: (typeof DESIGN_NAMES)[number]) =>
    runDesignSession({ platform: ARM, design, vmm: 'qemu-virt', memory: G4, mode: 'ignore' });
  const m = run('merged-4.11');
  assert.ok(m.ramWorks, 'no enforcement: the bank is mapped');
  assert.equal(m.delivered, 0);
  assert.match(m.msiWindow, /0xffffffffffffffff/);
  assert.match(m.problems.join('\n'), /IOMMU fault at 0xffffffffffffffff/);
  const t = run('today');
  assert.equal(t.ramWorks, false, 'today refuses the bank');
  assert.equal(t.delivered, t.vectors, 'and MSI-X keeps working');
  assert.equal(run('resv-iova-range').setIrqsRc, -ERRNO.ENOMEM);
  for (const d of ['msi-resv', 'msi-geometry', 'virtual-doorbell'] as const) {
    const r = run(d);
    assert.equal(r.delivered, 0, `${d}: nothing donated, the doorbell keeps its physical address`);
    assert.match(r.msiWindow, /0x0000000008090040/);
  }
});

test('compare on the HiSilicon-like preset: who can report the hardware MSI window', () => {
  const rows = compareDesigns({ platform: HISI, vmm: 'qemu-virt', memory: G4 });
  const by = new Map(rows.map((r) => [r.info.name, r]));
  const hw = (n: string) => by.get(n as never)!.cannotExpress.find((f) => f.region.start === 0xc6010000n);
  for (const n of ['msi-resv', 'virtual-doorbell']) {
    const f = hw(n);
    assert.ok(f, `${n} cannot express the HW MSI window`);
    assert.match(f.guestDma ?? '', /delivered/, 'guest DMA to that RAM becomes an interrupt');
  }
  for (const n of ['today', 'resv-iova-range', 'merged-4.11', 'msi-geometry']) {
    assert.equal(hw(n), undefined, `${n} reports it`);
    assert.equal(by.get(n as never)!.follow.ramWorks, false, `${n}: 4 GiB of RAM at 1 GiB covers it`);
  }
  // PCI host-bridge windows: no design, today's included, reports them.
  for (const r of rows)
    assert.ok(
      r.cannotExpress.some((f) => /host-bridge mem window/.test(f.region.what)),
      r.info.name,
    );
  // Call counts differ by design: virtual-doorbell needs no GET_INFO, today needs two.
  assert.ok(!by.get('virtual-doorbell')!.setupCalls.some((c) => c.startsWith('VFIO_IOMMU_GET_INFO')));
  assert.equal(by.get('today')!.setupCalls.filter((c) => c.startsWith('VFIO_IOMMU_GET_INFO')).length, 2);
});

test("AMD's HyperTransport hole: reported by today's IOVA ranges, not by the donated-window designs", () => {
  const run = (design: 'today' | 'msi-resv') =>
    runDesignSession({ platform: 'amd-epyc', design, vmm: 'qemu-q35', memory: G4, mode: 'follow' });
  const ht = (r: ReturnType<typeof run>) => r.fixed.find((f) => f.region.start === 0xfd00000000n);
  assert.equal(ht(run('today'))?.expressed, true);
  const m = ht(run('msi-resv'));
  assert.equal(m?.expressed, false);
  assert.match(m!.region.what, /HyperTransport/);
});
