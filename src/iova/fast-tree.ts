/**
 * The IOVA tree iovamap uses: same answers as the kernel's linear walk (and as `RefIovaTree`), found in
 * O(log n) with few cache misses. Nodes (`struct iova`) are kept in pfn order, inline, in the leaves of
 * a B+-tree (up to 16 per leaf); a handle is a slot that knows its leaf. Each node records where the free
 * gap below it starts (`glo` = pfn_hi of its predecessor + 1, or 0 for the lowest node); every inner
 * block keeps, per child, the child subtree's exact lowest pfn_lo and an upper bound of its largest gap
 * and per-alignment capacities. A bound is raised at once when a gap grows (a free), but not lowered
 * when one shrinks (an allocation, most often in the very gap that was the maximum of several levels):
 * when a search descends under a child and finds nothing, it replaces that child's bound by the child's
 * own aggregate. Answers stay exact (a bound only decides where to look; leaves are checked exactly),
 * and an allocation no longer recomputes a chain of inner blocks, which at 10^6 nodes was most of its
 * cost. One exception keeps searches from visiting distant leaves in vain: the capacities a parent
 * holds for a leaf child are kept exact (recomputed when the maximum goes down), only the largest gap
 * there is a bound (it decides only unaligned and very large requests).
 *
 * Memory layout: every block is one record of BLOCK_BYTES in a pool (one ArrayBuffer seen as int32
 * words and float64s): a header line (count, parent, index in parent, leaf links), then one column per
 * field (keys = handles or child blocks, two capacity words, and floats: pfn_lo, glo and pfn_hi in a
 * leaf; largest gap and lowest pfn_lo in an inner block). An operation on a block thus reads a few
 * adjacent lines of one record. Leaves and inner blocks live in two pools, so that the inner levels
 * (a tenth of the memory) stay packed together: at 10^6 nodes they fit the last-level cache and its
 * TLB reach, and a descent pays for one distant access, the leaf, instead of one per level. The handle
 * table holds only each node's leaf (4 bytes a node).
 *
 * Why a descent gives the kernel's answer (__alloc_and_insert_iova_range): walking down from the start
 * node C, the kernel stops at the first node N whose gap holds an aligned block below
 * min(limit, N.pfn_lo), and succeeds iff that block starts at or above `low`; the candidate start only
 * decreases as the walk goes down, so an earlier `< low` exit is the same failure. Nodes at or above
 * the limit all see high = limit and only the lowest of them (L) can have room below it, so the search
 * is: L with its gap clipped at the limit (when C is at or above L), then the highest node at or below
 * min(C, pred(L)) whose own gap fits, found by scanning leftwards and descending where a child's
 * aggregate says there is room.
 *
 * Alignment: a gap long enough may still miss a size-aligned start. For the alignment orders k = 1..8
 * (sizes 2..256 pages, every size the range caches and the traces use) the aggregates also hold, per k,
 * the largest aligned capacity `pfn_lo - ALIGN(glo, 2^k)`, stored as clamp(cap - 2^(k-1), 0, 2^(k-1))
 * in a byte: an aligned size s of order k lies in (2^(k-1), 2^k], so "cap >= s" is exactly
 * "byte >= s - 2^(k-1)". Bytes are kept below 128 so that eight of them are combined with 32-bit SWAR
 * arithmetic; order 8 clamps at 127, so exactly 256 pages can only fit where that byte is saturated,
 * which then filters the search before an exact test. Larger alignments use the largest-gap bound
 * (exact answers, just more nodes visited).
 *
 * The free space below the lowest node (the frontier of a top-down allocator) changes with almost every
 * allocation there; it is left out of the aggregates and checked last, explicitly.
 */
import type { IovaDomainOptions, IovaTree } from './types.js';
import {
  IOVA_ANCHOR,
  alignDown,
  alignUp,
  allocAlignment,
  iovaDomainGeometry,
  isModelPfn,
  log2Pow2,
} from './util.js';

const NIL = 0;
/** log2 of the items per block. */
const LOG_B = 4;
/** Items per block. */
const B = 1 << LOG_B;
const LOW = B - 1;
/**
 * Positions at the front of the lowest leaf that count as a top-down allocator's growth front (the
 * reserved nodes below it: the PCI hole and the MSI window on an x86 host). See linkBefore.
 */
const FRONT_SLOTS = 2;
/** int32 words per block record: a 16-word header, then three int32 and three float64 columns. */
const BLOCK_WORDS = 16 + 9 * B;
/** float64s per block record. */
const BLOCK_FLOATS = BLOCK_WORDS >> 1;
const BLOCK_BYTES = BLOCK_WORDS * 4;
// header words of a block record
const CNT = 0;
const PAR = 1;
const IDX = 2;
/** Inner blocks: 1 when the children are leaves. */
const KIDS_LEAF = 3;
const PREV = 4;
const NEXT = 5;
// entry columns: int32 word offsets (KEY, C0, C1) and float64 offsets (A, G) inside the record
const KEY = 16;
const C0 = 16 + B;
const C1 = 16 + 2 * B;
/** Leaf: pfn_lo; inner: the child's largest gap (an upper bound, see the header). */
const A = (16 + 3 * B) >> 1;
/** Leaf: glo (start of the gap below the node); inner: the child's lowest pfn_lo. */
const G = A + B;
/** Leaf: pfn_hi; inner: unused. */
const HI = G + B;

// how a search tests entries (setQuery)
const Q_GAP = 0;
const Q_CAP = 1;
const Q_BOUND = 2;
/** A capacity byte as a filter (it must be saturated), then the exact test: 256 pages at order 8. */
const Q_CAP_SAT = 3;

/** Word index of entry e's column base (add KEY, C0 or C1); e = block * B + position. */
function ew(e: number): number {
  return (e >> LOG_B) * BLOCK_WORDS + (e & LOW);
}

/** Float index of entry e's column base (add A or G). */
function ef(e: number): number {
  return (e >> LOG_B) * BLOCK_FLOATS + (e & LOW);
}
/** Alignment orders with an exact capacity aggregate (2^1 .. 2^8 pages). */
const CAP_ORDERS = 8;

/** Cap words when every order is saturated (order 8 clamps at 127). */
const SAT0 = 0x08040201;
const SAT1 = 0x7f402010;
/** Highest `need` a cap byte can answer exactly. */
const MAX_NEED = 127;
const H = 0x80808080 | 0;

/** Per byte of two words of 7-bit values: 0x80 where a >= b, else 0. */
function geMask(a: number, b: number): number {
  return ((a | H) - b) & H;
}

