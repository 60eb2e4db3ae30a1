/**
 * The IOMMU core of one booted platform (drivers/iommu/iommu.c): device probe and grouping, default
 * domains, reserved regions, DMA ownership, domain attach/detach and DMA accesses.
 */
import {
  type Device,
  type DomainType,
  type IommuCapability,
  type IommuCore,
  type IommuDomain,
  type IommuGroup,
  type Result,
  type TranslationResult,
  fail,
  ok,
} from './api.js';
import { CoreDevice, isDriverManagedDma } from './device.js';
import { CoreDomain, isDmaType } from './domain.js';
import { CoreGroup, Ida } from './group.js';
import { deviceHasIsolatedMsi, systemMsiRemap } from './isolation.js';
import { ResvType, type ResvRegion, formatReservedRegions, mergeResvRegions } from './resv-region.js';
import type { IommuDriverOps } from './drivers/ops.js';
import type { KernelProfile } from '../kernel/profile.js';
import type { PlatformDescription } from '../platform/types.js';
import type { Range } from '../base/range.js';
import { ERRNO } from '../base/errno.js';
import { hex } from '../base/u64.js';
import { normalizeBdf } from '../pci/bdf.js';
import type { PciDev, PciTopology } from '../pci/topology.js';

export class IommuCoreImpl implements IommuCore {
  readonly profile: KernelProfile;
  readonly platform: PlatformDescription;

  readonly topology: PciTopology;
  readonly drivers: readonly IommuDriverOps[];
  private readonly devs: CoreDevice[] = [];
  private readonly byPci = new Map<PciDev, CoreDevice>();
  private readonly byBdf = new Map<string, CoreDevice>();
  private readonly groupMap = new Map<number, CoreGroup>();
  private readonly ida = new Ida();
  private nextDomainId = 1;
  private readonly resvCache = new Map<CoreDevice, ResvRegion[]>();
  private msiIsolation: ((dev: Device) => boolean) | undefined = undefined;

  get arch(): PlatformDescription['arch'] {
    return this.platform.arch;
  }

  get la57(): boolean {
    return this.platform.la57 ?? false;
  }

  get pageSize(): number {
    return this.platform.pageSize;
  }

  constructor(
    platform: PlatformDescription,
    profile: KernelProfile,
    topology: PciTopology,
    drivers: readonly IommuDriverOps[],
  ) {
    this.platform = platform;
    this.profile = profile;
    this.topology = topology;
    this.drivers = drivers;
    for (const p of topology.addOrder()) {
      const d = new CoreDevice(p, topology.visibleRequesterId(p));
      this.devs.push(d);
      this.byPci.set(p, d);
      this.byBdf.set(d.bdf, d);
    }
  }

  /**
   * Boot: IOMMUs that probe at registration (DMAR, IVRS) take every PCI function in scope, in bus
   * order; then drivers probe devices in the same order and firmware-described IOMMUs (DT, IORT, VIOT)
   * attach the devices a driver probed. (Bound drivers count as default-domain users: CoreGroup.ownerCount.)
   */
  boot(): void {
    for (const ops of this.drivers) {
      if (ops.probeMode !== 'at-registration') continue;
      for (const d of this.devs) if (d.ops === undefined && ops.translates(d.pci)) this.probeDevice(d, ops);
    }
    for (const d of this.devs) {
      if (d.driver !== 'none' || d.pci.desc.bootProbe !== undefined) this.probeAtDriverBind(d);
    }
  }

  // ---- probing and grouping ------------------------------------------------------------------

  private probeAtDriverBind(d: CoreDevice): void {
    if (d.ops !== undefined) return;
    const ops = this.drivers.find((o) => o.probeMode === 'at-driver-probe' && o.translates(d.pci));
    if (ops !== undefined) this.probeDevice(d, ops);
  }

  /** Default domain type: iommu.passthrough, iommu.strict (arch default) and the driver's strict mode. */
  private defaultTypeFor(ops: IommuDriverOps): DomainType {
    if (this.platform.defaultDomain === 'passthrough') return 'identity';
    const strict = ops.forcesStrict || (this.platform.dmaStrict ?? this.platform.arch === 'aarch64');
    return !strict && ops.capable('deferred-flush') ? 'dma-fq' : 'dma';
  }

