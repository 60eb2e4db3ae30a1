/**
 * Node-only: loads the conformance suite from the repository (goldens, compiled scenarios, known
 * differences) for the model runner, the tests and the kernel scripts.
 */

import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { KernelVersion } from '../../kernel/profile.js';
import { parseGolden } from '../golden.js';
import { MACHINES, pairName } from '../machines.js';
import { parseKnownDifferences, type KnownDifference, type PairInput } from '../runner.js';
import { filesForMachine } from '../suite.js';

export interface LoadedSuite {
  readonly pairs: PairInput[];
  /** Pairs of machines.ts with no golden file yet. */
  readonly missing: string[];
  readonly known: KnownDifference[];
}

export function loadSuite(root: string): LoadedSuite {
  const dir = join(root, 'conformance');
  const pairs: PairInput[] = [];
  const missing: string[] = [];
  for (const m of MACHINES) {
    const scenarios = new Map<string, string>();
    for (const rel of filesForMachine(m)) {
      const p = join(dir, 'scenarios', rel);
      if (existsSync(p)) scenarios.set(rel.slice(rel.indexOf('/') + 1), readFileSync(p, 'utf8'));
    }
    for (const k of m.kernels) {
      const pair = pairName(m.name, k);
      const gp = join(dir, 'golden', `${pair}.txt`);
      if (!existsSync(gp)) {
        missing.push(pair);
        continue;
      }
      pairs.push({
        pair,
        machine: m.name,
        kernel: k as KernelVersion,
        golden: parseGolden(readFileSync(gp, 'utf8'), gp),
        scenarios,
      });
    }
  }
  const kp = join(dir, 'known-differences.json');
  const known = existsSync(kp) ? parseKnownDifferences(readFileSync(kp, 'utf8'), kp) : [];
  return { pairs, missing, known };
}

/** Golden files present in conformance/golden/ that no machine/kernel pair produces. */
export function strayGoldens(root: string): string[] {
  const dir = join(root, 'conformance', 'golden');
  if (!existsSync(dir)) return [];
  const want = new Set(MACHINES.flatMap((m) => m.kernels.map((k) => `${pairName(m.name, k)}.txt`)));
  return readdirSync(dir).filter((f) => !want.has(f));
}
