/**
 * Shared test helper: reads the oracle console captures (/work/shared/oracle/out/*.txt, see the oracle
 * README) into structured blocks: IOMMU group dumps (GROUP/RESV_BEGIN..RESV_END), PCI lines, CASE,
 * RANGE and INFO lines. Only lines that start with the oracle's own tokens are read (KLOG/DMESG
 * lines are kernel log copies).
 *
 * Files: 6.1 has no suffix, 6.12 ends in `-k6.12.95+deb12`; x86-virtio-iommu and arm64-virtio-iommu
 * exist only for 6.12 (without suffix). Set ORACLE_DIR to read another copy.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KernelVersion } from '../../src/kernel/profile.js';

/** The repository root (this file runs from dist/test/oracle/). */
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** `$ORACLE_DIR`, else `shared/` beside the repository (as CI lays it out), else /work/shared. */
export const ORACLE_DIR =
  process.env['ORACLE_DIR'] ??
  [join(REPO_ROOT, '..', 'shared', 'oracle', 'out'), '/work/shared/oracle/out'].find((d) => existsSync(d)) ??
  join(REPO_ROOT, '..', 'shared', 'oracle', 'out');

export interface OracleGroupDevice {
  readonly bdf: string;
  readonly vendor: number;
  readonly devid: number;
  readonly class: number;
  readonly driver: string;
}

export interface OracleGroup {
  readonly id: number;
  /** sysfs `type`: DMA, DMA-FQ, identity... */
  type: string;
  readonly devices: OracleGroupDevice[];
  /** reserved_regions verbatim, each line ending in `\n` (empty string for an empty file). */
  resv: string;
}

/** One dump of every group (the guest dumps them at boot and again after binding vfio-pci). */
export interface OracleDump {
  readonly groups: OracleGroup[];
}

export interface OraclePciLine {
  readonly bdf: string;
  readonly vendor: number;
  readonly devid: number;
  readonly class: number;
  readonly driver: string;
  /** undefined for `group=none`. */
  readonly group: number | undefined;
}

export interface OracleKv {
  /** The token after the keyword (CASE name) or '' for INFO/RANGE. */
  readonly name: string;
  readonly fields: Readonly<Record<string, string>>;
  /** 1-based line in the file. */
  readonly line: number;
}

export interface OracleFile {
  readonly scenario: string;
  readonly kernel: KernelVersion;
  readonly path: string;
  readonly dumps: OracleDump[];
  readonly pci: OraclePciLine[];
  readonly cases: OracleKv[];
  readonly ranges: OracleKv[];
  readonly info: OracleKv[];
}

/** The machines the oracle ran and which kernels it ran them with. */
export const ORACLE_SCENARIOS: readonly {
  readonly scenario: string;
  readonly kernels: readonly KernelVersion[];
}[] = [
  { scenario: 'x86-intel', kernels: ['6.1', '6.12'] },
  { scenario: 'x86-amd', kernels: ['6.1', '6.12'] },
  { scenario: 'x86-virtio-iommu', kernels: ['6.12'] },
  { scenario: 'arm64-smmuv3-gicv3', kernels: ['6.1', '6.12'] },
  { scenario: 'arm64-smmuv3-gicv2', kernels: ['6.1', '6.12'] },
  { scenario: 'arm64-smmuv3-gicv2-unsafe-param', kernels: ['6.1'] },
  { scenario: 'arm64-virtio-iommu', kernels: ['6.12'] },
];

const ONLY_612 = new Set(['x86-virtio-iommu', 'arm64-virtio-iommu']);

export function oraclePath(scenario: string, kernel: KernelVersion): string {
  const suffix = kernel === '6.12' && !ONLY_612.has(scenario) ? '-k6.12.95+deb12' : '';
  return join(ORACLE_DIR, `${scenario}${suffix}.txt`);
}

export function oracleAvailable(scenario: string, kernel: KernelVersion): boolean {
  return existsSync(oraclePath(scenario, kernel));
}

