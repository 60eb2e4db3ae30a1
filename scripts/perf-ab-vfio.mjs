// Paired A/B comparison of two builds of the whole VFIO type1 MAP_DMA + UNMAP_DMA ioctl path (bytes in,
// bytes out) with 10^3 and 10^6 live mappings, as `npm run bench -- vfio-type1` measures it. See
// perf-ab-iova.mjs for the method.
// usage: node scripts/perf-ab-vfio.mjs DIR_A DIR_B [rounds]
import { abArgs, importBuilt, median } from './perf-ab-common.mjs';

const [dirA, dirB, rounds] = abArgs('perf-ab-vfio.mjs', 9);
const mods = [
  await importBuilt(dirA, 'dist/bench/vfio-type1.js'),
  await importBuilt(dirB, 'dist/bench/vfio-type1.js'),
];
const sizes = [1000, 1_000_000];
const systems = mods.map((m) =>
  sizes.map((live) => {
    const s = m.setup(live + 16);
    m.fill(s.sys, s.c, live);
    m.pairs(s.sys, s.c, live, 20_000);
    return s;
  }),
);
const per = [0, 1].map(() => sizes.map(() => []));
for (let r = 0; r < rounds; r++) {
  for (const v of r & 1 ? [1, 0] : [0, 1]) {
    sizes.forEach((live, k) => {
      const { sys, c } = systems[v][k];
      per[v][k].push(mods[v].pairs(sys, c, live, 200_000)[1]);
    });
  }
}
for (const v of [0, 1]) {
  const m = per[v].map(median);
  console.log(
    `${v ? 'B' : 'A'}: ${m.map((x) => x.toFixed(0)).join(' / ')} ns per pair, ratio ${(m[1] / m[0]).toFixed(2)}`,
  );
}
sizes.forEach((live, k) => {
  const d = per[1][k].map((b, i) => b - per[0][k][i]).sort((x, y) => x - y);
  console.log(
    `${live} live, B - A per round: median ${median(d).toFixed(0)} ns, range ${d[0].toFixed(0)}..${d[d.length - 1].toFixed(0)}`,
  );
});
