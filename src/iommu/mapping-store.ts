/**
 * The translations of one paging domain: disjoint runs of pages `[start, end]` (inclusive page frame
 * numbers in units of the domain's smallest page size) with their physical frame and prot. Stands in
 * for the driver's page table. An AVL tree whose nodes are 48-byte records in one Float64Array (one
 * cache line per visited node): O(log n) lookup, insert and remove, so VFIO can hold 10^6 mappings.
 *
 * Frame numbers are JS numbers: with pages of at least 2 KiB a u64 address gives a frame below 2^53.
 */

const NIL = -1;
/** Record layout (stride W doubles). */
const W = 6;
const START = 0;
const END = 1;
const PFN = 2;
const LEFT = 3;
const RIGHT = 4;
const HP = 5;

export interface StoredRun {
  readonly start: number;
  readonly end: number;
  readonly pfn: number;
  readonly prot: number;
}

export class MappingStore {
  /** Node records: start, end, pfn, left, right, height * 256 + prot. */
  private rec = new Float64Array(16 * W);
  private root = NIL;
  private used = 0;
  private freeList: number[] = [];
  private n = 0;

  /** Number of runs. */
  get size(): number {
    return this.n;
  }

  /** The run containing frame `f`, or undefined. */
  find(f: number): StoredRun | undefined {
    const i = this.floor(f);
    if (i === NIL || this.rec[i + END]! < f) return undefined;
    return this.run(i);
  }

  /** The physical frame for frame `f`, or -1 when unmapped (no allocation: the hot path). */
  frameOf(f: number): number {
    const i = this.floor(f);
    if (i === NIL || this.rec[i + END]! < f) return -1;
    return this.rec[i + PFN]! + (f - this.rec[i + START]!);
  }

  /** The first run whose end is >= f (the run containing f, or the next one). */
  ceilingRun(f: number): StoredRun | undefined {
    const i = this.floor(f);
    if (i !== NIL && this.rec[i + END]! >= f) return this.run(i);
    const j = this.higher(f);
    return j === NIL ? undefined : this.run(j);
  }

  /** True when any frame of [start, end] is mapped. */
  overlaps(start: number, end: number): boolean {
    const i = this.floor(start);
    if (i !== NIL && this.rec[i + END]! >= start) return true;
    const j = this.higher(start);
    return j !== NIL && this.rec[j + START]! <= end;
  }

  /** Adds a run; false (nothing changed) when it overlaps an existing run. */
  insert(start: number, end: number, pfn: number, prot: number): boolean {
    if (this.overlaps(start, end)) return false;
    const i = this.alloc(start, end, pfn, prot);
    this.root = this.ins(this.root, i);
    this.n++;
    return true;
  }

  /**
   * Removes frames [start, end] from whatever runs cover them, splitting runs that stick out.
   * Returns the number of frames removed.
   */
  removeRange(start: number, end: number): number {
    let removed = 0;
    for (;;) {
      const r = this.ceilingRun(start);
      if (r === undefined || r.start > end) break;
      this.root = this.del(this.root, r.start);
      this.n--;
      const s = Math.max(r.start, start);
      const e = Math.min(r.end, end);
      removed += e - s + 1;
      if (r.start < s) this.insert(r.start, s - 1, r.pfn, r.prot);
      if (r.end > e) this.insert(e + 1, r.end, r.pfn + (e + 1 - r.start), r.prot);
    }
    return removed;
  }

  clear(): void {
    this.root = NIL;
    this.used = 0;
    this.freeList = [];
    this.n = 0;
  }

  /** Runs in ascending order. */
  *runs(): Generator<StoredRun> {
    const stack: number[] = [];
    let i = this.root;
    while (i !== NIL || stack.length > 0) {
      while (i !== NIL) {
        stack.push(i);
        i = this.rec[i + LEFT]!;
      }
      const j = stack.pop()!;
      yield this.run(j);
      i = this.rec[j + RIGHT]!;
    }
  }

  private run(i: number): StoredRun {
    const r = this.rec;
    return { start: r[i + START]!, end: r[i + END]!, pfn: r[i + PFN]!, prot: r[i + HP]! % 256 };
  }

