import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '../../src/base/errors.js';
import { hostViewFromRaw } from '../../src/host/raw.js';
import { parseSnapshot } from '../../src/host/snapshot.js';
import { memoryReader, readSysfs } from '../../src/host/sysfs-tree.js';
import type { SysfsNode, SysfsTree } from '../../src/host/sysfs-tree.js';
import { ResvType } from '../../src/iommu/resv-region.js';

/** A hand-made sysfs tree: one group with one NIC, plus overrides. */
function tree(over: Record<string, SysfsNode | null> = {}): SysfsTree {
  const base: Record<string, SysfsNode> = {
    kernel: { kind: 'dir' },
    'kernel/iommu_groups': { kind: 'dir' },
    'kernel/iommu_groups/7': { kind: 'dir' },
    'kernel/iommu_groups/7/type': { kind: 'file', content: 'DMA\n' },
    'kernel/iommu_groups/7/reserved_regions': {
      kind: 'file',
      content: '0x0000000008000000 0x00000000080fffff msi\n',
    },
    'kernel/iommu_groups/7/devices': { kind: 'dir' },
    'kernel/iommu_groups/7/devices/0000:01:00.0': {
      kind: 'symlink',
      target: '../../../../devices/pci0000:00/0000:00:01.0/0000:01:00.0',
    },
    devices: { kind: 'dir' },
    'devices/pci0000:00': { kind: 'dir' },
    'devices/pci0000:00/0000:00:01.0': { kind: 'dir' },
    'devices/pci0000:00/0000:00:01.0/0000:01:00.0': { kind: 'dir' },
    'devices/pci0000:00/0000:00:01.0/0000:01:00.0/vendor': { kind: 'file', content: '0x15b3\n' },
    'devices/pci0000:00/0000:00:01.0/0000:01:00.0/device': { kind: 'file', content: '0x101d\n' },
    'devices/pci0000:00/0000:00:01.0/0000:01:00.0/class': { kind: 'file', content: '0x020000\n' },
    'devices/pci0000:00/0000:00:01.0/0000:01:00.0/iommu_group': {
      kind: 'symlink',
      target: '../../../../kernel/iommu_groups/7',
    },
    'devices/pci0000:00/0000:00:01.0/vendor': { kind: 'file', content: '0x1def\n' },
    'devices/pci0000:00/0000:00:01.0/device': { kind: 'file', content: '0xe101\n' },
    'devices/pci0000:00/0000:00:01.0/class': { kind: 'file', content: '0x060400\n' },
    bus: { kind: 'dir' },
    'bus/pci': { kind: 'dir' },
    'bus/pci/devices': { kind: 'dir' },
    'bus/pci/devices/0000:01:00.0': {
      kind: 'symlink',
      target: '../../../devices/pci0000:00/0000:00:01.0/0000:01:00.0',
    },
    'bus/pci/devices/0000:00:01.0': { kind: 'symlink', target: '../../../devices/pci0000:00/0000:00:01.0' },
  };
  const t: SysfsTree = new Map(Object.entries(base));
  for (const [k, v] of Object.entries(over)) {
    if (v === null) t.delete(k);
    else t.set(k, v);
  }
  return t;
}

const read = (t: SysfsTree) =>
  hostViewFromRaw(readSysfs(memoryReader(t, '/host/sys'), { source: 'sysfs:/host/sys' }));

function expectInputError(f: () => unknown, file: string, line: number | undefined, want: RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof InputError, String(e));
    assert.equal(e.file, file);
    assert.equal(e.line, line);
    assert.match(e.message, want);
    return true;
  });
}

test('a good hand-made tree reads into a view with the software MSI window inferred', () => {
  const v = read(tree());
  assert.equal(v.groups.length, 1);
  const g = v.groups[0]!;
  assert.equal(g.id, 7);
  assert.equal(g.type, 'DMA');
  assert.deepEqual(g.devices[0], {
    bdf: '0000:01:00.0',
    vendor: 0x15b3,
    device: 0x101d,
    class: 0x020000,
    driver: 'none',
    parent: '0000:00:01.0',
  });
  assert.equal(g.regions[0]!.type, ResvType.SwMsi);
  assert.match(g.regions[0]!.origin!, /^inferred: software MSI window/);
  assert.equal(v.arch, 'aarch64');
  assert.ok(v.notes.some((n) => /architecture aarch64 inferred/.test(n)));
  assert.deepEqual(g.usable, [
    { start: 0n, end: 0x7ffffffn },
    { start: 0x8100000n, end: 0xffffffffffffffffn },
  ]);
  assert.deepEqual(
    v.ungrouped?.map((d) => d.bdf),
    ['0000:00:01.0'],
  );
});

test('a garbled reserved_regions line names the file and the line', () => {
  const t = tree({
    'kernel/iommu_groups/7/reserved_regions': {
      kind: 'file',
      content: '0x0000000008000000 0x00000000080fffff msi\n0x00000000fee00000 feefffff msi\n',
    },
  });
  expectInputError(
    () => read(t),
    '/host/sys/kernel/iommu_groups/7/reserved_regions',
    2,
    /cannot parse reserved region line/,
  );
});

