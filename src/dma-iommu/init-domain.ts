/**
 * iommu_dma_init_domain (drivers/iommu/dma-iommu.c, spec 3.2): what a kernel DMA-API domain's cookie
 * gets before its first doorbell: an IOVA domain of the domain's smallest page size starting at pfn
 * max(1, aperture_start >> order), with the host bridge's memory windows, the gaps between its
 * dma-ranges and the device's reserved regions (all but SW_MSI) reserved, and HW MSI regions registered
 * as identity doorbell pages.
 */
import type { IommuDomain } from '../iommu/api.js';
import { type ResvRegion, ResvType } from '../iommu/resv-region.js';
import type { HostBridgeDescription } from '../platform/types.js';
import { ERRNO } from '../base/errno.js';
import { DmaCookie, type IovaSource, cookieInitHwMsiRegion, domainCookie } from './cookie.js';
import type { KernelProfile } from '../kernel/profile.js';
import { type IovaDomain, initIovaDomain } from '../iova/domain.js';

/** An IOVA domain dma-iommu can reserve in and allocate from (src/iova's IovaDomain through an adapter). */
export interface IovaAllocator extends IovaSource {
  /** reserve_iova: false when the kernel would get NULL (warns and fails the init). */
  reserveIova(pfnLo: bigint, pfnHi: bigint): boolean;
}

/** init_iova_domain(granule, start_pfn) + rcaches. */
export type IovaAllocatorFactory = (
  granule: bigint,
  startPfn: bigint,
  profile?: KernelProfile,
) => IovaAllocator | undefined;

const MAX_PFN = BigInt(Number.MAX_SAFE_INTEGER - 1);
const clampPfn = (v: bigint): number => Number(v > MAX_PFN ? MAX_PFN : v);

/** src/iova's IovaDomain as a DMA cookie sees it (bigint pfns outside, JS-number pfns inside). */
export function iovaAllocatorOf(d: IovaDomain): IovaAllocator {
  return {
    allocIovaFast: (len, limitPfn, flush) =>
      BigInt(d.allocIovaFast(clampPfn(len), clampPfn(limitPfn), flush)),
    freeIovaFast: (pfn, len) => d.freeIovaFast(clampPfn(pfn), clampPfn(len)),
    reserveIova: (lo, hi) => d.reserveIova(clampPfn(lo), clampPfn(hi)) !== 0,
  };
}

/** The kernel's: init_iova_domain + iova_domain_init_rcaches from src/iova. */
export const IOVA_ALLOCATOR: IovaAllocatorFactory = (granule, startPfn, profile) => {
  const r = initIovaDomain({
    granule: Number(granule),
    startPfn: clampPfn(startPfn),
    rcaches: true,
    profile,
  });
  return r.ok ? iovaAllocatorOf(r.value) : undefined;
};

let defaultFactory: IovaAllocatorFactory | undefined = IOVA_ALLOCATOR;

/** Replaces the IOVA allocator behind DMA cookies (tests); `undefined` restores src/iova's. */
export function setIovaAllocatorFactory(f: IovaAllocatorFactory | undefined): void {
  defaultFactory = f ?? IOVA_ALLOCATOR;
}

export function iovaAllocatorFactory(): IovaAllocatorFactory | undefined {
  return defaultFactory;
}

interface InitState {
  readonly cookie: DmaCookie;
  readonly startPfn: bigint;
}

const INITIALISED = new WeakMap<IommuDomain, InitState>();

const U64_MAX = (1n << 64n) - 1n;

export interface InitDomainInput {
  readonly domain: IommuDomain;
  /** The device's host bridge (PCI devices) for window and dma-ranges reservations. */
  readonly bridge?: HostBridgeDescription;
  /** The device's reserved regions (ops->get_resv_regions, iommu_get_resv_regions). */
  readonly regions: readonly ResvRegion[];
  readonly factory?: IovaAllocatorFactory;
  /** Kernel profile (rcache magazine size of the IOVA domain). */
  readonly profile?: KernelProfile;
}

/**
 * iommu_dma_init_domain: 0, -EFAULT (second device with another granule/base), -EINVAL (overlapping
 * dma-ranges), -ENODEV (no IOVA allocator), -ENOMEM (a reservation failed).
 */
export function iommuDmaInitDomain(i: InitDomainInput): number {
  const dom = i.domain;
  const bitmap = dom.pgsizeBitmap;
  const granule = bitmap === 0n ? 4096n : bitmap & -bitmap;
  const order = BigInt(granule.toString(2).length - 1);
  let basePfn = dom.geometry.apertureStart >> order;
  if (basePfn < 1n) basePfn = 1n;
  const prev = INITIALISED.get(dom);
  if (prev !== undefined) {
    // Second device of the group: same granule and base, and (known gap) its regions are not reserved.
    return prev.cookie.granule === granule && prev.startPfn === basePfn ? 0 : -ERRNO.EFAULT;
  }
  const factory = i.factory ?? defaultFactory;
  const iova = factory?.(granule, basePfn, i.profile);
  if (iova === undefined) return -ERRNO.ENODEV;
  const pfn = (a: bigint): bigint => a >> order;
  if (i.bridge !== undefined) {
    for (const w of i.bridge.windows) {
      if (w.kind === 'io') continue;
      const lo = w.cpu.start - w.offset;
      const hi = w.cpu.end - w.offset;
      if (!iova.reserveIova(pfn(lo), pfn(hi))) return -ERRNO.ENOMEM;
    }
    const ranges = [...i.bridge.dmaRanges].sort((a, b) =>
      a.start < b.start ? -1 : a.start > b.start ? 1 : 0,
    );
    if (ranges.length > 0) {
      let start = 0n;
      for (const r of ranges) {
        if (r.start < start) return -ERRNO.EINVAL;
        if (r.start > start && !iova.reserveIova(pfn(start), pfn(r.start - 1n))) return -ERRNO.ENOMEM;
        start = r.end + 1n;
      }
      if (start <= U64_MAX && start !== 0n && !iova.reserveIova(pfn(start), pfn(U64_MAX)))
        return -ERRNO.ENOMEM;
    }
  }
  const cookie = new DmaCookie(granule, iova);
  for (const r of i.regions) {
    if (r.type === ResvType.SwMsi) continue;
    const end = r.start + r.length - 1n;
    if (!iova.reserveIova(pfn(r.start), pfn(end))) return -ERRNO.ENOMEM;
    if (r.type === ResvType.Msi) cookieInitHwMsiRegion(cookie, r.start, end);
  }
  dom.cookie = cookie;
  dom.cookieKind = 'dma';
  INITIALISED.set(dom, { cookie, startPfn: basePfn });
  return 0;
}

/** Whether a domain already has a usable DMA cookie (initialised by iommuDmaInitDomain). */
export function hasDmaCookie(dom: IommuDomain | undefined): boolean {
  return domainCookie(dom) instanceof DmaCookie;
}