/** Did every byte that went down from `was` to `now` lie strictly below the aggregate `agg`? */
function lanesStay(was: number, now: number, agg: number): boolean {
  if (was === now) return true;
  const down = ~geMask(now, was) & H;
  return (down & geMask(was, agg)) === 0;
}

/** Bytewise max of two packed words of 7-bit values. */
function bmax(a: number, b: number): number {
  const m = Math.imul(geMask(a, b) >>> 7, 0xff);
  return (a & m) | (b & ~m);
}

/** One pool of block records (leaves, or inner blocks): W and F view the same buffer. */
class BlockPool {
  cap = 0;
  W = new Int32Array(0);
  F = new Float64Array(0);
  private readonly free: number[] = [];
  private used = 1;

  constructor(initial: number) {
    this.grow(initial);
  }

  private grow(n: number): void {
    const c = Math.max(n, this.cap * 2);
    const buf = new ArrayBuffer(c * BLOCK_BYTES);
    const w = new Int32Array(buf);
    w.set(this.W);
    this.W = w;
    this.F = new Float64Array(buf);
    this.cap = c;
  }

  alloc(): number {
    let b = this.free.pop();
    if (b === undefined) {
      if (this.used >= this.cap) this.grow(this.cap * 2);
      b = this.used++;
    }
    const h = b * BLOCK_WORDS;
    const W = this.W;
    W[h + CNT] = 0;
    W[h + PAR] = NIL;
    W[h + IDX] = 0;
    W[h + KIDS_LEAF] = 0;
    W[h + PREV] = NIL;
    W[h + NEXT] = NIL;
    return b;
  }

  release(b: number): void {
    this.free.push(b);
  }

  /** Blocks in use. */
  get live(): number {
    return this.used - 1 - this.free.length;
  }
}

export class FastIovaTree implements IovaTree {
  readonly granule: number;
  readonly startPfn: number;
  readonly dma32bitPfn: number;
  max32AllocSize: number;
  count = 0;
  readonly anchor: number;

  private readonly shift: number;
  private readonly legacy411: boolean;

  // handles (slots): S[x] = the leaf holding node x (0 when the slot is free). 4 bytes a node, so that
  // at 10^6 nodes the handle table stays in the last-level cache; the pfns live in the leaf only.
  private sCap = 0;
  private S = new Int32Array(0);
  private sFree: number[] = [];
  private sUsed = 1;

  /** Leaves, and inner blocks apart from them: the inner levels stay compact (cache and TLB). */
  private readonly L = new BlockPool(8);
  private readonly I = new BlockPool(4);
  /** up[leaf] = parent * B + position of leaf's entry in its parent (a hint for early loads only). */
  private up = new Int32Array(8);
  private root = NIL;
  private rootIsLeaf = true;

  private cached = NIL;
  private cached32 = NIL;
  // pfn_lo and pfn_hi of the two cached nodes (kept with them: the walk starts from there)
  private cachedLo = 0;
  private cachedHi = 0;
  private cached32Lo = 0;
  private cached32Hi = 0;
  // the leaves where the cached nodes and the lowest node were last seen (hints: entryNear checks them
  // before the handle table, whose line at 10^6 nodes is a cache miss)
  private cachedLeaf = NIL;
  private cached32Leaf = NIL;
  private lowestLeaf = NIL;
  private lowest = NIL;
  /** The node whose gap the last successful walk used (the new node's successor). */
  private found = NIL;
  // the current search (setQuery)
  private qSize = 0;
  private qAlign = 1;
  private qMode = Q_GAP;
  private qCol = C0;
  private qShift = 0;
  private qNeed = 0;
  // scratch results of aggregate()
  private aMg = 0;
  private aC0 = 0;
  private aC1 = 0;
  private aMinLo = 0;

  // init_iova_domain
  constructor(opts: IovaDomainOptions) {
    const geo = iovaDomainGeometry(opts.granule, opts.startPfn);
    if (geo === undefined) {
      throw new RangeError(`iova: bad domain granule ${opts.granule} or start_pfn ${opts.startPfn}`);
    }
    this.shift = geo.shift;
    this.granule = opts.granule;
    this.startPfn = opts.startPfn;
    this.legacy411 = opts.legacy411 === true;
    this.dma32bitPfn = geo.dma32bitPfn;
    this.max32AllocSize = this.dma32bitPfn;
    this.growSlots(64);
    const a = this.newSlot();
    const leaf = this.L.alloc();
    this.root = leaf;
    this.insertAt(leaf, 0, a, IOVA_ANCHOR, IOVA_ANCHOR, 0);
    this.ownCaps(leaf * B);
    this.anchor = a;
    this.lowest = a;
    this.setCached(a, IOVA_ANCHOR, IOVA_ANCHOR, leaf);
    this.setCached32(a, IOVA_ANCHOR, IOVA_ANCHOR, leaf);
    this.lowestLeaf = leaf;
  }

  // ---- storage

  /** The cached node becomes x = [lo, hi], last seen in leaf `leaf` (a hint, see entryNear). */
  private setCached(x: number, lo: number, hi: number, leaf: number): void {
    this.cached = x;
    this.cachedLo = lo;
    this.cachedHi = hi;
    this.cachedLeaf = leaf;
  }

  private setCached32(x: number, lo: number, hi: number, leaf: number): void {
    this.cached32 = x;
    this.cached32Lo = lo;
    this.cached32Hi = hi;
    this.cached32Leaf = leaf;
  }

  private growSlots(n: number): void {
    const c = Math.max(n, this.sCap * 2);
    const sv = new Int32Array(c);
    sv.set(this.S);
    this.S = sv;
    this.sCap = c;
  }

  private newSlot(): number {
    let x = this.sFree.pop();
    if (x === undefined) {
      if (this.sUsed >= this.sCap) this.growSlots(this.sCap * 2);
      x = this.sUsed++;
    }
    return x;
  }

  private pool(leaf: boolean): BlockPool {
    return leaf ? this.L : this.I;
  }

  /** Number of items in block b of the given pool. */
  private blockCount(b: number, leaf: boolean): number {
    return this.pool(leaf).W[b * BLOCK_WORDS + CNT]!;
  }

  /** Parent (an inner block) of block b of the given pool, NIL for the root. */
  private parent(b: number, leaf: boolean): number {
    return this.pool(leaf).W[b * BLOCK_WORDS + PAR]!;
  }

  /** Index of block b's entry in its parent (kept by openAt/removeAt/split, so no parent scan). */
  private indexInParent(b: number, leaf: boolean): number {
    return this.pool(leaf).W[b * BLOCK_WORDS + IDX]!;
  }

