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
 * cost.
 *
 * Memory layout: every block (leaf or inner) is one 512-byte record of a single ArrayBuffer, seen as
 * 128 int32 words or 64 float64s: a header line (count, parent, index in parent, leaf flag, leaf links),
 * then one 16-wide column per field (keys = handles or child blocks, two capacity words, two floats:
 * pfn_lo and glo in a leaf, largest gap and lowest pfn_lo in an inner block). An operation on a block
 * therefore reads a few adjacent cache lines of one record instead of one line in each of a dozen
 * parallel arrays, which is what the cost at 10^6 live nodes is made of. pfn_hi is not stored in the
 * leaf (the handle has it, and the successor's glo is pfn_hi + 1).
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
 * "byte >= s - 2^(k-1)". Bytes are kept below 128 (order 8 clamps at 127, so exactly 256 pages falls
 * back to the bound below) so that eight of them are combined with 32-bit SWAR arithmetic. Larger
 * alignments use the largest-gap bound (exact answers, just more nodes visited).
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
  granuleShift,
  isModelPfn,
  log2Pow2,
} from './util.js';

const NIL = 0;
/** log2 of the items per block. */
const LOG_B = 4;
/** Items per block. */
const B = 1 << LOG_B;
const LOW = B - 1;
/** int32 words per block record: a 16-word header, then three int32 and two float64 columns. */
const BLOCK_WORDS = 16 + 7 * B;
/** float64s per block record. */
const BLOCK_FLOATS = BLOCK_WORDS >> 1;
const BLOCK_BYTES = BLOCK_WORDS * 4;
// header words of a block record
const CNT = 0;
const PAR = 1;
const IDX = 2;
const LEAF = 3;
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

/** Byte k-1 (k = 1..8) of a packed capacity pair. */
function capByte(w0: number, w1: number, k: number): number {
  const i = k - 1;
  return ((i < 4 ? w0 : w1) >>> ((i & 3) << 3)) & 0xff;
}

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

export class FastIovaTree implements IovaTree {
  readonly granule: number;
  readonly startPfn: number;
  readonly dma32bitPfn: number;
  max32AllocSize: number;
  count = 0;
  readonly anchor: number;

  private readonly shift: number;
  private readonly legacy411: boolean;

  // handles (slots): S[x*4] = pfn_lo, S[x*4+1] = pfn_hi, S[x*4+2] = the leaf holding x (0 when the slot
  // is free); one cache line holds two handles
  private sCap = 0;
  private S = new Float64Array(0);
  private sFree: number[] = [];
  private sUsed = 1;

  // block records (see the header): W and F view the same buffer
  private bCap = 0;
  private W = new Int32Array(0);
  private F = new Float64Array(0);
  private bFree: number[] = [];
  private bUsed = 1;
  private root = NIL;

  private cached = NIL;
  private cached32 = NIL;
  private lowest = NIL;
  /** The node whose gap the last successful walk used (the new node's successor). */
  private found = NIL;
  // scratch results of aggregate()
  private aMg = 0;
  private aC0 = 0;
  private aC1 = 0;
  private aMinLo = 0;

  // init_iova_domain
  constructor(opts: IovaDomainOptions) {
    this.shift = granuleShift(opts.granule);
    if (this.shift < 0 || this.shift > 16 || !isModelPfn(opts.startPfn)) {
      throw new RangeError(`iova: bad domain granule ${opts.granule} or start_pfn ${opts.startPfn}`);
    }
    this.granule = opts.granule;
    this.startPfn = opts.startPfn;
    this.legacy411 = opts.legacy411 === true;
    this.dma32bitPfn = 2 ** (32 - this.shift);
    this.max32AllocSize = this.dma32bitPfn;
    this.growSlots(64);
    this.growBlocks(8);
    const a = this.newSlot(IOVA_ANCHOR, IOVA_ANCHOR);
    const leaf = this.newBlock(true);
    this.root = leaf;
    this.insertAt(leaf, 0, a, 0);
    this.ownCaps(leaf * B);
    this.anchor = a;
    this.lowest = a;
    this.cached = a;
    this.cached32 = a;
  }

