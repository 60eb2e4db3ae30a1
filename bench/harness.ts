/**
 * A small benchmark harness: each benchmark reports named figures; `npm run bench` prints them as a
 * table and writes bench-results.json. Benchmarks measure; they never assert (tests do that).
 */
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
