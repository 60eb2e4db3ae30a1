/** The shipped design_* scenarios: MSI-X works when userspace follows the design; the failure it allows otherwise. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import '../../src/scenario/platforms.js';
import { builtinScenarioText, runScenarioFull } from '../../src/scenario/runner.js';

const FAILURE: Record<string, RegExp> = {
  virtual_doorbell: /DELIVERY design=virtual-doorbell mode=ignore delivered=0\/4 ram=ok/,
  msi_geometry: /DELIVERY design=msi-geometry mode=ignore delivered=0\/4 ram=ok/,
  msi_resv: /DELIVERY design=msi-resv mode=ignore delivered=0\/4 ram=ok/,
  resv_iova_range:
    /CALL VFIO_DEVICE_SET_IRQS\(MSIX, EVENTFD\|TRIGGER, count=4\) -> ENOMEM\n[^]*DELIVERY design=resv-iova-range mode=ignore delivered=0\/4 ram=ok/,
  merged_4_11: /MSI doorbell mapping failed: 4\.11 composed address 0xffffffffffffffff/,
  today:
    /CALL VFIO_IOMMU_MAP_DMA\(READ\|WRITE, iova=0x8000000, size=0x200000\) -> EINVAL\n[^]*DELIVERY design=today mode=ignore delivered=4\/4 ram=refused/,
};

for (const [name, failure] of Object.entries(FAILURE)) {
  test(`scenario design_${name}: follow delivers, ignore shows the design's failure`, () => {
    const text = builtinScenarioText(`design_${name}`);
    assert.ok(text, `scenarios/design_${name}.yaml is shipped`);
    const out = runScenarioFull(text, { file: `design_${name}.yaml` }).lines.join('\n');
    assert.match(out, /DELIVERY design=\S+ mode=follow delivered=4\/4 ram=ok/);
    assert.match(out, failure);
  });
}
