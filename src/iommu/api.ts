/**
 * The IOMMU core as its consumers see it (VFIO type1, dma-iommu, the MSI path, the CLI). The core
 * (`src/iommu/core.ts`) implements these; drivers (`src/iommu/drivers/`) implement `IommuDriverOps`.
 * Mirrors include/linux/iommu.h: consumers never reach into a driver.
 *
 * Conventions: functions that model a kernel call which can fail return `number` (0 or -errno) or
 * `T | number`-shaped results named `{ ok: true, value } | { ok: false, errno }`. They never throw
 * for a condition the kernel reports as an error.
 */
import type { KernelProfile } from '../kernel/profile.js';
import type { Range } from '../base/range.js';
import type { ResvRegion } from './resv-region.js';
import type { Arch } from '../platform/types.js';
import type { PciTopology } from '../pci/topology.js';

export type Result<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly errno: number };

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });
export const fail = <T = never>(errno: number): Result<T> => ({ ok: false, errno });

/** iommu_domain type. */
export type DomainType = 'blocked' | 'identity' | 'unmanaged' | 'dma' | 'dma-fq';

/** sysfs `type` file text of a group's default domain: `DMA`, `DMA-FQ`, `identity`, `blocked`, `unmanaged`. */
export function domainTypeSysfs(t: DomainType): string {
  switch (t) {
    case 'dma':
      return 'DMA';
    case 'dma-fq':
      return 'DMA-FQ';
    default:
      return t;
  }
}

export interface DomainGeometry {
  readonly apertureStart: bigint;
  readonly apertureEnd: bigint;
  readonly forceAperture: boolean;
}

/** A translation in a paging domain. */
export interface Mapping {
  readonly iova: bigint;
  readonly paddr: bigint;
  readonly size: bigint;
  readonly prot: number;
}

/** What happened to one DMA access through a domain (or bypass). */
export type TranslationResult =
  | { readonly kind: 'translated'; readonly paddr: bigint; readonly prot: number }
  | { readonly kind: 'bypass'; readonly paddr: bigint; readonly why: string }
  | { readonly kind: 'fault'; readonly iova: bigint; readonly why: string };

export type CookieKind = 'none' | 'dma' | 'msi';

export interface IommuDomain {
  readonly id: number;
  readonly type: DomainType;
  /** The driver that allocated it (domains of the same ops can be shared, vfio 4.2 step 12). */
  readonly driverName: string;
  readonly geometry: DomainGeometry;
  readonly pgsizeBitmap: bigint;
  /** enforce_cache_coherency succeeded for this domain (VFIO_DMA_CC_IOMMU; VFIO domain reuse). */
  readonly enforceCacheCoherency: boolean;
  /**
   * iommu_map, all or nothing: 0 or -errno. -EINVAL: not a paging domain, or iova|paddr|size not aligned
   * to the smallest page size. The driver's page-table limits: intel -EFAULT past the address width,
   * arm-smmu(-v3) -ERANGE past ias/oas, virtio-iommu -ERANGE outside input_range. -EEXIST: a page is
   * already mapped. Size 0 is a no-op.
   */
  map(iova: bigint, paddr: bigint, size: bigint, prot: number): number;
  /** iommu_unmap: bytes unmapped; stops at the first unmapped page; 0 when iova|size is misaligned. */
  unmap(iova: bigint, size: bigint): bigint;
  /**
   * `map` in CPU-page frames (`frameShift` 12 = 4 KiB pages): same rules and errnos, plain numbers on
   * the hot path. Frame numbers must stay below 2^53. Optional so test doubles need not provide it; the
   * core's domains (src/iommu/domain.ts) always do.
   */
  mapFrames?(iovaFrame: number, physFrame: number, frames: number, prot: number, frameShift?: number): number;
  /** `unmap` in CPU-page frames: the number of frames unmapped (optional like mapFrames). */
  unmapFrames?(iovaFrame: number, frames: number, frameShift?: number): number;
  /** iommu_iova_to_phys: 0 when unmapped (and for a page mapped at physical 0); identity returns iova. */
  iovaToPhys(iova: bigint): bigint;
  /** A device access at `iova` (write or read): translation or fault. */
  translate(iova: bigint, write: boolean): TranslationResult;
  /** Number of live translations (for reports and benchmarks). */
  readonly mappingCount: number;
  mappings(): Iterable<Mapping>;
  /** dma-iommu cookie attached to the domain (src/dma-iommu). */
  cookie: unknown;
  cookieKind: CookieKind;
}

export interface Device {
  /** `ssss:bb:dd.f` */
  readonly bdf: string;
  readonly vendor: number;
  readonly deviceId: number;
  readonly class: number;
  /** Bound driver name or `none`. Mutable: VFIO binding changes it. */
  driver: string;
  /** IOMMU translating this device, if any. */
  readonly iommuId: string | undefined;
  /** Group number, undefined when the device has no group (no IOMMU, or not probed on DT). */
  readonly groupId: number | undefined;
  /** PCI requester ID (bus << 8 | devfn) as the IOMMU sees it (after aliasing). */
  readonly requesterId: number;
}

