import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ORACLE_SCENARIOS, oracleAvailable } from '../../oracle/oracle-file.js';
import {
  PROBE_MSI_KNOWN_DIFFERENCES,
  comparableProbeMsiLines,
  oracleProbeMsiSection,
} from '../../oracle/probe-msi-lines.js';
import { probeLines } from './probe-helpers.js';
import type { Machine } from '../../irq/machines.js';

const MACHINE: Record<string, Machine> = { 'arm64-smmuv3-gicv2-unsafe-param': 'arm64-smmuv3-gicv2' };

/**
 * The oracle's `SECTION probe_msi` lines the device file reproduces, read from the capture at test time
 * (the container set-up and GET_INFO cases are the container's, not the device file's).
 */
for (const { scenario, kernels } of ORACLE_SCENARIOS) {
  for (const kernel of kernels) {
    test(`oracle probe_msi ${scenario} (${kernel}) is reproduced line by line`, (t) => {
      if (!oracleAvailable(scenario, kernel)) return t.skip('oracle capture not found');
      const want = comparableProbeMsiLines(oracleProbeMsiSection(scenario, kernel), false, scenario);
      assert.ok(want.length > 50, 'the capture has a probe_msi section');
      assert.deepEqual(probeLines(MACHINE[scenario] ?? (scenario as Machine), kernel, scenario), want);
    });
  }
}

test('every probe_msi known difference still masks an oracle line and says why', (t) => {
  for (const d of PROBE_MSI_KNOWN_DIFFERENCES) {
    assert.ok(d.why.length > 40, d.what);
    const runs = ORACLE_SCENARIOS.flatMap(({ scenario, kernels }) =>
      kernels
        .filter((k) => d.applies(scenario) && oracleAvailable(scenario, k))
        .map((k) => ({ scenario, k })),
    );
    if (runs.length === 0) return t.skip('oracle captures not found');
    const hits = runs.flatMap(({ scenario, k }) =>
      oracleProbeMsiSection(scenario, k).filter((l) => d.mask(l) !== l),
    );
    assert.ok(hits.length > 0, `${d.what}: masks nothing any more, remove it`);
  }
});
