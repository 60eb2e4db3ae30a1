/**
 * Allocator benchmark traces exactly as /work/shared/perf/TRACES.md defines them (xorshift64 PRNG, the
 * churn/dma32 network-like traces, fragmenting/growth), their record bytes (IOVATRC1 format), FNV-1a 64
 * digests, and the replay driver (fast: alloc_iova_fast/free_iova_fast; plain: alloc_iova/__free_iova).
 * Traces are generated in memory; nothing here touches files, so it also runs in the browser.
 */
import type { KernelProfile } from '../kernel/profile.js';
import { IovaDomain, type IovaImpl } from './domain.js';

export const OP_ALLOC = 1;
export const OP_FREE = 2;
export const OP_RESERVE = 3;
export const OP_MARK = 4;

/** DMA_BIT_MASK(48) >> 12 and DMA_BIT_MASK(32) >> 12: the inclusive limits dma-iommu passes. */
export const LIMIT_48 = 0xfffffffff;
export const LIMIT_32 = 0xfffff;

/** xorshift64 (Marsaglia 13/7/17) on two 32-bit halves; `rnd(n)` = upper 32 bits of the new state mod n. */
export class Xorshift64 {
  private h: number;
  private l: number;
  constructor(seed: bigint) {
    const s = BigInt.asUintN(64, seed);
    if (s === 0n) throw new RangeError('xorshift64 seed must be non-zero');
    this.h = Number(s >> 32n) >>> 0;
    this.l = Number(s & 0xffffffffn) >>> 0;
  }
  /** Advance the state; the new state as a bigint (for tests). */
  next(): bigint {
    this.step();
    return (BigInt(this.h) << 32n) | BigInt(this.l);
  }
  private step(): void {
    let h = this.h;
    let l = this.l;
    // s ^= s << 13
    h = (h ^ ((h << 13) | (l >>> 19))) >>> 0;
    l = (l ^ (l << 13)) >>> 0;
    // s ^= s >> 7
    l = (l ^ ((l >>> 7) | (h << 25))) >>> 0;
    h = (h ^ (h >>> 7)) >>> 0;
    // s ^= s << 17
    h = (h ^ ((h << 17) | (l >>> 15))) >>> 0;
    l = (l ^ (l << 17)) >>> 0;
    this.h = h;
    this.l = l;
  }
  rnd(n: number): number {
    this.step();
    return this.h % n;
  }
}

/** FNV-1a 64 over bytes, on four 16-bit limbs (offset 0xcbf29ce484222325, prime 0x100000001b3). */
export class Fnv1a64 {
  private h0 = 0x2325;
  private h1 = 0x8422;
  private h2 = 0x9ce4;
  private h3 = 0xcbf2;
  byte(b: number): void {
    const h0 = this.h0 ^ (b & 0xff);
    const h1 = this.h1;
    let t0 = h0 * 0x1b3;
    let t1 = h1 * 0x1b3;
    let t2 = this.h2 * 0x1b3 + (h0 << 8);
    let t3 = this.h3 * 0x1b3 + (h1 << 8);
    t1 += t0 >>> 16;
    t0 &= 0xffff;
    t2 += t1 >>> 16;
    t1 &= 0xffff;
    t3 += t2 >>> 16;
    t2 &= 0xffff;
    this.h0 = t0;
    this.h1 = t1;
    this.h2 = t2;
    this.h3 = t3 & 0xffff;
  }
  u16(v: number): void {
    this.byte(v & 0xff);
    this.byte((v >>> 8) & 0xff);
  }
  u32(v: number): void {
    this.byte(v & 0xff);
    this.byte((v >>> 8) & 0xff);
    this.byte((v >>> 16) & 0xff);
    this.byte((v >>> 24) & 0xff);
  }
  /** A non-negative integer below 2^53 as 8 bytes little-endian. */
  u64(v: number): void {
    this.u32(v >>> 0);
    this.u32(Math.floor(v / 0x100000000) >>> 0);
  }
  digest(): bigint {
    return (BigInt(this.h3) << 48n) | (BigInt(this.h2) << 32n) | (BigInt(this.h1) << 16n) | BigInt(this.h0);
  }
  hex(): string {
    return '0x' + this.digest().toString(16).padStart(16, '0');
  }
}

