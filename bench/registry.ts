/** Every benchmark `npm run bench` knows. Add yours here. */
import type { Benchmark } from './harness.js';
import { iommuDomainBench } from './iommu-domain.js';
import { IOVA_BENCHMARKS } from './iova.js';

export const BENCHMARKS: Benchmark[] = [];
BENCHMARKS.push(iommuDomainBench);
BENCHMARKS.push(...IOVA_BENCHMARKS);
