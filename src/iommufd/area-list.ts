/**
 * The areas of an IOAS in IOVA order (the kernel's area_itree): disjoint `[start, last]` spans kept in
 * sorted chunks of at most CHUNK entries, so a lookup is two binary searches and an insert or removal
 * moves at most one chunk (O(log n + CHUNK), against O(n) for one sorted array).
 */

/** Entries per chunk before it splits. */
const CHUNK = 64;

export interface Span64 {
  readonly start: bigint;
  readonly last: bigint;
}

export class AreaList<T extends Span64> implements Iterable<T> {
  private chunks: T[][] = [];
  /**
   * Per chunk, the widest gap before or between its entries (from the previous chunk's last entry, or
   * from -1 for the first chunk): a search for a hole of some length skips every chunk narrower.
   * Computed when a search needs it; undefined after the chunk (or the one before it) changed.
   */
  private gaps: (bigint | undefined)[] = [];
  private n = 0;

  get size(): number {
    return this.n;
  }

  /** Index of the first chunk whose last entry ends at or after `iova` (chunks.length if none). */
  private chunkFor(iova: bigint): number {
    let lo = 0;
    let hi = this.chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const c = this.chunks[mid]!;
      if (c[c.length - 1]!.last < iova) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Position [chunk, index] of the first entry with last >= iova, or undefined. */
  private seek(iova: bigint): [number, number] | undefined {
    const ci = this.chunkFor(iova);
    const c = this.chunks[ci];
    if (!c) return undefined;
    let lo = 0;
    let hi = c.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (c[mid]!.last < iova) lo = mid + 1;
      else hi = mid;
    }
    return [ci, lo];
  }

  /** The first entry with last >= iova (it may start after iova), or undefined. */
  ceil(iova: bigint): T | undefined {
    const p = this.seek(iova);
    return p && this.chunks[p[0]]![p[1]];
  }

  first(): T | undefined {
    return this.chunks[0]?.[0];
  }

  private gapOf(ci: number): bigint {
    const c = this.chunks[ci]!;
    const prev = ci > 0 ? this.chunks[ci - 1]! : undefined;
    let m = c[0]!.start - (prev ? prev[prev.length - 1]!.last : -1n) - 1n;
    for (let i = 1; i < c.length; i++) {
      const g = c[i]!.start - c[i - 1]!.last - 1n;
      if (g > m) m = g;
    }
    return m;
  }

  /** Chunk ci's widest gap is stale (it or the chunk before it changed). */
  private regap(ci: number): void {
    if (ci >= 0 && ci < this.chunks.length) this.gaps[ci] = undefined;
  }

  private gapAt(ci: number): bigint {
    return (this.gaps[ci] ??= this.gapOf(ci));
  }

  /** Inserts an entry that overlaps none. */
  insert(a: T): void {
    this.n++;
    if (this.chunks.length === 0) {
      this.chunks.push([a]);
      this.gaps.push(undefined);
      return;
    }
    let ci = this.chunkFor(a.start);
    if (ci === this.chunks.length) ci--;
    const c = this.chunks[ci]!;
    let lo = 0;
    let hi = c.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (c[mid]!.start < a.start) lo = mid + 1;
      else hi = mid;
    }
    c.splice(lo, 0, a);
    if (c.length > CHUNK) {
      this.chunks.splice(ci + 1, 0, c.splice(CHUNK >> 1));
      this.gaps.splice(ci + 1, 0, undefined);
      this.regap(ci + 2);
    }
    this.regap(ci);
    this.regap(ci + 1);
  }

  /** Removes this entry (by identity); false when it is not in the list. */
  remove(a: T): boolean {
    const p = this.seek(a.start);
    if (!p) return false;
    const [ci, i] = p;
    const c = this.chunks[ci]!;
    if (c[i] !== a) return false;
    c.splice(i, 1);
    if (c.length === 0) {
      this.chunks.splice(ci, 1);
      this.gaps.splice(ci, 1);
    } else this.regap(ci);
    this.regap(ci + (c.length === 0 ? 0 : 1));
    this.n--;
    return true;
  }

  /**
   * Like `from(iova)`, but a chunk whose gaps are all narrower than `minGap` comes as one span covering
   * it and the gap before it (no hole there can hold `minGap` bytes): a search for a free hole of that
   * size visits O(n / CHUNK + CHUNK) spans instead of every entry.
   */
  *fromSkipping(iova: bigint, minGap: bigint): Generator<Span64> {
    const p = this.seek(iova);
    if (!p) return;
    for (let ci = p[0], i = p[1]; ci < this.chunks.length; ci++, i = 0) {
      const c = this.chunks[ci]!;
      if (this.gapAt(ci) < minGap) {
        const prev = ci > 0 ? this.chunks[ci - 1]! : undefined;
        const start = prev ? prev[prev.length - 1]!.last + 1n : 0n;
        yield { start, last: c[c.length - 1]!.last };
        continue;
      }
      for (; i < c.length; i++) yield c[i]!;
    }
  }

  /** Entries in IOVA order from the first with last >= iova. */
  *from(iova: bigint): Generator<T> {
    const p = this.seek(iova);
    if (!p) return;
    for (let ci = p[0], i = p[1]; ci < this.chunks.length; ci++, i = 0) {
      const c = this.chunks[ci]!;
      for (; i < c.length; i++) yield c[i]!;
    }
  }

  *[Symbol.iterator](): Generator<T> {
    for (const c of this.chunks) yield* c;
  }

  every(fn: (a: T) => boolean): boolean {
    for (const c of this.chunks) for (const a of c) if (!fn(a)) return false;
    return true;
  }
}
