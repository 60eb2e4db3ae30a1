/**
 * The package entry (`import ... from 'iovamap'`, dist/src/index.js) as a library user sees it: it must
 * be enough, without deep imports, to boot a preset, run a scenario by platform name and drive VFIO.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as lib from '../src/index.js';

test('package entry: runScenario resolves a platform name (the preset loader is installed)', () => {
  const lines = lib.runScenario(
    'name: t\nplatform: qemu-virt-smmuv3-gicv3\nsteps:\n  - open_container: { name: open }\n',
  );
  assert.deepEqual(lines, ['CASE open rc=0 errno=0']);
});

test('package entry: a shipped scenario runs from the library as from the CLI', () => {
  const r = lib.runScenarioFull(lib.builtinScenarioText('type1_rules')!, {
    platform: 'qemu-q35-intel-iommu',
    kernel: '6.1',
  });
  assert.equal(r.exitCode, 0);
  assert.deepEqual(r.failures, []);
  assert.ok(r.lines.some((l) => l.startsWith('CASE ')));
});

test('package entry: buildPlatform and bootPreset give the IommuCore a VfioSystem runs on', () => {
  const model = lib.buildPlatform(lib.loadPreset('qemu-virt-smmuv3-gicv3'), lib.kernelProfile('6.12'));
  assert.deepEqual(
    model.iommu.groups().map((g: { id: number }) => g.id),
    [0],
  );
  const core = lib.bootPreset('qemu-virt-smmuv3-gicv3', lib.kernelProfile('6.1'));
  assert.ok(lib.msiFabricOf(core), 'bootPreset attaches the MSI fabric');
  const sys = new lib.VfioSystem({ core });
  assert.ok(sys.open('/dev/vfio/vfio') >= 0);
});
