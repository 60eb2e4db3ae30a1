/**
 * The model side of the conformance suite: runs every compiled scenario of every machine/kernel pair
 * on a model target, diffs against the kernel goldens, and applies the checked-in list of known
 * differences. A difference must be listed (with a reason) to be tolerated, and a listed difference
 * that no longer occurs fails the suite, so the list only shrinks.
 *
 * Also the integrity checks that need no model: goldens are complete (every scenario ran to its end)
 * and current (their case names are exactly the compiled scenarios' operations, in order).
 */

import { InputError } from '../base/errors.js';
import type { KernelVersion } from '../kernel/profile.js';
import { parseCompiled, type Statement } from './compiled.js';
import { type ConformanceTarget, type ExecArgs, runCompiled } from './exec.js';
import { caseRecords, compareOutputs, type CaseDiff, type Golden } from './golden.js';

export interface KnownDifference {
  /** `x86-intel-k6.1`, or `*` for every pair. */
  readonly pair: string;
  /** Scenario file, e.g. `probe.iovx` or `gen-03.iovx`, or `*`. */
  readonly scenario: string;
  /** Case name, or a prefix ending in `*` (e.g. `msi_*`). */
  readonly case: string;
  /** Optional: a regular expression the kernel's CASE line must match (e.g. ` ext=4$`). */
  readonly kernel?: string;
  /** Why the model differs: a kernel detail not modelled yet, a harness limitation... */
  readonly reason: string;
}

/** Parses conformance/known-differences.json; every entry needs all four fields. */
export function parseKnownDifferences(text: string, file: string): KnownDifference[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new InputError(`not valid JSON: ${(e as Error).message}`, { file });
  }
  if (!Array.isArray(data)) throw new InputError('expected a JSON array of entries', { file });
  return data.map((x: unknown, i: number) => {
    const o = x as Record<string, unknown>;
    for (const k of ['pair', 'scenario', 'case', 'reason'])
      if (typeof o?.[k] !== 'string' || (o[k] as string).trim() === '')
        throw new InputError(`entry ${i}: '${k}' must be a non-empty string`, { file, field: `[${i}].${k}` });
    const k = o['kernel'];
    if (k !== undefined) {
      if (typeof k !== 'string')
        throw new InputError(`entry ${i}: 'kernel' must be a regular expression string`, {
          file,
          field: `[${i}].kernel`,
        });
      try {
        new RegExp(k);
      } catch (e) {
        throw new InputError(
          `entry ${i}: 'kernel' is not a valid regular expression: ${(e as Error).message}`,
          {
            file,
            field: `[${i}].kernel`,
          },
        );
      }
    }
    return {
      pair: o['pair'] as string,
      scenario: o['scenario'] as string,
      case: o['case'] as string,
      ...(typeof k === 'string' ? { kernel: k } : {}),
      reason: o['reason'] as string,
    };
  });
}

function matches(k: KnownDifference, pair: string, scenario: string, d: CaseDiff): boolean {
  const caseOk = k.case.endsWith('*') ? d.name.startsWith(k.case.slice(0, -1)) : d.name === k.case;
  const lineOk = k.kernel === undefined || new RegExp(k.kernel).test(d.expected[0] ?? '');
  return (
    (k.pair === '*' || k.pair === pair) && (k.scenario === '*' || k.scenario === scenario) && caseOk && lineOk
  );
}

export interface PairInput {
  readonly pair: string;
  readonly machine: string;
  readonly kernel: KernelVersion;
  readonly golden: Golden;
  /** Compiled scenario text per scenario file name (`probe.iovx`, `gen-00.iovx`, ...). */
  readonly scenarios: ReadonlyMap<string, string>;
}

/** Builds the model target for a pair, with the group numbers/devices the scenarios refer to. */
export type TargetFactory = (
  machine: string,
  kernel: KernelVersion,
) => { target: ConformanceTarget; args: ExecArgs } | undefined;

export interface PairReport {
  readonly pair: string;
  /** Kernel steps (CASE records) in the goldens of the pair. */
  readonly steps: number;
  /** Steps the model ran (all, unless its target models only some operations). */
  readonly compared: number;
  readonly identical: number;
  /** Differences not covered by the known list. */
  readonly unexpected: readonly (CaseDiff & { scenario: string })[];
  readonly known: number;
}

export interface SuiteReport {
  readonly pairs: readonly PairReport[];
  /** Known-difference entries that matched nothing (they must be removed). */
  readonly stale: readonly KnownDifference[];
  /** Pairs the model could not run (no target). */
  readonly skipped: readonly string[];
  readonly ok: boolean;
}

