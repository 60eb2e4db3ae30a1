/**
 * Kernel-shape reference IOVA tree: the nodes form a doubly linked list in pfn order and every walk is
 * the kernel's own linear walk over rb_prev()/rb_next() (drivers/iommu/iova.c). It is the executable
 * statement of the rules; `FastIovaTree` must give identical answers (proven by the property tests).
 * It is O(n) per allocation, like the kernel, and only meant for tests and small domains.
 */
import type { IovaDomainOptions, IovaTree } from './types.js';
import { IOVA_ANCHOR, alignDown, allocAlignment, iovaDomainGeometry, isModelPfn } from './util.js';

interface RefNode {
  id: number;
  lo: number;
  hi: number;
  prev: RefNode | null;
  next: RefNode | null;
}

/** (high - size) wrapped around zero in unsigned arithmetic: larger than any real pfn. */
const WRAPPED = 2 ** 64;

export class RefIovaTree implements IovaTree {
  readonly granule: number;
  readonly startPfn: number;
  readonly dma32bitPfn: number;
  max32AllocSize: number;
  count = 0;
  readonly anchor: number;

  private readonly shift: number;
  private readonly legacy411: boolean;
  private readonly anchorNode: RefNode;
  private head: RefNode;
  private cached: RefNode;
  private cached32: RefNode;
  private readonly byId = new Map<number, RefNode>();
  private nextId = 1;

  // init_iova_domain: empty tree holding only the anchor; both cached nodes point at it.
  constructor(opts: IovaDomainOptions) {
    const geo = iovaDomainGeometry(opts.granule, opts.startPfn);
    if (geo === undefined) {
      throw new RangeError(`iova: bad domain granule ${opts.granule} or start_pfn ${opts.startPfn}`);
    }
    this.shift = geo.shift;
    this.granule = opts.granule;
    this.startPfn = opts.startPfn;
    this.legacy411 = opts.legacy411 === true;
    this.dma32bitPfn = geo.dma32bitPfn;
    this.max32AllocSize = this.dma32bitPfn;
    this.anchorNode = this.newNode(IOVA_ANCHOR, IOVA_ANCHOR);
    this.anchor = this.anchorNode.id;
    this.head = this.anchorNode;
    this.cached = this.anchorNode;
    this.cached32 = this.anchorNode;
  }

  private newNode(lo: number, hi: number): RefNode {
    const n: RefNode = { id: this.nextId++, lo, hi, prev: null, next: null };
    this.byId.set(n.id, n);
    return n;
  }

  private linkBefore(n: RefNode, at: RefNode): void {
    n.next = at;
    n.prev = at.prev;
    if (at.prev) at.prev.next = n;
    else this.head = n;
    at.prev = n;
    this.count++;
  }

  // iova_find_limit: lowest node reaching `limit` or above (the anchor for limits above 4 GiB). The
  // kernel's descent may stop at a higher node with pfn_lo >= limit; walking down from there visits the
  // same gaps with the same clipped `high`, so the answers are identical.
  private findLimit(limit: number): RefNode {
    if (limit > this.dma32bitPfn) return this.anchorNode;
    let n: RefNode = this.head;
    while (n.hi < limit) n = n.next!;
    return n;
  }

