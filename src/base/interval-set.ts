/**
 * A set of u64 addresses kept as sorted, disjoint, non-adjacent inclusive ranges.
 * Used for "usable minus reserved" arithmetic. Building a set sorts once (O(n log n)); union, subtract
 * and intersect are linear sweeps over both sorted lists; membership tests are binary searches. (A host
 * may report thousands of reserved regions; hot paths such as the allocator have their own trees.)
 */
import { type Range, compareRanges } from './range.js';
import { U64_MAX } from './u64.js';

/** Does b start at or right after a's end (so that the two merge)? Careful with a.end == U64_MAX. */
function touches(a: Range, b: Range): boolean {
  return a.end === U64_MAX || b.start <= a.end + 1n;
}

/** Merge ranges sorted by start into the canonical form (disjoint, non-adjacent). */
function normalizeSorted(sorted: readonly Range[]): Range[] {
  const out: Range[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && touches(last, r)) {
      if (r.end > last.end) out[out.length - 1] = { start: last.start, end: r.end };
    } else out.push({ start: r.start, end: r.end });
  }
  return out;
}

/** Index of the last range whose start is <= a, or -1. */
function lastStartingAtOrBefore(items: readonly Range[], a: bigint): number {
  let lo = 0;
  let hi = items.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (items[mid]!.start <= a) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

export class IntervalSet {
  private readonly items: Range[];

  private constructor(items: Range[]) {
    this.items = items;
  }

  static empty(): IntervalSet {
    return new IntervalSet([]);
  }

  static full(): IntervalSet {
    return new IntervalSet([{ start: 0n, end: U64_MAX }]);
  }

  static of(ranges: Iterable<Range>): IntervalSet {
    const all = [...ranges].filter((r) => r.start <= r.end);
    all.sort(compareRanges);
    return new IntervalSet(normalizeSorted(all));
  }

  get ranges(): readonly Range[] {
    return this.items;
  }

  get isEmpty(): boolean {
    return this.items.length === 0;
  }

  clone(): IntervalSet {
    return new IntervalSet(this.items.slice());
  }

  union(other: IntervalSet): IntervalSet {
    // merge two sorted lists, then normalize
    const a = this.items;
    const b = other.items;
    const merged: Range[] = [];
    let i = 0;
    let j = 0;
    while (i < a.length || j < b.length) {
      if (j >= b.length || (i < a.length && a[i]!.start <= b[j]!.start)) merged.push(a[i++]!);
      else merged.push(b[j++]!);
    }
    return new IntervalSet(normalizeSorted(merged));
  }

  subtract(other: IntervalSet | Range): IntervalSet {
    const rs = other instanceof IntervalSet ? other.items : other.start <= other.end ? [other] : [];
    const out: Range[] = [];
    let j = 0;
    for (const a of this.items) {
      while (j < rs.length && rs[j]!.end < a.start) j++;
      let s = a.start;
      let covered = false;
      for (let k = j; k < rs.length && rs[k]!.start <= a.end; k++) {
        const b = rs[k]!;
        if (b.start > s) out.push({ start: s, end: b.start - 1n });
        if (b.end >= a.end) {
          covered = true;
          break;
        }
        if (b.end >= s) s = b.end + 1n;
      }
      if (!covered) out.push({ start: s, end: a.end });
    }
    return new IntervalSet(out);
  }

  intersect(other: IntervalSet | Range): IntervalSet {
    const rs = other instanceof IntervalSet ? other.items : other.start <= other.end ? [other] : [];
    const a = this.items;
    const out: Range[] = [];
    let i = 0;
    let j = 0;
    while (i < a.length && j < rs.length) {
      const x = a[i]!;
      const y = rs[j]!;
      const s = x.start > y.start ? x.start : y.start;
      const e = x.end < y.end ? x.end : y.end;
      if (s <= e) out.push({ start: s, end: e });
      if (x.end < y.end) i++;
      else j++;
    }
    return new IntervalSet(normalizeSorted(out));
  }

  containsRange(r: Range): boolean {
    const i = lastStartingAtOrBefore(this.items, r.start);
    return i >= 0 && r.end <= this.items[i]!.end;
  }

  containsAddr(a: bigint): boolean {
    const i = lastStartingAtOrBefore(this.items, a);
    return i >= 0 && a <= this.items[i]!.end;
  }

  overlapsRange(r: Range): boolean {
    // the last range starting at or before r.end is the only candidate (ranges are disjoint, sorted)
    const i = lastStartingAtOrBefore(this.items, r.end);
    return i >= 0 && this.items[i]!.end >= r.start;
  }

  /** Total number of bytes covered (may be 2^64). */
  get size(): bigint {
    return this.items.reduce((n, r) => n + (r.end - r.start + 1n), 0n);
  }
}
