/**
 * The verbatim reserved_regions dumps of real hosts collected in ../shared/spec/peers.md §3.2, read the
 * way `inspect --sysfs` reads them: what iovamap infers from each.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostViewFromRaw } from '../../src/host/raw.js';
import type { RawHost } from '../../src/host/raw.js';
import { ResvType } from '../../src/iommu/resv-region.js';

function host(reservedRegions: string): RawHost {
  return {
    source: 'peers.md §3.2',
    groups: [
      {
        id: 19,
        type: 'DMA',
        reservedRegions,
        reservedRegionsFile: 'reserved_regions',
        devices: [
          { bdf: '0000:00:1f.0', vendor: 0x8086, device: 0x1d41, class: 0x060100, driver: 'lpc_ich' },
        ],
      },
    ],
    ungrouped: [],
  };
}

test('HP DL388p Gen8 ISA bridge group (Jerry Snitselaar): RMRRs make the group unassignable', () => {
  const v = hostViewFromRaw(
    host(
      '0x0000000000000000 0x0000000000ffffff direct\n0x00000000bdf6e000 0x00000000bdf84fff direct\n0x00000000fee00000 0x00000000feefffff msi\n',
    ),
  );
  const g = v.groups[0]!;
  assert.equal(v.arch, 'x86_64');
  assert.deepEqual(
    g.regions.map((r) => r.type),
    [ResvType.Direct, ResvType.Direct, ResvType.Msi],
  );
  assert.equal(g.assignable!.ok, false);
  assert.match(g.assignable!.why, /1:1 \(direct\) mapping of 0x0-0xffffff, 0xbdf6e000-0xbdf84fff/);
  assert.deepEqual(g.usable, [
    { start: 0x1000000n, end: 0xbdf6dfffn },
    { start: 0xbdf85000n, end: 0xfedfffffn },
    { start: 0xfef00000n, end: 0xffffffffffffffffn },
  ]);
});

test('AMD EPYC/Ryzen hosts (Alex Williamson): the HyperTransport hole splits the usable space', () => {
  const v = hostViewFromRaw(
    host('0x00000000fee00000 0x00000000feefffff msi\n0x000000fd00000000 0x000000ffffffffff reserved\n'),
  );
  const g = v.groups[0]!;
  assert.equal(v.arch, 'x86_64');
  assert.equal(g.assignable!.ok, true);
  assert.deepEqual(g.usable, [
    { start: 0n, end: 0xfedfffffn },
    { start: 0xfef00000n, end: 0xfcffffffffn },
    { start: 0x10000000000n, end: 0xffffffffffffffffn },
  ]);
});

test('ARM64 server 0015:01:00.0 (Jacob Pan): the single line is the software MSI window', () => {
  const v = hostViewFromRaw(host('0x0000000008000000 0x00000000080fffff msi\n'));
  assert.equal(v.arch, 'aarch64');
  assert.equal(v.groups[0]!.regions[0]!.type, ResvType.SwMsi);
  assert.match(v.groups[0]!.regions[0]!.origin!, /^inferred: software MSI window/);
});

test('HiSilicon D05 untranslated ITS doorbell (peers §3.1 #3): a hardware MSI region, said to be inferred', () => {
  const v = hostViewFromRaw(
    host('0x0000000008000000 0x00000000080fffff msi\n0x00000000c6010000 0x00000000c601ffff msi\n'),
  );
  const [sw, hw] = v.groups[0]!.regions;
  assert.equal(sw!.type, ResvType.SwMsi);
  assert.equal(hw!.type, ResvType.Msi);
  assert.match(hw!.origin!, /^inferred: hardware MSI doorbell/);
  assert.deepEqual(v.groups[0]!.usable, [
    { start: 0n, end: 0x7ffffffn },
    { start: 0x8100000n, end: 0xc600ffffn },
    { start: 0xc6020000n, end: 0xffffffffffffffffn },
  ]);
});
