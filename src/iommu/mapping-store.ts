/**
 * The translations of one paging domain: disjoint runs of pages `[start, end]` (inclusive page frame
 * numbers in units of the domain's smallest page size) with their physical frame and prot. Stands in
 * for the driver's page table. An AVL tree kept in typed arrays: O(log n) lookup, insert and remove,
 * about 34 bytes per mapping, so VFIO can hold 10^6 mappings.
 *
 * Frame numbers are JS numbers: with pages of at least 2 KiB a u64 address gives a frame below 2^53.
 */

const NIL = -1;

export interface StoredRun {
  readonly start: number;
  readonly end: number;
  readonly pfn: number;
  readonly prot: number;
}

export class MappingStore {
  private left = new Int32Array(16);
  private right = new Int32Array(16);
  private height = new Int8Array(16);
  private starts = new Float64Array(16);
  private ends = new Float64Array(16);
  private pfns = new Float64Array(16);
  private prots = new Uint8Array(16);
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
    if (i === NIL || this.ends[i]! < f) return undefined;
    return this.run(i);
  }

  /** The first run whose end is >= f (the run containing f, or the next one). */
  ceilingRun(f: number): StoredRun | undefined {
    const i = this.floor(f);
    if (i !== NIL && this.ends[i]! >= f) return this.run(i);
    const j = this.higher(f);
    return j === NIL ? undefined : this.run(j);
  }

  /** True when any frame of [start, end] is mapped. */
  overlaps(start: number, end: number): boolean {
    const r = this.ceilingRun(start);
    return r !== undefined && r.start <= end;
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
        i = this.left[i]!;
      }
      const j = stack.pop()!;
      yield this.run(j);
      i = this.right[j]!;
    }
  }

  private run(i: number): StoredRun {
    return { start: this.starts[i]!, end: this.ends[i]!, pfn: this.pfns[i]!, prot: this.prots[i]! };
  }

  /** Node with the greatest start <= f. */
  private floor(f: number): number {
    let i = this.root;
    let best = NIL;
    while (i !== NIL) {
      if (this.starts[i]! <= f) {
        best = i;
        i = this.right[i]!;
      } else {
        i = this.left[i]!;
      }
    }
    return best;
  }

  /** Node with the smallest start > f. */
  private higher(f: number): number {
    let i = this.root;
    let best = NIL;
    while (i !== NIL) {
      if (this.starts[i]! > f) {
        best = i;
        i = this.left[i]!;
      } else {
        i = this.right[i]!;
      }
    }
    return best;
  }

  private alloc(start: number, end: number, pfn: number, prot: number): number {
    let i: number;
    if (this.freeList.length > 0) {
      i = this.freeList.pop()!;
    } else {
      if (this.used === this.starts.length) this.grow();
      i = this.used++;
    }
    this.left[i] = NIL;
    this.right[i] = NIL;
    this.height[i] = 1;
    this.starts[i] = start;
    this.ends[i] = end;
    this.pfns[i] = pfn;
    this.prots[i] = prot;
    return i;
  }

  private grow(): void {
    const cap = this.starts.length * 2;
    const g = <T extends Int32Array | Int8Array | Float64Array | Uint8Array>(
      a: T,
      make: (n: number) => T,
    ): T => {
      const b = make(cap);
      b.set(a);
      return b;
    };
    this.left = g(this.left, (n) => new Int32Array(n));
    this.right = g(this.right, (n) => new Int32Array(n));
    this.height = g(this.height, (n) => new Int8Array(n));
    this.starts = g(this.starts, (n) => new Float64Array(n));
    this.ends = g(this.ends, (n) => new Float64Array(n));
    this.pfns = g(this.pfns, (n) => new Float64Array(n));
    this.prots = g(this.prots, (n) => new Uint8Array(n));
  }

  private h(i: number): number {
    return i === NIL ? 0 : this.height[i]!;
  }

  private fix(i: number): void {
    this.height[i] = 1 + Math.max(this.h(this.left[i]!), this.h(this.right[i]!));
  }

  private rotRight(i: number): number {
    const l = this.left[i]!;
    this.left[i] = this.right[l]!;
    this.right[l] = i;
    this.fix(i);
    this.fix(l);
    return l;
  }

  private rotLeft(i: number): number {
    const r = this.right[i]!;
    this.right[i] = this.left[r]!;
    this.left[r] = i;
    this.fix(i);
    this.fix(r);
    return r;
  }

  private balance(i: number): number {
    this.fix(i);
    const bf = this.h(this.left[i]!) - this.h(this.right[i]!);
    if (bf > 1) {
      const l = this.left[i]!;
      if (this.h(this.left[l]!) < this.h(this.right[l]!)) this.left[i] = this.rotLeft(l);
      return this.rotRight(i);
    }
    if (bf < -1) {
      const r = this.right[i]!;
      if (this.h(this.right[r]!) < this.h(this.left[r]!)) this.right[i] = this.rotRight(r);
      return this.rotLeft(i);
    }
    return i;
  }

  private ins(t: number, i: number): number {
    if (t === NIL) return i;
    if (this.starts[i]! < this.starts[t]!) this.left[t] = this.ins(this.left[t]!, i);
    else this.right[t] = this.ins(this.right[t]!, i);
    return this.balance(t);
  }

  private del(t: number, key: number): number {
    if (t === NIL) return NIL;
    const k = this.starts[t]!;
    if (key < k) {
      this.left[t] = this.del(this.left[t]!, key);
    } else if (key > k) {
      this.right[t] = this.del(this.right[t]!, key);
    } else {
      const l = this.left[t]!;
      const r = this.right[t]!;
      this.freeList.push(t);
      if (l === NIL) return r;
      if (r === NIL) return l;
      // Replace by the smallest node of the right subtree.
      let m = r;
      while (this.left[m]! !== NIL) m = this.left[m]!;
      this.right[m] = this.delMin(r);
      this.left[m] = l;
      return this.balance(m);
    }
    return this.balance(t);
  }

  private delMin(t: number): number {
    const l = this.left[t]!;
    if (l === NIL) return this.right[t]!;
    this.left[t] = this.delMin(l);
    return this.balance(t);
  }
}
