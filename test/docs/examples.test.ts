/**
 * The documentation's examples run: every ```js block of README.md and docs/*.md is run as an ES module
 * (its `from 'iovamap'` pointed at the built package entry) and must print exactly the ```text block
 * that follows it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const entry = pathToFileURL(join(root, 'dist/src/index.js')).href;

interface Example {
  readonly file: string;
  readonly line: number;
  readonly code: string;
  readonly expected: string | undefined;
}

/** The ```js blocks of a Markdown text, each with the ```text block right after it (if any). */
function examplesOf(file: string, text: string): Example[] {
  const fence = /^```(\w*)\n([\s\S]*?)^```\s*$/gm;
  const blocks: { lang: string; body: string; line: number }[] = [];
  for (let m = fence.exec(text); m !== null; m = fence.exec(text))
    blocks.push({ lang: m[1]!, body: m[2]!, line: text.slice(0, m.index).split('\n').length });
  const out: Example[] = [];
  blocks.forEach((b, i) => {
    if (b.lang !== 'js') return;
    const next = blocks[i + 1];
    out.push({ file, line: b.line, code: b.body, expected: next?.lang === 'text' ? next.body : undefined });
  });
  return out;
}

const docs = ['README.md', ...readdirSync(join(root, 'docs')).map((f) => `docs/${f}`)].filter((f) =>
  f.endsWith('.md'),
);
const examples = docs.flatMap((f) => examplesOf(f, readFileSync(join(root, f), 'utf8')));

test('the docs have runnable examples (docs/library.md at least)', () => {
  assert.ok(examples.filter((e) => e.file === 'docs/library.md').length >= 4);
});

for (const ex of examples) {
  test(`${ex.file}:${ex.line}: the example runs and prints what the docs show`, () => {
    assert.notEqual(ex.expected, undefined, 'a ```text block with the output must follow the example');
    const dir = mkdtempSync(join(tmpdir(), 'iovamap-doc-'));
    try {
      const file = join(dir, 'example.mjs');
      writeFileSync(file, ex.code.replace(/from 'iovamap'/g, `from '${entry}'`));
      const out = execFileSync(process.execPath, [file], { encoding: 'utf8' });
      assert.equal(out, ex.expected);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('every file or folder the docs name (`src/...`, `test/...`, `bench/...`, ...) exists', () => {
  const missing: string[] = [];
  for (const f of docs) {
    const text = readFileSync(join(root, f), 'utf8');
    for (const m of text.matchAll(/`((?:src|test|bench|scripts|presets|scenarios|docs)\/[^`\s]+)`/g)) {
      const p = m[1]!.replace(/[:(].*$/, '');
      if (/[*{}<>]|NN/.test(p)) continue; // patterns and placeholders
      if (!existsSync(join(root, p))) missing.push(`${f}: ${p}`);
    }
  }
  assert.deepEqual(missing, []);
});