  // alloc_iova -> __alloc_and_insert_iova_range(size, limit_pfn + 1, size_aligned)
  allocIova(size: number, limitPfn: number, sizeAligned: boolean): number {
    if (!isModelPfn(size) || size < 1 || !isModelPfn(limitPfn)) return 0;
    const limit = limitPfn + 1;
    const align = allocAlignment(size, sizeAligned);
    let high = limit;
    let low = this.startPfn;
    if (limit <= this.dma32bitPfn && size >= this.max32AllocSize) return 0;
    // __get_cached_rbnode
    let curr: RefNode | null = limit <= this.dma32bitPfn ? this.cached32 : this.cached;
    const retryPfn = curr.hi;
    let prev: RefNode = curr;
    let newPfn = 0;
    let retried = false;
    for (;;) {
      do {
        high = Math.min(high, curr.lo);
        newPfn = high >= size ? alignDown(high - size, align) : WRAPPED;
        prev = curr;
        curr = curr.prev;
      } while (curr !== null && newPfn <= curr.hi && newPfn >= low);
      // spec 6.7 (b): before 4.15 the bottom-of-walk check refused a gap ending exactly at start_pfn.
      const legacyMiss = this.legacy411 && curr === null && newPfn === this.startPfn;
      if (high < size || newPfn < low || legacyMiss) {
        // The retry pass above the cached node. (The kernel would spin forever if retry_pfn + 1 were
        // start_pfn; the model retries once.)
        if (low === this.startPfn && retryPfn < limit && !retried) {
          retried = true;
          high = limit;
          low = retryPfn + 1;
          curr = this.findLimit(limit);
          continue;
        }
        this.max32AllocSize = size;
        return 0;
      }
      break;
    }
    const n = this.newNode(newPfn, newPfn + size - 1);
    this.linkBefore(n, prev);
    // __cached_rbnode_insert_update
    if (n.hi < this.dma32bitPfn) this.cached32 = n;
    else this.cached = n;
    return n.id;
  }

  // reserve_iova: extend overlapping nodes downwards, never merge or split, insert the remainder.
  reserveIova(pfnLo: number, pfnHi: number): number {
    if (!isModelPfn(pfnLo) || !isModelPfn(pfnHi) || pfnLo > pfnHi) return 0;
    // "Don't allow nonsensical pfns": (pfn_hi | pfn_lo) > (ULLONG_MAX >> iova_shift)
    if (Math.max(pfnLo, pfnHi) > 2 ** (64 - this.shift) - 1) return 0;
    let lo = pfnLo;
    const hi = pfnHi;
    let overlap = false;
    for (let n: RefNode | null = this.head; n !== null; n = n.next) {
      // __is_range_overlap
      if (lo <= n.hi && hi >= n.lo) {
        // __adjust_overlap_range
        if (lo < n.lo) n.lo = lo;
        if (hi > n.hi) lo = n.hi + 1;
        if (lo >= n.lo && hi <= n.hi) return n.id;
        overlap = true;
      } else if (overlap) break;
    }
    // __insert_new_range
    const n = this.newNode(lo, hi);
    let at: RefNode = this.head;
    while (at.lo < lo) at = at.next!;
    this.linkBefore(n, at);
    return n.id;
  }

  // find_iova -> private_find_iova
  findIova(pfn: number): number {
    if (!isModelPfn(pfn)) return 0;
    for (let n: RefNode | null = this.head; n !== null && n !== this.anchorNode; n = n.next) {
      if (pfn >= n.lo && pfn <= n.hi) return n.id;
      if (n.lo > pfn) break;
    }
    return 0;
  }

  // free_iova
  freeIova(pfn: number): void {
    const h = this.findIova(pfn);
    if (h !== 0) this.freeIovaNode(h);
  }

  // __free_iova -> remove_iova
  freeIovaNode(handle: number): void {
    const n = this.byId.get(handle);
    if (n === undefined || n === this.anchorNode) return;
    // __cached_rbnode_delete_update
    const next = n.next!;
    const c32 = this.cached32;
    if (n === c32 || (n.hi < this.dma32bitPfn && n.lo >= c32.lo)) this.cached32 = next;
    if (n.lo < this.dma32bitPfn) this.max32AllocSize = this.dma32bitPfn;
    if (n.lo >= this.cached.lo) this.cached = next;
    // rb_erase
    next.prev = n.prev;
    if (n.prev) n.prev.next = next;
    else this.head = next;
    this.byId.delete(handle);
    this.count--;
  }

  pfnLo(handle: number): number {
    return this.byId.get(handle)?.lo ?? -1;
  }

  pfnHi(handle: number): number {
    return this.byId.get(handle)?.hi ?? -1;
  }

  cachedNode(): number {
    return this.cached.id;
  }

  cached32Node(): number {
    return this.cached32.id;
  }

  ranges(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (let n: RefNode | null = this.head; n !== null && n !== this.anchorNode; n = n.next)
      out.push([n.lo, n.hi]);
    return out;
  }
}