export interface IommuGroup {
  readonly id: number;
  readonly devices: readonly Device[];
  /** Current default domain type (sysfs `type`). */
  readonly defaultDomainType: DomainType;
  /** The group's default domain (DMA/DMA-FQ/identity), allocated at boot. */
  readonly defaultDomain: IommuDomain | undefined;
  /** Domain currently attached (default domain unless an owner attached another). */
  readonly domain: IommuDomain | undefined;
  /** DMA owner (VFIO) or undefined. */
  readonly owner: unknown;
  /**
   * group->owner_cnt: kernel drivers using the default domain (iommu_device_use_default_domain) plus
   * an explicit owner. Non-zero means "DMA owner claimed" (VFIO_GROUP_FLAGS_VIABLE is clear).
   */
  readonly ownerCount: number;
}

/** Capabilities asked with device_iommu_capable. */
export type IommuCapability = 'cache-coherency' | 'intr-remap' | 'noexec' | 'deferred-flush';

/**
 * The IOMMU core of one booted platform. Built by `src/platform/build.ts`.
 */
export interface IommuCore {
  readonly profile: KernelProfile;
  /** The machine's architecture (user address space limits, arch defaults). */
  readonly arch: Arch;
  /** x86_64 CPU with 5-level paging (LA57): user addresses up to 2^56. */
  readonly la57: boolean;
  /** The CPU's PAGE_SIZE in bytes (4096; 16384 or 65536 on some arm64 kernels). */
  readonly pageSize: number;
  /** The PCI hierarchy the devices sit in (bridges, buses), for what crosses devices (bus resets). */
  readonly topology: PciTopology;
  /** Groups in group-number order. */
  groups(): readonly IommuGroup[];
  group(id: number): IommuGroup | undefined;
  device(bdf: string): Device | undefined;
  devices(): readonly Device[];
  /** iommu_get_group_resv_regions: the merged, sorted list (optionally merged into `into`). */
  groupResvRegions(group: IommuGroup, into?: readonly ResvRegion[]): ResvRegion[];
  /** sysfs reserved_regions text of a group. */
  reservedRegionsText(group: IommuGroup): string;
  /**
   * iommu_group_claim_dma_owner: 0; -EPERM when the group already has users (a kernel driver bound to
   * a device, or another owner: owner_cnt != 0); -EBUSY when a domain other than the default one is
   * attached; attaching the blocking domain can fail: -EINVAL (6.12, a device with a DIRECT region,
   * require_direct) or -EPERM (6.1 intel-iommu, RMRR-locked device).
   */
  claimDmaOwner(group: IommuGroup, owner: unknown): number;
  /** iommu_group_release_dma_owner: back to the default domain, owner_cnt 0. */
  releaseDmaOwner(group: IommuGroup): void;
  /** iommu_group_dma_owner_claimed: owner_cnt != 0. */
  dmaOwnerClaimed(group: IommuGroup): boolean;
  /**
   * A driver binds to `dev` (really_probe → dma_configure → iommu_device_use_default_domain unless the
   * driver sets driver_managed_dma, as vfio-pci does). 0, or -EBUSY when the group is owned (VFIO) or
   * not on its default domain. Sets `dev.driver` on success.
   */
  bindDriver(dev: Device, driver: string, driverManagedDma?: boolean): number;
  /** The driver unbinds (iommu_device_unuse_default_domain); `dev.driver` becomes `none`. */
  unbindDriver(dev: Device): void;
  /**
   * Write to sysfs `type` (iommu_group_store_type): `identity`, `DMA`, `DMA-FQ` or `auto`. Returns the
   * byte count on success, else -errno: -EINVAL unknown text (and, 6.1, a group with more than one
   * device); -EBUSY (6.1) a driver is bound or the group is off its default domain; -EPERM (6.12) the
   * group has users. DMA -> DMA-FQ is always allowed.
   */
  storeGroupType(group: IommuGroup, text: string): number;
  /** The device's group (iommu_group_get). */
  groupOf(dev: Device): IommuGroup | undefined;
  /** The driver's own list for one device (ops->get_resv_regions), unmerged, in driver order. */
  deviceResvRegions(dev: Device): ResvRegion[];
  /** device_iommu_capable; false for a device without IOMMU. */
  capable(dev: Device, cap: IommuCapability): boolean;
  /** ops->hw_info of the device's IOMMU (IOMMU_GET_HW_INFO); undefined: the driver has none. */
  hwInfo(dev: Device): { readonly type: number; readonly data: Uint8Array } | undefined;
  /** The device's IOMMU driver has ops->domain_alloc_user (HWPT flags and user data need it). */
  domainAllocUser(dev: Device): boolean;
  /** iommu_paging_domain_alloc for the group's first device (UNMANAGED); -ENODEV without an IOMMU. */
  allocPagingDomain(dev: Device): Result<IommuDomain>;
  /**
   * iommu_attach_group: 0; -EBUSY when the group is on a domain other than its default or blocking one;
   * -EINVAL for a domain of another driver; 6.1 intel: -EPERM for an RMRR-locked device.
   * iommu_detach_group: back to the blocking domain when owned, else the default domain.
   */
  attachGroup(domain: IommuDomain, group: IommuGroup): number;
  detachGroup(domain: IommuDomain, group: IommuGroup): void;
  freeDomain(domain: IommuDomain): void;
  /** iommu_group_has_isolated_msi (6.3+) / the older capability tests, per profile. */
  groupHasIsolatedMsi(group: IommuGroup): boolean;
  /** A DMA write/read by `dev` at `iova`: through the group's current domain, or bypass (MSI windows, identity). */
  dmaAccess(dev: Device, iova: bigint, write: boolean): TranslationResult;
  /** The IOMMU's translatable range for a device (aperture of a fresh paging domain). */
  aperture(dev: Device): Range | undefined;
}
