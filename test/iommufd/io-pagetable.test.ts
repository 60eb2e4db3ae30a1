/** The IOAS allocator's hole walk against a plain recomputation of the free space, on random states. */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { U64_MAX } from '../../src/base/u64.js';
import { IoPagetable, holesOf, unionSpans, type Span } from '../../src/iommufd/io-pagetable.js';
import { AreaList } from '../../src/iommufd/area-list.js';
import { Prng } from '../../src/conformance/generator.js';

/** iopt_alloc_iova written the slow way: every hole of reserved ∪ areas, lowest first. */
function reference(t: IoPagetable, length: bigint, align: bigint): bigint | undefined {
  const used = unionSpans([...t.reserved, ...t.areas]);
  const lo = 0x1000n;
  const spans: Span[] = t.allowed.length ? unionSpans(t.allowed) : [{ start: lo, last: U64_MAX - 0x1000n }];
  for (const s of spans) {
    const from = s.start < lo ? lo : s.start;
    const a0 = (from + align - 1n) & ~(align - 1n);
    if (a0 >= s.last || s.last - a0 < length - 1n) continue;
    for (const h of holesOf(used, a0, s.last)) {
      const a = (h.start + align - 1n) & ~(align - 1n);
      if (a < h.last && h.last - a >= length - 1n) return a;
    }
  }
  return undefined;
}

test('allocIova finds what a walk over every hole finds (600 random states)', () => {
  const r = new Prng(12);
  for (let round = 0; round < 600; round++) {
    const t = new IoPagetable({ autoIovaMaxAlign: 0x200000n });
    const page = (n: number) => BigInt(n) * 0x1000n;
    for (let k = r.int(6); k > 0; k--) {
      const s = page(r.int(4096));
      t.reserve(s, s + page(1 + r.int(64)) - 1n, k);
    }
    // sometimes hundreds of areas (several chunks of the area list, some with no wide gap)
    const many = r.chance(0.3);
    for (let k = many ? 200 + r.int(800) : r.int(40); k > 0; k--) {
      const s = many && r.chance(0.7) ? page(r.int(1024) * 2) : page(r.int(4096));
      const l = page(1 + r.int(32));
      if (t.checkIova(s, l) === 0) t.areas.insert(fakeArea(s, l));
    }
    if (r.chance(0.3)) t.setAllowed([{ start: page(r.int(2048)), last: page(2048 + r.int(4096)) - 1n }]);
    const length = page(1 + r.int(64));
    const uva = page(1 + r.int(1024));
    // the alignment iopt_alloc_iova asks for: min(roundup_pow_of_two(length), lowest bit of uva, 2 MiB)
    let p2 = 1n;
    while (p2 < length) p2 <<= 1n;
    const align = [p2, uva & -uva, 0x200000n].reduce((m, x) => (x < m ? x : m));
    const got = t.allocIova(uva, length);
    assert.equal(typeof got === 'number' ? undefined : got, reference(t, length, align), `round ${round}`);
  }
});

function fakeArea(start: bigint, length: bigint) {
  return {
    start,
    last: start + length - 1n,
    startByte: 0n,
    readable: true,
    writable: true,
    pinned: false,
  } as never;
}

test('AreaList keeps disjoint spans in order through 20,000 random inserts and removals', () => {
  const r = new Prng(5);
  const list = new AreaList<{ start: bigint; last: bigint }>();
  const ref: { start: bigint; last: bigint }[] = [];
  for (let k = 0; k < 20000; k++) {
    if (ref.length && r.chance(0.45)) {
      const a = ref.splice(r.int(ref.length), 1)[0]!;
      assert.ok(list.remove(a));
    } else {
      const start = BigInt(r.int(1 << 20)) * 0x1000n;
      const a = { start, last: start + BigInt(1 + r.int(4)) * 0x1000n - 1n };
      if (ref.some((x) => x.start <= a.last && a.start <= x.last)) continue;
      ref.push(a);
      list.insert(a);
    }
    if (k % 500 === 0) {
      ref.sort((x, y) => (x.start < y.start ? -1 : 1));
      assert.deepEqual([...list], ref);
      const probe = BigInt(r.int(1 << 20)) * 0x1000n;
      assert.equal(
        list.ceil(probe),
        ref.find((x) => x.last >= probe),
      );
    }
  }
  assert.equal(list.size, ref.length);
});
