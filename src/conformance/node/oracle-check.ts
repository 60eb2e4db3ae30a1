/**
 * Node-only: checks the probe goldens against the team's oracle captures ($ORACLE_DIR, else
 * `shared/oracle/out` beside the repository): every CASE line the oracle printed in its probe sections must appear in our golden with
 * the same rc, errno and fields (timings and user pointers excepted). This validates iovaexec itself.
 *
 *   node dist/src/conformance/node/oracle-check.js [golden-dir]
 */

import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { caseFields, caseRecords, parseGolden } from '../golden.js';

/** Oracle section -> our section, and oracle case name -> our case name within it. */
const SECTION_MAP: Record<string, string> = {
  probe_full: 'probe_full',
  probe_attach_default: 'attach_default',
  probe_limit: 'probe_limit',
  probe_full_type1_v1: 'probe_full_type1_v1',
  probe_multi_group: 'probe_multi_group',
};
const PREFIX: Record<string, string[]> = {
  attach_default: ['ad_'],
  probe_limit: ['l_'],
  probe_full_type1_v1: ['v1_'],
  probe_multi_group: ['multi_'],
};
const RENAME: Record<string, string> = {};
/** Fields that are not comparable: wall time. */
const SKIP = new Set(['secs']);

interface OracleCapture {
  machine: string;
  series: string;
  sections: Map<string, string[]>;
}

function readOracle(dir: string): OracleCapture[] {
  const out: OracleCapture[] = [];
  for (const f of readdirSync(dir).sort()) {
    if (!f.endsWith('.txt') || f === f.toUpperCase()) continue;
    const text = readFileSync(join(dir, f), 'utf8');
    const scen = /^# scenario: (\S+)/m.exec(text)?.[1];
    const kernel = /^# kernel: (\S+)/m.exec(text)?.[1];
    if (!scen || !kernel || scen.endsWith('-unsafe-param')) continue;
    const series = kernel.startsWith('6.1.') ? '6.1' : kernel.startsWith('6.12.') ? '6.12' : kernel;
    const sections = new Map<string, string[]>();
    let cur: string[] | undefined;
    for (const l of text.split('\n')) {
      if (l.startsWith('SECTION ')) {
        cur = [];
        sections.set(l.slice(8).split(' ')[0]!, cur);
      } else if (cur && (l.startsWith('CASE ') || l.startsWith('INFO '))) cur.push(l);
    }
    out.push({ machine: scen, series, sections });
  }
  return out;
}

export function checkAgainstOracle(
  goldenDir: string,
  oracleDir: string,
): { lines: string[]; failures: number } {
  const report: string[] = [];
  let failures = 0;
  for (const o of readOracle(oracleDir)) {
    const gpath = join(goldenDir, `${o.machine}-k${o.series}.txt`);
    if (!existsSync(gpath)) {
      report.push(`${o.machine}-k${o.series}: no golden`);
      continue;
    }
    const g = parseGolden(readFileSync(gpath, 'utf8'), gpath);
    const probe = g.blocks.get('probe.iovx') ?? [];
    const recs = caseRecords(probe);
    const bySection = new Map<string, Map<string, string[]>>();
    for (const r of recs) {
      let m = bySection.get(r.section);
      if (!m) bySection.set(r.section, (m = new Map()));
      m.set(r.name, [...r.lines]);
    }
    let compared = 0;
    let same = 0;
    const bad: string[] = [];
    for (const [osec, lines] of o.sections) {
      const sec = SECTION_MAP[osec];
      if (!sec) continue;
      const mine = bySection.get(sec) ?? new Map<string, string[]>();
      for (const l of lines) {
        if (l.startsWith('INFO ')) {
          // INFO dma_avail_<tag>=N  <->  our get_info dump named dma_avail_<tag> (CAP ... avail=N)
          const m = /^INFO (dma_avail_\S+)=(\d+)$/.exec(l);
          if (!m) continue;
          const rec = mine.get(m[1]!) ?? mine.get(`${PREFIX[sec]?.[0] ?? ''}${m[1]!}`);
          compared++;
          const got = rec?.map((x) => / avail=(\d+)/.exec(x)?.[1]).find((x) => x !== undefined);
          if (got === m[2]) same++;
          else bad.push(`  ${osec}: ${l}  <->  avail=${got ?? 'missing'}`);
          continue;
        }
        const name = l.split(' ')[1]!;
        const cands = [
          RENAME[name] ?? name,
          name,
          ...(PREFIX[sec] ?? []).map((p) => p + (RENAME[name] ?? name)),
        ];
        const rec = cands.map((c) => mine.get(c)).find((x) => x !== undefined);
        compared++;
        if (!rec) {
          bad.push(`  ${osec}: ${name}: not in golden`);
          continue;
        }
        const of = caseFields(l);
        const mf = caseFields(rec[0]!);
        const ours = rec[0]!.split(' ').slice(2, 4).join(' ');
        const theirs = l.split(' ').slice(2, 4).join(' ');
        const diffs: string[] = [];
        if (ours !== theirs) diffs.push(`${theirs} vs ${ours}`);
        for (const [k, v] of of) {
          if (SKIP.has(k) || k === 'rc' || k === 'errno') continue;
          if (k === 'cap_offset_untouched') {
            if (Number(v) !== Number(mf.get('cap_offset')))
              diffs.push(`${k}=${v} vs cap_offset=${mf.get('cap_offset')}`);
            continue;
          }
          if (k === 'vaddr_off' && mf.get(k)?.startsWith('ro+')) continue; // the oracle printed a pointer
          if (mf.get(k) !== v) diffs.push(`${k}=${v} vs ${mf.get(k) ?? '(absent)'}`);
        }
        if (diffs.length === 0) same++;
        else bad.push(`  ${osec}: ${name}: ${diffs.join(', ')}`);
      }
    }
    failures += compared - same;
    report.push(`${o.machine}-k${o.series}: ${same}/${compared} oracle probe lines reproduced`);
    report.push(...bad);
  }
  return { lines: report, failures };
}

if (process.argv[1] && process.argv[1].endsWith('oracle-check.js')) {
  const golden = process.argv[2] ?? join(process.cwd(), 'conformance', 'golden');
  // as test/oracle/oracle-file.ts: $ORACLE_DIR, else shared/ beside the repository, else the team host's copy
  const oracle =
    process.env['ORACLE_DIR'] ??
    [resolve(process.cwd(), '..', 'shared', 'oracle', 'out'), '/work/shared/oracle/out'].find((d) =>
      existsSync(d),
    ) ??
    resolve(process.cwd(), '..', 'shared', 'oracle', 'out');
  if (!existsSync(oracle)) {
    console.log(`oracle captures not found at ${oracle}; nothing to check`);
  } else {
    const r = checkAgainstOracle(golden, oracle);
    for (const l of r.lines) console.log(l);
    if (r.failures) process.exit(1);
  }
}