/** A trace held in memory, one column per record field. */
export interface Trace {
  readonly name: string;
  readonly seed: bigint;
  readonly n: number;
  readonly nIds: number;
  readonly op: Uint8Array;
  readonly flags: Uint8Array;
  readonly size: Uint32Array;
  readonly a: Float64Array;
  readonly b: Float64Array;
}

class TraceBuilder {
  n = 0;
  nIds = 0;
  op: Uint8Array;
  flags: Uint8Array;
  size: Uint32Array;
  a: Float64Array;
  b: Float64Array;
  constructor(cap: number) {
    this.op = new Uint8Array(cap);
    this.flags = new Uint8Array(cap);
    this.size = new Uint32Array(cap);
    this.a = new Float64Array(cap);
    this.b = new Float64Array(cap);
  }
  private ensure(): void {
    if (this.n < this.op.length) return;
    const c = this.op.length * 2;
    const op = new Uint8Array(c);
    op.set(this.op);
    const fl = new Uint8Array(c);
    fl.set(this.flags);
    const sz = new Uint32Array(c);
    sz.set(this.size);
    const a = new Float64Array(c);
    a.set(this.a);
    const b = new Float64Array(c);
    b.set(this.b);
    this.op = op;
    this.flags = fl;
    this.size = sz;
    this.a = a;
    this.b = b;
  }
  push(op: number, flags: number, size: number, a: number, b: number): void {
    this.ensure();
    const i = this.n++;
    this.op[i] = op;
    this.flags[i] = flags;
    this.size[i] = size;
    this.a[i] = a;
    this.b[i] = b;
  }
  /** The two platform reservations of an x86 q35-like host (PCI MMIO window and MSI window). */
  reservations(): void {
    this.push(OP_RESERVE, 0, 0, 0xc0000, 0xfebff);
    this.push(OP_RESERVE, 0, 0, 0xfee00, 0xfeeff);
  }
  done(name: string, seed: bigint): Trace {
    const n = this.n;
    return {
      name,
      seed,
      n,
      nIds: this.nIds,
      op: this.op.subarray(0, n),
      flags: this.flags.subarray(0, n),
      size: this.size.subarray(0, n),
      a: this.a.subarray(0, n),
      b: this.b.subarray(0, n),
    };
  }
}

/** net_size(): 1 (P 24/64), 2, 4, 8, 16, or 1 + rnd(16). */
function netSize(r: Xorshift64): number {
  const u = r.rnd(64);
  if (u < 24) return 1;
  if (u < 36) return 2;
  if (u < 44) return 4;
  if (u < 48) return 8;
  if (u < 52) return 16;
  return 1 + r.rnd(16);
}

export interface NetTraceParams {
  readonly name: string;
  readonly seed: bigint;
  readonly records: number;
  readonly live: number;
  readonly window: number;
  readonly youngNum: number;
  readonly limit: number;
}

export const CHURN: NetTraceParams = {
  name: 'churn',
  seed: 0x9e3779b97f4a7c15n,
  records: 5_000_000,
  live: 100_000,
  window: 512,
  youngNum: 15,
  limit: LIMIT_48,
};

export const DMA32: NetTraceParams = {
  name: 'dma32',
  seed: 0xd1b54a32d192ed03n,
  records: 2_000_000,
  live: 150_000,
  window: 512,
  youngNum: 15,
  limit: LIMIT_32,
};

/** The churn / dma32 traces (TRACES.md 2.2). */
export function generateNetTrace(p: NetTraceParams): Trace {
  const r = new Xorshift64(p.seed);
  const t = new TraceBuilder(p.records);
  const sizeOf: number[] = [];
  const young: number[] = [];
  const old: number[] = [];
  t.reservations();
  const alloc = (): void => {
    const size = netSize(r);
    const id = t.nIds++;
    sizeOf.push(size);
    t.push(OP_ALLOC, 1, size, p.limit, id);
    if (young.length === p.window) old.push(young.shift()!);
    young.push(id);
  };
  const free = (): void => {
    const c = r.rnd(16);
    let id: number;
    if ((c < p.youngNum && young.length > 0) || old.length === 0) {
      const j = r.rnd(young.length);
      id = young[j]!;
      young.splice(j, 1);
    } else {
      const j = r.rnd(old.length);
      id = old[j]!;
      old[j] = old[old.length - 1]!;
      old.pop();
    }
    t.push(OP_FREE, 0, sizeOf[id]!, id, 0);
  };
  for (let i = 0; i < p.live && t.n < p.records; i++) alloc();
  while (t.n < p.records) {
    alloc();
    if (t.n < p.records) free();
  }
  return t.done(p.name, p.seed);
}

