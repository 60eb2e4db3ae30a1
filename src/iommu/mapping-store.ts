/**
 * The translations of one paging domain: disjoint runs of pages `[start, end]` (inclusive page frame
 * numbers in units of the domain's smallest page size) with their physical frame and prot. Stands in
 * for the driver's page table. O(log n) lookup, insert and remove, so VFIO can hold 10^6 mappings.
 *
 * Both this store and VFIO type1's `vfio_dma` tree sit on `RunTree`, a B+ tree built for few cache
 * misses per operation: every leaf is one record in a single pooled Float64Array (16 key slots, then
 * three or four 16-word value columns: 512 or 640 bytes; up to 15 records, the last slot of the value
 * columns holds the leaf's count and links), every inner node one 512-byte record in a second pool (its
 * child count, 31 separators, 32 child ids). A lookup reads one record per level and no object headers,
 * searches without data-dependent branches, and an insert or remove shifts at most 15 slots. Appends
 * at the right edge leave 14 of 15 slots used, so sequential filling keeps nodes dense and later
 * inserts among those records rarely split.
 *
 * A store's runs can also carry one owner's records (`insertOwned`, CoreDomain.shareStore): VFIO type1
 * keeps its vfio_dma list there while the domain is its only one, so MAP/UNMAP search one tree.
 *
 * Frame numbers are JS numbers: with pages of at least 2 KiB a u64 address gives a frame below 2^53.
 */

/** Slots per leaf (2^LOG_C). */
const LOG_C = 4;
const C = 1 << LOG_C;
/** Column offsets in a leaf record (keys at 0): each column is C words. */
const C1 = C;
const C2 = 2 * C;
const C3 = 3 * C;
const C4 = 4 * C;
/**
 * Records per leaf: one slot less than C. The last slot of the value columns 1-3 holds the leaf's own
 * metadata (count, next and previous leaf), so the lines a search loads bring them too (the last key
 * slot stays +Infinity for the branch-free search).
 */
const CAP = C - 1;
/** Offsets in a leaf record of its record count, next leaf and previous leaf (RUN_NIL when none). */
const M_CNT = C1 + CAP;
const M_NEXT = C2 + CAP;
const M_PREV = C3 + CAP;
/** Free slots an append-split leaves in the full leaf (a fill factor of 14/15). */
const APPEND_SLACK = 1;
/** Children per inner node; its record is FMAX separators (word 0 holds the count) + FMAX child ids. */
const FMAX = 32;
const IW = 2 * FMAX;
/** Deepest tree supported (32 levels of fan-out >= 2 is far beyond any pool). */
const MAX_DEPTH = 40;

/** "No run" handle / "no leaf" id. */
export const RUN_NIL = -1;

/**
 * Disjoint keyed records of four or five numbers (a key and three or four values), in key order.
 * Records are named by handles (`number`, the word offset of the key) that stay valid until the next
 * insert, remove or clear.
 * The caller keeps keys distinct; the tree never compares values.
 */
export class RunTree {
  /**
   * Leaf pool: the leaf named m (= id * W) has its record at m * C: keys, then value columns 1..W-1,
   * C words each.
   */
  private d: Float64Array;
  private leafCap: number;
  private leafTop = 0;
  private leafFree: number[] = [];
  /** Inner pool: node j's record starts at j * IW: [count, sep 1..FMAX-1, kid 0..FMAX-1]. */
  private ik: Float64Array;
  private innerCap: number;
  private innerTop = 0;
  private innerFree: number[] = [];
  private root = 0;
  /** Inner levels above the leaves (0: the root is a leaf). */
  private height = 0;
  private n = 0;
  /**
   * The last descent (a finger): inner node and child index per level, the leaf reached and the key
   * range [memoLo, memoHi) that leads to it. Reused for any key in that range until the inner nodes
   * change (a split or a dropped leaf), so work near the last key skips the descent.
   */
  private readonly pathNode = new Int32Array(MAX_DEPTH);
  private readonly pathIdx = new Int32Array(MAX_DEPTH);
  private memoLo = Infinity;
  private memoHi = -Infinity;
  private memoLeaf = 0;

  /** Columns per record: 4 (key + 3 values) or 5 (key + 4 values). */
  private readonly w: number;

