/**
 * Output helpers for the CLI: aligned tables, colour only on a terminal (and never with NO_COLOR),
 * sizes beside hex, and JSON that writes u64 values as hex strings.
 */
import { formatSize, hex16 } from '../base/u64.js';

export interface Style {
  bold(s: string): string;
  dim(s: string): string;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
}

const wrap = (open: number, close: number) => (s: string) => `\x1b[${open}m${s}\x1b[${close}m`;

export const COLOUR: Style = {
  bold: wrap(1, 22),
  dim: wrap(2, 22),
  red: wrap(31, 39),
  green: wrap(32, 39),
  yellow: wrap(33, 39),
  cyan: wrap(36, 39),
};

const id = (s: string) => s;
export const PLAIN: Style = { bold: id, dim: id, red: id, green: id, yellow: id, cyan: id };

/** Colour when writing to a terminal, unless NO_COLOR is set; FORCE_COLOR forces it. */
export function styleFor(stream: { isTTY?: boolean }): Style {
  if (process.env['FORCE_COLOR'] !== undefined && process.env['FORCE_COLOR'] !== '0') return COLOUR;
  if (process.env['NO_COLOR'] !== undefined) return PLAIN;
  return stream.isTTY ? COLOUR : PLAIN;
}

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;
export const visibleLength = (s: string): number => s.replace(ANSI, '').length;

/** Renders rows as an aligned table; `align` per column ('l' or 'r'). */
export function table(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  align: string = '',
): string {
  // a loop, not Math.max(...rows): a table may have more rows than a call may have arguments
  const widths = header.map((h) => visibleLength(h));
  for (const r of rows) widths.forEach((w, i) => (widths[i] = Math.max(w, visibleLength(r[i] ?? ''))));
  const fmt = (cells: readonly string[]) =>
    cells
      .map((c, i) => {
        const pad = ' '.repeat(Math.max(0, widths[i]! - visibleLength(c)));
        return align[i] === 'r' ? pad + c : i === cells.length - 1 ? c : c + pad;
      })
      .join('  ')
      .trimEnd();
  return [fmt(header), fmt(widths.map((w) => '-'.repeat(w))), ...rows.map(fmt)].join('\n') + '\n';
}

/** `0x0000000008000000-0x00000000080fffff (1 MiB)` */
export function rangeWithSize(start: bigint, end: bigint): string {
  return `${hex16(start)}-${hex16(end)} (${formatSize(end - start + 1n)})`;
}

/** JSON with bigint written as `0x…` strings (addresses) — documented in each command's schema. */
export function toJson(value: unknown): string {
  return (
    JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? '0x' + v.toString(16) : v), 2) + '\n'
  );
}

/** Why a file could not be read, in words (ENOENT → "no such file"), for messages that name the file. */
export function readFailure(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EISDIR') return 'is a directory, not a file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  return code ?? String(e);
}
