/**
 * The kernel's PCI quirks that change IOMMU groups (drivers/pci/quirks.c): for each quirk family, a
 * small machine and the groups pci_device_group forms with the quirk and without it (the same machine
 * with a device ID the quirk tables do not list, or with the machine fact the quirk needs missing).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PciTopology } from '../../src/pci/topology.js';
import { groupIds } from './groups.js';
import {
  DEFAULT_QUIRK_ENV,
  type QuirkEnv,
  dmaAliasFixups,
  pciDevSpecificAcsEnabled,
} from '../../src/pci/quirks.js';
import { ACS_QUIRKS, DMA_ALIAS_QUIRKS, INTEL_PCH_ACS_IDS } from '../../src/pci/quirk-tables.js';
import type { HostBridgeDescription, PciDeviceDescription } from '../../src/platform/types.js';
import { hostViewFromPlatform } from '../../src/host/from-platform.js';
import { loadPreset } from '../../src/platform/presets.js';
import { kernelProfile } from '../../src/kernel/profile.js';
import { ORACLE_PRESETS } from '../oracle/machines.js';

const HB = (acs: boolean): HostBridgeDescription => ({
  id: 'hb',
  segment: 0,
  buses: [0, 255],
  windows: [],
  dmaRanges: [],
  msiParent: 'ic',
  acs,
});

const fnc = (
  bdf: string,
  vendor: number,
  device: number,
  extra: Partial<PciDeviceDescription> = {},
): PciDeviceDescription => ({ bdf, vendor, device, class: 0x020000, driver: 'none', pcie: true, ...extra });

const port = (
  bdf: string,
  vendor: number,
  device: number,
  secondary: number,
  extra: Partial<PciDeviceDescription> = {},
): PciDeviceDescription => ({
  bdf,
  vendor,
  device,
  class: 0x060400,
  driver: 'pcieport',
  pcie: true,
  bridge: { secondary, subordinate: secondary },
  ...extra,
});

/** Groups in add order as the IOMMU core forms them: each group as its sorted short BDFs. */
function groups(devs: PciDeviceDescription[], hbAcs = true, env: QuirkEnv = DEFAULT_QUIRK_ENV): string[][] {
  const topo = new PciTopology(devs, [HB(hbAcs)], env);
  const out: string[][] = [];
  for (const [bdf, id] of groupIds(topo)) (out[id] ??= []).push(bdf.slice(5));
  return out.map((m) => m.sort());
}

const groupOf = (gs: string[][], bdf: string): string[] => gs.find((m) => m.includes(bdf)) ?? [];

// ---- DMA-alias quirks -------------------------------------------------------------------------

test('quirk_dma_func1_alias: the two functions of a Marvell 88SE9123 share one group even with ACS', () => {
  // Both functions carry an ACS capability, so only the alias (function 0 DMAs as function 1) ties them.
  const machine = (sataDevice: number) => [
    port('00:01.0', 0x8086, 0x3c02, 1, { acs: true }),
    fnc('01:00.0', 0x1b4b, sataDevice, { class: 0x010601, acs: true }),
    fnc('01:00.1', 0x1b4b, 0x91a4, { class: 0x01018f, acs: true }),
  ];
  assert.deepEqual(groupOf(groups(machine(0x9123)), '01:00.0'), ['01:00.0', '01:00.1']);
  // 0x9171 is not in the quirk table: no alias, two groups.
  assert.deepEqual(groupOf(groups(machine(0x9171)), '01:00.0'), ['01:00.0']);
});

test('quirk_dma_func1_alias: a ghost function 1 becomes the requester ID the IOMMU sees', () => {
  const topo = new PciTopology(
    [port('00:01.0', 0x8086, 0x3c02, 2, { acs: true }), fnc('02:00.0', 0x1b4b, 0x9123, { class: 0x010601 })],
    [HB(true)],
  );
  const d = topo.get('02:00.0')!;
  assert.deepEqual(
    topo.dmaAliases(d).map((a) => [a.dev.bdf, a.rid]),
    [
      ['0000:02:00.0', 0x0200],
      ['0000:02:00.0', 0x0201],
    ],
  );
  assert.equal(topo.visibleRequesterId(d), 0x0201);
  assert.match(topo.quirkReasons(d).join(), /quirk_dma_func1_alias: requester IDs 02:00\.1/);
  // Function 1 itself gets no alias (the fixup skips the function it points at).
  assert.deepEqual(
    dmaAliasFixups({
      vendor: 0x1b4b,
      device: 0x9123,
      devfn: 1,
      pcie: true,
      type: 'endpoint',
      isBridge: false,
      multifunction: true,
      onRootBus: false,
      acsCap: false,
    }).aliasDevfns,
    [],
  );
});

