/**
 * Test support (not a test file): the oracle's QEMU machines from the platform presets, booted with the
 * real IOMMU core, with the MSI fabric attached, plus what VFIO type1 attach does for the MSI path.
 */
import { buildPlatform, type PlatformModel } from '../../src/platform/build.js';
import { loadPreset } from '../../src/platform/presets.js';
import type { PlatformDescription, PciDeviceDescription } from '../../src/platform/types.js';
import type { IommuCore, IommuDomain } from '../../src/iommu/api.js';
import { kernelProfile } from '../../src/kernel/profile.js';
import { ResvType } from '../../src/iommu/resv-region.js';
import { attachMsiFabric, type MsiFabric } from '../../src/irq/fabric.js';
import { iommuGetMsiCookie } from '../../src/dma-iommu/cookie.js';

export type Machine =
  | 'arm64-smmuv3-gicv3'
  | 'arm64-smmuv3-gicv2'
  | 'arm64-virtio-iommu'
  | 'x86-intel'
  | 'x86-amd'
  | 'x86-virtio-iommu'
  | 'arm64-smmuv3-hostbridge-msi';

const PRESET: Record<Machine, string> = {
  'arm64-smmuv3-gicv3': 'qemu-virt-smmuv3-gicv3',
  'arm64-smmuv3-gicv2': 'qemu-virt-smmuv3-gicv2',
  'arm64-virtio-iommu': 'qemu-virt-virtio-iommu',
  'x86-intel': 'qemu-q35-intel-iommu',
  'x86-amd': 'qemu-q35-amd-iommu',
  'x86-virtio-iommu': 'qemu-q35-virtio-iommu',
  'arm64-smmuv3-hostbridge-msi': 'qemu-virt-smmuv3-gicv3',
};

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

/** A second NIC added for the cross-device tests. */
export function secondNic(m: Machine): string {
  return m.startsWith('arm64') ? '0000:00:04.0' : '0000:00:05.0';
}

export interface TestPlatform {
  readonly model: PlatformModel;
  readonly core: IommuCore;
  readonly fabric: MsiFabric;
  readonly desc: PlatformDescription;
}

export function description(
  m: Machine,
  opts: { second?: boolean; secondMsiVectors?: number } = {},
): PlatformDescription {
  let desc = loadPreset(PRESET[m]);
  if (opts.second) {
    const nic = desc.devices.find((d) => d.bdf === NIC[m])!;
    const msi =
      opts.secondMsiVectors === undefined
        ? nic.msi
        : { vectors: opts.secondMsiVectors, addr64: true, perVectorMask: false };
    // A multi-message MSI function is not the e1000e model: give it its own id so it gets a generic layout.
    const ids = opts.secondMsiVectors === undefined ? {} : { device: 0x1234, msix: undefined };
    const copy: PciDeviceDescription = { ...nic, ...ids, msi, bdf: secondNic(m), driver: 'e1000e' };
    desc = { ...desc, devices: [...desc.devices, copy] };
  }
  if (m === 'arm64-smmuv3-hostbridge-msi') {
    // The same machine with a DesignWare-style MSI controller in the root complex instead of the ITS.
    desc = {
      ...desc,
      name: 'virt-hostbridge-msi',
      interruptControllers: [{ id: 'pcie-msi', kind: 'host-bridge-msi', base: 0x0fff_f000n, spiCount: 32 }],
      hostBridges: desc.hostBridges.map((h) => ({ ...h, msiParent: 'pcie-msi' })),
    };
  }
  return desc;
}

export function platform(
  m: Machine,
  version: '6.1' | '6.12' = '6.12',
  opts: { second?: boolean; secondMsiVectors?: number } = {},
): TestPlatform {
  const desc = description(m, opts);
  const model = buildPlatform(desc, kernelProfile(version));
  const fabric = attachMsiFabric(model.iommu, desc);
  return { model, core: model.iommu, fabric, desc };
}

/**
 * What binding to vfio-pci and VFIO type1 attach do for the MSI path (spec 4.2 step 12): the group is
 * claimed, gets an UNMANAGED domain, and an MSI-only cookie at the SW_MSI base when the group has a
 * SW_MSI and no HW MSI region.
 */
export function vfioAttach(p: TestPlatform, bdf: string, opts: { cookie?: boolean } = {}): IommuDomain {
  const dev = p.core.device(bdf)!;
  p.core.unbindDriver(dev);
  p.core.bindDriver(dev, 'vfio-pci', true);
  const g = p.core.groupOf(dev)!;
  const owner = { container: bdf };
  const rc = p.core.claimDmaOwner(g, owner);
  if (rc !== 0) throw new Error(`claimDmaOwner ${bdf}: ${rc}`);
  const r = p.core.allocPagingDomain(dev);
  if (!r.ok) throw new Error(`allocPagingDomain ${bdf}: ${r.errno}`);
  const a = p.core.attachGroup(r.value, g);
  if (a !== 0) throw new Error(`attachGroup ${bdf}: ${a}`);
  const regions = p.core.groupResvRegions(g);
  const hw = regions.some((x) => x.type === ResvType.Msi);
  const sw = regions.find((x) => x.type === ResvType.SwMsi);
  if (opts.cookie !== false && sw !== undefined && !hw) iommuGetMsiCookie(r.value, sw.start, p.desc.pageSize);
  return r.value;
}

/** The domain currently attached to a device's group. */
export function domainOf(p: TestPlatform, bdf: string): IommuDomain {
  return p.core.groupOf(p.core.device(bdf)!)!.domain!;
}
