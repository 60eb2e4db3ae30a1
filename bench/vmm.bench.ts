/**
 * How long `check` and `plan` take on the models: one layout + check of a 1 TiB q35 guest on an AMD host,
 * and a full plan (largest size, options, every other VMM) for the same guest.
 */
import type { Benchmark, Figure } from './harness.js';
import { medianNs } from './harness.js';
import { checkLayout, selectGroups } from '../src/vmm/check.js';
import { planLayout } from '../src/vmm/plan.js';
import { QEMU_Q35 } from '../src/vmm/qemu.js';
import { VMM_MODELS } from '../src/vmm/registry.js';
import { hostViewFromRegions } from '../src/vmm/regions-host.js';

const AMD = '0x00000000fee00000 0x00000000feefffff msi\n0x000000fd00000000 0x000000ffffffffff reserved\n';

export const vmmBenchmark: Benchmark = {
  name: 'vmm check/plan',
  run({ quick }) {
    const host = hostViewFromRegions([{ name: 'amd', text: AMD }], { arch: 'x86_64' });
    const sel = selectGroups(host, {});
    const groups = sel.ok ? sel.groups : [];
    const request = { memory: 1047296n << 20n, options: { version: '7.0', 'cpu-vendor': 'amd' } };
    const reps = quick ? 20 : 200;
    const checkNs = medianNs(reps, () => {
      const l = QEMU_Q35.layout(request);
      if (l.ok) checkLayout(QEMU_Q35, l.layout, host, groups);
    });
    const planNs = medianNs(quick ? 5 : 50, () => {
      planLayout(QEMU_Q35, request, host, groups, { others: VMM_MODELS });
    });
    const figures: Figure[] = [
      { name: 'layout + check, q35 1022.75 GiB on AMD', value: checkNs / 1e3, unit: 'us' },
      { name: 'plan (largest, options, 9 other VMMs)', value: planNs / 1e6, unit: 'ms' },
    ];
    return figures;
  },
};