  /** __iommu_probe_device → iommu_group_get_for_dev (pci_device_group) → default domain. */
  private probeDevice(d: CoreDevice, ops: IommuDriverOps): void {
    const gid = ops.deviceGroup(d.pci, (p) => this.byPci.get(p)?.group?.id);
    let group = gid === undefined ? undefined : this.groupMap.get(gid);
    if (group === undefined) {
      group = new CoreGroup(this.ida.alloc(), this.defaultTypeFor(ops));
      this.groupMap.set(group.id, group);
    }
    d.ops = ops;
    d.group = group;
    group.devices.push(d);
    if (group.defaultDomain === undefined) {
      const dom = this.newDomain(group.defaultDomainType, ops);
      if (isDmaType(dom.type)) dom.cookieKind = 'dma';
      group.defaultDomain = dom;
      group.domain = dom;
    }
    this.createDirectMappings(group.defaultDomain, d);
  }

  private newDomain(type: DomainType, ops: IommuDriverOps): CoreDomain {
    return new CoreDomain(this.nextDomainId++, type, ops);
  }

  /**
   * iommu_create_device_direct_mappings: a DIRECT region marks the device require_direct; in a DMA
   * domain DIRECT and DIRECT_RELAXABLE regions are identity-mapped from ALIGN(start) to
   * ALIGN(start + length) (exclusive), pages already mapped skipped, runs mapped in one call.
   * (The kernel tests "already mapped" with iova_to_phys != 0; the model asks the page table.)
   */
  private createDirectMappings(domain: CoreDomain, d: CoreDevice): void {
    const pg = domain.minPageSize;
    for (const r of this.driverRegions(d)) {
      if (r.type === ResvType.Direct) d.requireDirect = true;
      if (!isDmaType(domain.type) || pg === 0n) continue;
      if (r.type !== ResvType.Direct && r.type !== ResvType.DirectRelaxable) continue;
      const start = (r.start + pg - 1n) & ~(pg - 1n);
      const end = (r.start + r.length + pg - 1n) & ~(pg - 1n);
      if (end > start) domain.identityMapGaps(start, end, r.prot);
    }
  }

  private driverRegions(d: CoreDevice): ResvRegion[] {
    if (d.ops === undefined) return [];
    let list = this.resvCache.get(d);
    if (list === undefined) {
      list = d.ops.getResvRegions(d.pci);
      this.resvCache.set(d, list);
    }
    return list;
  }

  private core(dev: Device): CoreDevice | undefined {
    return dev instanceof CoreDevice ? dev : this.byBdf.get(dev.bdf);
  }

  private coreGroup(g: IommuGroup): CoreGroup | undefined {
    return g instanceof CoreGroup ? g : this.groupMap.get(g.id);
  }

  // ---- queries --------------------------------------------------------------------------------

  groups(): readonly IommuGroup[] {
    return [...this.groupMap.values()].sort((a, b) => a.id - b.id);
  }

  group(id: number): IommuGroup | undefined {
    return this.groupMap.get(id);
  }

  device(bdf: string): Device | undefined {
    const n = normalizeBdf(bdf);
    return n === undefined ? undefined : this.byBdf.get(n);
  }

  devices(): readonly Device[] {
    return this.devs;
  }

  groupOf(dev: Device): IommuGroup | undefined {
    return this.core(dev)?.group;
  }

  deviceResvRegions(dev: Device): ResvRegion[] {
    const d = this.core(dev);
    return d === undefined ? [] : this.driverRegions(d).slice();
  }

  capable(dev: Device, cap: IommuCapability): boolean {
    return this.core(dev)?.ops?.capable(cap) ?? false;
  }

  hwInfo(dev: Device): { readonly type: number; readonly data: Uint8Array } | undefined {
    return this.core(dev)?.ops?.hwInfo?.();
  }

  domainAllocUser(dev: Device): boolean {
    return this.core(dev)?.ops?.domainAllocUser ?? false;
  }

  /** iommu_get_group_resv_regions: devices in group order, each driver list inserted in order. */
  groupResvRegions(group: IommuGroup, into: readonly ResvRegion[] = []): ResvRegion[] {
    const g = this.coreGroup(group);
    let list = into.slice();
    if (g === undefined) return list;
    for (const d of g.devices) {
      if (d.ops === undefined) {
        if (this.profile.resvStopsAtDeviceWithoutIommu) break;
        continue;
      }
      list = mergeResvRegions(this.driverRegions(d), list);
    }
    return list;
  }

  /** iommu_group_show_resv_regions; 6.12 bounds the text to one page (sysfs_emit_at, PAGE_SIZE - 1). */
  reservedRegionsText(group: IommuGroup): string {
    const text = formatReservedRegions(this.groupResvRegions(group));
    const limit = this.platform.pageSize - 1;
    return this.profile.resvSysfsPageLimit && text.length > limit ? text.slice(0, limit) : text;
  }

