/**
 * msi-geometry: the v9/v10 series (May-June 2016, seed 002, spec §8.3). GET_INFO's MSI_GEOMETRY
 * capability says whether the MSI aperture is fixed (x86, HW MSI) or how much IOVA userspace must donate;
 * MAP_DMA with MSI_RESERVED_IOVA registers the window (no vaddr); doorbell pages are allocated from it with
 * an IOVA allocator (src/iova) at MSI setup; the window is a reserved-type vfio_dma that UNMAP skips and
 * that is replayed on new domains. The IRQ-remapping check at the MSI domain is today's isolated-MSI check.
 */
import { iommuGetDmaCookie } from '../dma-iommu/cookie.js';
import { ResvType } from '../iommu/resv-region.js';
import { IovaDomain } from '../iova/index.js';
import { putU32, putU64 } from '../uapi/vfio-type1.js';
import { CapChain } from '../vfio/caps.js';
import type { Type1Design } from '../vfio/type1/type1.js';
import type { DesignDef } from './types.js';
import {
  CAP_MSI_GEOMETRY_SIZE,
  MSI_GEOMETRY_FLAG_FIXED,
  MSI_GEOMETRY_PAGES,
  VFIO_DMA_MAP_FLAG_MSI_RESERVED_IOVA,
  VFIO_IOMMU_TYPE1_INFO_CAP_MSI_GEOMETRY,
} from './uapi.js';
import { DonatedWindow } from './window.js';

/** An IOVA allocator restricted to the donated window: the cookie allocates top-down inside it. */
function windowAllocator(start: bigint, end: bigint, granule: bigint) {
  const shift = BigInt(granule.toString(2).length - 1);
  const lo = Number(start >> shift);
  const hi = Number(end >> shift);
  const iovad = new IovaDomain({ granule: Number(granule), startPfn: Math.max(1, lo) });
  return {
    allocIovaFast(len: bigint, limitPfn: bigint): bigint {
      const lim = Number(limitPfn) < hi ? Number(limitPfn) : hi;
      if (lim < lo) return 0n;
      const h = iovad.allocIova(Number(len), lim, false);
      return h !== 0 ? BigInt(iovad.pfnLo(h)) : 0n;
    },
    freeIovaFast(pfn: bigint): void {
      iovad.freeIova(Number(pfn));
    },
  };
}

const design: Type1Design = {
  name: 'msi-geometry',
  instance(iommu, env) {
    const w = new DonatedWindow(iommu, env, VFIO_DMA_MAP_FLAG_MSI_RESERVED_IOVA, (domain, start, end) => {
      const bm = domain.pgsizeBitmap;
      const granule = bm === 0n ? 4096n : bm & -bm;
      return iommuGetDmaCookie(domain, windowAllocator(start, end, granule));
    });
    return w.hooks(() => {
      const caps = new CapChain(env.profile);
      const regions = iommu.groups().flatMap((g) => env.core.groupResvRegions(g));
      const hw = regions.find((r) => r.type === ResvType.Msi);
      const sw = regions.some((r) => r.type === ResvType.SwMsi);
      if (!hw && !sw) return caps;
      const off = caps.add(CAP_MSI_GEOMETRY_SIZE, VFIO_IOMMU_TYPE1_INFO_CAP_MSI_GEOMETRY, 1);
      if (hw) {
        // DOMAIN_ATTR_MSI_GEOMETRY of a fixed aperture: userspace donates nothing.
        putU32(caps.raw, off + 8, MSI_GEOMETRY_FLAG_FIXED);
        putU64(caps.raw, off + 24, hw.start);
        putU64(caps.raw, off + 32, hw.start + hw.length - 1n);
      } else {
        putU32(caps.raw, off + 12, 12);
        putU64(caps.raw, off + 16, BigInt(MSI_GEOMETRY_PAGES) * iommu.minPageSize);
      }
      return caps;
    });
  },
};

export const MSI_GEOMETRY: DesignDef = {
  design,
  info: {
    name: 'msi-geometry',
    title: 'v9/v10: MSI_GEOMETRY capability + MSI_RESERVED_IOVA map flag (May-June 2016)',
    origin: 'seed 002 (v9 cover letter), spec §8.2-8.3',
    summary:
      'GET_INFO says whether the MSI aperture is fixed or how much IOVA to donate; userspace registers a window with MAP_DMA(MSI_RESERVED_IOVA); doorbells get IOVAs from an allocator in it',
    verified: [
      'the capability-chain mechanism and vfio_iommu_type1_info layout (the v10 cap_offset move is what today has)',
      'v9 reported "an arbitrary number of 16 page requirement" (seed 002)',
      'reserved-type vfio_dma skipped by UNMAP and replayed on new domains (seed 002 patch titles)',
    ],
    reconstructed: [
      'capability layout: id 1, {u32 flags @8 (bit 0 fixed), u32 order @12, u64 size @16, u64 aperture_start @24, u64 aperture_end @32}, 40 bytes (from the v10 changelog)',
      'MAP flag value 1<<2 (the v14 successor used it)',
      'doorbell IOVAs allocated top-down in the window by src/iova (a DMA-style cookie limited to the window)',
      'a HW MSI region reported as the fixed aperture (x86 style), from the DOMAIN_ATTR_MSI_GEOMETRY description',
    ],
  },
};
