import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FdTable } from '../../src/vfio/pci/eventfd.js';
import { setIovaAllocatorFactory } from '../../src/dma-iommu/init-domain.js';
import { formatMsiTrace, summarizeMsiPath } from '../../src/irq/explain.js';
import { openVfioPciDevice, type VfioPciDevice } from '../../src/vfio/pci/vfio-pci.js';
import {
  VFIO_DEVICE_SET_IRQS,
  VFIO_IRQ_SET_ACTION_TRIGGER,
  VFIO_IRQ_SET_DATA_EVENTFD,
  VFIO_PCI_CONFIG_REGION_INDEX,
  encodeIrqSet,
  vfioPciIndexToOffset,
} from '../../src/uapi/vfio-device.js';
import {
  type Machine,
  NIC,
  type TestPlatform,
  domainOf,
  platform,
  secondNic,
  vfioAttach,
} from './machines.js';

const EVT = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
const CONFIG = vfioPciIndexToOffset(VFIO_PCI_CONFIG_REGION_INDEX);

interface Opened {
  readonly file: VfioPciDevice;
  readonly efd: number[];
  readonly fds: FdTable;
}

function open(p: TestPlatform, bdf: string, fds: FdTable, opts: { cookie?: boolean } = {}): Opened {
  vfioAttach(p, bdf, opts);
  const file = openVfioPciDevice({
    core: p.core,
    device: p.core.device(bdf)!,
    profile: p.core.profile,
    fabric: p.fabric,
    fds,
  }) as VfioPciDevice;
  // The user turns bus mastering on through the config region (the device needs it to send MSIs).
  const cmd = new Uint8Array(2);
  file.pread(CONFIG + 4n, cmd);
  cmd[0] = cmd[0]! | 0x4;
  file.pwrite(CONFIG + 4n, cmd);
  return { file, efd: [], fds };
}

/** Enables MSI-X (index 2) or MSI (index 1) with `n` fresh eventfds. */
function enable(o: Opened, index: 1 | 2, n: number): number {
  const fds = Array.from({ length: n }, () => o.fds.eventfd());
  o.efd.push(...fds);
  return o.file.ioctl(VFIO_DEVICE_SET_IRQS, encodeIrqSet({ flags: EVT, index, start: 0, count: n, fds }));
}

function count(o: Opened, v: number): bigint {
  return o.fds.eventFd(o.efd[v]!)!.count;
}

function msix(p: TestPlatform, bdf: string): { addr: bigint; data: number }[] {
  const m = p.fabric.pci(bdf)!.model;
  return Array.from({ length: 5 }, (_, i) => m.msixEntry(i));
}

function start(
  m: Machine,
  version: '6.1' | '6.12' = '6.12',
  opts: { cookie?: boolean } = {},
): { p: TestPlatform; nic: Opened } {
  const p = platform(m, version);
  const fds = new FdTable();
  const nic = open(p, NIC[m], fds, opts);
  return { p, nic };
}

test('GICv3 ITS + SMMUv3: every vector is programmed with 0x08000040 (SW_MSI base + the translater page offset)', () => {
  for (const v of ['6.1', '6.12'] as const) {
    const { p, nic } = start('arm64-smmuv3-gicv3', v);
    assert.equal(enable(nic, 2, 5), 0);
    const e = msix(p, NIC['arm64-smmuv3-gicv3']);
    assert.deepEqual(
      e.map((x) => [x.addr, x.data]),
      [0, 1, 2, 3, 4].map((i) => [0x0800_0040n, i]),
    );
    for (let i = 0; i < 5; i++) {
      const t = p.fabric.raise(NIC['arm64-smmuv3-gicv3'], i);
      assert.equal(t.outcome, 'delivered', t.why);
      assert.deepEqual(t.iommu, { kind: 'translated', paddr: 0x0809_0040n, prot: 0x1a });
      assert.equal(count(nic, i), 1n);
    }
  }
});

