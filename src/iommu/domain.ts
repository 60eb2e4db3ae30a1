/**
 * iommu_domain: blocked, identity and paging (unmanaged, dma, dma-fq) domains with the driver's page
 * sizes and geometry. Paging domains keep their translations in a MappingStore (the page table).
 */
import type {
  CookieKind,
  DomainGeometry,
  DomainType,
  IommuDomain,
  Mapping,
  TranslationResult,
} from './api.js';
import type { IommuDriverOps } from './drivers/ops.js';
import { IOMMU_READ, IOMMU_WRITE } from './resv-region.js';
import { MappingStore, OWNED_RUN, type RunTree } from './mapping-store.js';
import { ERRNO } from '../base/errno.js';
import { U64_MAX, hex, lowestBit } from '../base/u64.js';

export function isPagingType(t: DomainType): boolean {
  return t === 'unmanaged' || t === 'dma' || t === 'dma-fq';
}

/** iommu_is_dma_domain: the kernel DMA API owns it (DMA or DMA-FQ). */
export function isDmaType(t: DomainType): boolean {
  return t === 'dma' || t === 'dma-fq';
}

/** A user keeping its own records inside the domain's runs (see CoreDomain.shareStore). */
export interface DomainStoreOwner {
  /** Called before anyone else unmaps: the owner moves its records out (the runs stay). */
  release(): void;
}

/** mapFramesOwned's answer when the request is outside its fast path (nothing was done). */
export const MAP_NOT_HANDLED = 1;

export class CoreDomain implements IommuDomain {
  readonly id: number;
  /** Mutable only for DMA -> DMA-FQ (iommu_dma_init_fq on the live domain). */
  type: DomainType;
  readonly driverName: string;
  readonly geometry: DomainGeometry;
  readonly pgsizeBitmap: bigint;
  readonly enforceCacheCoherency: boolean;
  cookie: unknown = undefined;
  cookieKind: CookieKind = 'none';
  /** The driver ops the domain was allocated from (domain->ops / owner). */
  readonly ops: IommuDriverOps;
  private readonly store = new MappingStore();
  /** log2 of the smallest page size: frame numbers in the store are in these units. */
  private readonly shift: bigint;
  private readonly minPage: bigint;
  /** The same shift as a number, and the frame box in which the driver's range check cannot fail. */
  private readonly shiftN: number;
  private readonly fastIovaLo: number;
  private readonly fastIovaHi: number;
  private readonly fastPhysHi: number;
  /** pgsizeBitmap is not empty (a number test on the hot path instead of a bigint one). */
  private readonly hasPages: boolean;
  /** The user whose records live in the runs (VFIO type1 with this as its only domain), if any. */
  private owner: DomainStoreOwner | undefined;

  constructor(id: number, type: DomainType, ops: IommuDriverOps) {
    this.id = id;
    this.type = type;
    this.ops = ops;
    this.driverName = ops.name;
    const paging = isPagingType(type);
    this.geometry = paging
      ? ops.geometry()
      : { apertureStart: 0n, apertureEnd: U64_MAX, forceAperture: false };
    this.pgsizeBitmap = paging ? ops.pgsizeBitmap() : 0n;
    this.enforceCacheCoherency = paging && ops.enforceCacheCoherency();
    const low = lowestBit(this.pgsizeBitmap);
    this.shift = BigInt(low < 0 ? 12 : low);
    this.minPage = 1n << this.shift;
    this.shiftN = Number(this.shift);
    const cap = (v: bigint): number => (v > 2n ** 53n - 1n ? 2 ** 53 - 1 : Number(v));
    this.fastIovaLo = cap((this.geometry.apertureStart + this.minPage - 1n) >> this.shift);
    this.fastIovaHi = cap((this.geometry.apertureEnd + 1n) >> this.shift) - 1;
    this.fastPhysHi = cap((ops.maxOutputAddress + 1n) >> this.shift) - 1;
    this.hasPages = this.pgsizeBitmap !== 0n;
  }

  /**
   * Converts a run of CPU pages (1 << frameShift bytes) to the store's page units; undefined when not
   * aligned to the domain's smallest page.
   */
  private toUnits(frame: number, frameShift: number): number | undefined {
    const k = frameShift - this.shiftN;
    if (k === 0) return frame; // the usual case (4 KiB CPU pages, 4 KiB IOMMU pages): no Math.pow
    if (k >= 0) return frame * 2 ** k;
    const r = 2 ** -k;
    return frame % r === 0 ? frame / r : undefined;
  }

