import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PiecewiseAxis, fraction, log2Big, scaleBig } from '../../src/web/axis.js';
import {
  FULL_WINDOW,
  PAGE,
  Projection,
  TWO64,
  advance,
  panBy,
  ticks,
  uWidth,
  windowFor,
  zoomAt,
} from '../../src/web/viewport.js';
import { U64_MAX } from '../../src/base/u64.js';

const MSI = { start: 0x8000000n, end: 0x80fffffn };
const TOP48 = (1n << 48n) - 1n;

test('the axis cuts the space at every boundary and covers 0..2^64-1 without holes', () => {
  const axis = PiecewiseAxis.build([MSI], [TOP48 + 1n]);
  const s = axis.segments;
  assert.deepEqual(
    s.map((x) => [x.start, x.end, x.gap]),
    [
      [0n, 0x7ffffffn, true],
      [0x8000000n, 0x80fffffn, false],
      [0x8100000n, TOP48, true],
      [TOP48 + 1n, U64_MAX, true],
    ],
  );
  assert.equal(s[0]!.u0, 0);
  assert.equal(s[s.length - 1]!.u1, 1);
  for (let i = 1; i < s.length; i++) assert.equal(s[i]!.u0, s[i - 1]!.u1);
});

test('a 1 MiB MSI window gets visible width next to 2^64 bytes of emptiness', () => {
  const axis = PiecewiseAxis.build([MSI], [TOP48 + 1n]);
  const msi = axis.segments[1]!;
  assert.ok(msi.u1 - msi.u0 > 0.15, `MSI window width ${msi.u1 - msi.u0}`);
  // A single 4 KiB page is still a visible fraction of the whole axis.
  const page = PiecewiseAxis.build([{ start: 0x1000n, end: 0x1fffn }]).segments[1]!;
  assert.ok(page.u1 - page.u0 > 0.1);
});

test('toU and fromU are monotonic inverses at page granularity', () => {
  const axis = PiecewiseAxis.build([MSI, { start: 0xfee00000n, end: 0xfeefffffn }], [TOP48 + 1n]);
  fc.assert(
    fc.property(
      fc.bigInt({ min: 0n, max: U64_MAX >> 12n }),
      fc.bigInt({ min: 0n, max: U64_MAX >> 12n }),
      (a, b) => {
        const x = a << 12n;
        const y = b << 12n;
        if (x < y) assert.ok(axis.toU(x) <= axis.toU(y));
        const back = axis.fromU(axis.toU(x));
        const seg = axis.segments[axis.indexOf(x)]!;
        // Inverse within the float precision of the piece (2^-52 of its size).
        const tol = (seg.size >> 50n) + 1n;
        assert.ok(back >= x - tol && back <= x + tol, `${x} -> ${back}`);
      },
    ),
  );
});

test('fraction, scaleBig and log2Big keep precision for 64-bit values', () => {
  assert.equal(fraction(1n << 63n, 1n << 64n), 0.5);
  assert.equal(scaleBig(1n << 64n, 0.25), 1n << 62n);
  assert.equal(log2Big(1n << 64n), 64);
  assert.equal(log2Big(4096n), 12);
});

test('projection: pixels of region boundaries, exact at a 4 KiB zoom deep in a 2^64 piece', () => {
  const axis = PiecewiseAxis.build([MSI], [TOP48 + 1n]);
  const p = new Projection(axis, FULL_WINDOW, 1000);
  const msi = axis.segments[1]!;
  assert.ok(Math.abs(p.x(MSI.start) - msi.u0 * 1000) < 1e-6);
  assert.ok(Math.abs(p.xEnd(MSI.end) - msi.u1 * 1000) < 1e-6);
  assert.equal(p.addrAt(0), 0n);
  assert.equal(p.last, U64_MAX);
  // Zoom onto one page far above the aperture: 0xffff_0000_0000_0000.
  const target = 0xffff000000000000n;
  const w = windowFor(axis, target, target + PAGE - 1n, 1000, 0.25);
  const q = new Projection(axis, w, 1000);
  assert.ok(Math.abs(q.x(target) - 250) < 1e-6, `page start at ${q.x(target)}`);
  assert.ok(Math.abs(q.xEnd(target + PAGE - 1n) - 750) < 1e-6, `page end at ${q.xEnd(target + PAGE - 1n)}`);
  assert.equal(q.addrAt(500), target + 0x800n);
  assert.ok(Math.abs(q.bytesPerPixel(target) - 4096 / 500) < 1e-9);
});

