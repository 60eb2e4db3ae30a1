/**
 * A piecewise-linear axis over the 64-bit IOVA space. A single linear axis cannot show a 4 KiB page and
 * 2^64 bytes at once, so the space is cut at every boundary of something worth seeing (a reserved
 * region, a mapping, a guest RAM bank, the aperture top). Each piece is linear inside; its width grows
 * with the logarithm of its size, and empty pieces (gaps) get less width than occupied ones and are
 * drawn with a break marker. Positions are in "axis units" u in [0, 1].
 *
 * Browser-safe: no Node APIs.
 */
import type { Range } from '../base/range.js';

const TWO64 = 1n << 64n;

export interface AxisSegment {
  readonly start: bigint;
  /** Inclusive. */
  readonly end: bigint;
  /** Bytes in the segment (may be 2^64). */
  readonly size: bigint;
  /** True when nothing marked covers this piece: it is compressed and drawn with a break. */
  readonly gap: boolean;
  readonly u0: number;
  readonly u1: number;
}

export interface AxisOptions {
  /** Width weight of an occupied segment of `bits` = log2(size). */
  occupiedWeight?: (bits: number) => number;
  /** Width weight of an empty segment. */
  gapWeight?: (bits: number) => number;
}

/** log2 of a positive bigint as a float (a double keeps 53 significant bits: plenty for widths). */
export function log2Big(v: bigint): number {
  return v <= 0n ? 0 : Math.log2(Number(v));
}

const defaultOccupied = (bits: number): number => 1 + bits / 4;
const defaultGap = (bits: number): number => 0.5 + bits / 12;

export class PiecewiseAxis {
  readonly segments: readonly AxisSegment[];
  /** Segment starts as a plain array for binary search. */
  private readonly starts: bigint[];

  private constructor(segments: AxisSegment[]) {
    this.segments = segments;
    this.starts = segments.map((s) => s.start);
  }

  /**
   * Cuts [0, 2^64-1] at every start and end+1 of `marks`; a piece covered by any mark is occupied.
   * `cuts` adds boundaries that do not occupy anything (e.g. the aperture top). O(n log n).
   */
  static build(marks: Iterable<Range>, cuts: Iterable<bigint> = [], opts: AxisOptions = {}): PiecewiseAxis {
    const occupiedWeight = opts.occupiedWeight ?? defaultOccupied;
    const gapWeight = opts.gapWeight ?? defaultGap;
    // Sweep events: +1 at start, -1 at end+1, 0 at a cut; sorted by address, equal addresses summed.
    const at: bigint[] = [0n, TWO64];
    const d: number[] = [0, 0];
    for (const m of marks) {
      if (m.end < m.start) continue;
      at.push(m.start, m.end + 1n);
      d.push(1, -1);
    }
    for (const c of cuts) {
      if (c > 0n && c < TWO64) {
        at.push(c);
        d.push(0);
      }
    }
    const order = Array.from(at.keys()).sort((i, j) => (at[i]! < at[j]! ? -1 : at[i]! > at[j]! ? 1 : 0));
    const raw: { start: bigint; end: bigint; size: bigint; gap: boolean; w: number }[] = [];
    let depth = 0;
    let k = 0;
    while (k < order.length) {
      const p = at[order[k]!]!;
      while (k < order.length && at[order[k]!]! === p) depth += d[order[k++]!]!;
      if (k >= order.length) break;
      const next = at[order[k]!]!;
      const size = next - p;
      const gap = depth <= 0;
      const bits = log2Big(size);
      raw.push({ start: p, end: next - 1n, size, gap, w: gap ? gapWeight(bits) : occupiedWeight(bits) });
    }
    const total = raw.reduce((a, r) => a + r.w, 0);
    let u = 0;
    const segs: AxisSegment[] = raw.map((r, i) => {
      const u0 = u;
      u = i === raw.length - 1 ? 1 : u + r.w / total;
      return { start: r.start, end: r.end, size: r.size, gap: r.gap, u0, u1: u };
    });
    return new PiecewiseAxis(segs);
  }

  /** Index of the segment holding `addr` (clamped to the space). */
  indexOf(addr: bigint): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= addr) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Index of the segment at axis position `u`. */
  indexAtU(u: number): number {
    const segs = this.segments;
    let lo = 0;
    let hi = segs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (segs[mid]!.u0 <= u) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Axis position of the first byte of `addr`. */
  toU(addr: bigint): number {
    const s = this.segments[this.indexOf(addr)]!;
    return s.u0 + (s.u1 - s.u0) * fraction(addr - s.start, s.size);
  }

  /** The address at axis position `u` (clamped to [0, 2^64-1]). */
  fromU(u: number): bigint {
    if (u <= 0) return 0n;
    if (u >= 1) return TWO64 - 1n;
    const s = this.segments[this.indexAtU(u)]!;
    const f = s.u1 > s.u0 ? (u - s.u0) / (s.u1 - s.u0) : 0;
    const off = scaleBig(s.size, f);
    const a = s.start + off;
    return a > s.end ? s.end : a;
  }
}

/**
 * `num / den` as a float in [0, 1]. Converting each operand to a double loses at most 2^-53 of it, so
 * the ratio is exact to about 2^-52 whatever the magnitudes (differences are taken in bigint first).
 */
export function fraction(num: bigint, den: bigint): number {
  return den <= 0n ? 0 : Number(num) / Number(den);
}

/** floor(size * f) for f in [0, 1], clamped to [0, size]. */
export function scaleBig(size: bigint, f: number): bigint {
  if (f <= 0) return 0n;
  if (f >= 1) return size;
  const v = BigInt(Math.floor(Number(size) * f));
  return v > size ? size : v;
}