test('an impossible range names the file and the line', () => {
  const t = tree({
    'kernel/iommu_groups/7/reserved_regions': {
      kind: 'file',
      content: '0x00000000080fffff 0x0000000008000000 msi\n',
    },
  });
  expectInputError(
    () => read(t),
    '/host/sys/kernel/iommu_groups/7/reserved_regions',
    1,
    /impossible range: end 0x0000000008000000 is below start/,
  );
});

test('an unknown region type is refused', () => {
  const t = tree({
    'kernel/iommu_groups/7/reserved_regions': {
      kind: 'file',
      content: '0x0000000008000000 0x00000000080fffff doorbell\n',
    },
  });
  expectInputError(
    () => read(t),
    '/host/sys/kernel/iommu_groups/7/reserved_regions',
    1,
    /unknown reserved region type "doorbell"/,
  );
});

test('missing files are named', () => {
  expectInputError(
    () => read(tree({ 'kernel/iommu_groups/7/reserved_regions': null })),
    '/host/sys/kernel/iommu_groups/7/reserved_regions',
    undefined,
    /missing file/,
  );
  expectInputError(
    () => read(tree({ 'devices/pci0000:00/0000:00:01.0/0000:01:00.0/vendor': null })),
    '/host/sys/kernel/iommu_groups/7/devices/0000:01:00.0/vendor',
    undefined,
    /missing file \(vendor\)/,
  );
  expectInputError(
    () =>
      read(
        tree({ 'kernel/iommu_groups/7/devices': null, 'kernel/iommu_groups/7/devices/0000:01:00.0': null }),
      ),
    '/host/sys/kernel/iommu_groups/7/devices',
    undefined,
    /missing directory/,
  );
});

test('garbled PCI ID files name the file and line 1', () => {
  expectInputError(
    () =>
      read(
        tree({
          'devices/pci0000:00/0000:00:01.0/0000:01:00.0/class': { kind: 'file', content: 'ethernet\n' },
        }),
      ),
    '/host/sys/kernel/iommu_groups/7/devices/0000:01:00.0/class',
    1,
    /cannot parse class: "ethernet"/,
  );
});

test('a missing type file (kernels before 5.11) is a note, not an error', () => {
  const v = read(tree({ 'kernel/iommu_groups/7/type': null }));
  assert.equal(v.groups[0]!.type, 'unknown');
  assert.ok(v.notes.some((n) => /no `type` file/.test(n)));
});

test('a host without IOMMU groups reads as no groups (the caller explains)', () => {
  const t = tree();
  for (const k of [...t.keys()]) if (k.startsWith('kernel/iommu_groups/')) t.delete(k);
  const v = read(t);
  assert.equal(v.groups.length, 0);
  assert.equal(v.ungrouped?.length, 2);
});

test('something that is not a sysfs tree is refused', () => {
  expectInputError(
    () => read(new Map([['etc', { kind: 'dir' }]])),
    '/host/sys/',
    undefined,
    /not a sysfs tree/,
  );
});

test('hpage_pmd_size gives the page size; a garbled one names the file', () => {
  const pmd = (content: string) =>
    read(tree({ 'kernel/mm/transparent_hugepage/hpage_pmd_size': { kind: 'file', content } }));
  assert.equal(pmd('2097152\n').pageSize, 4096);
  assert.equal(pmd('33554432\n').pageSize, 16384);
  assert.equal(pmd('536870912\n').pageSize, 65536);
  assert.equal(read(tree()).pageSize, undefined);
  expectInputError(
    () => pmd('1048576\n'),
    '/host/sys/kernel/mm/transparent_hugepage/hpage_pmd_size',
    1,
    /cannot parse hpage_pmd_size: "1048576"/,
  );
  expectInputError(
    () => pmd('2M\n'),
    '/host/sys/kernel/mm/transparent_hugepage/hpage_pmd_size',
    1,
    /cannot parse hpage_pmd_size/,
  );
});

test('a broken snapshot names file, line and field', () => {
  const good = {
    format: 'iovamap-host-snapshot',
    version: 1,
    source: 'sysfs:/sys',
    groups: [
      { id: 0, type: 'DMA', reservedRegions: ['0x0000000008000000 0x00000000080fffff msi'], devices: [] },
    ],
  };
  const text = (o: unknown) => JSON.stringify(o, null, 2);
  assert.equal(parseSnapshot(text(good), 's.json').groups.length, 1);
  const bad = structuredClone(good);
  bad.groups[0]!.reservedRegions = ['0x0000000008000000 0x00000000070fffff msi'];
  assert.throws(
    () => parseSnapshot(text(bad), 's.json'),
    (e: unknown) =>
      e instanceof InputError &&
      e.line === 10 &&
      e.field === 'groups[0].reservedRegions[0]' &&
      /impossible range/.test(e.message),
  );
  assert.throws(
    () => parseSnapshot(text({ ...good, version: 2 }), 's.json'),
    (e: unknown) => e instanceof InputError && e.line === 3 && /version 2 is not understood/.test(e.message),
  );
  assert.throws(
    () => parseSnapshot(text({ ...good, format: 'x' }), 's.json'),
    (e: unknown) => e instanceof InputError && e.line === 2 && /not a host snapshot/.test(e.message),
  );
  assert.equal(parseSnapshot(text({ ...good, pageSize: 65536 }), 's.json').pageSize, 65536);
  assert.throws(
    () => parseSnapshot(text({ ...good, pageSize: 8192 }), 's.json'),
    (e: unknown) =>
      e instanceof InputError &&
      e.line === 15 &&
      e.field === 'pageSize' &&
      /8192 is not a kernel page size/.test(e.message),
  );
  assert.throws(
    () => parseSnapshot(text({ ...good, extra: 1 }), 's.json'),
    (e: unknown) => e instanceof InputError && /unknown field "extra"/.test(e.message),
  );
  assert.throws(
    () => parseSnapshot('{"format": ', 's.json'),
    (e: unknown) => e instanceof InputError && /^s\.json:1: syntax error/.test(e.message),
  );
});