  constructor(width: 4 | 5 = 4) {
    this.w = width;
    this.leafCap = 4;
    this.d = new Float64Array(this.leafCap * width * C);
    this.innerCap = 2;
    this.ik = new Float64Array(this.innerCap * IW);
    this.root = this.newLeaf();
  }

  get size(): number {
    return this.n;
  }

  /** Bytes of the records in use (leaves and inner nodes), for benchmarks and tests. */
  get byteSize(): number {
    const leaves = this.leafTop - this.leafFree.length;
    const inners = this.innerTop - this.innerFree.length;
    return leaves * this.w * C * 8 + inners * IW * 8;
  }

  clear(): void {
    this.leafTop = 0;
    this.leafFree = [];
    this.innerTop = 0;
    this.innerFree = [];
    this.height = 0;
    this.n = 0;
    this.forget();
    this.root = this.newLeaf();
  }

  // ------------------------------------------------------------------ records

  key(h: number): number {
    return this.d[h]!;
  }
  c1(h: number): number {
    return this.d[h + C1]!;
  }
  c2(h: number): number {
    return this.d[h + C2]!;
  }
  c3(h: number): number {
    return this.d[h + C3]!;
  }
  /** Column 4 (width 5 only). */
  c4(h: number): number {
    return this.d[h + C4]!;
  }
  setC4(h: number, v: number): void {
    this.d[h + C4] = v;
  }
  setC2(h: number, v: number): void {
    this.d[h + C2] = v;
  }
  setC3(h: number, v: number): void {
    this.d[h + C3] = v;
  }

  // ------------------------------------------------------------------ pools

  private newLeaf(): number {
    // A leaf is named by id * W: its record starts at that << LOG_C.
    let m = this.leafFree.pop();
    if (m === undefined) {
      const id = this.leafTop++;
      m = id * this.w;
      if (id >= this.leafCap) {
        const cap = Math.ceil(this.leafCap * 1.5) + 4;
        const d = new Float64Array(cap * this.w * C);
        d.set(this.d);
        this.d = d;
        this.leafCap = cap;
      }
    }
    const b = m << LOG_C;
    this.d[b + M_CNT] = 0;
    this.d[b + M_NEXT] = RUN_NIL;
    this.d[b + M_PREV] = RUN_NIL;
    // Unused key slots hold +Infinity, so searches can run over all C slots without branches.
    this.d.fill(Infinity, m << LOG_C, (m << LOG_C) + C);
    return m;
  }

  private newInner(): number {
    let id = this.innerFree.pop();
    if (id === undefined) {
      id = this.innerTop++;
      if (id >= this.innerCap) {
        const cap = Math.ceil(this.innerCap * 1.5) + 2;
        const ik = new Float64Array(cap * IW);
        ik.set(this.ik);
        this.ik = ik;
        this.innerCap = cap;
      }
    }
    this.ik[id * IW] = 0;
    // Unused separator slots hold +Infinity (branch-free searches).
    this.ik.fill(Infinity, id * IW + 1, id * IW + FMAX);
    return id;
  }

  // ------------------------------------------------------------------ search

  /** Records in leaf l (its metadata, see M_CNT). */
  private count(l: number): number {
    return this.d[(l << LOG_C) + M_CNT]! | 0;
  }

  private nextLeaf(l: number): number {
    return this.d[(l << LOG_C) + M_NEXT]! | 0;
  }

  private prevLeaf(l: number): number {
    return this.d[(l << LOG_C) + M_PREV]! | 0;
  }

  /** The last record of leaf l, or RUN_NIL for no leaf. */
  private lastOf(l: number): number {
    return l === RUN_NIL ? RUN_NIL : (l << LOG_C) | (this.count(l) - 1);
  }