test('quirk_dma_func0_alias: a Ricoh card reader function DMAs as function 0 and joins its group', () => {
  const machine = (readerDevice: number) => [
    port('00:1c.0', 0x8086, 0x3c02, 3, { acs: true }),
    fnc('03:00.0', 0x1180, 0xe822, { class: 0x080500, acs: true }),
    fnc('03:00.3', 0x1180, readerDevice, { class: 0x0c0010, acs: true }),
  ];
  assert.deepEqual(groupOf(groups(machine(0xe832)), '03:00.3'), ['03:00.0', '03:00.3']);
  assert.deepEqual(groupOf(groups(machine(0xe833)), '03:00.3'), ['03:00.3']);
});

test('quirk_fixed_dma_alias: Adaptec 3405 DMAs as the hidden device 01.0, only with its subsystem IDs', () => {
  const topo = (sub: number) =>
    new PciTopology(
      [fnc('05:0e.0', 0x9005, 0x0285, { class: 0x010400, subsystemVendor: 0x9005, subsystemDevice: sub })],
      [HB(true)],
    );
  const t1 = topo(0x02bb);
  assert.deepEqual(
    t1.dmaAliases(t1.get('05:0e.0')!).map((a) => a.rid),
    [0x0570, 0x0508],
  );
  const t2 = topo(0x0999);
  assert.deepEqual(
    t2.dmaAliases(t2.get('05:0e.0')!).map((a) => a.rid),
    [0x0570],
  );
});

test('quirk_use_pcie_bridge_dma_alias: an ASM1083 without a PCIe capability aliases like a PCIe-to-PCI bridge', () => {
  const machine = (bridgeVendor: number, bridgeDevice: number) =>
    new PciTopology(
      [
        port('00:1c.0', 0x8086, 0x1d10, 1),
        port('01:00.0', bridgeVendor, bridgeDevice, 2, { pcie: false }),
        fnc('02:03.0', 0x10ec, 0x8139, { pcie: false }),
      ],
      [HB(true)],
    );
  const q = machine(0x1b21, 0x1080);
  const d = q.get('02:03.0')!;
  // pci_for_each_dma_alias: the device, then the bridge with (secondary bus 2, devfn 0).
  assert.deepEqual(
    q.dmaAliases(d).map((a) => [a.dev.bdf, a.rid]),
    [
      ['0000:02:03.0', 0x0218],
      ['0000:01:00.0', 0x0200],
    ],
  );
  // Another conventional bridge forwards with its own requester ID.
  const p = machine(0x104c, 0xac23);
  assert.deepEqual(
    p.dmaAliases(p.get('02:03.0')!).map((a) => a.rid),
    [0x0218, 0x0100],
  );
});

test('quirk_bridge_cavm_thrx2_pcie_root: the alias walk stops at the flagged bridge', () => {
  const machine = (vendor: number) =>
    new PciTopology(
      [
        port('00:01.0', vendor, 0x9084, 1, { bridge: { secondary: 1, subordinate: 1, pcieToPci: true } }),
        fnc('01:02.0', 0x10ec, 0x8139, { pcie: false }),
      ],
      [HB(true)],
    );
  const q = machine(0x14e4);
  assert.deepEqual(
    q.dmaAliases(q.get('01:02.0')!).map((a) => a.rid),
    [0x0110],
  );
  const p = machine(0x1af4);
  assert.deepEqual(
    p.dmaAliases(p.get('01:02.0')!).map((a) => a.rid),
    [0x0110, 0x0100],
  );
});

