/**
 * The type1 `dma_list` (an rb-tree of `struct vfio_dma` keyed by iova in the kernel): non-overlapping
 * mappings with O(log n) lookup, insert and remove. Kept as a B+ tree whose leaves hold up to 64
 * mappings interleaved in one Float64Array ([iova, pages, vaddr, flags] per slot), so a lookup touches a
 * few cache lines per level and a container can hold 10^6 live mappings in a few tens of bytes each.
 *
 * Units are 4 KiB page frames as JS numbers: type1 requires every iova, size and vaddr to be a multiple
 * of its minimum page size, which is never below PAGE_SIZE, so a u64 address gives a frame < 2^52.
 *
 * Handles (`number`) name one mapping (leaf id * 64 + slot); they stay valid until the next insert or
 * remove.
 */

const NIL = -1;
const CAP = 64;
const SHIFT = 6;
const W = 4; // words per slot

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

interface Leaf {
  readonly leaf: true;
  readonly d: Float64Array;
  n: number;
  id: number;
  prev: Leaf | null;
  next: Leaf | null;
}

interface Inner {
  readonly leaf: false;
  /** seps[i] (i >= 1) <= every key of kids[i]; seps[0] is unused. */
  readonly seps: number[];
  readonly kids: Node[];
}

type Node = Leaf | Inner;

/** Index of the last element of `a[1..]` that is <= f (0 when none). */
function innerPick(seps: number[], f: number): number {
  let lo = 1;
  let hi = seps.length - 1;
  let k = 0;
  while (lo <= hi) {
    const m = (lo + hi) >> 1;
    if (seps[m]! <= f) {
      k = m;
      lo = m + 1;
    } else hi = m - 1;
  }
  return k;
}

/** Slot of the last key <= f in a leaf, or -1. */
function leafPick(l: Leaf, f: number): number {
  const d = l.d;
  let lo = 0;
  let hi = l.n - 1;
  let k = -1;
  while (lo <= hi) {
    const m = (lo + hi) >> 1;
    if (d[m * W]! <= f) {
      k = m;
      lo = m + 1;
    } else hi = m - 1;
  }
  return k;
}

export class DmaTree {
  private root: Node;
  private leaves: (Leaf | undefined)[] = [];
  private freeIds: number[] = [];
  private n = 0;
  private readonly pathNodes: Inner[] = [];
  private readonly pathIdx: number[] = [];
  /** Depth of the last descent (entries of pathNodes/pathIdx in use). */
  private pathLen = 0;
  /** The last descent, reused while nothing changed (a lookup followed by an insert or remove). */
  private memoKey = NaN;
  private memoLeaf: Leaf | undefined;

  constructor() {
    this.root = this.newLeaf();
  }

  get size(): number {
    return this.n;
  }

  /** Approximate bytes held (for benchmarks). */
  get byteSize(): number {
    let leaves = 0;
    for (const l of this.leaves) if (l) leaves++;
    return leaves * (CAP * W * 8 + 96);
  }

  clear(): void {
    this.memoLeaf = undefined;
    this.leaves = [];
    this.freeIds = [];
    this.n = 0;
    this.root = this.newLeaf();
  }

  private newLeaf(): Leaf {
    const id = this.freeIds.pop() ?? this.leaves.length;
    const l: Leaf = { leaf: true, d: new Float64Array(CAP * W), n: 0, id, prev: null, next: null };
    this.leaves[id] = l;
    return l;
  }

  private leafOf(h: number): Leaf {
    return this.leaves[h >> SHIFT]!;
  }