  /** Are the children of inner block p leaves? */
  private kidsAreLeaves(p: number): boolean {
    return this.I.W[p * BLOCK_WORDS + KIDS_LEAF] === 1;
  }

  /**
   * Reads one value of every line of leaf b's record and returns their sum, which is never 0.5 (int32
   * words, integral pfns). An operation that will touch most of a leaf calls it first and folds
   * `Number(sum === 0.5)` (always 0) into a result it needs, so the lines are requested together: at
   * 10^6 nodes a leaf is a cache miss, and otherwise the lines of its value columns would only be
   * requested after the key column has been searched.
   */
  private leafLines(b: number): number {
    const F = this.L.F;
    const W = this.L.W;
    const f = b * BLOCK_FLOATS;
    const w = b * BLOCK_WORDS;
    return (
      F[f + A]! +
      F[f + A + 8]! +
      F[f + G]! +
      F[f + G + 8]! +
      F[f + HI]! +
      F[f + HI + 8]! +
      W[w + C0]! +
      W[w + C1]!
    );
  }

  /** Entry index (leaf * B + position) of live handle x. */
  private entry(x: number): number {
    const leaf = this.S[x]!;
    const h = leaf * BLOCK_WORDS;
    const W = this.L.W;
    const n = W[h + CNT]!;
    let i = 0;
    while (i < n && W[h + KEY + i] !== x) i++;
    return leaf * B + i;
  }

  /**
   * Entry of live handle x, looked for first in leaf `hint` (where x was last seen: it is there unless
   * a split or a dropped block moved it; a reused block holds other handles, so a hit is always right).
   */
  private entryNear(x: number, hint: number): number {
    const h = hint * BLOCK_WORDS;
    const W = this.L.W;
    const n = W[h + CNT]!;
    for (let i = 0; i < n; i++) if (W[h + KEY + i] === x) return hint * B + i;
    return this.entry(x);
  }

  /** Own capacity words of leaf entry e from its gap (zero for the lowest node, see the header). */
  private ownCaps(e: number): void {
    const f = ef(e);
    const F = this.L.F;
    const glo = F[f + G]!;
    let w0 = 0;
    let w1 = 0;
    if (glo !== 0) {
      const g = F[f + A]! - glo;
      if (g >= 512) {
        w0 = SAT0;
        w1 = SAT1;
      } else if (g > 1) {
        const gi = g | 0;
        // -glo modulo 512 is all the masks below need (glo may exceed 2^32: no int conversion of glo)
        const ng = -(glo - Math.floor(glo / 512) * 512);
        for (let k = 0; k < CAP_ORDERS; k++) {
          const half = 1 << k;
          let v = gi - (ng & ((half << 1) - 1)) - half;
          v = v <= 0 ? 0 : v >= half ? (half > MAX_NEED ? MAX_NEED : half) : v > MAX_NEED ? MAX_NEED : v;
          if (k < 4) w0 |= v << (k << 3);
          else w1 |= v << ((k - 4) << 3);
        }
      }
    }
    const w = ew(e);
    this.L.W[w + C0] = w0;
    this.L.W[w + C1] = w1;
  }

  // ---- aggregates

  /** Compute block b's aggregate into aMg/aC0/aC1/aMinLo. */
  private aggregate(b: number, leaf: boolean): void {
    const P = this.pool(leaf);
    const W = P.W;
    const F = P.F;
    const h = b * BLOCK_WORDS;
    const fb = b * BLOCK_FLOATS;
    const n = W[h + CNT]!;
    let mg = -1;
    let c0 = 0;
    let c1 = 0;
    if (leaf) {
      for (let i = 0; i < n; i++) {
        const glo = F[fb + G + i]!;
        if (glo === 0) continue; // the lowest node's gap is not aggregated
        const g = F[fb + A + i]! - glo;
        if (g > mg) mg = g;
        if (g <= 1) continue; // no capacity at any order
        const w0 = W[h + C0 + i]!;
        const w1 = W[h + C1 + i]!;
        if (w0 !== c0 && c0 !== SAT0) c0 = bmax(c0, w0);
        if (w1 !== c1 && c1 !== SAT1) c1 = bmax(c1, w1);
      }
      if (mg < 0) mg = 0;
      this.aMinLo = F[fb + A]!;
    } else {
      for (let i = 0; i < n; i++) {
        const g = F[fb + A + i]!;
        if (g > mg) mg = g;
        const w0 = W[h + C0 + i]!;
        const w1 = W[h + C1 + i]!;
        if (w0 !== c0 && c0 !== SAT0) c0 = bmax(c0, w0);
        if (w1 !== c1 && c1 !== SAT1) c1 = bmax(c1, w1);
      }
      this.aMinLo = F[fb + G]!;
    }
    this.aMg = mg;
    this.aC0 = c0;
    this.aC1 = c1;
  }

  /** Record the positions of inner block p's children from index i on. */
  private reindex(p: number, i: number): void {
    const h = p * BLOCK_WORDS;
    const IW = this.I.W;
    const CW = this.pool(IW[h + KIDS_LEAF] === 1).W;
    const n = IW[h + CNT]!;
    if (IW[h + KIDS_LEAF] === 1) {
      for (; i < n; i++) {
        const c = IW[h + KEY + i]!;
        CW[c * BLOCK_WORDS + IDX] = i;
        this.setUp(c, p * B + i);
      }
    } else for (; i < n; i++) CW[IW[h + KEY + i]! * BLOCK_WORDS + IDX] = i;
  }

  private setUp(leaf: number, e: number): void {
    if (leaf >= this.up.length) {
      const u = new Int32Array(Math.max(this.L.cap, leaf + 1));
      u.set(this.up);
      this.up = u;
    }
    this.up[leaf] = e;
  }

  /** Store block b's exact aggregate in its parent's entry. */
  private store(b: number, leaf: boolean): void {
    const p = this.parent(b, leaf);
    if (p === NIL) return;
    this.aggregate(b, leaf);
    const e = p * B + this.indexInParent(b, leaf);
    const w = ew(e);
    const f = ef(e);
    this.I.F[f + A] = this.aMg;
    this.I.W[w + C0] = this.aC0;
    this.I.W[w + C1] = this.aC1;
    this.I.F[f + G] = this.aMinLo;
  }

