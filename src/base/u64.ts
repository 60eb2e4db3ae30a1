/**
 * Unsigned 64-bit helpers. Addresses are `bigint` at every API boundary; these helpers make the
 * 2^64 wrap explicit instead of letting a `bigint` silently grow past it.
 */

export const U64_MAX = (1n << 64n) - 1n;
export const U32_MAX = 0xffff_ffff;
export const U16_MAX = 0xffff;

/** True when `v` is an integer in [0, 2^64-1]. */
export function isU64(v: bigint): boolean {
  return v >= 0n && v <= U64_MAX;
}

/** Wraps to 64 bits, as C unsigned arithmetic does. */
export function wrapU64(v: bigint): bigint {
  return BigInt.asUintN(64, v);
}

/** `a + b` for u64 operands, or `undefined` when the sum does not fit in 64 bits. */
export function checkedAddU64(a: bigint, b: bigint): bigint | undefined {
  const s = a + b;
  return s > U64_MAX ? undefined : s;
}

/** Inclusive last byte of `[start, start+length)`, or `undefined` if it passes 2^64-1 or length is 0. */
export function lastByte(start: bigint, length: bigint): bigint | undefined {
  if (length <= 0n) return undefined;
  return checkedAddU64(start, length - 1n);
}

/** `0x` + 16 lower-case hex digits: the kernel's `0x%016llx`. */
export function hex16(v: bigint): string {
  return '0x' + wrapU64(v).toString(16).padStart(16, '0');
}

/** `0x` + minimal lower-case hex digits: the kernel's `%#llx` (but `0x0` for zero). */
export function hex(v: bigint | number): string {
  return '0x' + v.toString(16);
}

/** Index of the lowest set bit (`__ffs`); -1 for zero. */
export function lowestBit(v: bigint): number {
  if (v === 0n) return -1;
  let n = 0;
  while (((v >> BigInt(n)) & 1n) === 0n) n++;
  return n;
}

/** The lowest set bit as a value (`v & -v`). 0 for zero. */
export function lowestBitValue(v: bigint): bigint {
  return v & -v;
}

/** Number of significant bits (`fls64`): 0 for 0, 64 for 2^63. */
export function fls64(v: bigint): number {
  return v === 0n ? 0 : wrapU64(v).toString(2).length;
}

/** True when `v` is a multiple of `align` (a power of two). */
export function isAligned(v: bigint, align: bigint): boolean {
  return (v & (align - 1n)) === 0n;
}

export function alignDown(v: bigint, align: bigint): bigint {
  return v & ~(align - 1n);
}

/** Round up to `align` (a power of two); `undefined` when the result passes 2^64-1. */
export function alignUp(v: bigint, align: bigint): bigint | undefined {
  const r = (v + align - 1n) & ~(align - 1n);
  return r > U64_MAX ? undefined : r;
}

/**
 * Parses a u64 written in decimal, `0x` hex, `0o` octal or `0b` binary, with optional `_` separators.
 * Returns `undefined` for anything else (negative, fractional, too large, empty).
 */
export function parseU64(text: string): bigint | undefined {
  const t = text.trim();
  // `_` separates digits (1_000, 0xffff_ffff), as in JS and C23 literals; never first, last or doubled
  if (
    !/^(0[xX][0-9a-fA-F]+(_[0-9a-fA-F]+)*|0[oO][0-7]+(_[0-7]+)*|0[bB][01]+(_[01]+)*|[0-9]+(_[0-9]+)*)$/.test(
      t,
    )
  )
    return undefined;
  const v = BigInt(t.replace(/_/g, ''));
  return isU64(v) ? v : undefined;
}

const SIZE_SHIFT: Readonly<Record<string, bigint>> = {
  '': 0n,
  k: 10n,
  m: 20n,
  g: 30n,
  t: 40n,
  p: 50n,
  e: 60n,
};

/**
 * Sizes written as `512M`, `4G`, `1T`, `4KiB`, `0x1000` or plain bytes, and decimal fractions with a
 * unit as QEMU's size parser takes them (`3.5G`, `1.25M`) when they come to a whole number of bytes
 * (QEMU would drop the fraction of a byte; a layout check should not guess: see isFractionalSize).
 */
export function parseSize(text: string): bigint | undefined {
  const f = FRACTIONAL_SIZE.exec(text);
  if (f) {
    const digits = f[2]!;
    const scale = 10n ** BigInt(digits.length);
    const scaled = (BigInt(f[1]!) * scale + BigInt(digits)) << SIZE_SHIFT[f[3]!.toLowerCase()]!;
    if (scaled % scale !== 0n) return undefined;
    const v = scaled / scale;
    return isU64(v) ? v : undefined;
  }
  const m = /^\s*([0-9_]+|0[xX][0-9a-fA-F_]+)\s*([kKmMgGtTpPeE]?)(i?[bB])?\s*$/.exec(text);
  if (!m) return undefined;
  const base = parseU64(m[1]!);
  if (base === undefined) return undefined;
  const v = base << SIZE_SHIFT[m[2]!.toLowerCase()]!;
  return isU64(v) ? v : undefined;
}

/** A decimal fraction with a unit: `3.5G`. */
const FRACTIONAL_SIZE = /^\s*([0-9]+)\.([0-9]+)\s*([kKmMgGtTpPeE])(i?[bB])?\s*$/;

/** Is `text` a fractional size (`3.3G`)? parseSize refuses one that is not a whole number of bytes. */
export function isFractionalSize(text: string): boolean {
  return FRACTIONAL_SIZE.test(text);
}

/**
 * Human size with binary units, never silently rounded: `4 KiB`, `1 MiB`, `1.5 KiB` (exact with one
 * decimal), `2047 MiB` (exact in a smaller unit, at most 4 digits), else `~256.0 TiB` (rounded, marked).
 */
export function formatSize(bytes: bigint): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  if (bytes === 0n) return '0 B';
  let top = 0;
  while (top < units.length - 1 && bytes >= 1024n << BigInt(10 * top)) top++;
  const unit = (u: number) => 1n << BigInt(10 * u);
  // Exact with at most one decimal in the largest unit.
  if ((bytes * 10n) % unit(top) === 0n) {
    const tenths = (bytes * 10n) / unit(top);
    return tenths % 10n === 0n
      ? `${tenths / 10n} ${units[top]}`
      : `${tenths / 10n}.${tenths % 10n} ${units[top]}`;
  }
  // Exact as an integer of at most 4 digits in a smaller unit.
  for (let u = top - 1; u >= 0; u--) {
    if (bytes % unit(u) === 0n && bytes / unit(u) < 10000n) return `${bytes / unit(u)} ${units[u]}`;
  }
  const scaled = Number(bytes) / Number(unit(top));
  return `~${scaled.toFixed(1)} ${units[top]}`;
}
