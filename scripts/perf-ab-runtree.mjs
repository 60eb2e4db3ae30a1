// Paired A/B comparison of two builds of RunTree (the B+ tree under MappingStore and VFIO type1's
// vfio_dma records): floorToModify + insert + remove at random keys among 10^3 and 10^6 records, the way
// a MAP_DMA + UNMAP_DMA pair uses it. See perf-ab-iova.mjs for the method.
// usage: node scripts/perf-ab-runtree.mjs DIR_A DIR_B [rounds]
import { abArgs, cpuNs, importBuilt, median } from './perf-ab-common.mjs';

const [dirA, dirB, rounds] = abArgs('perf-ab-runtree.mjs', 21);
const load = async (d) => (await importBuilt(d, 'dist/src/iommu/mapping-store.js')).RunTree;
const trees = [await load(dirA), await load(dirB)];
const sizes = [1000, 1_000_000];
const build = (RunTree, n) => {
  const t = new RunTree(5);
  for (let i = 0; i < n; i++) t.insert(2 * i, 2 * i, i, 3, 7);
  return t;
};
const run = (t, n, count) => {
  let x = 12345;
  let acc = 0;
  const c0 = cpuNs();
  for (let i = 0; i < count; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const k = (x - Math.floor(x / n) * n) * 2 + 1;
    acc += t.floorToModify(k);
    t.insert(k, k, 1, 3, 7);
    t.remove(k);
  }
  return (cpuNs() - c0) / count + acc * 0;
};
const built = trees.map((T) => sizes.map((n) => build(T, n)));
sizes.forEach((n, i) => {
  const a = [];
  const b = [];
  const d = [];
  for (let r = 0; r < rounds; r++) {
    const v = [0, 0];
    for (const o of r & 1 ? [1, 0] : [0, 1]) v[o] = run(built[o][i], n, 100_000);
    a.push(v[0]);
    b.push(v[1]);
    d.push(v[1] - v[0]);
  }
  const s = [...d].sort((x, y) => x - y);
  console.log(
    `${n} records: A ${median(a).toFixed(0)} ns, B ${median(b).toFixed(0)} ns, B - A median ${median(d).toFixed(1)} ns ` +
      `(quartiles ${s[rounds >> 2].toFixed(0)}..${s[(3 * rounds) >> 2].toFixed(0)})`,
  );
});
