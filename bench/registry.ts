/** Every benchmark `npm run bench` knows. Add yours here. */
import type { Benchmark } from './harness.js';
import { webSceneBenchmark } from './web-scene.js';

export const BENCHMARKS: Benchmark[] = [webSceneBenchmark];
