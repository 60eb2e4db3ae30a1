/**
 * The IOVA tree iovamap uses: same answers as the kernel's linear walk (and as `RefIovaTree`), found in
 * O(log n). Nodes form a treap ordered by pfn_lo (seeded priorities, so the shape is deterministic),
 * each node one 64-byte record in a single ArrayBuffer (one cache line: pfns, gap data, links, caps). Each node also records where the free gap below it starts (`glo` = pfn_hi of
 * its predecessor + 1, or 0 for the lowest node); each subtree records the largest such gap (`mg`).
 *
 * Why a descent gives the kernel's answer (__alloc_and_insert_iova_range): walking down from the start
 * node C, the kernel stops at the first node N whose gap holds an aligned block below
 * min(limit, N.pfn_lo), and succeeds iff that block starts at or above `low`; the candidate start only
 * decreases as the walk goes down, so an earlier `< low` exit is the same failure. Nodes at or above
 * the limit all see high = limit and only the lowest of them (L) can have room below it, so the search
 * is: L with its gap clipped at the limit (when C is at or above L), then the highest node at or below
 * min(C, pred(L)) whose own gap fits, found by a pruned descent on `mg`.
 *
 * Alignment: a gap long enough may still miss a size-aligned start. For the alignment orders k = 1..8
 * (sizes 2..256 pages, every size the range caches and the traces use) each subtree also records, per
 * k, the largest aligned capacity `pfn_lo - ALIGN(glo, 2^k)` of its gaps, stored as
 * clamp(cap - 2^(k-1), 0, 2^(k-1)) in a byte: an aligned size s of order k lies in (2^(k-1), 2^k], so
 * "cap >= s" is exactly "byte >= s - 2^(k-1)". The descent is then a single path. Larger alignments fall
 * back to the largest-gap bound (still exact answers, just more nodes visited).
 *
 * The free space below the lowest node (the allocation frontier of a top-down allocator) changes with
 * almost every allocation there; it is left out of the aggregates and checked last, explicitly, so that
 * frontier allocations do not have to update the whole path to the root.
 */
import type { IovaDomainOptions, IovaTree } from './types.js';
import { IOVA_ANCHOR, alignDown, alignUp, allocAlignment, granuleShift, isModelPfn } from './util.js';

const NIL = 0;
/** Alignment orders with an exact per-subtree capacity (2^1 .. 2^CAP_ORDERS pages). */
const CAP_ORDERS = 8;

// Node record layout (64 bytes). Float64 view, stride 8:
const F_LO = 0; // pfn_lo
const F_HI = 1; // pfn_hi
const F_GLO = 2; // start of the free gap below the node (predecessor's pfn_hi + 1, or 0)
const F_MG = 3; // largest gap in the subtree
// Int32 view, stride 16:
const I_LEFT = 8;
const I_RIGHT = 9;
const I_PARENT = 10;
const I_PRI = 11;
const I_CAPS = 12; // two words: byte k-1 is the clamped aligned capacity of order k (see the header)
const I_LIVE = 14;
/** Both cap words when every order is saturated (byte k-1 = 2^(k-1)). */
const SAT0 = 0x08040201;
const SAT1 = 0x80402010 | 0;

