import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ORACLE_MSI_RUNS } from './oracle-msi.js';
import { probeLines } from './probe-helpers.js';
import type { Machine } from '../../irq/machines.js';

// Every SECTION probe_msi of the oracle, replayed against the model: the CASE lines (rc/errno and the
// request fields), IRQINFO, REGION, the programmed MSI/MSI-X address/data, and the eventfd counters.
for (const run of ORACLE_MSI_RUNS) {
  test(`oracle probe_msi ${run.file} (${run.version}) is reproduced line by line`, () => {
    const got = probeLines(run.machine as Machine, run.version);
    assert.deepEqual(got, run.lines);
  });
}
