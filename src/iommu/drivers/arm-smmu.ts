/**
 * arm-smmu (SMMUv1/v2, drivers/iommu/arm/arm-smmu/arm-smmu.c) and arm-smmu-v3
 * (drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c). Both reserve the software MSI window and then add
 * iommu_dma_get_resv_regions; devices reach the SMMU through firmware (iommu-map, IORT), i.e. when a
 * driver probes them.
 */
import type { ResvRegion } from '../resv-region.js';
import { U64_MAX } from '../../base/u64.js';
import type { PciDev } from '../../pci/topology.js';
import { pciDeviceGroup } from '../../pci/group.js';
import type { DomainGeometry } from '../api.js';
import type { DriverContext, IommuCap, IommuDriverOps } from './ops.js';
import { apertureOfBits, lpaePgsizes, lpaeRangeCheck, swMsiRegion, translatesPci } from './common.js';
import { iommuDmaGetResvRegions } from './dma-resv.js';

/** arm64 VA_BITS of the Debian kernel (48-bit VA, 4 KiB pages). */
export const ARM64_VA_BITS = 48;

function smmuCommon(
  ctx: DriverContext,
  name: 'arm-smmu' | 'arm-smmu-v3',
  inputBits: number,
  outputBits: number,
): IommuDriverOps {
  const { iommu, platform } = ctx;
  const label = name === 'arm-smmu' ? 'arm-smmu' : 'arm-smmu-v3';
  return {
    name,
    iommuId: iommu.id,
    probeMode: 'at-driver-probe',
    translates: (dev) => translatesPci(iommu, dev),
    deviceGroup: (dev, groupOf) => pciDeviceGroup(ctx.topology, dev, groupOf),
    pgsizeBitmap: () => iommu.pgsizeBitmap ?? lpaePgsizes(platform.pageSize),
    geometry: (): DomainGeometry => apertureOfBits(inputBits),
    // arm_smmu_get_resv_regions: SW_MSI first, then the firmware regions.
    getResvRegions(dev: PciDev): ResvRegion[] {
      return [
        swMsiRegion(`${label}: software MSI window (MSI_IOVA_BASE)`),
        ...iommuDmaGetResvRegions(ctx, dev),
      ];
    },
    enforceCacheCoherency: () => false,
    capable(cap: IommuCap): boolean {
      switch (cap) {
        case 'cache-coherency':
          return iommu.coherent ?? true;
        case 'noexec':
        case 'deferred-flush':
          return true;
        case 'intr-remap':
          return false;
      }
    },
    msiWindowReadsFault: false,
    domainAllocUser: name === 'arm-smmu-v3',
    sharesDomainsAcrossInstances: false,
    forcesStrict: false,
    maxOutputAddress: outputBits >= 64 ? U64_MAX : (1n << BigInt(outputBits)) - 1n,
    mapRangeCheck: (iova, size, paddr) => lpaeRangeCheck(iova, size, paddr, inputBits, outputBits),
    attachCheck: () => 0,
  };
}

/**
 * SMMUv3 stage-1 domain: input size min(48, VA_BITS) (52 only with VAX and a 52-bit VA kernel), so the
 * aperture is 2^48-1 whatever the SMMU's `ias` (addressBits, e.g. 44 on QEMU); that `ias` bounds the
 * output addresses instead — arm_smmu_domain_finalise.
 */
export function armSmmuV3(ctx: DriverContext): IommuDriverOps {
  // stage 1: oas = smmu->ias (addressBits)
  return smmuCommon(ctx, 'arm-smmu-v3', Math.min(48, ARM64_VA_BITS), ctx.iommu.addressBits);
}

/** SMMUv2 stage-1 domain: input size is the SMMU's upstream bus size (va_size, addressBits). */
export function armSmmu(ctx: DriverContext): IommuDriverOps {
  // stage 1: ias = va_size, oas = ipa_size; the description gives one width for both
  return smmuCommon(ctx, 'arm-smmu', Math.min(ctx.iommu.addressBits, ARM64_VA_BITS), ctx.iommu.addressBits);
}
