/**
 * ARCHITECTURE.md stays one page and current: every folder under src/ is in it, and every folder or file
 * it names (in backticks) exists.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const doc = readFileSync(join(root, 'ARCHITECTURE.md'), 'utf8');

test('ARCHITECTURE.md names every folder of src/', () => {
  const dirs = readdirSync(join(root, 'src')).filter((d) => statSync(join(root, 'src', d)).isDirectory());
  const missing = dirs.filter((d) => !doc.includes(`\`src/${d}/`));
  assert.deepEqual(missing, [], `folders of src/ not in ARCHITECTURE.md: ${missing.join(', ')}`);
});

test('every path ARCHITECTURE.md names exists', () => {
  const paths = [
    ...doc.matchAll(/`((?:src|bench|scripts|docs|test|conformance|presets|scenarios)\/[^`*{}]*)`/g),
  ]
    .map((m) => m[1]!)
    .filter((p) => !p.includes('<'));
  assert.ok(paths.length > 10, 'the table names the folders');
  const gone = paths.filter((p) => !existsSync(join(root, p)));
  assert.deepEqual(gone, [], `named in ARCHITECTURE.md but absent: ${gone.join(', ')}`);
});

test('ARCHITECTURE.md is one page', () => {
  assert.ok(doc.split('\n').length <= 60, 'at most 60 lines');
  assert.ok(doc.length <= 6000, 'at most ~6000 characters');
});