test('MSI_SUMMARY addresses/data per platform (MSI-X vectors 0..4)', () => {
  const expect: Record<string, [bigint, number][]> = {
    'arm64-smmuv3-gicv2': [0x50, 0x51, 0x52, 0x53, 0x54].map((d) => [0x0800_0040n, d]),
    'arm64-virtio-iommu': [0, 1, 2, 3, 4].map((d) => [0x0809_0040n, d]),
    // Intel remappable format: handles 16..20, SHV, sub-handle 0.
    'x86-intel': [0x218n, 0x238n, 0x258n, 0x278n, 0x298n].map((o) => [0xfee0_0000n + o, 0]),
    // AMD: compatibility address, data = IRTE index in the device's own table.
    'x86-amd': [0, 1, 2, 3, 4].map((d) => [0xfee0_0000n, d]),
    // No remapping: destination APIC in the address, CPU vector in the data.
    'x86-virtio-iommu': [
      [0xfee0_1000n, 0x23],
      [0xfee0_0000n, 0x23],
      [0xfee0_1000n, 0x24],
      [0xfee0_0000n, 0x24],
      [0xfee0_1000n, 0x25],
    ],
  };
  for (const [m, want] of Object.entries(expect)) {
    const { p, nic } = start(m as Machine);
    assert.equal(enable(nic, 2, 5), 0, m);
    assert.deepEqual(
      msix(p, NIC[m as Machine]).map((x) => [x.addr, x.data]),
      want,
      m,
    );
    for (let i = 0; i < 5; i++)
      assert.equal(p.fabric.raise(NIC[m as Machine], i).outcome, 'delivered', `${m} vector ${i}`);
  }
});

test('x86: the MSI write bypasses translation (interrupt window), on every remapping mode', () => {
  for (const m of ['x86-intel', 'x86-amd', 'x86-virtio-iommu'] as const) {
    const { p, nic } = start(m);
    enable(nic, 1, 1);
    const t = p.fabric.raise(NIC[m], 0);
    assert.equal(t.iommu.kind, 'bypass', m);
    assert.equal(t.outcome, 'delivered');
    // Nothing was mapped for it in the VFIO domain.
    const dom = domainOf(p, NIC[m]);
    assert.equal(dom.mappingCount, 0, m);
  }
});

test('arm64 virtio-iommu: the physical doorbell is used (HW MSI bypass region, no cookie)', () => {
  const { p, nic } = start('arm64-virtio-iommu');
  enable(nic, 1, 1);
  assert.equal(p.fabric.pci(NIC['arm64-virtio-iommu'])!.model.msiMessage().addr, 0x0809_0040n);
  const t = p.fabric.raise(NIC['arm64-virtio-iommu'], 0);
  assert.equal(t.iommu.kind, 'bypass');
  assert.equal(t.outcome, 'delivered');
});

test('without the cookie mapping the MSI write faults in the IOMMU', () => {
  const { p, nic } = start('arm64-smmuv3-gicv3', '6.12', { cookie: false });
  assert.equal(enable(nic, 2, 1), 0);
  const e = msix(p, NIC['arm64-smmuv3-gicv3'])[0]!;
  assert.equal(e.addr, 0x0809_0040n, 'no cookie: the message keeps the physical doorbell');
  const t = p.fabric.raise(NIC['arm64-smmuv3-gicv3'], 0);
  assert.equal(t.outcome, 'fault');
  assert.equal(count(nic, 0), 0n);
});

test("GICv2m: a device forges another device's interrupt by writing its SPI; the ITS does not let it", () => {
  // Victim and attacker each in their own VFIO domain; the attacker has MSI-X enabled itself, so its
  // domain maps the (shared) doorbell page at 0x08000000.
  for (const [m, forged] of [
    ['arm64-smmuv3-gicv2', true],
    ['arm64-smmuv3-gicv3', false],
  ] as const) {
    const p = platform(m, '6.12', { second: true });
    const fds = new FdTable();
    const victim = open(p, secondNic(m), fds);
    const attacker = open(p, NIC[m], fds);
    assert.equal(enable(victim, 1, 1), 0);
    assert.equal(enable(attacker, 2, 1), 0);
    const vmsg = p.fabric.pci(secondNic(m))!.model.msiMessage();
    // The attacker writes the victim's message (same IOVA, the victim's data) from its own requester ID.
    const t = p.fabric.dmaWrite(NIC[m], vmsg.addr, vmsg.data);
    if (forged) {
      assert.equal(vmsg.data, 0x50, 'the victim enabled first and got SPI 80');
      assert.equal(t.outcome, 'delivered', t.why);
      assert.equal(count(victim, 0), 1n, "the victim's eventfd fired: forged");
      assert.equal(count(attacker, 0), 0n);
    } else {
      // ITS: DeviceID comes from the bus, EventID 0 of the attacker is the attacker's own vector.
      assert.equal(t.outcome, 'delivered');
      assert.equal(count(victim, 0), 0n, "the ITS did not raise the victim's LPI");
      assert.equal(count(attacker, 0), 1n);
      // An EventID the attacker does not own is dropped.
      const t2 = p.fabric.dmaWrite(NIC[m], vmsg.addr, 3);
      assert.equal(t2.outcome, 'dropped');
      assert.match(t2.why, /EventID 3 is not mapped/);
      assert.equal(count(victim, 0), 0n);
    }
    // Isolation flags: what VFIO's safe-interrupts check reads.
    assert.equal(p.fabric.deviceHasIsolatedMsi(NIC[m]), !forged);
  }
});