  /**
   * iommu_map in CPU-page frames (`frameShift` 12 = 4 KiB): the same rules and errnos as `map`, with
   * plain numbers on the hot path (VFIO maps page runs this way).
   */
  mapFrames(iovaFrame: number, physFrame: number, frames: number, prot: number, frameShift = 12): number {
    if (frameShift === this.shiftN && this.type === 'unmanaged' && this.hasPages) {
      // VFIO's case: CPU pages are the domain's pages, no unit conversion.
      const last = iovaFrame + frames - 1;
      if (
        frames > 0 &&
        iovaFrame >= this.fastIovaLo &&
        last <= this.fastIovaHi &&
        physFrame + frames - 1 <= this.fastPhysHi
      )
        return this.store.insert(iovaFrame, last, physFrame, prot & 0xff) ? 0 : -ERRNO.EEXIST;
    }
    if (!isPagingType(this.type)) return -ERRNO.EINVAL;
    if (this.pgsizeBitmap === 0n) return -ERRNO.ENODEV;
    const s = this.toUnits(iovaFrame, frameShift);
    const p = this.toUnits(physFrame, frameShift);
    const n = this.toUnits(frames, frameShift);
    if (s === undefined || p === undefined || n === undefined) return -ERRNO.EINVAL;
    if (n === 0) return 0;
    const last = s + n - 1;
    if (s < this.fastIovaLo || last > this.fastIovaHi || p + n - 1 > this.fastPhysHi) {
      const sh = BigInt(frameShift);
      return this.map(BigInt(iovaFrame) << sh, BigInt(physFrame) << sh, BigInt(frames) << sh, prot);
    }
    return this.store.insert(s, last, p, prot & 0xff) ? 0 : -ERRNO.EEXIST;
  }

  /**
   * Lets one user keep its own per-mapping record in the runs it maps (VFIO type1's vfio_dma, while
   * this is the container's only domain): one index instead of two. Only for unmanaged domains with
   * 4 KiB pages (CPU frames are store frames). Returns the tree, or undefined when not possible. Any
   * unmap by someone else first calls `owner.release()`.
   */
  shareStore(owner: DomainStoreOwner): RunTree | undefined {
    if (this.owner !== undefined || this.type !== 'unmanaged' || !this.hasPages || this.shiftN !== 12)
      return undefined;
    this.owner = owner;
    return this.store.tree;
  }

  /** Ends shareStore: the owner's records are dropped from the runs (the translations stay). */
  unshareStore(): void {
    this.owner = undefined;
    this.store.disown();
  }

  /**
   * mapFrames for the shareStore owner, storing its record (`aux`, `bits`) in the run: 0, -EEXIST, or
   * MAP_NOT_HANDLED (nothing done) when the request needs the general path (the caller unshares and
   * uses mapFrames).
   */
  mapFramesOwned(
    iovaFrame: number,
    physFrame: number,
    frames: number,
    prot: number,
    aux: number,
    bits: number,
  ): number {
    const last = iovaFrame + frames - 1;
    if (
      this.type !== 'unmanaged' ||
      !this.hasPages ||
      this.shiftN !== 12 ||
      frames <= 0 ||
      iovaFrame < this.fastIovaLo ||
      last > this.fastIovaHi ||
      physFrame + frames - 1 > this.fastPhysHi
    )
      return MAP_NOT_HANDLED;
    return this.store.insertOwned(iovaFrame, last, physFrame, prot & 0xff, aux, bits | (OWNED_RUN >> 8))
      ? 0
      : -ERRNO.EEXIST;
  }

  private releaseOwner(): void {
    const o = this.owner;
    if (o !== undefined) o.release();
  }

  /** iommu_unmap in CPU-page frames: frames unmapped (0 when misaligned), stopping at the first hole. */
  unmapFrames(iovaFrame: number, frames: number, frameShift = 12): number {
    this.releaseOwner();
    if (frameShift === this.shiftN && this.type === 'unmanaged' && this.hasPages && frames > 0)
      return this.store.removeFrom(iovaFrame, iovaFrame + frames - 1);
    if (!isPagingType(this.type) || this.pgsizeBitmap === 0n) return 0;
    const s = this.toUnits(iovaFrame, frameShift);
    const n = this.toUnits(frames, frameShift);
    if (s === undefined || n === undefined || n === 0) return 0;
    const removed = this.store.removeFrom(s, s + n - 1);
    const k = frameShift - this.shiftN;
    if (k === 0) return removed;
    return k >= 0 ? removed / 2 ** k : removed * 2 ** -k;
  }

  get mappingCount(): number {
    return this.store.size;
  }

  /** Smallest page size (1 << __ffs(pgsize_bitmap)); 0 for domains without page tables. */
  get minPageSize(): bigint {
    return this.pgsizeBitmap === 0n ? 0n : this.minPage;
  }

