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
