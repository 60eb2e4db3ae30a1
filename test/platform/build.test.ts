import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildPlatform } from '../../src/platform/build.js';
import { loadPreset, presetNames } from '../../src/platform/presets.js';
import { KERNEL_VERSIONS, kernelProfile } from '../../src/kernel/profile.js';
import { deviceHasIsolatedMsi } from '../../src/iommu/isolation.js';
import { msiFabricOf } from '../../src/irq/fabric.js';
import type { CoreDevice } from '../../src/iommu/device.js';

test('buildPlatform boots every preset for every kernel; the MSI fabric is attached', () => {
  for (const name of presetNames()) {
    for (const k of KERNEL_VERSIONS) {
      const m = buildPlatform(loadPreset(name), kernelProfile(k));
      assert.equal(m.profile.version, k);
      assert.equal(msiFabricOf(m.iommu), m.msi, name);
      assert.ok(m.iommu.devices().length > 0, name);
      for (const g of m.iommu.groups()) {
        assert.ok(g.devices.length > 0);
        assert.equal(g.domain, g.defaultDomain);
        for (const d of g.devices) assert.equal(d.groupId, g.id);
      }
      for (const ic of m.description.interruptControllers) assert.equal(m.interruptController(ic.id), ic);
      for (const im of m.description.iommus) assert.equal(m.iommuDescription(im.id), im);
    }
  }
});

test('the core and the irq fabric agree on msi_device_has_isolated_msi for every preset device', () => {
  for (const name of presetNames()) {
    const m = buildPlatform(loadPreset(name), kernelProfile('6.12'));
    for (const d of m.iommu.devices()) {
      if (d.iommuId === undefined) continue;
      assert.equal(
        deviceHasIsolatedMsi(m.description, d as CoreDevice),
        m.msi.deviceHasIsolatedMsi(d.bdf),
        `${name} ${d.bdf}`,
      );
    }
  }
});

test('msiParent names the controller of the device host bridge', () => {
  const m = buildPlatform(loadPreset('qemu-virt-smmuv3-gicv3'));
  assert.equal(m.msiParent('0000:00:01.0')?.kind, 'gicv3-its');
  assert.equal(m.msiParent('0000:7f:00.0'), undefined);
});
