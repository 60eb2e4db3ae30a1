/**
 * Reading the oracle's captured output (../shared/oracle/out/*.txt) for comparison tests: sections,
 * their probe lines, the module parameters and command-line knobs the guest used.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ORACLE_PRESETS } from '../oracle/machines.js';
import { ORACLE_DIR } from '../oracle/oracle-file.js';

export { ORACLE_DIR };

export function oracleAvailable(): boolean {
  return existsSync(ORACLE_DIR);
}

export interface OracleRun {
  /** File name without .txt, e.g. x86-intel-k6.12.95+deb12 */
  readonly file: string;
  /** Scenario name (platform preset), e.g. x86-intel */
  readonly platform: string;
  readonly kernel: '6.1' | '6.12';
  readonly text: string;
}

export function oracleRuns(): OracleRun[] {
  return readdirSync(ORACLE_DIR)
    .filter((f) => f.endsWith('.txt') && /^(x86|arm64)-/.test(f))
    .sort()
    .map((f) => {
      const file = f.replace(/\.txt$/, '');
      const text = readFileSync(join(ORACLE_DIR, f), 'utf8');
      const kernel = /^# kernel: 6\.12/m.test(text) ? '6.12' : '6.1';
      return { file, platform: file.replace(/-k6\.12.*$/, ''), kernel, text } as OracleRun;
    });
}

/** Raw lines of a section (until the next SECTION). */
export function sectionLines(run: OracleRun, section: string): string[] | undefined {
  const lines = run.text.split('\n');
  const i = lines.findIndex((l) => l === `SECTION ${section}` || l.startsWith(`SECTION ${section} `));
  if (i < 0) return undefined;
  const out: string[] = [];
  for (let j = i + 1; j < lines.length && !lines[j]!.startsWith('SECTION '); j++) out.push(lines[j]!);
  return out;
}

/** The probe's own lines of a section (CASE/HEX/CAP/RANGE/INFO), as the model prints them. */
export function probeLines(raw: readonly string[]): string[] {
  return raw.filter((l) => /^(CASE|HEX|CAP|RANGE|INFO) /.test(l));
}

/** Module parameters printed at probe start (INFO param_x=...). */
export function probeParams(raw: readonly string[]): {
  allowUnsafeInterrupts: boolean;
  dmaEntryLimit: number;
  disableHugepages: boolean;
} {
  const get = (k: string): string | undefined =>
    raw.find((l) => l.startsWith(`INFO param_${k}=`))?.split('=')[1];
  return {
    allowUnsafeInterrupts: get('allow_unsafe_interrupts') === 'Y',
    dmaEntryLimit: Number(get('dma_entry_limit') ?? 65535),
    disableHugepages: get('disable_hugepages') === 'Y',
  };
}

/** The last value of an `oracle.<key>=` knob on the guest command line. */
export function cmdlineKnob(run: OracleRun, key: string): string | undefined {
  const line = run.text.split('\n').find((l) => l.startsWith('INFO cmdline='));
  if (!line) return undefined;
  let v: string | undefined;
  for (const m of line.matchAll(new RegExp(`oracle\\.${key}=(\\S+)`, 'g'))) v = m[1];
  return v;
}

/** Oracle scenario (QEMU machine) -> platform preset (shared with the IOMMU oracle tests). */
export const ORACLE_PRESET = ORACLE_PRESETS;

/** Oracle section -> shipped scenario. */
export const SECTION_SCENARIO: Record<string, string> = {
  probe_full: 'probe_full',
  probe_full_type1_v1: 'probe_full_type1_v1',
  probe_limit: 'probe_limit',
  probe_multi_group: 'probe_multi_group',
  probe_attach_default: 'probe_attach',
  probe_attach_unsafe: 'probe_attach',
};

/**
 * What the model cannot reproduce, and why. Each entry masks the same text on both sides.
 */
export const KNOWN_DIFFERENCES: readonly {
  readonly what: string;
  readonly why: string;
  mask(l: string): string;
}[] = [
  {
    what: 'vaddr_off of x_map_vaddr_readonly_mem_rw / _ro',
    why: 'the probe prints the absolute address of its read-only mmap, placed by ASLR; the model maps it at a fixed address',
    mask: (l) => l.replace(/^(CASE x_map_vaddr_readonly_mem_r[wo] .* vaddr_off=)\S+/, '$1<aslr>'),
  },
  {
    what: 'secs= of the fill lines and INFO fill_unmap_secs',
    why: 'wall-clock timings of the guest',
    mask: (l) => l.replace(/ secs=\S+/, '').replace(/^INFO fill_unmap_secs=.*$/, ''),
  },
];

export const normalise = (lines: readonly string[]): string[] =>
  lines.map((l) => KNOWN_DIFFERENCES.reduce((x, d) => d.mask(x), l)).filter((l) => l !== '');
