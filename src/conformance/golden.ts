/**
 * Golden files and result lines: parsing the kernel goldens (conformance/golden/<pair>.txt), splitting
 * executor output into per-case records, and comparing two outputs case by case.
 */

import { InputError } from '../base/errors.js';

export interface GoldenHeader {
  readonly machine: string;
  readonly kernelSeries: string;
  readonly kernel: string;
  readonly qemu: string;
  readonly [key: string]: string;
}

export interface Golden {
  readonly header: GoldenHeader;
  /** Output lines per scenario file name (e.g. `probe.iovx`), without the @@ markers. */
  readonly blocks: ReadonlyMap<string, readonly string[]>;
  /** The executor's exit status per scenario. */
  readonly exit: ReadonlyMap<string, number>;
}

/** Parses a golden file written by conformance/kernel/run.sh. */
export function parseGolden(text: string, file: string): Golden {
  const header: Record<string, string> = {};
  const blocks = new Map<string, string[]>();
  const exit = new Map<string, number>();
  let cur: string[] | undefined;
  let curName = '';
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (l === '') continue;
    if (cur === undefined && l.startsWith('# ')) {
      const m = /^# ([a-z-]+): (.*)$/.exec(l);
      if (m) header[m[1]!] = m[2]!;
      continue;
    }
    if (l.startsWith('@@BEGIN ')) {
      if (cur !== undefined) throw new InputError(`@@BEGIN inside block ${curName}`, { file, line: i + 1 });
      curName = l.slice(8);
      cur = [];
      blocks.set(curName, cur);
      continue;
    }
    if (l.startsWith('@@END ')) {
      const m = /^@@END (\S+) rc=(\d+)/.exec(l);
      if (!m || m[1] !== curName || cur === undefined)
        throw new InputError(`unmatched @@END`, { file, line: i + 1 });
      exit.set(curName, Number(m[2]));
      cur = undefined;
      continue;
    }
    if (cur === undefined) throw new InputError(`text outside a @@BEGIN/@@END block`, { file, line: i + 1 });
    cur.push(l);
  }
  if (cur !== undefined) throw new InputError(`block ${curName} has no @@END`, { file });
  for (const k of ['machine', 'kernel-series', 'kernel', 'qemu'])
    if (header[k] === undefined) throw new InputError(`header '# ${k}:' missing`, { file, line: 1 });
  return {
    header: {
      ...header,
      machine: header['machine']!,
      kernelSeries: header['kernel-series']!,
      kernel: header['kernel']!,
      qemu: header['qemu']!,
    },
    blocks,
    exit,
  };
}

/** One case of an output: its CASE line plus the lines that follow it (HEX, CAP, RANGE, GROUP, RESV...). */
export interface CaseRecord {
  readonly section: string;
  readonly name: string;
  readonly lines: readonly string[];
}

/** Splits output lines into case records (keyed `section/name`), in order. */
export function caseRecords(lines: readonly string[]): CaseRecord[] {
  const out: { section: string; name: string; lines: string[] }[] = [];
  let section = '';
  for (const l of lines) {
    if (l.startsWith('SECTION ')) {
      section = l.slice(8);
      continue;
    }
    if (l.startsWith('CASE ')) {
      const name = l.split(' ')[1] ?? '';
      out.push({ section, name, lines: [l] });
      continue;
    }
    if (l.startsWith('END ')) continue;
    const last = out[out.length - 1];
    if (last) last.lines.push(l);
    else out.push({ section, name: '(preamble)', lines: [l] });
  }
  return out;
}

/** `k=v` fields of a CASE line (the two leading words excluded). */
export function caseFields(line: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const t of line.split(' ').slice(2)) {
    const eq = t.indexOf('=');
    if (eq > 0) m.set(t.slice(0, eq), t.slice(eq + 1));
  }
  return m;
}

export interface CaseDiff {
  readonly section: string;
  readonly name: string;
  /** Expected (kernel) lines and actual (model) lines; missing side is empty. */
  readonly expected: readonly string[];
  readonly actual: readonly string[];
}

export interface CompareResult {
  /** Cases in the expected output. */
  readonly total: number;
  /** Cases compared (all of them, or the prefix a partial model ran). */
  readonly compared: number;
  readonly identical: number;
  readonly diffs: readonly CaseDiff[];
}

/**
 * Compares two outputs case by case (by position and name): every line of a case must be identical.
 * `prefix`: the actual output is a partial run (a model that stopped before an operation it does not
 * model), so only as many cases as it has are compared.
 */
export function compareOutputs(
  expected: readonly string[],
  actual: readonly string[],
  prefix = false,
): CompareResult {
  const e = caseRecords(expected);
  const a = caseRecords(actual);
  const diffs: CaseDiff[] = [];
  let identical = 0;
  const n = prefix ? Math.min(e.length, a.length) : Math.max(e.length, a.length);
  for (let i = 0; i < n; i++) {
    const x = e[i];
    const y = a[i];
    if (
      x &&
      y &&
      x.name === y.name &&
      x.section === y.section &&
      x.lines.length === y.lines.length &&
      x.lines.every((l, j) => l === y.lines[j])
    ) {
      identical++;
      continue;
    }
    const ref = x ?? y!;
    diffs.push({
      section: ref.section,
      name: ref.name,
      expected: x?.lines ?? [],
      actual: y && (!x || y.name === x.name) ? y.lines : [],
    });
  }
  return { total: e.length, compared: n, identical, diffs };
}