test('Intel IR: another device using a valid handle fails the IRTE source-id check', () => {
  const m = 'x86-intel';
  const p = platform(m, '6.12', { second: true });
  const fds = new FdTable();
  const victim = open(p, NIC['x86-intel'], fds);
  enable(victim, 2, 1);
  const e = msix(p, NIC['x86-intel'])[0]!;
  assert.equal(e.addr, 0xfee0_0218n);
  const t = p.fabric.dmaWrite(secondNic(m), e.addr, e.data);
  assert.equal(t.outcome, 'dropped');
  assert.match(t.why, /source-id/);
  // A compatibility-format write is blocked while remapping is on.
  const t2 = p.fabric.dmaWrite(secondNic(m), 0xfee0_1000n, 0x23);
  assert.equal(t2.outcome, 'dropped');
  assert.match(t2.why, /compatibility-format/);
  assert.equal(count(victim, 0), 0n);
  assert.equal(p.fabric.deviceHasIsolatedMsi(NIC['x86-intel']), true);
});

test("AMD IR: data indexes the writer's own remapping table, so another device reaches nothing", () => {
  const m = 'x86-amd';
  const p = platform(m, '6.12', { second: true });
  const fds = new FdTable();
  const victim = open(p, NIC['x86-amd'], fds);
  enable(victim, 2, 1);
  const t = p.fabric.dmaWrite(secondNic(m), 0xfee0_0000n, 0);
  assert.equal(t.outcome, 'dropped');
  assert.match(t.why, /IRTE 0 not valid/);
  assert.equal(count(victim, 0), 0n);
});

test('x86 without remapping: any device can hit any vector (compat format), the unsafe case', () => {
  const m = 'x86-virtio-iommu';
  const p = platform(m, '6.12', { second: true });
  const fds = new FdTable();
  const victim = open(p, NIC['x86-virtio-iommu'], fds);
  enable(victim, 1, 1);
  const msg = p.fabric.pci(NIC['x86-virtio-iommu'])!.model.msiMessage();
  const t = p.fabric.dmaWrite(secondNic(m), msg.addr, msg.data);
  assert.equal(t.outcome, 'delivered');
  assert.equal(count(victim, 0), 1n);
  assert.equal(p.fabric.deviceHasIsolatedMsi(NIC['x86-virtio-iommu']), false);
});

test('host-bridge MSI controller: caught before the IOMMU, not isolated', () => {
  const m = 'arm64-smmuv3-hostbridge-msi';
  const p = platform(m, '6.12', { second: true });
  const fds = new FdTable();
  const victim = open(p, secondNic(m), fds);
  const nic = open(p, NIC['arm64-smmuv3-hostbridge-msi'], fds);
  enable(victim, 1, 1);
  enable(nic, 2, 1);
  const vm = p.fabric.pci(secondNic(m))!.model.msiMessage();
  assert.equal(vm.addr, 0x0fff_f000n, 'the controller never calls prepare: no IOVA rewrite');
  const own = p.fabric.raise(NIC['arm64-smmuv3-hostbridge-msi'], 0);
  assert.deepEqual(own.iommu, { kind: 'intercepted', by: 'pcie-msi' });
  assert.equal(own.outcome, 'delivered');
  const forged = p.fabric.dmaWrite(NIC['arm64-smmuv3-hostbridge-msi'], vm.addr, vm.data);
  assert.equal(forged.outcome, 'delivered');
  assert.equal(count(victim, 0), 1n);
  assert.equal(p.fabric.deviceHasIsolatedMsi(secondNic(m)), false);
  // Nothing was mapped for MSIs in either VFIO domain.
  const dom = domainOf(p, secondNic(m));
  assert.equal(dom.mappingCount, 0);
});

