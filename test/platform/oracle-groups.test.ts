/**
 * Groups and reserved_regions of every oracle machine and kernel, compared byte for byte with the
 * first dump (at boot) of the oracle captures (test/oracle/oracle-file.ts finds them).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { IntervalSet } from '../../src/base/interval-set.js';
import { hex16 } from '../../src/base/u64.js';
import { ResvType } from '../../src/iommu/resv-region.js';
import { buildPlatform } from '../../src/platform/build.js';
import { kernelProfile } from '../../src/kernel/profile.js';
import { domainTypeSysfs } from '../../src/iommu/api.js';
import { ORACLE_MACHINES } from '../oracle/machines.js';
import {
  ORACLE_SCENARIOS,
  formatGroupLines,
  hex4,
  hex6,
  oracleAvailable,
  oraclePath,
  readOracle,
  type OracleDump,
} from '../oracle/oracle-file.js';
import type { PlatformModel } from '../../src/platform/build.js';

function modelDump(m: PlatformModel): OracleDump {
  const core = m.iommu;
  return {
    groups: core.groups().map((g) => ({
      id: g.id,
      type: domainTypeSysfs(g.defaultDomainType),
      devices: g.devices.map((d) => ({
        bdf: d.bdf,
        vendor: d.vendor,
        devid: d.deviceId,
        class: d.class,
        driver: d.driver,
      })),
      resv: core.reservedRegionsText(g),
    })),
  };
}

function resvBlocks(d: OracleDump): string {
  return d.groups.map((g) => `RESV_BEGIN ${g.id}\n${g.resv}RESV_END ${g.id}\n`).join('');
}

for (const { scenario, kernels } of ORACLE_SCENARIOS) {
  for (const k of kernels) {
    const skip = !oracleAvailable(scenario, k) ? 'oracle capture not available' : false;
    test(`oracle ${scenario} (${k}): GROUP lines and RESV blocks at boot`, { skip }, () => {
      const oracle = readOracle(scenario, k);
      const model = buildPlatform(ORACLE_MACHINES[scenario]!(), kernelProfile(k));
      const want = oracle.dumps[0]!;
      const got = modelDump(model);
      assert.equal(formatGroupLines(got), formatGroupLines(want));
      assert.equal(resvBlocks(got), resvBlocks(want));
    });
    test(`oracle ${scenario} (${k}): PCI lines (group=none for devices without a group)`, { skip }, () => {
      const oracle = readOracle(scenario, k);
      const model = buildPlatform(ORACLE_MACHINES[scenario]!(), kernelProfile(k));
      const got = model.iommu
        .devices()
        .map(
          (d) =>
            `PCI ${d.bdf} vendor=${hex4(d.vendor)} devid=${hex4(d.deviceId)} class=${hex6(d.class)} driver=${d.driver} group=${d.groupId ?? 'none'}`,
        )
        .join('\n');
      const want = oracle.pci
        .map(
          (p) =>
            `PCI ${p.bdf} vendor=${hex4(p.vendor)} devid=${hex4(p.devid)} class=${hex6(p.class)} driver=${p.driver} group=${p.group ?? 'none'}`,
        )
        .join('\n');
      assert.equal(got, want);
    });
  }
}

for (const { scenario, kernels } of ORACLE_SCENARIOS) {
  for (const k of kernels) {
    const skip = !oracleAvailable(scenario, k) ? 'oracle capture not available' : false;
    test(
      `oracle ${scenario} (${k}): groups after the NIC moves from its driver to vfio-pci`,
      { skip },
      () => {
        const oracle = readOracle(scenario, k);
        const model = buildPlatform(ORACLE_MACHINES[scenario]!(), kernelProfile(k));
        const core = model.iommu;
        const nic = core.devices().find((d) => d.driver === 'e1000e')!;
        core.unbindDriver(nic);
        assert.equal(core.bindDriver(nic, 'vfio-pci'), 0);
        const want = oracle.dumps[1]!;
        const got = modelDump(model);
        assert.equal(formatGroupLines(got), formatGroupLines(want));
        assert.equal(resvBlocks(got), resvBlocks(want));
      },
    );

    test(
      `oracle ${scenario} (${k}): aperture minus reserved regions gives the type1 IOVA ranges; page sizes`,
      { skip },
      () => {
        const oracle = readOracle(scenario, k);
        const model = buildPlatform(ORACLE_MACHINES[scenario]!(), kernelProfile(k));
        const core = model.iommu;
        const nic = core.devices().find((d) => d.driver === 'e1000e')!;
        const group = core.groupOf(nic)!;
        const ap = core.aperture(nic)!;
        let usable = IntervalSet.of([ap]);
        for (const r of core.groupResvRegions(group)) {
          if (r.type === ResvType.DirectRelaxable) continue;
          usable = usable.subtract({ start: r.start, end: r.start + r.length - 1n });
        }
        // The first RANGE block of the capture (probe_full GET_INFO, before any mapping).
        const first: string[] = [];
        for (const r of oracle.ranges) {
          if (r.fields['tag'] !== undefined) continue;
          if (r.fields['idx'] === '0' && first.length > 0) break;
          first.push(`${r.fields['start']}-${r.fields['end']}`);
        }
        assert.deepEqual(
          usable.ranges.map((r) => `${hex16(r.start)}-${hex16(r.end)}`),
          first,
        );
        const pg = oracle.info.find((i) => i.fields['iova_pgsizes'] !== undefined)!.fields['iova_pgsizes'];
        const dom = core.allocPagingDomain(nic);
        assert.ok(dom.ok);
        assert.equal('0x' + dom.value.pgsizeBitmap.toString(16), pg);
      },
    );

    test(`oracle ${scenario} (${k}): interrupt isolation as VFIO saw it`, { skip }, () => {
      const text = readFileSync(oraclePath(scenario, k), 'utf8');
      const unsafe = text.includes('No interrupt remapping support');
      const model = buildPlatform(ORACLE_MACHINES[scenario]!(), kernelProfile(k));
      const core = model.iommu;
      const nic = core.devices().find((d) => d.driver === 'e1000e')!;
      // The unsafe-param scenario sets allow_unsafe_interrupts before attaching, so it never logs.
      const expectSafe = !unsafe && scenario !== 'arm64-smmuv3-gicv2-unsafe-param';
      assert.equal(core.groupHasIsolatedMsi(core.groupOf(nic)!), expectSafe);
    });
  }
}

for (const { scenario, kernels } of ORACLE_SCENARIOS) {
  for (const k of kernels) {
    const skip = !oracleAvailable(scenario, k) ? 'oracle capture not available' : false;
    test(
      `oracle ${scenario} (${k}): enforce_cache_coherency of a VFIO domain = CHECK_EXTENSION(DMA_CC) after SET_IOMMU`,
      { skip },
      () => {
        const oracle = readOracle(scenario, k);
        const cc = oracle.cases.find((c) => c.name === 'check_ext_after_DMA_CC');
        assert.ok(cc, 'capture has check_ext_after_DMA_CC');
        const core = buildPlatform(ORACLE_MACHINES[scenario]!(), kernelProfile(k)).iommu;
        const nic = core.devices().find((d) => d.driver === 'e1000e')!;
        const dom = core.allocPagingDomain(nic);
        assert.ok(dom.ok);
        assert.equal(dom.value.enforceCacheCoherency ? '1' : '0', cc.fields['rc']);
      },
    );
  }
}
