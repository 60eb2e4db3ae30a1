import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '../../src/base/errors.js';
import { groupFromPath, hostViewFromRegions } from '../../src/vmm/regions-host.js';
import { fixtureText } from './fixtures.js';

test('a reserved_regions dump becomes a group whose usable ranges follow vfio_iommu_resv_exclude', () => {
  const host = hostViewFromRegions([
    { name: '/sys/kernel/iommu_groups/19/reserved_regions', text: fixtureText('hp-dl388p-gen8-group19.txt') },
  ]);
  const g = host.groups[0]!;
  assert.equal(g.id, 19);
  assert.equal(g.regions.length, 3);
  assert.deepEqual(g.usable, [
    { start: 0x1000000n, end: 0xbdf6dfffn },
    { start: 0xbdf85000n, end: 0xfedfffffn },
    { start: 0xfef00000n, end: (1n << 48n) - 1n },
  ]);
  assert.match(host.notes[0]!, /2\^48-1/);
});

test('direct-relaxable regions stay usable; the aperture width is configurable', () => {
  const host = hostViewFromRegions(
    [{ name: 'isa', text: '0x0000000000000000 0x0000000000ffffff direct-relaxable\n', group: 3 }],
    { apertureBits: 39 },
  );
  assert.deepEqual(host.groups[0]!.usable, [{ start: 0n, end: (1n << 39n) - 1n }]);
  assert.deepEqual(host.aperture, { start: 0n, end: (1n << 39n) - 1n });
});

test('groups are numbered from the path, else by position', () => {
  assert.equal(groupFromPath('/sys/kernel/iommu_groups/258/reserved_regions'), 258);
  assert.equal(groupFromPath('dump.txt'), undefined);
  const host = hostViewFromRegions([
    { name: 'a', text: '' },
    { name: 'b', text: '' },
  ]);
  assert.deepEqual(
    host.groups.map((g) => g.id),
    [1, 2],
  );
});

test('a malformed dump is an InputError naming file and line', () => {
  assert.throws(
    () => hostViewFromRegions([{ name: 'bad.txt', text: '0x1000 0xfff msi\n' }]),
    (e: unknown) => e instanceof InputError && /bad\.txt:1: impossible range/.test(e.message),
  );
});
