import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kernelProfile } from '../../src/kernel/profile.js';
import { loadPreset } from '../../src/platform/presets.js';
import { builtinScenarioText } from '../../src/scenario/runner.js';
import { traceOverlays, traceScenario } from '../../src/web/scenario-trace.js';

test('a scenario recorded step by step: lines per step and the VFIO mappings growing', () => {
  const text = builtinScenarioText('probe_full')!;
  const t = traceScenario(
    text,
    'probe_full.yaml',
    loadPreset('qemu-q35-intel-iommu'),
    kernelProfile('6.12'),
    {
      vars: { fill: 0n, undeclared: 1n },
    },
  );
  assert.equal(t.error, undefined);
  assert.equal(t.name, 'probe_full');
  const a = t.steps.findIndex((s) => s.title === 'map_dma a_map_valid');
  assert.ok(a > 0);
  const step = t.steps[a]!;
  assert.match(step.lines.join('\n'), /CASE a_map_valid rc=0 errno=0 op=MAP/);
  const before = t.steps[a - 1]!.mappingCount;
  assert.equal(step.mappingCount, before + 1);
  const overlays = traceOverlays(t, a);
  const fresh = overlays.flatMap((o) => o.items).filter((i) => i.cls === 'map-new');
  assert.deepEqual(
    fresh.map((i) => [i.start, i.end]),
    [[0x100000n, 0x100fffn]],
  );
  // A refused mapping is a failed step and adds nothing.
  const dup = t.steps.findIndex((s) => s.title === 'map_dma b_map_duplicate');
  assert.equal(t.steps[dup]!.failed, true);
  assert.match(t.steps[dup]!.lines.join('\n'), /rc=-1 errno=EEXIST/);
  assert.equal(t.steps[dup]!.mappingCount, t.steps[dup - 1]!.mappingCount);
  // Unchanged steps share their snapshot (no copy per step).
  assert.equal(t.steps[dup]!.mappings.get(2), t.steps[dup - 1]!.mappings.get(2));
});

test('a scenario that does not fit the platform stops with the runner message', () => {
  const text = builtinScenarioText('probe_multi_group')!;
  const t = traceScenario(
    text,
    'probe_multi_group.yaml',
    loadPreset('qemu-virt-smmuv3-gicv3'),
    kernelProfile('6.12'),
  );
  assert.match(t.error ?? '', /probe_multi_group\.yaml:\d+: bind_driver\.device: no device matches/);
  assert.throws(
    () =>
      traceScenario(
        'steps: [ { bogus_op: {} } ]\n',
        'bad.yaml',
        loadPreset('qemu-virt-smmuv3-gicv3'),
        kernelProfile('6.12'),
      ),
    /bad\.yaml/,
  );
});
