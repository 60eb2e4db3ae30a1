/**
 * KernelDmaOrder: type1's vfio_dma rb-tree in the kernel's own shape. The worked shapes below are what
 * lib/rbtree.c (rb_insert_color, rb_erase) builds for the same operations with vfio_link_dma's
 * comparison (recorded from the kernel's code compiled in userspace); random operations keep the
 * red-black rules; and a mapping that ends at 2^64-1 misleads the kernel's searches as it does there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KernelDmaOrder, type DmaNode } from '../../src/vfio/type1/dma-rbtree.js';
import { dirtyPages, getDirtyBitmap, mapDma, unmapDma } from '../../src/vfio/typed.js';
import { BUF, attached, machine } from './machine.js';

const TOP = 2 ** 52;

test('the shapes lib/rbtree.c builds: inserts in order, then erases (successor, recolouring, rotations)', () => {
  const t = new KernelDmaOrder();
  for (const f of [10, 20, 30, 40, 50, 60, 70, 80]) t.link(f, 1);
  assert.equal(t.shape(), '40:1:B 20:1:R 10:1:B - - 30:1:B - - 60:1:R 50:1:B - - 70:1:B - 80:1:R - -');
  t.erase(40);
  assert.equal(t.shape(), '50:1:B 20:1:R 10:1:B - - 30:1:B - - 70:1:R 60:1:B - - 80:1:B - -');
  t.erase(10);
  assert.equal(t.shape(), '50:1:B 20:1:B - 30:1:R - - 70:1:R 60:1:B - - 80:1:B - -');
  t.erase(20);
  assert.equal(t.shape(), '50:1:B 30:1:B - - 70:1:R 60:1:B - - 80:1:B - -');
  assert.deepEqual(
    [...t.inOrder()].map((n) => n.iova),
    [30, 50, 60, 70, 80],
  );
});

test('a mapping ending at 2^64-1 is linked as the smallest, and the searches turn the wrong way at it', () => {
  const t = new KernelDmaOrder();
  for (const f of [100, 200, 300]) t.link(f, 1);
  t.link(TOP - 1, 1);
  assert.equal(t.wrapped, 1);
  t.link(50, 1);
  t.link(150, 1);
  assert.equal(
    t.shape(),
    `200:1:B ${TOP - 1}:1:R 50:1:B - 150:1:R - - 100:1:B - - 300:1:B - -`,
    'the kernel shape: 50 and 150 went left of the top mapping',
  );
  // vfio_find_dma finds 50 (it turns left at the top mapping), vfio_find_dma_first_node does not (it
  // turns right there): an UNMAP of 50 unmaps nothing on the kernel
  assert.equal(t.findRange(50, 1)?.iova, 50);
  assert.equal(t.firstNode(50, 51), null);
  assert.equal(t.firstNode(100, 101)?.iova, 100);
  // in rb_next order the top mapping sits between 150 and 100
  assert.deepEqual(
    [...t.inOrder()].map((n) => n.iova),
    [50, 150, TOP - 1, 100, 200, 300],
  );
  // a range ending at 2^64-1 is never found: its end wraps to 0
  assert.equal(t.findRange(TOP - 1, 1), null);
  assert.equal(t.findPoint(TOP - 1), null);
  t.erase(TOP - 1);
  assert.equal(t.wrapped, 0);
  assert.equal(t.firstNode(50, 51)?.iova, 50, 'without it the searches agree again');
});

/** Checks the red-black rules and the parent links; the black height. */
function blackHeight(n: DmaNode | null, parent: DmaNode | null): number {
  if (n === null) return 1;
  assert.equal(n.parent, parent, 'parent link');
  if (!n.black) {
    assert.ok(n.kid[0] === null || n.kid[0].black, 'no red node has a red child');
    assert.ok(n.kid[1] === null || n.kid[1].black, 'no red node has a red child');
  }
  const l = blackHeight(n.kid[0], n);
  assert.equal(l, blackHeight(n.kid[1], n), 'every path has the same number of black nodes');
  return l + (n.black ? 1 : 0);
}

