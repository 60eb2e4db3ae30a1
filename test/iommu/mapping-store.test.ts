import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MappingStore } from '../../src/iommu/mapping-store.js';

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
