/**
 * The model's CASE/HEX/CAP/RANGE/INFO lines against the real kernels' (../shared/oracle/out), for every
 * oracle run, every VFIO probe section and both kernel versions. Lines the model cannot reproduce are
 * listed in KNOWN_DIFFERENCES (and masked on both sides); nothing else may differ.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { builtinScenarioText, runScenarioFull } from '../../src/scenario/runner.js';
import { parseScenario } from '../../src/scenario/parse.js';
import '../../src/scenario/platforms.js';
import {
  KNOWN_DIFFERENCES,
  normalise,
  ORACLE_PRESET,
  SECTION_SCENARIO,
  cmdlineKnob,
  oracleAvailable,
  oracleRuns,
  probeLines,
  probeParams,
  sectionLines,
} from './oracle.js';

test('the list of lines the model cannot reproduce is short and explained', () => {
  assert.ok(KNOWN_DIFFERENCES.length <= 3);
  for (const d of KNOWN_DIFFERENCES) assert.ok(d.why.length > 20, d.what);
});

if (oracleAvailable()) {
  for (const run of oracleRuns()) {
    const preset = ORACLE_PRESET[run.platform];
    if (!preset) continue;
    for (const [section, scenario] of Object.entries(SECTION_SCENARIO)) {
      const raw = sectionLines(run, section);
      if (!raw) continue;
      test(`${run.file} ${section}: model lines equal the kernel's`, () => {
        const sc = parseScenario(builtinScenarioText(scenario)!, `scenarios/${scenario}.yaml`);
        const fill = cmdlineKnob(run, section === 'probe_limit' ? 'limit' : 'fill');
        const vars: Record<string, bigint> = {};
        if (section !== 'probe_full_type1_v1' && 'fill' in sc.vars && fill !== undefined)
          vars['fill'] = fill === '0' ? 0n : 1n;
        const r = runScenarioFull(sc, {
          platform: preset,
          kernel: run.kernel,
          params: probeParams(raw),
          vars,
        });
        assert.deepEqual(normalise(r.lines), normalise(probeLines(raw)));
      });
    }
  }
}
