/**
 * The type1 `dma_list` (an rb-tree of `struct vfio_dma` keyed by iova in the kernel): non-overlapping
 * mappings with O(log n) lookup, insert and remove. Sits on the IOMMU layer's `RunTree` (a B+ tree of
 * 512-byte records in pooled typed arrays, see src/iommu/mapping-store.ts): key = first iova frame,
 * then pages, vaddr frame and flags. While a container has exactly one domain, type1 uses
 * SharedDmaIndex (below) instead: the same list kept inside that domain's page-table runs.
 *
 * Units are 4 KiB page frames as JS numbers: type1 requires every iova, size and vaddr to be a multiple
 * of its minimum page size, which is never below PAGE_SIZE, so a u64 address gives a frame < 2^52.
 *
 * Handles (`number`) name one mapping; they stay valid until the next insert or remove.
 */
import type { CoreDomain } from '../../iommu/domain.js';
import { OWNED_RUN, RUN_NIL, RunTree } from '../../iommu/mapping-store.js';

/** Per-mapping flag bits stored next to the frames. */
export const DMA_READ = 1;
export const DMA_WRITE = 2;
/** vfio_dma.vaddr_invalid (VFIO_DMA_UNMAP_FLAG_VADDR). */
export const DMA_VADDR_INVALID = 4;

export const DMA_NIL = RUN_NIL;

export interface DmaEntry {
  /** First iova frame. */
  readonly iova: number;
  /** Number of frames (>= 1). */
  readonly pages: number;
  /** First user vaddr frame. */
  readonly vaddr: number;
  readonly flags: number;
}

export class DmaTree {
  private readonly t = new RunTree();

  get size(): number {
    return this.t.size;
  }

  /** Bytes of the tree records (for benchmarks). */
  get byteSize(): number {
    return this.t.byteSize;
  }

  clear(): void {
    this.t.clear();
  }

  entry(h: number): DmaEntry {
    const t = this.t;
    return { iova: t.key(h), pages: t.c1(h), vaddr: t.c2(h), flags: t.c3(h) };
  }
  iovaOf(h: number): number {
    return this.t.key(h);
  }
  pagesOf(h: number): number {
    return this.t.c1(h);
  }
  /** Last frame (inclusive). */
  lastOf(h: number): number {
    return this.t.key(h) + this.t.c1(h) - 1;
  }
  vaddrOf(h: number): number {
    return this.t.c2(h);
  }
  flagsOf(h: number): number {
    return this.t.c3(h);
  }
  setFlags(h: number, f: number): void {
    this.t.setC3(h, f);
  }
  setVaddr(h: number, v: number): void {
    this.t.setC2(h, v);
  }

  /** Mapping with the greatest start <= f, or NIL. */
  floor(f: number): number {
    return this.t.floor(f);
  }

  /** Mapping with the smallest start > f, or NIL. */
  higher(f: number): number {
    return this.t.higher(f);
  }

  /** vfio_find_dma: some mapping intersecting frames [start, end], or NIL. */
  findIntersecting(start: number, end: number): number {
    // Descend for `start` (an insert at `start` then reuses the descent).
    const t = this.t;
    const h = t.floor(start);
    if (h !== RUN_NIL && t.key(h) + t.c1(h) > start) return h;
    const n = h === RUN_NIL ? t.first() : t.next(h);
    return n !== RUN_NIL && t.key(n) <= end ? n : RUN_NIL;
  }

  /** The mapping containing frame f, or NIL. */
  containing(f: number): number {
    const t = this.t;
    const h = t.floor(f);
    return h !== RUN_NIL && t.key(h) + t.c1(h) > f ? h : RUN_NIL;
  }

  /** vfio_find_dma_first_node: lowest mapping whose last frame >= start (it may start after `end`). */
  firstFrom(start: number): number {
    const t = this.t;
    const h = t.floor(start);
    if (h !== RUN_NIL && t.key(h) + t.c1(h) > start) return h;
    return h === RUN_NIL ? t.first() : t.next(h);
  }

  /** The next mapping in iova order. */
  next(h: number): number {
    return this.t.next(h);
  }

  /** In-order iteration (for invariant checks, replay and reports). */
  *entries(): IterableIterator<DmaEntry> {
    for (let h = this.t.first(); h !== RUN_NIL; h = this.t.next(h)) yield this.entry(h);
  }

  /** Inserts a mapping; the caller guarantees it overlaps nothing. */
  insert(iova: number, pages: number, vaddr: number, flags: number): void {
    this.t.insert(iova, pages, vaddr, flags);
  }

  /** Removes the mapping starting at frame `iova`; false when there is none. */
  remove(iova: number): boolean {
    return this.t.remove(iova);
  }

  /** Checks ordering, counts and the tree's structure (tests, fuzzing). Returns a problem or undefined. */
  check(): string | undefined {
    const e = this.t.check();
    if (e) return e;
    let prevEnd = -1;
    let count = 0;
    for (let h = this.t.first(); h !== RUN_NIL; h = this.t.next(h)) {
      const k = this.t.key(h);
      if (k <= prevEnd) return `mapping at frame ${k} overlaps the previous one`;
      if (!(this.t.c1(h) >= 1)) return `mapping at frame ${k} has no pages`;
      prevEnd = k + this.t.c1(h) - 1;
      count++;
    }
    return count === this.size ? undefined : `chain has ${count} mappings, size ${this.size}`;
  }
}

