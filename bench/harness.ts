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
