import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  U64_MAX,
  alignUp,
  checkedAddU64,
  fls64,
  formatSize,
  hex16,
  lastByte,
  lowestBit,
  isFractionalSize,
  parseSize,
  parseU64,
} from '../../src/base/u64.js';

test('hex16 is the kernel %016llx with 0x', () => {
  assert.equal(hex16(0xfee00000n), '0x00000000fee00000');
  assert.equal(hex16(U64_MAX), '0xffffffffffffffff');
});

test('u64 arithmetic is explicit about 2^64', () => {
  assert.equal(checkedAddU64(U64_MAX, 1n), undefined);
  assert.equal(checkedAddU64(U64_MAX - 1n, 1n), U64_MAX);
  assert.equal(lastByte(0n, 1n << 64n), U64_MAX);
  assert.equal(lastByte(1n, 1n << 64n), undefined);
  assert.equal(lastByte(5n, 0n), undefined);
  assert.equal(alignUp(U64_MAX, 0x1000n), undefined);
});

test('bit helpers', () => {
  assert.equal(lowestBit(0x40201000n), 12);
  assert.equal(lowestBit(0n), -1);
  assert.equal(fls64(0n), 0);
  assert.equal(fls64(1n << 63n), 64);
});

test('parsing numbers and sizes', () => {
  assert.equal(parseU64('0x8000000'), 0x8000000n);
  assert.equal(parseU64('1_000'), 1000n);
  assert.equal(parseU64('0xffff_ffff'), 0xffffffffn);
  // a separator only between digits: a stray underscore is a typo, not a digit to skip
  for (const bad of ['_5', '5_', '1__0', '0x_10', '_', '0x1_']) assert.equal(parseU64(bad), undefined, bad);
  assert.equal(parseU64('-1'), undefined);
  assert.equal(parseU64('0x1' + '0'.repeat(16)), undefined);
  assert.equal(parseSize('4G'), 4n << 30n);
  assert.equal(parseSize('512MiB'), 512n << 20n);
  assert.equal(parseSize('1T'), 1n << 40n);
  assert.equal(parseSize('abc'), undefined);
});

test('parseSize takes a decimal fraction with a unit, as QEMU does, when it is a whole number of bytes', () => {
  assert.equal(parseSize('3.5G'), 3584n << 20n);
  assert.equal(parseSize('1.25MiB'), 1280n << 10n);
  assert.equal(parseSize('0.5k'), 512n);
  assert.equal(parseSize('3.3G'), undefined, '3543348019.2 bytes');
  assert.equal(parseSize('1.5'), undefined, 'a fraction of a byte needs a unit');
  assert.equal(parseSize('.5G'), undefined);
  assert.equal(parseSize('15.5E'), 31n << 59n);
  assert.equal(parseSize('16.0E'), undefined, 'beyond u64');
  assert.ok(isFractionalSize('3.3G') && !isFractionalSize('3G'));
});

test('formatSize uses binary units', () => {
  assert.equal(formatSize(0x100000n), '1 MiB');
  assert.equal(formatSize(12n << 30n), '12 GiB');
  assert.equal(formatSize(1n << 64n), '16 EiB');
  assert.equal(formatSize(1536n), '1.5 KiB');
});

test('formatSize never rounds silently', () => {
  assert.equal(formatSize(0x7ff00000n), '2047 MiB');
  assert.equal(formatSize(0xfedfffffn + 1n), '4078 MiB');
  assert.equal(formatSize(0xffff_ffff_ffffn + 1n - 0x8100000n), '~256.0 TiB');
  assert.equal(formatSize(5n << 29n), '2.5 GiB');
  assert.equal(formatSize(1023n), '1023 B');
});
