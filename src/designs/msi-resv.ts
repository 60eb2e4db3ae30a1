/**
 * msi-resv: the v14 series (12 Oct 2016, spec §8.4, verified from eauger/linux@004990c7; seed 001 is the
 * review that ended it). GET_INFO's MSI_RESV capability tells userspace how much IOVA (size, alignment)
 * to donate; MAP_DMA with RESERVED_MSI_IOVA registers it; the kernel puts doorbell pages in it.
 */
import { iommuGetMsiCookie } from '../dma-iommu/cookie.js';
import { ResvType } from '../iommu/resv-region.js';
import { msiFabricOf } from '../irq/fabric.js';
import { putU64 } from '../uapi/vfio-type1.js';
import { CapChain } from '../vfio/caps.js';
import type { Type1Design } from '../vfio/type1/type1.js';
import type { DesignDef } from './types.js';
import {
  CAP_MSI_RESV_SIZE,
  VFIO_DMA_MAP_FLAG_RESERVED_MSI_IOVA,
  VFIO_IOMMU_TYPE1_INFO_CAP_MSI_RESV,
} from './uapi.js';
import { DonatedWindow } from './window.js';

/** Doorbell pages a container may need: one per translated MSI controller of the platform. */
export function doorbellPages(core: Parameters<typeof msiFabricOf>[0]): number {
  const desc = msiFabricOf(core)?.desc;
  const n =
    desc?.interruptControllers.filter((c) => c.kind === 'gicv3-its' || c.kind === 'gicv2m').length ?? 1;
  return Math.max(1, n);
}

const design: Type1Design = {
  name: 'msi-resv',
  instance(iommu, env) {
    const pageSize = BigInt(msiFabricOf(env.core)?.desc.pageSize ?? 4096);
    const w = new DonatedWindow(iommu, env, VFIO_DMA_MAP_FLAG_RESERVED_MSI_IOVA, (domain, start) =>
      iommuGetMsiCookie(domain, start, pageSize),
    );
    return w.hooks(() => {
      const caps = new CapChain(env.profile);
      // DOMAIN_ATTR_MSI_RESV: domains whose doorbell the IOMMU translates (SW_MSI platforms).
      const needs = iommu
        .groups()
        .some((g) => env.core.groupResvRegions(g).some((r) => r.type === ResvType.SwMsi));
      if (needs) {
        const off = caps.add(CAP_MSI_RESV_SIZE, VFIO_IOMMU_TYPE1_INFO_CAP_MSI_RESV, 1);
        putU64(caps.raw, off + 8, pageSize * BigInt(doorbellPages(env.core)));
        putU64(caps.raw, off + 16, pageSize);
      }
      return caps;
    });
  },
};

export const MSI_RESV: DesignDef = {
  design,
  info: {
    name: 'msi-resv',
    title: 'v14: MSI_RESV capability + RESERVED_MSI_IOVA map flag (Oct 2016)',
    origin: 'seed 001 (review of v14), spec §8.4',
    summary:
      'userspace reads (size, alignment) from GET_INFO, donates an IOVA window with MAP_DMA(RESERVED_MSI_IOVA); doorbells are mapped in it',
    verified: [
      'vfio_iommu_type1_info layout (24 bytes, cap_offset @16), VFIO_IOMMU_INFO_CAPS = 1<<1',
      'VFIO_IOMMU_TYPE1_INFO_CAP_MSI_RESV = 1, struct {header; u64 size @8; u64 alignment @16}, version 1',
      'VFIO_DMA_MAP_FLAG_RESERVED_MSI_IOVA = 1<<2; vaddr ignored; size 0 / misaligned -> EINVAL; overlap with any mapping -> EEXIST',
      'user MAP over the window -> EEXIST; UNMAP skips the window; replayed onto domains attached later',
    ],
    reconstructed: [
      'the size reported: one doorbell page per translated MSI controller of the platform (v14 computed it from the doorbells; its exact sum is not modelled)',
      'the doorbell IOVAs inside the window: bump allocation from its start, like the merged MSI-only cookie',
      'no reserved-region enforcement on MAP (none existed before 5.4)',
    ],
  },
};
