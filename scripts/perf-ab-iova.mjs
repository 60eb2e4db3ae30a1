// Paired A/B comparison of two builds of the IOVA allocator on the growth trace (see docs/performance.md).
// usage: node scripts/perf-ab-iova.mjs DIR_A DIR_B [rounds]
// DIR_A and DIR_B each hold a built tree (their dist/), e.g. a copy of dist/ taken before a change and
// the working tree after `npm run build`. Both builds run in this process, in alternating order per
// round, so that the machine's other load falls on both alike; the figure to judge is the median of
// the per-round differences of the 10^6 window.
import { abArgs, cpuNs, importBuilt, median } from './perf-ab-common.mjs';

const [dirA, dirB, rounds] = abArgs('perf-ab-iova.mjs', 5);
const load = (d) => importBuilt(d, 'dist/src/iova/trace.js');
const mods = [await load(dirA), await load(dirB)];
const full = mods[0].generateFragTrace(true, 1_000_000);
const prefix = mods[0].generateFragTrace(true, 100_000);
const windows = (r) =>
  r.markRecords.end.map((e, k) => (r.marks.end[k] - r.marks.begin[k]) / (e - r.markRecords.begin[k] - 1));
for (const m of mods) for (let i = 0; i < 3; i++) m.replayTrace(prefix, { mode: 'plain', now: cpuNs });
const small = [
  [[], [], []],
  [[], [], []],
];
const big = [[], []];
for (let r = 0; r < rounds; r++) {
  for (const v of r & 1 ? [1, 0] : [0, 1]) {
    for (let j = 0; j < 3; j++) {
      windows(mods[v].replayTrace(prefix, { mode: 'plain', now: cpuNs })).forEach((ns, k) =>
        small[v][k].push(ns),
      );
    }
    big[v].push(windows(mods[v].replayTrace(full, { mode: 'plain', now: cpuNs }))[3]);
  }
}
for (const v of [0, 1]) {
  const w = [...small[v].map(median), median(big[v])];
  console.log(
    `${v ? 'B' : 'A'}: windows ${w.map((x) => x.toFixed(0)).join(' / ')} ns/op, ratio ${(w[3] / w[0]).toFixed(2)}`,
  );
}
const d = big[1].map((b, i) => b - big[0][i]).sort((x, y) => x - y);
console.log(
  `10^6 window, B - A per round: median ${median(d).toFixed(0)} ns/op, range ${d[0].toFixed(0)}..${d[d.length - 1].toFixed(0)}`,
);
