/**
 * dma-iommu cookies (drivers/iommu/dma-iommu.c) and the doorbell pages they hand out.
 *
 * - MSI-only cookie (`iommu_get_msi_cookie`): VFIO type1 puts one on its UNMANAGED domain when the group
 *   has a SW_MSI window and no HW MSI region. Doorbell pages get IOVAs from a bump pointer starting at
 *   the window base, one CPU page each, never reused for another page and never bounded (spec 3.1, 3.3).
 * - DMA cookie (`iommu_get_dma_cookie`): kernel DMA-API domains; doorbell IOVAs come from the domain's
 *   IOVA allocator (src/iova, reached through the small `IovaSource` interface), and HW MSI regions are
 *   pre-registered as identity pages (`cookie_init_hw_msi_region`).
 *
 * The cookie object is stored on the domain (`IommuDomain.cookie`, `cookieKind`), like `iova_cookie`.
 */
import type { IommuDomain } from '../iommu/api.js';
import { ERRNO } from '../base/errno.js';
import { IOMMU_MMIO, IOMMU_NOEXEC, IOMMU_WRITE } from '../iommu/resv-region.js';

/** Prot of every doorbell mapping made by dma-iommu: WRITE|NOEXEC|MMIO = 0x1a (same in 4.11 and 6.x). */
export const MSI_PAGE_PROT = IOMMU_WRITE | IOMMU_NOEXEC | IOMMU_MMIO;

/** struct iommu_dma_msi_page */
export interface MsiPage {
  readonly phys: bigint;
  readonly iova: bigint;
}

/**
 * Where a DMA cookie gets IOVAs (the IOVA allocator of src/iova, `alloc_iova_fast`/`free_iova_fast`).
 * Pfns are in units of the cookie's granule; 0 means failure, as in the kernel.
 */
export interface IovaSource {
  allocIovaFast(lengthPfns: bigint, limitPfn: bigint, flushRcache: boolean): bigint;
  freeIovaFast(pfn: bigint, lengthPfns: bigint): void;
}

export class MsiOnlyCookie {
  readonly kind = 'msi' as const;
  /** Start of the SW_MSI window the cookie was created with. */
  readonly base: bigint;
  /** Doorbell granule: PAGE_SIZE of the CPU. */
  readonly granule: bigint;
  /** Bump pointer (`msi_iova`). */
  msiIova: bigint;
  /** Doorbell pages, most recent first (list_add at the head). */
  readonly pages: MsiPage[] = [];
  constructor(base: bigint, granule: bigint) {
    this.base = base;
    this.granule = granule;
    this.msiIova = base;
  }
}

export class DmaCookie {
  readonly kind = 'dma' as const;
  /** `iovad.granule`: smallest page size of the domain. */
  readonly granule: bigint;
  readonly iova: IovaSource | undefined;
  readonly pages: MsiPage[] = [];
  constructor(granule: bigint, iova: IovaSource | undefined) {
    this.granule = granule;
    this.iova = iova;
  }
}

export type DmaIommuCookie = MsiOnlyCookie | DmaCookie;

/** The cookie of a domain, if it carries one of ours. */
export function domainCookie(domain: IommuDomain | undefined): DmaIommuCookie | undefined {
  const c = domain?.cookie;
  return c instanceof MsiOnlyCookie || c instanceof DmaCookie ? c : undefined;
}

/**
 * iommu_get_msi_cookie(domain, base): 0, -EINVAL (not UNMANAGED), -EEXIST (already has a cookie).
 * `pageSize` is the CPU PAGE_SIZE (4 KiB unless an arm64 kernel uses 16/64 KiB pages).
 */
export function iommuGetMsiCookie(
  domain: IommuDomain,
  base: bigint,
  pageSize: number | bigint = 4096,
): number {
  if (domain.type !== 'unmanaged') return -ERRNO.EINVAL;
  if (domain.cookieKind !== 'none' || (domain.cookie !== undefined && domain.cookie !== null))
    return -ERRNO.EEXIST;
  domain.cookie = new MsiOnlyCookie(base, BigInt(pageSize));
  domain.cookieKind = 'msi';
  return 0;
}

/**
 * iommu_get_dma_cookie(domain): 0 or -EEXIST. `granule` = lowest set bit of the domain's pgsize bitmap
 * (iommu_dma_init_domain); `iova` the domain's IOVA allocator.
 */
