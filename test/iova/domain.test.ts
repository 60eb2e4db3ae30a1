import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IovaDomain, initIovaDomain, iovaPfn, pfnAddr, type IovaImpl } from '../../src/iova/index.js';
import { flsLong, orderBase2, roundupPowOfTwo } from '../../src/iova/util.js';
import { kernelProfile } from '../../src/kernel/profile.js';
import { ERRNO } from '../../src/base/errno.js';

const IMPLS: IovaImpl[] = ['ref', 'fast'];
const L32 = 0xfffff;
const L48 = 0xfffffffff;

function dom(impl: IovaImpl, startPfn = 1, legacy411 = false): IovaDomain {
  return new IovaDomain({ granule: 4096, startPfn, impl, legacy411 });
}

function range(d: IovaDomain, h: number): [number, number] {
  return [d.pfnLo(h), d.pfnHi(h)];
}

test('bit helpers match the kernel macros', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 0x80000000, 2 ** 40].map(flsLong), [0, 1, 2, 2, 3, 3, 32, 41]);
  assert.deepEqual([1, 2, 3, 4, 5, 17, 32].map(orderBase2), [0, 1, 2, 2, 3, 5, 5]);
  assert.deepEqual([1, 3, 5, 31].map(roundupPowOfTwo), [1, 4, 8, 32]);
});

