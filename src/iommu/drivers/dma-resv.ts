/**
 * iommu_dma_get_resv_regions (drivers/iommu/dma-iommu.c): firmware regions common to the ARM drivers.
 * Not a device-tree IOMMU: iort_iommu_get_resv_regions (drivers/acpi/arm64/iort.c) — the HiSilicon
 * Hi161x ITS HW MSI pages, then the IORT RMR nodes. A device-tree platform:
 * of_iommu_get_resv_regions (drivers/iommu/of_iommu.c, 6.3+).
 */
import {
  IOMMU_CACHE,
  IOMMU_MMIO,
  IOMMU_PRIV,
  IOMMU_READ,
  IOMMU_WRITE,
  ResvType,
  type ResvRegion,
  resvRegion,
} from '../resv-region.js';
import { hex } from '../../base/u64.js';
import { normalizeBdf } from '../../pci/bdf.js';
import type { PciDev } from '../../pci/topology.js';
import type { DriverContext } from './ops.js';
import { msiParentOf } from './ops.js';
import { MSI_PROT } from './common.js';

export function iommuDmaGetResvRegions(ctx: DriverContext, dev: PciDev): ResvRegion[] {
  const { platform, iommu } = ctx;
  if (platform.firmware === 'devicetree') {
    return ctx.profile.ofIommuResvRegions ? ofIommuGetResvRegions(ctx, dev) : [];
  }
  if (iommu.driver !== 'arm-smmu' && iommu.driver !== 'arm-smmu-v3') return [];
  const out: ResvRegion[] = [];
  // iort_iommu_msi_get_resv_regions: only for the HiSilicon Hi161x SMMUv3 model.
  if (iommu.driver === 'arm-smmu-v3' && iommu.model === 'hisilicon-hi161x') {
    const its = msiParentOf(platform, dev);
    if (its !== undefined && its.kind === 'gicv3-its') {
      out.push(
        resvRegion(
          its.base + 0x10000n,
          0x10000n,
          MSI_PROT,
          ResvType.Msi,
          `iort: HiSilicon Hi161x ITS ${its.id} translater page (HW MSI)`,
        ),
      );
    }
  }
  // iort_iommu_get_rmrs / iort_get_rmr_resv_regions
  platform.firmwareTables.iortRmr.forEach((rmr, i) => {
    if (!rmr.devices.some((d) => normalizeBdf(d) === dev.bdf)) return;
    let prot = IOMMU_READ | IOMMU_WRITE;
    if (rmr.privileged) prot |= IOMMU_PRIV;
    prot |= rmr.attribute === 'device' ? IOMMU_MMIO : IOMMU_CACHE;
    const type = rmr.remapPermitted ? ResvType.DirectRelaxable : ResvType.Direct;
    out.push(resvRegion(rmr.base, rmr.length, prot, type, `iort: RMR #${i} (${hex(rmr.base)})`));
  });
  return out;
}

/**
 * of_iommu_get_resv_regions: each `iommu-addresses` entry naming the device becomes a region with prot
 * READ|WRITE (+CACHE for a dma-coherent device); zero length is skipped with a warning. Type
 * (iommu_resv_region_get_type): RESERVED without `reg`, DIRECT when the IOVA range equals `reg`
 * exactly, otherwise RESERVED (with a warning).
 */
export function ofIommuGetResvRegions(ctx: DriverContext, dev: PciDev): ResvRegion[] {
  const out: ResvRegion[] = [];
  (ctx.platform.firmwareTables.ofReservedMemory ?? []).forEach((node, i) => {
    for (const a of node.iommuAddresses) {
      if (normalizeBdf(a.device) !== dev.bdf || a.length === 0n) continue;
      const prot = IOMMU_READ | IOMMU_WRITE | (a.coherent === true ? IOMMU_CACHE : 0);
      const end = a.iova + a.length - 1n;
      const reg = node.reg;
      const direct = reg !== undefined && reg.start < reg.end && reg.start === a.iova && reg.end === end;
      const type = direct ? ResvType.Direct : ResvType.Reserved;
      out.push(
        resvRegion(
          a.iova,
          a.length,
          prot,
          type,
          `of: reserved-memory #${i} iommu-addresses (${hex(a.iova)})`,
        ),
      );
    }
  });
  return out;
}
