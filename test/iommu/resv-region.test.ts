import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  IOMMU_MMIO,
  IOMMU_NOEXEC,
  IOMMU_READ,
  IOMMU_WRITE,
  ResvType,
  formatReservedRegions,
  insertResvRegion,
  mergeResvRegions,
  parseReservedRegions,
  resvEnd,
  resvRegion,
} from '../../src/iommu/resv-region.js';
import { InputError } from '../../src/base/errors.js';

const SW = IOMMU_WRITE | IOMMU_NOEXEC | IOMMU_MMIO;

test('spec 1.4 worked example: touching MSI regions merge, other types do not', () => {
  const list = mergeResvRegions([
    resvRegion(0x8000000n, 0x100000n, SW, ResvType.Msi),
    resvRegion(0x7000000n, 0x1000000n, 0, ResvType.Reserved),
    resvRegion(0x8100000n, 0x1000n, SW, ResvType.Msi),
  ]);
  assert.equal(
    formatReservedRegions(list),
    '0x0000000007000000 0x0000000007ffffff reserved\n0x0000000008000000 0x0000000008100fff msi\n',
  );
});

test('spec 1.4 second example: equal (start,type) keeps the newly inserted prot', () => {
  let list = mergeResvRegions([resvRegion(0x1000n, 0x1000n, IOMMU_READ, ResvType.Direct)]);
  list = insertResvRegion(list, resvRegion(0x1000n, 0x1000n, 0, ResvType.Reserved));
  assert.deepEqual(
    list.map((r) => r.type),
    [ResvType.Direct, ResvType.Reserved],
  );
  list = insertResvRegion(list, resvRegion(0x1000n, 0x1000n, IOMMU_READ | IOMMU_WRITE, ResvType.Direct));
  assert.equal(list.length, 2);
  assert.equal(list[0]!.prot, IOMMU_READ | IOMMU_WRITE);
});

test('different types overlapping completely are both kept', () => {
  const list = mergeResvRegions([
    resvRegion(0x1000n, 0x1000n, 0, ResvType.Msi),
    resvRegion(0x1000n, 0x1000n, 0, ResvType.Reserved),
  ]);
  assert.equal(
    formatReservedRegions(list),
    '0x0000000000001000 0x0000000000001fff reserved\n0x0000000000001000 0x0000000000001fff msi\n',
  );
});

test('software and hardware MSI both print msi', () => {
  assert.equal(
    formatReservedRegions([resvRegion(0x8000000n, 0x100000n, SW, ResvType.SwMsi)]),
    '0x0000000008000000 0x00000000080fffff msi\n',
  );
});

test('parse gives file and line on a garbled line', () => {
  assert.deepEqual(parseReservedRegions('0x0000000008000000 0x00000000080fffff msi\n'), [
    { start: 0x8000000n, end: 0x80fffffn, typeString: 'msi', line: 1 },
  ]);
  assert.throws(
    () => parseReservedRegions('0x0 0xff msi\nhello\n', 'g/3/reserved_regions'),
    (e: unknown) =>
      e instanceof InputError && e.line === 2 && e.message.startsWith('g/3/reserved_regions:2:'),
  );
  assert.throws(() => parseReservedRegions('0x10 0x0f msi\n'), /impossible range/);
  assert.throws(() => parseReservedRegions('0x10 0x1f weird\n'), /unknown reserved region type/);
});

test('a merged region keeps the origin of every region that extended it (not only the first)', () => {
  const rmrr = (n: number, start: bigint, len: bigint) =>
    resvRegion(start, len, IOMMU_READ | IOMMU_WRITE, ResvType.Direct, `intel: DMAR RMRR #${n}`);
  const list = mergeResvRegions([
    rmrr(0, 0xbdf6e000n, 0x1000n),
    rmrr(1, 0xbdf6f000n, 0x10000n),
    rmrr(0, 0xbdf6e000n, 0x1000n), // the same RMRR again (another device of the group): nothing new
  ]);
  assert.equal(list.length, 1);
  assert.equal(resvEnd(list[0]!), 0xbdf7efffn);
  assert.equal(list[0]!.origin, 'intel: DMAR RMRR #0 + intel: DMAR RMRR #1');
});