test("a write to a doorbell page that is not mapped in the writer's domain faults; to RAM it is a memory write", () => {
  const { p, nic } = start('arm64-smmuv3-gicv3');
  enable(nic, 2, 1);
  assert.equal(p.fabric.dmaWrite(NIC['arm64-smmuv3-gicv3'], 0x0800_1040n, 0).outcome, 'fault');
  const dom = domainOf(p, NIC['arm64-smmuv3-gicv3']);
  dom.map(0x4000_0000n, 0x4000_0000n, 0x1000n, 3);
  assert.equal(p.fabric.dmaWrite(NIC['arm64-smmuv3-gicv3'], 0x4000_0000n, 0).outcome, 'memory-write');
});

test('disabling MSI-X never unmaps the doorbell page; re-enabling reuses it', () => {
  const { p, nic } = start('arm64-smmuv3-gicv3');
  const bdf = NIC['arm64-smmuv3-gicv3'];
  enable(nic, 2, 5);
  const dom = domainOf(p, bdf);
  assert.equal(dom.mappingCount, 1);
  assert.equal(
    nic.file.ioctl(VFIO_DEVICE_SET_IRQS, encodeIrqSet({ flags: 0x21, index: 2, start: 0, count: 0 })),
    0,
  );
  assert.equal(dom.mappingCount, 1);
  assert.equal(dom.iovaToPhys(0x0800_0040n), 0x0809_0040n);
  assert.equal(p.fabric.raise(bdf, 0).outcome, 'no-write');
  enable(nic, 1, 1);
  assert.equal(p.fabric.pci(bdf)!.model.msiMessage().addr, 0x0800_0040n);
  assert.equal(dom.mappingCount, 1);
});

test('a masked MSI-X vector only sets its pending bit; no bus mastering, no write', () => {
  const { p, nic } = start('arm64-smmuv3-gicv3');
  const bdf = NIC['arm64-smmuv3-gicv3'];
  enable(nic, 2, 2);
  const model = p.fabric.pci(bdf)!.model;
  model.maskMsixEntry(1, true);
  assert.equal(p.fabric.raise(bdf, 1).outcome, 'no-write');
  assert.equal(model.msixPending(1), true);
  model.command = model.command & ~0x4;
  assert.match(p.fabric.raise(bdf, 0).why, /bus mastering/);
});

test('multi-message MSI: one IRTE block with sub-handles (Intel IR); without remapping only 1 vector, a positive answer', () => {
  for (const [m, want] of [
    ['x86-intel', 0],
    ['x86-virtio-iommu', 1],
    ['arm64-smmuv3-gicv2', 0],
  ] as const) {
    const p = platform(m, '6.12', { second: true, secondMsiVectors: 4 });
    const fds = new FdTable();
    const dev = open(p, secondNic(m), fds);
    assert.equal(enable(dev, 1, 4), want, m);
    const model = p.fabric.pci(secondNic(m))!.model;
    if (want === 1) {
      assert.equal(dev.file.irqs.irqType, 5, 'nothing stays enabled after a short answer');
      assert.equal(model.msiCtrl & 1, 0);
      continue;
    }
    assert.equal((model.msiCtrl >> 4) & 7, 2, 'MME = log2(4)');
    for (let i = 0; i < 4; i++) {
      const t = p.fabric.raise(secondNic(m), i);
      assert.equal(t.outcome, 'delivered', `${m} vector ${i}: ${t.why}`);
      assert.equal(count(dev, i), 1n);
    }
    if (m === 'x86-intel') assert.equal(model.msiMessage().addr, 0xfee0_0218n);
    if (m === 'arm64-smmuv3-gicv2') assert.equal(model.msiMessage().data, 80);
  }
});