  /**
   * store(), then one level up as well when the parent's entry went down: the grandparent's bound for
   * the parent is recomputed while the parent is in cache, instead of by a later fruitless search.
   */
  private storeTwoLevels(leaf: number): void {
    const p = this.parent(leaf, true);
    if (p === NIL) return;
    const e = p * B + this.indexInParent(leaf, true);
    const w = ew(e);
    const o0 = this.I.W[w + C0]!;
    const o1 = this.I.W[w + C1]!;
    this.store(leaf, true);
    if (this.I.W[w + C0] === o0 && this.I.W[w + C1] === o1) return;
    if (this.parent(p, false) === NIL) return;
    this.aggregate(p, false);
    const pp = this.parent(p, false);
    const pe = pp * B + this.indexInParent(p, false);
    const pw = ew(pe);
    this.I.F[ef(pe) + A] = this.aMg;
    this.I.W[pw + C0] = this.aC0;
    this.I.W[pw + C1] = this.aC1;
  }

  /**
   * Block b's lowest pfn_lo changed: store it in its parent's entry, and further up while b is its
   * parent's first child. (The lowest pfn_lo is exact at every level: lookups by pfn navigate by it.)
   */
  private fixMinLo(b: number, leaf: boolean): void {
    const IW = this.I.W;
    const IF = this.I.F;
    let lo = leaf ? this.L.F[b * BLOCK_FLOATS + A]! : IF[b * BLOCK_FLOATS + G]!;
    let h = b * BLOCK_WORDS;
    let W = this.pool(leaf).W;
    for (;;) {
      const p = W[h + PAR]!;
      if (p === NIL) return;
      const i = W[h + IDX]!;
      const f = p * BLOCK_FLOATS + i;
      if (IF[f + G] === lo) return;
      IF[f + G] = lo;
      if (i !== 0) return;
      lo = IF[p * BLOCK_FLOATS + G]!;
      h = p * BLOCK_WORDS;
      W = IW;
    }
  }

  /** Values of leaf b's entries only grew: fold them into the ancestors' entries until nothing changes. */
  private raise(b: number, g: number, c0: number, c1: number): void {
    const IW = this.I.W;
    const IF = this.I.F;
    let h = b * BLOCK_WORDS;
    let W = this.L.W;
    for (let p = W[h + PAR]!; p !== NIL; p = W[h + PAR]!) {
      const e = p * B + W[h + IDX]!;
      const w = ew(e);
      const f = ef(e);
      const og = IF[f + A]!;
      const o0 = IW[w + C0]!;
      const o1 = IW[w + C1]!;
      const ng = g > og ? g : og;
      const n0 = bmax(o0, c0);
      const n1 = bmax(o1, c1);
      if (ng === og && n0 === o0 && n1 === o1) return;
      IF[f + A] = ng;
      IW[w + C0] = n0;
      IW[w + C1] = n1;
      g = ng;
      c0 = n0;
      c1 = n1;
      h = p * BLOCK_WORDS;
      W = IW;
    }
  }

  // ---- leaf entry fields

  private key(e: number): number {
    return this.L.W[ew(e) + KEY]!;
  }

  /** pfn_lo. */
  private lo(e: number): number {
    return this.L.F[ef(e) + A]!;
  }

  /** glo. */
  private glo(e: number): number {
    return this.L.F[ef(e) + G]!;
  }

  /** pfn_hi. */
  private hi(e: number): number {
    return this.L.F[ef(e) + HI]!;
  }

  // ---- order

  /** Entry after leaf entry e (across leaves), or -1. */
  private nextEntry(e: number): number {
    const h = (e >> LOG_B) * BLOCK_WORDS;
    if ((e & LOW) + 1 < this.L.W[h + CNT]!) return e + 1;
    const nx = this.L.W[h + NEXT]!;
    return nx === NIL ? -1 : nx * B;
  }

  /** Entry before leaf entry e (across leaves), or -1. */
  private prevEntry(e: number): number {
    if ((e & LOW) !== 0) return e - 1;
    const pv = this.L.W[(e >> LOG_B) * BLOCK_WORDS + PREV]!;
    return pv === NIL ? -1 : pv * B + this.blockCount(pv, true) - 1;
  }

  /** The leaf whose key range holds `key` (the first leaf when key is below everything). */
  private leafFor(key: number): number {
    if (this.rootIsLeaf) return this.root;
    const W = this.I.W;
    const F = this.I.F;
    let b = this.root;
    for (;;) {
      const fb = b * BLOCK_FLOATS;
      let i = W[b * BLOCK_WORDS + CNT]! - 1;
      while (i > 0 && F[fb + G + i]! > key) i--;
      const c = W[b * BLOCK_WORDS + KEY + i]!;
      if (W[b * BLOCK_WORDS + KIDS_LEAF] === 1) return c;
      b = c;
    }
  }

  /** Entry of the lowest node with pfn_lo >= key (the anchor's at worst). */
  private lowestLoAtLeast(key: number): number {
    let leaf = this.leafFor(key);
    for (;;) {
      const fb = leaf * BLOCK_FLOATS;
      const n = this.blockCount(leaf, true);
      for (let i = 0; i < n; i++) if (this.L.F[fb + A + i]! >= key) return leaf * B + i;
      leaf = this.L.W[leaf * BLOCK_WORDS + NEXT]!;
      if (leaf === NIL) return -1;
    }
  }

  // ---- structure

  /** Copy entry `from` of block fromB to entry `to` of block toB (every column; one pool). */
  private moveEntry(P: BlockPool, fromB: number, from: number, toB: number, to: number): void {
    const W = P.W;
    const F = P.F;
    const fw = fromB * BLOCK_WORDS + from;
    const tw = toB * BLOCK_WORDS + to;
    W[tw + KEY] = W[fw + KEY]!;
    W[tw + C0] = W[fw + C0]!;
    W[tw + C1] = W[fw + C1]!;
    const ff = fromB * BLOCK_FLOATS + from;
    const tf = toB * BLOCK_FLOATS + to;
    F[tf + A] = F[ff + A]!;
    F[tf + G] = F[ff + G]!;
    F[tf + HI] = F[ff + HI]!;
  }

  /** Make room at index i of block b (which has room): shift items right by one. */
  private openAt(P: BlockPool, b: number, i: number): void {
    const h = b * BLOCK_WORDS;
    const n = P.W[h + CNT]!;
    for (let j = n - 1; j >= i; j--) this.moveEntry(P, b, j, b, j + 1);
    P.W[h + CNT] = n + 1;
  }

