import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PciTopology } from '../../src/pci/topology.js';
import { groupIds } from './groups.js';
import type { HostBridgeDescription, PciDeviceDescription } from '../../src/platform/types.js';

const HB = (acs: boolean): HostBridgeDescription => ({
  id: 'hb',
  segment: 0,
  buses: [0, 255],
  windows: [],
  dmaRanges: [],
  msiParent: 'its',
  acs,
});

const ep = (bdf: string, pcie = true, extra: Partial<PciDeviceDescription> = {}): PciDeviceDescription => ({
  bdf,
  vendor: 0x8086,
  device: 0x1234,
  class: 0x020000,
  driver: 'none',
  pcie,
  ...extra,
});

const port = (
  bdf: string,
  secondary: number,
  subordinate: number,
  extra: Partial<PciDeviceDescription> = {},
): PciDeviceDescription => ({
  bdf,
  vendor: 0x8086,
  device: 0x7,
  class: 0x060400,
  driver: 'pcieport',
  pcie: true,
  bridge: { secondary, subordinate },
  ...extra,
});

/** Assign groups in add order like the core does; returns bdf -> group number. */
function groupsOf(devs: PciDeviceDescription[], acs: boolean): Map<string, number> {
  return groupIds(new PciTopology(devs, [HB(acs)]));
}

test('add order: bus 0 in devfn order, then each bridge subtree', () => {
  const topo = new PciTopology(
    [
      ep('0000:02:00.0'),
      port('0000:00:1c.0', 2, 2),
      ep('0000:00:02.0'),
      port('0000:00:01.0', 1, 1),
      ep('0000:01:00.0'),
    ],
    [HB(true)],
  );
  assert.deepEqual(
    topo.addOrder().map((d) => d.bdf),
    ['0000:00:01.0', '0000:00:02.0', '0000:00:1c.0', '0000:01:00.0', '0000:02:00.0'],
  );
});

test('root ports with ACS isolate their subtrees; without ACS the endpoint joins the port group', () => {
  const devs = [
    port('0000:00:01.0', 1, 1),
    ep('0000:01:00.0'),
    port('0000:00:02.0', 2, 2),
    ep('0000:02:00.0'),
  ];
  const withAcs = groupsOf(devs, true);
  assert.notEqual(withAcs.get('0000:01:00.0'), withAcs.get('0000:00:01.0'));
  assert.notEqual(withAcs.get('0000:01:00.0'), withAcs.get('0000:02:00.0'));
  const noAcs = groupsOf(devs, false);
  assert.equal(noAcs.get('0000:01:00.0'), noAcs.get('0000:00:01.0'));
  assert.equal(noAcs.get('0000:02:00.0'), noAcs.get('0000:00:02.0'));
  assert.notEqual(noAcs.get('0000:01:00.0'), noAcs.get('0000:02:00.0'));
});

test('multifunction endpoints without ACS share a group; with ACS they do not', () => {
  const noAcs = groupsOf([ep('0000:03:00.0'), ep('0000:03:00.1'), port('0000:00:01.0', 3, 3)], true);
  assert.equal(noAcs.get('0000:03:00.0'), noAcs.get('0000:03:00.1'));
  const acs = groupsOf(
    [
      ep('0000:03:00.0', true, { acs: true }),
      ep('0000:03:00.1', true, { acs: true }),
      port('0000:00:01.0', 3, 3),
    ],
    true,
  );
  assert.notEqual(acs.get('0000:03:00.0'), acs.get('0000:03:00.1'));
});

test('conventional multifunction functions on the root bus share a group (q35 ICH9 1f.x)', () => {
  const g = groupsOf(
    [
      ep('0000:00:00.0', false),
      ep('0000:00:1f.0', false),
      ep('0000:00:1f.2', false),
      ep('0000:00:1f.3', false),
    ],
    false,
  );
  assert.deepEqual(
    [...g.entries()],
    [
      ['0000:00:00.0', 0],
      ['0000:00:1f.0', 1],
      ['0000:00:1f.2', 1],
      ['0000:00:1f.3', 1],
    ],
  );
});

