/**
 * A small IommuCore for VFIO unit tests: groups with fixed reserved regions, apertures, page sizes and
 * MSI isolation. Domains record translations in a sorted array (enough for tests; the real core lives in
 * src/iommu).
 */
import { ERRNO } from '../../src/base/errno.js';
import type { Range } from '../../src/base/range.js';
import {
  fail,
  ok,
  type Device,
  type IommuCore,
  type IommuDomain,
  type IommuGroup,
  type Mapping,
  type Result,
  type TranslationResult,
} from '../../src/iommu/api.js';
import {
  type ResvRegion,
  ResvType,
  formatReservedRegions,
  insertResvRegion,
  resvRegion,
} from '../../src/iommu/resv-region.js';
import { type KernelProfile, kernelProfile } from '../../src/kernel/profile.js';

export interface FakeGroupSpec {
  id: number;
  devices: { bdf: string; driver: string; vendor?: number; deviceId?: number }[];
  regions: ResvRegion[];
  isolatedMsi?: boolean;
  driverName?: string;
  aperture?: Range;
  pgsizeBitmap?: bigint;
  coherent?: boolean;
}

class FakeDomain implements IommuDomain {
  readonly type = 'unmanaged' as const;
  cookie: unknown = undefined;
  cookieKind: 'none' | 'dma' | 'msi' = 'none';
  readonly maps = new Map<bigint, Mapping>();
  constructor(
    readonly id: number,
    readonly driverName: string,
    readonly geometry: { apertureStart: bigint; apertureEnd: bigint; forceAperture: boolean },
    readonly pgsizeBitmap: bigint,
    readonly enforceCacheCoherency: boolean,
  ) {}
  map(iova: bigint, paddr: bigint, size: bigint, prot: number): number {
    if (iova < this.geometry.apertureStart || iova + size - 1n > this.geometry.apertureEnd)
      return -ERRNO.EINVAL;
    for (const m of this.maps.values())
      if (iova <= m.iova + m.size - 1n && m.iova <= iova + size - 1n) return -ERRNO.EEXIST;
    this.maps.set(iova, { iova, paddr, size, prot });
    return 0;
  }
  unmap(iova: bigint, size: bigint): bigint {
    let n = 0n;
    for (const [k, m] of this.maps) {
      if (m.iova >= iova && m.iova + m.size - 1n <= iova + size - 1n) {
        this.maps.delete(k);
        n += m.size;
      }
    }
    return n;
  }
  iovaToPhys(iova: bigint): bigint {
    for (const m of this.maps.values())
      if (iova >= m.iova && iova < m.iova + m.size) return m.paddr + (iova - m.iova);
    return 0n;
  }
  translate(iova: bigint): TranslationResult {
    for (const m of this.maps.values()) {
      if (iova >= m.iova && iova < m.iova + m.size)
        return { kind: 'translated', paddr: m.paddr + (iova - m.iova), prot: m.prot };
    }
    return { kind: 'fault', iova, why: 'unmapped' };
  }
  get mappingCount(): number {
    return this.maps.size;
  }
  mappings(): Iterable<Mapping> {
    return this.maps.values();
  }
}