  /** Descends to the leaf that holds (or would hold) key `f`, recording the path. */
  private descend(f: number): number {
    if (f >= this.memoLo && f < this.memoHi) return this.memoLeaf;
    const ik = this.ik;
    let x = this.root;
    let rangeLo = -Infinity;
    let rangeHi = Infinity;
    for (let lvl = 0; lvl < this.height; lvl++) {
      const b = x * IW;
      // The count first: its line (slots 0-7) is one of the four the search reads.
      const n = ik[b]! | 0;
      // The last child i >= 1 whose separator is <= f, else child 0 (its separator is -infinity):
      // the number of separators <= f among slots 1..31 (unused slots are +Infinity). Branch-free
      // (Number(comparison), which V8 compiles without a jump, unlike `c ? 1 : 0`), since random keys
      // defeat the branch predictor. The first step compares slots 8, 16 and 24 at once: their three
      // lines and the count's are fetched together, and the rest of the search stays in one of them, so
      // a node out of cache costs one wait for its separators instead of one per halving.
      let k = (Number(ik[b + 8]! <= f) + Number(ik[b + 16]! <= f) + Number(ik[b + 24]! <= f)) << 3;
      k += Number(ik[b + k + 4]! <= f) << 2;
      k += Number(ik[b + k + 2]! <= f) << 1;
      k += Number(ik[b + k + 1]! <= f);
      this.pathNode[lvl] = x;
      this.pathIdx[lvl] = k;
      // Separators inside a subtree lie within its range, so the deepest bounds are the tightest.
      if (k > 0) rangeLo = ik[b + k]!;
      if (k + 1 < n) rangeHi = ik[b + k + 1]!;
      x = ik[b + FMAX + k]! | 0;
    }
    this.memoLo = rangeLo;
    this.memoHi = rangeHi;
    this.memoLeaf = x;
    return x;
  }

  /** The inner nodes changed: the next lookup descends from the root. */
  private forget(): void {
    this.memoLo = Infinity;
    this.memoHi = -Infinity;
  }

  /** Slot of the last key <= f in leaf `l`, or -1. */
  private pick(l: number, f: number): number {
    const d = this.d;
    const b = l << LOG_C;
    // Start loading the second line of keys and the end column (whose second line holds the count) now:
    // a branch-free search gives the CPU no slot to guess, so without this those lines would only be
    // fetched after the first keys arrive.
    const early = d[b + C1]! + d[b + C1 + 8]! + d[b + 8]!;
    // Number of keys <= f among the C slots (unused ones are +Infinity), minus one; branch-free.
    let k = Number(d[b + 7]! <= f) << 3;
    k += Number(d[b + k + 3]! <= f) << 2;
    k += Number(d[b + k + 1]! <= f) << 1;
    k += Number(d[b + k]! <= f);
    // `early` is not NaN (ends, counts, keys or +Infinity), so this adds 0; it keeps the loads from
    // being dropped.
    return k + Number(d[b + k]! <= f) - 1 + Number(early !== early);
  }

  /** The record with the greatest key <= f, or RUN_NIL. */
  floor(f: number): number {
    const l = this.descend(f);
    const s = this.pick(l, f);
    if (s >= 0) return (l << LOG_C) | s;
    // Separators are lower bounds: after removals every key of the leaf may be above f, and the
    // floor is then the previous leaf's last record (non-root leaves are never empty).
    return this.lastOf(this.prevLeaf(l));
  }

  /**
   * floor(f) ahead of an insert or remove near f: also starts loading the leaf's other value columns,
   * which the insert's shift will write (see pick).
   */
  floorToModify(f: number): number {
    const l = this.descend(f);
    const d = this.d;
    const b = l << LOG_C;
    let early = d[b + C2]! + d[b + C2 + 8]! + d[b + C3]! + d[b + C3 + 8]!;
    if (this.w > 4) early += d[b + C4]! + d[b + C4 + 8]!;
    const s = this.pick(l, f) + Number(early !== early);
    if (s >= 0) return (l << LOG_C) | s;
    return this.lastOf(this.prevLeaf(l));
  }

  /** The record with the smallest key > f, or RUN_NIL. */
  higher(f: number): number {
    const l = this.descend(f);
    const s = this.pick(l, f) + 1;
    if (s < this.count(l)) return (l << LOG_C) | s;
    const nx = this.nextLeaf(l);
    return nx === RUN_NIL ? RUN_NIL : nx << LOG_C;
  }

  /** The first record in key order, or RUN_NIL. */
  first(): number {
    let x = this.root;
    for (let lvl = 0; lvl < this.height; lvl++) x = this.ik[x * IW + FMAX]! | 0;
    return this.count(x) > 0 ? x << LOG_C : RUN_NIL;
  }

