/**
 * The shape of type1's vfio_dma list as the kernel builds it: a red-black tree with the exact insertion
 * and erase rebalancing of lib/rbtree.c (rb_insert_color, rb_erase), keyed by vfio_link_dma's comparison
 * in u64 arithmetic. The model's own DmaTree answers every search while the kernel's comparison is
 * consistent; it is not once a mapping ends at 2^64-1 (<= 6.17): its `iova + size` is 0, so it is linked
 * as the smallest node but searched past as if it were below everything, and what a search finds then
 * depends on where rotations have put it. This tree keeps that shape, so those searches can be answered
 * as the kernel does (vfio_find_dma, vfio_find_dma_first_node, rb_next).
 *
 * Frames (4 KiB pages) stand for addresses: every linked mapping is page-aligned, and the searches'
 * unaligned probes (iova + 1, iova + size - 1) are done as point queries. Only containers whose usable
 * IOVA reaches 2^64-1 keep one (it costs a descent per MAP and UNMAP).
 */

/** Frames in 2^64 bytes (u64 sums of frame addresses wrap here). */
const FRAMES_U64 = 2 ** 52;

/** Which child: 0 left, 1 right (the two halves of each rebalancing case mirror each other). */
type Side = 0 | 1;

export interface DmaNode {
  /** First frame of the mapping. */
  readonly iova: number;
  readonly pages: number;
  /** (iova + pages) mod 2^52: the kernel's `dma->iova + dma->size`, in frames. */
  readonly end: number;
  /** [rb_left, rb_right] */
  readonly kid: [DmaNode | null, DmaNode | null];
  parent: DmaNode | null;
  black: boolean;
}

export class KernelDmaOrder {
  private root: DmaNode | null = null;
  private readonly byIova = new Map<number, DmaNode>();
  /** Linked mappings whose end wraps to 0 (they end at 2^64-1). */
  wrapped = 0;

  get size(): number {
    return this.byIova.size;
  }

  /** vfio_link_dma: descend left while `new.iova + new.size <= dma.iova`, link, rb_insert_color. */
  link(iova: number, pages: number): void {
    const end = (iova + pages) % FRAMES_U64;
    const node: DmaNode = { iova, pages, end, kid: [null, null], parent: null, black: false };
    let parent: DmaNode | null = null;
    let side: Side = 0;
    for (let cur = this.root; cur !== null; cur = cur.kid[side]) {
      parent = cur;
      side = end <= cur.iova ? 0 : 1;
    }
    node.parent = parent;
    if (parent === null) this.root = node;
    else parent.kid[side] = node;
    this.insertColor(node);
    this.byIova.set(iova, node);
    if (end === 0) this.wrapped++;
  }

  /** rb_erase of the mapping that starts at `iova` (nothing when there is none). */
  erase(iova: number): void {
    const node = this.byIova.get(iova);
    if (node === undefined) return;
    this.byIova.delete(iova);
    if (node.end === 0) this.wrapped--;
    const rebalance = this.unlink(node);
    if (rebalance !== null) this.eraseColor(rebalance);
  }

  /**
   * vfio_find_dma(start, size) for a range of frames [first, first + pages): left while
   * `start + size <= dma.iova` (the sum wrapping to 0 at the top), right while `start >= dma.iova +
   * dma.size`, else that mapping.
   */
  findRange(first: number, pages: number): DmaNode | null {
    const endEx = (first + pages) % FRAMES_U64;
    let n = this.root;
    while (n !== null) {
      if (endEx <= n.iova) n = n.kid[0];
      else if (first >= n.end) n = n.kid[1];
      else return n;
    }
    return null;
  }

  /**
   * vfio_find_dma(addr, 1) or (addr, 0) for one address inside frame `frame` (the kernel's `iova` or
   * `iova + size - 1`): left while the address is below `dma.iova`, right while it is at or past
   * `dma.iova + dma.size` (wrapped), else that mapping.
   */
  findPoint(frame: number): DmaNode | null {
    let n = this.root;
    while (n !== null) {
      if (frame < n.iova) n = n.kid[0];
      else if (frame >= n.end) n = n.kid[1];
      else return n;
    }
    return null;
  }