  /** Node with the greatest start <= f. */
  private floor(f: number): number {
    const r = this.rec;
    let i = this.root;
    let best = NIL;
    while (i !== NIL) {
      if (r[i + START]! <= f) {
        best = i;
        i = r[i + RIGHT]!;
      } else {
        i = r[i + LEFT]!;
      }
    }
    return best;
  }

  /** Node with the smallest start > f. */
  private higher(f: number): number {
    const r = this.rec;
    let i = this.root;
    let best = NIL;
    while (i !== NIL) {
      if (r[i + START]! > f) {
        best = i;
        i = r[i + LEFT]!;
      } else {
        i = r[i + RIGHT]!;
      }
    }
    return best;
  }

  private alloc(start: number, end: number, pfn: number, prot: number): number {
    let i: number;
    if (this.freeList.length > 0) {
      i = this.freeList.pop()!;
    } else {
      if ((this.used + 1) * W > this.rec.length) {
        const b = new Float64Array(this.rec.length * 2);
        b.set(this.rec);
        this.rec = b;
      }
      i = this.used++ * W;
    }
    const r = this.rec;
    r[i + START] = start;
    r[i + END] = end;
    r[i + PFN] = pfn;
    r[i + LEFT] = NIL;
    r[i + RIGHT] = NIL;
    r[i + HP] = 256 + (prot & 0xff);
    return i;
  }

  private h(i: number): number {
    return i === NIL ? 0 : Math.floor(this.rec[i + HP]! / 256);
  }

  private fix(i: number): void {
    const r = this.rec;
    const hh = 1 + Math.max(this.h(r[i + LEFT]!), this.h(r[i + RIGHT]!));
    r[i + HP] = hh * 256 + (r[i + HP]! % 256);
  }

  private rotRight(i: number): number {
    const r = this.rec;
    const l = r[i + LEFT]!;
    r[i + LEFT] = r[l + RIGHT]!;
    r[l + RIGHT] = i;
    this.fix(i);
    this.fix(l);
    return l;
  }

  private rotLeft(i: number): number {
    const r = this.rec;
    const x = r[i + RIGHT]!;
    r[i + RIGHT] = r[x + LEFT]!;
    r[x + LEFT] = i;
    this.fix(i);
    this.fix(x);
    return x;
  }

  private balance(i: number): number {
    const r = this.rec;
    this.fix(i);
    const bf = this.h(r[i + LEFT]!) - this.h(r[i + RIGHT]!);
    if (bf > 1) {
      const l = r[i + LEFT]!;
      if (this.h(r[l + LEFT]!) < this.h(r[l + RIGHT]!)) r[i + LEFT] = this.rotLeft(l);
      return this.rotRight(i);
    }
    if (bf < -1) {
      const x = r[i + RIGHT]!;
      if (this.h(r[x + RIGHT]!) < this.h(r[x + LEFT]!)) r[i + RIGHT] = this.rotRight(x);
      return this.rotLeft(i);
    }
    return i;
  }

  private ins(t: number, i: number): number {
    if (t === NIL) return i;
    const r = this.rec;
    if (r[i + START]! < r[t + START]!) r[t + LEFT] = this.ins(r[t + LEFT]!, i);
    else r[t + RIGHT] = this.ins(r[t + RIGHT]!, i);
    return this.balance(t);
  }

  private del(t: number, key: number): number {
    if (t === NIL) return NIL;
    const r = this.rec;
    const k = r[t + START]!;
    if (key < k) {
      r[t + LEFT] = this.del(r[t + LEFT]!, key);
    } else if (key > k) {
      r[t + RIGHT] = this.del(r[t + RIGHT]!, key);
    } else {
      const l = r[t + LEFT]!;
      const rt = r[t + RIGHT]!;
      this.freeList.push(t);
      if (l === NIL) return rt;
      if (rt === NIL) return l;
      // Replace by the smallest node of the right subtree.
      let m = rt;
      while (r[m + LEFT]! !== NIL) m = r[m + LEFT]!;
      r[m + RIGHT] = this.delMin(rt);
      r[m + LEFT] = l;
      return this.balance(m);
    }
    return this.balance(t);
  }

  private delMin(t: number): number {
    const r = this.rec;
    const l = r[t + LEFT]!;
    if (l === NIL) return r[t + RIGHT]!;
    r[t + LEFT] = this.delMin(l);
    return this.balance(t);
  }
}
