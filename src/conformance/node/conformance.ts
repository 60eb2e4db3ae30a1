/**
 * Node-only: `npm run conformance`. Checks the suite's integrity (compiled scenarios match the
 * generators, goldens complete and current), then runs every scenario on the model and diffs against
 * the kernel goldens under conformance/known-differences.json. Exit 1 on any problem.
 */

import { modelTargetFactory } from '../model-target.js';
import { checkGoldenIntegrity, formatReport, runSuite } from '../runner.js';
import { loadSuite, strayGoldens } from './load.js';
import { writeScenarios } from './write-scenarios.js';

export function main(root: string): number {
  const problems = [...writeScenarios(root, true)];
  const suite = loadSuite(root);
  for (const m of suite.missing) problems.push(`${m}: no golden (run npm run conformance:kernel)`);
  for (const f of strayGoldens(root)) problems.push(`golden/${f}: no machine/kernel pair produces it`);
  for (const p of suite.pairs) problems.push(...checkGoldenIntegrity(p.pair, p.golden, p.scenarios));
  for (const p of problems) console.log(`integrity: ${p}`);
  const report = runSuite(suite.pairs, modelTargetFactory, suite.known);
  for (const l of formatReport(report)) console.log(l);
  const steps = suite.pairs.reduce(
    (n, p) =>
      n +
      [...p.golden.blocks.values()].reduce((m, b) => m + b.filter((l) => l.startsWith('CASE ')).length, 0),
    0,
  );
  console.log(
    `goldens: ${suite.pairs.length} machine/kernel pairs, ${steps} kernel steps; model: ${report.skipped.length === suite.pairs.length ? 'not available yet' : 'compared'}`,
  );
  return problems.length === 0 && report.ok ? 0 : 1;
}

if (process.argv[1] && process.argv[1].endsWith('conformance.js')) process.exit(main(process.cwd()));
