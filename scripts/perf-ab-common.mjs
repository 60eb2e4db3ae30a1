// Shared by the perf-ab-*.mjs scripts: their arguments, a CPU-time clock and a median.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** [dirA, dirB, rounds] from the command line, or a usage line and exit 2. */
export function abArgs(script, defaultRounds) {
  const [dirA, dirB, rounds] = process.argv.slice(2);
  if (!dirA || !dirB || (rounds !== undefined && !(Number(rounds) >= 1))) {
    console.error(`usage: node scripts/${script} DIR_A DIR_B [rounds >= 1]`);
    process.exit(2);
  }
  return [dirA, dirB, rounds === undefined ? defaultRounds : Number(rounds)];
}

/** Imports `rel` (e.g. dist/src/iova/trace.js) from a built tree, naming the directory if it has none. */
export async function importBuilt(dir, rel) {
  try {
    return await import(pathToFileURL(resolve(dir, rel)).href);
  } catch (e) {
    console.error(`${dir}: no built ${rel} (run npm run build there): ${e instanceof Error ? e.message : e}`);
    process.exit(2);
  }
}

/** This process's CPU time in nanoseconds. */
export function cpuNs() {
  const c = process.cpuUsage();
  return (c.user + c.system) * 1000;
}

export function median(a) {
  return [...a].sort((x, y) => x - y)[a.length >> 1];
}