  /** The previous record in key order, or RUN_NIL. */
  prev(h: number): number {
    if ((h & (C - 1)) > 0) return h - 1;
    return this.lastOf(this.prevLeaf(h >> LOG_C));
  }

  /** The next record in key order, or RUN_NIL. */
  next(h: number): number {
    const l = h >> LOG_C;
    if ((h & (C - 1)) + 1 < this.count(l)) return h + 1;
    const nx = this.nextLeaf(l);
    return nx === RUN_NIL ? RUN_NIL : nx << LOG_C;
  }

  // ------------------------------------------------------------------ insert

  /** Inserts a record; the caller guarantees `k` is not a key already. */
  insert(k: number, v1: number, v2: number, v3: number, v4 = 0): void {
    let l = this.descend(k);
    let s = this.pick(l, k) + 1;
    if (this.count(l) === CAP) {
      const r = this.splitLeaf(l, s);
      const mid = this.count(l);
      if (s > mid) {
        l = r;
        s -= mid;
      }
    }
    const d = this.d;
    const b = l << LOG_C;
    const n = d[b + M_CNT]! | 0;
    for (let j = b + n; j > b + s; j--) {
      d[j] = d[j - 1]!;
      d[j + C1] = d[j + C1 - 1]!;
      d[j + C2] = d[j + C2 - 1]!;
      d[j + C3] = d[j + C3 - 1]!;
    }
    const o = b + s;
    if (this.w > 4) {
      for (let j = b + n; j > o; j--) d[j + C4] = d[j + C4 - 1]!;
      d[o + C4] = v4;
    }
    d[o] = k;
    d[o + C1] = v1;
    d[o + C2] = v2;
    d[o + C3] = v3;
    d[b + M_CNT] = n + 1;
    this.n++;
  }

  /** Splits full leaf `l` (an insert at slot `s` follows); returns the new right leaf. */
  private splitLeaf(l: number, s: number): number {
    // An append at the right edge keeps all but APPEND_SLACK records in the full leaf: sequential
    // fills stay dense, yet leave room for later inserts among them without a split each.
    const lb = l << LOG_C;
    const mid = s === CAP && this.nextLeaf(l) === RUN_NIL ? CAP - APPEND_SLACK : CAP >> 1;
    const r = this.newLeaf();
    const d = this.d;
    const rb = r << LOG_C;
    for (let j = mid; j < CAP; j++) {
      d[rb + j - mid] = d[lb + j]!;
      d[rb + C1 + j - mid] = d[lb + C1 + j]!;
      d[rb + C2 + j - mid] = d[lb + C2 + j]!;
      d[rb + C3 + j - mid] = d[lb + C3 + j]!;
      if (this.w > 4) d[rb + C4 + j - mid] = d[lb + C4 + j]!;
    }
    d.fill(Infinity, lb + mid, lb + CAP);
    d[rb + M_CNT] = CAP - mid;
    d[lb + M_CNT] = mid;
    const nx = d[lb + M_NEXT]! | 0;
    d[rb + M_NEXT] = nx;
    if (nx !== RUN_NIL) d[(nx << LOG_C) + M_PREV] = r;
    d[rb + M_PREV] = l;
    d[lb + M_NEXT] = r;
    this.insertUp(this.height - 1, d[rb]!, r);
    this.forget();
    return r;
  }

  /** Adds child `right` with separator `sep` just after the child taken at path level `lvl`. */
  private insertUp(lvl: number, sep: number, right: number): void {
    if (lvl < 0) {
      const q = this.newInner();
      const b = q * IW;
      this.ik[b] = 2;
      this.ik[b + 1] = sep;
      this.ik[b + FMAX] = this.root;
      this.ik[b + FMAX + 1] = right;
      this.root = q;
      this.height++;
      return;
    }
    const p = this.pathNode[lvl]!;
    const at = this.pathIdx[lvl]! + 1;
    const n = this.ik[p * IW]! | 0;
    if (n < FMAX) {
      this.innerPut(p, at, sep, right);
      return;
    }
    // Split p. At the right edge of the tree an append starts an empty node (fills stay dense).
    let rightmost = at === n;
    for (let u = 0; rightmost && u < lvl; u++) {
      rightmost = this.pathIdx[u] === this.ik[this.pathNode[u]! * IW]! - 1;
    }
    const mid = rightmost ? n : n >> 1;
    const q = this.newInner();
    const ik = this.ik;
    const pb = p * IW;
    const qb = q * IW;
    const sepUp = mid === n ? sep : ik[pb + mid]!;
    for (let j = mid; j < n; j++) {
      if (j > mid) ik[qb + j - mid] = ik[pb + j]!;
      ik[qb + FMAX + j - mid] = ik[pb + FMAX + j]!;
    }
    ik[qb] = n - mid;
    ik[pb] = mid;
    ik.fill(Infinity, pb + Math.max(mid, 1), pb + FMAX);
    if (mid === n) {
      ik[qb] = 1;
      ik[qb + FMAX] = right;
    } else if (at <= mid) {
      this.innerPut(p, at, sep, right);
    } else {
      this.innerPut(q, at - mid, sep, right);
    }
    this.insertUp(lvl - 1, sepUp, q);
  }

