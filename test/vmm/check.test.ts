import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HostGroupView, HostView } from '../../src/host/view.js';
import { checkLayout, containerUsable, selectGroups } from '../../src/vmm/check.js';
import { planLayout } from '../../src/vmm/plan.js';
import { QEMU_PC, QEMU_Q35, QEMU_VIRT } from '../../src/vmm/qemu.js';
import { CROSVM_X86_64 } from '../../src/vmm/rust-vmms.js';
import { hostViewFromRegions } from '../../src/vmm/regions-host.js';
import type { VmmModel } from '../../src/vmm/types.js';

const M = 1n << 20n;
const G = 1n << 30n;
const TOP48 = (1n << 48n) - 1n;

function group(
  id: number,
  regions: [bigint, bigint, string][],
  extra: Partial<HostGroupView> = {},
): HostGroupView {
  const host = hostViewFromRegions([
    {
      name: `g${id}`,
      text: regions.map(([s, e, t]) => `0x${s.toString(16)} 0x${e.toString(16)} ${t}\n`).join(''),
      group: id,
    },
  ]);
  return {
    ...host.groups[0]!,
    devices: [
      { bdf: `0000:0${id}:00.0`, vendor: 0x8086, device: 0x1521, class: 0x020000, driver: 'vfio-pci' },
    ],
    ...extra,
  };
}

function view(groups: HostGroupView[], arch: 'x86_64' | 'aarch64' = 'x86_64'): HostView {
  return { source: 'test', arch, aperture: { start: 0n, end: TOP48 }, groups, notes: [] };
}

function run(
  model: VmmModel,
  host: HostView,
  memory: bigint,
  options: Record<string, string> = {},
  p2p = false,
) {
  const l = model.layout({ memory, options });
  if (!l.ok) assert.fail(l.reason);
  const sel = selectGroups(host, {});
  if (!sel.ok) assert.fail(sel.reason);
  return checkLayout(model, l.layout, host, sel.groups, { p2p });
}

const MSI: [bigint, bigint, string] = [0xfee00000n, 0xfeefffffn, 'msi'];

test('the container usable list is the intersection over its groups (vfio_iommu_resv_exclude per group)', () => {
  const a = group(1, [MSI]);
  const b = group(2, [MSI, [0xbdf6e000n, 0xbdf84fffn, 'direct']]);
  const sel = selectGroups(view([a, b]), {});
  assert.ok(sel.ok);
  const usable = containerUsable(sel.groups).ranges;
  assert.deepEqual(usable, [
    { start: 0n, end: 0xbdf6dfffn },
    { start: 0xbdf85000n, end: 0xfedfffffn },
    { start: 0xfef00000n, end: TOP48 },
  ]);
  // Group 2 alone explains the conflict of a pc guest whose low RAM covers the RMRR.
  const r = run(QEMU_PC, view([a, b]), 3n * G);
  assert.equal(r.fits, false);
  const cause = r.conflicts[0]!.causes[0]!;
  assert.ok(cause.kind === 'region');
  assert.equal(cause.kind === 'region' && cause.name, 'firmware identity mapping');
  assert.deepEqual(cause.kind === 'region' && cause.groups.map((g) => g.id), [2]);
  assert.equal(r.conflicts[0]!.failure.lines.at(-1)!.includes('host=0000:02:00.0'), true);
});

test('direct-relaxable regions do not conflict; the checker says the device loses that mapping', () => {
  const g = group(3, [[0n, 0xffffffn, 'direct-relaxable'], MSI]);
  const r = run(QEMU_Q35, view([g]), 2n * G);
  assert.equal(r.fits, true);
  assert.ok(r.notes.some((n) => /relaxable region \[0x0, 0xffffff\] of group 3/.test(n)));
});

test('a range no region explains is outside the aperture (IOMMU address width)', () => {
  const host = hostViewFromRegions([{ name: 'intel', text: '0x00000000fee00000 0x00000000feefffff msi\n' }], {
    apertureBits: 39,
    arch: 'x86_64',
  });
  const r = run(QEMU_Q35, host, 600n * G);
  assert.equal(r.fits, false);
  const cause = r.conflicts[0]!.causes[0]!;
  assert.equal(cause.kind, 'aperture');
  assert.equal(cause.overlap.start, 1n << 39n);
  assert.match(cause.kind === 'aperture' ? cause.why : '', /0x7fffffffff/);
});