test('advance walks pixels across pieces and is undone by walking back', () => {
  const axis = PiecewiseAxis.build([MSI, { start: 0x1000n, end: 0x1fffn }], [TOP48 + 1n]);
  const pxPerU = 1e6;
  fc.assert(
    fc.property(
      fc.bigInt({ min: 0n, max: (1n << 52n) - 1n }),
      fc.double({ min: -2e5, max: 2e5, noNaN: true }),
      (p, px) => {
        const a = p << 12n;
        const b = advance(axis, a, px, pxPerU);
        if (px >= 0) assert.ok(b >= a);
        else assert.ok(b <= a);
        if (b > 0n && b < TWO64) {
          // Walking back lands within the rounding of one step (the bytes of a pixel in the widest piece).
          const back = advance(axis, b, -px, pxPerU);
          const tol = BigInt(
            Math.ceil(
              4 * Math.max(1, ...axis.segments.map((s) => Number(s.size) / ((s.u1 - s.u0) * pxPerU))),
            ),
          );
          const d = back > a ? back - a : a - back;
          assert.ok(d <= tol, `${a} -> ${b} -> ${back}`);
        }
      },
    ),
  );
  assert.equal(advance(axis, 0n, -10, pxPerU), 0n);
  assert.equal(advance(axis, TWO64, 10, pxPerU), TWO64);
  assert.ok(Math.abs(uWidth(axis, 0n, TWO64) - 1) < 1e-12);
});

test('zoom keeps the address under the cursor in place and stops at page scale', () => {
  const axis = PiecewiseAxis.build([MSI], [TOP48 + 1n]);
  let w = FULL_WINDOW;
  const first = new Projection(axis, w, 1000);
  const x = first.x(0x8080000n);
  for (let i = 0; i < 200; i++) {
    w = zoomAt(axis, w, x, 2, 1000);
    const p = new Projection(axis, w, 1000);
    const a = p.addrAt(x);
    assert.ok(
      a >= 0x8080000n - 64n && a <= 0x8080000n + 64n,
      `step ${i}: ${a.toString(16)} under the cursor`,
    );
  }
  const p = new Projection(axis, w, 1000);
  // Deepest zoom: a page is at most MAX_PAGE_PX (256) wide, so >= 16 bytes per pixel.
  assert.ok(Math.abs(p.bytesPerPixel(0x8080000n) - 16) < 0.01, `${p.bytesPerPixel(0x8080000n)}`);
  assert.deepEqual(zoomAt(axis, w, 500, 1e-30, 1000), FULL_WINDOW);
});

test('pan moves by pixels, stays inside the space and keeps the scale', () => {
  const axis = PiecewiseAxis.build([MSI], [TOP48 + 1n]);
  assert.deepEqual(panBy(axis, FULL_WINDOW, -500, 1000), FULL_WINDOW);
  const w = windowFor(axis, 0x8000000n, 0x80fffffn, 1000, 0);
  assert.deepEqual(w, { lo: 0x8000000n, hi: 0x8100000n });
  const right = panBy(axis, w, 500, 1000);
  assert.deepEqual(right, {
    lo: 0x8080000n,
    hi: advance(axis, 0x8080000n, 1000, new Projection(axis, w, 1000).pxPerU),
  });
  const left = panBy(axis, w, -1e12, 1000);
  assert.equal(left.lo, 0n);
  const far = panBy(axis, w, 1e15, 1000);
  assert.equal(far.hi, TWO64);
});

test('ticks: every piece boundary, then power-of-two grid lines inside wide pieces', () => {
  const axis = PiecewiseAxis.build([MSI], [TOP48 + 1n]);
  const t = ticks(new Projection(axis, FULL_WINDOW, 2000));
  const bounds = t.filter((x) => x.boundary).map((x) => x.addr);
  assert.deepEqual(bounds, [0n, 0x8000000n, 0x8100000n, TOP48 + 1n]);
  for (const x of t.filter((k) => !k.boundary)) assert.equal(x.addr % PAGE, 0n);
  const deep = ticks(new Projection(axis, windowFor(axis, 0x8000000n, 0x8003fffn, 1000, 0), 1000));
  assert.ok(
    deep.some((k) => k.addr === 0x8001000n && !k.boundary),
    'page lines at a 16 KiB zoom',
  );
});