export class FakeCore implements IommuCore {
  readonly profile: KernelProfile;
  private readonly gs: (IommuGroup & {
    owner: unknown;
    domain: IommuDomain | undefined;
    ownerCount: number;
  })[];
  private nextDomain = 1;
  readonly live = new Set<IommuDomain>();
  constructor(
    readonly specs: FakeGroupSpec[],
    profile: KernelProfile = kernelProfile('6.12'),
  ) {
    this.profile = profile;
    this.gs = specs.map((s) => ({
      id: s.id,
      devices: s.devices.map((d): Device => ({
        bdf: d.bdf,
        vendor: d.vendor ?? 0x8086,
        deviceId: d.deviceId ?? 0x10d3,
        class: 0x020000,
        driver: d.driver,
        iommuId: 'iommu0',
        groupId: s.id,
        requesterId: 0,
      })),
      defaultDomainType: 'dma' as const,
      defaultDomain: undefined,
      domain: undefined,
      owner: undefined,
      ownerCount: 0,
    }));
    for (const g of this.gs)
      g.ownerCount = g.devices.filter((d) => !['none', 'vfio-pci'].includes(d.driver)).length;
  }
  private spec(g: IommuGroup): FakeGroupSpec {
    return this.specs.find((s) => s.id === g.id)!;
  }
  groups(): readonly IommuGroup[] {
    return this.gs;
  }
  group(id: number): IommuGroup | undefined {
    return this.gs.find((g) => g.id === id);
  }
  device(bdf: string): Device | undefined {
    return this.devices().find((d) => d.bdf === bdf);
  }
  devices(): readonly Device[] {
    return this.gs.flatMap((g) => g.devices);
  }
  groupResvRegions(group: IommuGroup, into: readonly ResvRegion[] = []): ResvRegion[] {
    let l = [...into];
    for (const r of this.spec(group).regions) l = insertResvRegion(l, r);
    return l;
  }
  reservedRegionsText(group: IommuGroup): string {
    return formatReservedRegions(this.groupResvRegions(group));
  }
  claimDmaOwner(group: IommuGroup, owner: unknown): number {
    const g = this.gs.find((x) => x === group)!;
    if (g.ownerCount !== 0) return -ERRNO.EPERM;
    g.owner = owner;
    g.ownerCount = 1;
    return 0;
  }
  releaseDmaOwner(group: IommuGroup): void {
    const g = this.gs.find((x) => x === group)!;
    g.owner = undefined;
    g.ownerCount = 0;
  }
  dmaOwnerClaimed(group: IommuGroup): boolean {
    return group.ownerCount !== 0;
  }
  bindDriver(dev: Device, driver: string, driverManagedDma = false): number {
    const g = this.gs.find((x) => x.id === dev.groupId);
    if (g && !driverManagedDma) {
      if (g.owner !== undefined) return -ERRNO.EBUSY;
      g.ownerCount++;
    }
    dev.driver = driver;
    return 0;
  }
  unbindDriver(dev: Device): void {
    const g = this.gs.find((x) => x.id === dev.groupId);
    if (g && !['none', 'vfio-pci'].includes(dev.driver)) g.ownerCount--;
    dev.driver = 'none';
  }
  groupOf(dev: Device): IommuGroup | undefined {
    return this.gs.find((x) => x.id === dev.groupId);
  }
  deviceResvRegions(dev: Device): ResvRegion[] {
    return this.specs.find((x) => x.id === dev.groupId)?.regions ?? [];
  }
  capable(): boolean {
    return true;
  }
  allocPagingDomain(dev: Device): Result<IommuDomain> {
    const s = this.specs.find((x) => x.id === dev.groupId);
    if (!s) return fail(ERRNO.ENODEV);
    const ap = s.aperture ?? { start: 0n, end: (1n << 48n) - 1n };
    const d = new FakeDomain(
      this.nextDomain++,
      s.driverName ?? 'fake-iommu',
      { apertureStart: ap.start, apertureEnd: ap.end, forceAperture: true },
      s.pgsizeBitmap ?? 0x40201000n,
      s.coherent ?? false,
    );
    this.live.add(d);
    return ok(d);
  }
  attachGroup(domain: IommuDomain, group: IommuGroup): number {
    const g = this.gs.find((x) => x === group)!;
    g.domain = domain;
    return 0;
  }
  detachGroup(_domain: IommuDomain, group: IommuGroup): void {
    const g = this.gs.find((x) => x === group)!;
    g.domain = undefined;
  }
  freeDomain(domain: IommuDomain): void {
    this.live.delete(domain);
  }
  groupHasIsolatedMsi(group: IommuGroup): boolean {
    return this.spec(group).isolatedMsi ?? true;
  }
  dmaAccess(dev: Device, iova: bigint): TranslationResult {
    const g = this.gs.find((x) => x.id === dev.groupId);
    if (!g?.domain) return { kind: 'bypass', paddr: iova, why: 'no domain' };
    return g.domain.translate(iova, true);
  }
  aperture(dev: Device): Range | undefined {
    const s = this.specs.find((x) => x.id === dev.groupId);
    return s?.aperture ?? { start: 0n, end: (1n << 48n) - 1n };
  }
}

/** An x86-intel-like machine: NIC in group 2, ISA bridge group 3 with a direct-relaxable region. */
export function intelLike(profile?: KernelProfile): FakeCore {
  const msi = resvRegion(0xfee00000n, 0x100000n, 0, ResvType.Msi);
  const ap = { start: 0n, end: 0x7fffffffffn };
  return new FakeCore(
    [
      {
        id: 2,
        devices: [{ bdf: '0000:00:02.0', driver: 'vfio-pci' }],
        regions: [msi],
        aperture: ap,
        driverName: 'intel-iommu',
      },
      {
        id: 3,
        devices: [
          { bdf: '0000:00:1f.0', driver: 'none', deviceId: 0x2918 },
          { bdf: '0000:00:1f.2', driver: 'vfio-pci', deviceId: 0x2922 },
        ],
        regions: [resvRegion(0n, 0x1000000n, 0, ResvType.DirectRelaxable), msi],
        aperture: ap,
        driverName: 'intel-iommu',
      },
    ],
    profile,
  );
}

/** An arm64 SMMUv3-like machine with a SW_MSI window; `its` decides MSI isolation. */
export function smmuLike(its: boolean, profile?: KernelProfile): FakeCore {
  return new FakeCore(
    [
      {
        id: 0,
        devices: [{ bdf: '0000:00:01.0', driver: 'vfio-pci' }],
        regions: [resvRegion(0x8000000n, 0x100000n, 0, ResvType.SwMsi)],
        aperture: { start: 0n, end: 0xffffffffffffn },
        isolatedMsi: its,
        driverName: 'arm-smmu-v3',
      },
    ],
    profile,
  );
}