test('devices behind a PCIe-to-PCI bridge alias to (secondary bus, 00.0) and share the bridge group', () => {
  const devs = [
    port('0000:00:1e.0', 5, 5, { bridge: { secondary: 5, subordinate: 5, pcieToPci: true } }),
    ep('0000:05:01.0', false),
    ep('0000:05:02.0', false),
    port('0000:00:01.0', 1, 1),
    ep('0000:01:00.0'),
  ];
  const topo = new PciTopology(devs, [HB(true)]);
  const d = topo.get('0000:05:02.0')!;
  assert.deepEqual(
    topo.dmaAliases(d).map((a) => [a.dev.bdf, a.rid]),
    [
      ['0000:05:02.0', 0x0510],
      ['0000:00:1e.0', 0x0500],
    ],
  );
  assert.equal(topo.visibleRequesterId(d), 0x0500);
  const g = groupsOf(devs, true);
  assert.equal(g.get('0000:05:01.0'), g.get('0000:00:1e.0'));
  assert.equal(g.get('0000:05:02.0'), g.get('0000:00:1e.0'));
  assert.notEqual(g.get('0000:01:00.0'), g.get('0000:00:1e.0'));
});

test('a conventional PCI bridge forwards with its own requester ID', () => {
  const topo = new PciTopology(
    [ep('0000:00:1e.0', false, { bridge: { secondary: 6, subordinate: 6 } }), ep('0000:06:03.0', false)],
    [HB(true)],
  );
  assert.equal(topo.visibleRequesterId(topo.get('0000:06:03.0')!), 0x00f0);
});

test('ACS must hold on every bridge up to the root: a switch port without ACS merges its subtree', () => {
  const devs = [
    port('0000:00:01.0', 1, 3, { acs: true }),
    port('0000:01:00.0', 2, 3), // upstream switch port
    port('0000:02:01.0', 3, 3, { acs: false }), // downstream port without ACS
    ep('0000:03:00.0'),
    port('0000:02:02.0', 4, 4, { acs: true }),
  ];
  const g = groupsOf(devs, true);
  assert.equal(g.get('0000:03:00.0'), g.get('0000:02:01.0'));
});

test('port types follow the hierarchy: root, switch upstream, switch downstream', () => {
  const topo = new PciTopology(
    [port('0000:00:01.0', 1, 3), port('0000:01:00.0', 2, 3), port('0000:02:01.0', 3, 3), ep('0000:03:00.0')],
    [HB(true)],
  );
  assert.deepEqual(
    ['0000:00:01.0', '0000:01:00.0', '0000:02:01.0', '0000:03:00.0'].map((b) => topo.portType(topo.get(b)!)),
    ['root', 'upstream', 'downstream', 'endpoint'],
  );
  // A single-function upstream port counts as isolated (no ACS needed); the downstream port needs ACS.
  assert.equal(topo.acsEnabled(topo.get('0000:01:00.0')!), true);
  assert.equal(topo.acsEnabled(topo.get('0000:02:01.0')!), false);
});

test('any description gives a tree: random bridges never loop, every device gets a group', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          bus: fc.integer({ min: 0, max: 4 }),
          dev: fc.integer({ min: 0, max: 3 }),
          fn: fc.integer({ min: 0, max: 2 }),
          bridgeTo: fc.option(fc.integer({ min: 0, max: 4 })),
          pcie: fc.boolean(),
          acs: fc.option(fc.boolean()),
          pcieToPci: fc.boolean(),
        }),
        { maxLength: 25 },
      ),
      fc.boolean(),
      (specs, hbAcs) => {
        const seen = new Set<string>();
        const devs: PciDeviceDescription[] = [];
        for (const s of specs) {
          const bdf = `0000:0${s.bus}:0${s.dev}.${s.fn}`;
          if (seen.has(bdf)) continue;
          seen.add(bdf);
          devs.push(
            ep(bdf, s.pcie, {
              ...(s.acs !== null ? { acs: s.acs } : {}),
              ...(s.bridgeTo !== null
                ? { bridge: { secondary: s.bridgeTo, subordinate: s.bridgeTo, pcieToPci: s.pcieToPci } }
                : {}),
            }),
          );
        }
        const g = groupsOf(devs, hbAcs);
        assert.equal(g.size, devs.length);
      },
    ),
    { numRuns: 300 },
  );
});