  /**
   * iommu_map (__iommu_map): -EINVAL for a non-paging domain or when iova, paddr or size is not aligned
   * to the smallest page size; the driver's error when the table cannot hold the range; -EEXIST when a
   * page is already mapped (io-pgtable). The model maps all or nothing.
   */
  map(iova: bigint, paddr: bigint, size: bigint, prot: number): number {
    if (!isPagingType(this.type)) return -ERRNO.EINVAL;
    if (this.pgsizeBitmap === 0n) return -ERRNO.ENODEV;
    const mask = this.minPage - 1n;
    if (((iova | paddr | size) & mask) !== 0n) return -ERRNO.EINVAL;
    if (size === 0n) return 0;
    if (iova + size - 1n > U64_MAX || paddr + size - 1n > U64_MAX) return -ERRNO.EINVAL;
    const rc = this.ops.mapRangeCheck(iova, size, paddr);
    if (rc !== 0) return rc;
    const start = Number(iova >> this.shift);
    const end = Number((iova + size - 1n) >> this.shift);
    const ok = this.store.insert(start, end, Number(paddr >> this.shift), prot & 0xff);
    return ok ? 0 : -ERRNO.EEXIST;
  }

  /**
   * iommu_unmap (__iommu_unmap): 0 when iova or size is misaligned; otherwise unmaps page runs from
   * `iova` on and stops at the first page that is not mapped. Returns the bytes unmapped.
   */
  unmap(iova: bigint, size: bigint): bigint {
    this.releaseOwner();
    if (!isPagingType(this.type) || this.pgsizeBitmap === 0n) return 0n;
    const mask = this.minPage - 1n;
    if (((iova | size) & mask) !== 0n || size === 0n) return 0n;
    const last = iova + size - 1n > U64_MAX ? U64_MAX : iova + size - 1n;
    const frames = this.store.removeFrom(Number(iova >> this.shift), Number(last >> this.shift));
    return BigInt(frames) << this.shift;
  }

  /** Removes every translation (domain free / VFIO unmap-all helpers). */
  unmapAll(): void {
    this.releaseOwner();
    this.store.clear();
  }

  /** iommu_iova_to_phys: identity returns iova, blocked and unmapped give 0. */
  iovaToPhys(iova: bigint): bigint {
    if (this.type === 'identity') return iova;
    if (!isPagingType(this.type)) return 0n;
    const f = Number(iova >> this.shift);
    const run = this.store.find(f);
    if (run === undefined) return 0n;
    return (BigInt(run.pfn + (f - run.start)) << this.shift) | (iova & (this.minPage - 1n));
  }

  /**
   * Identity-maps every unmapped page of [start, end) (page aligned), one map call per gap, as
   * iommu_create_device_direct_mappings does.
   */
  identityMapGaps(start: bigint, end: bigint, prot: number): void {
    let a = start;
    while (a < end) {
      const run = this.store.ceilingRun(Number(a >> this.shift));
      const runStart = run === undefined ? end : BigInt(run.start) << this.shift;
      const gapEnd = runStart < end ? runStart : end;
      if (gapEnd > a) this.map(a, a, gapEnd - a, prot);
      if (run === undefined) break;
      a = (BigInt(run.end) + 1n) << this.shift;
    }
  }

  /** True when the page holding `iova` has a translation (unlike iovaToPhys, true for PA 0). */
  isMapped(iova: bigint): boolean {
    return isPagingType(this.type) && this.store.find(Number(iova >> this.shift)) !== undefined;
  }

  translate(iova: bigint, write: boolean): TranslationResult {
    if (this.type === 'identity') return { kind: 'bypass', paddr: iova, why: 'identity domain' };
    if (this.type === 'blocked') return { kind: 'fault', iova, why: 'blocked domain: all DMA is refused' };
    const f = Number(iova >> this.shift);
    const run = this.store.find(f);
    if (run === undefined)
      return { kind: 'fault', iova, why: `no translation for IOVA ${hex(iova)} in domain ${this.id}` };
    const need = write ? IOMMU_WRITE : IOMMU_READ;
    if ((run.prot & need) === 0) {
      return {
        kind: 'fault',
        iova,
        why: `${write ? 'write' : 'read'} not permitted at IOVA ${hex(iova)} (prot ${hex(run.prot)})`,
      };
    }
    const paddr = (BigInt(run.pfn + (f - run.start)) << this.shift) | (iova & (this.minPage - 1n));
    return { kind: 'translated', paddr, prot: run.prot };
  }

  *mappings(): Iterable<Mapping> {
    for (const r of this.store.runs()) {
      yield {
        iova: BigInt(r.start) << this.shift,
        paddr: BigInt(r.pfn) << this.shift,
        size: BigInt(r.end - r.start + 1) << this.shift,
        prot: r.prot,
      };
    }
  }
}
