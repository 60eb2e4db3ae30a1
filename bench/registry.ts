/** Every benchmark `npm run bench` knows. Add yours here. */
import type { Benchmark } from './harness.js';

export const BENCHMARKS: Benchmark[] = [];
