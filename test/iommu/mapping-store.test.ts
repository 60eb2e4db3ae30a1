import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MappingStore, RUN_NIL, RunTree } from '../../src/iommu/mapping-store.js';

/** Reference model: frame -> [pfn, prot]. */
type Ref = Map<number, [number, number]>;

function refInsert(ref: Ref, s: number, e: number, pfn: number, prot: number): boolean {
  for (let f = s; f <= e; f++) if (ref.has(f)) return false;
  for (let f = s; f <= e; f++) ref.set(f, [pfn + f - s, prot]);
  return true;
}

test('MappingStore agrees with a page-by-page reference under random insert/remove', () => {
  const op = fc.oneof(
    fc.record({
      k: fc.constant('ins' as const),
      s: fc.integer({ min: 0, max: 200 }),
      n: fc.integer({ min: 1, max: 20 }),
      prot: fc.integer({ min: 0, max: 3 }),
    }),
    fc.record({
      k: fc.constant('del' as const),
      s: fc.integer({ min: 0, max: 200 }),
      n: fc.integer({ min: 1, max: 30 }),
    }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
      const st = new MappingStore();
      const ref: Ref = new Map();
      for (const o of ops) {
        const e = o.s + o.n - 1;
        if (o.k === 'ins') {
          assert.equal(st.insert(o.s, e, o.s + 1000, o.prot), refInsert(ref, o.s, e, o.s + 1000, o.prot));
        } else {
          let n = 0;
          for (let f = o.s; f <= e; f++) if (ref.delete(f)) n++;
          assert.equal(st.removeRange(o.s, e), n);
        }
      }
      for (let f = 0; f <= 230; f++) {
        const r = st.find(f);
        const w = ref.get(f);
        if (w === undefined) assert.equal(r, undefined);
        else {
          assert.ok(r);
          assert.equal(r.pfn + (f - r.start), w[0]);
          assert.equal(r.prot, w[1]);
        }
      }
      const runs = [...st.runs()];
      assert.equal(runs.length, st.size);
      for (let i = 1; i < runs.length; i++) assert.ok(runs[i - 1]!.end < runs[i]!.start);
    }),
    { numRuns: 300 },
  );
});

test('MappingStore holds many runs with frame numbers near 2^52', () => {
  const st = new MappingStore();
  const base = 2 ** 52 - 100_000;
  for (let i = 0; i < 50_000; i++) assert.ok(st.insert(base + 2 * i, base + 2 * i, i, 3));
  assert.equal(st.size, 50_000);
  assert.equal(st.find(base + 2 * 777)?.pfn, 777);
  assert.equal(st.find(base + 2 * 777 + 1), undefined);
  assert.equal(st.overlaps(base + 1, base + 1), false);
  assert.equal(st.insert(base + 10, base + 12, 0, 3), false);
  assert.equal(st.removeRange(base, base + 99_999), 50_000);
  assert.equal(st.size, 0);
});

test('MappingStore stays consistent through thousands of random ops (leaf and inner splits, empty-node removal)', () => {
  let seed = 12345;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const st = new MappingStore();
  const ref: Ref = new Map();
  const SPACE = 60_000;
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 12_000; i++) {
      const s = rnd(SPACE);
      const len = 1 + rnd(4);
      if (rnd(10) < 7) {
        assert.equal(st.insert(s, s + len - 1, s * 3, i & 3), refInsert(ref, s, s + len - 1, s * 3, i & 3));
      } else {
        const dl = 1 + rnd(40);
        let n = 0;
        for (let f = s; f < s + dl; f++) if (ref.delete(f)) n++;
        assert.equal(st.removeRange(s, s + dl - 1), n);
      }
    }
    let mapped = 0;
    for (let f = 0; f < SPACE + 8; f++) {
      const w = ref.get(f);
      const got = st.frameOf(f);
      assert.equal(got, w === undefined ? -1 : w[0], `frame ${f}`);
      if (w !== undefined) mapped++;
    }
    const runs = [...st.runs()];
    assert.equal(runs.length, st.size);
    assert.equal(
      runs.reduce((a, r) => a + r.end - r.start + 1, 0),
      mapped,
    );
    for (let i = 1; i < runs.length; i++) assert.ok(runs[i - 1]!.end < runs[i]!.start);
    // empty it in a scattered order, then the tree must be reusable
    if (round === 1) {
      for (let f = 0; f < SPACE + 8; f += 7) {
        let n = 0;
        for (let g = f; g < f + 7; g++) if (ref.delete(g)) n++;
        assert.equal(st.removeRange(f, f + 6), n);
      }
      assert.equal(st.size, 0);
      assert.equal(st.ceilingRun(0), undefined);
    }
  }
});

