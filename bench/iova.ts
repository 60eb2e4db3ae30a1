/**
 * IOVA allocator benchmarks: replays of the TRACES.md traces (/work/shared/perf/TRACES.md section 3)
 * through the fast IovaDomain, with the native kernel figures next to ours. Times are measured as this
 * process's CPU time (user + system; the machine is shared, so wall time mostly measures the other
 * processes) and wall time is printed alongside. A "pair" is one alloc + one free: pairs/s = ops/s / 2.
 */
import { dependentLoadNs, type Benchmark, type Figure } from './harness.js';
import { kernelProfile } from '../src/kernel/profile.js';
import {
  CHURN,
  DMA32,
  generateFragTrace,
  generateNetTrace,
  replayTrace,
  type ReplayMode,
  type ReplayResult,
  type Trace,
} from '../src/iova/trace.js';

/** CPU time of this process in ns. */
function cpuNs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

function wallNs(): number {
  return Number(process.hrtime.bigint());
}

interface Run {
  readonly r: ReplayResult;
  readonly cpuPerOp: number;
  readonly wallPerOp: number;
}

/** `reps` replays; the run with the median CPU ns/op. */
function replayMedian(t: Trace, mode: ReplayMode, reps: number): Run {
  const runs: Run[] = [];
  for (let i = 0; i < reps; i++) {
    const w0 = wallNs();
    const r = replayTrace(t, { mode, profile: kernelProfile('6.1'), now: cpuNs });
    const w = wallNs() - w0;
    runs.push({ r, cpuPerOp: r.elapsed / r.ops, wallPerOp: w / r.ops });
  }
  runs.sort((a, b) => a.cpuPerOp - b.cpuPerOp);
  return runs[Math.floor(runs.length / 2)]!;
}

function fig(name: string, value: number, unit: string, target?: string, met?: boolean): Figure {
  return target === undefined
    ? { name, value, unit }
    : { name, value, unit, target, ...(met === undefined ? {} : { met }) };
}

const churn: Benchmark = {
  name: 'iova-churn',
  run({ quick, log }) {
    // The whole trace even in quick mode: a prefix would be dominated by the initial 10^5-node fill.
    const t = generateNetTrace(CHURN);
    replayTrace(t, { mode: 'fast' }); // JIT warm-up
    const m = replayMedian(t, 'fast', quick ? 1 : 5);
    const pairs = 1e9 / m.cpuPerOp / 2;
    log(
      `churn fast: ${t.n} records, ${m.r.failures} failures, digest ${m.r.digest()}, wall ${m.wallPerOp.toFixed(1)} ns/op`,
    );
    return [
      fig('churn fast ns/op (cpu)', m.cpuPerOp, 'ns/op'),
      fig('churn fast ns/op (wall, shared machine)', m.wallPerOp, 'ns/op'),
      fig('churn fast: kernel 6.1 native', 7.75, 'ns/op'),
      fig('churn fast pairs/s (cpu)', pairs, 'pairs/s', '>= 5e6', pairs >= 5e6),
      fig('churn fast failures', m.r.failures, 'allocs'),
    ];
  },
};

const dma32: Benchmark = {
  name: 'iova-dma32',
  run({ quick, log }) {
    const t = generateNetTrace(DMA32);
    const f = replayMedian(t, 'fast', quick ? 1 : 3);
    const p = replayMedian(t, 'plain', 1);
    log(
      `dma32 fast: digest ${f.r.digest()}, frees skipped ${f.r.freesSkipped}, wall ${f.wallPerOp.toFixed(1)} ns/op`,
    );
    log(
      `dma32 plain: digest ${p.r.digest()}, frees skipped ${p.r.freesSkipped}, wall ${p.wallPerOp.toFixed(1)} ns/op`,
    );
    return [
      fig('dma32 fast ns/op (cpu)', f.cpuPerOp, 'ns/op'),
      fig('dma32 fast: kernel 6.1 native', 9900, 'ns/op'),
      fig('dma32 fast failures', f.r.failures, 'allocs', '= 19042 (kernel)', f.r.failures === 19_042),
      fig('dma32 plain ns/op (cpu)', p.cpuPerOp, 'ns/op'),
      fig('dma32 plain: kernel 6.1 native', 86_000, 'ns/op'),
      fig('dma32 plain failures', p.r.failures, 'allocs', '= 10287 (kernel)', p.r.failures === 10_287),
    ];
  },
};

const NATIVE_WINDOW = ['427 ns', '4.3 us', '131 us', 'not finished'];

