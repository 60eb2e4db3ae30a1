/**
 * The translations of one paging domain: disjoint runs of pages `[start, end]` (inclusive page frame
 * numbers in units of the domain's smallest page size) with their physical frame and prot. Stands in
 * for the driver's page table. A B+ tree: leaves hold up to 64 runs in one typed array (32 bytes a run),
 * linked in order; inner nodes hold the smallest start of each child. O(log n) lookup, insert and
 * remove with few cache misses, so VFIO can hold 10^6 mappings. Appends split unevenly, so sequential
 * mapping fills leaves completely.
 *
 * Frame numbers are JS numbers: with pages of at least 2 KiB a u64 address gives a frame below 2^53.
 */

const B = 64;
/** Column offsets in a leaf's array (see Leaf.d). */
const E = B + 1;
const P = 2 * (B + 1);
const R = 3 * (B + 1);

export interface StoredRun {
  readonly start: number;
  readonly end: number;
  readonly pfn: number;
  readonly prot: number;
}

class Leaf {
  n = 0;
  /**
   * The four columns in one array (one object to reach, not four): starts at [0, B], ends at E + i,
   * physical frames at P + i, prot at R + i.
   */
  readonly d = new Float64Array(4 * (B + 1));
  next: Leaf | null = null;
  prev: Leaf | null = null;
  parent: Inner | null = null;
}

class Inner {
  n = 0;
  /** keys[i] = smallest start in kids[i]. */
  readonly keys = new Float64Array(B + 1);
  readonly kids: (Leaf | Inner)[] = [];
  parent: Inner | null = null;
}

