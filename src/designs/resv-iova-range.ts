/**
 * resv-iova-range: the "IOVA reserved regions" RFC v2 (Nov 2016, seed 000, spec §8.5). The kernel picks
 * the MSI window (SW_MSI, 0x8000000 + 1 MiB) and GET_INFO reports every reserved region of the container's
 * groups as its own RESV_IOVA_RANGE capability, so userspace can react; MAP_DMA enforces nothing.
 * The capability layout is RECONSTRUCTED: no stored copy of the RFC was found.
 */
import { type ResvRegion, insertResvRegion } from '../iommu/resv-region.js';
import { putU32, putU64 } from '../uapi/vfio-type1.js';
import { CapChain } from '../vfio/caps.js';
import type { Type1Design } from '../vfio/type1/type1.js';
import type { DesignDef } from './types.js';
import { CAP_RESV_IOVA_RANGE_SIZE, VFIO_IOMMU_TYPE1_INFO_CAP_RESV_IOVA_RANGE } from './uapi.js';

const design: Type1Design = {
  name: 'resv-iova-range',
  instance: (iommu, env) => ({
    enforceReserved: false,
    buildCaps() {
      const caps = new CapChain(env.profile);
      let regions: ResvRegion[] = [];
      for (const g of iommu.groups())
        for (const r of env.core.groupResvRegions(g)) regions = insertResvRegion(regions, r);
      for (const r of regions) {
        const off = caps.add(CAP_RESV_IOVA_RANGE_SIZE, VFIO_IOMMU_TYPE1_INFO_CAP_RESV_IOVA_RANGE, 1);
        putU64(caps.raw, off + 8, r.start);
        putU64(caps.raw, off + 16, r.start + r.length - 1n);
        putU32(caps.raw, off + 24, r.type);
      }
      return caps;
    },
  }),
};

export const RESV_IOVA_RANGE: DesignDef = {
  design,
  info: {
    name: 'resv-iova-range',
    title: 'RFC v2: one RESV_IOVA_RANGE capability per reserved region (Nov 2016)',
    origin: 'seed 000 (RFC v2 cover letter), spec §8.5',
    summary:
      'the kernel picks the MSI window and reports every reserved region (MSI window, PCI windows, fixed doorbells) through GET_INFO; userspace must avoid them',
    verified: [
      'the direction: each reserved range in a separate chained GET_INFO capability; MSI window at 0x8000000, 1 MiB (seed 000)',
      'MSI-only cookie for transparent doorbell IOVAs (Robin Murphy, "iommu/dma: Allow MSI-only cookies", in the same series)',
    ],
    reconstructed: [
      'capability layout: id 1, version 1, {u64 start @8; u64 end @16 (inclusive); u32 type @24 (IOMMU_RESV_* value); u32 pad @28}, 32 bytes',
      "the regions reported are today's per-driver regions of the groups, merged by today's rules",
      'no MAP_DMA enforcement ("allow the userspace to react in case of conflict")',
    ],
  },
};
