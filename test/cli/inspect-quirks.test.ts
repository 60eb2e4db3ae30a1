/** `iovamap inspect` names the kernel PCI quirk (drivers/pci/quirks.c) that decided how a group formed. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from './run-cli.js';

const PCI_IDS = fileURLToPath(new URL('../../../test/host/fixtures/pci.ids', import.meta.url));
const PRESETS = fileURLToPath(new URL('../../../presets/', import.meta.url));
const env = { IOVAMAP_PCI_IDS: PCI_IDS };

test('inspect: PCH root port isolation is credited to pci_quirk_intel_pch_acs (text and JSON)', () => {
  const t = runCli(['inspect', '--platform', 'intel-xeon-hpe-rmrr'], { env });
  assert.equal(t.status, 0, t.stderr);
  assert.match(
    t.stdout,
    /\n {2}grouping: 0000:00:1c\.7 ACS: kernel quirk pci_quirk_intel_pch_acs \(isolated\)\n/,
  );
  assert.match(t.stdout, /grouping: 0000:08:00\.0 ACS: kernel quirk pci_quirk_mf_endpoint_acs/);
  const j = JSON.parse(runCli(['inspect', '--platform', 'intel-xeon-hpe-rmrr', '--json'], { env }).stdout);
  const ilo = j.groups.find((g: { devices: { bdf: string }[] }) =>
    g.devices.some((d) => d.bdf === '0000:01:00.2'),
  );
  assert.deepEqual(ilo.quirks, ['0000:00:1c.7 ACS: kernel quirk pci_quirk_intel_pch_acs (isolated)']);
});

test('inspect: the QEMU oracle machine shows no quirk lines', () => {
  const t = runCli(['inspect', '--platform', 'qemu-q35-intel-iommu'], { env });
  assert.equal(t.status, 0, t.stderr);
  assert.doesNotMatch(t.stdout, /grouping:/);
});

test('inspect: a Marvell 88SE9123 in a user platform is one group through quirk_dma_func1_alias', () => {
  const dir = mkdtempSync(join(tmpdir(), 'iovamap-quirks-'));
  try {
    const base = readFileSync(join(PRESETS, 'qemu-q35-intel-iommu.yaml'), 'utf8');
    const extra = [
      '  - { bdf: "00:03.0", vendor: 0x1b36, device: 0x000c, class: 0x060400, driver: pcieport, acs: true, bridge: { secondary: 1, subordinate: 1 } }',
      '  - { bdf: "01:00.0", vendor: 0x1b4b, device: 0x9123, class: 0x010601, driver: ahci, acs: true }',
      '  - { bdf: "01:00.1", vendor: 0x1b4b, device: 0x91a4, class: 0x01018f, driver: pata_marvell, acs: true }',
    ].join('\n');
    const text = base
      .replace(/^name: .*$/m, 'name: q35-marvell')
      .replace(/^firmwareTables:/m, `${extra}\nfirmwareTables:`);
    const file = join(dir, 'marvell.yaml');
    writeFileSync(file, text);
    const r = runCli(['inspect', '--platform', file, '--json'], { env });
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    const g = j.groups.find((x: { devices: { bdf: string }[] }) =>
      x.devices.some((d) => d.bdf === '0000:01:00.0'),
    );
    assert.deepEqual(
      g.devices.map((d: { bdf: string }) => d.bdf),
      ['0000:01:00.0', '0000:01:00.1'],
    );
    assert.deepEqual(g.quirks, [
      '0000:01:00.0 DMA alias: kernel quirk quirk_dma_func1_alias: requester IDs 01:00.1',
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('NO_BUS_RESET quirks: no bus reset below a bridge whose bus holds an ASM1164 (inspect, and VFIO answers ENODEV)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'iovamap-quirks-'));
  try {
    const base = readFileSync(join(PRESETS, 'qemu-q35-intel-iommu.yaml'), 'utf8');
    const extra = [
      '  - { bdf: "00:03.0", vendor: 0x1b36, device: 0x000c, class: 0x060400, driver: pcieport, acs: true, bridge: { secondary: 1, subordinate: 1 } }',
      '  - { bdf: "01:00.0", vendor: 0x1b21, device: 0x1164, class: 0x010601, driver: ahci, acs: true }',
      '  - { bdf: "00:04.0", vendor: 0x1b36, device: 0x000c, class: 0x060400, driver: pcieport, acs: true, bridge: { secondary: 2, subordinate: 2 } }',
      '  - { bdf: "02:00.0", vendor: 0x1b21, device: 0x1166, class: 0x010601, driver: ahci, acs: true }',
    ].join('\n');
    const file = join(dir, 'asm.yaml');
    writeFileSync(
      file,
      base.replace(/^name: .*$/m, 'name: q35-asm').replace(/^firmwareTables:/m, `${extra}\nfirmwareTables:`),
    );
    const r = runCli(['inspect', '--platform', file, '--json'], { env });
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout) as {
      groups: { busResets: { bdf: string; bridge: string | null; noBusReset: unknown }[] }[];
    };
    const resets = j.groups.flatMap((g) => g.busResets);
    const of = (bdf: string) => resets.find((x) => x.bdf === bdf)!;
    assert.deepEqual(of('0000:01:00.0').noBusReset, { bdf: '0000:01:00.0', quirk: 'quirk_no_bus_reset' });
    assert.equal(of('0000:02:00.0').noBusReset, null, 'the ASM1166 is not in the table');
    const text = runCli(['inspect', '--platform', file], { env }).stdout;
    assert.match(
      text,
      /none below 0000:00:03\.0: quirk_no_bus_reset marks 0000:01:00\.0 as breaking on a bus reset \(PCI_DEV_FLAGS_NO_BUS_RESET\), so VFIO_DEVICE_PCI_HOT_RESET answers ENODEV/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
