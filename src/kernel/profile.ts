/**
 * Kernel version profiles. Behaviour that differs between the kernels the oracle ran (Debian 6.1 and
 * 6.12) is selected here, never by comparing version strings elsewhere. Add a field when you find a new
 * difference, with the kernel function that differs in its comment. Values are checked against the
 * oracle (../shared/oracle/out): where the spec (read at 6.19) and the oracle disagree, the oracle wins.
 */

export type KernelVersion = '6.1' | '6.12';

export const KERNEL_VERSIONS: readonly KernelVersion[] = ['6.1', '6.12'];
export const DEFAULT_KERNEL: KernelVersion = '6.12';

export interface KernelProfile {
  readonly version: KernelVersion;
  /** Release string the oracle booted, for reports. */
  readonly release: string;
  /** vfio_info_cap_add: capabilities rounded up to 8 bytes (since ~6.6). */
  readonly capPadding8: boolean;
  /** vfio_iommu_type1_check_extension: answer for the retired TYPE1_NESTING (6). */
  readonly checkExtNesting: number;
  /** vfio_iommu_type1_map_dma: wrap/truncation give -EOVERFLOW (>= 6.18) instead of -EINVAL. */
  readonly mapOverflowErrno: 'EINVAL' | 'EOVERFLOW';
  /** iommu_dma_prepare_msi: a paging domain without cookie fails with -EOPNOTSUPP (>= 6.14). */
  readonly noCookieIsError: boolean;
  /** vfio_pci_core: MSI-X without NORESIZE when the irq domain supports dynamic allocation (x86, >= 6.5). */
  readonly dynamicMsixOnX86: boolean;
  /** vfio_pci_set_msi_trigger: DATA_NONE trigger on a not-allocated vector is ignored (6.12) vs EINVAL (6.1). */
  readonly triggerUnallocatedIgnored: boolean;
  /** AMD v1 page table pgsize bitmap (amd_iommu ops): 6.1 0xffffff7ffffff000, 6.12 0x000fff7ffffff000. */
  readonly amdPgsizeBitmap: bigint;
  /**
   * iommu_get_group_resv_regions: stop at the first device without an IOMMU ("non-API groups"): 6.1
   * tests dev->iommu, 6.12 dev_has_iommu(); both break out of the loop.
   */
  readonly resvStopsAtDeviceWithoutIommu: boolean;
  /**
   * vfio_iommu_type1_attach_group / iommu_group_has_isolated_msi: true (>= 6.3) when every device of the
   * group must have an isolating MSI parent (msi_device_has_isolated_msi); false (6.1) for the older
   * `irq_domain_check_msi_remap() || IOMMU_CAP_INTR_REMAP` test.
   */
  readonly isolatedMsiPerDevice: boolean;
  /** amd_iommu_get_resv_regions: the HyperTransport hole is skipped with HT-range-ignore (>= 6.18 only). */
  readonly amdHtRangeIgnore: boolean;
  /**
   * __iommu_device_set_domain: a device with a DIRECT region (require_direct) cannot join a blocking
   * domain, -EINVAL (core rule, 6.12). In 6.1 only intel-iommu refuses, with -EPERM, to attach a
   * non-DMA domain to a device with a non-relaxable RMRR (device_is_rmrr_locked).
   */
  readonly requireDirectInCore: boolean;
  /**
   * iommu_group_store_type (writing sysfs `type`): 6.1 only changes single-device groups (-EINVAL
   * otherwise) and refuses a bound driver with -EBUSY; 6.12 takes any group without users
   * (owner_cnt, else -EPERM). Both allow DMA -> DMA-FQ at any time.
   */
  readonly groupTypeStoreSingleDevice: boolean;
  /**
   * The kernel has a virtio-iommu driver: Debian bookworm's 6.1 is built without CONFIG_VIRTIO_IOMMU
   * (the oracle had to boot 6.12 for virtio-iommu), so there a virtio-iommu translates nothing.
   */
  readonly virtioIommuBuilt: boolean;
  /**
   * A kernel of this version can offer /dev/iommu and the VFIO device cdev (iommufd from 6.2, the cdev
   * from 6.6): true for 6.12 when built with CONFIG_IOMMUFD and CONFIG_VFIO_DEVICE_CDEV (distribution
   * kernels such as Fedora's; Debian's are not), false for 6.1.
   */
  readonly iommufdCdev: boolean;
  /**
   * gup_must_unshare: a long-term read-only pin (vfio's vaddr_get_pfns without IOMMU_WRITE) of a page
   * of a private mapping that still maps the shared zero page unshares it first (6.12, mm/internal.h:
   * non-anonymous pages of COW mappings too), so vfio pins, and charges to RLIMIT_MEMLOCK, a page of its
   * own; 6.1 (include/linux/mm.h: anonymous pages only) pins the zero page, which
   * is_invalid_reserved_pfn counts as reserved: not charged.
   */
  readonly roPinUnsharesZeroPage: boolean;
  /** iommu_dma_get_resv_regions adds device-tree reserved-memory regions (of_iommu_get_resv_regions, 6.3+). */
  readonly ofIommuResvRegions: boolean;
  /** iommu_group_show_resv_regions: output bounded to one page by sysfs_emit_at (6.12) vs sprintf (6.1). */
  readonly resvSysfsPageLimit: boolean;
  /** kernel/irq/msi.c: per-device PCI/MSI irq domains (6.2+): /proc/interrupts shows `ITS-PCI-MSIX-<bdf>`. */
  readonly perDeviceMsiDomains: boolean;
  /** vfio_pci_ioctl_get_info: copies min(argsz, 24) bytes back (>= 6.6) instead of 16, or 20 when argsz >= 20. */
  readonly deviceInfoCopiesWholeStruct: boolean;
  /**
   * VFIO_DEVICE_PCI_HOT_RESET from a group-opened device refuses an empty group list before probing
   * the reset (6.12: count 0 is the iommufd form, vfio_device_cdev_opened); 6.1 probes first (ENODEV
   * on a root bus).
   */
  readonly hotResetNeedsGroupList: boolean;
  /**
   * VFIO_DEVICE_GET_PCI_HOT_RESET_INFO writes its header back when filling the device list fails
   * (EPERM: a device without an IOMMU group): 6.1 yes (flags 0, the caller's count), 6.12 no.
   */
  readonly hotResetInfoHeaderOnError: boolean;
  /**
   * vfio_pci_intrs.c: MSI contexts in a sparse xarray (6.5+) instead of a fixed array of num_ctx; with
   * the array, vfio_msi_set_block rejects any vector >= num_ctx before touching the others.
   */
  readonly vfioSparseIrqCtx: boolean;
  /** iova.c IOVA_MAG_SIZE: pfns per rcache magazine (127 since 6.0, 128 before). */
  readonly iovaMagSize: number;
  /** iova.c rcache depot: fixed array of MAX_GLOBAL_MAGS (<= 6.6) or a list trimmed by a delayed work (>= 6.7). */
  readonly iovaDepot: 'array' | 'list';
  /** iova.c MAX_GLOBAL_MAGS: capacity of the 'array' depot per size class. */
  readonly iovaMaxGlobalMags: number;
  /** vfio_iommu_type1_get_info: copies min(argsz, 24) bytes of a zeroed struct (6.12) instead of 16 or 20 (6.1). */
  readonly type1InfoCopiesMin24: boolean;
  /** vfio_group_ioctl_set_container: an fd that is not a container: -EINVAL (6.1) or -EBADFD (iommufd era). */
  readonly setContainerForeignFdErrno: 'EINVAL' | 'EBADFD';
  /**
   * vfio_iommu_type1 (<= 6.17): `iova + size` of a range ending at 2^64-1 wraps to 0, so vfio_find_dma never
   * sees such a mapping and UNMAP of such a range walks nothing (fixed in 6.18, "handle DMA map/unmap up to
   * the addressable limit").
   */
  readonly type1EndWrapsAtTop: boolean;
  /**
   * arm64 CONFIG_ARM64_VA_BITS of Debian's build: TASK_SIZE_MAX = 2^VA_BITS bounds the user pointers
   * access_ok accepts (48 in 6.1, 52 in 6.12: a dirty bitmap at 2^48 is EINVAL on 6.1, EFAULT on 6.12
   * in conformance/golden).
   */
  readonly arm64VaBits: 48 | 52;
}

