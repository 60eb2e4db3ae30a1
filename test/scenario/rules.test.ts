import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { KERNEL_VERSIONS } from '../../src/kernel/profile.js';
import { builtinScenarioText, runScenarioFull } from '../../src/scenario/runner.js';
import { bootPreset } from '../../src/scenario/platforms.js';
import { kernelProfile } from '../../src/kernel/profile.js';
import { ORACLE_PRESET } from './oracle.js';

// the oracle's machines, and the 16 KiB-page arm64 one (both scenarios count in page_size)
const PRESETS = [...new Set(Object.values(ORACLE_PRESET)), 'qemu-virt-smmuv3-gicv3-16k'];

for (const preset of PRESETS) {
  for (const kernel of KERNEL_VERSIONS) {
    // Debian 6.1 has no CONFIG_VIRTIO_IOMMU: the NIC has no group there, nothing to run.
    const nic = bootPreset(preset, kernelProfile(kernel))
      .devices()
      .find((d) => d.vendor === 0x8086 && d.deviceId === 0x10d3);
    if (nic?.groupId === undefined) continue;
    for (const [name, cases] of [
      ['type1_rules', 20],
      ['type1_dirty', 23],
    ] as const) {
      test(`${name} expectations hold on ${preset} ${kernel}`, () => {
        const r = runScenarioFull(builtinScenarioText(name)!, {
          file: `${name}.yaml`,
          platform: preset,
          kernel,
        });
        assert.deepEqual(r.failures, []);
        assert.equal(r.exitCode, 0);
        assert.ok(r.lines.filter((l) => l.startsWith('CASE ')).length >= cases);
      });
    }
  }
}

for (const kernel of KERNEL_VERSIONS) {
  test(`vfio_pci_reset expectations hold on qemu-q35-intel-iommu-rootport ${kernel}`, () => {
    const r = runScenarioFull(builtinScenarioText('vfio_pci_reset')!, {
      file: 'vfio_pci_reset.yaml',
      kernel,
    });
    assert.deepEqual(r.failures, []);
    assert.equal(r.exitCode, 0);
    assert.ok(
      r.lines.includes('CASE rdbal_after rc=4 errno=0 op=BAR_READ bar=0 pos=0x2800 size=4 value=0xabcdef0'),
    );
  });
}

for (const kernel of KERNEL_VERSIONS) {
  test(`vfio_pci_config expectations hold on qemu-q35-intel-iommu ${kernel}`, () => {
    const r = runScenarioFull(builtinScenarioText('vfio_pci_config')!, {
      file: 'vfio_pci_config.yaml',
      kernel,
    });
    assert.deepEqual(r.failures, []);
    assert.equal(r.exitCode, 0);
    assert.ok(
      r.lines.includes('CASE bar_read_in_d3hot rc=-1 errno=EIO op=BAR_READ bar=0 pos=0x2800 size=4 value=-'),
    );
    assert.ok(
      r.lines.includes(
        'CASE rdbal_after_d0 rc=4 errno=0 op=BAR_READ bar=0 pos=0x2800 size=4 value=0x5a5a5000',
      ),
    );
  });
}

for (const kernel of KERNEL_VERSIONS) {
  test(`vfio_memlock expectations hold on qemu-q35-intel-iommu ${kernel}`, () => {
    const r = runScenarioFull(builtinScenarioText('vfio_memlock')!, { file: 'vfio_memlock.yaml', kernel });
    assert.deepEqual(r.failures, []);
    assert.equal(r.exitCode, 0);
    // the read-only map of never-written memory: the shared zero page on 6.1, a page of its own on 6.12
    const rom = r.lines.find((l) => l.startsWith('CASE rom_'));
    assert.equal(
      rom,
      kernel === '6.1'
        ? 'CASE rom_on_zero_page rc=0 errno=0 op=VMLCK kb=32768'
        : 'CASE rom_charged rc=0 errno=0 op=VMLCK kb=33792',
    );
  });
}

for (const kernel of KERNEL_VERSIONS) {
  test(`vfio_intx expectations hold on qemu-q35-intel-iommu ${kernel}`, () => {
    const r = runScenarioFull(builtinScenarioText('vfio_intx')!, { file: 'vfio_intx.yaml', kernel });
    assert.deepEqual(r.failures, []);
    assert.equal(r.exitCode, 0);
    // the resample eventfd while the device still asserts: the interrupt comes again
    assert.ok(r.lines.includes('INFO resent eventfd_ready=1 count=1'));
    assert.ok(r.lines.includes('INFO nothing_resent eventfd_ready=0 count=0'));
  });
}
