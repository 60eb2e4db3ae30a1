/**
 * The real failures of peers.md §3, reproduced from the reserved_regions dumps of the hosts involved, with
 * the numbers of the reports.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkLayout, selectGroups, type CheckReport } from '../../src/vmm/check.js';
import { findVmm, VMM_MODELS } from '../../src/vmm/registry.js';
import { largestFit, planLayout } from '../../src/vmm/plan.js';
import { hostDefaults } from '../../src/vmm/host-defaults.js';
import type { HostView } from '../../src/host/view.js';
import type { VmmModel } from '../../src/vmm/types.js';
import { dumpHost } from './fixtures.js';

const M = 1n << 20n;
const G = 1n << 30n;

function model(name: string, machine?: string, arch?: 'x86_64' | 'aarch64'): VmmModel {
  const r = findVmm(name, { ...(machine ? { machine } : {}), ...(arch ? { arch } : {}) });
  if (!r.ok) assert.fail(r.reason);
  return r.model;
}

function check(
  m: VmmModel,
  host: HostView,
  memory: bigint,
  options: Record<string, string> = {},
): CheckReport {
  const opts = { ...hostDefaults(m, host, options).options, ...options };
  const l = m.layout({ memory, options: opts });
  if (!l.ok) assert.fail(l.reason);
  const sel = selectGroups(host, {});
  assert.ok(sel.ok);
  return checkLayout(m, l.layout, host, sel.ok ? sel.groups : []);
}

test('#1 QEMU >= 1010 GiB guest on AMD (Joao Martins): HyperTransport hole, the exact vfio_dma_map line', () => {
  // group 258, device 0000:41:10.1; q35 ("guests bigger than 1010G" fail). The log's "VFIO_MAP_DMA: -22"
  // wording is QEMU < 5.0; every machine type before 7.1 has the same layout.
  const host = dumpHost('amd-epyc.txt', 'x86_64', 258, ['0000:41:10.1']);
  const q35 = model('qemu', 'q35');
  const r = check(q35, host, 0xff30000000n + 2n * G, { version: '4.2' });
  assert.equal(r.fits, false);
  assert.equal(r.conflicts.length, 1);
  const c = r.conflicts[0]!;
  assert.equal(c.range.start, 0x1_0000_0000n);
  assert.equal(c.range.end - c.range.start + 1n, 0xff30000000n);
  const cause = c.causes[0]!;
  assert.equal(cause.kind, 'region');
  assert.equal(cause.kind === 'region' && cause.name, 'AMD HyperTransport window');
  assert.equal(cause.overlap.start, 0xfd00000000n);
  assert.equal(cause.overlap.end, 0xffffffffffn);
  assert.deepEqual(c.failure.lines, [
    'qemu-system-x86_64: -device vfio-pci,host=0000:41:10.1: VFIO_MAP_DMA: -22',
    'qemu-system-x86_64: -device vfio-pci,host=0000:41:10.1: vfio 0000:41:10.1: failed to setup container ' +
      'for group 258: memory listener initialization failed: Region pc.ram: ' +
      'vfio_dma_map(0x..., 0x100000000, 0xff30000000, 0x...) = -22 (Invalid argument)',
  ]);
  // 1010 GiB is the boundary of the report; QEMU >= 7.1 relocates and fits.
  assert.equal(check(q35, host, 1010n * G, { version: '7.0' }).fits, true);
  assert.equal(check(q35, host, 1010n * G + M, { version: '7.0' }).fits, false);
  assert.equal(check(q35, host, 0xff30000000n + 2n * G).fits, true);
  const request = { memory: 0xff30000000n + 2n * G, options: { version: '7.0', 'cpu-vendor': 'amd' } };
  const best = largestFit(q35, request, host, r.groups);
  assert.equal(best?.request.memory, 1010n * G);
});

test('#2 arm64 TCG guest on an x86 host (Launchpad #1869006): 0xfee00000 inside guest RAM, works up to 3054 MB', () => {
  const host = dumpHost('amd-epyc.txt', 'x86_64', 28, ['0000:29:00.0']);
  const virt = model('qemu', 'virt');
  const r = check(virt, host, 4n * G, { version: '4.2' });
  assert.equal(r.fits, false);
  const c = r.conflicts[0]!;
  assert.equal(c.causes[0]!.kind === 'region' && c.causes[0]!.name, 'x86 MSI window');
  assert.equal(
    c.failure.lines[1],
    'qemu-system-aarch64: -device vfio-pci,host=0000:29:00.0: vfio 0000:29:00.0: failed to setup container for ' +
      'group 28: memory listener initialization failed: Region mach-virt.ram: ' +
      'vfio_dma_map(0x..., 0x40000000, 0x100000000, 0x...) = -22 (Invalid argument)',
  );
  assert.equal(check(virt, host, 3054n * M).fits, true);
  assert.equal(check(virt, host, 3055n * M).fits, false);
  const plan = planLayout(virt, { memory: 4n * G, options: {} }, host, r.groups, { others: VMM_MODELS });
  assert.equal(plan.largest?.layout.memory, 3054n * M);
  assert.equal(plan.largest?.commandLine, '-machine virt -m 3054M');
  // cloud-hypervisor's aarch64 map keeps 0xfc000000-4G free of RAM, so it takes 4 GiB here.
  assert.ok(plan.others.some((s) => s.model.id === 'cloud-hypervisor-aarch64'));
});

test('#3 HiSilicon D05 hardware MSI doorbell 0xc6010000 inside QEMU virt RAM', () => {
  const host = dumpHost('hisilicon-d05.txt', 'aarch64');
  const virt = model('qemu', 'virt');
  const r = check(virt, host, 8n * G);
  assert.equal(r.fits, false);
  const cause = r.conflicts[0]!.causes[0]!;
  assert.equal(cause.kind === 'region' && cause.name, 'hardware MSI doorbell');
  assert.equal(cause.overlap.start, 0xc6010000n);
  // The SW-MSI window at 0x8000000 lies on the guest's GIC, never on its RAM.
  assert.ok(
    !r.conflicts.some((c) => c.causes.some((x) => x.kind === 'region' && x.region.start === 0x8000000n)),
  );
  const plan = planLayout(virt, { memory: 8n * G, options: {} }, host, r.groups);
  assert.equal(plan.largest?.layout.memory, 0xc6010000n - G - 0x10000n); // 2144 MiB
});

test('#9 OpenVMM aarch64 RAM at 0 (PR #3559): the SW-MSI window 128-129 MiB inside RAM', () => {
  const host = dumpHost('arm64-smmuv3.txt', 'aarch64');
  const vmm = model('openvmm', undefined, 'aarch64');
  const before = check(vmm, host, 4n * G, { release: 'before-3559' });
  assert.equal(before.fits, false);
  const cause = before.conflicts[0]!.causes[0]!;
  assert.equal(cause.kind === 'region' && cause.name, 'SW-MSI window');
  assert.deepEqual([cause.overlap.start, cause.overlap.end], [0x0800_0000n, 0x080f_ffffn]);
  assert.match(
    before.conflicts[0]!.failure.lines[0]!,
    /^IOMMU_IOAS_MAP\(iova=0x0, length=0x100000000\) = -22/,
  );
  assert.equal(check(vmm, host, 4n * G, { boot: 'uefi' }).fits, false);
  // The fixes the project made: RAM at 1 GiB (PR #3559) or the carve-out (PR #3465).
  assert.equal(check(vmm, host, 4n * G).fits, true);
  assert.equal(check(vmm, host, 4n * G, { boot: 'uefi', 'msi-carveout': 'on' }).fits, true);
});

test('#10 cloud-hypervisor above 1011 GiB on AMD (PR #8902)', () => {
  const host = dumpHost('amd-epyc.txt', 'x86_64');
  const ch = model('cloud-hypervisor', undefined, 'x86_64');
  assert.equal(check(ch, host, 1011n * G).fits, true);
  const r = check(ch, host, 1012n * G);
  assert.equal(r.fits, false);
  assert.deepEqual(r.conflicts[0]!.failure.lines, [
    'Error booting VM: VmBoot(DeviceManager(VfioDmaMap(IommuDmaMap(Error(22)))))',
  ]);
  const plan = planLayout(ch, { memory: 1100n * G, options: {} }, host, r.groups);
  assert.equal(plan.largest?.layout.memory, 1011n * G);
  assert.equal(plan.largest?.commandLine, '--memory size=1011G');
});

test('#21 HP DL388p Gen8 RMRRs: guest RAM over a direct region; QEMU x86 cannot avoid [0, 16 MiB)', () => {
  const host = dumpHost('hp-dl388p-gen8-group19.txt', 'x86_64', 19);
  const q35 = model('qemu', 'q35');
  const r = check(q35, host, 4n * G);
  assert.equal(r.fits, false);
  const names = r.conflicts.flatMap((c) => c.causes.map((x) => (x.kind === 'region' ? x.region.start : -1n)));
  assert.ok(names.includes(0n));
  assert.ok(names.includes(0xbdf6e000n) === false); // q35 with 4 GiB keeps only 2 GiB low
  const plan = planLayout(q35, { memory: 4n * G, options: {} }, host, r.groups);
  assert.equal(plan.largest, undefined);
});
