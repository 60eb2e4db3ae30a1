import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostViewFromPlatform } from '../../src/host/from-platform.js';
import { ResvType } from '../../src/iommu/resv-region.js';
import { kernelProfile } from '../../src/kernel/profile.js';
import { loadPlatformText } from '../../src/platform/load.js';
import { loadPreset } from '../../src/platform/presets.js';

const HB_MSI = `name: hb-msi
description: an SMMUv3 platform whose host bridge has its own MSI controller (no ITS)
arch: aarch64
firmware: devicetree
sources: [test]
iommus:
  - { id: smmu0, driver: arm-smmu-v3, hostBridges: [pcie0], addressBits: 48 }
interruptControllers:
  - { id: hbmsi, kind: host-bridge-msi, base: 0x3fff0000 }
hostBridges:
  - { id: pcie0, buses: [0, 255], msiParent: hbmsi, acs: true }
devices:
  - { bdf: "00:00.0", vendor: 0x1b36, device: 0x0008, class: 0x060000 }
  - { bdf: "00:01.0", vendor: 0x8086, device: 0x10d3, class: 0x020000, driver: e1000e }
`;

test('an MSI controller inside the host bridge does not isolate: VFIO needs allow_unsafe_interrupts', () => {
  const v = hostViewFromPlatform(loadPlatformText(HB_MSI, 'hb.yaml'));
  const g = v.groups.find((x) => x.devices.some((d) => d.bdf === '0000:00:01.0'))!;
  assert.equal(g.interruptSafety!.safe, false);
  assert.match(g.interruptSafety!.why, /host bridge's own MSI controller, which does not isolate/);
  assert.equal(g.regions[0]!.type, ResvType.SwMsi);
});

test('the q35 intel-iommu view: exact region types, origins, the 39-bit aperture and the ISA bridge group', () => {
  const v = hostViewFromPlatform(loadPreset('qemu-q35-intel-iommu'), kernelProfile('6.1'));
  assert.equal(v.source, 'platform:qemu-q35-intel-iommu');
  assert.equal(v.kernel, '6.1');
  assert.deepEqual(v.aperture, { start: 0n, end: 0x7fffffffffn });
  const isa = v.groups.find((g) => g.id === 3)!;
  assert.deepEqual(
    isa.regions.map((r) => [r.typeString, r.type]),
    [
      ['direct-relaxable', ResvType.DirectRelaxable],
      ['msi', ResvType.Msi],
    ],
  );
  assert.ok(isa.regions.every((r) => typeof r.origin === 'string' && r.origin.length > 0));
  // direct-relaxable does not cut the usable space (vfio_iommu_resv_exclude skips it).
  assert.deepEqual(isa.usable, [
    { start: 0n, end: 0xfedfffffn },
    { start: 0xfef00000n, end: 0x7fffffffffn },
  ]);
  assert.equal(isa.assignable!.ok, true);
  assert.equal(v.groups[2]!.devices[0]!.name, 'Intel Corporation 82574L Gigabit Network Connection');
});

test('the RMRR server: 6.1 and 6.12 refuse the RMRR groups at different steps with different errnos', () => {
  const group = (k: '6.1' | '6.12') =>
    hostViewFromPlatform(loadPreset('intel-xeon-hpe-rmrr'), kernelProfile(k)).groups.find((g) =>
      g.devices.some((d) => d.bdf === '0000:08:00.0'),
    )!;
  const g61 = group('6.1');
  const g612 = group('6.12');
  assert.equal(g61.assignable!.ok, false);
  assert.match(
    g61.assignable!.why,
    /EPERM.*Device is ineligible for IOMMU domain attach due to platform RMRR requirement/,
  );
  assert.equal(g612.assignable!.ok, false);
  assert.match(
    g612.assignable!.why,
    /VFIO_GROUP_SET_CONTAINER fails with EINVAL.*Firmware has requested this device have a 1:1 IOMMU mapping/,
  );
  // USB RMRRs are relaxable: the USB controller's group stays assignable.
  const usb = hostViewFromPlatform(loadPreset('intel-xeon-hpe-rmrr')).groups.find((g) =>
    g.devices.some((d) => d.bdf === '0000:00:1a.0'),
  )!;
  assert.equal(usb.regions[0]!.typeString, 'direct-relaxable');
  assert.equal(usb.assignable!.ok, true);
});

test('views are deterministic', () => {
  const a = hostViewFromPlatform(loadPreset('amd-epyc'));
  const b = hostViewFromPlatform(loadPreset('amd-epyc'));
  assert.deepEqual(a, b);
});

test('firmware tables: AMD IVMD unity maps and ARM IORT RMRs appear as direct regions with their origin', () => {
  const amd = loadPlatformText(
    `name: amd-ivmd
description: AMD-Vi with IVMD entries
arch: x86_64
firmware: acpi
sources: [test]
iommus:
  - { id: ivhd0, driver: amd-iommu, hostBridges: [pci0], addressBits: 64, interruptRemapping: true }
interruptControllers:
  - { id: apic, kind: x86-apic, base: 0xfee00000, remappedBy: ivhd0 }
hostBridges:
  - { id: pci0, buses: [0, 255], msiParent: apic, acs: true }
devices:
  - { bdf: "00:01.0", vendor: 0x1022, device: 0x1483, class: 0x060400, driver: pcieport, acs: true, bridge: { secondary: 1, subordinate: 1 } }
  - { bdf: "01:00.0", vendor: 0x8086, device: 0x1572, class: 0x020000, driver: i40e }
firmwareTables:
  ivmd:
    - { kind: device, devidStart: 0x0100, devidEnd: 0x0100, start: 0xa0000000, length: 1M, flags: 6 }
`,
    'ivmd.yaml',
  );
  const nic = hostViewFromPlatform(amd).groups.find((g) => g.devices.some((d) => d.bdf === '0000:01:00.0'))!;
  const unity = nic.regions.find((r) => r.start === 0xa0000000n)!;
  assert.equal(unity.typeString, 'direct');
  assert.equal(unity.end, 0xa00fffffn);
  assert.match(unity.origin ?? '', /IVMD/i);
  assert.equal(nic.assignable!.ok, false, '6.12 keeps the 1:1 mapping: no VFIO');

  const arm = loadPlatformText(
    `name: arm-rmr
description: SMMUv3 with IORT RMRs
arch: aarch64
firmware: acpi
sources: [test]
iommus:
  - { id: smmu0, driver: arm-smmu-v3, hostBridges: [rc0], addressBits: 48 }
interruptControllers:
  - { id: its0, kind: gicv3-its, base: 0x8080000 }
hostBridges:
  - { id: rc0, buses: [0, 255], msiParent: its0, acs: true }
devices:
  - { bdf: "00:01.0", vendor: 0x10de, device: 0x2330, class: 0x030200, driver: nvidia }
  - { bdf: "00:02.0", vendor: 0x15b3, device: 0x101d, class: 0x020000, driver: mlx5_core }
firmwareTables:
  iortRmr:
    - { base: 0x80000000, length: 64K, remapPermitted: true, devices: ["00:01.0"] }
    - { base: 0x90000000, length: 64K, remapPermitted: false, devices: ["00:02.0"] }
`,
    'rmr.yaml',
  );
  const v = hostViewFromPlatform(arm);
  const gpu = v.groups.find((g) => g.devices.some((d) => d.bdf === '0000:00:01.0'))!;
  const nic2 = v.groups.find((g) => g.devices.some((d) => d.bdf === '0000:00:02.0'))!;
  assert.deepEqual(
    gpu.regions.map((r) => r.typeString),
    ['msi', 'direct-relaxable'],
  );
  assert.equal(gpu.assignable!.ok, true);
  assert.ok(nic2.regions.some((r) => r.typeString === 'direct' && r.start === 0x90000000n));
  assert.equal(nic2.assignable!.ok, false);
});

test('refusals carry the failing ioctl and errno as fields', () => {
  const gic2 = hostViewFromPlatform(loadPreset('qemu-virt-smmuv3-gicv2')).groups[0]!;
  assert.equal(gic2.interruptSafety!.ioctl, 'VFIO_SET_IOMMU');
  assert.equal(gic2.interruptSafety!.errno, 'EPERM');
  const rmrr = (k: '6.1' | '6.12') =>
    hostViewFromPlatform(loadPreset('intel-xeon-hpe-rmrr'), kernelProfile(k)).groups.find((g) =>
      g.devices.some((d) => d.bdf === '0000:08:00.0'),
    )!.assignable!;
  assert.equal(rmrr('6.12').ioctl, 'VFIO_GROUP_SET_CONTAINER');
  assert.equal(rmrr('6.12').errno, 'EINVAL');
  assert.equal(rmrr('6.1').errno, 'EPERM');
  const its = hostViewFromPlatform(loadPreset('qemu-virt-smmuv3-gicv3')).groups[0]!;
  assert.equal(its.interruptSafety!.ioctl, undefined);
  assert.equal(its.assignable!.ioctl, undefined);
});
