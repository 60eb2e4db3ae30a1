import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { KERNEL_VERSIONS } from '../../src/kernel/profile.js';
import { builtinScenarioText, runScenarioFull } from '../../src/scenario/runner.js';
import '../../src/scenario/platforms.js';
import { ORACLE_PRESET } from './oracle.js';

const PRESETS = [...new Set(Object.values(ORACLE_PRESET))];

for (const preset of PRESETS) {
  for (const kernel of KERNEL_VERSIONS) {
    test(`type1_rules expectations hold on ${preset} ${kernel}`, () => {
      const r = runScenarioFull(builtinScenarioText('type1_rules')!, {
        file: 'type1_rules.yaml',
        platform: preset,
        kernel,
      });
      assert.deepEqual(r.failures, []);
      assert.equal(r.exitCode, 0);
      assert.ok(r.lines.filter((l) => l.startsWith('CASE ')).length >= 20);
    });
  }
}
