/**
 * A set of u64 addresses kept as sorted, disjoint, non-adjacent inclusive ranges.
 * Used for "usable minus reserved" arithmetic. Operations are O(n) in the number of ranges, which is
 * small (tens) wherever this set is used; hot paths (allocator, DMA mappings) have their own trees.
 */
import { type Range, compareRanges } from './range.js';
import { U64_MAX } from './u64.js';

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
    const s = IntervalSet.empty();
    for (const r of ranges) s.addInPlace(r);
    return s;
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
    const s = this.clone();
    for (const r of other.items) s.addInPlace(r);
    return s;
  }

  subtract(other: IntervalSet | Range): IntervalSet {
    const s = this.clone();
    const rs = other instanceof IntervalSet ? other.items : [other];
    for (const r of rs) s.removeInPlace(r);
    return s;
  }

  intersect(other: IntervalSet | Range): IntervalSet {
    const rs = other instanceof IntervalSet ? other.items : [other];
    const out: Range[] = [];
    for (const a of this.items) {
      for (const b of rs) {
        const s = a.start > b.start ? a.start : b.start;
        const e = a.end < b.end ? a.end : b.end;
        if (s <= e) out.push({ start: s, end: e });
      }
    }
    return IntervalSet.of(out.sort(compareRanges));
  }

  containsRange(r: Range): boolean {
    return this.items.some((x) => x.start <= r.start && r.end <= x.end);
  }

  containsAddr(a: bigint): boolean {
    return this.items.some((x) => x.start <= a && a <= x.end);
  }

  overlapsRange(r: Range): boolean {
    return this.items.some((x) => x.start <= r.end && r.start <= x.end);
  }

  /** Total number of bytes covered (may be 2^64). */
  get size(): bigint {
    return this.items.reduce((n, r) => n + (r.end - r.start + 1n), 0n);
  }

  private addInPlace(r: Range): void {
    let start = r.start;
    let end = r.end;
    const kept: Range[] = [];
    let inserted = false;
    for (const x of this.items) {
      // Merge overlapping or touching ranges (careful with end == U64_MAX).
      const touches =
        x.start <= (end === U64_MAX ? end : end + 1n) && start <= (x.end === U64_MAX ? x.end : x.end + 1n);
      if (touches) {
        if (x.start < start) start = x.start;
        if (x.end > end) end = x.end;
      } else if (x.end < start) {
        kept.push(x);
      } else {
        if (!inserted) {
          kept.push({ start, end });
          inserted = true;
        }
        kept.push(x);
      }
    }
    if (!inserted) kept.push({ start, end });
    this.items.splice(0, this.items.length, ...kept);
  }

  private removeInPlace(r: Range): void {
    const out: Range[] = [];
    for (const x of this.items) {
      if (x.end < r.start || x.start > r.end) {
        out.push(x);
        continue;
      }
      if (x.start < r.start) out.push({ start: x.start, end: r.start - 1n });
      if (x.end > r.end) out.push({ start: r.end + 1n, end: x.end });
    }
    this.items.splice(0, this.items.length, ...out);
  }
}