  /** Inserts (sep, kid) at index `at` >= 1 of inner node `p`, which has room. */
  private innerPut(p: number, at: number, sep: number, kid: number): void {
    const ik = this.ik;
    const b = p * IW;
    const n = ik[b]! | 0;
    for (let j = n; j > at; j--) {
      ik[b + j] = ik[b + j - 1]!;
      ik[b + FMAX + j] = ik[b + FMAX + j - 1]!;
    }
    ik[b + at] = sep;
    ik[b + FMAX + at] = kid;
    ik[b] = n + 1;
  }

  // ------------------------------------------------------------------ remove

  /** Removes the record with key `k`; false when there is none. */
  remove(k: number): boolean {
    const l = this.descend(k);
    const s = this.pick(l, k);
    const b = l << LOG_C;
    if (s < 0 || this.d[b + s] !== k) return false;
    const d = this.d;
    const n = (d[b + M_CNT]! | 0) - 1;
    for (let j = b + s; j < b + n; j++) {
      d[j] = d[j + 1]!;
      d[j + C1] = d[j + C1 + 1]!;
      d[j + C2] = d[j + C2 + 1]!;
      d[j + C3] = d[j + C3 + 1]!;
    }
    if (this.w > 4) for (let j = b + s; j < b + n; j++) d[j + C4] = d[j + C4 + 1]!;
    d[b + n] = Infinity;
    d[b + M_CNT] = n;
    this.n--;
    if (n === 0 && this.height > 0) this.dropLeaf(l);
    return true;
  }

  /** Unlinks empty leaf `l` (reached by the last descent) and every inner node left empty above it. */
  private dropLeaf(l: number): void {
    this.forget();
    const d = this.d;
    const p = this.prevLeaf(l);
    const nx = this.nextLeaf(l);
    if (p !== RUN_NIL) d[(p << LOG_C) + M_NEXT] = nx;
    if (nx !== RUN_NIL) d[(nx << LOG_C) + M_PREV] = p;
    this.leafFree.push(l);
    const ik = this.ik;
    let lvl = this.height - 1;
    for (; lvl >= 0; lvl--) {
      const x = this.pathNode[lvl]!;
      const i = this.pathIdx[lvl]!;
      const b = x * IW;
      const n = (ik[b]! | 0) - 1;
      // Entry 0 has no separator in the node (the parent's covers it): removing it drops entry 1's.
      for (let j = i; j < n; j++) {
        if (j >= 1) ik[b + j] = ik[b + j + 1]!;
        ik[b + FMAX + j] = ik[b + FMAX + j + 1]!;
      }
      ik[b] = n;
      if (n > 0) {
        ik[b + n] = Infinity;
        break;
      }
      this.innerFree.push(x);
    }
    if (lvl < 0) {
      // Every level emptied: start again from one leaf.
      this.height = 0;
      this.root = this.newLeaf();
      return;
    }
    while (this.height > 0 && ik[this.root * IW] === 1) {
      this.innerFree.push(this.root);
      this.root = ik[this.root * IW + FMAX]! | 0;
      this.height--;
    }
  }

  // ------------------------------------------------------------------ checks