  aperture(dev: Device): Range | undefined {
    const ops = this.core(dev)?.ops;
    if (ops === undefined) return undefined;
    const g = ops.geometry();
    return { start: g.apertureStart, end: g.apertureEnd };
  }

  // ---- ownership and drivers ---------------------------------------------------------------------

  dmaOwnerClaimed(group: IommuGroup): boolean {
    return (this.coreGroup(group)?.ownerCount ?? 0) !== 0;
  }

  claimDmaOwner(group: IommuGroup, owner: unknown): number {
    const g = this.coreGroup(group);
    if (g === undefined || owner === undefined || owner === null) return -ERRNO.EINVAL;
    if (g.ownerCount !== 0) return -ERRNO.EPERM;
    if (g.domain !== undefined && g.domain !== g.defaultDomain) return -ERRNO.EBUSY;
    // __iommu_group_alloc_blocking_domain; 6.1 drivers without BLOCKED domains got an empty UNMANAGED one.
    if (g.blockingDomain === undefined) {
      const ops = g.devices[0]?.ops;
      if (ops === undefined) return -ERRNO.ENODEV;
      g.blockingDomain = this.newDomain(this.profile.requireDirectInCore ? 'blocked' : 'unmanaged', ops);
    }
    const rc = this.setDomain(g, g.blockingDomain, true);
    if (rc !== 0) return rc;
    g.owner = owner;
    return 0;
  }

  releaseDmaOwner(group: IommuGroup): void {
    const g = this.coreGroup(group);
    if (g === undefined || g.owner === undefined) return;
    g.owner = undefined;
    if (g.defaultDomain !== undefined) g.domain = g.defaultDomain;
  }

  bindDriver(dev: Device, driver: string, driverManagedDma = isDriverManagedDma(driver)): number {
    const d = this.core(dev);
    if (d === undefined) return -ERRNO.ENODEV;
    this.probeAtDriverBind(d);
    const g = d.group;
    // iommu_device_use_default_domain (the group's owner_cnt follows from the bound drivers)
    if (
      g !== undefined &&
      !driverManagedDma &&
      g.ownerCount !== 0 &&
      (g.owner !== undefined || g.domain !== g.defaultDomain)
    ) {
      return -ERRNO.EBUSY;
    }
    d.driver = driver;
    d.managedDmaOverride = driverManagedDma;
    return 0;
  }

  unbindDriver(dev: Device): void {
    const d = this.core(dev);
    if (d === undefined) return;
    d.driver = 'none';
    d.managedDmaOverride = undefined;
  }

  storeGroupType(group: IommuGroup, text: string): number {
    const g = this.coreGroup(group);
    const count = text.length;
    if (g === undefined || g.defaultDomain === undefined) return -ERRNO.EINVAL;
    const t = text.endsWith('\n') ? text.slice(0, -1) : text; // sysfs_streq ignores one trailing newline
    const wanted: DomainType | 'auto' | undefined =
      t === 'identity'
        ? 'identity'
        : t === 'DMA'
          ? 'dma'
          : t === 'DMA-FQ'
            ? 'dma-fq'
            : t === 'auto'
              ? 'auto'
              : undefined;
    if (wanted === undefined) return -ERRNO.EINVAL;
    const ops = g.devices[0]?.ops;
    if (ops === undefined) return -ERRNO.EINVAL;
    const cur = g.defaultDomain;
    const upgradeToFq = wanted === 'dma-fq' && cur.type === 'dma';
    if (this.profile.groupTypeStoreSingleDevice) {
      // 6.1 iommu_group_store_type → iommu_change_dev_def_domain
      if (g.devices.length !== 1) return -ERRNO.EINVAL;
      if (g.devices[0]!.driver !== 'none' && !upgradeToFq) return -ERRNO.EBUSY;
      if (g.domain !== cur) return -ERRNO.EBUSY;
    } else if (!upgradeToFq && g.ownerCount !== 0) {
      return -ERRNO.EPERM;
    }
    const type = wanted === 'auto' ? this.defaultTypeFor(ops) : wanted;
    if (type === cur.type) return count;
    if (upgradeToFq) {
      // iommu_dma_init_fq: the live DMA domain gains a flush queue and becomes DMA-FQ.
      cur.type = 'dma-fq';
      g.defaultDomainType = 'dma-fq';
      return count;
    }
    const dom = this.newDomain(type, ops);
    if (isDmaType(type)) dom.cookieKind = 'dma';
    const wasOnDefault = g.domain === cur;
    g.defaultDomain = dom;
    g.defaultDomainType = type;
    for (const d of g.devices) this.createDirectMappings(dom, d);
    if (wasOnDefault) g.domain = dom;
    return count;
  }