  entry(h: number): DmaEntry {
    const l = this.leafOf(h);
    const o = (h & (CAP - 1)) * W;
    return { iova: l.d[o]!, pages: l.d[o + 1]!, vaddr: l.d[o + 2]!, flags: l.d[o + 3]! };
  }
  iovaOf(h: number): number {
    return this.leafOf(h).d[(h & (CAP - 1)) * W]!;
  }
  pagesOf(h: number): number {
    return this.leafOf(h).d[(h & (CAP - 1)) * W + 1]!;
  }
  /** Last frame (inclusive). */
  lastOf(h: number): number {
    return this.iovaOf(h) + this.pagesOf(h) - 1;
  }
  vaddrOf(h: number): number {
    return this.leafOf(h).d[(h & (CAP - 1)) * W + 2]!;
  }
  flagsOf(h: number): number {
    return this.leafOf(h).d[(h & (CAP - 1)) * W + 3]!;
  }
  setFlags(h: number, f: number): void {
    this.leafOf(h).d[(h & (CAP - 1)) * W + 3] = f;
  }
  setVaddr(h: number, v: number): void {
    this.leafOf(h).d[(h & (CAP - 1)) * W + 2] = v;
  }

  /** Descends to the leaf that holds (or would hold) `f`, recording the path. */
  private descend(f: number): Leaf {
    if (f === this.memoKey && this.memoLeaf) return this.memoLeaf;
    let x = this.root;
    let depth = 0;
    while (!x.leaf) {
      const i = innerPick(x.seps, f);
      this.pathNodes[depth] = x;
      this.pathIdx[depth] = i;
      depth++;
      x = x.kids[i]!;
    }
    this.pathLen = depth;
    this.memoKey = f;
    this.memoLeaf = x;
    return x;
  }

  /** Mapping with the greatest start <= f, or NIL. */
  floor(f: number): number {
    const l = this.descend(f);
    const s = leafPick(l, f);
    if (s >= 0) return (l.id << SHIFT) | s;
    // Separators can be below the leaf's first key after removals: the floor is then the previous leaf's last.
    const p = l.prev;
    return p && p.n > 0 ? (p.id << SHIFT) | (p.n - 1) : NIL;
  }

  /** Mapping with the smallest start > f, or NIL. */
  higher(f: number): number {
    const l = this.descend(f);
    const s = leafPick(l, f) + 1;
    if (s < l.n) return (l.id << SHIFT) | s;
    const nx = l.next;
    return nx && nx.n > 0 ? nx.id << SHIFT : NIL;
  }

  /** vfio_find_dma: some mapping intersecting frames [start, end], or NIL. */
  findIntersecting(start: number, end: number): number {
    // Descend for `start` (an insert at `start` then reuses the descent).
    const h = this.floor(start);
    if (h !== NIL && this.lastOf(h) >= start) return h;
    const n = this.higher(start);
    return n !== NIL && this.iovaOf(n) <= end ? n : NIL;
  }

  /** The mapping containing frame f, or NIL. */
  containing(f: number): number {
    const h = this.floor(f);
    if (h === NIL) return NIL;
    return this.lastOf(h) >= f ? h : NIL;
  }

  /** vfio_find_dma_first_node: lowest mapping whose last frame >= start (it may start after `end`). */
  firstFrom(start: number): number {
    const h = this.floor(start);
    if (h !== NIL && this.lastOf(h) >= start) return h;
    return this.higher(start);
  }

  /** The next mapping in iova order. */
  next(h: number): number {
    const l = this.leafOf(h);
    const s = (h & (CAP - 1)) + 1;
    if (s < l.n) return h + 1;
    const nx = l.next;
    return nx && nx.n > 0 ? nx.id << SHIFT : NIL;
  }

  /** In-order iteration (for invariant checks, replay and reports). */
  *entries(): IterableIterator<DmaEntry> {
    for (let h = this.firstFrom(0); h !== NIL; h = this.next(h)) yield this.entry(h);
  }

  /** Inserts a mapping; the caller guarantees it overlaps nothing. */
  insert(iova: number, pages: number, vaddr: number, flags: number): void {
    const l = this.descend(iova);
    this.memoLeaf = undefined;
    const s = leafPick(l, iova) + 1;
    const d = l.d;
    if (s < l.n) d.copyWithin((s + 1) * W, s * W, l.n * W);
    const o = s * W;
    d[o] = iova;
    d[o + 1] = pages;
    d[o + 2] = vaddr;
    d[o + 3] = flags;
    l.n++;
    this.n++;
    if (l.n < CAP) return;
    // Split the full leaf; an append at the end keeps the left leaf full (sequential fills stay dense).
    const mid = s === CAP - 1 ? CAP - 1 : CAP >> 1;
    const r = this.newLeaf();
    r.d.set(d.subarray(mid * W, CAP * W));
    r.n = CAP - mid;
    l.n = mid;
    r.next = l.next;
    if (r.next) r.next.prev = r;
    r.prev = l;
    l.next = r;
    this.insertUp(this.pathLen - 1, r.d[0]!, r, l);
  }