  /** Checks ordering, separators, depths, the leaf chain and the count. Returns a problem or undefined. */
  check(): string | undefined {
    let count = 0;
    let prevKey = -Infinity;
    let prevLeaf = RUN_NIL;
    const walk = (x: number, lvl: number, lo: number, hi: number): string | undefined => {
      if (lvl === this.height) {
        const n = this.count(x);
        if (n === 0 && lvl > 0) return 'empty leaf';
        if (n > CAP) return 'leaf over capacity';
        if (this.prevLeaf(x) !== prevLeaf) return `leaf ${x} has a wrong prev link`;
        if (prevLeaf !== RUN_NIL && this.nextLeaf(prevLeaf) !== x)
          return `leaf ${prevLeaf} has a wrong next link`;
        prevLeaf = x;
        for (let s = n; s < C; s++)
          if (this.d[(x << LOG_C) + s] !== Infinity) return `leaf ${x} slot ${s} not padded`;
        for (let s = 0; s < n; s++) {
          const k = this.d[(x << LOG_C) + s]!;
          if (k < lo || k >= hi) return `key ${k} outside its separators [${lo}, ${hi})`;
          if (k <= prevKey) return `key ${k} out of order`;
          prevKey = k;
          count++;
        }
        return undefined;
      }
      const b = x * IW;
      const n = this.ik[b]!;
      if (n < 1 || n > FMAX) return `inner node with ${n} children`;
      if (x === this.root && n < 2) return 'root with one child';
      for (let i = Math.max(n, 1); i < FMAX; i++)
        if (this.ik[b + i] !== Infinity) return `inner ${x} slot ${i} not padded`;
      for (let i = 0; i < n; i++) {
        const a = i === 0 ? lo : this.ik[b + i]!;
        const z = i + 1 < n ? this.ik[b + i + 1]! : hi;
        if (a < lo || z > hi || a > z) return 'separators out of order';
        const e = walk(this.ik[b + FMAX + i]!, lvl + 1, a, z);
        if (e) return e;
      }
      return undefined;
    };
    const e = walk(this.root, 0, -Infinity, Infinity);
    if (e) return e;
    if (prevLeaf !== RUN_NIL && this.nextLeaf(prevLeaf) !== RUN_NIL) return 'last leaf has a next link';
    return count === this.n ? undefined : `count ${count} != size ${this.n}`;
  }
}

export interface StoredRun {
  readonly start: number;
  readonly end: number;
  readonly pfn: number;
  readonly prot: number;
}

/** Column 3 of an owned run: bits 0-7 the prot, bits 8-11 the owner's bits (OWNED_RUN among them). */
export const RUN_PROT_MASK = 0xff;
/** Marks a run whose owner (VFIO type1) keeps its own record in columns 3 (bits 8-10) and 4. */
export const OWNED_RUN = 0x800;

/**
 * Runs keyed by start: column 1 the end, column 2 the physical frame, column 3 the prot (plus owner
 * bits), column 4 an owner's value (see `insertOwned`).
 */
export class MappingStore {
  private readonly t = new RunTree(5);

  /**
   * The tree itself, for an owner that keeps its records in the runs (VFIO type1 with one domain):
   * it reads them and removes the runs it inserted with `insertOwned`.
   */
  get tree(): RunTree {
    return this.t;
  }

  /** Number of runs. */
  get size(): number {
    return this.t.size;
  }

  /** Bytes of the tree records (benchmarks). */
  get byteSize(): number {
    return this.t.byteSize;
  }

  /** The run containing frame `f`, or undefined. */
  find(f: number): StoredRun | undefined {
    const h = this.t.floor(f);
    if (h === RUN_NIL || this.t.c1(h) < f) return undefined;
    return this.run(h);
  }

  /** The physical frame for frame `f`, or -1 when unmapped (no allocation: the hot path). */
  frameOf(f: number): number {
    const t = this.t;
    const h = t.floor(f);
    if (h === RUN_NIL || t.c1(h) < f) return -1;
    return t.c2(h) + (f - t.key(h));
  }

  /** The first run whose end is >= f (the run containing f, or the next one). */
  ceilingRun(f: number): StoredRun | undefined {
    const h = this.ceiling(f);
    return h === RUN_NIL ? undefined : this.run(h);
  }

  private ceiling(f: number): number {
    const h = this.t.floor(f);
    if (h !== RUN_NIL && this.t.c1(h) >= f) return h;
    return this.t.higher(f);
  }

