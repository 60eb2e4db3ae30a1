/**
 * A host as the tools see it: IOMMU groups with their devices and reserved regions, whatever the
 * source (a built-in platform model, a sysfs tree of a real host or an export, a snapshot file).
 * `inspect`, `check`, `plan` and the web view consume this; `src/host/` and `src/platform/` produce it.
 */
import type { Arch } from '../platform/types.js';
import type { Range } from '../base/range.js';
import type { ResvType } from '../iommu/resv-region.js';

export interface HostDeviceView {
  readonly bdf: string;
  readonly vendor: number;
  readonly device: number;
  readonly class: number;
  readonly driver: string;
  /** lspci-style name when known (pci.ids or the platform description). */
  readonly name?: string;
  /** Upstream bridge (`ssss:bb:dd.f`) when the device sits behind one; absent on a root bus. */
  readonly parent?: string;
}

export interface HostRegionView {
  readonly start: bigint;
  /** Inclusive. */
  readonly end: bigint;
  /** The sysfs type string: direct, direct-relaxable, reserved, msi. */
  readonly typeString: string;
  /** The exact type when the model knows it (a sysfs `msi` line may be hardware or software MSI). */
  readonly type?: ResvType;
  /** Which driver rule or firmware table put it there, when known. */
  readonly origin?: string;
}

export interface InterruptSafety {
  readonly safe: boolean;
  /** Plain words: "GICv3 ITS isolates MSIs by DeviceID", "GICv2m has no isolation; VFIO refuses ...". */
  readonly why: string;
  /** When unsafe: the ioctl that fails without allow_unsafe_interrupts and its errno (`VFIO_SET_IOMMU`, `EPERM`). */
  readonly ioctl?: string;
  readonly errno?: string;
}

export interface Assignability {
  readonly ok: boolean;
  readonly why: string;
  /** When refused and known: the VFIO ioctl that fails (`VFIO_GROUP_SET_CONTAINER`, `VFIO_SET_IOMMU`) and its errno name. */
  readonly ioctl?: string;
  readonly errno?: string;
}

export interface HostGroupView {
  readonly id: number;
  /** sysfs `type`: DMA, DMA-FQ, identity, ... */
  readonly type: string;
  readonly devices: readonly HostDeviceView[];
  /** Members that are not PCI functions (platform or ACPI devices), by their sysfs name. */
  readonly otherDevices?: readonly string[];
  readonly regions: readonly HostRegionView[];
  /** IOVA ranges VFIO type1 would report for this group alone (aperture minus non-relaxable regions). */
  readonly usable: readonly Range[];
  /** Whether VFIO would accept the group without allow_unsafe_interrupts, when known. */
  readonly interruptSafety?: InterruptSafety;
  /** Assignable to VFIO at all (e.g. false when a device needs a DIRECT mapping), with the reason. */
  readonly assignable?: Assignability;
  /**
   * Where a kernel PCI quirk (drivers/pci/quirks.c) decided how this group formed, one line per device
   * (a member or a bridge above one): `0000:00:1c.7 ACS: kernel quirk pci_quirk_intel_pch_acs (isolated)`.
   * Known for platform models only.
   */
  readonly quirks?: readonly string[];
}

export interface HostView {
  /** `platform:qemu-virt-smmuv3-gicv3`, `sysfs:/sys`, `snapshot:host.json` */
  readonly source: string;
  readonly arch?: Arch;
  /** Kernel version the view was computed for or read from. */
  readonly kernel?: string;
  /**
   * What the live host offers the iommufd backend (read from /dev and /sys; unknown for models, exports
   * and snapshots): /dev/iommu (CONFIG_IOMMUFD, module iommufd) and VFIO device files
   * (/dev/vfio/devices, CONFIG_VFIO_DEVICE_CDEV).
   */
  readonly iommufd?: { readonly dev: boolean; readonly deviceFiles: boolean };
  /** IOMMU input address range (aperture) used for `usable`, when known. */
  readonly aperture?: Range;
  /**
   * The kernel's page size (PAGE_SIZE: 4096, 16384 or 65536), when known: VFIO counts what it pins, and
   * RLIMIT_MEMLOCK, in these pages.
   */
  readonly pageSize?: number;
  readonly groups: readonly HostGroupView[];
  /** PCI functions that have no IOMMU group (no IOMMU, the IOMMU's own function, not probed on DT/IORT). */
  readonly ungrouped?: readonly HostDeviceView[];
  /** Notes for the user (e.g. "no IOMMU groups: the IOMMU is off; boot with intel_iommu=on"). */
  readonly notes: readonly string[];
}