/** Column 3 bits of a run that holds a vfio_dma: the DMA_* flags at bit 8, and the owner mark. */
const FLAG_SHIFT = 8;
const FLAG_MASK = 0x7 << FLAG_SHIFT;

/**
 * The `dma_list` kept inside the only domain's page-table runs (CoreDomain.shareStore): each vfio_dma
 * is the run VFIO mapped for it, with its vaddr and flags stored beside the translation, so MAP and
 * UNMAP search one tree instead of two. Runs not owned by VFIO (dma-iommu's MSI doorbell pages) are
 * skipped by every lookup. Same handles and answers as DmaTree; type1 moves back to a DmaTree (see
 * VfioIommuType1) before anything this index cannot express: a second domain, a mapping of several
 * runs, or someone else unmapping in the domain.
 */
export class SharedDmaIndex {
  private count = 0;

  constructor(
    private readonly t: RunTree,
    readonly domain: CoreDomain,
  ) {}

  get size(): number {
    return this.count;
  }

  /** The records live in the domain's runs: nothing of its own (for benchmarks). */
  get byteSize(): number {
    return 0;
  }

  private owned(h: number): boolean {
    return (this.t.c3(h) & OWNED_RUN) !== 0;
  }

  /** h, or the first owned run after it. */
  private skip(h: number): number {
    while (h !== RUN_NIL && !this.owned(h)) h = this.t.next(h);
    return h;
  }

  entry(h: number): DmaEntry {
    return { iova: this.iovaOf(h), pages: this.pagesOf(h), vaddr: this.vaddrOf(h), flags: this.flagsOf(h) };
  }
  iovaOf(h: number): number {
    return this.t.key(h);
  }
  pagesOf(h: number): number {
    return this.t.c1(h) - this.t.key(h) + 1;
  }
  lastOf(h: number): number {
    return this.t.c1(h);
  }
  vaddrOf(h: number): number {
    return this.t.c4(h);
  }
  flagsOf(h: number): number {
    return (this.t.c3(h) & FLAG_MASK) >> FLAG_SHIFT;
  }
  setFlags(h: number, f: number): void {
    this.t.setC3(h, (this.t.c3(h) & ~FLAG_MASK) | ((f << FLAG_SHIFT) & FLAG_MASK));
  }
  setVaddr(h: number, v: number): void {
    this.t.setC4(h, v);
  }

  floor(f: number): number {
    let h = this.t.floor(f);
    while (h !== RUN_NIL && !this.owned(h)) h = this.t.prev(h);
    return h;
  }

  higher(f: number): number {
    return this.skip(this.t.higher(f));
  }

  findIntersecting(start: number, end: number): number {
    const t = this.t;
    // Runs are disjoint: only the floor run can hold `start`; later ones must start by `end`. (MAP's
    // lookup: an insert at `start` usually follows.)
    const h = t.floorToModify(start);
    if (h !== RUN_NIL && t.c1(h) >= start && this.owned(h)) return h;
    for (let n = h === RUN_NIL ? t.first() : t.next(h); n !== RUN_NIL && t.key(n) <= end; n = t.next(n)) {
      if (this.owned(n)) return n;
    }
    return RUN_NIL;
  }

  containing(f: number): number {
    const h = this.t.floor(f);
    return h !== RUN_NIL && this.t.c1(h) >= f && this.owned(h) ? h : RUN_NIL;
  }

  firstFrom(start: number): number {
    const t = this.t;
    const h = t.floor(start);
    if (h !== RUN_NIL && t.c1(h) >= start && this.owned(h)) return h;
    return this.skip(h === RUN_NIL ? t.first() : t.next(h));
  }

  next(h: number): number {
    return this.skip(this.t.next(h));
  }

  *entries(): IterableIterator<DmaEntry> {
    for (let h = this.skip(this.t.first()); h !== RUN_NIL; h = this.next(h)) yield this.entry(h);
  }

  /**
   * vfio_pin_map_dma's map plus vfio_link_dma in one step: 0, -EEXIST, or MAP_NOT_HANDLED when the
   * domain needs its general path (nothing done).
   */
  mapInsert(iova: number, phys: number, pages: number, prot: number, vaddr: number, flags: number): number {
    const rc = this.domain.mapFramesOwned(iova, phys, pages, prot, vaddr, flags);
    if (rc === 0) this.count++;
    return rc;
  }

  /** vfio_unmap_unpin + vfio_remove_dma in one step: the run is the mapping. */
  unmapRemove(h: number): void {
    this.t.remove(this.t.key(h));
    this.count--;
  }

  check(): string | undefined {
    const e = this.t.check();
    if (e) return e;
    let prevEnd = -1;
    let count = 0;
    for (let h = this.skip(this.t.first()); h !== RUN_NIL; h = this.next(h)) {
      const k = this.t.key(h);
      if (k <= prevEnd) return `mapping at frame ${k} overlaps the previous one`;
      if (!(this.pagesOf(h) >= 1)) return `mapping at frame ${k} has no pages`;
      prevEnd = this.t.c1(h);
      count++;
    }
    return count === this.count ? undefined : `chain has ${count} mappings, size ${this.count}`;
  }
}