export const FRAG_SEED = 0x2545f4914f6cdd1dn;

/** fragmenting (growth = false) and growth (with its 8 MARK records) up to `live` (TRACES.md 2.3). */
export function generateFragTrace(growth: boolean, live = 1_000_000): Trace {
  const r = new Xorshift64(FRAG_SEED);
  const t = new TraceBuilder(Math.max(16, live * 3));
  const sizeOf: number[] = [];
  const ids: number[] = [];
  let kBegin = 0;
  let kEnd = 0;
  t.reservations();
  while (ids.length < live) {
    const c = r.rnd(3);
    if (c < 2 || ids.length === 0) {
      const size = 1 + r.rnd(256);
      const id = t.nIds++;
      sizeOf.push(size);
      t.push(OP_ALLOC, 1, size, LIMIT_48, id);
      ids.push(id);
      if (growth) {
        if (kBegin <= 3 && ids.length === 8 * 10 ** (kBegin + 2)) t.push(OP_MARK, 0, kBegin++, 0, 0);
        if (kEnd <= 3 && ids.length === 10 ** (kEnd + 3)) t.push(OP_MARK, 0, kEnd++, 1, 0);
      }
    } else {
      const j = r.rnd(ids.length);
      const id = ids[j]!;
      ids[j] = ids[ids.length - 1]!;
      ids.pop();
      t.push(OP_FREE, 0, sizeOf[id]!, id, 0);
    }
  }
  return t.done(growth ? 'growth' : 'fragmenting', FRAG_SEED);
}

/** FNV-1a 64 of the records' bytes (24-byte records, header excluded), as TRACES.md's tables give it. */
export function recordBytesDigest(t: Trace): string {
  const f = new Fnv1a64();
  for (let i = 0; i < t.n; i++) {
    f.byte(t.op[i]!);
    f.byte(t.flags[i]!);
    f.u16(0);
    f.u32(t.size[i]!);
    f.u64(t.a[i]!);
    f.u64(t.b[i]!);
  }
  return f.hex();
}

/** The IOVATRC1 file bytes (64-byte header + records), e.g. for writing under bench/traces/. */
export function traceFileBytes(t: Trace): Uint8Array {
  const buf = new Uint8Array(64 + 24 * t.n);
  const v = new DataView(buf.buffer);
  'IOVATRC1'.split('').forEach((ch, i) => (buf[i] = ch.charCodeAt(0)));
  v.setUint32(8, 1, true);
  v.setUint32(12, 24, true);
  v.setBigUint64(16, BigInt(t.n), true);
  v.setBigUint64(24, BigInt(t.nIds), true);
  v.setBigUint64(32, BigInt.asUintN(64, t.seed), true);
  t.name
    .slice(0, 23)
    .split('')
    .forEach((ch, i) => (buf[40 + i] = ch.charCodeAt(0)));
  for (let i = 0; i < t.n; i++) {
    const o = 64 + 24 * i;
    buf[o] = t.op[i]!;
    buf[o + 1] = t.flags[i]!;
    v.setUint32(o + 4, t.size[i]!, true);
    v.setBigUint64(o + 8, BigInt(t.a[i]!), true);
    v.setBigUint64(o + 16, BigInt(t.b[i]!), true);
  }
  return buf;
}

export type ReplayMode = 'fast' | 'plain';

export interface ReplayOptions {
  readonly mode: ReplayMode;
  readonly impl?: IovaImpl;
  readonly profile?: KernelProfile;
  /** Clock (any unit) for the timed loop and the MARK records; see `elapsed` and `marks`. */
  readonly now?: () => number;
}

