/**
 * The IOVA tree iovamap uses: same answers as the kernel's linear walk (and as `RefIovaTree`), found in
 * O(log n). Nodes live in typed arrays and form a treap ordered by pfn_lo (seeded priorities, so the
 * shape is deterministic). Each node also records where the free gap below it starts (`glo` = pfn_hi of
 * its predecessor + 1, or 0 for the lowest node); each subtree records the largest such gap (`mg`).
 *
 * Why a descent gives the kernel's answer (__alloc_and_insert_iova_range): walking down from the start
 * node C, the kernel stops at the first node N whose gap holds an aligned block below
 * min(limit, N.pfn_lo), and succeeds iff that block starts at or above `low`; the candidate start only
 * decreases as the walk goes down, so an earlier `< low` exit is the same failure. Nodes at or above
 * the limit all see high = limit and only the lowest of them (L) can have room below it, so the search
 * is: L with its gap clipped at the limit (when C is at or above L), then the highest node at or below
 * min(C, pred(L)) whose own gap fits, found by a pruned descent on `mg`.
 */
import type { IovaDomainOptions, IovaTree } from './types.js';
import { IOVA_ANCHOR, alignDown, alignUp, allocAlignment, granuleShift, isModelPfn } from './util.js';

const NIL = 0;

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
  private lo = new Float64Array(0);
  private hi = new Float64Array(0);
  private glo = new Float64Array(0);
  private mg = new Float64Array(0);
  private left = new Int32Array(0);
  private right = new Int32Array(0);
  private parent = new Int32Array(0);
  private pri = new Int32Array(0);
  private live = new Uint8Array(0);
  private root = NIL;
  private freeHead = NIL;
  private used = 1; // slot 0 is NIL
  private seed = 0x2545f491;
  private cached = NIL;
  private cached32 = NIL;
  private stack = new Int32Array(128);

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
    this.mg[NIL] = -1;
    const a = this.newSlot(IOVA_ANCHOR, IOVA_ANCHOR);
    this.glo[a] = 0;
    this.root = a;
    this.pull(a);
    this.anchor = a;
    this.cached = a;
    this.cached32 = a;
  }

  private grow(n: number): void {
    const c = Math.max(n, this.cap * 2);
    const f = (o: Float64Array<ArrayBuffer>): Float64Array<ArrayBuffer> => {
      const r = new Float64Array(c);
      r.set(o);
      return r;
    };
    const i = (o: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> => {
      const r = new Int32Array(c);
      r.set(o);
      return r;
    };
    this.lo = f(this.lo);
    this.hi = f(this.hi);
    this.glo = f(this.glo);
    this.mg = f(this.mg);
    this.left = i(this.left);
    this.right = i(this.right);
    this.parent = i(this.parent);
    this.pri = i(this.pri);
    const l = new Uint8Array(c);
    l.set(this.live);
    this.live = l;
    this.cap = c;
  }

  private newSlot(lo: number, hi: number): number {
    let x = this.freeHead;
    if (x !== NIL) this.freeHead = this.left[x]!;
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
    this.pri[x] = s;
    this.lo[x] = lo;
    this.hi[x] = hi;
    this.left[x] = NIL;
    this.right[x] = NIL;
    this.parent[x] = NIL;
    this.live[x] = 1;
    return x;
  }

  private pull(x: number): void {
    const g = this.lo[x]! - this.glo[x]!;
    const a = this.mg[this.left[x]!]!;
    const b = this.mg[this.right[x]!]!;
    this.mg[x] = g > a ? (g > b ? g : b) : a > b ? a : b;
  }

  private pullUp(x: number): void {
    for (; x !== NIL; x = this.parent[x]!) this.pull(x);
  }

  private rotateUp(x: number): void {
    const p = this.parent[x]!;
    const g = this.parent[p]!;
    if (this.left[p] === x) {
      const b = this.right[x]!;
      this.left[p] = b;
      if (b !== NIL) this.parent[b] = p;
      this.right[x] = p;
    } else {
      const b = this.left[x]!;
      this.right[p] = b;
      if (b !== NIL) this.parent[b] = p;
      this.left[x] = p;
    }
    this.parent[p] = x;
    this.parent[x] = g;
    if (g === NIL) this.root = x;
    else if (this.left[g] === p) this.left[g] = x;
    else this.right[g] = x;
    this.pull(p);
    this.pull(x);
  }

  private succ(x: number): number {
    let r = this.right[x]!;
    if (r !== NIL) {
      while (this.left[r] !== NIL) r = this.left[r]!;
      return r;
    }
    let p = this.parent[x]!;
    while (p !== NIL && this.right[p] === x) {
      x = p;
      p = this.parent[p]!;
    }
    return p;
  }

  private pred(x: number): number {
    let l = this.left[x]!;
    if (l !== NIL) {
      while (this.right[l] !== NIL) l = this.right[l]!;
      return l;
    }
    let p = this.parent[x]!;
    while (p !== NIL && this.left[p] === x) {
      x = p;
      p = this.parent[p]!;
    }
    return p;
  }

  /** Link slot x (lo/hi/glo set) into the treap by pfn_lo and fix aggregates up to the root. */
  private link(x: number): void {
    const key = this.lo[x]!;
    let t = this.root;
    for (;;) {
      if (key < this.lo[t]!) {
        const l = this.left[t]!;
        if (l === NIL) {
          this.left[t] = x;
          break;
        }
        t = l;
      } else {
        const r = this.right[t]!;
        if (r === NIL) {
          this.right[t] = x;
          break;
        }
        t = r;
      }
    }
    this.parent[x] = t;
    this.pull(x);
    const pri = this.pri;
    while (this.parent[x] !== NIL && pri[this.parent[x]!]! < pri[x]!) this.rotateUp(x);
    this.pullUp(this.parent[x]!);
    this.count++;
  }

  /** Unlink live node x (never the anchor); its gap joins its successor's. */
  private unlink(x: number, next: number): void {
    this.glo[next] = this.glo[x]!;
    const left = this.left;
    const right = this.right;
    for (;;) {
      const l = left[x]!;
      const r = right[x]!;
      if (l === NIL && r === NIL) break;
      const c = l === NIL ? r : r === NIL ? l : this.pri[l]! > this.pri[r]! ? l : r;
      this.rotateUp(c);
    }
    const p = this.parent[x]!;
    if (left[p] === x) left[p] = NIL;
    else right[p] = NIL;
    this.pullUp(p);
    this.pullUp(next);
    this.live[x] = 0;
    this.left[x] = this.freeHead;
    this.freeHead = x;
    this.count--;
  }

  /** Lowest node with pfn_lo >= key (the anchor at worst). */
  private lowestLoAtLeast(key: number): number {
    let t = this.root;
    let best = NIL;
    while (t !== NIL) {
      if (this.lo[t]! >= key) {
        best = t;
        t = this.left[t]!;
      } else t = this.right[t]!;
    }
    return best;
  }

  /** Does node x's own gap [glo, pfn_lo) hold an aligned block of `size`? */
  private fits(x: number, size: number, align: number): boolean {
    return this.lo[x]! - alignUp(this.glo[x]!, align) >= size;
  }

  /** Highest node in the subtree of t whose gap fits, or NIL (pruned by the subtree's largest gap). */
  private highestFitIn(t: number, size: number, align: number): number {
    if (t === NIL || this.mg[t]! < size) return NIL;
    if (align === 1) {
      // Unaligned: the largest gap is exact, so one descent finds it.
      for (;;) {
        const r = this.right[t]!;
        if (r !== NIL && this.mg[r]! >= size) t = r;
        else if (this.lo[t]! - this.glo[t]! >= size) return t;
        else t = this.left[t]!;
      }
    }
    // Aligned: a gap at least `size` long may still miss the alignment; explore right-first.
    let stack = this.stack;
    let sp = 0;
    stack[sp++] = t;
    const mg = this.mg;
    while (sp > 0) {
      const x = stack[--sp]!;
      // visit order: right subtree, x, left subtree; push in reverse with x marked negative
      if (x < 0) {
        const n = -x;
        if (this.fits(n, size, align)) return n;
        continue;
      }
      if (sp + 3 > stack.length) {
        const s2 = new Int32Array(stack.length * 2);
        s2.set(stack);
        this.stack = stack = s2;
      }
      const l = this.left[x]!;
      const r = this.right[x]!;
      if (l !== NIL && mg[l]! >= size) stack[sp++] = l;
      if (this.lo[x]! - this.glo[x]! >= size) stack[sp++] = -x;
      if (r !== NIL && mg[r]! >= size) stack[sp++] = r;
    }
    return NIL;
  }

  /** Highest node at or below `b` (in pfn order) whose own gap fits, or NIL. */
  private highestFitAtOrBelow(b: number, size: number, align: number): number {
    if (b === NIL) return NIL;
    if (this.fits(b, size, align)) return b;
    let r = this.highestFitIn(this.left[b]!, size, align);
    if (r !== NIL) return r;
    let x = b;
    for (let p = this.parent[x]!; p !== NIL; x = p, p = this.parent[p]!) {
      if (this.right[p] !== x) continue;
      if (this.fits(p, size, align)) return p;
      r = this.highestFitIn(this.left[p]!, size, align);
      if (r !== NIL) return r;
    }
    return NIL;
  }

  /**
   * One pass of the kernel's walk starting at node c with [low, limit): the pfn of the block the kernel
   * would choose (its successor node in `this.found`), or -1 for "no room".
   */
  private found = NIL;
  private walk(c: number, limit: number, size: number, align: number, low: number): number {
    let n = NIL;
    let h = 0;
    if (this.lo[c]! >= limit) {
      const l = this.lowestLoAtLeast(limit);
      // L's gap clipped at the limit
      if (limit >= size) {
        const cand = alignDown(limit - size, align);
        if (cand >= this.glo[l]!) {
          n = l;
          h = limit;
        }
      }
      if (n === NIL) {
        n = this.highestFitAtOrBelow(this.pred(l), size, align);
        h = n === NIL ? 0 : this.lo[n]!;
      }
    } else {
      n = this.highestFitAtOrBelow(c, size, align);
      h = n === NIL ? 0 : this.lo[n]!;
    }
    if (n === NIL) return -1;
    const newPfn = alignDown(h - size, align);
    if (newPfn < low) return -1;
    // spec 6.7 (b): the pre-4.15 bottom-of-walk check refused a block starting exactly at start_pfn.
    if (this.legacy411 && newPfn === this.startPfn && this.glo[n] === 0) return -1;
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
    const retryPfn = this.hi[c]!;
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
    this.glo[x] = this.glo[n]!;
    this.glo[n] = newPfn + size;
    this.link(x);
    this.pullUp(n);
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
    // Nodes ending below pfn_lo cannot overlap; start at the first one that does not.
    let t = this.root;
    let n = NIL;
    while (t !== NIL) {
      if (this.hi[t]! >= lo) {
        n = t;
        t = this.left[t]!;
      } else t = this.right[t]!;
    }
    for (; n !== NIL && n !== this.anchor; n = this.succ(n)) {
      if (!(lo <= this.hi[n]! && hi >= this.lo[n]!)) break;
      if (lo < this.lo[n]!) {
        this.lo[n] = lo;
        this.pullUp(n);
      }
      if (hi > this.hi[n]!) lo = this.hi[n]! + 1;
      if (lo >= this.lo[n]! && hi <= this.hi[n]!) return n;
    }
    const x = this.newSlot(lo, hi);
    const next = this.lowestLoAtLeast(lo);
    this.glo[x] = this.glo[next]!;
    this.glo[next] = hi + 1;
    this.link(x);
    this.pullUp(next);
    return x;
  }

  // find_iova -> private_find_iova
  findIova(pfn: number): number {
    if (!isModelPfn(pfn)) return 0;
    let t = this.root;
    while (t !== NIL) {
      if (pfn < this.lo[t]!) t = this.left[t]!;
      else if (pfn > this.hi[t]!) t = this.right[t]!;
      else return t === this.anchor ? NIL : t;
    }
    return NIL;
  }

  freeIova(pfn: number): void {
    const h = this.findIova(pfn);
    if (h !== NIL) this.freeIovaNode(h);
  }

  // __free_iova -> remove_iova
  freeIovaNode(x: number): void {
    if (!Number.isInteger(x) || x <= 0 || x >= this.used || this.live[x] !== 1 || x === this.anchor) return;
    const next = this.succ(x);
    // __cached_rbnode_delete_update
    const c32 = this.cached32;
    const xlo = this.lo[x]!;
    if (x === c32 || (this.hi[x]! < this.dma32bitPfn && xlo >= this.lo[c32]!)) this.cached32 = next;
    if (xlo < this.dma32bitPfn) this.max32AllocSize = this.dma32bitPfn;
    if (xlo >= this.lo[this.cached]!) this.cached = next;
    this.unlink(x, next);
  }

  pfnLo(x: number): number {
    return x > 0 && x < this.used && this.live[x] === 1 ? this.lo[x]! : -1;
  }

  pfnHi(x: number): number {
    return x > 0 && x < this.used && this.live[x] === 1 ? this.hi[x]! : -1;
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
    while (this.left[x] !== NIL) x = this.left[x]!;
    for (; x !== NIL && x !== this.anchor; x = this.succ(x)) out.push([this.lo[x]!, this.hi[x]!]);
    return out;
  }

  /** Debug/test aid: verify ordering, parent links, gap starts and subtree maxima. */
  checkInvariants(): string | null {
    const order: number[] = [];
    const visit = (t: number, p: number): string | null => {
      if (t === NIL) return null;
      if (this.parent[t] !== p) return `parent link of ${t}`;
      const e1 = visit(this.left[t]!, t);
      if (e1) return e1;
      order.push(t);
      const e2 = visit(this.right[t]!, t);
      if (e2) return e2;
      const g = this.lo[t]! - this.glo[t]!;
      const m = Math.max(g, this.mg[this.left[t]!]!, this.mg[this.right[t]!]!);
      if (m !== this.mg[t]) return `max gap of ${t}`;
      if (this.left[t] !== NIL && this.pri[this.left[t]!]! > this.pri[t]!) return `heap order at ${t}`;
      if (this.right[t] !== NIL && this.pri[this.right[t]!]! > this.pri[t]!) return `heap order at ${t}`;
      return null;
    };
    const e = visit(this.root, NIL);
    if (e) return e;
    let prevHi = -1;
    for (const t of order) {
      if (this.lo[t]! <= prevHi) return `overlap at ${this.lo[t]}`;
      if (this.glo[t] !== prevHi + 1) return `gap start of ${this.lo[t]}`;
      prevHi = this.hi[t]!;
    }
    if (order.length !== this.count + 1) return 'count';
    return null;
  }
}