/** Byte k-1 of a node's cap words: the clamped capacity of alignment order k (1..8). */
function capByte(iv: Int32Array, x: number, k: number): number {
  return (iv[x * 16 + I_CAPS + ((k - 1) >> 2)]! >>> (((k - 1) & 3) << 3)) & 0xff;
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
  private cap = 0;
  private f = new Float64Array(0);
  private i = new Int32Array(0);
  private root = NIL;
  private freeHead = NIL;
  private used = 1; // slot 0 is NIL
  private seed = 0x2545f491;
  private cached = NIL;
  private cached32 = NIL;
  private stack = new Int32Array(128);
  /** The node whose gap the last successful walk used (the new node's successor). */
  private found = NIL;
  /** The lowest node (its gap starts at pfn 0 and is not in the aggregates). */
  private lowest = NIL;

  // init_iova_domain
  constructor(opts: IovaDomainOptions, capacity = 64) {
    this.shift = granuleShift(opts.granule);
    if (this.shift < 0 || this.shift > 16 || !isModelPfn(opts.startPfn)) {
      throw new RangeError(`iova: bad domain granule ${opts.granule} or start_pfn ${opts.startPfn}`);
    }
    this.granule = opts.granule;
    this.startPfn = opts.startPfn;
    this.legacy411 = opts.legacy411 === true;
    this.dma32bitPfn = 2 ** (32 - this.shift);
    this.max32AllocSize = this.dma32bitPfn;
    this.grow(Math.max(16, capacity));
    this.f[NIL * 8 + F_MG] = -1;
    const a = this.newSlot(IOVA_ANCHOR, IOVA_ANCHOR);
    this.f[a * 8 + F_GLO] = 0;
    this.root = a;
    this.pull(a);
    this.anchor = a;
    this.lowest = a;
    this.cached = a;
    this.cached32 = a;
  }

  private grow(n: number): void {
    const c = Math.max(n, this.cap * 2);
    const buf = new ArrayBuffer(c * 64);
    const iv = new Int32Array(buf);
    iv.set(this.i);
    this.f = new Float64Array(buf);
    this.i = iv;
    this.cap = c;
  }

  private newSlot(lo: number, hi: number): number {
    let x = this.freeHead;
    if (x !== NIL) this.freeHead = this.i[x * 16 + I_LEFT]!;
    else {
      if (this.used >= this.cap) this.grow(this.cap * 2);
      x = this.used++;
    }
    // xorshift32 priorities: deterministic shape for a given operation sequence
    let s = this.seed;
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    this.seed = s;
    const fi = x * 8;
    this.f[fi + F_LO] = lo;
    this.f[fi + F_HI] = hi;
    const ii = x * 16;
    this.i[ii + I_PRI] = s;
    this.i[ii + I_LEFT] = NIL;
    this.i[ii + I_RIGHT] = NIL;
    this.i[ii + I_PARENT] = NIL;
    this.i[ii + I_LIVE] = 1;
    return x;
  }

  private left(x: number): number {
    return this.i[x * 16 + I_LEFT]!;
  }

  private right(x: number): number {
    return this.i[x * 16 + I_RIGHT]!;
  }

  private parent(x: number): number {
    return this.i[x * 16 + I_PARENT]!;
  }

  private lo(x: number): number {
    return this.f[x * 8 + F_LO]!;
  }

  private glo(x: number): number {
    return this.f[x * 8 + F_GLO]!;
  }

  /** Recompute x's subtree aggregates from its own gap and its children; true if any changed. */
  private pull(x: number): boolean {
    const f = this.f;
    const iv = this.i;
    const fx = x * 8;
    const xi = x * 16;
    const glo = f[fx + F_GLO]!;
    // the lowest node's gap (glo 0) is kept out of the aggregates; see the header
    const g = glo === 0 ? 0 : f[fx + F_LO]! - glo;
    const l = iv[xi + I_LEFT]!;
    const r = iv[xi + I_RIGHT]!;
    const a = f[l * 8 + F_MG]!;
    const c = f[r * 8 + F_MG]!;
    const m = g > a ? (g > c ? g : c) : a > c ? a : c;
    let changed = m !== f[fx + F_MG];
    f[fx + F_MG] = m;
    let w0 = SAT0;
    let w1 = SAT1;
    // A gap of 512+ pages saturates every order itself; so does a saturated child.
    if (g < 512) {
      const li = l * 16 + I_CAPS;
      const ri = r * 16 + I_CAPS;
      const l0 = iv[li]!;
      const l1 = iv[li + 1]!;
      const r0 = iv[ri]!;
      const r1 = iv[ri + 1]!;
      if (!((l0 === SAT0 && l1 === SAT1) || (r0 === SAT0 && r1 === SAT1))) {
        const gi = g | 0;
        // low bits of -glo: the pad up to each alignment
        const ng = -(glo | 0);
        w0 = 0;
        w1 = 0;
        for (let k = 0; k < 4; k++) {
          const half = 1 << k;
          let v = gi - (ng & ((half << 1) - 1)) - half;
          v = v <= 0 ? 0 : v >= half ? half : v;
          const sh = k << 3;
          const cl = (l0 >>> sh) & 0xff;
          const cr = (r0 >>> sh) & 0xff;
          if (cl > v) v = cl;
          if (cr > v) v = cr;
          w0 |= v << sh;
        }
        for (let k = 4; k < 8; k++) {
          const half = 1 << k;
          let v = gi - (ng & ((half << 1) - 1)) - half;
          v = v <= 0 ? 0 : v >= half ? half : v;
          const sh = (k - 4) << 3;
          const cl = (l1 >>> sh) & 0xff;
          const cr = (r1 >>> sh) & 0xff;
          if (cl > v) v = cl;
          if (cr > v) v = cr;
          w1 |= v << sh;
        }
      }
    }
    if (iv[xi + I_CAPS] !== w0 || iv[xi + I_CAPS + 1] !== w1) {
      iv[xi + I_CAPS] = w0;
      iv[xi + I_CAPS + 1] = w1;
      changed = true;
    }
    return changed;
  }

  /** Pull x and its ancestors, stopping once an aggregate comes out unchanged. */
  private pullUp(x: number): void {
    for (; x !== NIL; x = this.i[x * 16 + I_PARENT]!) if (!this.pull(x)) return;
  }

  private rotateUp(x: number): void {
    const iv = this.i;
    const xi = x * 16;
    const p = iv[xi + I_PARENT]!;
    const pi = p * 16;
    const g = iv[pi + I_PARENT]!;
    if (iv[pi + I_LEFT] === x) {
      const b = iv[xi + I_RIGHT]!;
      iv[pi + I_LEFT] = b;
      if (b !== NIL) iv[b * 16 + I_PARENT] = p;
      iv[xi + I_RIGHT] = p;
    } else {
      const b = iv[xi + I_LEFT]!;
      iv[pi + I_RIGHT] = b;
      if (b !== NIL) iv[b * 16 + I_PARENT] = p;
      iv[xi + I_LEFT] = p;
    }
    iv[pi + I_PARENT] = x;
    iv[xi + I_PARENT] = g;
    if (g === NIL) this.root = x;
    else if (iv[g * 16 + I_LEFT] === p) iv[g * 16 + I_LEFT] = x;
    else iv[g * 16 + I_RIGHT] = x;
    this.pull(p);
    this.pull(x);
  }

  private succ(x: number): number {
    let r = this.right(x);
    if (r !== NIL) {
      while (this.left(r) !== NIL) r = this.left(r);
      return r;
    }
    let p = this.parent(x);
    while (p !== NIL && this.right(p) === x) {
      x = p;
      p = this.parent(p);
    }
    return p;
  }

  private pred(x: number): number {
    let l = this.left(x);
    if (l !== NIL) {
      while (this.right(l) !== NIL) l = this.right(l);
      return l;
    }
    let p = this.parent(x);
    while (p !== NIL && this.left(p) === x) {
      x = p;
      p = this.parent(p);
    }
    return p;
  }

  /** Pull every node from x up to and including `upTo` (an ancestor of x), then continue with early exit. */
  private pullThrough(x: number, upTo: number): void {
    const iv = this.i;
    for (;;) {
      this.pull(x);
      if (x === upTo) break;
      x = iv[x * 16 + I_PARENT]!;
    }
    this.pullUp(iv[x * 16 + I_PARENT]!);
  }

  /**
   * Insert slot x (lo/hi set) into the gap below `next`: x takes the lower part of next's gap and becomes
   * next's in-order predecessor (the rightmost node of next's left subtree, expected O(1) steps away),
   * then rotates up by priority. In-order neighbours are ancestor and descendant, so every aggregate that
   * changed lies on the path between them or above: pull that path, then continue with early exit.
   */
  private linkBefore(x: number, next: number): void {
    const iv = this.i;
    const f = this.f;
    f[x * 8 + F_GLO] = f[next * 8 + F_GLO]!;
    f[next * 8 + F_GLO] = f[x * 8 + F_HI]! + 1;
    if (f[x * 8 + F_GLO] === 0) this.lowest = x;
    let t = iv[next * 16 + I_LEFT]!;
    if (t === NIL) {
      iv[next * 16 + I_LEFT] = x;
      t = next;
    } else {
      while (iv[t * 16 + I_RIGHT] !== NIL) t = iv[t * 16 + I_RIGHT]!;
      iv[t * 16 + I_RIGHT] = x;
    }
    iv[x * 16 + I_PARENT] = t;
    this.pull(x);
    const pri = iv[x * 16 + I_PRI]!;
    let above = false; // x rotated above next
    for (;;) {
      const p = iv[x * 16 + I_PARENT]!;
      if (p === NIL || iv[p * 16 + I_PRI]! >= pri) break;
      if (p === next) above = true;
      this.rotateUp(x);
    }
    const p = iv[x * 16 + I_PARENT]!;
    if (above) this.pullUp(p);
    else if (p !== NIL) this.pullThrough(p, next);
    this.count++;
  }

  /**
   * Unlink live node x (never the anchor); its gap joins its successor's. Once x has been rotated down to
   * a leaf its successor is an ancestor, so the path from x's parent up to `next` is pulled, then the
   * early exit applies above.
   */
  private unlink(x: number, next: number): void {
    const iv = this.i;
    const xi = x * 16;
    this.f[next * 8 + F_GLO] = this.f[x * 8 + F_GLO]!;
    if (x === this.lowest) this.lowest = next;
    for (;;) {
      const l = iv[xi + I_LEFT]!;
      const r = iv[xi + I_RIGHT]!;
      if (l === NIL && r === NIL) break;
      const c = l === NIL ? r : r === NIL ? l : iv[l * 16 + I_PRI]! > iv[r * 16 + I_PRI]! ? l : r;
      this.rotateUp(c);
    }
    const p = iv[xi + I_PARENT]!;
    if (iv[p * 16 + I_LEFT] === x) iv[p * 16 + I_LEFT] = NIL;
    else iv[p * 16 + I_RIGHT] = NIL;
    this.pullThrough(p, next);
    iv[xi + I_LIVE] = 0;
    iv[xi + I_LEFT] = this.freeHead;
    this.freeHead = x;
    this.count--;
  }

  /** Lowest node with pfn_lo >= key (the anchor at worst). */
  private lowestLoAtLeast(key: number): number {
    let t = this.root;
    let best = NIL;
    while (t !== NIL) {
      if (this.lo(t) >= key) {
        best = t;
        t = this.left(t);
      } else t = this.right(t);
    }
    return best;
  }

  /** Does node x's own gap [glo, pfn_lo) hold an aligned block of `size`? */
  private fits(x: number, size: number, align: number): boolean {
    return this.lo(x) - alignUp(this.glo(x), align) >= size;
  }

  /** Highest node in the subtree of t whose gap fits, or NIL. */
  private highestFitIn(t: number, size: number, align: number): number {
    if (t === NIL) return NIL;
    const f = this.f;
    const iv = this.i;
    if (align === 1) {
      // Unaligned (or size 1): the largest gap is exact, so one descent finds it.
      if (f[t * 8 + F_MG]! < size) return NIL;
      for (;;) {
        const r = iv[t * 16 + I_RIGHT]!;
        if (r !== NIL && f[r * 8 + F_MG]! >= size) t = r;
        else if (f[t * 8 + F_LO]! - f[t * 8 + F_GLO]! >= size) return t;
        else t = iv[t * 16 + I_LEFT]!;
      }
    }
    const k = Math.log2(align);
    if (k <= CAP_ORDERS) {
      // Exact per-order capacity: one descent as well.
      const need = size - (align >> 1);
      if (capByte(iv, t, k) < need) return NIL;
      for (;;) {
        const r = iv[t * 16 + I_RIGHT]!;
        if (r !== NIL && capByte(iv, r, k) >= need) t = r;
        else if (this.fits(t, size, align)) return t;
        else t = iv[t * 16 + I_LEFT]!;
      }
    }
    // Larger alignments: the largest gap only bounds the answer; explore right-first.
    if (f[t * 8 + F_MG]! < size) return NIL;
    let stack = this.stack;
    let sp = 0;
    stack[sp++] = t;
    while (sp > 0) {
      const x = stack[--sp]!;
      // visit order: right subtree, x, left subtree; pushed in reverse, x marked negative
      if (x < 0) {
        if (this.fits(-x, size, align)) return -x;
        continue;
      }
      if (sp + 3 > stack.length) {
        const s2 = new Int32Array(stack.length * 2);
        s2.set(stack);
        this.stack = stack = s2;
      }
      const l = iv[x * 16 + I_LEFT]!;
      const r = iv[x * 16 + I_RIGHT]!;
      if (l !== NIL && f[l * 8 + F_MG]! >= size) stack[sp++] = l;
      if (f[x * 8 + F_LO]! - f[x * 8 + F_GLO]! >= size) stack[sp++] = -x;
      if (r !== NIL && f[r * 8 + F_MG]! >= size) stack[sp++] = r;
    }
    return NIL;
  }

  /** Highest node at or below `b` (in pfn order) whose own gap fits, or NIL. */
  private highestFitAtOrBelow(b: number, size: number, align: number): number {
    if (b === NIL) return NIL;
    if (this.fits(b, size, align)) return b;
    let r = this.highestFitIn(this.left(b), size, align);
    if (r !== NIL) return r;
    let x = b;
    for (let p = this.parent(x); p !== NIL; x = p, p = this.parent(p)) {
      if (this.right(p) !== x) continue;
      if (this.fits(p, size, align)) return p;
      r = this.highestFitIn(this.left(p), size, align);
      if (r !== NIL) return r;
    }
    // the frontier below the lowest node is the last candidate
    return this.fits(this.lowest, size, align) ? this.lowest : NIL;
  }

  /**
   * One pass of the kernel's walk starting at node c over [low, limit): the pfn of the block the kernel
   * would choose (its successor node in `this.found`), or -1 for "no room".
   */
  private walk(c: number, limit: number, size: number, align: number, low: number): number {
    let n = NIL;
    let h = 0;
    if (this.lo(c) >= limit) {
      const l = this.lowestLoAtLeast(limit);
      // L's gap clipped at the limit
      if (limit >= size) {
        const cand = alignDown(limit - size, align);
        if (cand >= this.glo(l)) {
          n = l;
          h = limit;
        }
      }
      if (n === NIL) {
        n = this.highestFitAtOrBelow(this.pred(l), size, align);
        h = n === NIL ? 0 : this.lo(n);
      }
    } else {
      n = this.highestFitAtOrBelow(c, size, align);
      h = n === NIL ? 0 : this.lo(n);
    }
    if (n === NIL) return -1;
    const newPfn = alignDown(h - size, align);
    if (newPfn < low) return -1;
    // spec 6.7 (b): the pre-4.15 bottom-of-walk check refused a block starting exactly at start_pfn.
    if (this.legacy411 && newPfn === this.startPfn && this.glo(n) === 0) return -1;
    this.found = n;
    return newPfn;
  }

  // alloc_iova -> __alloc_and_insert_iova_range(size, limit_pfn + 1, size_aligned)
  allocIova(size: number, limitPfn: number, sizeAligned: boolean): number {
    if (!isModelPfn(size) || size < 1 || !isModelPfn(limitPfn)) return 0;
    const limit = limitPfn + 1;
    const align = allocAlignment(size, sizeAligned);
    if (limit <= this.dma32bitPfn && size >= this.max32AllocSize) return 0;
    const c = limit <= this.dma32bitPfn ? this.cached32 : this.cached;
    const retryPfn = this.f[c * 8 + F_HI]!;
    let newPfn = this.walk(c, limit, size, align, this.startPfn);
    if (newPfn < 0 && retryPfn < limit) {
      // retry pass above the cached node, from iova_find_limit (equivalently the anchor)
      newPfn = this.walk(this.anchor, limit, size, align, retryPfn + 1);
    }
    if (newPfn < 0) {
      this.max32AllocSize = size;
      return 0;
    }
    const n = this.found;
    const x = this.newSlot(newPfn, newPfn + size - 1);
    this.linkBefore(x, n);
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
    const f = this.f;
    // Nodes ending below pfn_lo cannot overlap; start at the first one that does not.
    let t = this.root;
    let n = NIL;
    while (t !== NIL) {
      if (f[t * 8 + F_HI]! >= lo) {
        n = t;
        t = this.left(t);
      } else t = this.right(t);
    }
    for (; n !== NIL && n !== this.anchor; n = this.succ(n)) {
      const nlo = f[n * 8 + F_LO]!;
      const nhi = f[n * 8 + F_HI]!;
      if (!(lo <= nhi && hi >= nlo)) break;
      if (lo < nlo) {
        f[n * 8 + F_LO] = lo;
        this.pullUp(n);
      }
      if (hi > nhi) lo = nhi + 1;
      if (lo >= f[n * 8 + F_LO]! && hi <= nhi) return n;
    }
    const x = this.newSlot(lo, hi);
    this.linkBefore(x, this.lowestLoAtLeast(lo));
    return x;
  }

  // find_iova -> private_find_iova
  findIova(pfn: number): number {
    if (!isModelPfn(pfn)) return 0;
    const f = this.f;
    let t = this.root;
    while (t !== NIL) {
      if (pfn < f[t * 8 + F_LO]!) t = this.left(t);
      else if (pfn > f[t * 8 + F_HI]!) t = this.right(t);
      else return t === this.anchor ? NIL : t;
    }
    return NIL;
  }

  freeIova(pfn: number): void {
    const h = this.findIova(pfn);
    if (h !== NIL) this.freeIovaNode(h);
  }

  private isLive(x: number): boolean {
    return Number.isInteger(x) && x > 0 && x < this.used && this.i[x * 16 + I_LIVE] === 1;
  }

  // __free_iova -> remove_iova
  freeIovaNode(x: number): void {
    if (!this.isLive(x) || x === this.anchor) return;
    const next = this.succ(x);
    const f = this.f;
    // __cached_rbnode_delete_update
    const c32 = this.cached32;
    const xlo = f[x * 8 + F_LO]!;
    if (x === c32 || (f[x * 8 + F_HI]! < this.dma32bitPfn && xlo >= f[c32 * 8 + F_LO]!)) this.cached32 = next;
    if (xlo < this.dma32bitPfn) this.max32AllocSize = this.dma32bitPfn;
    if (xlo >= f[this.cached * 8 + F_LO]!) this.cached = next;
    this.unlink(x, next);
  }

  pfnLo(x: number): number {
    return this.isLive(x) ? this.f[x * 8 + F_LO]! : -1;
  }

  pfnHi(x: number): number {
    return this.isLive(x) ? this.f[x * 8 + F_HI]! : -1;
  }

  cachedNode(): number {
    return this.cached;
  }

  cached32Node(): number {
    return this.cached32;
  }

  ranges(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    let x = this.root;
    while (this.left(x) !== NIL) x = this.left(x);
    for (; x !== NIL && x !== this.anchor; x = this.succ(x)) out.push([this.lo(x), this.f[x * 8 + F_HI]!]);
    return out;
  }

  /** Debug/test aid: verify ordering, parent links, heap order, gap starts and subtree aggregates. */
  checkInvariants(): string | null {
    const order: number[] = [];
    const capOf = (y: number, k: number): number => (y === NIL ? 0 : capByte(this.i, y, k));
    const mgOf = (y: number): number => this.f[y * 8 + F_MG]!;
    const pri = (y: number): number => this.i[y * 16 + I_PRI]!;
    const visit = (t: number, p: number): string | null => {
      if (t === NIL) return null;
      if (this.parent(t) !== p) return `parent link of ${t}`;
      const e1 = visit(this.left(t), t);
      if (e1) return e1;
      order.push(t);
      const e2 = visit(this.right(t), t);
      if (e2) return e2;
      const lowest = this.glo(t) === 0;
      if (lowest !== (t === this.lowest)) return `lowest node ${t}`;
      const g = lowest ? 0 : this.lo(t) - this.glo(t);
      if (Math.max(g, mgOf(this.left(t)), mgOf(this.right(t))) !== mgOf(t)) return `max gap of ${t}`;
      for (let k = 1; k <= CAP_ORDERS; k++) {
        const half = 2 ** (k - 1);
        const cap = this.lo(t) - alignUp(this.glo(t), 2 * half) - half;
        const own = lowest ? 0 : Math.min(half, Math.max(0, cap));
        const want = Math.max(own, capOf(this.left(t), k), capOf(this.right(t), k));
        if (want !== capOf(t, k)) return `capacity ${k} of ${t}`;
      }
      if (this.left(t) !== NIL && pri(this.left(t)) > pri(t)) return `heap order at ${t}`;
      if (this.right(t) !== NIL && pri(this.right(t)) > pri(t)) return `heap order at ${t}`;
      return null;
    };
    const e = visit(this.root, NIL);
    if (e) return e;
    let prevHi = -1;
    for (const t of order) {
      if (this.lo(t) <= prevHi) return `overlap at ${this.lo(t)}`;
      if (this.glo(t) !== prevHi + 1) return `gap start of ${this.lo(t)}`;
      prevHi = this.f[t * 8 + F_HI]!;
    }
    if (order.length !== this.count + 1) return 'count';
    return null;
  }
}
