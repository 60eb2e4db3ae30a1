import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CoreDomain } from '../../src/iommu/domain.js';
import { buildPlatform } from '../../src/platform/build.js';
import { kernelProfile } from '../../src/kernel/profile.js';
import { IOMMU_READ, IOMMU_WRITE } from '../../src/iommu/resv-region.js';
import { ERRNO } from '../../src/base/errno.js';
import { U64_MAX } from '../../src/base/u64.js';
import { q35Intel, q35VirtioIommu, virtSmmuv3Gicv3 } from '../oracle/machines.js';
import type { IommuDriverOps } from '../../src/iommu/drivers/ops.js';

function opsOf(desc = q35Intel()): IommuDriverOps {
  return buildPlatform(desc, kernelProfile('6.12')).iommu.drivers[0]!;
}

const RW = IOMMU_READ | IOMMU_WRITE;

test('iommu_map: alignment to the smallest page size, -EINVAL otherwise; size 0 is a no-op', () => {
  const d = new CoreDomain(1, 'unmanaged', opsOf());
  assert.equal(d.minPageSize, 0x1000n);
  assert.equal(d.map(0x1000n, 0x2000n, 0x1000n, RW), 0);
  assert.equal(d.map(0x3800n, 0x2000n, 0x1000n, RW), -ERRNO.EINVAL);
  assert.equal(d.map(0x4000n, 0x2800n, 0x1000n, RW), -ERRNO.EINVAL);
  assert.equal(d.map(0x4000n, 0x2000n, 0x800n, RW), -ERRNO.EINVAL);
  assert.equal(d.map(0x4000n, 0x2000n, 0n, RW), 0);
  assert.equal(d.mappingCount, 1);
});

test('iommu_map: overlap -EEXIST; past the domain width per driver (intel -EFAULT, smmu -ERANGE)', () => {
  const intel = new CoreDomain(1, 'unmanaged', opsOf());
  assert.equal(intel.map(0x10000n, 0x10000n, 0x4000n, RW), 0);
  assert.equal(intel.map(0x13000n, 0x0n, 0x2000n, RW), -ERRNO.EEXIST);
  // 39-bit aperture: the last page maps, one page further is -EFAULT
  assert.equal(intel.map(0x7ffffff000n, 0n, 0x1000n, RW), 0);
  assert.equal(intel.map(0x8000000000n, 0n, 0x1000n, RW), -ERRNO.EFAULT);
  const smmu = new CoreDomain(2, 'unmanaged', opsOf(virtSmmuv3Gicv3()));
  assert.equal(smmu.geometry.apertureEnd, 0xffffffffffffn);
  assert.equal(smmu.map(0x1000000000000n, 0n, 0x1000n, RW), -ERRNO.ERANGE);
  // output address beyond the SMMU's 44-bit ias (QEMU): -ERANGE as well
  assert.equal(smmu.map(0x1000n, 0x100000000000n, 0x1000n, RW), -ERRNO.ERANGE);
  assert.equal(smmu.map(0x1000n, 0xffffffff000n, 0x1000n, RW), 0);
  const virtio = new CoreDomain(3, 'unmanaged', opsOf(q35VirtioIommu()));
  assert.equal(virtio.map(U64_MAX - 0xfffn, 0n, 0x1000n, RW), 0);
});

test('iommu_map on a non-paging domain is -EINVAL; identity/blocked translate as bypass/fault', () => {
  const id = new CoreDomain(1, 'identity', opsOf());
  const bl = new CoreDomain(2, 'blocked', opsOf());
  assert.equal(id.map(0n, 0n, 0x1000n, RW), -ERRNO.EINVAL);
  assert.equal(bl.map(0n, 0n, 0x1000n, RW), -ERRNO.EINVAL);
  assert.equal(id.iovaToPhys(0x1234n), 0x1234n);
  assert.equal(bl.iovaToPhys(0x1234n), 0n);
  assert.equal(id.translate(0x5000n, true).kind, 'bypass');
  assert.equal(bl.translate(0x5000n, true).kind, 'fault');
});

test('iova_to_phys and translate keep the in-page offset; prot is enforced', () => {
  const d = new CoreDomain(1, 'unmanaged', opsOf());
  assert.equal(d.map(0x100000n, 0x7654000n, 0x3000n, IOMMU_READ), 0);
  assert.equal(d.iovaToPhys(0x101abcn), 0x7655abcn);
  assert.equal(d.iovaToPhys(0x103000n), 0n);
  assert.deepEqual(d.translate(0x102010n, false), {
    kind: 'translated',
    paddr: 0x7656010n,
    prot: IOMMU_READ,
  });
  assert.equal(d.translate(0x102010n, true).kind, 'fault');
  assert.equal(d.translate(0x200000n, false).kind, 'fault');
});

