/**
 * merged-4.11: what Linux merged for 4.11 (spec §8.6, verified; seed 004's direction). The SMMU driver
 * reports the SW_MSI window (0x8000000, 1 MiB) and the other reserved regions in the group's sysfs
 * `reserved_regions` file only; VFIO puts the MSI-only cookie at the SW_MSI base on attach, but MAP_DMA
 * checks nothing, and GET_INFO has no capability chain yet. Userspace that ignores sysfs can map guest RAM
 * over the window; the doorbell mapping then fails at MSI setup.
 */
import { CapChain } from '../vfio/caps.js';
import type { Type1Design } from '../vfio/type1/type1.js';
import type { DesignDef } from './types.js';

const design: Type1Design = {
  name: 'merged-4.11',
  instance: (_iommu, env) => ({
    enforceReserved: false,
    // 4.11's vfio_iommu_type1_get_info: flags = PGSIZES, no capability chain.
    buildCaps: () => new CapChain(env.profile),
  }),
};

export const MERGED_4_11: DesignDef = {
  design,
  info: {
    name: 'merged-4.11',
    title: 'merged for 4.11: reserved regions in sysfs, transparent MSI IOVA (Jan 2017)',
    origin: 'seed 004 (RFC v3 discussion), spec §8.6',
    summary:
      'the kernel picks the MSI window and lists it in /sys/kernel/iommu_groups/N/reserved_regions; VFIO enforces nothing',
    verified: [
      'no VFIO uapi change: no GET_INFO capability, no MAP flag',
      'MSI-only cookie at the start of the group SW_MSI region on attach (vfio/type1: Allow transparent MSI IOVA allocation)',
      'MAP_DMA does not check reserved regions (that came with the 5.4 IOVA list)',
      'doorbell mapping at message composition (iommu_dma_map_msi_msg, 4.11-5.1): on failure the message becomes all-ones with a WARN, no error reaches userspace',
    ],
    reconstructed: [
      "the model maps doorbells at IRQ allocation (today's prepare split) and reports the 4.11 outcome from that failure: the vector keeps an all-ones message and the device write faults",
      "the sysfs text uses today's merge rules (1.4), not the 4.11 legacy insertion (1.5), where they differ",
    ],
  },
};
