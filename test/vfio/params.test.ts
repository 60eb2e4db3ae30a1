import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ERRNO } from '../../src/base/errno.js';
import { readType1Param, writeType1Param } from '../../src/vfio/params.js';
import { defaultType1Params } from '../../src/vfio/type1/type1.js';
import { stepOps } from '../../src/scenario/registry.js';
import '../../src/scenario/parse.js';

test('module parameters read and write like sysfs', () => {
  const p = defaultType1Params();
  assert.equal(readType1Param(p, 'allow_unsafe_interrupts'), 'N\n');
  assert.equal(readType1Param(p, 'dma_entry_limit'), '65535\n');
  assert.equal(writeType1Param(p, 'allow_unsafe_interrupts', '1\n'), 0);
  assert.equal(readType1Param(p, 'allow_unsafe_interrupts'), 'Y\n');
  assert.equal(writeType1Param(p, 'disable_hugepages', 'maybe'), -ERRNO.EINVAL);
  assert.equal(writeType1Param(p, 'dma_entry_limit', '16\n'), 0);
  assert.equal(p.dmaEntryLimit, 16);
  assert.equal(writeType1Param(p, 'dma_entry_limit', '-1'), -ERRNO.EINVAL);
  assert.equal(writeType1Param(p, 'dma_entry_limit', '4294967296'), -ERRNO.ERANGE);
});

test('docs/scenario-format.md documents every registered step', () => {
  const doc = readFileSync(new URL('../../../docs/scenario-format.md', import.meta.url), 'utf8');
  for (const op of stepOps()) assert.match(doc, new RegExp(`^### ${op}$`, 'm'), op);
});
