/**
 * Oracle conformance of the presets through the sysfs export: for every preset that mirrors an oracle
 * machine and every kernel the oracle ran it with, export the sysfs tree, run the oracle guest's own
 * dump procedure (guest/init dump_groups and the PCI loop) over it, and compare the output byte for
 * byte with the boot-time sections of the oracle capture: group numbers, types, members
 * (bdf/vendor/devid/class/driver), reserved_regions bytes and the PCI lines (with group=none).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { hostViewFromPlatform } from '../../src/host/from-platform.js';
import { memoryReader, sysfsTreeFromHostView } from '../../src/host/sysfs-tree.js';
import type { SysfsReader } from '../../src/host/sysfs-tree.js';
import { kernelProfile } from '../../src/kernel/profile.js';
import { loadPreset } from '../../src/platform/presets.js';
import { ORACLE_PRESETS } from '../oracle/machines.js';
import { ORACLE_SCENARIOS, oracleAvailable, oraclePath, readOracle } from '../oracle/oracle-file.js';

const base = (p: string) =>
  p
    .split('/')
    .filter((s) => s !== '')
    .pop()!;

/** guest/init: dump_groups boot, then the PCI loop, over a sysfs tree. */
function guestDump(r: SysfsReader): string {
  let s = '';
  const groups = (r.list('kernel/iommu_groups') ?? []).sort((a, b) => Number(a) - Number(b));
  if (groups.length === 0) s += 'GROUPS none\n';
  for (const g of groups) {
    const d = `kernel/iommu_groups/${g}`;
    s += `GROUP ${g} type=${(r.readText(`${d}/type`) ?? '(no type file)').replace(/\n$/, '')}\n`;
    for (const dev of r.list(`${d}/devices`) ?? []) {
      const dd = `${d}/devices/${dev}`;
      const drv = r.readlink(`${dd}/driver`);
      const cat = (f: string) => (r.readText(`${dd}/${f}`) ?? '').replace(/\n$/, '');
      s += `GROUP ${g} device=${dev} vendor=${cat('vendor')} devid=${cat('device')} class=${cat('class')} driver=${drv ? base(drv) : 'none'}\n`;
    }
    s += `RESV_BEGIN ${g}\n${r.readText(`${d}/reserved_regions`) ?? ''}RESV_END ${g}\n`;
  }
  for (const b of r.list('bus/pci/devices') ?? []) {
    const d = `bus/pci/devices/${b}`;
    const drv = r.readlink(`${d}/driver`);
    const grp = r.readlink(`${d}/iommu_group`);
    const cat = (f: string) => (r.readText(`${d}/${f}`) ?? '').replace(/\n$/, '');
    s += `PCI ${b} vendor=${cat('vendor')} devid=${cat('device')} class=${cat('class')} driver=${drv ? base(drv) : 'none'} group=${grp ? base(grp) : 'none'}\n`;
  }
  return s;
}

/** The boot-time group dump and PCI section of a capture, verbatim. */
function oracleBootText(path: string): string {
  const lines = readFileSync(path, 'utf8').split('\n');
  const from = lines.indexOf('SECTION iommu_groups phase=boot');
  const to = lines.findIndex((l, i) => i > from && l.startsWith('SECTION ') && l !== 'SECTION pci');
  assert.ok(from >= 0 && to > from, `${path}: boot sections not found`);
  return (
    lines
      .slice(from + 1, to)
      .filter((l) => l !== 'SECTION pci')
      .join('\n') + '\n'
  );
}

for (const { scenario, kernels } of ORACLE_SCENARIOS) {
  for (const kernel of kernels) {
    const preset = ORACLE_PRESETS[scenario]!;
    test(`${preset} exported for ${kernel} reads like the oracle's ${scenario} boot dump`, () => {
      assert.ok(oracleAvailable(scenario, kernel), `missing capture ${oraclePath(scenario, kernel)}`);
      const view = hostViewFromPlatform(loadPreset(preset), kernelProfile(kernel));
      const got = guestDump(memoryReader(sysfsTreeFromHostView(view)));
      assert.equal(got, oracleBootText(oraclePath(scenario, kernel)));
    });
  }
}

test('every oracle machine has a preset', () => {
  for (const { scenario } of ORACLE_SCENARIOS) assert.ok(ORACLE_PRESETS[scenario], scenario);
});

/** The first VFIO_IOMMU_GET_INFO's IOVA_RANGE entries of a capture (consecutive idx from 0). */
function firstRanges(
  ranges: readonly { fields: Readonly<Record<string, string>> }[],
): { start: bigint; end: bigint }[] {
  const out: { start: bigint; end: bigint }[] = [];
  for (const r of ranges) {
    const idx = Number(r.fields['idx']);
    if (idx !== out.length) break;
    out.push({ start: BigInt(r.fields['start']!), end: BigInt(r.fields['end']!) });
  }
  return out;
}

for (const { scenario, kernels } of ORACLE_SCENARIOS) {
  for (const kernel of kernels) {
    const preset = ORACLE_PRESETS[scenario]!;
    test(`${preset} (${kernel}): usable ranges and interrupt safety of the probed group match ${scenario}`, () => {
      const o = readOracle(scenario, kernel);
      const probed = Number(o.info.find((i) => i.fields['group'] !== undefined)!.fields['group']);
      const view = hostViewFromPlatform(loadPreset(preset), kernelProfile(kernel));
      const g = view.groups.find((x) => x.id === probed)!;
      assert.ok(g, `group ${probed}`);
      assert.deepEqual(g.usable, firstRanges(o.ranges), 'VFIO IOVA_RANGE capability');
      const param = o.info.find((i) => i.fields['param_allow_unsafe_interrupts'] !== undefined);
      const setIommu = o.cases.find((c) => c.name === 'set_iommu_type1v2')!;
      if (param?.fields['param_allow_unsafe_interrupts'] === 'N') {
        assert.equal(
          g.interruptSafety!.safe,
          setIommu.fields['errno'] === '0',
          'SET_IOMMU with allow_unsafe_interrupts=N',
        );
      } else {
        // The module parameter was set before the first attach: the attach succeeds whatever the platform.
        assert.equal(setIommu.fields['errno'], '0');
        assert.equal(
          g.interruptSafety!.safe,
          false,
          'the scenario sets allow_unsafe_interrupts because it is needed',
        );
      }
      assert.equal(g.assignable!.ok, true, 'the oracle assigned this group');
    });
  }
}