test('iommu_unmap: bytes unmapped, splits runs, stops at the first hole, 0 when misaligned', () => {
  const d = new CoreDomain(1, 'unmanaged', opsOf());
  assert.equal(d.map(0x10000n, 0x80000n, 0x4000n, RW), 0);
  assert.equal(d.map(0x20000n, 0x90000n, 0x1000n, RW), 0);
  assert.equal(d.unmap(0x11000n, 0x800n), 0n);
  assert.equal(d.unmap(0x11000n, 0x1000n), 0x1000n);
  assert.equal(d.iovaToPhys(0x10000n), 0x80000n);
  assert.equal(d.iovaToPhys(0x12000n), 0x82000n);
  // from 0x12000: 0x12000-0x13fff mapped, then a hole at 0x14000: stops there
  assert.equal(d.unmap(0x12000n, 0x20000n), 0x2000n);
  assert.equal(d.iovaToPhys(0x20000n), 0x90000n);
  assert.equal(d.unmap(0x30000n, 0x1000n), 0n);
  assert.deepEqual(
    [...d.mappings()].map((m) => [m.iova, m.paddr, m.size]),
    [
      [0x10000n, 0x80000n, 0x1000n],
      [0x20000n, 0x90000n, 0x1000n],
    ],
  );
});

test('identityMapGaps maps only the holes, one call per hole', () => {
  const d = new CoreDomain(1, 'dma', opsOf());
  assert.equal(d.map(0x3000n, 0x9000000n, 0x2000n, RW), 0);
  assert.equal(d.map(0x8000n, 0x8000n, 0x1000n, RW), 0);
  d.identityMapGaps(0x1000n, 0xa000n, IOMMU_READ);
  assert.deepEqual(
    [...d.mappings()].map((m) => [m.iova, m.paddr, m.size, m.prot]),
    [
      [0x1000n, 0x1000n, 0x2000n, IOMMU_READ],
      [0x3000n, 0x9000000n, 0x2000n, RW],
      [0x5000n, 0x5000n, 0x3000n, IOMMU_READ],
      [0x8000n, 0x8000n, 0x1000n, RW],
      [0x9000n, 0x9000n, 0x1000n, IOMMU_READ],
    ],
  );
  // a 64 GiB direct region is one call, not 16M page steps
  const big = new CoreDomain(2, 'dma', opsOf(q35VirtioIommu()));
  big.identityMapGaps(0x100000000n, 0x1100000000n, RW);
  assert.equal(big.mappingCount, 1);
});

test('mapFrames/unmapFrames give the same results as map/unmap (random ops, several drivers)', () => {
  for (const desc of [q35Intel(), virtSmmuv3Gicv3(), q35VirtioIommu()]) {
    const a = new CoreDomain(1, 'unmanaged', opsOf(desc));
    const b = new CoreDomain(2, 'unmanaged', opsOf(desc));
    let seed = 99;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let i = 0; i < 3000; i++) {
      const f = rnd(400);
      const n = rnd(6);
      if (rnd(3) < 2) {
        const p = rnd(1000);
        assert.equal(
          b.mapFrames(f, p, n, RW),
          a.map(BigInt(f) << 12n, BigInt(p) << 12n, BigInt(n) << 12n, RW),
        );
      } else {
        assert.equal(BigInt(b.unmapFrames(f, n)) << 12n, a.unmap(BigInt(f) << 12n, BigInt(n) << 12n));
      }
    }
    assert.deepEqual([...b.mappings()], [...a.mappings()]);
  }
});

test('mapFrames: errnos at the edges go through the exact path; CPU frames vs IOMMU page size', () => {
  const intel = new CoreDomain(1, 'unmanaged', opsOf());
  assert.equal(intel.mapFrames(0x7ffffff, 0, 1, RW), 0);
  assert.equal(intel.mapFrames(0x8000000, 0, 1, RW), -ERRNO.EFAULT);
  const smmu = new CoreDomain(2, 'unmanaged', opsOf(virtSmmuv3Gicv3()));
  assert.equal(smmu.mapFrames(0x1000, 2 ** 32, 1, RW), -ERRNO.ERANGE);
  assert.equal(smmu.mapFrames(0x1000, 2 ** 32 - 1, 1, RW), 0);
  // a 64 KiB-granule domain refuses 4 KiB frames that are not 64 KiB aligned; 64 KiB CPU frames fit
  const base = virtSmmuv3Gicv3();
  const sixtyFour = new CoreDomain(3, 'unmanaged', opsOf({ ...base, pageSize: 65536 }));
  assert.equal(sixtyFour.minPageSize, 0x10000n);
  assert.equal(sixtyFour.mapFrames(1, 16, 16, RW), -ERRNO.EINVAL);
  assert.equal(sixtyFour.mapFrames(16, 32, 16, RW), 0);
  assert.equal(sixtyFour.iovaToPhys(0x10000n), 0x20000n);
  assert.equal(sixtyFour.mapFrames(2, 3, 1, RW, 16), 0);
  assert.equal(sixtyFour.iovaToPhys(0x20010n), 0x30010n);
  assert.equal(sixtyFour.unmapFrames(16, 15), 0);
  assert.equal(sixtyFour.unmapFrames(16, 16), 16);
  assert.equal(sixtyFour.unmapFrames(2, 1, 16), 1);
  assert.equal(sixtyFour.mappingCount, 0);
});
