/**
 * Plain-words descriptions of host reserved regions, from the region's own data: its type, the origin
 * the host model recorded, and the architecture constants that produce such a region in the kernel.
 */
import type { Arch } from '../platform/types.js';
import type { HostRegionView } from '../host/view.js';
import { ResvType } from '../iommu/resv-region.js';
import { AMD_HT_END, AMD_HT_START } from './qemu.js';

/** drivers/iommu/arm/arm-smmu-v3 (and arm-smmu, virtio-iommu): MSI_IOVA_BASE, MSI_IOVA_LENGTH. */
export const ARM_SW_MSI_BASE = 0x0800_0000n;
export const ARM_SW_MSI_END = 0x080f_ffffn;
/** x86 interrupt address window (Intel IOAPIC_RANGE_*, AMD MSI_RANGE_*). */
export const X86_MSI_START = 0xfee0_0000n;
export const X86_MSI_END = 0xfeef_ffffn;

export interface RegionDescription {
  /** Short name: "SW-MSI window", "x86 MSI window", "AMD HyperTransport window", "RMRR". */
  readonly name: string;
  /** One sentence on what it is and why VFIO refuses DMA mappings there. */
  readonly why: string;
}

function isType(r: HostRegionView, t: ResvType): boolean {
  return r.type === t;
}

export function describeRegion(r: HostRegionView, arch?: Arch): RegionDescription {
  const origin = r.origin !== undefined ? ` (${r.origin})` : '';
  const s = r.typeString;
  if (s === 'msi') {
    if (r.start === ARM_SW_MSI_BASE && r.end === ARM_SW_MSI_END && !isType(r, ResvType.Msi)) {
      return {
        name: 'SW-MSI window',
        why:
          `the software MSI window${origin}: the host maps the interrupt controller's doorbell (GIC ITS) ` +
          "at IOVA 0x8000000 in every assigned device's IOMMU domain, so those addresses cannot be DMA memory",
      };
    }
    if (r.start <= X86_MSI_START && r.end >= X86_MSI_END && arch !== 'aarch64') {
      return {
        name: 'x86 MSI window',
        why:
          `the x86 interrupt window${origin}: device writes to 0xfee00000-0xfeefffff are interrupts ` +
          '(local APIC / interrupt remapping), never memory, on every x86 host',
      };
    }
    return {
      name: 'hardware MSI doorbell',
      why:
        `a hardware MSI doorbell the IOMMU does not translate${origin}: device writes there reach the ` +
        'interrupt controller directly, so the address cannot also be guest memory',
    };
  }
  if (s === 'reserved') {
    if (r.start === AMD_HT_START && r.end === AMD_HT_END) {
      return {
        name: 'AMD HyperTransport window',
        why:
          `the AMD HyperTransport window 0xfd00000000-0xffffffffff${origin}: AMD IOMMUs treat these ` +
          'addresses as special (interrupts, system management, configuration), and VFIO refuses DMA mappings there since Linux 5.4',
      };
    }
    return {
      name: 'reserved range',
      why: `an address range the IOMMU driver or firmware reserves${origin}; the device cannot use it for DMA`,
    };
  }
  if (s === 'direct') {
    return {
      name: 'firmware identity mapping',
      why:
        `a firmware-required identity mapping${origin} (Intel RMRR or IORT RMR): the device keeps DMA ` +
        'to these host addresses, so guest memory cannot live at the same IOVA',
    };
  }
  return {
    name: 'relaxable identity mapping',
    why: `a relaxable firmware mapping${origin} that VFIO ignores (vfio_iommu_resv_exclude skips it)`,
  };
}