  /** Insert node x = [lo, hi] with gap start `glo` at index i of leaf b (which has room). */
  private insertAt(b: number, i: number, x: number, lo: number, hi: number, glo: number): void {
    this.openAt(this.L, b, i);
    this.L.W[b * BLOCK_WORDS + KEY + i] = x;
    const f = b * BLOCK_FLOATS + i;
    const F = this.L.F;
    F[f + A] = lo;
    F[f + G] = glo;
    F[f + HI] = hi;
    this.S[x] = b;
  }

  /** Remove index i of block b. */
  private removeAt(b: number, i: number, leaf: boolean): void {
    const P = this.pool(leaf);
    const h = b * BLOCK_WORDS;
    const n = P.W[h + CNT]!;
    for (let j = i + 1; j < n; j++) this.moveEntry(P, b, j, b, j - 1);
    P.W[h + CNT] = n - 1;
    if (!leaf) this.reindex(b, i);
  }

  /**
   * Split full block b: its upper half moves to a new right sibling, linked into the parent. With
   * `keep` > 0 only the first `keep` entries stay (see linkBefore: the front of the lowest leaf).
   */
  private split(b: number, leaf: boolean, keep = 0): number {
    const P = this.pool(leaf);
    let p = this.parent(b, leaf);
    if (p === NIL) {
      p = this.I.alloc();
      const ph = p * BLOCK_WORDS;
      this.I.W[ph + KEY] = b;
      this.I.W[ph + CNT] = 1;
      this.I.W[ph + KIDS_LEAF] = leaf ? 1 : 0;
      P.W[b * BLOCK_WORDS + PAR] = p;
      P.W[b * BLOCK_WORDS + IDX] = 0;
      if (leaf) this.setUp(b, p * B);
      this.root = p;
      this.rootIsLeaf = false;
    } else if (this.blockCount(p, false) === B) {
      // the lowest leaf's ancestors are their level's first blocks: the same uneven split (the new
      // sibling goes right after b, which stays alone)
      this.split(p, false, keep > 0 && this.indexInParent(b, leaf) === 0 ? 1 : 0);
      p = this.parent(b, leaf);
    }
    const r = P.alloc();
    const W = P.W; // (alloc may have grown the pool)
    const stay = keep > 0 ? keep : B >> 1;
    for (let i = 0; i < B - stay; i++) this.moveEntry(P, b, stay + i, r, i);
    const bh = b * BLOCK_WORDS;
    const rh = r * BLOCK_WORDS;
    if (leaf) {
      for (let i = 0; i < B - stay; i++) this.S[W[rh + KEY + i]!] = r;
      const nx = W[bh + NEXT]!;
      W[rh + NEXT] = nx;
      if (nx !== NIL) W[nx * BLOCK_WORDS + PREV] = r;
      W[rh + PREV] = b;
      W[bh + NEXT] = r;
    } else {
      const kidsLeaf = W[bh + KIDS_LEAF]!;
      W[rh + KIDS_LEAF] = kidsLeaf;
      const CW = this.pool(kidsLeaf === 1).W;
      for (let i = 0; i < B - stay; i++) CW[W[rh + KEY + i]! * BLOCK_WORDS + PAR] = r;
    }
    W[bh + CNT] = stay;
    W[rh + CNT] = B - stay;
    if (!leaf) this.reindex(r, 0);
    const at = this.indexInParent(b, leaf) + 1;
    this.openAt(this.I, p, at);
    this.I.W[p * BLOCK_WORDS + KEY + at] = r;
    W[rh + PAR] = p;
    this.reindex(p, at);
    this.store(b, leaf);
    this.store(r, leaf);
    return r;
  }

  /** Unhook an empty block from its parent (recursively) and the leaf list. */
  private dropBlock(b: number, leaf: boolean): void {
    const P = this.pool(leaf);
    const W = P.W;
    const h = b * BLOCK_WORDS;
    if (leaf) {
      const pv = W[h + PREV]!;
      const nx = W[h + NEXT]!;
      if (pv !== NIL) W[pv * BLOCK_WORDS + NEXT] = nx;
      if (nx !== NIL) W[nx * BLOCK_WORDS + PREV] = pv;
    }
    const p = W[h + PAR]!;
    P.release(b);
    if (p === NIL) return; // never: the anchor's leaf is never empty
    const i = W[h + IDX]!;
    this.removeAt(p, i, false);
    // fewer nodes below p: its bound stays an upper bound
    if (this.blockCount(p, false) === 0) this.dropBlock(p, false);
    else if (i === 0) this.fixMinLo(p, false);
  }

  /**
   * Insert node x = [lo, hi] into the gap below the node at entry en: x takes the lower part of that
   * gap and becomes its predecessor in the same leaf. Returns x's entry.
   */
  private linkBefore(x: number, lo: number, hi: number, en: number): number {
    let leaf = en >> LOG_B;
    const wn = ew(en);
    const fn = ef(en);
    const LW = this.L.W;
    const LF = this.L.F;
    const glo = LF[fn + G]!;
    const old0 = LW[wn + C0]!;
    const old1 = LW[wn + C1]!;
    // next's gap shrinks to what lies above x; x's own gap is the part below it. Both are parts of the
    // old gap, so every bound above stays valid, except in the two cases handled below.
    LF[fn + G] = hi + 1;
    this.ownCaps(en);
    if (glo === 0) {
      // x becomes the lowest node (not aggregated) and next's remaining gap starts to count: raise it
      // now, before a split stores the halves' aggregates (which would stop the raise one level up)
      this.lowest = x;
      this.lowestLeaf = leaf;
      this.raise(leaf, LF[fn + A]! - LF[fn + G]!, LW[wn + C0]!, LW[wn + C1]!);
    }
    let split = false;
    // next's position (known: no handle-table lookup, which at 10^6 nodes is a cache miss)
    let i = en & LOW;
    if (this.blockCount(leaf, true) === B) {
      // A top-down allocator grows the tree at the front of the lowest leaf, just above the few
      // reserved nodes at the bottom. Halving there would leave every leaf behind that front half
      // empty for good; keep only the entries up to next and move the rest, so they stay nearly full
      // (fewer leaves and inner blocks: at 10^6 nodes, fewer cache misses).
      const front = i <= FRONT_SLOTS && this.L.W[leaf * BLOCK_WORDS + PREV] === NIL;
      const keep = front ? i + 1 : 0;
      const r = this.split(leaf, true, keep);
      const stay = keep > 0 ? keep : B >> 1;
      if (i >= stay) {
        leaf = r;
        i -= stay;
      }
      split = true;
    }
    this.insertAt(leaf, i, x, lo, hi, glo);
    const ex = leaf * B + i;
    this.ownCaps(ex);
    this.count++;
    if (i === 0) this.fixMinLo(leaf, true);
    const W = this.L.W; // (a split may have grown the pool)
    const F = this.L.F;
    if (!split && glo !== 0) {
      // next's gap shrank and x holds the rest of it: the leaf's capacities (exact in its parent) change
      // only if a value that went down was the maximum and neither part keeps it (with clamped
      // capacities x's lower part often does)
      const p = this.parent(leaf, true);
      if (p === NIL) return ex;
      const e = p * B + this.indexInParent(leaf, true);
      const w = ew(e);
      const wnow = ew(ex + 1);
      const wx = ew(ex);
      // (the largest gap may stay an upper bound, as in inner entries: only size-1 unaligned and
      // alignments beyond the capacity bytes test it, and a miss there tightens it)
      if (
        !lanesStay(old0, bmax(W[wnow + C0]!, W[wx + C0]!), this.I.W[w + C0]!) ||
        !lanesStay(old1, bmax(W[wnow + C1]!, W[wx + C1]!), this.I.W[w + C1]!)
      )
        this.storeTwoLevels(leaf);
    }
    if (split && glo !== 0) {
      // split() stored the halves' exact aggregates before x came in: fold x's gap in (above the
      // leaf's parent the old bounds already cover it, x's gap being a part of next's old one)
      const wx = ew(ex);
      const fx = ef(ex);
      this.raise(leaf, F[fx + A]! - F[fx + G]!, W[wx + C0]!, W[wx + C1]!);
    }
    return ex;
  }

