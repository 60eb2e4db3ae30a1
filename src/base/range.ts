/**
 * Inclusive address ranges `[start, end]`, as the kernel keeps them (`end` is the last byte).
 * A range can cover the whole 64-bit space: `[0, 2^64-1]` has 2^64 bytes, which is why the length is a
 * derived `bigint` and never stored.
 */
import { U64_MAX, hex16 } from './u64.js';

export interface Range {
  readonly start: bigint;
  /** Inclusive last byte. */
  readonly end: bigint;
}

export function range(start: bigint, end: bigint): Range {
  if (start < 0n || end > U64_MAX || end < start) {
    throw new RangeError(`invalid range [${hex16(start)}, ${hex16(end)}]`);
  }
  return { start, end };
}

/** `[start, start+length-1]`; throws when length is 0 or the range passes 2^64-1. */
export function rangeOfLength(start: bigint, length: bigint): Range {
  if (length <= 0n) throw new RangeError('range length must be positive');
  return range(start, start + length - 1n);
}

export function rangeLength(r: Range): bigint {
  return r.end - r.start + 1n;
}

export function overlaps(a: Range, b: Range): boolean {
  return a.start <= b.end && b.start <= a.end;
}

export function contains(outer: Range, inner: Range): boolean {
  return outer.start <= inner.start && inner.end <= outer.end;
}

export function containsAddr(r: Range, addr: bigint): boolean {
  return r.start <= addr && addr <= r.end;
}

export function intersect(a: Range, b: Range): Range | undefined {
  const s = a.start > b.start ? a.start : b.start;
  const e = a.end < b.end ? a.end : b.end;
  return s <= e ? { start: s, end: e } : undefined;
}

export function formatRange(r: Range): string {
  return `[${hex16(r.start)}, ${hex16(r.end)}]`;
}

export function compareRanges(a: Range, b: Range): number {
  return a.start < b.start ? -1 : a.start > b.start ? 1 : a.end < b.end ? -1 : a.end > b.end ? 1 : 0;
}