  // ---- storage

  private growSlots(n: number): void {
    const c = Math.max(n, this.sCap * 2);
    const sv = new Float64Array(c * 4);
    sv.set(this.S);
    this.S = sv;
    this.sCap = c;
  }

  private growBlocks(n: number): void {
    const c = Math.max(n, this.bCap * 2);
    const buf = new ArrayBuffer(c * BLOCK_BYTES);
    const w = new Int32Array(buf);
    w.set(this.W);
    this.W = w;
    this.F = new Float64Array(buf);
    this.bCap = c;
  }

  private newSlot(lo: number, hi: number): number {
    let x = this.sFree.pop();
    if (x === undefined) {
      if (this.sUsed >= this.sCap) this.growSlots(this.sCap * 2);
      x = this.sUsed++;
    }
    this.S[x * 4] = lo;
    this.S[x * 4 + 1] = hi;
    return x;
  }

  private newBlock(leaf: boolean): number {
    let b = this.bFree.pop();
    if (b === undefined) {
      if (this.bUsed >= this.bCap) this.growBlocks(this.bCap * 2);
      b = this.bUsed++;
    }
    const h = b * BLOCK_WORDS;
    const W = this.W;
    W[h + CNT] = 0;
    W[h + PAR] = NIL;
    W[h + IDX] = 0;
    W[h + LEAF] = leaf ? 1 : 0;
    W[h + PREV] = NIL;
    W[h + NEXT] = NIL;
    return b;
  }

  private blockCount(b: number): number {
    return this.W[b * BLOCK_WORDS + CNT]!;
  }

  private parent(b: number): number {
    return this.W[b * BLOCK_WORDS + PAR]!;
  }

  private isLeaf(b: number): boolean {
    return this.W[b * BLOCK_WORDS + LEAF] === 1;
  }

  /** Index of block b's entry in its parent (kept by openAt/removeAt/split, so no parent scan). */
  private indexInParent(b: number): number {
    return this.W[b * BLOCK_WORDS + IDX]!;
  }

  /** Entry index (leaf * B + position) of live handle x. */
  private entry(x: number): number {
    const leaf = this.S[x * 4 + 2]!;
    const h = leaf * BLOCK_WORDS;
    const W = this.W;
    const n = W[h + CNT]!;
    let i = 0;
    while (i < n && W[h + KEY + i] !== x) i++;
    return leaf * B + i;
  }

