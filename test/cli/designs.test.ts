/** `iovamap designs` end to end, as a subprocess. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from './run-cli.js';

test('designs compare on the ARM preset prints every design with its calls and failures', () => {
  const r = runCli([
    'designs',
    'compare',
    '--platform',
    'qemu-virt-smmuv3-gicv3',
    '--vmm',
    'qemu-virt',
    '--memory',
    '4G',
  ]);
  assert.equal(r.status, 0, r.stderr);
  for (const n of ['virtual-doorbell', 'msi-geometry', 'msi-resv', 'resv-iova-range', 'merged-4.11', 'today'])
    assert.match(r.stdout, new RegExp(`^== ${n}:`, 'm'));
  assert.match(r.stdout, /VFIO_IOMMU_MAP_DMA\(RESERVED_MSI_IOVA, iova=0x1000, size=0x1000\) -> 0/);
  assert.match(
    r.stdout,
    /ignoring it \(RAM bank over 0x8000000\): MAP_DMA refused \[0x8000000-0x81fffff\]; MSI-X 4\/4 delivered/,
  );
  assert.match(r.stdout, /4\.11 reported it only by a WARN/);
});

test('designs compare on the HiSilicon-like preset names the HW MSI window the donating designs cannot report', () => {
  const r = runCli(['designs', 'compare', '--platform', 'hisilicon-hi1616-like', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const rows = JSON.parse(r.stdout) as {
    design: string;
    cannotExpress: { region: { start: string } }[];
    ramWorks: boolean;
  }[];
  const resv = rows.find((x) => x.design === 'msi-resv')!;
  assert.ok(resv.cannotExpress.some((f) => f.region.start === '0xc6010000'));
  assert.equal(rows.find((x) => x.design === 'today')!.ramWorks, false);
});

test('designs list shows verified and reconstructed details; a bad action is a usage error', () => {
  const r = runCli(['designs', 'list']);
  assert.equal(r.status, 0);
  assert.match(r.stdout, /resv-iova-range: .*\n(.*\n)*? {2}reconstructed: capability layout/);
  const bad = runCli(['designs', 'frobnicate']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /choose list, compare or run/);
});
