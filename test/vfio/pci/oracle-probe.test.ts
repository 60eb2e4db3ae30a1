import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ORACLE_SCENARIOS, oracleAvailable, oraclePath } from '../../oracle/oracle-file.js';
import { PROBE_SKIPPED_CASES, isComparedProbeLine, probeLines } from './probe-helpers.js';
import type { Machine } from '../../irq/machines.js';

/**
 * The oracle's `SECTION probe_msi` lines the model reproduces, read from the capture at test time:
 * CASE lines (the container set-up, table-mapping and GET_INFO cases are the container's or the
 * host's, not the device file's), IRQINFO, REGION, MSI_ADDR, MSICAP, the command register and the
 * eventfd counters.
 */
function oracleProbeLines(scenario: string, kernel: '6.1' | '6.12'): string[] {
  const lines = readFileSync(oraclePath(scenario, kernel), 'utf8').split('\n');
  const start = lines.indexOf('SECTION probe_msi');
  const end = lines.findIndex((l, i) => i > start && l.startsWith('SECTION '));
  return lines
    .slice(start, end < 0 ? undefined : end)
    .filter((l) => !(l.startsWith('CASE ') && PROBE_SKIPPED_CASES.test(l.split(' ')[1]!)))
    .filter((l) => !l.includes('vfio_view'))
    .filter(isComparedProbeLine);
}

const MACHINE: Record<string, Machine> = { 'arm64-smmuv3-gicv2-unsafe-param': 'arm64-smmuv3-gicv2' };

for (const { scenario, kernels } of ORACLE_SCENARIOS) {
  for (const kernel of kernels) {
    test(`oracle probe_msi ${scenario} (${kernel}) is reproduced line by line`, (t) => {
      if (!oracleAvailable(scenario, kernel)) return t.skip('oracle capture not found');
      const want = oracleProbeLines(scenario, kernel);
      assert.ok(want.length > 50, 'the capture has a probe_msi section');
      assert.deepEqual(probeLines(MACHINE[scenario] ?? (scenario as Machine), kernel), want);
    });
  }
}
