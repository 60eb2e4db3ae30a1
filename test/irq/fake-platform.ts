/**
 * Test support: small platform descriptions of the oracle's QEMU machines and a minimal IommuCore
 * (page-granular domains, HW MSI windows bypassed) so the MSI path can be tested before the real core
 * lands. Not a test file itself.
 */
import type {
  Device,
  DomainType,
  IommuCore,
  IommuDomain,
  IommuGroup,
  Mapping,
  Result,
  TranslationResult,
} from '../../src/iommu/api.js';
import type { KernelProfile } from '../../src/kernel/profile.js';
import { kernelProfile } from '../../src/kernel/profile.js';
import type { PlatformDescription, PciDeviceDescription } from '../../src/platform/types.js';
import {
  type ResvRegion,
  ResvType,
  resvRegion,
  IOMMU_WRITE,
  IOMMU_NOEXEC,
  IOMMU_MMIO,
} from '../../src/iommu/resv-region.js';
import { ERRNO } from '../../src/base/errno.js';
import { attachMsiFabric, type MsiFabric } from '../../src/irq/fabric.js';
import { iommuGetMsiCookie } from '../../src/dma-iommu/cookie.js';

const E1000E = (bdf: string): PciDeviceDescription => ({
  bdf,
  vendor: 0x8086,
  device: 0x10d3,
  class: 0x020000,
  driver: 'vfio-pci',
  pcie: true,
  msi: { vectors: 1, addr64: true, perVectorMask: false },
  msix: { tableSize: 5, tableBar: 3, tableOffset: 0 },
  interruptPin: 1,
});

const SECOND_NIC = (bdf: string): PciDeviceDescription => ({ ...E1000E(bdf), driver: 'e1000e' });

const NO_TABLES = { rmrr: [], ivmd: [], iortRmr: [] };

export type Machine =
  | 'arm64-smmuv3-gicv3'
  | 'arm64-smmuv3-gicv2'
  | 'arm64-virtio-iommu'
  | 'x86-intel'
  | 'x86-amd'
  | 'x86-virtio-iommu'
  | 'arm64-smmuv3-hostbridge-msi';

/** The e1000e's BDF per machine, as in the oracle runs. */
export const NIC: Record<Machine, string> = {
  'arm64-smmuv3-gicv3': '0000:00:01.0',
  'arm64-smmuv3-gicv2': '0000:00:01.0',
  'arm64-virtio-iommu': '0000:00:02.0',
  'x86-intel': '0000:00:02.0',
  'x86-amd': '0000:00:03.0',
  'x86-virtio-iommu': '0000:00:03.0',
  'arm64-smmuv3-hostbridge-msi': '0000:00:01.0',
};

export function machine(m: Machine): PlatformDescription {
  const arm = m.startsWith('arm64');
  const nic = NIC[m];
  const other = arm ? '0000:00:04.0' : '0000:00:05.0';
  const ic =
    m === 'arm64-smmuv3-gicv2'
      ? [{ id: 'v2m0', kind: 'gicv2m' as const, base: 0x08020000n, spiBase: 80, spiCount: 64 }]
      : m === 'arm64-smmuv3-hostbridge-msi'
        ? [{ id: 'pcie-msi', kind: 'host-bridge-msi' as const, base: 0x0fff_f000n, spiCount: 32 }]
        : arm
          ? [{ id: 'its0', kind: 'gicv3-its' as const, base: 0x08080000n }]
          : [{ id: 'apic', kind: 'x86-apic' as const, base: 0xfee00000n }];
  const driver =
    m === 'x86-intel'
      ? 'intel-iommu'
      : m === 'x86-amd'
        ? 'amd-iommu'
        : m.includes('virtio')
          ? 'virtio-iommu'
          : 'arm-smmu-v3';
  return {
    name: m,
    description: `test machine ${m}`,
    arch: arm ? 'aarch64' : 'x86_64',
    pageSize: 4096,
    sources: ['oracle'],
    firmware: arm ? 'devicetree' : 'acpi',
    iommus: [
      {
        id: 'iommu0',
        driver,
        hostBridges: ['pcie0'],
        addressBits: 48,
        interruptRemapping: m === 'x86-intel' || m === 'x86-amd',
      },
    ],
    interruptControllers: ic,
    hostBridges: [
      {
        id: 'pcie0',
        segment: 0,
        buses: [0, 255],
        windows: [],
        dmaRanges: [],
        msiParent: ic[0]!.id,
        acs: true,
      },
    ],
    devices: [E1000E(nic), SECOND_NIC(other)],
    firmwareTables: NO_TABLES,
  };
}

