/**
 * Descriptions of the QEMU machines the oracle booted (facts from the oracle captures' kernel logs).
 * Test-only stand-ins until the platform presets (presets/*.yaml) land on main; then the oracle tests
 * should load the presets instead.
 */
import type {
  HostBridgeDescription,
  InterruptControllerDescription,
  IommuDescription,
  PciDeviceDescription,
  PlatformDescription,
} from '../../src/platform/types.js';

const EMPTY_TABLES = { rmrr: [], ivmd: [], iortRmr: [] } as const;

function dev(
  bdf: string,
  vendor: number,
  device: number,
  cls: number,
  driver: string,
  extra: Partial<PciDeviceDescription> = {},
): PciDeviceDescription {
  return { bdf, vendor, device, class: cls, driver, pcie: false, ...extra };
}

const Q35_BRIDGE: HostBridgeDescription = {
  id: 'pci0',
  segment: 0,
  buses: [0, 255],
  windows: [
    { kind: 'mem', cpu: { start: 0x80000000n, end: 0xafffffffn }, offset: 0n },
    { kind: 'mem', cpu: { start: 0xc0000000n, end: 0xfebfffffn }, offset: 0n },
    { kind: 'mem64', cpu: { start: 0x100000000n, end: 0x8ffffffffn }, offset: 0n },
  ],
  dmaRanges: [],
  msiParent: 'apic',
  acs: false,
};

const E1000E = (bdf: string): PciDeviceDescription =>
  dev(bdf, 0x8086, 0x10d3, 0x020000, 'e1000e', {
    pcie: true,
    msi: { vectors: 1, addr64: true, perVectorMask: false },
  });

const Q35_COMMON = (nicBdf: string, extra: PciDeviceDescription[] = []): PciDeviceDescription[] => [
  dev('0000:00:00.0', 0x8086, 0x29c0, 0x060000, 'none'),
  dev('0000:00:01.0', 0x1234, 0x1111, 0x030000, 'none'),
  ...extra,
  E1000E(nicBdf),
  dev('0000:00:1f.0', 0x8086, 0x2918, 0x060100, 'none'),
  dev('0000:00:1f.2', 0x8086, 0x2922, 0x010601, 'none'),
  dev('0000:00:1f.3', 0x8086, 0x2930, 0x0c0500, 'none'),
];

function apic(remappedBy?: string): InterruptControllerDescription {
  return remappedBy === undefined
    ? { id: 'apic', kind: 'x86-apic', base: 0xfee00000n }
    : { id: 'apic', kind: 'x86-apic', base: 0xfee00000n, remappedBy };
}

function x86(
  name: string,
  iommu: IommuDescription,
  devices: PciDeviceDescription[],
  remap: boolean,
): PlatformDescription {
  return {
    name,
    description: `QEMU q35 with ${iommu.driver}`,
    arch: 'x86_64',
    pageSize: 4096,
    sources: [`oracle/out/${name}.txt`],
    firmware: 'acpi',
    iommus: [iommu],
    interruptControllers: [apic(remap ? iommu.id : undefined)],
    hostBridges: [Q35_BRIDGE],
    devices,
    firmwareTables: EMPTY_TABLES,
  };
}

export function q35Intel(): PlatformDescription {
  return x86(
    'x86-intel',
    {
      id: 'dmar0',
      driver: 'intel-iommu',
      hostBridges: ['pci0'],
      addressBits: 39,
      interruptRemapping: true,
      cachingMode: true,
    },
    Q35_COMMON('0000:00:02.0'),
    true,
  );
}

export function q35Amd(): PlatformDescription {
  return x86(
    'x86-amd',
    {
      id: 'ivhd0',
      driver: 'amd-iommu',
      hostBridges: ['pci0'],
      addressBits: 64,
      interruptRemapping: true,
      cachingMode: true,
      pciFunction: '0000:00:02.0',
    },
    Q35_COMMON('0000:00:03.0', [dev('0000:00:02.0', 0x1022, 0x0010, 0x080600, 'none')]),
    true,
  );
}