  /**
   * vfio_find_dma_first_node(start, size) for frames [first, endEx) (endEx wrapped to 0 at the top): the
   * last node of the descent where `start < dma.iova + dma.size`, stopping at one that contains start;
   * none when it starts at or past `start + size`.
   */
  firstNode(first: number, endEx: number): DmaNode | null {
    let res: DmaNode | null = null;
    let n = this.root;
    while (n !== null) {
      if (first < n.end) {
        res = n;
        if (first >= n.iova) break;
        n = n.kid[0];
      } else n = n.kid[1];
    }
    return res !== null && res.iova >= endEx % FRAMES_U64 ? null : res;
  }

  /** rb_next: the in-order successor. */
  next(n: DmaNode): DmaNode | null {
    let m = n.kid[1];
    if (m !== null) {
      while (m.kid[0] !== null) m = m.kid[0];
      return m;
    }
    let c = n;
    let p = n.parent;
    while (p !== null && c === p.kid[1]) {
      c = p;
      p = p.parent;
    }
    return p;
  }

  /** In-order walk (rb_first, rb_next): the kernel's iteration order of the list. */
  *inOrder(): Generator<DmaNode> {
    let n = this.root;
    if (n === null) return;
    while (n.kid[0] !== null) n = n.kid[0];
    for (let m: DmaNode | null = n; m !== null; m = this.next(m)) yield m;
  }

  /** Pre-order `iova:pages:color` with `-` for an empty child: the exact shape, for tests. */
  shape(): string {
    const out: string[] = [];
    const walk = (n: DmaNode | null): void => {
      if (n === null) {
        out.push('-');
        return;
      }
      out.push(`${n.iova}:${n.pages}:${n.black ? 'B' : 'R'}`);
      walk(n.kid[0]);
      walk(n.kid[1]);
    };
    walk(this.root);
    return out.join(' ');
  }

  // ------------------------------------------------------------------ lib/rbtree.c, in its own words

  /** __rb_change_child: `parent`'s link to `old` (or the root) now points at `now`. */
  private replaceChild(old: DmaNode, now: DmaNode | null, parent: DmaNode | null): void {
    if (parent === null) this.root = now;
    else parent.kid[parent.kid[0] === old ? 0 : 1] = now;
  }

  /** __rb_rotate_set_parents: `now` takes `old`'s place and colour, `old` hangs below it with `black`. */
  private rotateParents(old: DmaNode, now: DmaNode, black: boolean): void {
    const parent = old.parent;
    now.parent = parent;
    now.black = old.black;
    old.parent = now;
    old.black = black;
    this.replaceChild(old, now, parent);
  }

  /** Sets `n`'s parent to `p` and makes it black (rb_set_parent_color(n, p, RB_BLACK)), when there is one. */
  private static blackUnder(n: DmaNode | null, p: DmaNode): void {
    if (n !== null) {
      n.parent = p;
      n.black = true;
    }
  }

  /**
   * __rb_insert: `node` was linked red; restore the colour rules bottom-up. `s` is the side the parent
   * hangs on below the grandparent, `o` the other (the kernel writes both halves out).
   */
  private insertColor(start: DmaNode): void {
    let node = start;
    let parent = node.parent;
    for (;;) {
      if (parent === null) {
        node.black = true;
        return;
      }
      if (parent.black) return;
      const gparent = parent.parent!;
      const s: Side = parent === gparent.kid[1] ? 1 : 0;
      const o: Side = s === 0 ? 1 : 0;
      const uncle = gparent.kid[o];
      if (uncle !== null && !uncle.black) {
        // case 1: recolour and go on from the grandparent
        uncle.black = true;
        parent.black = true;
        node = gparent;
        parent = node.parent;
        node.black = false;
        continue;
      }
      let tmp = parent.kid[o];
      if (node === tmp) {
        // case 2: rotate the parent the other way, so the node is on the outside
        tmp = node.kid[s];
        parent.kid[o] = tmp;
        node.kid[s] = parent;
        KernelDmaOrder.blackUnder(tmp, parent);
        parent.parent = node;
        parent.black = false;
        parent = node;
        tmp = node.kid[o];
      }
      // case 3: rotate at the grandparent
      gparent.kid[s] = tmp;
      parent.kid[o] = gparent;
      KernelDmaOrder.blackUnder(tmp, gparent);
      this.rotateParents(gparent, parent, false);
      return;
    }
  }