for (const impl of IMPLS) {
  test(`${impl}: init_iova_domain state (4 KiB and 64 KiB granule)`, () => {
    const d = dom(impl);
    assert.equal(d.dma32bitPfn, 0x100000);
    assert.equal(d.max32AllocSize, 0x100000);
    assert.equal(d.tree.cachedNode(), d.tree.anchor);
    assert.equal(d.tree.cached32Node(), d.tree.anchor);
    assert.deepEqual(d.tree.ranges(), []);
    const d64 = new IovaDomain({ granule: 65536, startPfn: 1, impl });
    assert.equal(d64.dma32bitPfn, 0x10000);
  });

  test(`${impl}: R6.2.1 top-down from the cached node, size-aligned`, () => {
    const d = dom(impl);
    const a = d.allocIova(3, L32, true);
    assert.deepEqual(range(d, a), [0xffffc, 0xffffe]);
    assert.equal(d.tree.cached32Node(), a);
    const b = d.allocIova(1, L32, true);
    assert.deepEqual(range(d, b), [0xffffb, 0xffffb]);
    // unaligned: right below, no hole
    const c = d.allocIova(3, L32, false);
    assert.deepEqual(range(d, c), [0xffff8, 0xffffa]);
    // size 5 aligns to 8
    const e = d.allocIova(5, L32, true);
    assert.deepEqual(range(d, e), [0xffff0, 0xffff4]);
  });

  test(`${impl}: 48-bit requests use cached_node, not cached32`, () => {
    const d = dom(impl);
    const a = d.allocIova(1, L48, true);
    assert.deepEqual(range(d, a), [L48, L48]);
    assert.equal(d.tree.cachedNode(), a);
    assert.equal(d.tree.cached32Node(), d.tree.anchor);
    const b = d.allocIova(16, L48, true);
    assert.deepEqual(range(d, b), [L48 - 31, L48 - 16]);
    const c = d.allocIova(2, L32, true);
    assert.deepEqual(range(d, c), [0xffffe, 0xfffff]);
    assert.equal(d.tree.cached32Node(), c);
  });

  test(`${impl}: the retry pass finds room above the cached node`, () => {
    const d = dom(impl, 0x1000);
    const low = d.allocIova(1, 0xfff, true); // limit below start: no room
    assert.equal(low, 0);
    assert.equal(d.max32AllocSize, 1);
    // reset the poison by freeing something below 4 GiB
    const r = d.reserveIova(0x5000, 0x5000);
    d.freeIovaNode(r);
    assert.equal(d.max32AllocSize, 0x100000);
    const a = d.allocIova(1, 0x1000, true); // the only page: start_pfn
    assert.deepEqual(range(d, a), [0x1000, 0x1000]);
    assert.equal(d.tree.cached32Node(), a);
    // Nothing below the cached node: first pass fails, the retry pass from the limit succeeds.
    const b = d.allocIova(1, L32, true);
    assert.deepEqual(range(d, b), [0xfffff, 0xfffff]);
    assert.equal(d.max32AllocSize, 0x100000);
    // Retry with nothing above either: fail and poison.
    const full = d.allocIova(0xff000, L32, false);
    assert.equal(full, 0);
    assert.equal(d.max32AllocSize, 0xff000);
  });

  test(`${impl}: max32_alloc_size poisoning by any failure, fast-fail, reset on a free below 4 GiB`, () => {
    const d = dom(impl);
    const r = d.reserveIova(1, 0xfff);
    assert.equal(d.allocIova(1, 0xfff, true), 0); // 16 MiB limit: full
    assert.equal(d.max32AllocSize, 1);
    // Room exists below 4 GiB, but every <= 4 GiB request of size >= 1 now fails without a walk.
    assert.equal(d.allocIova(1, L32, true), 0);
    assert.equal(d.allocIova(8, L32, true), 0);
    // Above 4 GiB there is no fast-fail.
    const hi = d.allocIova(1, L48, true);
    assert.deepEqual(range(d, hi), [L48, L48]);
    // Freeing a node starting above 4 GiB does not reset the poison ...
    d.freeIovaNode(hi);
    assert.equal(d.max32AllocSize, 1);
    // ... freeing one below 4 GiB does.
    d.freeIova(0x800); // inside the reserved node
    assert.equal(d.findIova(0x800), 0);
    assert.equal(d.max32AllocSize, 0x100000);
    assert.deepEqual(range(d, d.allocIova(1, L32, true)), [0xfffff, 0xfffff]);
    void r;
    // A failed 48-bit request poisons it too (regardless of the limit).
    const e = dom(impl);
    e.reserveIova(1, L48);
    assert.equal(e.allocIova(4, L48, true), 0);
    assert.equal(e.max32AllocSize, 4);
  });

  test(`${impl}: 2016 fix: the last free page (start_pfn) under a full upper part is allocatable`, () => {
    const d = dom(impl, 1);
    d.reserveIova(2, L32);
    assert.deepEqual(range(d, d.allocIova(1, L32, true)), [1, 1]);
    // Allocated instead of reserved: 15 single pages fill [1, 0xf].
    const e = dom(impl, 1);
    const got: number[] = [];
    for (let i = 0; i < 16; i++) got.push(e.pfnLo(e.allocIova(1, 0xf, true)));
    assert.deepEqual(got, [15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, -1]);
  });

  test(`${impl}: legacy-4.11 reproduces the off-by-one (last page never allocated)`, () => {
    const d = dom(impl, 1, true);
    d.reserveIova(2, L32);
    assert.equal(d.allocIova(1, L32, true), 0);
    const e = dom(impl, 1, true);
    let n = 0;
    while (e.allocIova(1, 0xf, true) !== 0) n++;
    assert.equal(n, 14);
    assert.equal(e.findIova(1), 0);
  });

  test(`${impl}: reserve_iova extends downwards, never merges or splits, inserts the remainder`, () => {
    const d = dom(impl);
    const a = d.reserveIova(10, 20);
    assert.deepEqual(range(d, a), [10, 20]);
    assert.equal(d.reserveIova(5, 15), a);
    assert.deepEqual(range(d, a), [5, 20]);
    const b = d.reserveIova(18, 30);
    assert.deepEqual(range(d, b), [21, 30]);
    assert.deepEqual(range(d, a), [5, 20]);
    const c = d.reserveIova(0, 40);
    assert.deepEqual(range(d, c), [31, 40]);
    assert.deepEqual(d.tree.ranges(), [
      [0, 20],
      [21, 30],
      [31, 40],
    ]);
    assert.equal(d.reserveIova(22, 25), b);
    assert.equal(d.reserveIova(40, 40), c);
    // Overlapping an allocation extends it; freeing it then frees the reservation too.
    const x = d.allocIova(4, L32, true);
    assert.equal(d.reserveIova(0xffff0, 0xffffd), x);
    assert.deepEqual(range(d, x), [0xffff0, 0xfffff]);
    d.freeIova(0xffff5);
    assert.equal(d.findIova(0xffff0), 0);
    // Nonsensical pfns: above U64_MAX >> 12, or not representable.
    assert.equal(d.reserveIova(0, 2 ** 52), 0);
    assert.equal(d.reserveIova(0, 2 ** 53 + 2), 0);
    assert.equal(d.reserveIova(7, 6), 0);
  });

  test(`${impl}: find_iova answers any pfn inside; free_iova of a hole is a no-op`, () => {
    const d = dom(impl);
    const a = d.allocIova(16, L32, true);
    for (const p of [0xffff0, 0xffff7, 0xfffff]) assert.equal(d.findIova(p), a);
    assert.equal(d.findIova(0xfffef), 0);
    d.freeIova(0xfffef);
    assert.deepEqual(d.tree.ranges(), [[0xffff0, 0xfffff]]);
    d.freeIova(0xffff3);
    assert.deepEqual(d.tree.ranges(), []);
  });

  test(`${impl}: cached node updates on free (__cached_rbnode_delete_update)`, () => {
    const d = dom(impl);
    const a = d.allocIova(1, L32, true); // 0xfffff
    const b = d.allocIova(1, L32, true); // 0xffffe
    const c = d.allocIova(1, L32, true); // 0xffffd
    assert.equal(d.tree.cached32Node(), c);
    d.freeIovaNode(a); // above cached32: cached32 = next(a) = anchor
    assert.equal(d.tree.cached32Node(), d.tree.anchor);
    const e = d.allocIova(1, L32, true);
    assert.deepEqual(range(d, e), [0xfffff, 0xfffff]);
    d.freeIovaNode(c); // below cached32 (e): unchanged
    assert.equal(d.tree.cached32Node(), e);
    d.freeIovaNode(e); // is cached32: its successor
    assert.equal(d.tree.cached32Node(), d.tree.anchor);
    // 48-bit: freeing at/above cached_node moves it to the successor
    const h1 = d.allocIova(1, L48, true);
    const h2 = d.allocIova(1, L48, true);
    assert.equal(d.tree.cachedNode(), h2);
    d.freeIovaNode(h2);
    assert.equal(d.tree.cachedNode(), h1);
    void b;
  });

  test(`${impl}: refuses inputs it cannot represent instead of truncating`, () => {
    const d = dom(impl);
    assert.equal(d.allocIova(1, 2 ** 53, true), 0);
    assert.equal(d.allocIova(0, L32, true), 0);
    assert.equal(d.allocIova(1.5, L32, true), 0);
    assert.equal(d.max32AllocSize, 0x100000);
    assert.equal(d.findIova(-1), 0);
    assert.equal(d.allocIovaFast(1, 2 ** 60, true), 0);
  });
}

