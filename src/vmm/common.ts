/**
 * Helpers shared by the VMM models: option parsing (answers, never throws), range construction,
 * size formatting in the units VMM command lines accept.
 */
import { formatSize, parseSize } from '../base/u64.js';
import type { GuestLayout, GuestRange, GuestRangeKind, LayoutResult, VmmOption } from './types.js';
import { GiB, MiB } from './types.js';

export type OptionValues = Readonly<Record<string, string>>;

/** Fills defaults and rejects unknown options or values; the first problem names the option. */
export function resolveOptions(
  specs: readonly VmmOption[],
  given: OptionValues,
): { ok: true; values: Record<string, string> } | { ok: false; reason: string; option: string } {
  const values: Record<string, string> = {};
  for (const [name, value] of Object.entries(given)) {
    const spec = specs.find((s) => s.name === name);
    if (!spec) {
      const known = specs.map((s) => s.name).join(', ') || 'none';
      return { ok: false, option: name, reason: `unknown option "${name}" (this VMM knows: ${known})` };
    }
    if (spec.kind === 'enum' && !spec.choices!.includes(value)) {
      return {
        ok: false,
        option: name,
        reason: `${name}=${value}: choose one of ${spec.choices!.join(', ')}`,
      };
    }
    if (spec.kind === 'size' && parseSize(value) === undefined) {
      return {
        ok: false,
        option: name,
        reason: `${name}=${value}: not a size (examples: 2G, 3584M, 0xe0000000)`,
      };
    }
    if (spec.kind === 'version' && !isVersion(value)) {
      return { ok: false, option: name, reason: `${name}=${value}: expected a version X.Y or latest` };
    }
    if (spec.kind === 'int' && !/^[0-9]+$/.test(value)) {
      return { ok: false, option: name, reason: `${name}=${value}: not a whole number` };
    }
    values[name] = value;
  }
  for (const s of specs)
    if (values[s.name] === undefined && s.default !== undefined) values[s.name] = s.default;
  return { ok: true, values };
}

export function sizeOpt(values: OptionValues, name: string): bigint | undefined {
  const v = values[name];
  return v === undefined ? undefined : parseSize(v);
}

export function fail(reason: string, option?: string): LayoutResult {
  return option === undefined ? { ok: false, reason } : { ok: false, reason, option };
}

/** `[start, start+size-1]` as a guest range; `size` must be > 0. */
export function span(
  start: bigint,
  size: bigint,
  kind: GuestRangeKind,
  name: string,
  what: string,
): GuestRange {
  return { start, end: start + size - 1n, kind, name, what };
}

/** `4G`, `3584M`, `1536K`, else bytes: how QEMU, cloud-hypervisor and friends accept sizes. */
export function cliSize(bytes: bigint): string {
  if (bytes > 0n && bytes % GiB === 0n) return `${bytes / GiB}G`;
  if (bytes > 0n && bytes % MiB === 0n) return `${bytes / MiB}M`;
  if (bytes > 0n && bytes % 1024n === 0n) return `${bytes / 1024n}K`;
  return `${bytes}`;
}

/** `0xfee00000`-style address for command lines. */
export function cliHex(v: bigint): string {
  return '0x' + v.toString(16);
}

/** Compares dotted versions (`7.0` < `7.1` < `10.0`); `latest` is greater than any number. */
export function compareVersions(a: string, b: string): number {
  if (a === b) return 0;
  if (a === 'latest') return 1;
  if (b === 'latest') return -1;
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

export function isVersion(v: string): boolean {
  return v === 'latest' || /^[0-9]+\.[0-9]+$/.test(v);
}

export function roundUp(v: bigint, align: bigint): bigint {
  return ((v + align - 1n) / align) * align;
}

export function roundDown(v: bigint, align: bigint): bigint {
  return (v / align) * align;
}

export function minBig(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

export function maxBig(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

/** glibc strerror text for the errnos a DMA mapping can fail with. */
export function strerror(errno: number): string {
  const text: Record<number, string> = {
    1: 'Operation not permitted',
    12: 'Cannot allocate memory',
    14: 'Bad address',
    17: 'File exists',
    22: 'Invalid argument',
    28: 'No space left on device',
    98: 'Address already in use',
  };
  return text[Math.abs(errno)] ?? `Unknown error ${Math.abs(errno)}`;
}

/** Guest physical addresses are at most 52 bits on x86-64 and arm64 (LPA); no VMM places memory above. */
export const MAX_GUEST_PHYS = (1n << 52n) - 1n;

/** A layout whose ranges pass the largest guest physical address is refused, as the VMMs would. */
export function checkedLayout(layout: GuestLayout): LayoutResult {
  const top = layout.ranges.reduce((m, r) => (r.end > m ? r.end : m), 0n);
  if (top > MAX_GUEST_PHYS) {
    return fail(`the layout reaches 0x${top.toString(16)}, beyond the 52-bit guest physical address space`);
  }
  return { ok: true, layout };
}

/** `4 GiB`, or `4295360512 bytes (~4.0 GiB)` when no unit says it exactly. */
export function exactBytes(b: bigint): string {
  const f = formatSize(b);
  return f.startsWith('~') ? `${b} bytes (${f})` : f;
}

/** A Linux version string (`6.12`, `6.1.0-28-amd64`) as major*1000+minor, or undefined. */
export function kernelAt(kernel: string | undefined): number | undefined {
  const v = kernel === undefined ? undefined : /^(\d+)\.(\d+)/.exec(kernel);
  return v ? Number(v[1]) * 1000 + Number(v[2]) : undefined;
}