test('quirk_mic_x200_dma_alias and quirk_pex_vca_alias: fixed sets of NTB requester IDs', () => {
  const base = {
    devfn: 0,
    pcie: true,
    type: 'endpoint' as const,
    isBridge: false,
    multifunction: false,
    onRootBus: false,
    acsCap: false,
  };
  assert.deepEqual(
    dmaAliasFixups({ ...base, vendor: 0x8086, device: 0x2260 }).aliasDevfns,
    [0x80, 0x88, 0x93],
  );
  const vca = dmaAliasFixups({ ...base, vendor: 0x8086, device: 0x2954 }).aliasDevfns;
  assert.equal(vca.length, 32 * 5);
  assert.ok(vca.every((df) => (df & 7) <= 4));
});

test('quirk_plx_ntb_dma_alias: a PLX NTB aliases every devfn of its bus, so its bus is one group', () => {
  // An NT endpoint and a DMA function of a PLX switch, both with ACS: only the alias ties them.
  const machine = (ntbDevice: number) => [
    port('00:01.0', 0x8086, 0x3c02, 4, { acs: true }),
    fnc('04:00.0', 0x10b5, ntbDevice, { class: 0x068000, acs: true }),
    fnc('04:00.1', 0x10b5, 0x87d0, { class: 0x088000, acs: true }),
  ];
  assert.deepEqual(groupOf(groups(machine(0x87b0)), '04:00.0'), ['04:00.0', '04:00.1']);
  assert.deepEqual(groupOf(groups(machine(0x8725)), '04:00.0'), ['04:00.0']);
});

// ---- ACS quirks -------------------------------------------------------------------------------

/** Two PCH root ports in slot 1c (a multifunction slot) without ACS capability, a NIC behind each. */
const pchMachine = (rp0: number, rp7: number) => [
  port('00:1c.0', 0x8086, rp0, 1, { acs: false }),
  port('00:1c.7', 0x8086, rp7, 2, { acs: false }),
  fnc('01:00.0', 0x10ec, 0x8168),
  fnc('02:00.0', 0x10ec, 0x8168),
];

test('pci_quirk_intel_pch_acs: devices behind listed PCH root ports get separate groups', () => {
  // Patsburg 1d10/1d1e: ACS-like isolation once pci_quirk_enable_intel_pch_acs ran.
  assert.deepEqual(groups(pchMachine(0x1d10, 0x1d1e), false), [
    ['00:1c.0'],
    ['00:1c.7'],
    ['01:00.0'],
    ['02:00.0'],
  ]);
  // 1d11 and 1d1f are not in the list (Patsburg has only even IDs there): one group for all.
  assert.deepEqual(groups(pchMachine(0x1d11, 0x1d1f), false), [['00:1c.0', '00:1c.7', '01:00.0', '02:00.0']]);
});

test('pci_quirk_intel_pch_acs: without an IOMMU requesting ACS the quirk answers "not isolated"', () => {
  const noIommu: QuirkEnv = { acsRequested: false, ivrs: false };
  assert.deepEqual(groups(pchMachine(0x1d10, 0x1d1e), false, noIommu), [
    ['00:1c.0', '00:1c.7', '01:00.0', '02:00.0'],
  ]);
  // The quirk answers even when the description claims an ACS capability: the quirk wins.
  const topo = new PciTopology([port('00:1c.0', 0x8086, 0x1d10, 1, { acs: true })], [HB(true)], noIommu);
  const rp = topo.get('00:1c.0')!;
  assert.equal(topo.acsByCapability(rp), true);
  assert.equal(topo.acsEnabled(rp), false);
  assert.deepEqual(topo.acsQuirk(rp), { enabled: false, fn: 'pci_quirk_intel_pch_acs' });
});

test('pci_quirk_intel_spt_pch_acs: Sunrise Point root ports answer from their capability', () => {
  const t = (acs: boolean) => new PciTopology([port('00:1c.0', 0x8086, 0xa110, 1, { acs })], [HB(false)]);
  const withCap = t(true);
  assert.deepEqual(withCap.acsQuirk(withCap.get('00:1c.0')!), {
    enabled: true,
    fn: 'pci_quirk_intel_spt_pch_acs',
  });
  // No ACS capability: the quirk does not answer (-ENOTTY) and the capability check says no.
  const noCap = t(false);
  assert.equal(noCap.acsQuirk(noCap.get('00:1c.0')!), undefined);
  assert.equal(noCap.acsEnabled(noCap.get('00:1c.0')!), false);
});

