/**
 * docs/check-json.md stays true: every top-level field its tables list is in the output of check and
 * plan, and the output has no field the tables leave out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runCli } from './run-cli.js';

const DOC = readFileSync(fileURLToPath(new URL('../../../docs/check-json.md', import.meta.url)), 'utf8');

/** The field names of the table under `## heading`, top level only (`groups[]` -> `groups`). */
function documented(heading: string): string[] {
  const part = DOC.split(/^## /m).find((s) => s.startsWith(heading))!;
  return [...part.matchAll(/^\| `([a-zA-Z]+)(?:\[\])?` \|/gm)].map((m) => m[1]!);
}

test('check --json has exactly the documented fields, with the schema name', () => {
  const r = runCli(
    'check --vmm qemu --memory 8G --platform qemu-q35-intel-iommu --device 00:01.0 --memlock 4G --json'.split(
      ' ',
    ),
  );
  assert.equal(r.status, 1, r.stderr);
  const j = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.equal(j['schema'], 'iovamap-check/1');
  assert.deepEqual(Object.keys(j).sort(), documented('check').sort());
  const refused = (j['memlock'] as { refused: Record<string, unknown> }).refused;
  for (const k of [
    'container',
    'device',
    'group',
    'range',
    'chargedBefore',
    'vfio',
    'kernelLog',
    'vmmPrints',
    'effect',
    'fix',
  ])
    assert.ok(k in refused, k);
});

test('plan --json has exactly the documented fields, with the schema name', () => {
  const r = runCli(
    'plan --vmm qemu --memory 16G --platform qemu-q35-intel-iommu --memlock 8G --json'.split(' '),
  );
  assert.equal(r.status, 1, r.stderr);
  const j = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.equal(j['schema'], 'iovamap-plan/1');
  assert.match(
    j['why'] as string,
    /^16 GiB does not fit RLIMIT_MEMLOCK: VFIO would refuse RAM above 4 GiB with ENOMEM/,
  );
  assert.deepEqual(Object.keys(j).sort(), documented('plan').sort());
  assert.deepEqual(Object.keys(j['largest'] as object).sort(), [
    'changed',
    'commandLine',
    'kind',
    'layout',
    'memory',
    'options',
    'vmm',
    'why',
  ]);
});
