/**
 * Node-only: writes the compiled scenarios of the suite into conformance/scenarios/ (used by
 * `npm run conformance:kernel` before booting the machines). `--check` only verifies that the files
 * on disk are exactly what the generators produce (exit 1 otherwise).
 */

import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { suiteFiles } from '../suite.js';

export function writeScenarios(root: string, check: boolean): string[] {
  const dir = join(root, 'conformance', 'scenarios');
  const problems: string[] = [];
  const files = suiteFiles();
  const wanted = new Set(files.map((f) => f.path));
  for (const f of files) {
    const p = join(dir, f.path);
    const cur = existsSync(p) ? readFileSync(p, 'utf8') : undefined;
    if (cur === f.text) continue;
    if (check) problems.push(`${f.path}: ${cur === undefined ? 'missing' : 'differs from the generator'}`);
    else {
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, f.text);
    }
  }
  if (existsSync(dir)) {
    for (const sub of readdirSync(dir)) {
      for (const name of readdirSync(join(dir, sub))) {
        const rel = `${sub}/${name}`;
        if (wanted.has(rel)) continue;
        if (check) problems.push(`${rel}: not produced by the generator`);
        else rmSync(join(dir, rel));
      }
    }
  }
  return problems;
}

if (process.argv[1] && process.argv[1].endsWith('write-scenarios.js')) {
  const check = process.argv.includes('--check');
  const problems = writeScenarios(process.cwd(), check);
  for (const p of problems) console.error(p);
  if (problems.length) process.exit(1);
  console.log(check ? 'conformance scenarios are up to date' : 'conformance scenarios written');
}
