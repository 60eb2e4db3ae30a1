/**
 * The IOVA tree iovamap uses: same answers as the kernel's linear walk (and as `RefIovaTree`), found in
 * O(log n) with few cache misses. Nodes (`struct iova`) are kept in pfn order, inline, in the leaves of
 * a B+-tree (up to 16 per leaf, so a leaf scan reads contiguous memory); a handle is a slot that knows
 * its leaf. Each node records where the free gap below it
 * starts (`glo` = pfn_hi of its predecessor + 1, or 0 for the lowest node); every inner block keeps, per
 * child, the child subtree's largest gap, its per-alignment capacities and its lowest pfn_lo.
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
import { IOVA_ANCHOR, alignDown, alignUp, allocAlignment, granuleShift, isModelPfn } from './util.js';

const NIL = 0;
/** Items per block. */
const B = 16;
/** Stride of an entry in E (float: 3 values) and I (int32: 3 values). */
const ES = 3;
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

  // handles (slots): S[x*4] = pfn_lo, S[x*4+1] = pfn_hi (mirrors of the leaf entry), S[x*4+2] = the
  // leaf holding x (0 when the slot is free); one cache line holds two handles
  private sCap = 0;
  private S = new Float64Array(0);
  private sFree: number[] = [];
  private sUsed = 1;

  // blocks: bCount, bParent, bIsLeaf, leaf links; entry e = b*B + i has three slots in E (float) and
  // I (int32). Leaf entry: E = [pfn_lo, pfn_hi, glo], I = [handle, cap word 0, cap word 1].
  // Inner entry: E = [child's largest gap, child's lowest pfn_lo, -], I = [child, cap words].
  private bCap = 0;
  private bCount = new Int32Array(0);
  private bParent = new Int32Array(0);
  /** Index of block b's entry in its parent (kept by openAt/removeAt/split), so no parent scan. */
  private bIdx = new Int32Array(0);
  private bIsLeaf = new Uint8Array(0);
  private E = new Float64Array(0);
  private I = new Int32Array(0);
  private bPrev = new Int32Array(0);
  private bNext = new Int32Array(0);
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
    const i32 = (o: Int32Array<ArrayBuffer>, m: number): Int32Array<ArrayBuffer> => {
      const r = new Int32Array(c * m);
      r.set(o);
      return r;
    };
    const e = new Float64Array(c * B * ES);
    e.set(this.E);
    this.E = e;
    this.bCount = i32(this.bCount, 1);
    this.bParent = i32(this.bParent, 1);
    this.bIdx = i32(this.bIdx, 1);
    this.bPrev = i32(this.bPrev, 1);
    this.bNext = i32(this.bNext, 1);
    this.I = i32(this.I, B * ES);
    const l = new Uint8Array(c);
    l.set(this.bIsLeaf);
    this.bIsLeaf = l;
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
    this.bCount[b] = 0;
    this.bParent[b] = NIL;
    this.bIsLeaf[b] = leaf ? 1 : 0;
    this.bPrev[b] = NIL;
    this.bNext[b] = NIL;
    return b;
  }

  /** Entry index (leaf * B + position) of live handle x. */
  private entry(x: number): number {
    const leaf = this.S[x * 4 + 2]!;
    const base = leaf * B;
    const n = base + this.bCount[leaf]!;
    const iv = this.I;
    let e = base;
    while (e < n && iv[e * ES] !== x) e++;
    return e;
  }

  /** Own capacity words of leaf entry e from its gap (zero for the lowest node, see the header). */
  private ownCaps(e: number): void {
    const glo = this.E[e * ES + 2]!;
    let w0 = 0;
    let w1 = 0;
    if (glo !== 0) {
      const g = this.E[e * ES]! - glo;
      if (g >= 512) {
        w0 = SAT0;
        w1 = SAT1;
      } else if (g > 1) {
        const gi = g | 0;
        const ng = -(glo % 0x100000000);
        for (let k = 0; k < CAP_ORDERS; k++) {
          const half = 1 << k;
          let v = gi - (ng & ((half << 1) - 1)) - half;
          v = v <= 0 ? 0 : v >= half ? (half > MAX_NEED ? MAX_NEED : half) : v > MAX_NEED ? MAX_NEED : v;
          if (k < 4) w0 |= v << (k << 3);
          else w1 |= v << ((k - 4) << 3);
        }
      }
    }
    this.I[e * ES + 1] = w0;
    this.I[e * ES + 2] = w1;
  }

  // ---- aggregates

  /** Compute block b's aggregate into aMg/aC0/aC1/aMinLo. */
  private aggregate(b: number): void {
    const base = b * B;
    const end = base + this.bCount[b]!;
    let mg = -1;
    let c0 = 0;
    let c1 = 0;
    if (this.bIsLeaf[b] === 1) {
      const ev = this.E;
      const iv = this.I;
      for (let e = base * ES; e < end * ES; e += ES) {
        const glo = ev[e + 2]!;
        if (glo === 0) continue; // the lowest node's gap is not aggregated
        const g = ev[e]! - glo;
        if (g > mg) mg = g;
        if (g <= 1) continue; // no capacity at any order
        const w0 = iv[e + 1]!;
        const w1 = iv[e + 2]!;
        if (w0 !== c0 && c0 !== SAT0) c0 = bmax(c0, w0);
        if (w1 !== c1 && c1 !== SAT1) c1 = bmax(c1, w1);
      }
      if (mg < 0) mg = 0;
      this.aMinLo = ev[base * ES]!;
    } else {
      const ev = this.E;
      const iv = this.I;
      for (let e = base * ES; e < end * ES; e += ES) {
        const g = ev[e]!;
        if (g > mg) mg = g;
        const w0 = iv[e + 1]!;
        const w1 = iv[e + 2]!;
        if (w0 !== c0 && c0 !== SAT0) c0 = bmax(c0, w0);
        if (w1 !== c1 && c1 !== SAT1) c1 = bmax(c1, w1);
      }
      this.aMinLo = this.E[base * ES + 1]!;
    }
    this.aMg = mg;
    this.aC0 = c0;
    this.aC1 = c1;
  }

  private indexInParent(b: number, p: number): number {
    void p;
    return this.bIdx[b]!;
  }

  /** Record the positions of inner block p's children from index i on. */
  private reindex(p: number, i: number): void {
    const base = p * B;
    const n = this.bCount[p]!;
    for (; i < n; i++) this.bIdx[this.I[(base + i) * ES]!] = i;
  }

  /** Store block b's aggregate in its parent's entry; true if the entry changed. */
  private store(b: number): boolean {
    const p = this.bParent[b]!;
    if (p === NIL) return false;
    this.aggregate(b);
    const e = p * B + this.indexInParent(b, p);
    const changed =
      this.E[e * ES] !== this.aMg ||
      this.I[e * ES + 1] !== this.aC0 ||
      this.I[e * ES + 2] !== this.aC1 ||
      this.E[e * ES + 1] !== this.aMinLo;
    if (changed) {
      this.E[e * ES] = this.aMg;
      this.I[e * ES + 1] = this.aC0;
      this.I[e * ES + 2] = this.aC1;
      this.E[e * ES + 1] = this.aMinLo;
    }
    return changed;
  }

  /**
   * Propagate a change inside block b upwards: recompute b's aggregate into its parent's entry; stop when
   * it is unchanged; if every value that went down was strictly below the parent's own aggregate (held
   * by the grandparent), the parent can only have grown (raise); otherwise recompute the parent too.
   */
  private refresh(b: number): void {
    const E = this.E;
    const I = this.I;
    for (;;) {
      const p = this.bParent[b]!;
      if (p === NIL) return;
      this.aggregate(b);
      const e = (p * B + this.indexInParent(b, p)) * ES;
      const og = E[e]!;
      const o0 = I[e + 1]!;
      const o1 = I[e + 2]!;
      const oMin = E[e + 1]!;
      const g = this.aMg;
      const c0 = this.aC0;
      const c1 = this.aC1;
      if (og === g && o0 === c0 && o1 === c1 && oMin === this.aMinLo) return;
      E[e] = g;
      I[e + 1] = c0;
      I[e + 2] = c1;
      E[e + 1] = this.aMinLo;
      const pp = this.bParent[p]!;
      if (pp === NIL) return;
      if (oMin === this.aMinLo) {
        const pe = (pp * B + this.indexInParent(p, pp)) * ES;
        if ((g >= og || og < E[pe]!) && lanesStay(o0, c0, I[pe + 1]!) && lanesStay(o1, c1, I[pe + 2]!)) {
          this.raise(p, g, c0, c1);
          return;
        }
      }
      b = p;
    }
  }

  /** Propagate without the early exit (after structural changes). */
  private refreshAll(b: number): void {
    for (; b !== NIL; b = this.bParent[b]!) this.store(b);
  }

  /** An entry's values only grew: fold them into the ancestors' entries until nothing changes. */
  private raise(b: number, g: number, c0: number, c1: number): void {
    for (let p = this.bParent[b]!; p !== NIL; b = p, p = this.bParent[p]!) {
      const e = p * B + this.indexInParent(b, p);
      const og = this.E[e * ES]!;
      const o0 = this.I[e * ES + 1]!;
      const o1 = this.I[e * ES + 2]!;
      const ng = g > og ? g : og;
      const n0 = bmax(o0, c0);
      const n1 = bmax(o1, c1);
      if (ng === og && n0 === o0 && n1 === o1) return;
      this.E[e * ES] = ng;
      this.I[e * ES + 1] = n0;
      this.I[e * ES + 2] = n1;
      g = ng;
      c0 = n0;
      c1 = n1;
    }
  }

  // ---- order

  /** Entry after leaf entry e (across leaves), or -1. */
  private nextEntry(e: number): number {
    const leaf = (e / B) | 0;
    if (e + 1 < leaf * B + this.bCount[leaf]!) return e + 1;
    const nx = this.bNext[leaf]!;
    return nx === NIL ? -1 : nx * B;
  }

  /** Entry before leaf entry e (across leaves), or -1. */
  private prevEntry(e: number): number {
    const leaf = (e / B) | 0;
    if (e > leaf * B) return e - 1;
    const pv = this.bPrev[leaf]!;
    return pv === NIL ? -1 : pv * B + this.bCount[pv]! - 1;
  }

  /** The leaf whose key range holds `key` (the first leaf when key is below everything). */
  private leafFor(key: number): number {
    let b = this.root;
    while (this.bIsLeaf[b] === 0) {
      const base = b * B;
      let i = this.bCount[b]! - 1;
      while (i > 0 && this.E[(base + i) * ES + 1]! > key) i--;
      b = this.I[(base + i) * ES]!;
    }
    return b;
  }

  /** Entry of the lowest node with pfn_lo >= key (the anchor's at worst). */
  private lowestLoAtLeast(key: number): number {
    let leaf = this.leafFor(key);
    for (;;) {
      const base = leaf * B;
      const end = base + this.bCount[leaf]!;
      for (let e = base; e < end; e++) if (this.E[e * ES]! >= key) return e;
      leaf = this.bNext[leaf]!;
      if (leaf === NIL) return -1;
    }
  }

  // ---- structure

  /** Make room at index i of block b (which has room): shift items (and entry data) right by one. */
  private openAt(b: number, i: number): void {
    const base = b * B;
    const n = this.bCount[b]!;
    const from = base + i;
    const to = base + n;
    this.E.copyWithin((from + 1) * ES, from * ES, to * ES);
    this.I.copyWithin((from + 1) * ES, from * ES, to * ES);
    this.bCount[b] = n + 1;
  }

  /** Insert handle x with gap start `glo` at index i of leaf b (which has room). */
  private insertAt(b: number, i: number, x: number, glo: number): void {
    this.openAt(b, i);
    const e = b * B + i;
    this.I[e * ES] = x;
    this.E[e * ES] = this.S[x * 4]!;
    this.E[e * ES + 1] = this.S[x * 4 + 1]!;
    this.E[e * ES + 2] = glo;
    this.S[x * 4 + 2] = b;
  }

  /** Remove index i of block b. */
  private removeAt(b: number, i: number): void {
    const base = b * B;
    const n = this.bCount[b]!;
    const from = base + i;
    const to = base + n;
    this.E.copyWithin(from * ES, (from + 1) * ES, to * ES);
    this.I.copyWithin(from * ES, (from + 1) * ES, to * ES);
    this.bCount[b] = n - 1;
    if (this.bIsLeaf[b] === 0) this.reindex(b, i);
  }

  /** Split full block b: its upper half moves to a new right sibling, linked into the parent. */
  private split(b: number): number {
    const leaf = this.bIsLeaf[b] === 1;
    let p = this.bParent[b]!;
    if (p === NIL) {
      p = this.newBlock(false);
      this.I[p * B * ES] = b;
      this.bCount[p] = 1;
      this.bParent[b] = p;
      this.bIdx[b] = 0;
      this.root = p;
    } else if (this.bCount[p] === B) {
      this.split(p);
      p = this.bParent[b]!;
    }
    const r = this.newBlock(leaf);
    const half = B >> 1;
    const from = b * B + half;
    const to = b * B + B;
    const rb = r * B;
    this.E.copyWithin(rb * ES, from * ES, to * ES);
    this.I.copyWithin(rb * ES, from * ES, to * ES);
    if (leaf) {
      for (let i = 0; i < B - half; i++) this.S[this.I[(rb + i) * ES]! * 4 + 2] = r;
      const nx = this.bNext[b]!;
      this.bNext[r] = nx;
      if (nx !== NIL) this.bPrev[nx] = r;
      this.bPrev[r] = b;
      this.bNext[b] = r;
    } else {
      for (let i = 0; i < B - half; i++) this.bParent[this.I[(rb + i) * ES]!] = r;
    }
    this.bCount[b] = half;
    this.bCount[r] = B - half;
    if (!leaf) this.reindex(r, 0);
    const at = this.indexInParent(b, p) + 1;
    this.openAt(p, at);
    this.I[(p * B + at) * ES] = r;
    this.bParent[r] = p;
    this.reindex(p, at);
    this.store(b);
    this.store(r);
    return r;
  }

  /** Unhook an empty block from its parent (recursively) and the leaf list. */
  private dropBlock(b: number): void {
    if (this.bIsLeaf[b] === 1) {
      const pv = this.bPrev[b]!;
      const nx = this.bNext[b]!;
      if (pv !== NIL) this.bNext[pv] = nx;
      if (nx !== NIL) this.bPrev[nx] = pv;
    }
    const p = this.bParent[b]!;
    this.bFree.push(b);
    if (p === NIL) return; // never: the anchor's leaf is never empty
    this.removeAt(p, this.indexInParent(b, p));
    if (this.bCount[p] === 0) this.dropBlock(p);
    else this.refreshAll(p);
  }

  /**
   * Insert handle x (its pfns set) into the gap below the node at entry en: x takes the lower part of
   * that gap and becomes its predecessor in the same leaf.
   */
  private linkBefore(x: number, en: number): void {
    let leaf = (en / B) | 0;
    const next = this.I[en * ES]!;
    const glo = this.E[en * ES + 2]!;
    const oldG = glo === 0 ? 0 : this.E[en * ES]! - glo;
    const old0 = this.I[en * ES + 1]!;
    const old1 = this.I[en * ES + 2]!;
    this.E[en * ES + 2] = this.S[x * 4 + 1]! + 1;
    this.ownCaps(en);
    if (glo === 0) this.lowest = x;
    let split = false;
    if (this.bCount[leaf] === B) {
      this.split(leaf);
      leaf = this.S[next * 4 + 2]!;
      split = true;
    }
    const i = this.entry(next) - leaf * B;
    this.insertAt(leaf, i, x, glo);
    const ex = leaf * B + i;
    this.ownCaps(ex);
    this.count++;
    const enow = ex + 1;
    if (split) {
      this.refreshAll(leaf); // structure changed
      return;
    }
    if (i === 0) {
      this.refresh(leaf); // the leaf's lowest pfn_lo changed: recompute upwards until unchanged
      return;
    }
    const newG = this.E[enow * ES]! - this.E[enow * ES + 2]!;
    if (glo === 0) {
      // x is the new lowest node (not aggregated); next's remaining gap now counts: only growth
      this.raise(leaf, newG, this.I[enow * ES + 1]!, this.I[enow * ES + 2]!);
      return;
    }
    // next's gap shrank and x holds a part of it: nothing grew. The leaf's aggregate stays unless a
    // value that went down was the maximum.
    const p = this.bParent[leaf]!;
    if (p === NIL) return;
    const e = p * B + this.indexInParent(leaf, p);
    if (
      (newG === oldG || oldG < this.E[e * ES]!) &&
      lanesStay(old0, this.I[enow * ES + 1]!, this.I[e * ES + 1]!) &&
      lanesStay(old1, this.I[enow * ES + 2]!, this.I[e * ES + 2]!)
    )
      return;
    this.refresh(leaf);
  }

  /** Remove live node x at entry ex (never the anchor); its gap joins its successor's (entry en). */
  private unlink(x: number, ex: number, en: number): void {
    const leaf = (ex / B) | 0;
    const nleaf = (en / B) | 0;
    const xi = ex - leaf * B;
    this.E[en * ES + 2] = this.E[ex * ES + 2]!;
    this.ownCaps(en);
    const wasLowest = x === this.lowest;
    if (wasLowest) this.lowest = this.I[en * ES]!;
    this.removeAt(leaf, xi);
    this.S[x * 4 + 2] = NIL;
    this.sFree.push(x);
    this.count--;
    // next's merged gap contains x's gap, so within one leaf nothing is lost, and only next grew
    const en2 = nleaf === leaf ? en - 1 : en;
    const glo = this.E[en2 * ES + 2]!;
    const g = glo === 0 ? 0 : this.E[en2 * ES]! - glo;
    if (this.bCount[leaf] === 0) this.dropBlock(leaf);
    else if (nleaf !== leaf || xi === 0 || wasLowest) this.refresh(leaf);
    // (a new lowest node stops counting: that is a loss, not growth)
    if (wasLowest && nleaf !== leaf) this.refresh(nleaf);
    else this.raise(nleaf, g, this.I[en2 * ES + 1]!, this.I[en2 * ES + 2]!);
  }

  // ---- the walk

  /** Does leaf entry e's own gap [glo, pfn_lo) hold an aligned block of `size`? */
  private fits(e: number, size: number, align: number): boolean {
    return this.E[e * ES]! - alignUp(this.E[e * ES + 2]!, align) >= size;
  }

  /** fits() through the entry's capacity words where they are exact (orders 0..8, not the lowest). */
  private fitsQ(e: number, size: number, align: number, k: number, need: number): boolean {
    if (k === 0) return this.E[e * ES]! - this.E[e * ES + 2]! >= size;
    if (k > CAP_ORDERS || need > MAX_NEED || this.E[e * ES + 2] === 0) return this.fits(e, size, align);
    return capByte(this.I[e * ES + 1]!, this.I[e * ES + 2]!, k) >= need;
  }

  /** May inner entry e hold a fit? Exact for orders 0..8, a bound above. */
  private childMay(e: number, size: number, k: number, need: number): boolean {
    if (k === 0 || k > CAP_ORDERS || need > MAX_NEED) return this.E[e * ES]! >= size;
    return capByte(this.I[e * ES + 1]!, this.I[e * ES + 2]!, k) >= need;
  }

  /** Entry of the highest fitting node in block b's subtree, or -1. */
  private descend(b: number, size: number, align: number, k: number, need: number): number {
    const base = b * B;
    const n = this.bCount[b]!;
    if (this.bIsLeaf[b] === 1) {
      for (let e = base + n - 1; e >= base; e--) if (this.fitsQ(e, size, align, k, need)) return e;
      return -1;
    }
    for (let e = base + n - 1; e >= base; e--) {
      if (!this.childMay(e, size, k, need)) continue;
      const r = this.descend(this.I[e * ES]!, size, align, k, need);
      if (r >= 0) return r;
    }
    return -1;
  }

  /** Entry of the highest node at or below entry eb (in pfn order) whose own gap fits, or -1. */
  private highestFitAtOrBelow(eb: number, size: number, align: number): number {
    if (eb < 0) return -1;
    const k = align === 1 ? 0 : Math.log2(align);
    const need = size - (align >> 1);
    let blk = (eb / B) | 0;
    for (let e = eb; e >= blk * B; e--) if (this.fitsQ(e, size, align, k, need)) return e;
    for (let p = this.bParent[blk]!; p !== NIL; blk = p, p = this.bParent[p]!) {
      const pbase = p * B;
      for (let e = pbase + this.indexInParent(blk, p) - 1; e >= pbase; e--) {
        if (!this.childMay(e, size, k, need)) continue;
        const r = this.descend(this.I[e * ES]!, size, align, k, need);
        if (r >= 0) return r;
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
      if (limit >= size && alignDown(limit - size, align) >= this.E[el * ES + 2]!) {
        en = el;
        h = limit;
      } else {
        en = this.highestFitAtOrBelow(this.prevEntry(el), size, align);
        h = en < 0 ? 0 : this.E[en * ES]!;
      }
    } else {
      en = this.highestFitAtOrBelow(this.entry(c), size, align);
      h = en < 0 ? 0 : this.E[en * ES]!;
    }
    if (en < 0) return -1;
    const newPfn = alignDown(h - size, align);
    if (newPfn < low) return -1;
    // spec 6.7 (b): the pre-4.15 bottom-of-walk check refused a block starting exactly at start_pfn.
    if (this.legacy411 && newPfn === this.startPfn && this.E[en * ES + 2] === 0) return -1;
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
    for (; e >= 0 && this.I[e * ES] !== this.anchor; e = this.nextEntry(e)) {
      const nlo = this.E[e * ES]!;
      const nhi = this.E[e * ES + 1]!;
      if (!(lo <= nhi && hi >= nlo)) break;
      if (lo < nlo) {
        this.E[e * ES] = lo;
        this.S[this.I[e * ES]! * 4] = lo;
        this.ownCaps(e);
        this.refresh((e / B) | 0);
      }
      if (hi > nhi) lo = nhi + 1;
      if (lo >= this.E[e * ES]! && hi <= nhi) return this.I[e * ES]!;
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
    for (let e = base + this.bCount[leaf]! - 1; e >= base; e--) {
      if (this.E[e * ES]! <= pfn) {
        const x = this.I[e * ES]!;
        return pfn <= this.E[e * ES + 1]! && x !== this.anchor ? x : NIL;
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
    const next = this.I[en * ES]!;
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

  ranges(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    let leaf = this.root;
    while (this.bIsLeaf[leaf] === 0) leaf = this.I[leaf * B * ES]!;
    for (; leaf !== NIL; leaf = this.bNext[leaf]!) {
      const base = leaf * B;
      for (let e = base; e < base + this.bCount[leaf]!; e++) {
        if (this.I[e * ES] !== this.anchor) out.push([this.E[e * ES]!, this.E[e * ES + 1]!]);
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
      const n = this.bCount[b]!;
      if (n === 0 || n > B) return `block ${b} count ${n}`;
      if (this.bIsLeaf[b] === 1) {
        depths.push(depth);
        leaves.push(b);
        for (let e = b * B; e < b * B + n; e++) {
          const x = this.I[e * ES]!;
          if (this.S[x * 4 + 2] !== b) return `leaf of ${x}`;
          if (this.S[x * 4] !== this.E[e * ES] || this.S[x * 4 + 1] !== this.E[e * ES + 1])
            return `pfns of ${x}`;
          order.push(e);
        }
        return null;
      }
      for (let i = 0; i < n; i++) {
        const c = this.I[(b * B + i) * ES]!;
        if (this.bParent[c] !== b) return `parent of block ${c}`;
        if (this.bIdx[c] !== i) return `index in parent of block ${c}`;
        const err = visit(c, depth + 1);
        if (err) return err;
        this.aggregate(c);
        const j = b * B + i;
        if (this.E[j * ES] !== this.aMg) return `max gap of block ${c}`;
        if (this.I[j * ES + 1] !== this.aC0 || this.I[j * ES + 2] !== this.aC1) return `caps of block ${c}`;
        if (this.E[j * ES + 1] !== this.aMinLo) return `min lo of block ${c}`;
      }
      return null;
    };
    const err = visit(this.root, 0);
    if (err) return err;
    if (new Set(depths).size !== 1) return 'unbalanced leaves';
    for (let i = 0; i < leaves.length; i++) {
      if (this.bPrev[leaves[i]!] !== (i > 0 ? leaves[i - 1] : NIL)) return 'leaf prev link';
      if (this.bNext[leaves[i]!] !== (i + 1 < leaves.length ? leaves[i + 1] : NIL)) return 'leaf next link';
    }
    let prevHi = -1;
    for (const e of order) {
      if (this.E[e * ES]! <= prevHi) return `overlap at ${this.E[e * ES]}`;
      if (this.E[e * ES + 2] !== prevHi + 1) return `gap start of ${this.E[e * ES]}`;
      const w0 = this.I[e * ES + 1];
      const w1 = this.I[e * ES + 2];
      this.ownCaps(e);
      if (w0 !== this.I[e * ES + 1] || w1 !== this.I[e * ES + 2]) return `own caps of ${this.E[e * ES]}`;
      prevHi = this.E[e * ES + 1]!;
    }
    if (this.I[order[order.length - 1]! * ES] !== this.anchor) return 'anchor not last';
    if (this.I[order[0]! * ES] !== this.lowest) return 'lowest';
    if (order.length !== this.count + 1) return 'count';
    return null;
  }
}