  /** True when any frame of [start, end] is mapped. */
  overlaps(start: number, end: number): boolean {
    const h = this.ceiling(start);
    return h !== RUN_NIL && this.t.key(h) <= end;
  }

  /** Adds a run; false (nothing changed) when it overlaps an existing run. */
  insert(start: number, end: number, pfn: number, prot: number): boolean {
    const t = this.t;
    // The run before must end below `start`, the run after must start above `end`.
    const h = t.floor(start);
    if (h !== RUN_NIL && t.c1(h) >= start) return false;
    const nx = h === RUN_NIL ? t.first() : t.next(h);
    if (nx !== RUN_NIL && t.key(nx) <= end) return false;
    t.insert(start, end, pfn, prot & RUN_PROT_MASK);
    return true;
  }

  /**
   * `insert` of a run that also carries its owner's record: `bits` (0-15, stored at bit 8 of column 3,
   * OWNED_RUN included) and `aux` (column 4). Readers of the page table see only the prot.
   */
  insertOwned(start: number, end: number, pfn: number, prot: number, aux: number, bits: number): boolean {
    const t = this.t;
    const h = t.floor(start);
    if (h !== RUN_NIL && t.c1(h) >= start) return false;
    const nx = h === RUN_NIL ? t.first() : t.next(h);
    if (nx !== RUN_NIL && t.key(nx) <= end) return false;
    t.insert(start, end, pfn, (prot & RUN_PROT_MASK) | ((bits & 0xf) << 8), aux);
    return true;
  }

  /** Drops every owner record (the runs stay, as plain translations). */
  disown(): void {
    const t = this.t;
    for (let h = t.first(); h !== RUN_NIL; h = t.next(h)) {
      t.setC3(h, t.c3(h) & RUN_PROT_MASK);
      t.setC4(h, 0);
    }
  }

  /**
   * Removes frames [start, end] from whatever runs cover them, splitting runs that stick out.
   * Returns the number of frames removed.
   */
  removeRange(start: number, end: number): number {
    const t = this.t;
    let removed = 0;
    for (;;) {
      const h = this.ceiling(start);
      if (h === RUN_NIL || t.key(h) > end) break;
      const rs = t.key(h);
      const re = t.c1(h);
      const pfn = t.c2(h);
      const prot = t.c3(h) & RUN_PROT_MASK;
      t.remove(rs);
      const s = Math.max(rs, start);
      const e = Math.min(re, end);
      removed += e - s + 1;
      if (rs < s) t.insert(rs, s - 1, pfn, prot);
      if (re > e) t.insert(e + 1, re, pfn + (e + 1 - rs), prot);
    }
    return removed;
  }

  /**
   * Removes frames from `start` on, run after run, up to `end`, stopping at the first frame that is
   * not mapped (the page-table walk of iommu_unmap). Runs removed whole are dropped in place.
   */
  removeFrom(start: number, end: number): number {
    const t = this.t;
    let removed = 0;
    let f = start;
    while (f <= end) {
      const h = t.floor(f);
      if (h === RUN_NIL) break;
      const runEnd = t.c1(h);
      if (runEnd < f) break;
      if (t.key(h) === f && runEnd <= end) {
        removed += runEnd - f + 1;
        t.remove(f);
      } else {
        removed += this.removeRange(f, Math.min(runEnd, end));
      }
      f = Math.min(runEnd, end) + 1;
    }
    return removed;
  }

  clear(): void {
    this.t.clear();
  }

  /** Runs in ascending order. */
  *runs(): Generator<StoredRun> {
    for (let h = this.t.first(); h !== RUN_NIL; h = this.t.next(h)) yield this.run(h);
  }

  /** Structural check of the tree (tests). */
  check(): string | undefined {
    const e = this.t.check();
    if (e) return e;
    let prevEnd = -Infinity;
    for (let h = this.t.first(); h !== RUN_NIL; h = this.t.next(h)) {
      if (this.t.key(h) <= prevEnd || this.t.c1(h) < this.t.key(h)) return `bad run at ${this.t.key(h)}`;
      prevEnd = this.t.c1(h);
    }
    return undefined;
  }

  private run(h: number): StoredRun {
    const t = this.t;
    return { start: t.key(h), end: t.c1(h), pfn: t.c2(h), prot: t.c3(h) & RUN_PROT_MASK };
  }
}
