/**
 * A small benchmark harness: each benchmark reports named figures; `npm run bench` prints them as a
 * table and writes bench-results.json. Benchmarks measure; they never assert (tests do that).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface Figure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  /** Target from an issue, for the report (e.g. ">= 5e6"). */
  readonly target?: string;
  readonly met?: boolean;
}

export interface Benchmark {
  readonly name: string;
  run(opts: { quick: boolean; log: (s: string) => void }): Promise<Figure[]> | Figure[];
}

/** Median of `reps` timings of `fn` in nanoseconds. */
export function medianNs(reps: number, fn: () => void): number {
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    times.push(Number(process.hrtime.bigint() - t0));
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

/**
 * A full garbage collection now. For memory figures only: before a timed region it would also throw
 * away compiled code and make the first operations after it look slow.
 */
export function gcNow(): void {
  setFlagsFromString('--expose_gc');
  const gc = runInNewContext('gc') as (() => void) | undefined;
  gc?.();
  gc?.();
}

/** Chains of random cache lines, by size in bytes (built once: building one is slower than walking it). */
const chains = new Map<number, Int32Array>();

/**
 * CPU nanoseconds of one dependent load at a random 64-byte line of a `bytes` buffer (a pointer chase
 * through one random cycle over all its lines, fixed seed): the machine's memory latency at
 * that working-set size, now. Benchmarks whose cost grows with their data print it beside their ratios:
 * an operation that must read one line no cache holds cannot cost less than this more.
 */
export function dependentLoadNs(bytes: number, steps = 1_000_000): number {
  let a = chains.get(bytes);
  if (a === undefined) {
    const lines = Math.max(2, Math.floor(bytes / 64));
    a = new Int32Array(lines * 16);
    const order = new Int32Array(lines);
    for (let i = 0; i < lines; i++) order[i] = i;
    let x = 0x9e3779b9;
    for (let i = lines - 1; i > 0; i--) {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      const j = x % i;
      const t = order[i]!;
      order[i] = order[j]!;
      order[j] = t;
    }
    for (let i = 0; i < lines; i++) a[order[i]! * 16] = order[(i + 1) % lines]! * 16;
    chains.set(bytes, a);
  }
  let p = 0;
  for (let i = 0; i < 10000; i++) p = a[p]!;
  const c0 = process.cpuUsage();
  for (let i = 0; i < steps; i++) p = a[p]!;
  const c = process.cpuUsage(c0);
  if (p < 0) throw new Error('unreachable');
  return ((c.user + c.system) * 1000) / steps;
}
