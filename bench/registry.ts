/** Every benchmark `npm run bench` knows. Add one import and one list line per benchmark. */
import type { Benchmark } from './harness.js';
import { iommuDomainBench } from './iommu-domain.js';
import { vfioType1Bench } from './vfio-type1.js';
import { msiPathBench } from './msi-path.js';
import { vmmBenchmark } from './vmm.bench.js';
import { webSceneBenchmark } from './web-scene.js';
import { IOVA_BENCHMARKS } from './iova.js';
import { iommufdBench } from './iommufd.js';

export const BENCHMARKS: Benchmark[] = [
  iommuDomainBench,
  msiPathBench,
  vmmBenchmark,
  webSceneBenchmark,
  vfioType1Bench,
  iommufdBench,
  ...IOVA_BENCHMARKS,
];
