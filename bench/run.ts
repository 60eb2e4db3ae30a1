/**
 * `npm run bench [-- --quick] [-- name...]`: runs the registered benchmarks and prints their figures.
 */
import { writeFileSync } from 'node:fs';
import type { Benchmark, Figure } from './harness.js';
import { BENCHMARKS } from './registry.js';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const only = args.filter((a) => !a.startsWith('--'));
  const selected: Benchmark[] = BENCHMARKS.filter((b) => only.length === 0 || only.includes(b.name));
  const results: Record<string, Figure[]> = {};
  for (const b of selected) {
    process.stdout.write(`\n== ${b.name}\n`);
    const figs = await b.run({ quick, log: (s) => process.stdout.write(`   ${s}\n`) });
    results[b.name] = figs;
    for (const f of figs) {
      const v = Math.abs(f.value) >= 1e4 ? f.value.toExponential(3) : f.value.toFixed(2);
      const tgt = f.target
        ? `  target ${f.target} ${f.met === undefined ? '' : f.met ? '(met)' : '(NOT met)'}`
        : '';
      process.stdout.write(`   ${f.name.padEnd(48)} ${v.padStart(12)} ${f.unit}${tgt}\n`);
    }
  }
  writeFileSync('bench-results.json', JSON.stringify(results, null, 2) + '\n');
  process.stdout.write('\nwrote bench-results.json\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${String(e)}\n`);
  process.exitCode = 1;
});
