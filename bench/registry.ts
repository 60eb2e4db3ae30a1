/** Every benchmark `npm run bench` knows. Add yours here. */
import type { Benchmark } from './harness.js';
import { iommuDomainBench } from './iommu-domain.js';

export const BENCHMARKS: Benchmark[] = [];
BENCHMARKS.push(iommuDomainBench);
