/**
 * What part of the axis is on screen, and the exact mapping between addresses and pixels for one frame.
 *
 * The window is kept as two byte boundaries (bigint), not as axis units: a float axis position cannot
 * tell two pages apart inside a 2^64-byte piece, while the boundaries can. Within a frame every piece
 * keeps the axis' proportions (one "pixels per axis unit" scale for the whole width); the widths of the
 * partly visible pieces at the edges are computed relative to their own size, so nothing cancels out.
 *
 * Browser-safe: no Node APIs.
 */
import { type PiecewiseAxis, fraction, scaleBig } from './axis.js';

export const TWO64 = 1n << 64n;

export interface AxisWindow {
  /** First visible byte. */
  readonly lo: bigint;
  /** One past the last visible byte (at most 2^64). */
  readonly hi: bigint;
}

export const FULL_WINDOW: AxisWindow = { lo: 0n, hi: TWO64 };

/** A page never gets wider than this many pixels: the deepest zoom. */
export const MAX_PAGE_PX = 256;
export const PAGE = 4096n;

export interface Part {
  readonly seg: number;
  /** Visible bytes of the piece: [a0, a1). */
  readonly a0: bigint;
  readonly a1: bigint;
  readonly x0: number;
  readonly x1: number;
  readonly gap: boolean;
}

/** Axis units covered by [a, b) (relative computation per piece: exact for tiny spans in huge pieces). */
export function uWidth(axis: PiecewiseAxis, a: bigint, b: bigint): number {
  let w = 0;
  for (let i = axis.indexOf(a); i < axis.segments.length; i++) {
    const s = axis.segments[i]!;
    if (s.start >= b) break;
    const lo = a > s.start ? a : s.start;
    const hi = b < s.end + 1n ? b : s.end + 1n;
    if (hi > lo) w += (s.u1 - s.u0) * fraction(hi - lo, s.size);
  }
  return w;
}

/**
 * The boundary `px` pixels away from boundary `at` (negative = towards 0) at `pxPerU` pixels per axis
 * unit, walking piece by piece; clamped to [0, 2^64].
 */
export function advance(axis: PiecewiseAxis, at: bigint, px: number, pxPerU: number): bigint {
  const segs = axis.segments;
  let a = at;
  let rem = px;
  if (rem >= 0) {
    for (let i = axis.indexOf(a >= TWO64 ? TWO64 - 1n : a); i < segs.length; i++) {
      if (a >= TWO64) return TWO64;
      const s = segs[i]!;
      const segPx = (s.u1 - s.u0) * pxPerU;
      const toEnd = segPx * fraction(s.end + 1n - a, s.size);
      if (rem < toEnd) {
        const b = a + scaleBig(s.size, rem / segPx);
        return b > s.end + 1n ? s.end + 1n : b;
      }
      rem -= toEnd;
      a = s.end + 1n;
    }
    return TWO64;
  }
  rem = -rem;
  for (let i = axis.indexOf(a <= 0n ? 0n : a - 1n); i >= 0; i--) {
    if (a <= 0n) return 0n;
    const s = segs[i]!;
    const segPx = (s.u1 - s.u0) * pxPerU;
    const toStart = segPx * fraction(a - s.start, s.size);
    if (rem < toStart) {
      const b = a - scaleBig(s.size, rem / segPx);
      return b < s.start ? s.start : b;
    }
    rem -= toStart;
    a = s.start;
  }
  return 0n;
}

export class Projection {
  readonly parts: readonly Part[];
  /** First and last visible byte. */
  readonly first: bigint;
  readonly last: bigint;
  /** Pixels per axis unit in this frame. */
  readonly pxPerU: number;
  /** Axis position of the window's left edge. */
  readonly uLo: number;
  /**
   * True when the window spans enough axis units for plain float positions (xu) to be exact to far
   * below a pixel; deep zooms inside a huge piece use the bigint path (x) instead.
   */
  readonly floatSafe: boolean;

  constructor(
    readonly axis: PiecewiseAxis,
    readonly win: AxisWindow,
    readonly width: number,
  ) {
    const raw: { seg: number; a0: bigint; a1: bigint; u: number; gap: boolean }[] = [];
    let total = 0;
    for (let i = axis.indexOf(win.lo); i < axis.segments.length; i++) {
      const s = axis.segments[i]!;
      if (s.start >= win.hi) break;
      const a0 = win.lo > s.start ? win.lo : s.start;
      const a1 = win.hi < s.end + 1n ? win.hi : s.end + 1n;
      if (a1 <= a0) continue;
      const u = (s.u1 - s.u0) * fraction(a1 - a0, s.size);
      raw.push({ seg: i, a0, a1, u, gap: s.gap });
      total += u;
    }
    this.pxPerU = total > 0 ? width / total : width;
    this.uLo = axis.toU(win.lo);
    this.floatSafe = total >= 1e-7;
    let x = 0;
    this.parts = raw.map((r, k) => {
      const x0 = x;
      x = k === raw.length - 1 ? width : x + r.u * this.pxPerU;
      return { seg: r.seg, a0: r.a0, a1: r.a1, x0, x1: x, gap: r.gap };
    });
    this.first = this.parts[0]!.a0;
    this.last = this.parts[this.parts.length - 1]!.a1 - 1n;
  }