test('random links and erases keep the red-black rules, and without a wrapped end the list is sorted', () => {
  let seed = 7;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const t = new KernelDmaOrder();
  const live: number[] = [];
  for (let k = 0; k < 4000; k++) {
    if (live.length > 0 && rnd(100) < 45) {
      const j = rnd(live.length);
      t.erase(live[j]!);
      live[j] = live[live.length - 1]!;
      live.pop();
    } else {
      const f = rnd(1_000_000) * 16;
      if (live.includes(f)) continue;
      live.push(f);
      t.link(f, 1 + rnd(15));
    }
    if (k % 97 === 0) {
      let top: DmaNode | null = [...t.inOrder()][0] ?? null;
      while (top?.parent) top = top.parent;
      if (top) assert.ok(top.black, 'the root is black');
      blackHeight(top, null);
      assert.deepEqual(
        [...t.inOrder()].map((n) => n.iova),
        [...live].sort((a, b) => a - b),
      );
    }
  }
  assert.equal(t.size, live.length);
});

test('type1 through its ioctls on AMD (usable IOVA up to 2^64-1): an UNMAP the top mapping hides finds nothing', () => {
  const m = machine('qemu-q35-amd-iommu');
  const { container, rc } = attached(m);
  assert.equal(rc, 0);
  const page = 4096n;
  const map = (frame: bigint, off: bigint) =>
    mapDma(m.sys, container, { argsz: 32, flags: 3, vaddr: BUF + off * page, iova: frame * page, size: page })
      .rc;
  const unmap = (frame: bigint) =>
    unmapDma(m.sys, container, { argsz: 24, flags: 0, iova: frame * page, size: page });
  for (const [k, f] of [100n, 200n, 300n].entries()) assert.equal(map(f, BigInt(k)), 0);
  assert.equal(map(BigInt(TOP - 1), 3n), 0, 'the last page of the 64-bit space');
  assert.equal(map(50n, 4n), 0);
  assert.equal(map(150n, 5n), 0);
  // the kernel's vfio_find_dma_first_node turns right at the top mapping and misses 50 (shape above)
  const u = unmap(50n);
  assert.equal(u.rc, 0);
  assert.equal(u.out.size, 0n);
  // 100 is found, and unmapped
  assert.equal(unmap(100n).out.size, page);
  // the top mapping itself: `iova + size` is 0, the walk stops at once
  assert.equal(unmap(BigInt(TOP - 1)).out.size, 0n);
});

test('the dirty bitmap walks the kernel order: the top mapping, linked as the smallest, ends the walk', () => {
  const m = machine('qemu-q35-amd-iommu');
  const { container } = attached(m);
  const page = 4096n;
  const map = (frame: bigint, off: bigint) =>
    mapDma(m.sys, container, { argsz: 32, flags: 3, vaddr: BUF + off * page, iova: frame * page, size: page })
      .rc;
  for (const [k, f] of [100n, 200n, 300n].entries()) assert.equal(map(f, BigInt(k)), 0);
  assert.equal(map(BigInt(TOP - 1), 3n), 0);
  assert.equal(map(50n, 4n), 0);
  assert.equal(map(150n, 5n), 0);
  assert.equal(dirtyPages(m.sys, container, 1), 0);
  const bitmap = BUF + 0xf00000n;
  assert.equal(m.sys.mm.copyToUser(bitmap, new Uint8Array(64)), 0);
  // [0, 512 pages): the walk reports 50 and 150, meets the top mapping (past the range) and stops, so
  // 100, 200 and 300 are not reported although they are in the range
  assert.equal(
    getDirtyBitmap(m.sys, container, 0n, 512n * page, { pgsize: page, size: 64n, data: bitmap }),
    0,
  );
  const b = new Uint8Array(64);
  assert.equal(m.sys.mm.copyFromUser(b, bitmap), 0);
  const bit = (p: number) => (b[p >> 3]! >> (p & 7)) & 1;
  assert.deepEqual([50, 100, 150, 200, 300].map(bit), [1, 0, 1, 0, 0]);
});

test("vfio_find_dma over a range that ends at 2^64-1 finds nothing (the attach checks' upper part, <= 6.17)", () => {
  const m = machine('qemu-q35-amd-iommu');
  const { container } = attached(m);
  const at = 1n << 50n;
  assert.equal(mapDma(m.sys, container, { argsz: 32, flags: 3, vaddr: BUF, iova: at, size: 4096n }).rc, 0);
  const iommu = m.sys.container(container)!.iommu!;
  assert.equal(iommu.overlapsDma(1n << 49n, (1n << 51n) - 1n), true);
  // `start + size` wraps to 0: the descent turns left everywhere (vfio_iommu_aper_conflict's check
  // above a new, smaller aperture when the list reaches 2^64-1)
  assert.equal(iommu.overlapsDma(1n << 49n, (1n << 64n) - 1n), false);
});
