/**
 * The type1 `dma_list` (an rb-tree of `struct vfio_dma` keyed by iova in the kernel): non-overlapping
 * mappings with O(log n) lookup, insert and remove. Kept as an AVL tree in typed arrays (about 34 bytes
 * per mapping) so a container can hold 10^6 live mappings cheaply.
 *
 * Units are 4 KiB page frames as JS numbers: type1 requires every iova, size and vaddr to be a multiple
 * of its minimum page size, which is never below PAGE_SIZE, so a u64 address gives a frame < 2^52.
 */

const NIL = -1;

/** Per-mapping flag bits stored next to the frames. */
export const DMA_READ = 1;
export const DMA_WRITE = 2;
/** vfio_dma.vaddr_invalid (VFIO_DMA_UNMAP_FLAG_VADDR). */
export const DMA_VADDR_INVALID = 4;

export interface DmaEntry {
  /** First iova frame. */
  readonly iova: number;
  /** Number of frames (>= 1). */
  readonly pages: number;
  /** First user vaddr frame. */
  readonly vaddr: number;
  readonly flags: number;
}

export class DmaTree {
  private left = new Int32Array(64);
  private right = new Int32Array(64);
  private height = new Int8Array(64);
  private keys = new Float64Array(64);
  private lens = new Float64Array(64);
  private vaddrs = new Float64Array(64);
  private flagv = new Uint8Array(64);
  private root = NIL;
  private used = 0;
  private free: number[] = [];
  private n = 0;

  get size(): number {
    return this.n;
  }

  /** Approximate bytes held by the arrays (for benchmarks). */
  get byteSize(): number {
    return this.left.length * 34 + this.free.length * 8;
  }

  clear(): void {
    this.root = NIL;
    this.used = 0;
    this.free = [];
    this.n = 0;
  }

  entry(i: number): DmaEntry {
    return { iova: this.keys[i]!, pages: this.lens[i]!, vaddr: this.vaddrs[i]!, flags: this.flagv[i]! };
  }

  iovaOf(i: number): number {
    return this.keys[i]!;
  }
  pagesOf(i: number): number {
    return this.lens[i]!;
  }
  /** Last frame (inclusive). */
  lastOf(i: number): number {
    return this.keys[i]! + this.lens[i]! - 1;
  }
  flagsOf(i: number): number {
    return this.flagv[i]!;
  }
  vaddrOf(i: number): number {
    return this.vaddrs[i]!;
  }
  setFlags(i: number, f: number): void {
    this.flagv[i] = f;
  }
  setVaddr(i: number, v: number): void {
    this.vaddrs[i] = v;
  }

  /** Node with the greatest start <= f, or NIL. */
  floor(f: number): number {
    let x = this.root;
    let best = NIL;
    const keys = this.keys;
    while (x !== NIL) {
      if (keys[x]! <= f) {
        best = x;
        x = this.right[x]!;
      } else x = this.left[x]!;
    }
    return best;
  }

  /** Node with the smallest start > f, or NIL. */
  higher(f: number): number {
    let x = this.root;
    let best = NIL;
    const keys = this.keys;
    while (x !== NIL) {
      if (keys[x]! > f) {
        best = x;
        x = this.left[x]!;
      } else x = this.right[x]!;
    }
    return best;
  }

  /** vfio_find_dma: some mapping intersecting frames [start, end], or NIL. */
  findIntersecting(start: number, end: number): number {
    const i = this.floor(end);
    if (i === NIL) return NIL;
    return this.keys[i]! + this.lens[i]! - 1 >= start ? i : NIL;
  }

  /** The mapping containing frame f, or NIL. */
  containing(f: number): number {
    const i = this.floor(f);
    if (i === NIL) return NIL;
    return this.keys[i]! + this.lens[i]! - 1 >= f ? i : NIL;
  }

  /** vfio_find_dma_first_node: lowest mapping whose last frame >= start (it may start after `end`). */
  firstFrom(start: number): number {
    const i = this.floor(start);
    if (i !== NIL && this.keys[i]! + this.lens[i]! - 1 >= start) return i;
    return this.higher(start);
  }

  /** The next mapping in iova order. */
  next(i: number): number {
    return this.higher(this.keys[i]!);
  }

  /** In-order iteration (for invariant checks, replay and reports). */
  *entries(): IterableIterator<DmaEntry> {
    let i = this.firstFrom(0);
    while (i !== NIL) {
      yield this.entry(i);
      i = this.next(i);
    }
  }

