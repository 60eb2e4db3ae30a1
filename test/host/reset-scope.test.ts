import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { busResetLines, busResetLookup, busResetScope } from '../../src/host/reset-scope.js';
import { hostViewFromPlatform } from '../../src/host/from-platform.js';
import { kernelProfile } from '../../src/kernel/profile.js';
import { buildPlatform } from '../../src/platform/build.js';
import { loadPreset, presetNames } from '../../src/platform/presets.js';
import { resetScope } from '../../src/vfio/pci/hot-reset.js';

test('the host view gives the bus reset scope the vfio-pci model uses, on every preset', () => {
  for (const name of presetNames()) {
    const desc = loadPreset(name);
    const core = buildPlatform(desc, kernelProfile('6.12')).iommu;
    const view = hostViewFromPlatform(desc, kernelProfile('6.12'));
    for (const g of view.groups)
      for (const d of g.devices) {
        const dev = core.topology.get(d.bdf)!;
        const model = resetScope(dev)?.map((x) => x.bdf);
        const fromView = busResetScope(view, d.bdf)?.devices.map((x) => x.bdf);
        assert.deepEqual(fromView, model, `${name} ${d.bdf}`);
        for (const x of busResetScope(view, d.bdf)?.devices ?? [])
          assert.equal(x.group, core.device(x.bdf)?.groupId, `${name} ${x.bdf} group`);
      }
  }
});

test('bus reset lines: a root bus has none; below a bridge, the devices and the groups to own', () => {
  const view = hostViewFromPlatform(loadPreset('amd-epyc'), kernelProfile('6.12'));
  const g = view.groups.find((x) => x.devices.some((d) => d.bdf === '0000:41:10.1'))!;
  const [line] = busResetLines(busResetLookup(view), g.devices);
  assert.match(line!, /^below 0000:40:03\.1: resets 0000:41:00\.0, 0000:41:00\.1, 0000:41:10\.1; /);
  assert.match(line!, /needs fds of groups \d+, \d+, \d+ and all of them bound to vfio-pci$/);
  const root = view.groups.find((x) => x.devices.some((d) => d.bdf === '0000:00:00.0'))!;
  assert.deepEqual(busResetLines(busResetLookup(view), root.devices), [
    'none for 0000:00:00.0: on a root bus, no bridge to reset it with (VFIO_DEVICE_PCI_HOT_RESET: ENODEV)',
  ]);
});