test('initIovaDomain validates like init_iova_domain (BUG -> -EINVAL)', () => {
  const bad = initIovaDomain({ granule: 3000, startPfn: 1 });
  assert.deepEqual(bad, { ok: false, errno: -ERRNO.EINVAL });
  const big = initIovaDomain({ granule: 1 << 17, startPfn: 1 });
  assert.equal(big.ok, false);
  const good = initIovaDomain({ granule: 4096, startPfn: 1, rcaches: true });
  assert.ok(good.ok);
  if (good.ok) assert.notEqual(good.value.rcaches, null);
  assert.equal(iovaPfn(0xfee00000n, 12), 0xfee00);
  assert.equal(iovaPfn(1n << 64n, 12), undefined);
  assert.equal(iovaPfn((1n << 64n) - 1n, 0), undefined);
  assert.equal(pfnAddr(0xfee00, 12), 0xfee00000n);
  const d = new IovaDomain({ granule: 4096, startPfn: 1 });
  assert.equal(d.iovaOffset(0x12345678n), 0x678n);
  assert.equal(d.iovaAlign(0x1001n), 0x2000n);
  assert.equal(d.iovaAlign((1n << 64n) - 1n), undefined);
});

for (const impl of IMPLS) {
  for (const v of ['6.1', '6.12'] as const) {
    const fastDom = (): IovaDomain => {
      const d = new IovaDomain({ granule: 4096, startPfn: 1, impl, profile: kernelProfile(v) });
      d.initRcaches();
      return d;
    };

    test(`${impl}/${v}: alloc_iova_fast rounds up, aligns, and reuses cached ranges`, () => {
      const d = fastDom();
      const p = d.allocIovaFast(3, L32, true);
      assert.equal(p, 0xffffc);
      assert.deepEqual(range(d, d.findIova(p)), [0xffffc, 0xfffff]);
      d.freeIovaFast(p, 3);
      assert.notEqual(d.findIova(p), 0, 'a cached range stays in the tree');
      assert.equal(d.allocIovaFast(4, L32, true), p, 'same class (order 2) hits the cache');
      // limit: a cached pfn whose range would end above the limit is skipped
      d.freeIovaFast(p, 4);
      const q = d.allocIovaFast(4, 0xffffe, true);
      assert.notEqual(q, p);
      assert.ok(q + 3 <= 0xffffe);
      // 33+ pages are never cached and not rounded
      const big = d.allocIovaFast(33, L48, true);
      assert.deepEqual(range(d, d.findIova(big)), [big, big + 32]);
      assert.equal(big % 64, 0);
      d.freeIovaFast(big, 33);
      assert.equal(d.findIova(big), 0);
      // 32 pages: cached (order 5), not rounded further
      const s32 = d.allocIovaFast(32, L48, true);
      d.freeIovaFast(s32, 32);
      assert.notEqual(d.findIova(s32), 0);
    });

    test(`${impl}/${v}: magazines and depot (${v === '6.1' ? 'array of 32' : 'list + delayed trim'})`, () => {
      const d = fastDom();
      const mag = d.profile.iovaMagSize;
      assert.equal(mag, 127);
      const n = mag * 36;
      const pfns: number[] = [];
      for (let i = 0; i < n; i++) pfns.push(d.allocIovaFast(1, L48, true));
      assert.equal(d.tree.count, n);
      for (const p of pfns) d.freeIovaFast(p, 1);
      const st = d.rcaches!.stats()[0]!;
      if (v === '6.1') {
        // loaded + prev + 32 depot magazines hold 34 * 127; the next two overflows freed 127 each.
        assert.equal(st.depotMags, 32);
        assert.equal(d.tree.count, n - 2 * mag);
        assert.equal(st.prev + st.loaded + 32 * mag, n - 2 * mag);
      } else {
        assert.equal(st.depotMags, 34);
        assert.equal(d.tree.count, n);
        d.rcaches!.depotWork(1);
        assert.equal(d.rcaches!.stats()[0]!.depotMags, 33);
        for (let i = 0; i < 40; i++) d.rcaches!.depotWork(1);
        assert.equal(d.rcaches!.stats()[0]!.depotMags, 1);
        assert.equal(d.tree.count, n - 33 * mag);
      }
    });

    test(`${impl}/${v}: a failed allocation flushes every cache into the tree and retries once`, () => {
      const d = fastDom();
      // leave exactly 8 pages free below 4 GiB
      d.reserveIova(1, 0xffff7);
      const ps = [0, 1, 2, 3, 4, 5, 6, 7].map(() => d.allocIovaFast(1, L32, true));
      assert.deepEqual(ps, [0xfffff, 0xffffe, 0xffffd, 0xffffc, 0xffffb, 0xffffa, 0xffff9, 0xffff8]);
      for (const p of ps) d.freeIovaFast(p, 1);
      assert.equal(d.tree.count, 9); // all still in the tree, held by the cache
      // an 8-page request misses the cache, fails in the tree, flushes, and then fits
      assert.equal(d.allocIovaFast(8, L32, true), 0xffff8);
      assert.equal(d.tree.count, 2);
      // without flush_rcache a failure is final
      d.freeIovaFast(0xffff8, 8);
      assert.equal(d.allocIovaFast(2, L32, false), 0);
    });
  }
}
