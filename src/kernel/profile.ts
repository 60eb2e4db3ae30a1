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
  /** iommu_get_group_resv_regions: stop at the first device without an IOMMU (6.12 has dev_has_iommu). */
  readonly resvStopsAtDeviceWithoutIommu: boolean;
  /** vfio_iommu_type1_get_info: copies min(argsz, 24) bytes of a zeroed struct (6.12) instead of 16 or 20 (6.1). */
  readonly type1InfoCopiesMin24: boolean;
  /** vfio_group_ioctl_set_container: an fd that is not a container: -EINVAL (6.1) or -EBADFD (iommufd era). */
  readonly setContainerForeignFdErrno: 'EINVAL' | 'EBADFD';
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
  resvStopsAtDeviceWithoutIommu: false,
  type1InfoCopiesMin24: false,
  setContainerForeignFdErrno: 'EINVAL',
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
  resvStopsAtDeviceWithoutIommu: false,
  type1InfoCopiesMin24: true,
  setContainerForeignFdErrno: 'EBADFD',
};

const PROFILES: Record<KernelVersion, KernelProfile> = { '6.1': P61, '6.12': P612 };

export function kernelProfile(v: KernelVersion = DEFAULT_KERNEL): KernelProfile {
  return PROFILES[v];
}

export function isKernelVersion(s: string): s is KernelVersion {
  return s === '6.1' || s === '6.12';
}
