/**
 * `struct iova_domain` with its range caches (drivers/iommu/iova.c): the tree (fast by default, or the
 * kernel-shape reference) plus alloc_iova_fast/free_iova_fast. This is what dma-iommu's DMA cookie uses.
 */
import { ERRNO } from '../base/errno.js';
import { fail, ok, type Result } from '../iommu/api.js';
import { kernelProfile, type KernelProfile } from '../kernel/profile.js';
import { FastIovaTree } from './fast-tree.js';
import { IovaRcaches } from './rcache.js';
import { RefIovaTree } from './ref-tree.js';
import type { IovaDomainOptions, IovaTree } from './types.js';
import {
  IOVA_RANGE_CACHE_MAX_SIZE,
  MAX_MODEL_PFN,
  granuleShift,
  iovaDomainGeometry,
  isModelPfn,
} from './util.js';

/** alloc_iova_fast rounds sizes below this (1 << (IOVA_RANGE_CACHE_MAX_SIZE - 1)) up to a power of two. */
const ROUND_BELOW = 1 << (IOVA_RANGE_CACHE_MAX_SIZE - 1);

export type IovaImpl = 'fast' | 'ref';

export interface IovaDomainInit extends IovaDomainOptions {
  /** 'fast' (default, O(log n)) or 'ref' (the kernel's linear walk; tests and small domains). */
  readonly impl?: IovaImpl;
  /** Kernel profile: selects the rcache magazine size and depot. Default: the default kernel. */
  readonly profile?: KernelProfile;
}

export class IovaDomain {
  readonly tree: IovaTree;
  readonly profile: KernelProfile;
  /** iovad->rcaches, NULL until iova_domain_init_rcaches(). */
  rcaches: IovaRcaches | null = null;

  constructor(init: IovaDomainInit) {
    this.profile = init.profile ?? kernelProfile();
    this.tree = init.impl === 'ref' ? new RefIovaTree(init) : new FastIovaTree(init);
  }

  get granule(): number {
    return this.tree.granule;
  }

  /** iova_shift(): log2 of the granule. */
  get shift(): number {
    return granuleShift(this.tree.granule);
  }

  /** iova_offset(): the address bits below the granule. */
  iovaOffset(addr: bigint): bigint {
    return addr & BigInt(this.tree.granule - 1);
  }

  /** iova_align(): a byte size rounded up to the granule (u64; undefined if that overflows). */
  iovaAlign(size: bigint): bigint | undefined {
    const g = BigInt(this.tree.granule);
    const r = ((size + g - 1n) / g) * g;
    return size < 0n || r >= 1n << 64n ? undefined : r;
  }

  get startPfn(): number {
    return this.tree.startPfn;
  }

  get dma32bitPfn(): number {
    return this.tree.dma32bitPfn;
  }

  get max32AllocSize(): number {
    return this.tree.max32AllocSize;
  }

  // iova_domain_init_rcaches: 0 (allocation failures are not modelled).
  initRcaches(): number {
    if (this.rcaches === null) {
      this.rcaches = new IovaRcaches(this.tree, {
        magSize: this.profile.iovaMagSize,
        depot: this.profile.iovaDepot,
        maxGlobalMags: this.profile.iovaMaxGlobalMags,
      });
    }
    return 0;
  }

  allocIova(size: number, limitPfn: number, sizeAligned: boolean): number {
    return this.tree.allocIova(size, limitPfn, sizeAligned);
  }

  reserveIova(pfnLo: number, pfnHi: number): number {
    return this.tree.reserveIova(pfnLo, pfnHi);
  }

  findIova(pfn: number): number {
    return this.tree.findIova(pfn);
  }

  freeIova(pfn: number): void {
    this.tree.freeIova(pfn);
  }

  freeIovaNode(handle: number): void {
    this.tree.freeIovaNode(handle);
  }

  pfnLo(handle: number): number {
    return this.tree.pfnLo(handle);
  }

  pfnHi(handle: number): number {
    return this.tree.pfnHi(handle);
  }

  /**
   * alloc_iova_fast: sizes below 32 pages are rounded up to a power of two, the range cache is tried
   * first (limit_pfn + 1), then alloc_iova(size-aligned); on failure with `flushRcache` every cache is
   * emptied back into the tree once and the allocation retried. The pfn, or 0 on failure.
   */
  allocIovaFast(size: number, limitPfn: number, flushRcache: boolean): number {
    if (!(limitPfn >= 0 && limitPfn <= MAX_MODEL_PFN && Math.floor(limitPfn) === limitPfn)) return 0;
    if (size >= 1 && size < ROUND_BELOW && (size | 0) === size) {
      // roundup_pow_of_two for the cacheable sizes (integer fast path)
      if (size > 1) size = 1 << (32 - Math.clz32(size - 1));
    } else if (!isModelPfn(size) || size < 1) return 0;
    const rc = this.rcaches;
    if (rc !== null) {
      const pfn = rc.get(size, limitPfn + 1);
      if (pfn !== 0) return pfn;
    }
    let flush = flushRcache;
    for (;;) {
      const h = this.tree.allocIova(size, limitPfn, true);
      if (h !== 0) return this.tree.pfnLo(h);
      if (!flush) return 0;
      flush = false;
      // for_each_online_cpu(cpu) free_cpu_cached_iovas(); free_global_cached_iovas()
      if (rc !== null) {
        rc.flushCpu();
        rc.flushGlobal();
      }
    }
  }

  /** free_iova_fast: into the range cache of `size`'s class, else free_iova(pfn). */
  freeIovaFast(pfn: number, size: number): void {
    if (this.rcaches !== null && size >= 1 && this.rcaches.insert(pfn, size)) return;
    this.tree.freeIova(pfn);
  }

  /** free_cpu_cached_iovas + free_global_cached_iovas (what a flush-and-retry does). */
  flushRcaches(): void {
    this.rcaches?.flushCpu();
    this.rcaches?.flushGlobal();
  }
}

/**
 * init_iova_domain(iovad, granule, start_pfn) (+ iova_domain_init_rcaches when `rcaches`): -EINVAL for a
 * granule that is not a power of two up to 64 KiB (the kernel BUGs) or a start_pfn the model cannot hold.
 */
export function initIovaDomain(init: IovaDomainInit & { readonly rcaches?: boolean }): Result<IovaDomain> {
  if (iovaDomainGeometry(init.granule, init.startPfn) === undefined) return fail(-ERRNO.EINVAL);
  const d = new IovaDomain(init);
  if (init.rcaches === true) d.initRcaches();
  return ok(d);
}

/** iova_pfn(): an address as a pfn of `shift` (bits below the granule dropped); undefined if it cannot be held. */
export function iovaPfn(addr: bigint, shift: number): number | undefined {
  if (addr < 0n || addr >= 1n << 64n) return undefined;
  const p = addr >> BigInt(shift);
  return p <= BigInt(Number.MAX_SAFE_INTEGER - 1) ? Number(p) : undefined;
}

/** The address of pfn `pfn` at `shift` (pfn << shift) as a u64. */
export function pfnAddr(pfn: number, shift: number): bigint {
  return BigInt(pfn) << BigInt(shift);
}
