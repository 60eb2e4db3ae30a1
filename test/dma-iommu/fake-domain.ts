/** Test support: a page-granular UNMANAGED/DMA domain for dma-iommu unit tests (not a test file). */
import type { DomainType, IommuDomain, Mapping, TranslationResult } from '../../src/iommu/api.js';
import { IOMMU_WRITE } from '../../src/iommu/resv-region.js';
import { ERRNO } from '../../src/base/errno.js';

let nextDomainId = 1;

export class FakeDomain implements IommuDomain {
  readonly id = nextDomainId++;
  readonly driverName = 'fake';
  readonly geometry = { apertureStart: 0n, apertureEnd: (1n << 48n) - 1n, forceAperture: true };
  readonly pgsizeBitmap = 0x40201000n;
  readonly enforceCacheCoherency = true;
  cookie: unknown = undefined;
  cookieKind: 'none' | 'dma' | 'msi' = 'none';
  readonly pages = new Map<bigint, { paddr: bigint; prot: number }>();
  /** Make the next map fail with this errno (to test rollback). */
  failNextMap = 0;
  constructor(readonly type: DomainType) {}
  map(iova: bigint, paddr: bigint, size: bigint, prot: number): number {
    if (this.failNextMap !== 0) {
      const e = this.failNextMap;
      this.failNextMap = 0;
      return e;
    }
    if ((iova | paddr | size) & 0xfffn || size === 0n) return -ERRNO.EINVAL;
    for (let o = 0n; o < size; o += 0x1000n) if (this.pages.has(iova + o)) return -ERRNO.EEXIST;
    for (let o = 0n; o < size; o += 0x1000n) this.pages.set(iova + o, { paddr: paddr + o, prot });
    return 0;
  }
  unmap(iova: bigint, size: bigint): bigint {
    let n = 0n;
    for (let o = 0n; o < size; o += 0x1000n) if (this.pages.delete(iova + o)) n += 0x1000n;
    return n;
  }
  iovaToPhys(iova: bigint): bigint {
    const p = this.pages.get(iova & ~0xfffn);
    return p === undefined ? 0n : p.paddr + (iova & 0xfffn);
  }
  translate(iova: bigint, write: boolean): TranslationResult {
    if (this.type === 'identity') return { kind: 'bypass', paddr: iova, why: 'identity domain' };
    const p = this.pages.get(iova & ~0xfffn);
    if (p === undefined) return { kind: 'fault', iova, why: 'no translation' };
    if (write && (p.prot & IOMMU_WRITE) === 0)
      return { kind: 'fault', iova, why: 'write to a read-only page' };
    return { kind: 'translated', paddr: p.paddr + (iova & 0xfffn), prot: p.prot };
  }
  get mappingCount(): number {
    return this.pages.size;
  }
  *mappings(): Iterable<Mapping> {
    for (const [iova, p] of this.pages) yield { iova, paddr: p.paddr, size: 0x1000n, prot: p.prot };
  }
}