/** Number of elements of a[0..n) that are <= x. */
function upperBound(a: Float64Array, n: number, x: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class MappingStore {
  private root: Leaf | Inner = new Leaf();
  private n = 0;

  /** Number of runs. */
  get size(): number {
    return this.n;
  }

  /** The run containing frame `f`, or undefined. */
  find(f: number): StoredRun | undefined {
    const leaf = this.leafFor(f);
    const j = upperBound(leaf.d, leaf.n, f) - 1;
    if (j < 0 || leaf.d[E + j]! < f) return undefined;
    return this.run(leaf, j);
  }

  /** The physical frame for frame `f`, or -1 when unmapped (no allocation: the hot path). */
  frameOf(f: number): number {
    const leaf = this.leafFor(f);
    const j = upperBound(leaf.d, leaf.n, f) - 1;
    if (j < 0 || leaf.d[E + j]! < f) return -1;
    return leaf.d[P + j]! + (f - leaf.d[j]!);
  }

  /** The first run whose end is >= f (the run containing f, or the next one). */
  ceilingRun(f: number): StoredRun | undefined {
    let leaf: Leaf | null = this.leafFor(f);
    let j = upperBound(leaf.d, leaf.n, f) - 1;
    if (j >= 0 && leaf.d[E + j]! >= f) return this.run(leaf, j);
    j++;
    while (leaf !== null && j >= leaf.n) {
      leaf = leaf.next;
      j = 0;
    }
    return leaf === null ? undefined : this.run(leaf, j);
  }

  /** True when any frame of [start, end] is mapped. */
  overlaps(start: number, end: number): boolean {
    let leaf: Leaf | null = this.leafFor(start);
    let j = upperBound(leaf.d, leaf.n, start) - 1;
    if (j >= 0 && leaf.d[E + j]! >= start) return true;
    j++;
    while (leaf !== null && j >= leaf.n) {
      leaf = leaf.next;
      j = 0;
    }
    return leaf !== null && leaf.d[j]! <= end;
  }

  /** Adds a run; false (nothing changed) when it overlaps an existing run. */
  insert(start: number, end: number, pfn: number, prot: number): boolean {
    const leaf = this.leafFor(start);
    const j = upperBound(leaf.d, leaf.n, start);
    // The run before must end below `start`, the run after must start above `end`.
    if (j > 0 && leaf.d[E + j - 1]! >= start) return false;
    if (j < leaf.n ? leaf.d[j]! <= end : leaf.next !== null && leaf.next.n > 0 && leaf.next.d[0]! <= end)
      return false;
    // One pass over the four columns (cheaper than four copyWithin calls for a few dozen slots).
    const d = leaf.d;
    for (let k = leaf.n; k > j; k--) {
      d[k] = d[k - 1]!;
      d[E + k] = d[E + k - 1]!;
      d[P + k] = d[P + k - 1]!;
      d[R + k] = d[R + k - 1]!;
    }
    leaf.d[j] = start;
    leaf.d[E + j] = end;
    leaf.d[P + j] = pfn;
    leaf.d[R + j] = prot & 0xff;
    leaf.n++;
    this.n++;
    if (j === 0) this.fixMin(leaf);
    if (leaf.n > B) this.splitLeaf(leaf, j === leaf.n - 1);
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
      this.removeKey(r.start);
      const s = Math.max(r.start, start);
      const e = Math.min(r.end, end);
      removed += e - s + 1;
      if (r.start < s) this.insert(r.start, s - 1, r.pfn, r.prot);
      if (r.end > e) this.insert(e + 1, r.end, r.pfn + (e + 1 - r.start), r.prot);
    }
    return removed;
  }

  /**
   * Removes frames from `start` on, run after run, up to `end`, stopping at the first frame that is
   * not mapped (the page-table walk of iommu_unmap). Runs removed whole are dropped in place.
   */
  removeFrom(start: number, end: number): number {
    let removed = 0;
    let f = start;
    while (f <= end) {
      const leaf = this.leafFor(f);
      const j = upperBound(leaf.d, leaf.n, f) - 1;
      if (j < 0 || leaf.d[E + j]! < f) break;
      const runEnd = leaf.d[E + j]!;
      if (leaf.d[j] === f && runEnd <= end) {
        removed += runEnd - f + 1;
        this.removeAt(leaf, j);
      } else {
        const e = Math.min(runEnd, end);
        removed += this.removeRange(f, e);
      }
      f = Math.min(runEnd, end) + 1;
    }
    return removed;
  }

  clear(): void {
    this.root = new Leaf();
    this.n = 0;
  }

  /** Runs in ascending order. */
  *runs(): Generator<StoredRun> {
    let node: Leaf | Inner = this.root;
    while (node instanceof Inner) node = node.kids[0]!;
    for (let leaf: Leaf | null = node; leaf !== null; leaf = leaf.next) {
      for (let j = 0; j < leaf.n; j++) yield this.run(leaf, j);
    }
  }

  private run(leaf: Leaf, j: number): StoredRun {
    return { start: leaf.d[j]!, end: leaf.d[E + j]!, pfn: leaf.d[P + j]!, prot: leaf.d[R + j]! };
  }

  /** The leaf whose key range holds `f` (the first leaf when f is below every key). */
  private leafFor(f: number): Leaf {
    let node = this.root;
    while (node instanceof Inner) {
      const i = upperBound(node.keys, node.n, f) - 1;
      node = node.kids[i < 0 ? 0 : i]!;
    }
    return node;
  }

  /** A node's smallest key changed: update the separators above it. */
  private fixMin(node: Leaf | Inner): void {
    let child: Leaf | Inner = node;
    let min = node instanceof Leaf ? node.d[0]! : node.keys[0]!;
    for (let p = child.parent; p !== null; child = p, p = p.parent) {
      const i = p.kids.indexOf(child);
      p.keys[i] = min;
      if (i !== 0) break;
      min = p.keys[0]!;
    }
  }

  private splitLeaf(leaf: Leaf, append: boolean): void {
    const right = new Leaf();
    // An append at the right end keeps the full leaf and starts a new one with the last run.
    const keep = append && leaf.next === null ? leaf.n - 1 : leaf.n >> 1;
    const move = leaf.n - keep;
    for (const c of [0, E, P, R]) right.d.set(leaf.d.subarray(c + keep, c + leaf.n), c);
    right.n = move;
    leaf.n = keep;
    right.next = leaf.next;
    if (right.next !== null) right.next.prev = right;
    right.prev = leaf;
    leaf.next = right;
    this.insertChild(leaf, right, right.d[0]!);
  }

  /** Puts `right` just after `left` in left's parent (a new root when left is the root). */
  private insertChild(left: Leaf | Inner, right: Leaf | Inner, key: number): void {
    let p = left.parent;
    if (p === null) {
      p = new Inner();
      p.kids.push(left);
      p.keys[0] = left instanceof Leaf ? left.d[0]! : left.keys[0]!;
      p.n = 1;
      left.parent = p;
      this.root = p;
    }
    const i = p.kids.indexOf(left) + 1;
    p.kids.splice(i, 0, right);
    p.keys.copyWithin(i + 1, i, p.n);
    p.keys[i] = key;
    p.n++;
    right.parent = p;
    if (p.n > B) this.splitInner(p, i === p.n - 1);
  }

  private splitInner(node: Inner, append: boolean): void {
    const right = new Inner();
    const keep = append && this.isRightmost(node) ? node.n - 1 : node.n >> 1;
    const kids = node.kids.splice(keep);
    right.kids.push(...kids);
    right.keys.set(node.keys.subarray(keep, node.n));
    right.n = node.n - keep;
    node.n = keep;
    for (const k of kids) k.parent = right;
    this.insertChild(node, right, right.keys[0]!);
  }

  private isRightmost(node: Inner): boolean {
    for (let c: Inner = node, p = node.parent; p !== null; c = p, p = p.parent) {
      if (p.kids[p.n - 1] !== c) return false;
    }
    return true;
  }

  /** Removes the run starting exactly at `start` (it exists). */
  private removeKey(start: number): void {
    const leaf = this.leafFor(start);
    this.removeAt(leaf, upperBound(leaf.d, leaf.n, start) - 1);
  }

  private removeAt(leaf: Leaf, j: number): void {
    const d = leaf.d;
    for (let k = j + 1; k < leaf.n; k++) {
      d[k - 1] = d[k]!;
      d[E + k - 1] = d[E + k]!;
      d[P + k - 1] = d[P + k]!;
      d[R + k - 1] = d[R + k]!;
    }
    leaf.n--;
    this.n--;
    if (leaf.n === 0) this.dropNode(leaf);
    else if (j === 0) this.fixMin(leaf);
  }

  /** Unlinks an empty node from the tree (and empty parents above it); a root with one child shrinks. */
  private dropNode(node: Leaf | Inner): void {
    const p = node.parent;
    if (p === null) {
      if (node instanceof Inner) this.root = new Leaf();
      return;
    }
    if (node instanceof Leaf) {
      if (node.prev !== null) node.prev.next = node.next;
      if (node.next !== null) node.next.prev = node.prev;
    }
    const i = p.kids.indexOf(node);
    p.kids.splice(i, 1);
    p.keys.copyWithin(i, i + 1, p.n);
    p.n--;
    if (p.n === 0) {
      this.dropNode(p);
      return;
    }
    if (i === 0) this.fixMin(p);
    if (p === this.root && p.n === 1) {
      const only = p.kids[0]!;
      only.parent = null;
      this.root = only;
    }
  }
}
