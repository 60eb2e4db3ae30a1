import { test } from 'node:test';
import assert from 'node:assert/strict';
import '../../src/scenario/platforms.js';
import { builtinScenarioText, runScenario } from '../../src/scenario/runner.js';
import { ORACLE_SCENARIOS, oracleAvailable } from '../oracle/oracle-file.js';
import { comparableProbeMsiLines, oracleProbeMsiSection } from '../oracle/probe-msi-lines.js';

const PRESET: Record<string, string> = {
  'x86-intel': 'qemu-q35-intel-iommu',
  'x86-amd': 'qemu-q35-amd-iommu',
  'x86-virtio-iommu': 'qemu-q35-virtio-iommu',
  'arm64-smmuv3-gicv3': 'qemu-virt-smmuv3-gicv3',
  'arm64-smmuv3-gicv2': 'qemu-virt-smmuv3-gicv2',
  'arm64-smmuv3-gicv2-unsafe-param': 'qemu-virt-smmuv3-gicv2',
  'arm64-virtio-iommu': 'qemu-virt-virtio-iommu',
};

for (const { scenario, kernels } of ORACLE_SCENARIOS) {
  for (const kernel of kernels) {
    test(`scenario probe_msi on ${PRESET[scenario]} (${kernel}) prints the oracle's ${scenario} probe_msi lines`, (t) => {
      if (!oracleAvailable(scenario, kernel)) return t.skip('oracle capture not found');
      const section = oracleProbeMsiSection(scenario, kernel);
      // the module parameter as the probe found it (set at load, or written by the unsafe retry)
      const unsafe = section.find((l) => l.startsWith('INFO param_allow_unsafe_interrupts='))?.split('=')[1];
      assert.ok(unsafe === 'Y' || unsafe === 'N', 'the capture prints allow_unsafe_interrupts');
      const got = runScenario(builtinScenarioText('probe_msi')!, {
        platform: PRESET[scenario],
        kernel,
        params: { allowUnsafeInterrupts: unsafe === 'Y' },
      });
      assert.deepEqual(
        comparableProbeMsiLines(got, true, scenario),
        comparableProbeMsiLines(section, true, scenario),
      );
    });
  }
}
