import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostViewFromPlatform } from '../../src/host/from-platform.js';
import { hostViewFromRaw } from '../../src/host/raw.js';
import { hostViewFromSnapshot, snapshotText } from '../../src/host/snapshot.js';
import { fsReader, writeSysfsTree } from '../../src/host/sysfs-fs.js';
import { memoryReader, readSysfs, sysfsTreeFromHostView } from '../../src/host/sysfs-tree.js';
import type { HostView } from '../../src/host/view.js';
import { KERNEL_VERSIONS, kernelProfile } from '../../src/kernel/profile.js';
import { loadPreset, presetNames } from '../../src/platform/presets.js';

/** What sysfs can carry: groups, members, regions (with the exact type), ungrouped devices. */
function sysfsFacts(v: HostView) {
  const dev = (d: HostView['groups'][number]['devices'][number]) => ({
    bdf: d.bdf,
    vendor: d.vendor,
    device: d.device,
    class: d.class,
    driver: d.driver,
    parent: d.parent,
  });
  return {
    groups: v.groups.map((g) => ({
      id: g.id,
      type: g.type,
      devices: g.devices.map(dev),
      regions: g.regions.map((r) => ({ start: r.start, end: r.end, typeString: r.typeString, type: r.type })),
      assignableByRegions: g.regions.some((r) => r.typeString === 'direct'),
    })),
    ungrouped: (v.ungrouped ?? []).map(dev).sort((a, b) => a.bdf.localeCompare(b.bdf)),
  };
}

for (const name of presetNames()) {
  for (const kernel of KERNEL_VERSIONS) {
    test(`${name} (${kernel}): export -> import keeps groups, members, regions and their MSI kind`, () => {
      const view = hostViewFromPlatform(loadPreset(name), kernelProfile(kernel));
      const back = hostViewFromRaw(
        readSysfs(memoryReader(sysfsTreeFromHostView(view)), { source: 'sysfs:mem' }),
      );
      assert.deepEqual(sysfsFacts(back), sysfsFacts(view));
      // PAGE_SIZE travels as kernel/mm/transparent_hugepage/hpage_pmd_size
      assert.equal(back.pageSize, view.pageSize);
      // The architecture is inferred from the MSI windows; a doorbell elsewhere leaves it unknown.
      assert.ok(back.arch === view.arch || back.arch === undefined, `arch ${back.arch}`);
      // With the model's aperture the imported regions give VFIO's usable ranges exactly.
      for (const [i, g] of view.groups.entries()) {
        const again = hostViewFromRaw({
          ...readSysfs(memoryReader(sysfsTreeFromHostView(view)), { source: 'x' }),
          ...(view.aperture ? { aperture: view.aperture } : {}),
        }).groups[i]!;
        if (view.aperture) assert.deepEqual(again.usable, g.usable);
      }
    });
    test(`${name} (${kernel}): snapshot -> read keeps the same facts`, () => {
      const view = hostViewFromPlatform(loadPreset(name), kernelProfile(kernel));
      const text = snapshotText(view, 'test');
      const back = hostViewFromSnapshot(text, 'snap.json');
      assert.deepEqual(sysfsFacts(back), sysfsFacts(view));
      assert.equal(back.kernel, kernel);
      assert.equal(back.pageSize, view.pageSize);
      assert.deepEqual(back.aperture, view.aperture);
      assert.deepEqual(
        back.groups.map((g) => g.usable),
        view.groups.map((g) => g.usable),
      );
      assert.equal(
        snapshotText(back, 'test').replace(/"source": "[^"]*"/, ''),
        text.replace(/"source": "[^"]*"/, ''),
      );
    });
  }
}

test('an export on disk (real symlinks) reads back the same as in memory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'iovamap-sysfs-'));
  try {
    const view = hostViewFromPlatform(loadPreset('amd-epyc'));
    const tree = sysfsTreeFromHostView(view);
    writeSysfsTree(tree, join(dir, 'sys'));
    const disk = hostViewFromRaw(readSysfs(fsReader(join(dir, 'sys')), { source: 'disk' }));
    const mem = hostViewFromRaw(readSysfs(memoryReader(tree), { source: 'disk' }));
    assert.deepEqual(disk, mem);
    assert.deepEqual(sysfsFacts(disk), sysfsFacts(view));
    assert.ok(
      disk.groups.some((g) => g.devices.some((d) => d.parent === '0000:40:03.1')),
      'nesting under bridges',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the export writes the kernel file formats', () => {
  const view = hostViewFromPlatform(loadPreset('qemu-q35-intel-iommu'));
  const r = memoryReader(sysfsTreeFromHostView(view));
  assert.equal(r.readText('kernel/iommu_groups/2/type'), 'DMA\n');
  assert.equal(
    r.readText('kernel/iommu_groups/3/reserved_regions'),
    '0x0000000000000000 0x0000000000ffffff direct-relaxable\n0x00000000fee00000 0x00000000feefffff msi\n',
  );
  assert.equal(r.readText('bus/pci/devices/0000:00:02.0/vendor'), '0x8086\n');
  assert.equal(r.readText('bus/pci/devices/0000:00:02.0/device'), '0x10d3\n');
  assert.equal(r.readText('bus/pci/devices/0000:00:02.0/class'), '0x020000\n');
  assert.equal(r.readlink('devices/pci0000:00/0000:00:02.0/iommu_group'), '../../../kernel/iommu_groups/2');
  assert.equal(
    r.readlink('kernel/iommu_groups/2/devices/0000:00:02.0'),
    '../../../../devices/pci0000:00/0000:00:02.0',
  );
  assert.equal(r.readlink('bus/pci/devices/0000:00:02.0/driver'), '../../../bus/pci/drivers/e1000e');
  assert.equal(r.readText('bus/pci/devices/0000:00:02.0/iommu_group/type'), 'DMA\n');
});

test('a snapshot keeps what the captured host offered the iommufd backend; a bad value names the field', () => {
  const view = {
    ...hostViewFromPlatform(loadPreset('amd-epyc'), kernelProfile('6.12')),
    iommufd: { dev: true, deviceFiles: false },
  };
  const text = snapshotText(view);
  assert.deepEqual(hostViewFromSnapshot(text, 'host.json').iommufd, { dev: true, deviceFiles: false });
  assert.equal(
    hostViewFromSnapshot(snapshotText({ ...view, iommufd: undefined }), 'h.json').iommufd,
    undefined,
  );
  assert.throws(
    () => hostViewFromSnapshot(text.replace('"deviceFiles": false', '"deviceFiles": "no"'), 'host.json'),
    /host\.json.*deviceFiles/s,
  );
});