test("groups VFIO refuses before any mapping are reported with the model's reason", () => {
  const rmrr = group(4, [MSI], {
    assignable: {
      ok: false,
      why:
        'VFIO_SET_IOMMU fails with EPERM: 0000:04:00.0 needs a 1:1 mapping; intel-iommu logs "Device is ' +
        'ineligible for IOMMU domain attach due to platform RMRR requirement. Contact your platform vendor."',
    },
  });
  const unsafe = group(5, [[0x8000000n, 0x80fffffn, 'msi']], {
    interruptSafety: { safe: false, why: 'GICv2m does not isolate MSIs' },
  });
  const host = view([rmrr, unsafe], 'aarch64');
  // Default selection leaves out groups that are not assignable, and says so.
  const sel = selectGroups(host, {});
  assert.ok(sel.ok);
  assert.deepEqual(sel.ok && sel.groups.map((g) => g.id), [5]);
  assert.match(sel.ok ? sel.notes[0]! : '', /group 4 \(VFIO_SET_IOMMU fails with EPERM/);
  const explicit = selectGroups(host, { groups: [4, 5] });
  assert.ok(explicit.ok);
  const l = QEMU_VIRT.layout({ memory: 2n * G, options: {} });
  assert.ok(l.ok);
  const r = checkLayout(QEMU_VIRT, l.ok ? l.layout : assert.fail(), host, explicit.ok ? explicit.groups : []);
  assert.equal(r.fits, false);
  assert.deepEqual(
    r.blockers.map((b) => [b.group, b.kind]),
    [
      [4, 'not-assignable'],
      [5, 'unsafe-interrupts'],
    ],
  );
  // Report #4's wording, from the step and errno the host model names.
  assert.equal(
    r.blockers[0]!.lines[0],
    'qemu-system-aarch64: -device vfio-pci,host=0000:04:00.0: vfio 0000:04:00.0: failed to setup container ' +
      'for group 4: Failed to set iommu for container: Operation not permitted',
  );
  // Unsafe interrupts: VFIO_SET_IOMMU, EPERM (vfio_iommu_type1_attach_group).
  assert.match(r.blockers[1]!.lines[0]!, /Failed to set iommu for container: Operation not permitted$/);
});

test('selection: by device, unknown group or device is an answer naming it', () => {
  const host = view([group(1, [MSI]), group(2, [MSI])]);
  const byDev = selectGroups(host, { devices: ['02:00.0'] });
  assert.deepEqual(byDev.ok && byDev.groups.map((g) => g.id), [2]);
  const bad = selectGroups(host, { groups: [9] });
  assert.equal(bad.ok, false);
  assert.match(!bad.ok ? bad.reason : '', /no IOMMU group 9/);
  assert.equal(selectGroups(host, { devices: ['0000:07:00.0'] }).ok, false);
});

test('peer-to-peer: BAR windows are checked only when asked, and only warn in QEMU', () => {
  const amd = hostViewFromRegions(
    [
      {
        name: 'amd',
        text: '0x00000000fee00000 0x00000000feefffff msi\n0x000000fd00000000 0x000000ffffffffff reserved\n',
      },
    ],
    { arch: 'x86_64' },
  );
  // arm64 guest on an AMD host: virt's 64-bit PCIe window [512 GiB, 1 TiB) holds the HyperTransport hole.
  assert.equal(run(QEMU_VIRT, amd, 2n * G).fits, true);
  const r = run(QEMU_VIRT, amd, 2n * G, {}, true);
  assert.equal(r.fits, false);
  const c = r.conflicts[0]!;
  assert.equal(c.range.name, 'pcie-mmio-high');
  assert.equal(c.fatal, false);
  assert.match(c.failure.lines.at(-1)!, /PCI peer-to-peer transactions on BARs are not supported/);
});

test('planner: max-ram-below-4g keeps pc RAM under an RMRR, as the QEMU option', () => {
  const g = group(2, [MSI, [0xbdf6e000n, 0xbdf84fffn, 'direct']]);
  const host = view([g]);
  const sel = selectGroups(host, {});
  assert.ok(sel.ok);
  const plan = planLayout(QEMU_PC, { memory: 8n * G, options: {} }, host, sel.ok ? sel.groups : []);
  assert.equal(plan.fitsAsAsked, false);
  assert.equal(plan.options[0]?.commandLine, '-machine pc,max-ram-below-4g=2G -m 8G');
  assert.deepEqual(plan.options[0]?.changed, { 'max-ram-below-4g': '2G' });
  // With the asked options the largest pc guest keeps all its RAM below the RMRR.
  assert.equal(plan.largest?.layout.memory, (0xbdf6e000n / M) * M);
  // q35 keeps 2 GiB low for 8 GiB and fits as asked.
  const q = planLayout(QEMU_Q35, { memory: 8n * G, options: {} }, host, sel.ok ? sel.groups : []);
  assert.equal(q.fitsAsAsked, true);
});

test('planner: crosvm --pci mem=[start=...] moves low RAM off an RMRR', () => {
  const g = group(2, [MSI, [0xc8000000n, 0xc80fffffn, 'direct']]);
  const host = view([g]);
  const sel = selectGroups(host, {});
  const plan = planLayout(CROSVM_X86_64, { memory: 8n * G, options: {} }, host, sel.ok ? sel.groups : []);
  assert.equal(plan.options[0]?.commandLine, '--mem 8192 --pci mem=[start=0xc0000000]');
});

test('region explanations come from the region: its origin when the host model knows it', () => {
  const g = group(6, [MSI]);
  const withOrigin: HostGroupView = {
    ...g,
    regions: [
      { start: 0xfee00000n, end: 0xfeefffffn, typeString: 'msi', origin: 'intel-iommu: IOAPIC range' },
    ],
  };
  const r = run(QEMU_VIRT, view([withOrigin], 'x86_64'), 4n * G);
  const cause = r.conflicts[0]!.causes[0]!;
  assert.equal(cause.kind === 'region' && cause.name, 'x86 MSI window');
  assert.match(cause.kind === 'region' ? cause.why : '', /\(intel-iommu: IOAPIC range\)/);
});
