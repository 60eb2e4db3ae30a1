import { test } from 'node:test';
import assert from 'node:assert/strict';
import { table } from '../../src/cli/output.js';

test('table aligns columns', () => {
  assert.equal(table(['A', 'BB'], [['xyz', '1']], 'lr'), 'A    BB\n---  --\nxyz   1\n');
});

test('table renders any number of rows (no argument-spread limit: a 200000-line reserved_regions)', () => {
  const rows = Array.from({ length: 200_000 }, (_, i) => [String(i), 'msi']);
  const out = table(['N', 'TYPE'], rows);
  assert.equal(out.split('\n').length, 200_003);
  assert.ok(out.startsWith('N       TYPE\n------  ----\n0       msi\n'));
});