export function iommuGetDmaCookie(domain: IommuDomain, iova?: IovaSource): number {
  if (domain.cookieKind !== 'none' || (domain.cookie !== undefined && domain.cookie !== null))
    return -ERRNO.EEXIST;
  const bitmap = domain.pgsizeBitmap;
  const granule = bitmap === 0n ? 4096n : bitmap & -bitmap;
  domain.cookie = new DmaCookie(granule, iova);
  domain.cookieKind = 'dma';
  return 0;
}

/**
 * iommu_put_msi_cookie / iommu_put_dma_cookie: frees the bookkeeping. Mappings stay in the domain (its
 * teardown removes them), as in the kernel.
 */
export function iommuPutCookie(domain: IommuDomain): void {
  domain.cookie = undefined;
  domain.cookieKind = 'none';
}

/**
 * cookie_init_hw_msi_region: every granule page of a HW MSI region becomes an identity doorbell page
 * (iova == phys), so composing a message for it changes nothing and maps nothing.
 */
export function cookieInitHwMsiRegion(cookie: DmaCookie, start: bigint, end: bigint): void {
  const g = cookie.granule;
  for (let p = start & ~(g - 1n); p <= end; p += g) {
    if (!cookie.pages.some((m) => m.phys === p)) cookie.pages.unshift({ phys: p, iova: p });
  }
}

/** What the device's DMA address limit is (dma_get_mask, bus_dma_limit) for DMA-cookie doorbells. */
export interface MsiDeviceLimits {
  readonly dmaMask: bigint;
  readonly isPci: boolean;
  /** `iommu_dma_forcedac` (iommu.forcedac=1): skip the below-4GiB first try. */
  readonly forceDac?: boolean;
}

const DMA_BIT_MASK_32 = 0xffff_ffffn;

/** iommu_dma_alloc_iova / cookie bump: 0 on failure. */
function allocDoorbellIova(domain: IommuDomain, cookie: DmaIommuCookie, dev: MsiDeviceLimits): bigint {
  const size = cookie.granule;
  if (cookie.kind === 'msi') {
    cookie.msiIova += size;
    return cookie.msiIova - size;
  }
  if (cookie.iova === undefined) return 0n;
  const shift = BigInt(size.toString(2).length - 1);
  let limit = dev.dmaMask;
  if (domain.geometry.forceAperture && domain.geometry.apertureEnd < limit)
    limit = domain.geometry.apertureEnd;
  let pfn = 0n;
  if (limit > DMA_BIT_MASK_32 && dev.isPci && dev.forceDac !== true) {
    pfn = cookie.iova.allocIovaFast(1n, DMA_BIT_MASK_32 >> shift, false);
  }
  if (pfn === 0n) pfn = cookie.iova.allocIovaFast(1n, limit >> shift, true);
  return pfn << shift;
}

function freeDoorbellIova(cookie: DmaIommuCookie, iova: bigint): void {
  if (cookie.kind === 'msi') {
    // Only correct because it is always the latest allocation (iommu_dma_free_iova).
    cookie.msiIova -= cookie.granule;
    return;
  }
  const shift = BigInt(cookie.granule.toString(2).length - 1);
  cookie.iova?.freeIovaFast(iova >> shift, 1n);
}

/**
 * iommu_dma_get_msi_page: the doorbell page for `msiAddr` in this domain, reusing an existing one or
 * allocating an IOVA and mapping it WRITE|NOEXEC|MMIO. `undefined` on failure (IOVA 0, map error),
 * after rolling the allocation back.
 */
export function iommuDmaGetMsiPage(
  domain: IommuDomain,
  msiAddr: bigint,
  dev: MsiDeviceLimits = { dmaMask: (1n << 64n) - 1n, isPci: true },
): MsiPage | undefined {
  const cookie = domainCookie(domain);
  if (cookie === undefined) return undefined;
  const size = cookie.granule;
  const pagePa = msiAddr & ~(size - 1n);
  const found = cookie.pages.find((p) => p.phys === pagePa);
  if (found !== undefined) return found;
  const iova = allocDoorbellIova(domain, cookie, dev);
  if (iova === 0n) return undefined;
  if (domain.map(iova, pagePa, size, MSI_PAGE_PROT) !== 0) {
    freeDoorbellIova(cookie, iova);
    return undefined;
  }
  const page = { phys: pagePa, iova };
  cookie.pages.unshift(page);
  return page;
}
