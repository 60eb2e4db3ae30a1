import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IntervalSet } from '../../src/base/interval-set.js';
import { U64_MAX } from '../../src/base/u64.js';

test('full minus the x86 MSI window leaves two ranges', () => {
  const s = IntervalSet.full().subtract({ start: 0xfee00000n, end: 0xfeefffffn });
  assert.deepEqual(s.ranges, [
    { start: 0n, end: 0xfedfffffn },
    { start: 0xfef00000n, end: U64_MAX },
  ]);
  assert.equal(s.size, (1n << 64n) - 0x100000n);
});

test('union merges touching ranges, including at the top of the space', () => {
  const s = IntervalSet.of([
    { start: 10n, end: 19n },
    { start: 20n, end: 29n },
    { start: U64_MAX - 1n, end: U64_MAX },
    { start: 0n, end: 3n },
  ]);
  assert.deepEqual(s.ranges, [
    { start: 0n, end: 3n },
    { start: 10n, end: 29n },
    { start: U64_MAX - 1n, end: U64_MAX },
  ]);
  assert.equal(s.containsRange({ start: 12n, end: 25n }), true);
  assert.equal(s.overlapsRange({ start: 4n, end: 9n }), false);
});

test('intersect', () => {
  const a = IntervalSet.of([{ start: 0n, end: 100n }]);
  const b = a.intersect({ start: 50n, end: 200n });
  assert.deepEqual(b.ranges, [{ start: 50n, end: 100n }]);
});

/**
 * The sweeps give what a point-by-point model gives: sets over a small universe (plus ranges that end
 * at U64_MAX, mapped to the top of the universe's scale), compared as explicit membership.
 */
test('union, subtract, intersect and the membership tests agree with a point-set model', async () => {
  const fc = (await import('fast-check')).default;
  const N = 48;
  const rangeArb = fc
    .tuple(fc.integer({ min: 0, max: N - 1 }), fc.integer({ min: 0, max: 6 }))
    .map(([s, len]) => ({ start: BigInt(s), end: BigInt(Math.min(N - 1, s + len)) }));
  const setArb = fc.array(rangeArb, { maxLength: 8 });
  const points = (rs: readonly { start: bigint; end: bigint }[]): Set<number> => {
    const p = new Set<number>();
    for (const r of rs) for (let x = Number(r.start); x <= Number(r.end); x++) p.add(x);
    return p;
  };
  const canonical = (s: IntervalSet): void => {
    const rs = s.ranges;
    for (let i = 1; i < rs.length; i++)
      assert.ok(rs[i]!.start > rs[i - 1]!.end + 1n, 'sorted, disjoint, apart');
    for (const r of rs) assert.ok(r.start <= r.end);
  };
  const same = (s: IntervalSet, want: Set<number>): void => {
    canonical(s);
    assert.deepEqual(
      [...points(s.ranges)].sort((a, b) => a - b),
      [...want].sort((a, b) => a - b),
    );
  };
  fc.assert(
    fc.property(setArb, setArb, rangeArb, (xs, ys, r) => {
      const a = IntervalSet.of(xs);
      const b = IntervalSet.of(ys);
      const pa = points(xs);
      const pb = points(ys);
      same(a, pa);
      same(a.union(b), new Set([...pa, ...pb]));
      same(a.subtract(b), new Set([...pa].filter((x) => !pb.has(x))));
      same(a.intersect(b), new Set([...pa].filter((x) => pb.has(x))));
      same(a.subtract(r), new Set([...pa].filter((x) => !points([r]).has(x))));
      same(a.intersect(r), new Set([...pa].filter((x) => points([r]).has(x))));
      const pr = [...points([r])];
      assert.equal(
        a.containsRange(r),
        pr.every((x) => pa.has(x)),
      );
      assert.equal(
        a.overlapsRange(r),
        pr.some((x) => pa.has(x)),
      );
      assert.equal(a.containsAddr(r.start), pa.has(Number(r.start)));
    }),
    { numRuns: 2000, seed: 0x5e7 },
  );
});

test('a set of 10^5 ranges is built, complemented and intersected (each step a sweep, not per-range inserts)', () => {
  const rs = Array.from({ length: 100_000 }, (_, i) => ({
    start: BigInt(i) * 0x2000n,
    end: BigInt(i) * 0x2000n + 0xfffn,
  })).reverse();
  const s = IntervalSet.of(rs);
  assert.equal(s.ranges.length, 100_000);
  const holes = IntervalSet.full().subtract(s);
  assert.equal(holes.ranges.length, 100_000);
  assert.equal(holes.intersect(s).isEmpty, true);
});
