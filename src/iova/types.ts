/**
 * The contract both IOVA trees implement (drivers/iommu/iova.c without the range caches). Nodes are
 * numeric handles (0 = NULL, like a NULL `struct iova *`); `pfnLo(h)`/`pfnHi(h)` read a live node. A
 * handle stays valid until its node is freed; after that it may be reused (as a freed `struct iova`
 * would be), so callers must not keep handles of freed nodes.
 */

export interface IovaDomainOptions {
  /** Domain granule in bytes (power of two; dma-iommu uses the smallest IOMMU page size). */
  readonly granule: number;
  /** Lowest allocatable pfn (dma-iommu passes >= 1 so that IOVA 0 is never handed out). */
  readonly startPfn: number;
  /**
   * Reproduce the pre-4.15 off-by-one of __alloc_and_insert_iova_range (spec 6.7 (b)): at the bottom
   * of the walk the inclusive-limit check `start_pfn + size + pad > limit` refuses a gap that ends
   * exactly at start_pfn, so the last free page of a domain can never be allocated.
   */
  readonly legacy411?: boolean;
}

/** One domain's tree of allocated/reserved ranges with the kernel's cached-node walk. */
export interface IovaTree {
  readonly granule: number;
  readonly startPfn: number;
  /** dma_32bit_pfn: first pfn at or above 4 GiB in granule units. */
  readonly dma32bitPfn: number;
  /** max32_alloc_size: size of the last failed allocation (fast-fail for <= 4 GiB requests). */
  readonly max32AllocSize: number;
  /** Live nodes, the anchor excluded. */
  readonly count: number;

  /** alloc_iova: handle of the new node, 0 when the allocation fails. `limitPfn` is inclusive. */
  allocIova(size: number, limitPfn: number, sizeAligned: boolean): number;
  /** reserve_iova: handle of the node that now covers the tail of the request, 0 for NULL. */
  reserveIova(pfnLo: number, pfnHi: number): number;
  /** find_iova: the node containing `pfn` (any pfn inside it), 0 if none. */
  findIova(pfn: number): number;
  /** free_iova: find the node containing `pfn` and remove it; no-op if none. */
  freeIova(pfn: number): void;
  /** __free_iova: remove a known live node. */
  freeIovaNode(handle: number): void;

  pfnLo(handle: number): number;
  pfnHi(handle: number): number;
  /** The anchor node [~0UL, ~0UL] (never freed). */
  readonly anchor: number;
  /** iovad->cached_node / iovad->cached32_node. */
  cachedNode(): number;
  cached32Node(): number;
  /** All live nodes in ascending order as [pfn_lo, pfn_hi] (anchor excluded); for tests and views. */
  ranges(): Array<[number, number]>;
}