test('pci_quirk_mf_endpoint_acs: I350 functions get one group each; an unlisted NIC shares one', () => {
  const machine = (nic: number) => [
    port('00:01.0', 0x8086, 0x3c02, 8, { acs: true }),
    fnc('08:00.0', 0x8086, nic),
    fnc('08:00.1', 0x8086, nic),
  ];
  assert.deepEqual(groups(machine(0x1521)), [['00:01.0'], ['08:00.0'], ['08:00.1']]);
  assert.deepEqual(groups(machine(0x1533)), [['00:01.0'], ['08:00.0', '08:00.1']]);
});

test('pci_quirk_amd_sb_acs: SB functions on the root bus are isolated only when IVRS describes an AMD IOMMU', () => {
  const sb = [
    fnc('00:14.0', 0x1002, 0x4385, { pcie: false, class: 0x0c0500 }),
    fnc('00:14.1', 0x1002, 0x439c, { pcie: false, class: 0x01018a }),
  ];
  assert.deepEqual(groups(sb, true, { acsRequested: true, ivrs: true }), [['00:14.0'], ['00:14.1']]);
  assert.deepEqual(groups(sb, true, { acsRequested: true, ivrs: false }), [['00:14.0', '00:14.1']]);
});

test('pci_quirk_cavium_acs: ThunderX root ports without ACS capability still isolate what is below', () => {
  const machine = (rp: number) => [
    port('00:01.0', 0x177d, rp, 1, { acs: false }),
    fnc('01:00.0', 0x15b3, 0x1017),
  ];
  assert.deepEqual(groups(machine(0xa01c), false), [['00:01.0'], ['01:00.0']]);
  assert.deepEqual(groups(machine(0xa900), false), [['00:01.0', '01:00.0']]);
});

test('root-port ACS quirks (xgene/Ampere, qcom, nxp, brcm, al): the endpoint leaves the port group', () => {
  const cases: [number, number, string][] = [
    [0x1def, 0xe005, 'pci_quirk_xgene_acs'],
    [0x10e8, 0xe004, 'pci_quirk_xgene_acs'],
    [0x17cb, 0x0400, 'pci_quirk_qcom_rp_acs'],
    [0x1dbf, 0x0401, 'pci_quirk_qcom_rp_acs'],
    [0x1957, 0x8d81, 'pci_quirk_nxp_rp_acs'],
    [0x14e4, 0xd714, 'pci_quirk_brcm_acs'],
    [0x1c36, 0x0031, 'pci_quirk_al_acs'],
  ];
  for (const [v, d, fn] of cases) {
    const devs = [port('00:01.0', v, d, 1, { acs: false }), fnc('01:00.0', 0x15b3, 0x1017)];
    assert.deepEqual(groups(devs, false), [['00:01.0'], ['01:00.0']], fn);
    const topo = new PciTopology(devs, [HB(false)]);
    assert.equal(topo.acsQuirk(topo.get('00:01.0')!)?.fn, fn);
  }
});

test('pci_quirk_zhaoxin_pcie_ports_acs: listed ports isolate; other Zhaoxin ports are refused even with ACS', () => {
  const machine = (rp: number) => [
    port('00:01.0', 0x1d17, rp, 1, { acs: true }),
    fnc('01:00.0', 0x15b3, 0x1017),
  ];
  assert.deepEqual(groups(machine(0x0710), false), [['00:01.0'], ['01:00.0']]);
  // The quirk answers 0 for an unlisted root port: it wins over the declared capability.
  assert.deepEqual(groups(machine(0x0800), false), [['00:01.0', '01:00.0']]);
});

test('pci_quirk_wangxun_nic_acs: listed NIC functions isolate; unlisted ones are refused even with ACS', () => {
  const machine = (nic: number) => [
    port('00:01.0', 0x8086, 0x3c02, 1, { acs: true }),
    fnc('01:00.0', 0x8088, nic, { acs: true }),
    fnc('01:00.1', 0x8088, nic, { acs: true }),
  ];
  assert.deepEqual(groups(machine(0x1001)), [['00:01.0'], ['01:00.0'], ['01:00.1']]);
  assert.deepEqual(groups(machine(0x0200)), [['00:01.0'], ['01:00.0', '01:00.1']]);
});