test('host driver on a DMA domain: iommu_dma_init_domain gives the cookie, the doorbell gets a top-down IOVA', () => {
  // A stand-in IOVA allocator (src/iova provides the real one): top-down below the limit, skipping reservations.
  const reserved: [bigint, bigint][] = [];
  let next = 0n;
  setIovaAllocatorFactory(() => ({
    reserveIova: (lo, hi) => (reserved.push([lo, hi]), true),
    allocIovaFast: (len, limit) => {
      let top = next === 0n || next > limit ? limit : next;
      for (;;) {
        const lo = top - len + 1n;
        const hit = reserved.find(([a, b]) => a <= top && lo <= b);
        if (hit === undefined) {
          next = lo - 1n;
          return lo;
        }
        top = hit[0] - 1n;
      }
    },
    freeIovaFast: () => undefined,
  }));
  try {
    const p = platform('arm64-smmuv3-gicv3');
    const bdf = NIC['arm64-smmuv3-gicv3'];
    const pci = p.fabric.pci(bdf)!;
    pci.model.command = pci.model.command | 0x6;
    assert.equal(pci.allocIrqVectors(2, true), 2);
    let hits = 0;
    for (const i of [0, 1]) pci.requestIrq(i, { name: `eth0-${i}`, handler: () => hits++ });
    // First doorbell page below 4 GiB, top-down: the page under 4 GiB; both vectors share it.
    assert.equal(pci.model.msixEntry(0).addr, 0xffff_f040n);
    assert.equal(pci.model.msixEntry(1).addr, 0xffff_f040n);
    // The PCI memory windows were reserved in the IOVA domain (iova_reserve_pci_windows).
    assert.ok(reserved.some(([a, b]) => a === 0x10000n && b === 0x3efefn));
    for (const i of [0, 1]) assert.equal(p.fabric.raise(bdf, i).outcome, 'delivered');
    assert.equal(hits, 2);
  } finally {
    setIovaAllocatorFactory(undefined);
  }
});

test('summarizeMsiPath / formatMsiTrace explain the route and the isolation per controller', () => {
  const want: Record<string, [string, boolean, bigint]> = {
    'arm64-smmuv3-gicv3': ['translated', true, 0x0809_0040n],
    'arm64-smmuv3-gicv2': ['translated', false, 0x0802_0040n],
    'x86-intel': ['bypass', true, 0xfee0_0000n],
    'x86-virtio-iommu': ['bypass', false, 0xfee0_0000n],
    'arm64-smmuv3-hostbridge-msi': ['intercepted', false, 0x0fff_f000n],
  };
  for (const [m, [route, isolated, doorbell]] of Object.entries(want)) {
    const p = platform(m as Machine);
    const s = summarizeMsiPath(p.fabric, NIC[m as Machine]);
    assert.deepEqual([s.route, s.isolated, s.doorbell], [route, isolated, doorbell], m);
  }
  const { p, nic } = start('arm64-smmuv3-gicv3');
  enable(nic, 2, 1);
  const lines = formatMsiTrace(p.fabric.raise(NIC['arm64-smmuv3-gicv3'], 0));
  assert.equal(lines[0], '0000:00:01.0 writes 0x0 to 0x8000040');
  assert.equal(lines[1], '  IOMMU translates 0x8000040 -> 0x8090040 (prot 0x1a)');
  assert.match(lines[2]!, /^ {2}delivered: ITS translates DeviceID 0x8 EventID 0 to LPI 8192/);
});

test('host driver with the real IOVA allocator: DMA cookies map doorbells top-down, HW MSI windows stay identity', () => {
  for (const [m, addr, data] of [
    ['arm64-smmuv3-gicv3', 0xffff_f040n, 2],
    ['arm64-smmuv3-gicv2', 0xffff_f040n, 82],
    ['arm64-virtio-iommu', 0x0809_0040n, 2],
  ] as const) {
    const p = platform(m);
    const bdf = NIC[m];
    const pci = p.fabric.pci(bdf)!;
    pci.model.command = pci.model.command | 0x6;
    assert.equal(pci.allocIrqVectors(3, true), 3);
    for (const i of [0, 1, 2]) pci.requestIrq(i, { name: `eth0-${i}`, handler: () => undefined });
    const e = pci.model.msixEntry(2);
    assert.deepEqual([e.addr, e.data], [addr, data], m);
    assert.equal(p.fabric.raise(bdf, 2).outcome, 'delivered', m);
    assert.equal(domainOf(p, bdf).type, 'dma');
  }
});