  /** Remove live node x at entry ex (never the anchor); its gap joins its successor's (entry en). */
  private unlink(x: number, ex: number, en: number): void {
    const leaf = ex >> LOG_B;
    const nleaf = en >> LOG_B;
    const xi = ex & LOW;
    this.L.F[ef(en) + G] = this.L.F[ef(ex) + G]!;
    this.ownCaps(en);
    const wasLowest = x === this.lowest;
    if (wasLowest) {
      this.lowest = this.key(en);
      this.lowestLeaf = nleaf;
    }
    this.removeAt(leaf, xi, true);
    this.S[x] = NIL;
    this.sFree.push(x);
    this.count--;
    const en2 = nleaf === leaf ? en - 1 : en;
    if (this.blockCount(leaf, true) === 0) this.dropBlock(leaf, true);
    else {
      if (xi === 0) this.fixMinLo(leaf, true);
      // x's gap left its leaf (within one leaf next's merged gap holds it): keep the leaf's entry exact
      if (nleaf !== leaf) this.store(leaf, true);
    }
    if (wasLowest) {
      // next became the lowest node: its gap stops counting
      this.store(nleaf, true);
    } else {
      // next's merged gap grew
      const f2 = ef(en2);
      const w2 = ew(en2);
      this.raise(nleaf, this.L.F[f2 + A]! - this.L.F[f2 + G]!, this.L.W[w2 + C0]!, this.L.W[w2 + C1]!);
    }
  }

  // ---- the walk

  /** Does leaf entry e's own gap [glo, pfn_lo) hold an aligned block of `size`? */
  private fits(e: number, size: number, align: number): boolean {
    const f = ef(e);
    return this.L.F[f + A]! - alignUp(this.L.F[f + G]!, align) >= size;
  }

  /**
   * Set the current search (size, alignment): how a leaf entry's own gap and an inner entry's bound are
   * tested. Orders 1..8 with need <= 127 read one byte of one capacity word (exact); order 0 compares
   * the gap length; 256 pages at order 8 (need 128, beyond a byte) can only fit where that byte is
   * saturated, which filters inner entries and leaf entries before fits(): far fewer descents than the
   * largest-gap bound, which says nothing about alignment. Larger alignments use that bound, then fits().
   */
  private setQuery(size: number, align: number): void {
    const k = align === 1 ? 0 : log2Pow2(align);
    const need = size - (align >> 1);
    this.qSize = size;
    this.qAlign = align;
    this.qMode = k === 0 ? Q_GAP : k > CAP_ORDERS ? Q_BOUND : need > MAX_NEED ? Q_CAP_SAT : Q_CAP;
    this.qCol = k <= 4 ? C0 : C1;
    this.qShift = ((k - 1) & 3) << 3;
    this.qNeed = need > MAX_NEED ? MAX_NEED : need;
  }

  /** Does leaf entry i of block b (word index w, float index f) fit the current search? */
  private leafFits(w: number, f: number): boolean {
    const F = this.L.F;
    if (this.qMode === Q_GAP) return F[f + A]! - F[f + G]! >= this.qSize;
    if (this.qMode !== Q_BOUND && F[f + G] !== 0) {
      const byteFits = ((this.L.W[w + this.qCol]! >>> this.qShift) & 0xff) >= this.qNeed;
      if (this.qMode === Q_CAP || !byteFits) return byteFits;
    }
    return F[f + A]! - alignUp(F[f + G]!, this.qAlign) >= this.qSize;
  }

  /** May inner entry (word index w, float index f) hold a fit for the current search? */
  private innerMay(w: number, f: number): boolean {
    if (this.qMode === Q_CAP || this.qMode === Q_CAP_SAT)
      return ((this.I.W[w + this.qCol]! >>> this.qShift) & 0xff) >= this.qNeed;
    return this.I.F[f + A]! >= this.qSize;
  }

  /** Entry of the highest fitting node in leaf b at or below position i, or -1. */
  private scanLeaf(b: number, i: number): number {
    const w0 = b * BLOCK_WORDS;
    const f0 = b * BLOCK_FLOATS;
    for (; i >= 0; i--) if (this.leafFits(w0 + i, f0 + i)) return b * B + i;
    return -1;
  }

  /** Entry of the highest fitting node under the entries of inner block p at or below position i. */
  private scanInner(p: number, i: number): number {
    const w0 = p * BLOCK_WORDS;
    const f0 = p * BLOCK_FLOATS;
    const kidsLeaf = this.I.W[w0 + KIDS_LEAF] === 1;
    for (; i >= 0; i--) {
      if (!this.innerMay(w0 + i, f0 + i)) continue;
      const c = this.I.W[w0 + KEY + i]!;
      const r = kidsLeaf
        ? this.scanLeaf(c, this.blockCount(c, true) - 1)
        : this.scanInner(c, this.blockCount(c, false) - 1);
      if (r >= 0) return r;
      this.tightenAt(p, i, c, kidsLeaf);
    }
    return -1;
  }

