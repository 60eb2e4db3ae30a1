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

test('kstrtouint and kstrtobool as the kernel parses them (checked in conformance/golden params.iovx)', () => {
  const p = defaultType1Params();
  const limit = (t: string): number | string => {
    const rc = writeType1Param(p, 'dma_entry_limit', t);
    return rc < 0 ? rc : readType1Param(p, 'dma_entry_limit').trim();
  };
  assert.equal(limit('+16'), '16');
  assert.equal(limit('0X20'), '32');
  assert.equal(limit('010'), '8');
  assert.equal(limit('7\n'), '7');
  assert.equal(limit('+0x10'), '16');
  for (const bad of ['0x', '08', '-1', '1a', ' 5', '5 ', '5\n\n', '', '+'])
    assert.equal(limit(bad), -ERRNO.EINVAL, JSON.stringify(bad));
  assert.equal(limit('4294967296'), -ERRNO.ERANGE);
  assert.equal(limit('99999999999999999999999'), -ERRNO.ERANGE);
  assert.equal(limit('99999999999999999999999x'), -ERRNO.ERANGE, 'overflow is found before the junk');
  assert.equal(limit('4294967296x'), -ERRNO.EINVAL, 'u32 range is checked last');
  const unsafe = (t: string): number | string => {
    const rc = writeType1Param(p, 'allow_unsafe_interrupts', t);
    return rc < 0 ? rc : readType1Param(p, 'allow_unsafe_interrupts').trim();
  };
  for (const y of ['true', 'Yellow', '1xyz', 'on', 'enable', 'E']) assert.equal(unsafe(y), 'Y', y);
  for (const n of ['false', 'disable', 'oFF', 'n', '0']) assert.equal(unsafe(n), 'N', n);
  for (const bad of ['o', '2', '', ' y']) assert.equal(unsafe(bad), -ERRNO.EINVAL, JSON.stringify(bad));
});