test('pci_quirk_rciep_acs: Intel root-complex integrated multifunction endpoints are isolated', () => {
  const machine = (vendor: number) => [fnc('00:04.0', vendor, 0x2021), fnc('00:04.1', vendor, 0x2021)];
  assert.deepEqual(groups(machine(0x8086)), [['00:04.0'], ['00:04.1']]);
  assert.deepEqual(groups(machine(0x1af4)), [['00:04.0', '00:04.1']]);
});

test('pci_dev_specific_acs_enabled: the first entry that answers wins (table order)', () => {
  // An I350 function on a root bus is both in the mf-endpoint list and an Intel RCiEP: mf-endpoint first.
  const a = pciDevSpecificAcsEnabled({
    vendor: 0x8086,
    device: 0x1521,
    devfn: 0,
    pcie: true,
    type: 'rc-end',
    isBridge: false,
    multifunction: true,
    onRootBus: true,
    acsCap: false,
  });
  assert.deepEqual(a, { enabled: true, fn: 'pci_quirk_mf_endpoint_acs' });
  assert.ok(INTEL_PCH_ACS_IDS.has(0x1d1e) && !INTEL_PCH_ACS_IDS.has(0x1d1f));
  assert.ok(ACS_QUIRKS.length > 100 && DMA_ALIAS_QUIRKS.length > 20);
});

test('devices no quirk lists answer exactly as their ACS capability does', () => {
  // Vendor 0x1af4 (Red Hat virtio) appears in no quirk table: the quirk layer must change nothing.
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          dev: fc.integer({ min: 0, max: 3 }),
          fn: fc.integer({ min: 0, max: 7 }),
          acs: fc.boolean(),
        }),
        {
          minLength: 1,
          maxLength: 8,
        },
      ),
      fc.boolean(),
      (fs, hbAcs) => {
        const devs = [
          port('00:01.0', 0x1af4, 0x1000, 1),
          ...fs.map((f) =>
            fnc(`01:${f.dev.toString(16).padStart(2, '0')}.${f.fn}`, 0x1af4, 0x1041, { acs: f.acs }),
          ),
        ];
        const uniq = [...new Map(devs.map((d) => [d.bdf, d])).values()];
        const topo = new PciTopology(uniq, [HB(hbAcs)]);
        return topo
          .addOrder()
          .every((d) => topo.acsQuirk(d) === undefined && topo.quirkReasons(d).length === 0);
      },
    ),
  );
});

// ---- presets ----------------------------------------------------------------------------------

test('the oracle QEMU machines: no quirk decides anything, so their groups stay as the kernel printed', () => {
  for (const preset of new Set(Object.values(ORACLE_PRESETS)))
    for (const k of ['6.1', '6.12'] as const)
      for (const g of hostViewFromPlatform(loadPreset(preset), kernelProfile(k)).groups)
        assert.deepEqual(g.quirks, [], `${preset} ${k} group ${g.id}`);
});

test('intel-xeon-hpe-rmrr: PCH root ports isolate through pci_quirk_intel_pch_acs, the I350 through mf-endpoint', () => {
  const view = hostViewFromPlatform(loadPreset('intel-xeon-hpe-rmrr'));
  const g = (bdf: string) => view.groups.find((x) => x.devices.some((d) => d.bdf === bdf))!;
  // The iLO functions behind 1c.7 form their own group, apart from the ISA bridge's.
  assert.deepEqual(
    g('0000:01:00.2').devices.map((d) => d.bdf),
    ['0000:01:00.0', '0000:01:00.1', '0000:01:00.2', '0000:01:00.4'],
  );
  assert.notEqual(g('0000:01:00.0').id, g('0000:00:1f.0').id);
  assert.deepEqual(g('0000:01:00.0').quirks, [
    '0000:00:1c.7 ACS: kernel quirk pci_quirk_intel_pch_acs (isolated)',
  ]);
  assert.notEqual(g('0000:08:00.0').id, g('0000:08:00.1').id);
  assert.deepEqual(g('0000:08:00.1').quirks, [
    '0000:08:00.1 ACS: kernel quirk pci_quirk_mf_endpoint_acs (isolated)',
  ]);
  // The BCM5719 functions are not listed: they share a group.
  assert.equal(g('0000:03:00.0').id, g('0000:03:00.1').id);
});
