import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import fc from 'fast-check';
import { DMA_NIL, DmaTree } from '../../src/vfio/type1/dma-tree.js';

/** Reference: a sorted array of [start, pages]. */
class Ref {
  items: [number, number][] = [];
  overlaps(s: number, e: number): boolean {
    return this.items.some(([a, p]) => a <= e && s <= a + p - 1);
  }
  floor(f: number): number | undefined {
    let r: number | undefined;
    for (const [a] of this.items) if (a <= f) r = a;
    return r;
  }
  higher(f: number): number | undefined {
    return this.items.find(([a]) => a > f)?.[0];
  }
}

test('B+ tree agrees with a reference under random inserts, removes and lookups', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(fc.constantFrom('ins', 'ins', 'del', 'q'), fc.nat(3000), fc.integer({ min: 1, max: 4 })),
        { maxLength: 1500 },
      ),
      (ops) => {
        const t = new DmaTree();
        const r = new Ref();
        for (const [op, k, p] of ops) {
          if (op === 'ins') {
            if (r.overlaps(k, k + p - 1)) {
              assert.notEqual(t.findIntersecting(k, k + p - 1), DMA_NIL);
              continue;
            }
            assert.equal(t.findIntersecting(k, k + p - 1), DMA_NIL);
            t.insert(k, p, k + 7, 3);
            r.items.push([k, p]);
            r.items.sort((a, b) => a[0] - b[0]);
          } else if (op === 'del') {
            const had = r.items.findIndex(([a]) => a === k);
            assert.equal(t.remove(k), had >= 0);
            if (had >= 0) r.items.splice(had, 1);
          } else {
            const f = t.floor(k);
            assert.equal(f === DMA_NIL ? undefined : t.iovaOf(f), r.floor(k));
            const h = t.higher(k);
            assert.equal(h === DMA_NIL ? undefined : t.iovaOf(h), r.higher(k));
          }
        }
        assert.equal(t.check(), undefined);
        assert.equal(t.size, r.items.length);
        assert.deepEqual(
          [...t.entries()].map((e) => [e.iova, e.pages]),
          r.items,
        );
      },
    ),
    { seed: 11, numRuns: 200 },
  );
});

test('sequential fill keeps leaves dense, and removing everything empties the tree', () => {
  const t = new DmaTree();
  for (let i = 0; i < 100000; i++) t.insert(i * 2, 1, 0, 3);
  assert.equal(t.check(), undefined);
  assert.ok(t.byteSize / t.size < 40, `${t.byteSize / t.size} bytes per mapping`);
  for (let i = 0; i < 100000; i += 1) assert.ok(t.remove(i * 2));
  assert.equal(t.size, 0);
  assert.equal(t.check(), undefined);
  assert.equal(t.firstFrom(0), DMA_NIL);
  t.insert(5, 1, 0, 0);
  assert.equal(t.iovaOf(t.containing(5)), 5);
});