  /** A search found no fit under entry i of inner block p (child c): replace its bounds by c's. */
  private tightenAt(p: number, i: number, c: number, leaf: boolean): void {
    this.aggregate(c, leaf);
    const w = p * BLOCK_WORDS + i;
    this.I.F[p * BLOCK_FLOATS + i + A] = this.aMg;
    this.I.W[w + C0] = this.aC0;
    this.I.W[w + C1] = this.aC1;
  }

  /** Entry of the highest node at or below entry eb (in pfn order) whose own gap fits, or -1. */
  private highestFitAtOrBelow(eb: number, size: number, align: number): number {
    if (eb < 0) return -1;
    this.setQuery(size, align);
    let blk = eb >> LOG_B;
    const r0 = this.scanLeaf(blk, eb & LOW);
    if (r0 >= 0) return r0;
    let leaf = true;
    for (let p = this.parent(blk, true); p !== NIL; blk = p, p = this.parent(p, false)) {
      const r = this.scanInner(p, this.indexInParent(blk, leaf) - 1);
      if (r >= 0) return r;
      leaf = false;
    }
    // the frontier below the lowest node is the last candidate
    const el = this.entryNear(this.lowest, this.lowestLeaf);
    return this.fits(el, size, align) ? el : -1;
  }

  /**
   * One pass of the kernel's walk starting at node c (pfn_lo cLo) over [low, limit): the pfn of the
   * block the kernel would choose (the entry of its successor node in `this.found`), or -1 for "no room".
   */
  private walk(
    c: number,
    cLeaf: number,
    cLo: number,
    limit: number,
    size: number,
    align: number,
    low: number,
  ): number {
    let en = -1;
    let h = 0;
    if (cLo >= limit) {
      const el = this.lowestLoAtLeast(limit);
      // L's gap clipped at the limit
      if (limit >= size && alignDown(limit - size, align) >= this.glo(el)) {
        en = el;
        h = limit;
      } else {
        en = this.highestFitAtOrBelow(this.prevEntry(el), size, align);
        h = en < 0 ? 0 : this.lo(en);
      }
    } else {
      en = this.highestFitAtOrBelow(this.entryNear(c, cLeaf), size, align);
      h = en < 0 ? 0 : this.lo(en);
    }
    if (en < 0) return -1;
    const newPfn = alignDown(h - size, align);
    if (newPfn < low) return -1;
    // spec 6.7 (b): the pre-4.15 bottom-of-walk check refused a block starting exactly at start_pfn.
    if (this.legacy411 && newPfn === this.startPfn && this.glo(en) === 0) return -1;
    this.found = en;
    return newPfn;
  }
  // ---- the kernel API

  // alloc_iova -> __alloc_and_insert_iova_range(size, limit_pfn + 1, size_aligned)
  allocIova(size: number, limitPfn: number, sizeAligned: boolean): number {
    if (!isModelPfn(size) || size < 1 || !isModelPfn(limitPfn)) return 0;
    const limit = limitPfn + 1;
    const align = allocAlignment(size, sizeAligned);
    if (limit <= this.dma32bitPfn && size >= this.max32AllocSize) return 0;
    const low32 = limit <= this.dma32bitPfn;
    const c = low32 ? this.cached32 : this.cached;
    const retryPfn = low32 ? this.cached32Hi : this.cachedHi;
    const cLeaf = low32 ? this.cached32Leaf : this.cachedLeaf;
    const cLo = low32 ? this.cached32Lo : this.cachedLo;
    let newPfn = this.walk(c, cLeaf, cLo, limit, size, align, this.startPfn);
    if (newPfn < 0 && retryPfn < limit) {
      // retry pass above the cached node, from iova_find_limit (equivalently the anchor; the walk
      // starts at the limit then, so the anchor's leaf is never looked for)
      newPfn = this.walk(this.anchor, NIL, IOVA_ANCHOR, limit, size, align, retryPfn + 1);
    }
    if (newPfn < 0) {
      this.max32AllocSize = size;
      return 0;
    }
    const x = this.newSlot();
    const hi = newPfn + size - 1;
    const xl = this.linkBefore(x, newPfn, hi, this.found) >> LOG_B;
    // __cached_rbnode_insert_update
    if (hi < this.dma32bitPfn) this.setCached32(x, newPfn, hi, xl);
    else this.setCached(x, newPfn, hi, xl);
    return x;
  }

  // reserve_iova: extend overlapping nodes downwards, never merge or split, insert the remainder.
  reserveIova(pfnLo: number, pfnHi: number): number {
    if (!isModelPfn(pfnLo) || !isModelPfn(pfnHi) || pfnLo > pfnHi) return 0;
    if (Math.max(pfnLo, pfnHi) > 2 ** (64 - this.shift) - 1) return 0;
    let lo = pfnLo;
    const hi = pfnHi;
    // Nodes ending below pfn_lo cannot overlap: start at the node holding pfn_lo, or the next one.
    const f = this.findIova(lo);
    let e = f !== NIL ? this.entry(f) : this.lowestLoAtLeast(lo);
    for (; e >= 0 && this.key(e) !== this.anchor; e = this.nextEntry(e)) {
      const nlo = this.lo(e);
      const nhi = this.hi(e);
      if (!(lo <= nhi && hi >= nlo)) break;
      if (lo < nlo) {
        this.L.F[ef(e) + A] = lo;
        if (this.key(e) === this.cached) this.cachedLo = lo;
        if (this.key(e) === this.cached32) this.cached32Lo = lo;
        this.ownCaps(e);
        this.store(e >> LOG_B, true); // the node's gap shrank
        if ((e & LOW) === 0) this.fixMinLo(e >> LOG_B, true);
      }
      if (hi > nhi) lo = nhi + 1;
      if (lo >= this.lo(e) && hi <= nhi) return this.key(e);
    }
    const x = this.newSlot();
    this.linkBefore(x, lo, hi, this.lowestLoAtLeast(lo));
    return x;
  }

  /** Entry of the live node holding pfn (never the anchor), or -1. */
  private entryHolding(pfn: number): number {
    const leaf = this.leafFor(pfn);
    const base = leaf * B;
    const F = this.L.F;
    for (let e = base + this.blockCount(leaf, true) - 1; e >= base; e--) {
      const f = ef(e);
      if (F[f + A]! <= pfn) return pfn <= F[f + HI]! && this.key(e) !== this.anchor ? e : -1;
    }
    return -1;
  }

  // find_iova -> private_find_iova
  findIova(pfn: number): number {
    if (!isModelPfn(pfn)) return 0;
    const e = this.entryHolding(pfn);
    return e < 0 ? NIL : this.key(e);
  }