  /** Adds child `right` (first key `sep`) after the child taken at path level `lvl`. */
  private insertUp(lvl: number, sep: number, right: Node, left: Node): void {
    if (lvl < 0) {
      this.root = { leaf: false, seps: [0, sep], kids: [left, right] };
      return;
    }
    const p = this.pathNodes[lvl]!;
    const at = this.pathIdx[lvl]! + 1;
    p.seps.splice(at, 0, sep);
    p.kids.splice(at, 0, right);
    if (p.kids.length <= CAP) return;
    const mid = p.kids.length >> 1;
    const q: Inner = { leaf: false, seps: p.seps.splice(mid), kids: p.kids.splice(mid) };
    this.insertUp(lvl - 1, q.seps[0]!, q, p);
  }

  /** Removes the mapping starting at frame `iova`; false when there is none. */
  remove(iova: number): boolean {
    const l = this.descend(iova);
    const s = leafPick(l, iova);
    if (s < 0 || l.d[s * W] !== iova) return false;
    this.memoLeaf = undefined;
    if (s + 1 < l.n) l.d.copyWithin(s * W, (s + 1) * W, l.n * W);
    l.n--;
    this.n--;
    if (l.n > 0 || this.pathLen === 0) return true;
    // Drop the empty leaf from the chain and from its parents.
    if (l.prev) l.prev.next = l.next;
    if (l.next) l.next.prev = l.prev;
    this.leaves[l.id] = undefined;
    this.freeIds.push(l.id);
    for (let lvl = this.pathLen - 1; lvl >= 0; lvl--) {
      const p = this.pathNodes[lvl]!;
      const i = this.pathIdx[lvl]!;
      p.kids.splice(i, 1);
      p.seps.splice(i, 1);
      if (p.kids.length > 0) break;
    }
    // Collapse a root with one child.
    while (!this.root.leaf && this.root.kids.length === 1) this.root = this.root.kids[0]!;
    if (!this.root.leaf && this.root.kids.length === 0) this.root = this.newLeaf();
    return true;
  }

  /** Checks ordering, counts and separators (tests, fuzzing). Returns a problem or undefined. */
  check(): string | undefined {
    let count = 0;
    let prevEnd = -1;
    let depth = -1;
    const walk = (x: Node, lo: number, level: number): string | undefined => {
      if (x.leaf) {
        if (depth < 0) depth = level;
        else if (depth !== level) return 'leaves at different depths';
        if (x.n === 0 && x !== this.root) return 'empty leaf';
        for (let s = 0; s < x.n; s++) {
          const k = x.d[s * W]!;
          if (k < lo) return `key ${k} below its separator ${lo}`;
          if (k <= prevEnd) return `mapping at frame ${k} overlaps the previous one`;
          if (!(x.d[s * W + 1]! >= 1)) return `mapping at frame ${k} has no pages`;
          prevEnd = k + x.d[s * W + 1]! - 1;
          count++;
        }
        return undefined;
      }
      if (x.kids.length === 0 || x.kids.length !== x.seps.length) return 'bad inner node';
      for (let i = 0; i < x.kids.length; i++) {
        const e = walk(x.kids[i]!, i === 0 ? lo : x.seps[i]!, level + 1);
        if (e) return e;
      }
      return undefined;
    };
    const e = walk(this.root, -Infinity, 0);
    if (e) return e;
    let chain = 0;
    for (let h = this.firstFrom(0); h !== NIL; h = this.next(h)) chain++;
    if (chain !== this.n) return `leaf chain has ${chain} mappings, size ${this.n}`;
    return count === this.n ? undefined : `count ${count} != size ${this.n}`;
  }
}

export const DMA_NIL = NIL;
