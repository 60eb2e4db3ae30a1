import { test } from 'node:test';
import assert from 'node:assert/strict';
import '../../src/scenario/platforms.js';
import { builtinScenarioText, runScenario } from '../../src/scenario/runner.js';
import { ORACLE_SCENARIOS, oracleAvailable } from '../oracle/oracle-file.js';
import { ORACLE_PRESETS } from '../oracle/machines.js';
import { comparableProbeMsiLines, oracleProbeMsiSection } from '../oracle/probe-msi-lines.js';

for (const { scenario, kernels } of ORACLE_SCENARIOS) {
  for (const kernel of kernels) {
    test(`scenario probe_msi on ${ORACLE_PRESETS[scenario]} (${kernel}) prints the oracle's ${scenario} probe_msi lines`, (t) => {
      if (!oracleAvailable(scenario, kernel)) return t.skip('oracle capture not found');
      const section = oracleProbeMsiSection(scenario, kernel);
      // the module parameter as the probe found it (set at load, or written by the unsafe retry)
      const unsafe = section.find((l) => l.startsWith('INFO param_allow_unsafe_interrupts='))?.split('=')[1];
      assert.ok(unsafe === 'Y' || unsafe === 'N', 'the capture prints allow_unsafe_interrupts');
      const got = runScenario(builtinScenarioText('probe_msi')!, {
        platform: ORACLE_PRESETS[scenario],
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