/** Reserved regions of a group per machine (what the real drivers report). */
function resvFor(m: Machine): ResvRegion[] {
  const sw = IOMMU_WRITE | IOMMU_NOEXEC | IOMMU_MMIO;
  if (m.startsWith('x86')) return [resvRegion(0xfee00000n, 0x100000n, 0, ResvType.Msi)];
  if (m === 'arm64-virtio-iommu') return [resvRegion(0x08090000n, 0x10000n, sw, ResvType.Msi)];
  return [resvRegion(0x08000000n, 0x100000n, sw, ResvType.SwMsi)];
}

let nextDomainId = 1;

export class FakeDomain implements IommuDomain {
  readonly id = nextDomainId++;
  readonly driverName = 'fake';
  readonly geometry = { apertureStart: 0n, apertureEnd: (1n << 48n) - 1n, forceAperture: true };
  readonly pgsizeBitmap = 0x40201000n;
  readonly enforceCacheCoherency = true;
  cookie: unknown = undefined;
  cookieKind: 'none' | 'dma' | 'msi' = 'none';
  readonly pages = new Map<bigint, { paddr: bigint; prot: number }>();
  /** Make the next map fail with this errno (to test rollback). */
  failNextMap = 0;
  constructor(readonly type: DomainType) {}
  map(iova: bigint, paddr: bigint, size: bigint, prot: number): number {
    if (this.failNextMap !== 0) {
      const e = this.failNextMap;
      this.failNextMap = 0;
      return e;
    }
    if ((iova | paddr | size) & 0xfffn || size === 0n) return -ERRNO.EINVAL;
    for (let o = 0n; o < size; o += 0x1000n) if (this.pages.has(iova + o)) return -ERRNO.EEXIST;
    for (let o = 0n; o < size; o += 0x1000n) this.pages.set(iova + o, { paddr: paddr + o, prot });
    return 0;
  }
  unmap(iova: bigint, size: bigint): bigint {
    let n = 0n;
    for (let o = 0n; o < size; o += 0x1000n) if (this.pages.delete(iova + o)) n += 0x1000n;
    return n;
  }
  iovaToPhys(iova: bigint): bigint {
    const p = this.pages.get(iova & ~0xfffn);
    return p === undefined ? 0n : p.paddr + (iova & 0xfffn);
  }
  translate(iova: bigint, write: boolean): TranslationResult {
    if (this.type === 'identity') return { kind: 'bypass', paddr: iova, why: 'identity domain' };
    const p = this.pages.get(iova & ~0xfffn);
    if (p === undefined) return { kind: 'fault', iova, why: 'no translation' };
    if (write && (p.prot & IOMMU_WRITE) === 0)
      return { kind: 'fault', iova, why: 'write to a read-only page' };
    return { kind: 'translated', paddr: p.paddr + (iova & 0xfffn), prot: p.prot };
  }
  get mappingCount(): number {
    return this.pages.size;
  }
  *mappings(): Iterable<Mapping> {
    for (const [iova, p] of this.pages) yield { iova, paddr: p.paddr, size: 0x1000n, prot: p.prot };
  }
}

interface FakeGroup extends IommuGroup {
  domain: IommuDomain | undefined;
  owner: unknown;
}