const P61: KernelProfile = {
  version: '6.1',
  release: '6.1.0-56-amd64 (6.1.192)',
  capPadding8: false,
  checkExtNesting: 1,
  mapOverflowErrno: 'EINVAL',
  noCookieIsError: false,
  dynamicMsixOnX86: false,
  triggerUnallocatedIgnored: false,
  amdPgsizeBitmap: 0xffffff7ffffff000n,
  resvStopsAtDeviceWithoutIommu: true,
  isolatedMsiPerDevice: false,
  amdHtRangeIgnore: false,
  requireDirectInCore: false,
  resvSysfsPageLimit: false,
  groupTypeStoreSingleDevice: true,
  virtioIommuBuilt: false,
  iommufdCdev: false,
  roPinUnsharesZeroPage: false,
  ofIommuResvRegions: false,
  perDeviceMsiDomains: false,
  deviceInfoCopiesWholeStruct: false,
  hotResetNeedsGroupList: false,
  hotResetInfoHeaderOnError: true,
  vfioSparseIrqCtx: false,
  iovaMagSize: 127,
  iovaDepot: 'array',
  iovaMaxGlobalMags: 32,
  type1InfoCopiesMin24: false,
  setContainerForeignFdErrno: 'EINVAL',
  type1EndWrapsAtTop: true,
  arm64VaBits: 48,
};

const P612: KernelProfile = {
  version: '6.12',
  release: '6.12.95+deb12',
  capPadding8: true,
  checkExtNesting: 1,
  mapOverflowErrno: 'EINVAL',
  noCookieIsError: false,
  dynamicMsixOnX86: true,
  triggerUnallocatedIgnored: true,
  amdPgsizeBitmap: 0x000fff7ffffff000n,
  resvStopsAtDeviceWithoutIommu: true,
  isolatedMsiPerDevice: true,
  amdHtRangeIgnore: false,
  requireDirectInCore: true,
  resvSysfsPageLimit: true,
  groupTypeStoreSingleDevice: false,
  virtioIommuBuilt: true,
  iommufdCdev: true,
  roPinUnsharesZeroPage: true,
  ofIommuResvRegions: true,
  perDeviceMsiDomains: true,
  deviceInfoCopiesWholeStruct: true,
  hotResetNeedsGroupList: true,
  hotResetInfoHeaderOnError: false,
  vfioSparseIrqCtx: true,
  iovaMagSize: 127,
  iovaDepot: 'list',
  iovaMaxGlobalMags: 32,
  type1InfoCopiesMin24: true,
  setContainerForeignFdErrno: 'EBADFD',
  type1EndWrapsAtTop: true,
  arm64VaBits: 52,
};

const PROFILES: Record<KernelVersion, KernelProfile> = { '6.1': P61, '6.12': P612 };

export function kernelProfile(v: KernelVersion = DEFAULT_KERNEL): KernelProfile {
  return PROFILES[v];
}

export function isKernelVersion(s: string): s is KernelVersion {
  return s === '6.1' || s === '6.12';
}