test('the Intel VT-d cap register in /sys/class/iommu gives the aperture (oracle q35: cap d2008c22260286, 39 bits)', () => {
  const t = tree({
    'kernel/iommu_groups/7/reserved_regions': {
      kind: 'file',
      content: '0x00000000fee00000 0x00000000feefffff msi\n',
    },
    class: { kind: 'dir' },
    'class/iommu': { kind: 'dir' },
    'class/iommu/dmar0': { kind: 'symlink', target: '../../devices/virtual/iommu/dmar0' },
    'devices/virtual': { kind: 'dir' },
    'devices/virtual/iommu': { kind: 'dir' },
    'devices/virtual/iommu/dmar0': { kind: 'dir' },
    'devices/virtual/iommu/dmar0/intel-iommu': { kind: 'dir' },
    'devices/virtual/iommu/dmar0/intel-iommu/cap': { kind: 'file', content: 'd2008c22260286\n' },
    'devices/pci0000:00/0000:00:01.0/0000:01:00.0/iommu': {
      kind: 'symlink',
      target: '../../../virtual/iommu/dmar0',
    },
  });
  const v = read(t);
  assert.deepEqual(v.aperture, { start: 0n, end: 0x7fffffffffn });
  // The oracle's VFIO IOVA_RANGE for x86-intel: [0, 0xfedfffff], [0xfef00000, 0x7fffffffff].
  assert.deepEqual(v.groups[0]!.usable, [
    { start: 0n, end: 0xfedfffffn },
    { start: 0xfef00000n, end: 0x7fffffffffn },
  ]);
  assert.ok(!v.notes.some((n) => /does not show the IOMMU aperture/.test(n)));
});

test('non-PCI group members (platform/ACPI devices) are listed, not fatal, and survive export and snapshot', async () => {
  const t = tree({
    'kernel/iommu_groups/7/devices/e0300000.sata': {
      kind: 'symlink',
      target: '../../../../devices/platform/e0300000.sata',
    },
    'devices/platform': { kind: 'dir' },
    'devices/platform/e0300000.sata': { kind: 'dir' },
  });
  const v = read(t);
  assert.deepEqual(v.groups[0]!.otherDevices, ['e0300000.sata']);
  assert.equal(v.groups[0]!.devices.length, 1);
  assert.ok(v.notes.some((n) => /group 7 also holds non-PCI devices \(e0300000\.sata\)/.test(n)));
  const { sysfsTreeFromHostView } = await import('../../src/host/sysfs-tree.js');
  const again = read(sysfsTreeFromHostView(v));
  assert.deepEqual(again.groups[0]!.otherDevices, ['e0300000.sata']);
  const { snapshotText, hostViewFromSnapshot } = await import('../../src/host/snapshot.js');
  assert.deepEqual(hostViewFromSnapshot(snapshotText(v), 's.json').groups[0]!.otherDevices, [
    'e0300000.sata',
  ]);
});

test('PCI domains with five hex digits (Intel VMD) are read', () => {
  const t = tree({
    'bus/pci/devices/10000:e1:00.0': {
      kind: 'symlink',
      target: '../../../devices/pci10000:e0/10000:e0:06.0/10000:e1:00.0',
    },
    'devices/pci10000:e0': { kind: 'dir' },
    'devices/pci10000:e0/10000:e0:06.0': { kind: 'dir' },
    'devices/pci10000:e0/10000:e0:06.0/10000:e1:00.0': { kind: 'dir' },
    'devices/pci10000:e0/10000:e0:06.0/10000:e1:00.0/vendor': { kind: 'file', content: '0x144d\n' },
    'devices/pci10000:e0/10000:e0:06.0/10000:e1:00.0/device': { kind: 'file', content: '0xa808\n' },
    'devices/pci10000:e0/10000:e0:06.0/10000:e1:00.0/class': { kind: 'file', content: '0x010802\n' },
  });
  const v = read(t);
  assert.ok(v.ungrouped?.some((d) => d.bdf === '10000:e1:00.0' && d.parent === '10000:e0:06.0'));
});