  // ---- domains --------------------------------------------------------------------------------

  allocPagingDomain(dev: Device): Result<IommuDomain> {
    const ops = this.core(dev)?.ops;
    if (ops === undefined) return fail(-ERRNO.ENODEV);
    return ok(this.newDomain('unmanaged', ops));
  }

  /**
   * __iommu_group_set_domain: every device must accept the domain, else nothing changes.
   * `blocking`: the domain is the group's blocking domain (require_direct applies).
   */
  private setDomain(g: CoreGroup, dom: CoreDomain, blocking: boolean): number {
    for (const d of g.devices) {
      if (this.profile.requireDirectInCore && d.requireDirect && (blocking || dom.type === 'blocked'))
        return -ERRNO.EINVAL;
      const rc = d.ops?.attachCheck(d.pci, isDmaType(dom.type)) ?? 0;
      if (rc !== 0) return rc;
    }
    g.domain = dom;
    return 0;
  }

  attachGroup(domain: IommuDomain, group: IommuGroup): number {
    const g = this.coreGroup(group);
    if (g === undefined || !(domain instanceof CoreDomain)) return -ERRNO.EINVAL;
    if (g.domain !== undefined && g.domain !== g.defaultDomain && g.domain !== g.blockingDomain)
      return -ERRNO.EBUSY;
    // A domain of another driver, or of another instance of a driver whose domains are per instance
    // (6.12 answers -EINVAL; 6.1 arm-smmu-v3 said -ENXIO and virtio-iommu -EXDEV, which VFIO ignores).
    for (const d of g.devices) {
      if (d.ops === undefined) continue;
      if (d.ops.name !== domain.driverName) return -ERRNO.EINVAL;
      if (d.ops.iommuId !== domain.ops.iommuId && !domain.ops.sharesDomainsAcrossInstances)
        return -ERRNO.EINVAL;
    }
    return this.setDomain(g, domain, domain === g.blockingDomain);
  }

  detachGroup(domain: IommuDomain, group: IommuGroup): void {
    const g = this.coreGroup(group);
    if (g === undefined || g.domain !== domain) return;
    // __iommu_group_set_core_domain
    g.domain = g.owner !== undefined ? g.blockingDomain : g.defaultDomain;
  }

  freeDomain(domain: IommuDomain): void {
    if (domain instanceof CoreDomain) domain.unmapAll();
  }

  // ---- isolation and DMA --------------------------------------------------------------------------

  /**
   * Installs msi_device_has_isolated_msi from the irq layer (the src/irq fabric); without it the core
   * reads the interrupt controller descriptions itself (isolation.ts), with the same answers.
   */
  setMsiIsolation(fn: (dev: Device) => boolean): void {
    this.msiIsolation = fn;
  }

  groupHasIsolatedMsi(group: IommuGroup): boolean {
    const g = this.coreGroup(group);
    if (g === undefined) return false;
    if (this.profile.isolatedMsiPerDevice) {
      const fn = this.msiIsolation;
      return g.devices.every((d) => (fn !== undefined ? fn(d) : deviceHasIsolatedMsi(this.platform, d)));
    }
    return systemMsiRemap(this.platform) || g.devices.some((d) => d.ops?.capable('intr-remap') === true);
  }

  dmaAccess(dev: Device, iova: bigint, write: boolean): TranslationResult {
    const d = this.core(dev);
    if (d === undefined || d.ops === undefined) {
      return { kind: 'bypass', paddr: iova, why: 'no IOMMU translates this device' };
    }
    for (const r of this.driverRegions(d)) {
      if (r.type === ResvType.Msi && r.start <= iova && iova <= r.start + r.length - 1n) {
        if (!write && d.ops.msiWindowReadsFault) {
          return { kind: 'fault', iova, why: `read of the interrupt address range (${r.origin ?? 'msi'})` };
        }
        return {
          kind: 'bypass',
          paddr: iova,
          why: `hardware MSI window (${r.origin ?? 'msi'}): not translated`,
        };
      }
    }
    const dom = d.group?.domain;
    if (dom === undefined)
      return { kind: 'fault', iova, why: `device ${d.bdf} has no domain attached (IOVA ${hex(iova)})` };
    return dom.translate(iova, write);
  }
}
