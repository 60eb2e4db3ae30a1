/**
 * The words of a check report, shared by `iovamap check` and the web view so both explain a conflict
 * the same way: each region met (type, why, which groups), VFIO's answer, what the VMM prints and does.
 */
import { formatSize, hex16 } from '../base/u64.js';
import type { Blocker, Conflict } from './check.js';
import { memlockAdvice, type MemlockReport } from './memlock.js';

/** `4 GiB`, `3054 MiB`, `640 KiB`: exact when the size is a whole number of a unit (as VMM sizes are). */
export function exactSize(b: bigint): string {
  for (const [shift, unit] of [
    [40n, 'TiB'],
    [30n, 'GiB'],
    [20n, 'MiB'],
    [10n, 'KiB'],
  ] as const) {
    // Exact in a unit, as long as it stays readable (at most 5 digits); else formatSize marks rounding.
    if (b >= 1n << shift && b % (1n << shift) === 0n && b >> shift < 100000n) return `${b >> shift} ${unit}`;
  }
  return formatSize(b);
}

/** `0x0000000008000000-0x00000000080fffff (1 MiB)` */
export function rangeText(start: bigint, end: bigint): string {
  return `${hex16(start)}-${hex16(end)} (${exactSize(end - start + 1n)})`;
}

function groupsText(groups: readonly { readonly id: number; readonly devices: readonly string[] }[]): string {
  return groups.map((g) => `group ${g.id}${g.devices.length ? ` (${g.devices.join(', ')})` : ''}`).join(', ');
}

/** The heading of a conflict: `RAM above 4 GiB [pc.ram] 0x...-0x... (6 GiB)`. */
export function conflictTitle(c: Conflict): string {
  return `${c.range.what} [${c.range.name}] ${rangeText(c.range.start, c.range.end)}`;
}

/** The explanation of one conflict, line by line (indent nested lines with the returned depth). */
export function conflictLines(
  c: Conflict,
  vmmName: string,
): { readonly depth: number; readonly text: string }[] {
  const out: { depth: number; text: string }[] = [];
  for (const cause of c.causes) {
    if (cause.kind === 'region') {
      out.push({
        depth: 0,
        text: `overlaps ${cause.name} ${rangeText(cause.region.start, cause.region.end)} "${cause.region.typeString}" of ${groupsText(cause.groups)}`,
      });
      out.push({ depth: 1, text: `at ${rangeText(cause.overlap.start, cause.overlap.end)}: ${cause.why}` });
    } else {
      out.push({ depth: 0, text: `${rangeText(cause.overlap.start, cause.overlap.end)} is ${cause.why}` });
    }
  }
  out.push({ depth: 0, text: `VFIO: ${c.vfio}` });
  if (c.failure.lines.length) {
    out.push({ depth: 0, text: `${vmmName} prints:` });
    for (const l of c.failure.lines) out.push({ depth: 1, text: l });
  }
  out.push({ depth: 0, text: `effect: ${c.failure.effect}` });
  return out;
}

/** A refused group: heading and the VMM's lines. */
export function blockerLines(b: Blocker): { readonly title: string; readonly lines: readonly string[] } {
  return {
    title: `group ${b.group}${b.devices.length ? ` (${b.devices.join(', ')})` : ''}: ${b.why}`,
    lines: b.lines,
  };
}

/** A mapping refused for locked memory: heading and explanation (the report must have a failure). */
export function memlockLines(
  m: MemlockReport,
  vmmName: string,
): { readonly title: string; readonly lines: readonly { readonly depth: number; readonly text: string }[] } {
  const f = m.failure!;
  const lines: { depth: number; text: string }[] = [
    { depth: 0, text: `VFIO: ${f.vfio}` },
    ...(f.kernelLog !== undefined
      ? [{ depth: 0, text: `kernel log: ${f.kernelLog}` }]
      : [{ depth: 0, text: 'kernel log: nothing (iommufd does not log a refused pin)' }]),
  ];
  if (f.failure.lines.length) {
    lines.push({ depth: 0, text: `${vmmName} prints:` });
    for (const l of f.failure.lines) lines.push({ depth: 1, text: l });
  }
  lines.push({ depth: 0, text: `effect: ${f.failure.effect}` });
  lines.push({ depth: 0, text: `fix: ${memlockAdvice(m)}` });
  return {
    title:
      `${f.range.what} [${f.range.name}] ${rangeText(f.range.start, f.range.end)} is refused with ENOMEM (RLIMIT_MEMLOCK)` +
      (m.containers > 1
        ? ` in container ${f.container} of ${m.containers}` +
          (f.owner.device !== undefined ? `, for ${f.owner.device}` : '') +
          (f.owner.group !== undefined ? ` (group ${f.owner.group})` : '')
        : ''),
    lines,
  };
}