/** Per-op CPU ns of each growth window in one replay. */
function windowCosts(r: ReplayResult): number[] {
  const out: number[] = [];
  for (let k = 0; k < r.markRecords.end.length; k++) {
    const ops = r.markRecords.end[k]! - r.markRecords.begin[k]! - 1;
    out.push((r.marks.end[k]! - r.marks.begin[k]!) / ops);
  }
  return out;
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const growth: Benchmark = {
  name: 'iova-growth',
  run({ quick, log }) {
    // Windows 10^3..10^5 from repeated 10^5-live prefixes, the median per window (the 10^3 window is
    // only 576 operations, so one run is noisy; the first run only warms the JIT); window 10^6 from the
    // median of three full runs. The full runs are interleaved with the prefix runs (three prefixes, a
    // full run, ...), so that a change in the machine's other load falls on both sides of the ratio.
    const prefix = generateFragTrace(true, 100_000);
    const full = quick ? undefined : generateFragTrace(true, 1_000_000);
    const rounds = quick ? 1 : 3;
    const perRound = quick ? 3 : 4;
    const per: number[][] = [[], [], []];
    const w3s: number[] = [];
    const floor: number[] = [];
    let digest = '';
    replayTrace(prefix, { mode: 'plain', now: cpuNs });
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < perRound; i++) {
        const r = replayTrace(prefix, { mode: 'plain', now: cpuNs });
        digest = r.digest();
        windowCosts(r).forEach((ns, k) => per[k]!.push(ns));
      }
      if (full) {
        const r = replayTrace(full, { mode: 'plain', now: cpuNs });
        w3s.push(windowCosts(r)[3]!);
        floor.push(dependentLoadNs(64 << 20));
        if (round === 0)
          log(
            `growth plain to 10^6 live: digest ${r.digest()}, ${(r.elapsed / r.ops).toFixed(1)} cpu ns/op overall`,
          );
      }
    }
    const w = per.map(median);
    log(`growth plain, 10^5-live prefix x${rounds * perRound}: digest ${digest}`);
    log(`growth window 10^3: median of ${per[0]!.map((v) => v.toFixed(0)).join(' / ')} ns/op`);
    const figs: Figure[] = w.map((ns, k) =>
      fig(`growth window 10^${k + 3} live ns/op (cpu; kernel ${NATIVE_WINDOW[k]})`, ns, 'ns/op'),
    );
    if (full) {
      const w3 = median(w3s);
      log(`growth window 10^6: median of ${w3s.map((v) => v.toFixed(0)).join(' / ')} ns/op`);
      figs.push(fig(`growth window 10^6 live ns/op (cpu; kernel ${NATIVE_WINDOW[3]})`, w3, 'ns/op'));
      const ratio = w3 / w[0]!;
      // A third of the operations free a random one of 10^6 live nodes, whose record no cache holds:
      // that miss alone adds a third of the memory latency to the average operation.
      const miss = median(floor);
      log(
        `memory: a dependent load at a random line of 64 MiB costs ${miss.toFixed(0)} ns here now (per round ` +
          `${floor.map((f) => f.toFixed(0)).join(' / ')}); one miss per free alone gives a ratio of ` +
          `${((w[0]! + miss / 3) / w[0]!).toFixed(2)} at this 10^3 cost`,
      );
      figs.push(fig('dependent load in 64 MiB (memory latency, now)', miss, 'ns'));
      figs.push(fig('growth per-op cost 10^6 / 10^3', ratio, 'x', '<= 2', ratio <= 2));
    }
    return figs;
  },
};

const fragmenting: Benchmark = {
  name: 'iova-fragmenting',
  run({ quick, log }) {
    const live = quick ? 100_000 : 1_000_000;
    const t = generateFragTrace(false, live);
    const m = replayMedian(t, 'plain', 1);
    const pairs = 1e9 / m.cpuPerOp / 2;
    log(`fragmenting plain to ${live} live: digest ${m.r.digest()}, wall ${m.wallPerOp.toFixed(1)} ns/op`);
    return [
      fig(`fragmenting to 10^${Math.log10(live)} live ns/op (cpu)`, m.cpuPerOp, 'ns/op'),
      fig('fragmenting: kernel 6.1 native (not finished after)', 20, 'min'),
      quick
        ? fig('fragmenting pairs/s (cpu, 10^5 live; target is at 10^6)', pairs, 'pairs/s')
        : fig('fragmenting pairs/s at 10^6 live (cpu)', pairs, 'pairs/s', '>= 5e5', pairs >= 5e5),
    ];
  },
};

export const IOVA_BENCHMARKS: Benchmark[] = [churn, dma32, growth, fragmenting];
