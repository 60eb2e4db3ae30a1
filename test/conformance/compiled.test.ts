import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CompiledWriter, formatCompiled, parseCompiled } from '../../src/conformance/compiled.js';
import { InputError } from '../../src/base/errors.js';

test('compiled scenarios round-trip through parse and format', () => {
  const text =
    'format compact\nsection s\nmap m1 flags=3 iova=0x100000 size=0x1000 vaddr=buf+0x0\nget_info g1 argsz=last dump=1\n';
  const stmts = parseCompiled(text, 'x.iovx');
  assert.equal(stmts.length, 4);
  assert.equal(formatCompiled(stmts), text);
  const op = stmts[2]!;
  assert.equal(op.kind, 'op');
  if (op.kind === 'op') {
    assert.equal(op.op, 'map');
    assert.equal(op.fields.get('iova'), '0x100000');
    assert.equal(op.line, 3);
  }
});

test('comments and blank lines are skipped; line numbers stay those of the file', () => {
  const stmts = parseCompiled('# hello\n\nopen_container c\n', 'x.iovx');
  assert.deepEqual(
    stmts.map((s) => s.line),
    [3],
  );
});

test('bad input names file, line and field', () => {
  const bad: [string, RegExp][] = [
    ['frobnicate x\n', /x\.iovx:1: unknown operation 'frobnicate'/],
    ['map m iova=0x1000\n', /x\.iovx:1: size: map needs field 'size'/],
    ['open_container c\nmap m iova=zz size=1\n', /x\.iovx:2: iova: field 'iova': 'zz' is not a number/],
    ['unmap u color=3\n', /x\.iovx:1: color: unmap has no field 'color'/],
    ['format loud\n', /format must be full or compact/],
    ['map m iova=1 iova=2 size=1\n', /given twice/],
  ];
  for (const [text, re] of bad) {
    assert.throws(
      () => parseCompiled(text, 'x.iovx'),
      (e: unknown) => e instanceof InputError && re.test(e.message),
      text,
    );
  }
});

test('the writer prints bigints as hex and keeps field order', () => {
  const w = new CompiledWriter()
    .directive('format', 'full')
    .op('unmap', 'u', { flags: 2, iova: 0xfee00000n, size: 0n });
  assert.equal(w.text(), 'format full\nunmap u flags=2 iova=0xfee00000 size=0x0\n');
  assert.equal(w.count, 2);
});
