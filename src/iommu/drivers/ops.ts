/**
 * The driver side of the IOMMU core (struct iommu_ops, as far as the model needs it). One instance per
 * IOMMU of the platform description; the core never looks inside a driver.
 */
import type { DomainGeometry } from '../api.js';
import type { ResvRegion } from '../resv-region.js';
import type { KernelProfile } from '../../kernel/profile.js';
import type {
  InterruptControllerDescription,
  IommuDescription,
  IommuDriverName,
  PlatformDescription,
} from '../../platform/types.js';
import type { PciDev, PciTopology } from '../../pci/topology.js';

/** enum iommu_cap, the ones the model answers. */
export type IommuCap = 'cache-coherency' | 'intr-remap' | 'noexec' | 'deferred-flush';

/** How the driver finds the devices it translates. */
export type ProbeMode =
  /** At IOMMU registration every PCI function in scope is probed (DMAR, IVRS): all get groups at boot. */
  | 'at-registration'
  /** Through firmware data parsed in dma_configure (device tree, IORT, VIOT): only when a driver probes. */
  | 'at-driver-probe';

export interface DriverContext {
  readonly platform: PlatformDescription;
  readonly iommu: IommuDescription;
  readonly profile: KernelProfile;
  readonly topology: PciTopology;
}

export interface IommuDriverOps {
  readonly name: IommuDriverName;
  /** The IOMMU instance (description id). */
  readonly iommuId: string;
  readonly probeMode: ProbeMode;
  /** ops->probe_device: true when this IOMMU translates the device. */
  translates(dev: PciDev): boolean;
  /**
   * ops->device_group: the id of the group the device joins, or undefined for a new group. Every
   * modelled driver uses pci_device_group for PCI functions (arm-smmu's stream-ID sharing check needs
   * SMR data the description does not carry).
   */
  deviceGroup(dev: PciDev, groupOf: (d: PciDev) => number | undefined): number | undefined;
  /** Page sizes of a paging domain (domain->pgsize_bitmap). */
  pgsizeBitmap(): bigint;
  /** Geometry of a paging domain. */
  geometry(): DomainGeometry;
  /** ops->get_resv_regions, entries in the driver's order, each with its `origin`. */
  getResvRegions(dev: PciDev): ResvRegion[];
  /**
   * domain->ops->enforce_cache_coherency of a paging domain (what VFIO asks for VFIO_DMA_CC_IOMMU and
   * for domain reuse): intel needs snoop control, amd always succeeds (IOMMU_PTE_FC), arm-smmu-v3 needs
   * IORT CANWBS (not described: false), arm-smmu and virtio-iommu have no such op.
   */
  enforceCacheCoherency(): boolean;
  /** ops->capable / device_iommu_capable. */
  capable(cap: IommuCap): boolean;
  /**
   * A paging domain of this driver can be attached to devices behind another instance of the same
   * driver (Intel, AMD). SMMU and virtio-iommu domains belong to one IOMMU instance
   * (arm_smmu_attach_dev / viommu_attach_dev refuse a foreign instance).
   */
  readonly sharesDomainsAcrossInstances: boolean;
  /**
   * A hardware MSI window is an interrupt address range: writes there are interrupt requests, never
   * translated. On x86 (VT-d, AMD-Vi) a read of that range is an unsupported request (fault); QEMU's
   * virtio-iommu and the Hi161x ITS page let both through.
   */
  readonly msiWindowReadsFault: boolean;
  /**
   * ops->hw_info (IOMMU_GET_HW_INFO): the iommu_hw_info_type and its data; absent: none
   * (IOMMU_HW_INFO_TYPE_NONE). 6.12: only intel-iommu has it.
   */
  hwInfo?(): { readonly type: number; readonly data: Uint8Array };
  /** ops->domain_alloc_user exists (iommufd's HWPT flags and user data need it): 6.12 intel, amd, arm-smmu-v3. */
  readonly domainAllocUser: boolean;
  /** The driver forces strict invalidation (iommu_set_dma_strict), so DMA default domains, never DMA-FQ. */
  readonly forcesStrict: boolean;
  /**
   * The page-table walk of ops->map_pages for an IOVA range the table cannot hold (or an output
   * address it cannot express): 0 when it fits, else the driver's -errno.
   */
  mapRangeCheck(iova: bigint, size: bigint, paddr: bigint): number;
  /**
   * The highest output address the page table can hold (io-pgtable oas); U64_MAX when unchecked. With
   * the aperture it bounds the ranges for which mapRangeCheck is 0 (the domain's fast path).
   */
  readonly maxOutputAddress: bigint;
  /**
   * 6.1 attach_dev refusals specific to the driver (intel: RMRR-locked device and a non-DMA domain,
   * -EPERM). 0 when allowed.
   */
  attachCheck(dev: PciDev, domainIsDma: boolean): number;
}

/** The interrupt controller receiving a device's MSIs (its host bridge's msi-parent). */
export function msiParentOf(
  platform: PlatformDescription,
  dev: PciDev,
): InterruptControllerDescription | undefined {
  const id = dev.hostBridge?.msiParent;
  return id === undefined ? undefined : platform.interruptControllers.find((c) => c.id === id);
}

/** True when the IOMMU is behind one of the device's host bridges. */
export function inScope(iommu: IommuDescription, dev: PciDev): boolean {
  return dev.hostBridge !== undefined && iommu.hostBridges.includes(dev.hostBridge.id);
}

/** The BDF of the IOMMU's own PCI function, normalised, when it has one. */
export function isOwnFunction(
  iommu: IommuDescription,
  dev: PciDev,
  normalise: (s: string) => string | undefined,
): boolean {
  return iommu.pciFunction !== undefined && normalise(iommu.pciFunction) === dev.bdf;
}
