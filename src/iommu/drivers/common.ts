/** Constants and helpers shared by several drivers. */
import {
  IOMMU_MMIO,
  IOMMU_NOEXEC,
  IOMMU_WRITE,
  ResvType,
  type ResvRegion,
  resvRegion,
} from '../resv-region.js';
import { U64_MAX } from '../../base/u64.js';
import { normalizeBdf } from '../../pci/bdf.js';
import type { IommuDescription } from '../../platform/types.js';
import type { PciDev } from '../../pci/topology.js';
import { type IommuCap, inScope } from './ops.js';

/** MSI_IOVA_BASE / MSI_IOVA_LENGTH of arm-smmu, arm-smmu-v3 and virtio-iommu. */
export const MSI_IOVA_BASE = 0x8000000n;
export const MSI_IOVA_LENGTH = 0x100000n;
/** IOMMU_WRITE | IOMMU_NOEXEC | IOMMU_MMIO: doorbell prot. */
export const MSI_PROT = IOMMU_WRITE | IOMMU_NOEXEC | IOMMU_MMIO;

/** x86 interrupt window (IOAPIC_RANGE_START..END on Intel, MSI_RANGE_START..END on AMD). */
export const X86_MSI_START = 0xfee00000n;
export const X86_MSI_END = 0xfeefffffn;

export function swMsiRegion(origin: string): ResvRegion {
  return resvRegion(MSI_IOVA_BASE, MSI_IOVA_LENGTH, MSI_PROT, ResvType.SwMsi, origin);
}

/** Covers the whole 64-bit space: `[0, 2^64-1]`. */
export const FULL_APERTURE = { apertureStart: 0n, apertureEnd: U64_MAX, forceAperture: true } as const;

/** Aperture `[0, 2^bits - 1]`. */
export function apertureOfBits(bits: number): {
  apertureStart: bigint;
  apertureEnd: bigint;
  forceAperture: boolean;
} {
  return {
    apertureStart: 0n,
    apertureEnd: bits >= 64 ? U64_MAX : (1n << BigInt(bits)) - 1n,
    forceAperture: true,
  };
}

/** In scope of the IOMMU and not the IOMMU's own PCI function. */
export function translatesPci(iommu: IommuDescription, dev: PciDev): boolean {
  if (!inScope(iommu, dev)) return false;
  return iommu.pciFunction === undefined || normalizeBdf(iommu.pciFunction) !== dev.bdf;
}

/** io-pgtable page sizes for a CPU page size (arm_lpae_restrict_pgsizes with PAGE_SIZE granule). */
export function lpaePgsizes(pageSize: number): bigint {
  switch (pageSize) {
    case 16384:
      return 0x4000n | 0x2000000n;
    case 65536:
      return 0x10000n | 0x20000000n;
    default:
      return 0x1000n | 0x200000n | 0x40000000n;
  }
}

/**
 * arm_lpae_map_pages: an IOVA beyond the table's input size (ias) or an output address beyond its
 * output size (oas) is -ERANGE.
 */
export function lpaeRangeCheck(iova: bigint, size: bigint, paddr: bigint, ias: number, oas: number): number {
  const inLimit = ias >= 64 ? U64_MAX : (1n << BigInt(ias)) - 1n;
  const outLimit = oas >= 64 ? U64_MAX : (1n << BigInt(oas)) - 1n;
  if (iova > inLimit || iova + size - 1n > inLimit) return -34;
  return paddr + size - 1n > outLimit ? -34 : 0;
}

/**
 * device_iommu_capable of the x86 IOMMUs (intel_iommu_capable, amd_iommu_capable): interrupt remapping
 * when enabled, coherent unless described otherwise, deferred (flush-queue) invalidation, no NOEXEC.
 */
export function x86IommuCapable(iommu: IommuDescription, cap: IommuCap): boolean {
  switch (cap) {
    case 'intr-remap':
      return iommu.interruptRemapping === true;
    case 'cache-coherency':
      return iommu.coherent ?? true;
    case 'deferred-flush':
      return true;
    case 'noexec':
      return false;
  }
}