/** Runs the suite on the model and compares with the goldens. */
export function runSuite(
  pairs: readonly PairInput[],
  factory: TargetFactory,
  known: readonly KnownDifference[],
): SuiteReport {
  const used = new Set<KnownDifference>();
  const reports: PairReport[] = [];
  const skipped: string[] = [];
  for (const p of pairs) {
    let steps = 0;
    let compared = 0;
    let identical = 0;
    let knownCount = 0;
    const unexpected: (CaseDiff & { scenario: string })[] = [];
    let t0 = false;
    for (const [scen, expected] of p.golden.blocks) {
      const text = p.scenarios.get(scen);
      if (text === undefined)
        throw new InputError(`golden block ${scen} has no compiled scenario`, { file: p.pair });
      // A fresh target per scenario file: on the kernel they run in one boot, but each leaves the
      // kernel as it found it (fds closed, parameters restored).
      const t = factory(p.machine, p.kernel);
      t0 = t0 || t !== undefined;
      if (!t) {
        if (!skipped.includes(p.pair)) skipped.push(p.pair);
        continue;
      }
      const actual = runCompiled(parseCompiled(text, scen), t.target, t.args);
      const partial = !actual.some((l) => l.startsWith('END ') || l.startsWith('ERROR '));
      const r = compareOutputs(expected, actual, partial);
      steps += r.total;
      compared += r.compared;
      identical += r.identical;
      for (const d of r.diffs) {
        const k = known.find((x) => matches(x, p.pair, scen, d));
        if (k) {
          used.add(k);
          knownCount++;
        } else unexpected.push({ ...d, scenario: scen });
      }
    }
    if (!t0)
      steps =
        p.golden.blocks.size === 0
          ? 0
          : [...p.golden.blocks.values()].reduce((n, b) => n + caseRecords(b).length, 0);
    reports.push({ pair: p.pair, steps, compared, identical, unexpected, known: knownCount });
  }
  const ran = reports.some((r) => r.compared > 0);
  const stale = ran ? known.filter((k) => !used.has(k)) : [];
  return {
    pairs: reports,
    stale,
    skipped,
    ok: stale.length === 0 && reports.every((r) => r.unexpected.length === 0),
  };
}

/**
 * Integrity of one golden against the compiled scenarios: every block ran to its end (exit 0, END
 * line, no ERROR) and its case names are the scenario's operation names in order. Returns problems.
 */
export function checkGoldenIntegrity(
  pair: string,
  golden: Golden,
  scenarios: ReadonlyMap<string, string>,
): string[] {
  const problems: string[] = [];
  for (const [scen, lines] of golden.blocks) {
    const text = scenarios.get(scen);
    if (text === undefined) {
      problems.push(`${pair}: ${scen}: no such compiled scenario (stale golden?)`);
      continue;
    }
    if (golden.exit.get(scen) !== 0)
      problems.push(`${pair}: ${scen}: executor exit status ${golden.exit.get(scen)}`);
    const err = lines.find((l) => l.startsWith('ERROR'));
    if (err) problems.push(`${pair}: ${scen}: ${err}`);
    const ops = parseCompiled(text, scen).filter(
      (s): s is Extract<Statement, { kind: 'op' }> => s.kind === 'op',
    );
    const names = caseRecords(lines)
      .map((r) => r.name)
      .filter((n) => n !== '(preamble)');
    if (names.length !== ops.length)
      problems.push(
        `${pair}: ${scen}: ${names.length} cases in the golden, ${ops.length} operations in the scenario (regenerate with npm run conformance:kernel)`,
      );
    else {
      const i = ops.findIndex((o, j) => o.name !== names[j]);
      if (i >= 0)
        problems.push(
          `${pair}: ${scen}: case ${i} is '${names[i]}' in the golden but '${ops[i]!.name}' in the scenario`,
        );
    }
  }
  for (const scen of scenarios.keys())
    if (!golden.blocks.has(scen)) problems.push(`${pair}: ${scen}: not in the golden`);
  return problems;
}

/** Human-readable lines of a report (agreement per pair, then each unexpected difference). */
export function formatReport(r: SuiteReport, maxDiffs = 20): string[] {
  const out: string[] = [];
  for (const p of r.pairs) {
    if (r.skipped.includes(p.pair)) out.push(`${p.pair}: skipped (no model target)`);
    else
      out.push(
        `${p.pair}: ${p.identical}/${p.compared} model steps identical to the kernel` +
          (p.compared < p.steps ? ` (the model ran ${p.compared} of ${p.steps} kernel steps)` : '') +
          `, ${p.known} known differences, ${p.unexpected.length} unexpected`,
      );
  }
  let shown = 0;
  for (const p of r.pairs) {
    for (const d of p.unexpected) {
      if (shown++ >= maxDiffs) break;
      out.push(`--- ${p.pair} ${d.scenario} ${d.section}/${d.name}`);
      for (const l of d.expected) out.push(`  kernel: ${l}`);
      for (const l of d.actual) out.push(`  model:  ${l}`);
    }
  }
  for (const k of r.stale)
    out.push(`stale known difference (no longer occurs, remove it): ${JSON.stringify(k)}`);
  return out;
}