  /** Own capacity words of leaf entry e from its gap (zero for the lowest node, see the header). */
  private ownCaps(e: number): void {
    const f = ef(e);
    const glo = this.F[f + G]!;
    let w0 = 0;
    let w1 = 0;
    if (glo !== 0) {
      const g = this.F[f + A]! - glo;
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
    this.W[w + C0] = w0;
    this.W[w + C1] = w1;
  }

  // ---- aggregates

  /** Compute block b's aggregate into aMg/aC0/aC1/aMinLo. */
  private aggregate(b: number): void {
    const W = this.W;
    const F = this.F;
    const h = b * BLOCK_WORDS;
    const fb = b * BLOCK_FLOATS;
    const n = W[h + CNT]!;
    let mg = -1;
    let c0 = 0;
    let c1 = 0;
    if (W[h + LEAF] === 1) {
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
    const W = this.W;
    const n = W[h + CNT]!;
    for (; i < n; i++) W[W[h + KEY + i]! * BLOCK_WORDS + IDX] = i;
  }

  /** Store block b's aggregate in its parent's entry; true if the entry changed. */
  private store(b: number): boolean {
    const p = this.parent(b);
    if (p === NIL) return false;
    this.aggregate(b);
    const e = p * B + this.indexInParent(b);
    const w = ew(e);
    const f = ef(e);
    const W = this.W;
    const F = this.F;
    const changed =
      F[f + A] !== this.aMg || W[w + C0] !== this.aC0 || W[w + C1] !== this.aC1 || F[f + G] !== this.aMinLo;
    if (changed) {
      F[f + A] = this.aMg;
      W[w + C0] = this.aC0;
      W[w + C1] = this.aC1;
      F[f + G] = this.aMinLo;
    }
    return changed;
  }

  /**
   * Block b's lowest pfn_lo changed: store it in its parent's entry, and further up while b is its
   * parent's first child. (The lowest pfn_lo is exact at every level: lookups by pfn navigate by it.)
   */
  private fixMinLo(b: number): void {
    const W = this.W;
    const F = this.F;
    for (;;) {
      const h = b * BLOCK_WORDS;
      const p = W[h + PAR]!;
      if (p === NIL) return;
      const lo = F[b * BLOCK_FLOATS + (W[h + LEAF] === 1 ? A : G)]!;
      const i = W[h + IDX]!;
      const f = p * BLOCK_FLOATS + i;
      if (F[f + G] === lo) return;
      F[f + G] = lo;
      if (i !== 0) return;
      b = p;
    }
  }

  /** A search found no fit under inner entry e: replace its (possibly stale) bound by its child's. */
  private tighten(e: number): void {
    const c = this.key(e);
    if (this.isLeaf(c)) return; // a leaf's entry is exact already
    this.aggregate(c);
    const w = ew(e);
    this.F[ef(e) + A] = this.aMg;
    this.W[w + C0] = this.aC0;
    this.W[w + C1] = this.aC1;
  }

  /** An entry's values only grew: fold them into the ancestors' entries until nothing changes. */
  private raise(b: number, g: number, c0: number, c1: number): void {
    const W = this.W;
    const F = this.F;
    for (let p = this.parent(b); p !== NIL; b = p, p = this.parent(p)) {
      const e = p * B + this.indexInParent(b);
      const w = ew(e);
      const f = ef(e);
      const og = F[f + A]!;
      const o0 = W[w + C0]!;
      const o1 = W[w + C1]!;
      const ng = g > og ? g : og;
      const n0 = bmax(o0, c0);
      const n1 = bmax(o1, c1);
      if (ng === og && n0 === o0 && n1 === o1) return;
      F[f + A] = ng;
      W[w + C0] = n0;
      W[w + C1] = n1;
      g = ng;
      c0 = n0;
      c1 = n1;
    }
  }

  // ---- entry fields

  private key(e: number): number {
    return this.W[ew(e) + KEY]!;
  }

  /** Leaf: pfn_lo. */
  private lo(e: number): number {
    return this.F[ef(e) + A]!;
  }

  /** Leaf: glo. */
  private glo(e: number): number {
    return this.F[ef(e) + G]!;
  }

  /** Leaf: pfn_hi (from the handle). */
  private hi(e: number): number {
    return this.S[this.key(e) * 4 + 1]!;
  }

  // ---- order

  /** Entry after leaf entry e (across leaves), or -1. */
  private nextEntry(e: number): number {
    const h = (e >> LOG_B) * BLOCK_WORDS;
    if ((e & LOW) + 1 < this.W[h + CNT]!) return e + 1;
    const nx = this.W[h + NEXT]!;
    return nx === NIL ? -1 : nx * B;
  }

  /** Entry before leaf entry e (across leaves), or -1. */
  private prevEntry(e: number): number {
    if ((e & LOW) !== 0) return e - 1;
    const pv = this.W[(e >> LOG_B) * BLOCK_WORDS + PREV]!;
    return pv === NIL ? -1 : pv * B + this.blockCount(pv) - 1;
  }

  /** The leaf whose key range holds `key` (the first leaf when key is below everything). */
  private leafFor(key: number): number {
    const W = this.W;
    const F = this.F;
    let b = this.root;
    while (W[b * BLOCK_WORDS + LEAF] === 0) {
      const fb = b * BLOCK_FLOATS;
      let i = W[b * BLOCK_WORDS + CNT]! - 1;
      while (i > 0 && F[fb + G + i]! > key) i--;
      b = W[b * BLOCK_WORDS + KEY + i]!;
    }
    return b;
  }

  /** Entry of the lowest node with pfn_lo >= key (the anchor's at worst). */
  private lowestLoAtLeast(key: number): number {
    let leaf = this.leafFor(key);
    for (;;) {
      const fb = leaf * BLOCK_FLOATS;
      const n = this.blockCount(leaf);
      for (let i = 0; i < n; i++) if (this.F[fb + A + i]! >= key) return leaf * B + i;
      leaf = this.W[leaf * BLOCK_WORDS + NEXT]!;
      if (leaf === NIL) return -1;
    }
  }

  // ---- structure

  /** Copy entry `from` of block fb to entry `to` of block tb (every column). */
  private moveEntry(fromB: number, from: number, toB: number, to: number): void {
    const W = this.W;
    const F = this.F;
    const fw = fromB * BLOCK_WORDS + from;
    const tw = toB * BLOCK_WORDS + to;
    W[tw + KEY] = W[fw + KEY]!;
    W[tw + C0] = W[fw + C0]!;
    W[tw + C1] = W[fw + C1]!;
    const ff = fromB * BLOCK_FLOATS + from;
    const tf = toB * BLOCK_FLOATS + to;
    F[tf + A] = F[ff + A]!;
    F[tf + G] = F[ff + G]!;
  }

  /** Make room at index i of block b (which has room): shift items right by one. */
  private openAt(b: number, i: number): void {
    const h = b * BLOCK_WORDS;
    const n = this.W[h + CNT]!;
    for (let j = n - 1; j >= i; j--) this.moveEntry(b, j, b, j + 1);
    this.W[h + CNT] = n + 1;
  }

  /** Insert handle x with gap start `glo` at index i of leaf b (which has room). */
  private insertAt(b: number, i: number, x: number, glo: number): void {
    this.openAt(b, i);
    this.W[b * BLOCK_WORDS + KEY + i] = x;
    const f = b * BLOCK_FLOATS + i;
    this.F[f + A] = this.S[x * 4]!;
    this.F[f + G] = glo;
    this.S[x * 4 + 2] = b;
  }

  /** Remove index i of block b. */
  private removeAt(b: number, i: number): void {
    const h = b * BLOCK_WORDS;
    const n = this.W[h + CNT]!;
    for (let j = i + 1; j < n; j++) this.moveEntry(b, j, b, j - 1);
    this.W[h + CNT] = n - 1;
    if (this.W[h + LEAF] === 0) this.reindex(b, i);
  }

  /** Split full block b: its upper half moves to a new right sibling, linked into the parent. */
  private split(b: number): number {
    const leaf = this.isLeaf(b);
    let p = this.parent(b);
    if (p === NIL) {
      p = this.newBlock(false);
      const ph = p * BLOCK_WORDS;
      this.W[ph + KEY] = b;
      this.W[ph + CNT] = 1;
      this.W[b * BLOCK_WORDS + PAR] = p;
      this.W[b * BLOCK_WORDS + IDX] = 0;
      this.root = p;
    } else if (this.blockCount(p) === B) {
      this.split(p);
      p = this.parent(b);
    }
    const r = this.newBlock(leaf);
    const W = this.W; // (newBlock may have grown the buffer)
    const half = B >> 1;
    for (let i = 0; i < B - half; i++) this.moveEntry(b, half + i, r, i);
    const bh = b * BLOCK_WORDS;
    const rh = r * BLOCK_WORDS;
    if (leaf) {
      for (let i = 0; i < B - half; i++) this.S[W[rh + KEY + i]! * 4 + 2] = r;
      const nx = W[bh + NEXT]!;
      W[rh + NEXT] = nx;
      if (nx !== NIL) W[nx * BLOCK_WORDS + PREV] = r;
      W[rh + PREV] = b;
      W[bh + NEXT] = r;
    } else {
      for (let i = 0; i < B - half; i++) W[W[rh + KEY + i]! * BLOCK_WORDS + PAR] = r;
    }
    W[bh + CNT] = half;
    W[rh + CNT] = B - half;
    if (!leaf) this.reindex(r, 0);
    const at = this.indexInParent(b) + 1;
    this.openAt(p, at);
    W[p * BLOCK_WORDS + KEY + at] = r;
    W[rh + PAR] = p;
    this.reindex(p, at);
    this.store(b);
    this.store(r);
    return r;
  }

  /** Unhook an empty block from its parent (recursively) and the leaf list. */
  private dropBlock(b: number): void {
    const W = this.W;
    const h = b * BLOCK_WORDS;
    if (W[h + LEAF] === 1) {
      const pv = W[h + PREV]!;
      const nx = W[h + NEXT]!;
      if (pv !== NIL) W[pv * BLOCK_WORDS + NEXT] = nx;
      if (nx !== NIL) W[nx * BLOCK_WORDS + PREV] = pv;
    }
    const p = W[h + PAR]!;
    this.bFree.push(b);
    if (p === NIL) return; // never: the anchor's leaf is never empty
    const i = W[h + IDX]!;
    this.removeAt(p, i);
    // fewer nodes below p: its bound stays an upper bound
    if (this.blockCount(p) === 0) this.dropBlock(p);
    else if (i === 0) this.fixMinLo(p);
  }

  /**
   * Insert handle x (its pfns set) into the gap below the node at entry en: x takes the lower part of
   * that gap and becomes its predecessor in the same leaf.
   */
  private linkBefore(x: number, en: number): void {
    let leaf = en >> LOG_B;
    const wn = ew(en);
    const fn = ef(en);
    const next = this.W[wn + KEY]!;
    const glo = this.F[fn + G]!;
    const oldG = glo === 0 ? 0 : this.F[fn + A]! - glo;
    const old0 = this.W[wn + C0]!;
    const old1 = this.W[wn + C1]!;
    // next's gap shrinks to what lies above x; x's own gap is the part below it. Both are parts of the
    // old gap, so every bound above stays valid, except in the two cases handled below.
    this.F[fn + G] = this.S[x * 4 + 1]! + 1;
    this.ownCaps(en);
    if (glo === 0) {
      // x becomes the lowest node (not aggregated) and next's remaining gap starts to count: raise it
      // now, before a split stores the halves' aggregates (which would stop the raise one level up)
      this.lowest = x;
      this.raise(leaf, this.F[fn + A]! - this.F[fn + G]!, this.W[wn + C0]!, this.W[wn + C1]!);
    }
    let split = false;
    if (this.blockCount(leaf) === B) {
      this.split(leaf);
      leaf = this.S[next * 4 + 2]!;
      split = true;
    }
    const i = this.entry(next) - leaf * B;
    this.insertAt(leaf, i, x, glo);
    const ex = leaf * B + i;
    this.ownCaps(ex);
    this.count++;
    if (i === 0) this.fixMinLo(leaf);
    if (!split && glo !== 0) {
      // next's gap shrank, x holds a part of it: the leaf's aggregate (exact in its parent) changes only
      // if a value that went down was the maximum
      const p = this.parent(leaf);
      if (p === NIL) return;
      const e = p * B + this.indexInParent(leaf);
      const w = ew(e);
      const wnow = ew(ex + 1);
      const fnow = ef(ex + 1);
      const newG = this.F[fnow + A]! - this.F[fnow + G]!;
      if (
        !(newG === oldG || oldG < this.F[ef(e) + A]!) ||
        !lanesStay(old0, this.W[wnow + C0]!, this.W[w + C0]!) ||
        !lanesStay(old1, this.W[wnow + C1]!, this.W[w + C1]!)
      )
        this.store(leaf);
    }
    if (split && glo !== 0) {
      // split() stored the halves' exact aggregates before x came in: fold x's gap in (above the
      // leaf's parent the old bounds already cover it, x's gap being a part of next's old one)
      const wx = ew(ex);
      const fx = ef(ex);
      this.raise(leaf, this.F[fx + A]! - this.F[fx + G]!, this.W[wx + C0]!, this.W[wx + C1]!);
    }
  }

  /** Remove live node x at entry ex (never the anchor); its gap joins its successor's (entry en). */
  private unlink(x: number, ex: number, en: number): void {
    const leaf = ex >> LOG_B;
    const nleaf = en >> LOG_B;
    const xi = ex & LOW;
    this.F[ef(en) + G] = this.F[ef(ex) + G]!;
    this.ownCaps(en);
    const wasLowest = x === this.lowest;
    if (wasLowest) this.lowest = this.key(en);
    this.removeAt(leaf, xi);
    this.S[x * 4 + 2] = NIL;
    this.sFree.push(x);
    this.count--;
    const en2 = nleaf === leaf ? en - 1 : en;
    if (this.blockCount(leaf) === 0) this.dropBlock(leaf);
    else {
      if (xi === 0) this.fixMinLo(leaf);
      // x's gap left its leaf (within one leaf next's merged gap holds it): keep the leaf's entry exact
      if (nleaf !== leaf) this.store(leaf);
    }
    if (wasLowest) {
      // next became the lowest node: its gap stops counting
      this.store(nleaf);
    } else {
      // next's merged gap grew
      const f2 = ef(en2);
      const w2 = ew(en2);
      this.raise(nleaf, this.F[f2 + A]! - this.F[f2 + G]!, this.W[w2 + C0]!, this.W[w2 + C1]!);
    }
  }

  // ---- the walk

  /** Does leaf entry e's own gap [glo, pfn_lo) hold an aligned block of `size`? */
  private fits(e: number, size: number, align: number): boolean {
    const f = ef(e);
    return this.F[f + A]! - alignUp(this.F[f + G]!, align) >= size;
  }

  /** fits() through the entry's capacity words where they are exact (orders 0..8, not the lowest). */
  private fitsQ(e: number, size: number, align: number, k: number, need: number): boolean {
    const f = ef(e);
    if (k === 0) return this.F[f + A]! - this.F[f + G]! >= size;
    if (k > CAP_ORDERS || need > MAX_NEED || this.F[f + G] === 0) return this.fits(e, size, align);
    const w = ew(e);
    return capByte(this.W[w + C0]!, this.W[w + C1]!, k) >= need;
  }

  /** May inner entry e hold a fit? Exact for orders 0..8, a bound above. */
  private childMay(e: number, size: number, k: number, need: number): boolean {
    if (k === 0 || k > CAP_ORDERS || need > MAX_NEED) return this.F[ef(e) + A]! >= size;
    const w = ew(e);
    return capByte(this.W[w + C0]!, this.W[w + C1]!, k) >= need;
  }

  /** Entry of the highest fitting node in block b's subtree, or -1. */
  private descend(b: number, size: number, align: number, k: number, need: number): number {
    const base = b * B;
    const n = this.blockCount(b);
    if (this.isLeaf(b)) {
      for (let e = base + n - 1; e >= base; e--) if (this.fitsQ(e, size, align, k, need)) return e;
      return -1;
    }
    for (let e = base + n - 1; e >= base; e--) {
      if (!this.childMay(e, size, k, need)) continue;
      const r = this.descend(this.key(e), size, align, k, need);
      if (r >= 0) return r;
      this.tighten(e);
    }
    return -1;
  }

  /** Entry of the highest node at or below entry eb (in pfn order) whose own gap fits, or -1. */
  private highestFitAtOrBelow(eb: number, size: number, align: number): number {
    if (eb < 0) return -1;
    const k = align === 1 ? 0 : log2Pow2(align);
    const need = size - (align >> 1);
    let blk = eb >> LOG_B;
    for (let e = eb; e >= blk * B; e--) if (this.fitsQ(e, size, align, k, need)) return e;
    for (let p = this.parent(blk); p !== NIL; blk = p, p = this.parent(p)) {
      const pbase = p * B;
      for (let e = pbase + this.indexInParent(blk) - 1; e >= pbase; e--) {
        if (!this.childMay(e, size, k, need)) continue;
        const r = this.descend(this.key(e), size, align, k, need);
        if (r >= 0) return r;
        this.tighten(e);
      }
    }
    // the frontier below the lowest node is the last candidate
    const el = this.entry(this.lowest);
    return this.fits(el, size, align) ? el : -1;
  }

  /**
   * One pass of the kernel's walk starting at node c over [low, limit): the pfn of the block the kernel
   * would choose (the entry of its successor node in `this.found`), or -1 for "no room".
   */
  private walk(c: number, limit: number, size: number, align: number, low: number): number {
    let en = -1;
    let h = 0;
    if (this.S[c * 4]! >= limit) {
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
      en = this.highestFitAtOrBelow(this.entry(c), size, align);
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
    const c = limit <= this.dma32bitPfn ? this.cached32 : this.cached;
    const retryPfn = this.S[c * 4 + 1]!;
    let newPfn = this.walk(c, limit, size, align, this.startPfn);
    if (newPfn < 0 && retryPfn < limit) {
      // retry pass above the cached node, from iova_find_limit (equivalently the anchor)
      newPfn = this.walk(this.anchor, limit, size, align, retryPfn + 1);
    }
    if (newPfn < 0) {
      this.max32AllocSize = size;
      return 0;
    }
    const x = this.newSlot(newPfn, newPfn + size - 1);
    this.linkBefore(x, this.found);
    // __cached_rbnode_insert_update
    if (newPfn + size - 1 < this.dma32bitPfn) this.cached32 = x;
    else this.cached = x;
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
        this.F[ef(e) + A] = lo;
        this.S[this.key(e) * 4] = lo;
        this.ownCaps(e);
        this.store(e >> LOG_B); // the node's gap shrank
        if ((e & LOW) === 0) this.fixMinLo(e >> LOG_B);
      }
      if (hi > nhi) lo = nhi + 1;
      if (lo >= this.lo(e) && hi <= nhi) return this.key(e);
    }
    const x = this.newSlot(lo, hi);
    this.linkBefore(x, this.lowestLoAtLeast(lo));
    return x;
  }

  // find_iova -> private_find_iova
  findIova(pfn: number): number {
    if (!isModelPfn(pfn)) return 0;
    const leaf = this.leafFor(pfn);
    const base = leaf * B;
    for (let e = base + this.blockCount(leaf) - 1; e >= base; e--) {
      if (this.lo(e) <= pfn) {
        const x = this.key(e);
        return x !== this.anchor && pfn <= this.S[x * 4 + 1]! ? x : NIL;
      }
    }
    return NIL;
  }

  freeIova(pfn: number): void {
    const h = this.findIova(pfn);
    if (h !== NIL) this.freeIovaNode(h);
  }

  private isLive(x: number): boolean {
    return Number.isInteger(x) && x > 0 && x < this.sUsed && this.S[x * 4 + 2] !== NIL;
  }

  // __free_iova -> remove_iova
  freeIovaNode(x: number): void {
    if (!this.isLive(x) || x === this.anchor) return;
    const ex = this.entry(x);
    const en = this.nextEntry(ex);
    const next = this.key(en);
    // __cached_rbnode_delete_update
    const c32 = this.cached32;
    const xlo = this.S[x * 4]!;
    if (x === c32 || (this.S[x * 4 + 1]! < this.dma32bitPfn && xlo >= this.S[c32 * 4]!)) this.cached32 = next;
    if (xlo < this.dma32bitPfn) this.max32AllocSize = this.dma32bitPfn;
    if (xlo >= this.S[this.cached * 4]!) this.cached = next;
    this.unlink(x, ex, en);
  }

  pfnLo(x: number): number {
    return this.isLive(x) ? this.S[x * 4]! : -1;
  }

  pfnHi(x: number): number {
    return this.isLive(x) ? this.S[x * 4 + 1]! : -1;
  }

  cachedNode(): number {
    return this.cached;
  }

  cached32Node(): number {
    return this.cached32;
  }

  /** The leftmost leaf. */
  private firstLeaf(): number {
    let b = this.root;
    while (!this.isLeaf(b)) b = this.W[b * BLOCK_WORDS + KEY]!;
    return b;
  }

  ranges(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (let leaf = this.firstLeaf(); leaf !== NIL; leaf = this.W[leaf * BLOCK_WORDS + NEXT]!) {
      const base = leaf * B;
      for (let e = base; e < base + this.blockCount(leaf); e++) {
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
    const visit = (b: number, depth: number): string | null => {
      const n = this.blockCount(b);
      if (n === 0 || n > B) return `block ${b} count ${n}`;
      if (this.isLeaf(b)) {
        depths.push(depth);
        leaves.push(b);
        for (let e = b * B; e < b * B + n; e++) {
          const x = this.key(e);
          if (this.S[x * 4 + 2] !== b) return `leaf of ${x}`;
          if (this.S[x * 4] !== this.lo(e)) return `pfns of ${x}`;
          order.push(e);
        }
        return null;
      }
      for (let i = 0; i < n; i++) {
        const c = this.key(b * B + i);
        if (this.parent(c) !== b) return `parent of block ${c}`;
        if (this.indexInParent(c) !== i) return `index in parent of block ${c}`;
        const err = visit(c, depth + 1);
        if (err) return err;
        this.aggregate(c);
        const j = b * B + i;
        const w = ew(j);
        if (this.isLeaf(c)) {
          if (this.F[ef(j) + A] !== this.aMg) return `max gap of leaf ${c}`;
          if (this.W[w + C0] !== this.aC0 || this.W[w + C1] !== this.aC1) return `caps of leaf ${c}`;
        } else {
          if (this.F[ef(j) + A]! < this.aMg) return `max gap bound of block ${c}`;
          if (geMask(this.W[w + C0]!, this.aC0) !== H || geMask(this.W[w + C1]!, this.aC1) !== H)
            return `caps bound of block ${c}`;
        }
        if (this.F[ef(j) + G] !== this.aMinLo) return `min lo of block ${c}`;
      }
      return null;
    };
    const err = visit(this.root, 0);
    if (err) return err;
    if (new Set(depths).size !== 1) return 'unbalanced leaves';
    for (let i = 0; i < leaves.length; i++) {
      const h = leaves[i]! * BLOCK_WORDS;
      if (this.W[h + PREV] !== (i > 0 ? leaves[i - 1] : NIL)) return 'leaf prev link';
      if (this.W[h + NEXT] !== (i + 1 < leaves.length ? leaves[i + 1] : NIL)) return 'leaf next link';
    }
    let prevHi = -1;
    for (const e of order) {
      if (this.lo(e) <= prevHi) return `overlap at ${this.lo(e)}`;
      if (this.glo(e) !== prevHi + 1) return `gap start of ${this.lo(e)}`;
      const w0 = this.W[ew(e) + C0];
      const w1 = this.W[ew(e) + C1];
      this.ownCaps(e);
      if (w0 !== this.W[ew(e) + C0] || w1 !== this.W[ew(e) + C1]) return `own caps of ${this.lo(e)}`;
      prevHi = this.hi(e);
    }
    if (this.key(order[order.length - 1]!) !== this.anchor) return 'anchor not last';
    if (this.key(order[0]!) !== this.lowest) return 'lowest';
    if (order.length !== this.count + 1) return 'count';
    return null;
  }
}