  /** Inserts a mapping; the caller guarantees it overlaps nothing. Returns its node index. */
  insert(iova: number, pages: number, vaddr: number, flags: number): number {
    const i = this.alloc();
    this.keys[i] = iova;
    this.lens[i] = pages;
    this.vaddrs[i] = vaddr;
    this.flagv[i] = flags;
    this.left[i] = NIL;
    this.right[i] = NIL;
    this.height[i] = 1;
    this.root = this.ins(this.root, i);
    this.n++;
    return i;
  }

  /** Removes the mapping starting at frame `iova`; false when there is none. */
  remove(iova: number): boolean {
    const before = this.n;
    this.root = this.del(this.root, iova);
    return this.n < before;
  }

  /** Checks the AVL and ordering invariants (tests, fuzzing). Returns a problem or undefined. */
  check(): string | undefined {
    let count = 0;
    let prevEnd = -1;
    const walk = (x: number, lo: number, hi: number): number => {
      if (x === NIL) return 0;
      const k = this.keys[x]!;
      if (k < lo || k > hi) throw new Error(`key ${k} out of order`);
      const hl = walk(this.left[x]!, lo, k);
      if (k <= prevEnd) throw new Error(`mapping at frame ${k} overlaps the previous one`);
      if (!(this.lens[x]! >= 1)) throw new Error(`mapping at frame ${k} has no pages`);
      prevEnd = k + this.lens[x]! - 1;
      count++;
      const hr = walk(this.right[x]!, k, hi);
      if (Math.abs(hl - hr) > 1) throw new Error(`unbalanced at frame ${k}`);
      const h = Math.max(hl, hr) + 1;
      if (this.height[x] !== h) throw new Error(`stale height at frame ${k}`);
      return h;
    };
    try {
      walk(this.root, -Infinity, Infinity);
    } catch (e) {
      return (e as Error).message;
    }
    return count === this.n ? undefined : `count ${count} != size ${this.n}`;
  }

  private alloc(): number {
    const f = this.free.pop();
    if (f !== undefined) return f;
    if (this.used === this.keys.length) this.grow();
    return this.used++;
  }

  private grow(): void {
    const cap = this.keys.length * 2;
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
    this.keys = g(this.keys, (n) => new Float64Array(n));
    this.lens = g(this.lens, (n) => new Float64Array(n));
    this.vaddrs = g(this.vaddrs, (n) => new Float64Array(n));
    this.flagv = g(this.flagv, (n) => new Uint8Array(n));
  }

  private h(x: number): number {
    return x === NIL ? 0 : this.height[x]!;
  }

  private fix(x: number): void {
    const a = this.h(this.left[x]!);
    const b = this.h(this.right[x]!);
    this.height[x] = (a > b ? a : b) + 1;
  }

  private rotR(x: number): number {
    const y = this.left[x]!;
    this.left[x] = this.right[y]!;
    this.right[y] = x;
    this.fix(x);
    this.fix(y);
    return y;
  }

  private rotL(x: number): number {
    const y = this.right[x]!;
    this.right[x] = this.left[y]!;
    this.left[y] = x;
    this.fix(x);
    this.fix(y);
    return y;
  }

  private balance(x: number): number {
    this.fix(x);
    const bf = this.h(this.left[x]!) - this.h(this.right[x]!);
    if (bf > 1) {
      const l = this.left[x]!;
      if (this.h(this.left[l]!) < this.h(this.right[l]!)) this.left[x] = this.rotL(l);
      return this.rotR(x);
    }
    if (bf < -1) {
      const r = this.right[x]!;
      if (this.h(this.right[r]!) < this.h(this.left[r]!)) this.right[x] = this.rotR(r);
      return this.rotL(x);
    }
    return x;
  }

  private ins(x: number, i: number): number {
    if (x === NIL) return i;
    if (this.keys[i]! < this.keys[x]!) this.left[x] = this.ins(this.left[x]!, i);
    else this.right[x] = this.ins(this.right[x]!, i);
    return this.balance(x);
  }

  private del(x: number, key: number): number {
    if (x === NIL) return NIL;
    const k = this.keys[x]!;
    if (key < k) {
      this.left[x] = this.del(this.left[x]!, key);
      return this.balance(x);
    }
    if (key > k) {
      this.right[x] = this.del(this.right[x]!, key);
      return this.balance(x);
    }
    this.n--;
    this.free.push(x);
    const l = this.left[x]!;
    const r = this.right[x]!;
    if (l === NIL) return r;
    if (r === NIL) return l;
    // Replace by the minimum of the right subtree.
    let m = r;
    while (this.left[m]! !== NIL) m = this.left[m]!;
    this.right[m] = this.delMin(r);
    this.left[m] = l;
    return this.balance(m);
  }

  private delMin(x: number): number {
    if (this.left[x]! === NIL) return this.right[x]!;
    this.left[x] = this.delMin(this.left[x]!);
    return this.balance(x);
  }
}

export const DMA_NIL = NIL;