test('MappingStore: sequential appends fill leaves (few nodes), lookups at the edges', () => {
  const st = new MappingStore();
  for (let i = 0; i < 100_000; i++) assert.ok(st.insert(2 * i, 2 * i, i, 1));
  assert.equal(st.size, 100_000);
  assert.equal(st.frameOf(0), 0);
  assert.equal(st.frameOf(199_998), 99_999);
  assert.equal(st.frameOf(199_999), -1);
  assert.equal(st.frameOf(-5), -1);
  assert.deepEqual(st.ceilingRun(199_997), { start: 199_998, end: 199_998, pfn: 99_999, prot: 1 });
  assert.equal(st.ceilingRun(199_999), undefined);
  assert.equal(st.overlaps(1, 1), false);
  assert.equal(st.overlaps(1, 2), true);
});

for (const width of [4, 5] as const) {
  test(`RunTree (${width} columns): random inserts/removes keep structure, order, floor/higher and the finger exact`, () => {
    let seed = 777;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const t = new RunTree(width);
    const ref = new Set<number>();
    const sorted = (): number[] => [...ref].sort((a, b) => a - b);
    for (let round = 0; round < 4; round++) {
      const space = round % 2 === 0 ? 4000 : 40_000;
      for (let i = 0; i < 20_000; i++) {
        // Mostly local keys (the finger path), sometimes far ones (descents).
        const k = rnd(4) === 0 ? rnd(space) : (i * 7 + rnd(50)) % space;
        if (rnd(10) < (round === 2 ? 3 : 6)) {
          if (!ref.has(k)) {
            t.insert(k, k + 1, k * 2, k & 7, k * 3);
            ref.add(k);
          }
        } else {
          assert.equal(t.remove(k), ref.delete(k));
        }
        if (i % 997 === 0) assert.equal(t.check(), undefined);
        const q = rnd(space + 10) - 5;
        const f = t.floor(q);
        const h = t.higher(q);
        let fr: number | undefined;
        let hr: number | undefined;
        for (const x of ref) {
          if (x <= q && (fr === undefined || x > fr)) fr = x;
          if (x > q && (hr === undefined || x < hr)) hr = x;
        }
        assert.equal(f === RUN_NIL ? undefined : t.key(f), fr, `floor ${q}`);
        assert.equal(h === RUN_NIL ? undefined : t.key(h), hr, `higher ${q}`);
        if (f !== RUN_NIL) assert.deepEqual([t.c1(f), t.c2(f), t.c3(f)], [fr! + 1, fr! * 2, fr! & 7]);
        if (f !== RUN_NIL && width === 5) assert.equal(t.c4(f), fr! * 3);
        if (h !== RUN_NIL) assert.equal(t.prev(h), f, `prev of higher(${q})`);
      }
      assert.equal(t.check(), undefined);
      assert.equal(t.size, ref.size);
      const keys: number[] = [];
      for (let h = t.first(); h !== RUN_NIL; h = t.next(h)) keys.push(t.key(h));
      assert.deepEqual(keys, sorted());
      if (round === 1) {
        // Empty it from the middle outwards: leaves and inner nodes drop, the root collapses.
        const all = sorted();
        for (let i = 0; i < all.length; i++) {
          const k = all[(i * 7919) % all.length]!;
          if (ref.delete(k)) assert.ok(t.remove(k));
        }
        for (const k of [...ref]) assert.ok(t.remove(k) && ref.delete(k));
        assert.equal(t.size, 0);
        assert.equal(t.check(), undefined);
        assert.equal(t.first(), RUN_NIL);
      }
    }
    // Sequential fill keeps leaves dense: 14 of 16 slots used, plus inner nodes.
    const s = new RunTree(width);
    for (let i = 0; i < 100_000; i++) s.insert(i * 2, 1, 0, 0);
    assert.equal(s.check(), undefined);
    assert.ok(s.byteSize / s.size < width * 10, `${s.byteSize / s.size} bytes per record`);
  });
}
