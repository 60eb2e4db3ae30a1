/** Every benchmark `npm run bench` knows. Add yours here. */
import type { Benchmark } from './harness.js';
import { iommuDomainBench } from './iommu-domain.js';
import { vfioType1Bench } from './vfio-type1.js';

export const BENCHMARKS: Benchmark[] = [];
BENCHMARKS.push(iommuDomainBench);
BENCHMARKS.push(vfioType1Bench);