export function q35VirtioIommu(): PlatformDescription {
  const devices = Q35_COMMON('0000:00:03.0', [dev('0000:00:02.0', 0x1af4, 0x1057, 0x00ff00, 'virtio-pci')]);
  devices[0] = { ...devices[0]!, bootProbe: 'agpgart-intel' };
  return x86(
    'x86-virtio-iommu',
    {
      id: 'viommu0',
      driver: 'virtio-iommu',
      hostBridges: ['pci0'],
      addressBits: 64,
      pciFunction: '0000:00:02.0',
      virtioProbeResvMem: [{ subtype: 'msi', start: 0xfee00000n, end: 0xfeefffffn }],
    },
    devices,
    false,
  );
}

const VIRT_BRIDGE = (msiParent: string): HostBridgeDescription => ({
  id: 'pcie0',
  segment: 0,
  buses: [0, 255],
  windows: [
    { kind: 'mem', cpu: { start: 0x10000000n, end: 0x3efeffffn }, offset: 0n },
    { kind: 'mem64', cpu: { start: 0x8000000000n, end: 0xffffffffffn }, offset: 0n },
  ],
  dmaRanges: [],
  msiParent,
  acs: false,
});

const ITS: InterruptControllerDescription = { id: 'its0', kind: 'gicv3-its', base: 0x8080000n };
const V2M: InterruptControllerDescription = {
  id: 'v2m0',
  kind: 'gicv2m',
  base: 0x8020000n,
  spiBase: 80,
  spiCount: 64,
};

function virt(
  name: string,
  iommu: IommuDescription,
  ic: InterruptControllerDescription,
  devices: PciDeviceDescription[],
): PlatformDescription {
  return {
    name,
    description: `QEMU virt with ${iommu.driver} and ${ic.kind}`,
    arch: 'aarch64',
    pageSize: 4096,
    sources: [`oracle/out/${name}.txt`],
    firmware: 'devicetree',
    iommus: [iommu],
    interruptControllers: [ic],
    hostBridges: [VIRT_BRIDGE(ic.id)],
    devices,
    firmwareTables: EMPTY_TABLES,
  };
}

const SMMUV3: IommuDescription = {
  id: 'smmu0',
  driver: 'arm-smmu-v3',
  hostBridges: ['pcie0'],
  addressBits: 44,
};
const VIRT_DEVICES = (): PciDeviceDescription[] => [
  dev('0000:00:00.0', 0x1b36, 0x0008, 0x060000, 'none'),
  E1000E('0000:00:01.0'),
];

export function virtSmmuv3Gicv3(): PlatformDescription {
  return virt('arm64-smmuv3-gicv3', SMMUV3, ITS, VIRT_DEVICES());
}

export function virtSmmuv3Gicv2(): PlatformDescription {
  return virt('arm64-smmuv3-gicv2', SMMUV3, V2M, VIRT_DEVICES());
}

export function virtVirtioIommu(): PlatformDescription {
  return virt(
    'arm64-virtio-iommu',
    {
      id: 'viommu0',
      driver: 'virtio-iommu',
      hostBridges: ['pcie0'],
      addressBits: 64,
      pciFunction: '0000:00:01.0',
      virtioProbeResvMem: [{ subtype: 'msi', start: 0x8090000n, end: 0x809ffffn }],
    },
    ITS,
    [
      dev('0000:00:00.0', 0x1b36, 0x0008, 0x060000, 'none'),
      dev('0000:00:01.0', 0x1af4, 0x1057, 0x00ff00, 'virtio-pci'),
      E1000E('0000:00:02.0'),
    ],
  );
}

/** Oracle scenario name → machine description. */
export const ORACLE_MACHINES: Readonly<Record<string, () => PlatformDescription>> = {
  'x86-intel': q35Intel,
  'x86-amd': q35Amd,
  'x86-virtio-iommu': q35VirtioIommu,
  'arm64-smmuv3-gicv3': virtSmmuv3Gicv3,
  'arm64-smmuv3-gicv2': virtSmmuv3Gicv2,
  'arm64-smmuv3-gicv2-unsafe-param': virtSmmuv3Gicv2,
  'arm64-virtio-iommu': virtVirtioIommu,
};