const num = (s: string | undefined): number =>
  s === undefined ? NaN : parseInt(s, s.startsWith('0x') ? 16 : 10);

function kv(rest: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const tok of rest.split(/\s+/)) {
    const eq = tok.indexOf('=');
    if (eq > 0) out[tok.slice(0, eq)] = tok.slice(eq + 1);
  }
  return out;
}

export function parseOracleText(
  text: string,
  scenario: string,
  kernel: KernelVersion,
  path = '<text>',
): OracleFile {
  const dumps: OracleDump[] = [];
  const pci: OraclePciLine[] = [];
  const cases: OracleKv[] = [];
  const ranges: OracleKv[] = [];
  const info: OracleKv[] = [];
  let cur: OracleDump | undefined;
  let resvOf: OracleGroup | undefined;
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (resvOf !== undefined) {
      if (line === `RESV_END ${resvOf.id}`) resvOf = undefined;
      else resvOf.resv += line + '\n';
      return;
    }
    let m = /^GROUP (\d+) type=(\S+)$/.exec(line);
    if (m) {
      const id = Number(m[1]);
      if (cur === undefined || cur.groups.some((g) => g.id === id)) {
        cur = { groups: [] };
        dumps.push(cur);
      }
      cur.groups.push({ id, type: m[2]!, devices: [], resv: '' });
      return;
    }
    m = /^GROUP (\d+) device=(\S+) (.*)$/.exec(line);
    if (m) {
      const g = cur?.groups.find((x) => x.id === Number(m![1]));
      const f = kv(m[3]!);
      g?.devices.push({
        bdf: m[2]!,
        vendor: num(f['vendor']),
        devid: num(f['devid']),
        class: num(f['class']),
        driver: f['driver'] ?? '',
      });
      return;
    }
    m = /^RESV_BEGIN (\d+)$/.exec(line);
    if (m) {
      resvOf = cur?.groups.find((x) => x.id === Number(m![1]));
      return;
    }
    m = /^PCI (\S+) (.*)$/.exec(line);
    if (m) {
      const f = kv(m[2]!);
      pci.push({
        bdf: m[1]!,
        vendor: num(f['vendor']),
        devid: num(f['devid']),
        class: num(f['class']),
        driver: f['driver'] ?? '',
        group: f['group'] === undefined || f['group'] === 'none' ? undefined : Number(f['group']),
      });
      return;
    }
    m = /^CASE (\S+)(.*)$/.exec(line);
    if (m) {
      cases.push({ name: m[1]!, fields: kv(m[2]!), line: i + 1 });
      return;
    }
    if (line.startsWith('RANGE ')) ranges.push({ name: '', fields: kv(line.slice(6)), line: i + 1 });
    else if (line.startsWith('INFO ')) info.push({ name: '', fields: kv(line.slice(5)), line: i + 1 });
  });
  return { scenario, kernel, path, dumps, pci, cases, ranges, info };
}

export function readOracle(scenario: string, kernel: KernelVersion): OracleFile {
  const path = oraclePath(scenario, kernel);
  return parseOracleText(readFileSync(path, 'utf8'), scenario, kernel, path);
}

/** GROUP lines of one dump exactly as the guest printed them (type line, then device lines). */
export function formatGroupLines(d: OracleDump): string {
  let s = '';
  for (const g of d.groups) {
    s += `GROUP ${g.id} type=${g.type}\n`;
    for (const x of g.devices) {
      s += `GROUP ${g.id} device=${x.bdf} vendor=${hex4(x.vendor)} devid=${hex4(x.devid)} class=${hex6(x.class)} driver=${x.driver}\n`;
    }
  }
  return s;
}

export const hex4 = (v: number): string => '0x' + v.toString(16).padStart(4, '0');
export const hex6 = (v: number): string => '0x' + v.toString(16).padStart(6, '0');
