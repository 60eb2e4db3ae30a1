import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CHURN,
  DMA32,
  Fnv1a64,
  OP_ALLOC,
  OP_MARK,
  Xorshift64,
  generateFragTrace,
  generateNetTrace,
  recordBytesDigest,
  replayTrace,
  traceFileBytes,
  type Trace,
} from '../../src/iova/trace.js';
import { kernelProfile } from '../../src/kernel/profile.js';

test('xorshift64 matches a bigint rendering of Marsaglia 13/7/17', () => {
  const seed = 0x9e3779b97f4a7c15n;
  const r = new Xorshift64(seed);
  let s = seed;
  const M = (1n << 64n) - 1n;
  for (let i = 0; i < 1000; i++) {
    s ^= (s << 13n) & M;
    s ^= s >> 7n;
    s ^= (s << 17n) & M;
    assert.equal(r.next(), s);
  }
  assert.throws(() => new Xorshift64(0n));
});

test('FNV-1a 64 known vectors', () => {
  const f = new Fnv1a64();
  assert.equal(f.hex(), '0xcbf29ce484222325');
  f.byte(0x61); // "a"
  assert.equal(f.hex(), '0xaf63dc4c8601ec8c');
  const g = new Fnv1a64();
  for (const c of 'foobar') g.byte(c.charCodeAt(0));
  assert.equal(g.hex(), '0x85944171f73967e8');
});

test('record bytes of the cheap prefixes match TRACES.md (live = 100000)', () => {
  const g = generateFragTrace(true, 100_000);
  assert.equal(g.n, 298_640);
  assert.equal(g.nIds, 199_316);
  assert.equal(recordBytesDigest(g), '0x40fe535ae2281be5');
  const f = generateFragTrace(false, 100_000);
  assert.equal(f.n, 298_634);
  assert.equal(f.nIds, 199_316);
  assert.equal(recordBytesDigest(f), '0x78af51d1ce2e8328');
  // the file format: header + 24-byte records whose bytes hash to the same value
  const bytes = traceFileBytes(f);
  assert.equal(String.fromCharCode(...bytes.subarray(0, 8)), 'IOVATRC1');
  const h = new Fnv1a64();
  for (let i = 64; i < bytes.length; i++) h.byte(bytes[i]!);
  assert.equal(h.hex(), '0x78af51d1ce2e8328');
});

let dma32Trace: Trace | undefined;
const dma32 = (): Trace => (dma32Trace ??= generateNetTrace(DMA32));

test('full traces match TRACES.md (records, ALLOCs, record-bytes FNV-1a64)', () => {
  // (fragmenting is growth without its 8 MARK records; its digest is checked on the 10^5 prefix)
  const churn = generateNetTrace(CHURN);
  assert.deepEqual(
    [churn.n, churn.nIds, recordBytesDigest(churn)],
    [5_000_000, 2_549_999, '0x86635fe16e373ddf'],
  );
  const d = dma32();
  assert.deepEqual([d.n, d.nIds, recordBytesDigest(d)], [2_000_000, 1_074_999, '0x3ee38456463e2163']);
  const growth = generateFragTrace(true);
  assert.deepEqual(
    [growth.n, growth.nIds, recordBytesDigest(growth)],
    [2_990_956, 1_995_473, '0x18e94d5c01cb7467'],
  );
  // growth windows hold 576, 5,978, 59,290 and 598,614 operations
  const begin: number[] = [];
  const windows: number[] = [];
  for (let i = 0; i < growth.n; i++) {
    if (growth.op[i] !== OP_MARK) continue;
    if (growth.a[i] === 0) begin[growth.size[i]!] = i;
    else windows[growth.size[i]!] = i - begin[growth.size[i]!]! - 1;
  }
  assert.deepEqual(windows, [576, 5_978, 59_290, 598_614]);
});

test('dma32 replay: the kernel failure counts (fast 19,042; plain 10,287)', () => {
  const t = dma32();
  const fast = replayTrace(t, { mode: 'fast', profile: kernelProfile('6.1') });
  assert.equal(fast.failures, 19_042);
  const plain = replayTrace(t, { mode: 'plain' });
  assert.equal(plain.failures, 10_287);
  assert.ok(plain.freesSkipped > 0 && plain.freesSkipped < plain.failures);
});

test('replays: fast tree and kernel-shape reference give the same answers digest', () => {
  // A crowded 32-bit-like window so that failures, the retry pass and flushes all happen.
  const small = generateNetTrace({ ...DMA32, name: 'small', records: 40_000, live: 3_000, limit: 0x3fff });
  for (const mode of ['fast', 'plain'] as const) {
    for (const v of ['6.1', '6.12'] as const) {
      const a = replayTrace(small, { mode, impl: 'ref', profile: kernelProfile(v) });
      const b = replayTrace(small, { mode, impl: 'fast', profile: kernelProfile(v) });
      assert.ok(a.failures > 0, 'the window is crowded');
      assert.equal(b.failures, a.failures);
      assert.equal(b.digest(), a.digest(), `${mode} ${v}`);
    }
  }
  const g = generateFragTrace(true, 2_000);
  const a = replayTrace(g, { mode: 'plain', impl: 'ref' });
  const b = replayTrace(g, { mode: 'plain', impl: 'fast' });
  assert.equal(b.digest(), a.digest());
  assert.equal(a.ops, g.n - 2); // two MARKs (window 0) in a live=2000 prefix
  let allocs = 0;
  for (let i = 0; i < g.n; i++) if (g.op[i] === OP_ALLOC) allocs++;
  assert.equal(a.allocs, allocs);
});
