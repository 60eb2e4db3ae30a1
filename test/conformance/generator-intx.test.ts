import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCompiled } from '../../src/conformance/compiled.js';
import { runCompiled } from '../../src/conformance/exec.js';
import { generateIntxScenario } from '../../src/conformance/generator-intx.js';
import { bootMachine, modelVfioTarget } from '../../src/conformance/model-target.js';
import { msiFabricOf } from '../../src/irq/fabric.js';
import { GEN_INTX_SCENARIOS, GEN_INTX_STEPS, GEN_SEED, suiteFiles } from '../../src/conformance/suite.js';

test('generated INTx scenarios are pure functions of (seed, index), parse, and have unique case names', () => {
  const t = generateIntxScenario(5, 1, 150);
  assert.equal(generateIntxScenario(5, 1, 150), t);
  assert.notEqual(generateIntxScenario(5, 2, 150), t);
  const ops = parseCompiled(t, 'g').flatMap((s) => (s.kind === 'op' ? [s] : []));
  assert.equal(new Set(ops.map((o) => o.name)).size, ops.length);
  assert.equal(suiteFiles().filter((f) => f.path.startsWith('common/gen-intx-')).length, GEN_INTX_SCENARIOS);
});

test('generated INTx scenarios never let the NIC assert a line vfio-pci does not own, and deliver', () => {
  // the rule that keeps them safe on a shared host line (generator-intx.ts), checked on the model
  for (const machine of ['x86-intel', 'arm64-smmuv3-gicv3']) {
    for (let i = 0; i < 6; i++) {
      const b = bootMachine(machine, '6.12')!;
      const text = generateIntxScenario(GEN_SEED, 400 + i, GEN_INTX_STEPS);
      const lines = runCompiled(parseCompiled(text, 'g'), modelVfioTarget(b.model), b.args);
      const line = msiFabricOf(b.model.iommu)!.intx(b.args.devices[0]!)!;
      assert.equal(line.spurious, 0, `${machine} #${i}: asserted with no handler`);
      assert.ok(line.count > 0, `${machine} #${i}: some INTx was delivered`);
      assert.ok(lines.some((l) => / count=[1-9]/.test(l)));
      assert.ok(lines.at(-1)!.startsWith('END '));
    }
  }
});