  /**
   * __rb_erase_augmented without callbacks: unlinks `node` (a node with two children is replaced by its
   * in-order successor, which takes its colour); returns the parent to rebalance from, or null.
   */
  private unlink(node: DmaNode): DmaNode | null {
    const [left, child] = node.kid;
    if (left === null) {
      const parent = node.parent;
      this.replaceChild(node, child, parent);
      if (child !== null) {
        child.parent = parent;
        child.black = node.black;
        return null;
      }
      return node.black ? parent : null;
    }
    if (child === null) {
      const parent = node.parent;
      left.parent = parent;
      left.black = node.black;
      this.replaceChild(node, left, parent);
      return null;
    }
    let successor = child;
    let parent: DmaNode;
    let child2: DmaNode | null;
    let tmp = child.kid[0];
    if (tmp === null) {
      parent = successor;
      child2 = successor.kid[1];
    } else {
      do {
        parent = successor;
        successor = tmp;
        tmp = tmp.kid[0];
      } while (tmp !== null);
      child2 = successor.kid[1];
      parent.kid[0] = child2;
      successor.kid[1] = child;
      child.parent = successor;
    }
    successor.kid[0] = left;
    left.parent = successor;
    const up = node.parent;
    this.replaceChild(node, successor, up);
    let rebalance: DmaNode | null = null;
    if (child2 !== null) KernelDmaOrder.blackUnder(child2, parent);
    else if (successor.black) rebalance = parent;
    successor.parent = up;
    successor.black = node.black;
    return rebalance;
  }

  /**
   * ____rb_erase_color: one black too few on the paths through `parent`'s emptied side `s` (the side
   * `node` is on; `o` the sibling's).
   */
  private eraseColor(start: DmaNode): void {
    let parent = start;
    let node: DmaNode | null = null;
    for (;;) {
      const s: Side = node === parent.kid[1] ? 1 : 0;
      const o: Side = s === 0 ? 1 : 0;
      let sibling = parent.kid[o]!;
      if (!sibling.black) {
        // case 1: rotate at the parent towards node's side
        const t = sibling.kid[s]!;
        parent.kid[o] = t;
        sibling.kid[s] = parent;
        KernelDmaOrder.blackUnder(t, parent);
        this.rotateParents(parent, sibling, false);
        sibling = t;
      }
      let far = sibling.kid[o];
      if (far === null || far.black) {
        const near = sibling.kid[s];
        if (near === null || near.black) {
          // case 2: recolour the sibling, move up if the parent was black
          sibling.parent = parent;
          sibling.black = false;
          if (!parent.black) parent.black = true;
          else {
            node = parent;
            const up = node.parent;
            if (up !== null) {
              parent = up;
              continue;
            }
          }
          return;
        }
        // case 3: rotate at the sibling, its near child becomes the sibling
        far = near.kid[o];
        sibling.kid[s] = far;
        near.kid[o] = sibling;
        parent.kid[o] = near;
        KernelDmaOrder.blackUnder(far, sibling);
        far = sibling;
        sibling = near;
      }
      // case 4: rotate at the parent, recolour
      const inner = sibling.kid[s];
      parent.kid[o] = inner;
      sibling.kid[s] = parent;
      KernelDmaOrder.blackUnder(far, sibling);
      if (inner !== null) inner.parent = parent;
      this.rotateParents(parent, sibling, true);
      return;
    }
  }
}