  private partOf(addr: bigint): number {
    const ps = this.parts;
    let lo = 0;
    let hi = ps.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (ps[mid]!.a0 <= addr) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Pixel of the boundary before byte `addr`; off-screen addresses give -1 or width+1. */
  x(addr: bigint): number {
    if (addr < this.first) return -1;
    if (addr > this.last + 1n) return this.width + 1;
    if (addr === this.last + 1n) return this.width;
    const p = this.parts[this.partOf(addr)]!;
    return p.x0 + (p.x1 - p.x0) * fraction(addr - p.a0, p.a1 - p.a0);
  }

  /** Pixel of axis position `u` (only meaningful when floatSafe). */
  xu(u: number): number {
    return (u - this.uLo) * this.pxPerU;
  }

  /** Pixel just after the last byte `end` (inclusive end). */
  xEnd(end: bigint): number {
    return this.x(end + 1n);
  }

  /** The address under pixel `x`. */
  addrAt(x: number): bigint {
    const ps = this.parts;
    let k = 0;
    while (k < ps.length - 1 && ps[k]!.x1 <= x) k++;
    const p = ps[k]!;
    const f = p.x1 > p.x0 ? Math.min(1, Math.max(0, (x - p.x0) / (p.x1 - p.x0))) : 0;
    const a = p.a0 + scaleBig(p.a1 - p.a0, f);
    return a >= p.a1 ? p.a1 - 1n : a;
  }

  /** Bytes per pixel around `addr` (how far zoomed in we are there). */
  bytesPerPixel(addr: bigint): number {
    const p = this.parts[this.partOf(addr)]!;
    const w = p.x1 - p.x0;
    return w > 0 ? Number(p.a1 - p.a0) / w : Infinity;
  }
}

/** The window `width` pixels wide at `pxPerU`, with boundary `at` at pixel `x`; clamped to the space. */
function place(axis: PiecewiseAxis, at: bigint, x: number, width: number, pxPerU: number): AxisWindow {
  if (pxPerU <= width * (1 + 1e-12)) return FULL_WINDOW;
  let lo = advance(axis, at, -x, pxPerU);
  let hi = advance(axis, at, width - x, pxPerU);
  if (lo === 0n) hi = advance(axis, 0n, width, pxPerU);
  else if (hi === TWO64) lo = advance(axis, TWO64, -width, pxPerU);
  if (hi <= lo) hi = lo + 1n;
  return { lo, hi };
}

/** Zoom by `factor` (> 1 zooms in) keeping the address under pixel `x` in place. */
export function zoomAt(
  axis: PiecewiseAxis,
  win: AxisWindow,
  x: number,
  factor: number,
  width: number,
): AxisWindow {
  const p = new Projection(axis, win, width);
  const at = p.addrAt(x);
  let pxPerU = p.pxPerU * factor;
  // Deepest zoom: a page of the piece under the cursor is at most MAX_PAGE_PX wide.
  const s = axis.segments[axis.indexOf(at)]!;
  const maxPxPerU = (MAX_PAGE_PX * Number(s.size)) / Number(PAGE) / (s.u1 - s.u0);
  if (factor > 1 && pxPerU > maxPxPerU) {
    if (p.pxPerU >= maxPxPerU * (1 - 1e-9)) return win;
    pxPerU = maxPxPerU;
  }
  return place(axis, at, x, width, pxPerU);
}

/** Pan by `dx` pixels (positive moves the view to higher addresses). */
export function panBy(axis: PiecewiseAxis, win: AxisWindow, dx: number, width: number): AxisWindow {
  const p = new Projection(axis, win, width);
  if (p.pxPerU <= width * (1 + 1e-12)) return FULL_WINDOW;
  return place(axis, advance(axis, win.lo, dx, p.pxPerU), 0, width, p.pxPerU);
}

/** A window showing [start, end] (inclusive) with a margin of `margin` of the width on both sides. */
export function windowFor(
  axis: PiecewiseAxis,
  start: bigint,
  end: bigint,
  width: number,
  margin = 0.08,
): AxisWindow {
  const u = uWidth(axis, start, end + 1n);
  if (u <= 0) return FULL_WINDOW;
  const pxPerU = (width * (1 - 2 * margin)) / u;
  return place(axis, start, width * margin, width, pxPerU);
}

export interface Tick {
  readonly x: number;
  readonly addr: bigint;
  /** A piece boundary (always labelled when room) rather than a grid line inside a piece. */
  readonly boundary: boolean;
}

/**
 * Axis ticks: every piece boundary on screen, plus, inside pieces wider than 1.5 * `target` pixels,
 * grid lines at multiples of a power of two (at least a page) about `target` pixels apart.
 */
export function ticks(p: Projection, target = 110): Tick[] {
  const out: Tick[] = [];
  for (const part of p.parts) {
    const seg = p.axis.segments[part.seg]!;
    if (part.a0 === seg.start) out.push({ x: part.x0, addr: seg.start, boundary: true });
    const w = part.x1 - part.x0;
    if (w < target * 1.5) continue;
    const bytes = part.a1 - part.a0;
    const want = (Number(bytes) / w) * target;
    const step = 1n << BigInt(Math.max(12, Math.round(Math.log2(Math.max(1, want)))));
    if (step >= bytes) continue;
    let a = ((part.a0 + step - 1n) / step) * step;
    if (a === seg.start) a += step;
    for (let n = 0; a < part.a1 && n < 200; a += step, n++) {
      out.push({ x: p.x(a), addr: a, boundary: false });
    }
  }
  return out;
}