  // free_iova: find_iova, then __free_iova on the node found (its leaf entry is at hand: no handle lookup)
  freeIova(pfn: number): void {
    if (!isModelPfn(pfn)) return;
    const e = this.entryHolding(pfn);
    if (e >= 0) this.freeEntry(this.key(e), e);
  }

  private isLive(x: number): boolean {
    return Number.isInteger(x) && x > 0 && x < this.sUsed && this.S[x] !== NIL;
  }

  // __free_iova -> remove_iova
  freeIovaNode(x: number): void {
    if (!this.isLive(x) || x === this.anchor) return;
    // The free reads or shifts every column of the leaf, and its raise updates the leaf's entry in the
    // parent: request all those lines at once, before the key scan (at 10^6 nodes each is a miss).
    const leaf = this.S[x]!;
    const pe = this.up[leaf]!;
    const pre =
      this.leafLines(leaf) + this.I.W[ew(pe) + C0]! + this.I.W[ew(pe) + C1]! + this.I.F[ef(pe) + A]!;
    this.freeEntry(x, this.entry(x) + Number(pre === 0.5));
  }

  /** Free live node x (not the anchor) at leaf entry ex. */
  private freeEntry(x: number, ex: number): void {
    const en = this.nextEntry(ex);
    const next = this.key(en);
    // __cached_rbnode_delete_update
    const xlo = this.lo(ex);
    if (x === this.cached32 || (this.hi(ex) < this.dma32bitPfn && xlo >= this.cached32Lo))
      this.setCached32(next, this.lo(en), this.hi(en), en >> LOG_B);
    if (xlo < this.dma32bitPfn) this.max32AllocSize = this.dma32bitPfn;
    if (xlo >= this.cachedLo) this.setCached(next, this.lo(en), this.hi(en), en >> LOG_B);
    this.unlink(x, ex, en);
  }

  pfnLo(x: number): number {
    return this.isLive(x) ? this.lo(this.entry(x)) : -1;
  }

  pfnHi(x: number): number {
    return this.isLive(x) ? this.hi(this.entry(x)) : -1;
  }

  /** Leaves and inner blocks in use (tests, benchmarks). */
  blockCounts(): { leaves: number; inner: number } {
    return { leaves: this.L.live, inner: this.I.live };
  }

  cachedNode(): number {
    return this.cached;
  }

  cached32Node(): number {
    return this.cached32;
  }

  /** The leftmost leaf. */
  private firstLeaf(): number {
    if (this.rootIsLeaf) return this.root;
    let b = this.root;
    for (;;) {
      const c = this.I.W[b * BLOCK_WORDS + KEY]!;
      if (this.kidsAreLeaves(b)) return c;
      b = c;
    }
  }

  ranges(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (let leaf = this.firstLeaf(); leaf !== NIL; leaf = this.L.W[leaf * BLOCK_WORDS + NEXT]!) {
      const base = leaf * B;
      for (let e = base; e < base + this.blockCount(leaf, true); e++) {
        if (this.key(e) !== this.anchor) out.push([this.lo(e), this.hi(e)]);
      }
    }
    return out;
  }

  /** Debug/test aid: order, gap starts, leaf links, parent links and every stored aggregate. */
  checkInvariants(): string | null {
    const order: number[] = [];
    const leaves: number[] = [];
    const depths: number[] = [];
    const visit = (b: number, leaf: boolean, depth: number): string | null => {
      const n = this.blockCount(b, leaf);
      if (n === 0 || n > B) return `block ${b} count ${n}`;
      if (leaf) {
        depths.push(depth);
        leaves.push(b);
        for (let e = b * B; e < b * B + n; e++) {
          const x = this.key(e);
          if (this.S[x] !== b) return `leaf of ${x}`;
          if (x === this.cached && (this.cachedLo !== this.lo(e) || this.cachedHi !== this.hi(e)))
            return 'cached pfns';
          if (x === this.cached32 && (this.cached32Lo !== this.lo(e) || this.cached32Hi !== this.hi(e)))
            return 'cached32 pfns';
          order.push(e);
        }
        return null;
      }
      const kidsLeaf = this.kidsAreLeaves(b);
      for (let i = 0; i < n; i++) {
        const j = b * B + i;
        const c = this.I.W[ew(j) + KEY]!;
        if (this.parent(c, kidsLeaf) !== b) return `parent of block ${c}`;
        if (this.indexInParent(c, kidsLeaf) !== i) return `index in parent of block ${c}`;
        const err = visit(c, kidsLeaf, depth + 1);
        if (err) return err;
        this.aggregate(c, kidsLeaf);
        const w = ew(j);
        const IW = this.I.W;
        const IF = this.I.F;
        if (IF[ef(j) + A]! < this.aMg) return `max gap bound of block ${c}`;
        if (kidsLeaf) {
          if (IW[w + C0] !== this.aC0 || IW[w + C1] !== this.aC1) return `caps of leaf ${c}`;
        } else {
          if (geMask(IW[w + C0]!, this.aC0) !== H || geMask(IW[w + C1]!, this.aC1) !== H)
            return `caps bound of block ${c}`;
        }
        if (IF[ef(j) + G] !== this.aMinLo) return `min lo of block ${c}`;
      }
      return null;
    };
    const err = visit(this.root, this.rootIsLeaf, 0);
    if (err) return err;
    if (new Set(depths).size !== 1) return 'unbalanced leaves';
    for (let i = 0; i < leaves.length; i++) {
      const h = leaves[i]! * BLOCK_WORDS;
      if (this.L.W[h + PREV] !== (i > 0 ? leaves[i - 1] : NIL)) return 'leaf prev link';
      if (this.L.W[h + NEXT] !== (i + 1 < leaves.length ? leaves[i + 1] : NIL)) return 'leaf next link';
    }
    let prevHi = -1;
    for (const e of order) {
      if (this.lo(e) <= prevHi) return `overlap at ${this.lo(e)}`;
      if (this.glo(e) !== prevHi + 1) return `gap start of ${this.lo(e)}`;
      const w0 = this.L.W[ew(e) + C0];
      const w1 = this.L.W[ew(e) + C1];
      this.ownCaps(e);
      if (w0 !== this.L.W[ew(e) + C0] || w1 !== this.L.W[ew(e) + C1]) return `own caps of ${this.lo(e)}`;
      prevHi = this.hi(e);
    }
    if (this.key(order[order.length - 1]!) !== this.anchor) return 'anchor not last';
    if (this.key(order[0]!) !== this.lowest) return 'lowest';
    if (order.length !== this.count + 1) return 'count';
    return null;
  }
}