export class FakeCore implements IommuCore {
  private readonly devs: Device[];
  private readonly grps: FakeGroup[];
  constructor(
    readonly desc: PlatformDescription,
    readonly machineName: Machine,
    readonly profile: KernelProfile,
  ) {
    this.devs = desc.devices.map((d, i) => {
      const [, bus, dev, fn] = /^[0-9a-f]{4}:([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/.exec(d.bdf)!;
      return {
        bdf: d.bdf,
        vendor: d.vendor,
        deviceId: d.device,
        class: d.class,
        driver: d.driver,
        iommuId: 'iommu0',
        groupId: i,
        requesterId: (parseInt(bus!, 16) << 8) | (parseInt(dev!, 16) << 3) | parseInt(fn!, 16),
      };
    });
    this.grps = this.devs.map((d, i) => ({
      id: i,
      devices: [d],
      defaultDomainType: 'dma',
      domain: new FakeDomain('dma'),
      owner: undefined,
    }));
  }
  groups(): readonly IommuGroup[] {
    return this.grps;
  }
  group(id: number): IommuGroup | undefined {
    return this.grps[id];
  }
  device(bdf: string): Device | undefined {
    return this.devs.find((d) => d.bdf === bdf);
  }
  devices(): readonly Device[] {
    return this.devs;
  }
  groupResvRegions(): ResvRegion[] {
    return resvFor(this.machineName);
  }
  reservedRegionsText(): string {
    return '';
  }
  claimDmaOwner(group: IommuGroup, owner: unknown): number {
    const g = group as FakeGroup;
    if (g.owner !== undefined && g.owner !== owner) return -ERRNO.EBUSY;
    g.owner = owner;
    return 0;
  }
  releaseDmaOwner(group: IommuGroup): void {
    (group as FakeGroup).owner = undefined;
  }
  allocPagingDomain(): Result<IommuDomain> {
    return { ok: true, value: new FakeDomain('unmanaged') };
  }
  attachGroup(domain: IommuDomain, group: IommuGroup): number {
    (group as FakeGroup).domain = domain;
    return 0;
  }
  detachGroup(_domain: IommuDomain, group: IommuGroup): void {
    (group as FakeGroup).domain = new FakeDomain('dma');
  }
  freeDomain(): void {}
  groupHasIsolatedMsi(): boolean {
    return true;
  }
  dmaAccess(dev: Device, iova: bigint, write: boolean): TranslationResult {
    for (const r of resvFor(this.machineName)) {
      if (r.type === ResvType.Msi && iova >= r.start && iova < r.start + r.length) {
        return { kind: 'bypass', paddr: iova, why: 'hardware MSI window' };
      }
    }
    const g = this.grps[dev.groupId!]!;
    if (g.domain === undefined) return { kind: 'bypass', paddr: iova, why: 'no domain' };
    return g.domain.translate(iova, write);
  }
  aperture(): { start: bigint; end: bigint } {
    return { start: 0n, end: (1n << 48n) - 1n };
  }
}

export interface TestPlatform {
  readonly core: FakeCore;
  readonly fabric: MsiFabric;
  readonly desc: PlatformDescription;
}

export function platform(m: Machine, version: '6.1' | '6.12' = '6.12'): TestPlatform {
  const desc = machine(m);
  const core = new FakeCore(desc, m, kernelProfile(version));
  const fabric = attachMsiFabric(core, desc);
  return { core, fabric, desc };
}

/**
 * What VFIO type1 attach does for the MSI path (spec 4.2 step 12): an UNMANAGED domain for the group,
 * with an MSI-only cookie at the SW_MSI base when the group has a SW_MSI and no HW MSI region.
 */
export function vfioAttach(p: TestPlatform, bdf: string, opts: { cookie?: boolean } = {}): FakeDomain {
  const dev = p.core.device(bdf)!;
  const g = p.core.group(dev.groupId!)!;
  const d = new FakeDomain('unmanaged');
  p.core.attachGroup(d, g);
  const regions = p.core.groupResvRegions();
  const hw = regions.some((r) => r.type === ResvType.Msi);
  const sw = regions.find((r) => r.type === ResvType.SwMsi);
  if (opts.cookie !== false && sw !== undefined && !hw) iommuGetMsiCookie(d, sw.start, p.desc.pageSize);
  return d;
}