export interface ReplayResult {
  readonly allocs: number;
  readonly failures: number;
  readonly freesSkipped: number;
  /** records - MARKs: the denominator of ns/op. */
  readonly ops: number;
  /** Clock units spent in the replay loop (0 without `now`); setup and digest are outside it. */
  readonly elapsed: number;
  /** MARK timestamps by window: begin[k], end[k] (only with `now`). */
  readonly marks: { begin: number[]; end: number[] };
  /** Index of each MARK record (to count the operations inside a window). */
  readonly markRecords: { begin: number[]; end: number[] };
  /** Answers digest of TRACES.md section 4. */
  digest(): string;
}

/**
 * Replay a trace on a fresh domain (init_iova_domain(4096, 1) [+ iova_domain_init_rcaches]), TRACES.md
 * section 3. The loop itself is what a benchmark times; the digest is computed afterwards on demand.
 */
export function replayTrace(t: Trace, o: ReplayOptions): ReplayResult {
  const dom = new IovaDomain({
    granule: 4096,
    startPfn: 1,
    impl: o.impl ?? 'fast',
    ...(o.profile ? { profile: o.profile } : {}),
  });
  const fast = o.mode === 'fast';
  if (fast) dom.initRcaches();
  const pfnOf = new Float64Array(fast ? t.nIds : 0);
  const nodeOf = fast ? new Int32Array(0) : new Int32Array(t.nIds);
  const answer = new Float64Array(t.n);
  const resv: number[] = [];
  const marks = { begin: [] as number[], end: [] as number[] };
  const markRecords = { begin: [] as number[], end: [] as number[] };
  let allocs = 0;
  let failures = 0;
  let skipped = 0;
  let nMarks = 0;
  const { op, size, a, b, flags } = t;
  const tree = dom.tree;
  const t0 = o.now ? o.now() : 0;
  for (let i = 0; i < t.n; i++) {
    switch (op[i]) {
      case OP_ALLOC: {
        allocs++;
        const id = b[i]!;
        let pfn: number;
        if (fast) pfn = dom.allocIovaFast(size[i]!, a[i]!, true);
        else {
          const h = tree.allocIova(size[i]!, a[i]!, (flags[i]! & 1) === 1);
          nodeOf[id] = h;
          pfn = h === 0 ? 0 : tree.pfnLo(h);
        }
        if (pfn === 0) failures++;
        if (fast) pfnOf[id] = pfn;
        answer[i] = pfn;
        break;
      }
      case OP_FREE: {
        const id = a[i]!;
        // plain mode keeps only the node handle per id (0 = the ALLOC failed): one lookup per FREE
        if (fast) {
          const pfn = pfnOf[id]!;
          if (pfn === 0) skipped++;
          else dom.freeIovaFast(pfn, size[i]!);
        } else {
          const h = nodeOf[id]!;
          if (h === 0) skipped++;
          else tree.freeIovaNode(h);
        }
        break;
      }
      case OP_RESERVE: {
        const h = tree.reserveIova(a[i]!, b[i]!);
        resv.push(h === 0 ? 0 : tree.pfnLo(h), h === 0 ? 0 : tree.pfnHi(h));
        break;
      }
      case OP_MARK: {
        nMarks++;
        const k = size[i]!;
        if (a[i] === 0) {
          markRecords.begin[k] = i;
          if (o.now) marks.begin[k] = o.now();
        } else {
          markRecords.end[k] = i;
          if (o.now) marks.end[k] = o.now();
        }
        break;
      }
    }
  }
  const elapsed = o.now ? o.now() - t0 : 0;
  return {
    allocs,
    failures,
    freesSkipped: skipped,
    ops: t.n - nMarks,
    elapsed,
    marks,
    markRecords,
    digest(): string {
      const f = new Fnv1a64();
      let r = 0;
      for (let i = 0; i < t.n; i++) {
        if (op[i] === OP_ALLOC) f.u64(answer[i]!);
        else if (op[i] === OP_RESERVE) {
          f.u64(resv[r++]!);
          f.u64(resv[r++]!);
        }
      }
      return f.hex();
    },
  };
}
