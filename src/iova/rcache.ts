/**
 * The IOVA range caches ("rcache", drivers/iommu/iova.c): per size class a per-CPU pair of magazines
 * (`loaded`, `prev`) and a depot of full magazines. One CPU is modelled (the one the caller runs on), as
 * in a single-CPU replay. The depot differs by kernel:
 *  - 'array' (<= 6.6, e.g. 6.1): at most MAX_GLOBAL_MAGS full magazines; when it is full the full
 *    `loaded` magazine is freed back to the tree right away.
 *  - 'list' (>= 6.7, e.g. 6.12): an unbounded LIFO list; a delayed work (100 ms) later frees one
 *    magazine per run while the depot holds more than num_online_cpus() of them (`depotWork()`).
 */
import { IOVA_RANGE_CACHE_MAX_SIZE } from './util.js';

/** Largest cached size: 2^(IOVA_RANGE_CACHE_MAX_SIZE - 1) pages. */
const MAX_CACHED = 1 << (IOVA_RANGE_CACHE_MAX_SIZE - 1);

/** order_base_2(size) for 1 <= size <= MAX_CACHED (integer fast path). */
function cacheOrder(size: number): number {
  return size <= 1 ? 0 : 32 - Math.clz32(size - 1);
}

export interface RcacheParams {
  /** IOVA_MAG_SIZE. */
  readonly magSize: number;
  readonly depot: 'array' | 'list';
  /** MAX_GLOBAL_MAGS for the 'array' depot. */
  readonly maxGlobalMags: number;
}

/** What the caches need from the domain: give a cached range back to the tree (free_iova). */
export interface RcacheTree {
  freeIova(pfn: number): void;
}

class Magazine {
  size = 0;
  readonly pfns: Float64Array;
  constructor(n: number) {
    this.pfns = new Float64Array(n);
  }
}

class RangeCache {
  loaded: Magazine;
  prev: Magazine;
  depot: Magazine[] = [];
  /** 'list' depot: the delayed trim work is pending. */
  workPending = false;
  constructor(magSize: number) {
    this.loaded = new Magazine(magSize);
    this.prev = new Magazine(magSize);
  }
}

export class IovaRcaches {
  private readonly caches: RangeCache[] = [];
  private readonly magSize: number;

  constructor(
    private readonly tree: RcacheTree,
    private readonly params: RcacheParams,
  ) {
    this.magSize = params.magSize;
    // iova_domain_init_rcaches: every CPU starts with two empty magazines per class.
    for (let i = 0; i < IOVA_RANGE_CACHE_MAX_SIZE; i++) this.caches.push(new RangeCache(params.magSize));
  }

  // iova_magazine_free_pfns: every pfn goes back to the tree in the magazine's order.
  private freePfns(mag: Magazine): void {
    for (let i = 0; i < mag.size; i++) this.tree.freeIova(mag.pfns[i]!);
    mag.size = 0;
  }

  // iova_rcache_insert -> __iova_rcache_insert. False when the class is not cached.
  insert(pfn: number, size: number): boolean {
    if (!(size <= MAX_CACHED) || (size | 0) !== size) return false; // log_size >= IOVA_RANGE_CACHE_MAX_SIZE
    const rc = this.caches[cacheOrder(size)]!;
    const full = this.magSize;
    let toFree: Magazine | null = null;
    let mag = rc.loaded;
    if (mag.size !== full) {
      mag.pfns[mag.size++] = pfn;
      return true;
    }
    if (rc.prev.size !== full) {
      const t = rc.prev;
      rc.prev = rc.loaded;
      rc.loaded = t;
    } else {
      // a fresh magazine (GFP_ATOMIC allocation assumed to succeed); the full one goes to the depot
      if (this.params.depot === 'list') {
        rc.depot.push(rc.loaded); // iova_depot_push + schedule_delayed_work
        rc.workPending = true;
      } else if (rc.depot.length < this.params.maxGlobalMags) {
        rc.depot.push(rc.loaded);
      } else {
        toFree = rc.loaded;
      }
      rc.loaded = new Magazine(full);
    }
    mag = rc.loaded;
    mag.pfns[mag.size++] = pfn;
    if (toFree !== null) this.freePfns(toFree);
    return true;
  }

  // iova_rcache_get -> __iova_rcache_get(rcache, limit_pfn - size); `limitPfn` is exclusive here
  // (alloc_iova_fast passes limit_pfn + 1). 0 on a miss.
  get(size: number, limitPfn: number): number {
    if (!(size <= MAX_CACHED) || (size | 0) !== size) return 0;
    const rc = this.caches[cacheOrder(size)]!;
    if (rc.loaded.size === 0) {
      if (rc.prev.size !== 0) {
        const t = rc.prev;
        rc.prev = rc.loaded;
        rc.loaded = t;
      } else if (rc.depot.length > 0) {
        rc.loaded = rc.depot.pop()!; // the empty loaded magazine is freed
      } else return 0;
    }
    // iova_magazine_pop: newest first, the first pfn whose range ends below the limit; swap-remove.
    const mag = rc.loaded;
    const max = limitPfn - size;
    const pfns = mag.pfns;
    let i = mag.size - 1;
    while (pfns[i]! > max) {
      if (i === 0) return 0;
      i--;
    }
    const pfn = pfns[i]!;
    pfns[i] = pfns[--mag.size]!;
    return pfn;
  }

  // free_cpu_cached_iovas: per class, `loaded` then `prev` back to the tree.
  flushCpu(): void {
    for (const rc of this.caches) {
      this.freePfns(rc.loaded);
      this.freePfns(rc.prev);
    }
  }

  // free_global_cached_iovas: 6.1 walks the array from index 0; 6.12 pops the list (newest first).
  flushGlobal(): void {
    for (const rc of this.caches) {
      if (this.params.depot === 'array') {
        for (const m of rc.depot) this.freePfns(m);
        rc.depot.length = 0;
      } else {
        while (rc.depot.length > 0) this.freePfns(rc.depot.pop()!);
      }
    }
  }

  /**
   * One run of iova_depot_work_func for every class whose work is pending ('list' depot only): if the
   * depot holds more than `onlineCpus` magazines, pop one and free its pfns, then re-arm. Time is not
   * modelled: callers run this when 100 ms would have passed.
   */
  depotWork(onlineCpus = 1): void {
    if (this.params.depot !== 'list') return;
    for (const rc of this.caches) {
      if (!rc.workPending) continue;
      rc.workPending = false;
      if (rc.depot.length > onlineCpus) {
        this.freePfns(rc.depot.pop()!);
        rc.workPending = true;
      }
    }
  }

  /** Cached pfns per class (loaded, prev, depot) for views and tests. */
  stats(): Array<{ order: number; loaded: number; prev: number; depotMags: number }> {
    return this.caches.map((rc, order) => ({
      order,
      loaded: rc.loaded.size,
      prev: rc.prev.size,
      depotMags: rc.depot.length,
    }));
  }
}
