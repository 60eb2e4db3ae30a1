import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ERRNO } from '../../../src/base/errno.js';
import {
  VFIO_DEVICE_FEATURE,
  VFIO_DEVICE_GET_INFO,
  VFIO_DEVICE_GET_IRQ_INFO,
  VFIO_DEVICE_GET_PCI_HOT_RESET_INFO,
  VFIO_DEVICE_GET_REGION_INFO,
  VFIO_DEVICE_IOEVENTFD,
  VFIO_DEVICE_PCI_HOT_RESET,
  VFIO_DEVICE_RESET,
  VFIO_DEVICE_SET_IRQS,
  wrU32,
} from '../../../src/uapi/vfio-device.js';
import { openNic, type OpenNic } from './probe-helpers.js';
import { domainOf, type Machine } from '../../irq/machines.js';

const KNOWN = new Set<number>(Object.values(ERRNO).map((e) => -e));
const CMDS = [
  VFIO_DEVICE_GET_INFO,
  VFIO_DEVICE_GET_REGION_INFO,
  VFIO_DEVICE_GET_IRQ_INFO,
  VFIO_DEVICE_SET_IRQS,
  VFIO_DEVICE_RESET,
  VFIO_DEVICE_GET_PCI_HOT_RESET_INFO,
  VFIO_DEVICE_PCI_HOT_RESET,
  VFIO_DEVICE_IOEVENTFD,
  VFIO_DEVICE_FEATURE,
];

/** A SET_IRQS request drawn from values around every boundary, or raw bytes for any ioctl. */
type Op =
  | {
      kind: 'set';
      flags: number;
      index: number;
      start: number;
      count: number;
      argszDelta: number;
      fds: number[];
      cut: number;
    }
  | { kind: 'raw'; cmd: number; bytes: Uint8Array }
  | { kind: 'raise'; vector: number }
  | { kind: 'intx'; level: boolean }
  | { kind: 'command'; value: number }
  | { kind: 'nic'; reg: number; value: number; read: boolean }
  | { kind: 'signal'; fd: number };

const flagsArb = fc.oneof(
  fc.constantFrom(0x24, 0x21, 0x22, 0x04, 0x29, 0x23, 0x09, 0x11, 0x20, 0x3f),
  fc.integer({ min: 0, max: 0x7f }),
  fc.integer({ min: 0, max: 0xffffffff }),
);
const u32Edge = fc.oneof(fc.integer({ min: 0, max: 7 }), fc.constantFrom(0xffffffff, 0xfffffffe, 0x80000000));

const opArb = (fdPool: number[]): fc.Arbitrary<Op> =>
  fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        kind: fc.constant('set' as const),
        flags: flagsArb,
        index: fc.oneof(fc.integer({ min: 0, max: 5 }), u32Edge),
        start: u32Edge,
        count: u32Edge,
        argszDelta: fc.integer({ min: -4, max: 4 }),
        fds: fc.array(fc.constantFrom(...fdPool, -1, -2, 999), { maxLength: 8 }),
        cut: fc.integer({ min: 0, max: 3 }),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('raw' as const),
        cmd: fc.oneof(fc.constantFrom(...CMDS), fc.integer({ min: 0, max: 0xffff })),
        bytes: fc.uint8Array({ maxLength: 64 }),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant('raise' as const), vector: fc.integer({ min: -1, max: 6 }) }),
    },
    // INTx: the pin, the user's command register, the e1000e's interrupt registers, eventfd writes
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('intx' as const), level: fc.boolean() }) },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('command' as const),
        value: fc.oneof(fc.constantFrom(0x406, 0x6, 0x407, 0x7), fc.integer({ min: 0, max: 0xffff })),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('nic' as const),
        reg: fc.constantFrom(0xc0, 0xc4, 0xc8, 0xd0, 0xd8),
        value: fc.oneof(
          fc.constantFrom(0x100000, 0x400000, 0xffffffff),
          fc.integer({ min: 0, max: 0xffffffff }),
        ),
        read: fc.boolean(),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant('signal' as const), fd: fc.constantFrom(...fdPool) }),
    },
  );

function encode(op: Extract<Op, { kind: 'set' }>): Uint8Array {
  const payload = op.fds.length * 4;
  const b = new Uint8Array(Math.max(0, 20 + payload - op.cut));
  const full = new Uint8Array(20 + payload);
  wrU32(full, 0, Math.max(0, 20 + payload + op.argszDelta));
  wrU32(full, 4, op.flags);
  wrU32(full, 8, op.index);
  wrU32(full, 12, op.start);
  wrU32(full, 16, op.count);
  const dv = new DataView(full.buffer);
  op.fds.forEach((fd, i) => dv.setInt32(20 + 4 * i, fd, true));
  b.set(full.subarray(0, b.length));
  return b;
}

function checkInvariants(n: OpenNic): void {
  const irqs = n.file.irqs;
  const pci = n.p.fabric.pci(n.bdf)!;
  assert.ok([0, 1, 2, 5].includes(irqs.irqType), `irq_type ${irqs.irqType}`);
  const want = irqs.irqType === 1 ? 'msi' : irqs.irqType === 2 ? 'msix' : 'none';
  assert.equal(pci.mode, want, 'PCI MSI state follows vfio irq_type');
  for (const d of pci.vectors()) {
    const hasTrigger = irqs.trigger(d.index) !== undefined;
    assert.equal(
      d.hw.irq.action !== undefined,
      hasTrigger,
      `vector ${d.index}: requested iff it has an eventfd`,
    );
    if (pci.mode === 'msix')
      assert.equal((pci.model.msixEntry(d.index).ctrl & 1) === 0, hasTrigger, 'unmasked iff started');
  }
  assert.ok(n.file.ioeventfds.size <= 1000, 'VFIO_PCI_IOEVENTFD_MAX');
  const m = pci.model;
  assert.equal((m.msixCtrl & 0x8000) !== 0, pci.mode === 'msix');
  assert.equal((m.msiCtrl & 1) !== 0, pci.mode === 'msi');
  // One doorbell page, mapped once, WRITE|NOEXEC|MMIO, whatever happened.
  const maps = [...domainOf(n.p, n.bdf).mappings()];
  assert.ok(maps.length <= 1);
  for (const x of maps) assert.equal(x.prot, 0x1a);
  // INTx on a PCI 2.3 function: while enabled, masked exactly when INTx disable is set; the status bit
  // is the device's own level; the host line is up only when INTx disable lets it through
  const masked = irqs.intxMasked;
  if (irqs.irqType === 0) assert.equal(masked, (m.command & 0x400) !== 0, 'masked iff INTx disable');
  else assert.equal(masked, undefined);
  const line = n.p.fabric.intx(n.bdf)!;
  assert.equal(line.level, m.intxAsserted);
  if (m.intxAsserted) assert.equal(m.cfgRead(0x06, 2) & 0x08, 0x08);
  if (irqs.irqType === 0) assert.ok(!m.intxAsserted, 'vfio-pci owns the line: never left asserted');
}

for (const [m, v] of [
  ['arm64-smmuv3-gicv3', '6.12'],
  ['arm64-smmuv3-gicv3', '6.1'],
  ['x86-intel', '6.12'],
  ['arm64-smmuv3-gicv2', '6.1'],
] as const) {
  test(`device ioctl fuzz (${m}, ${v}): never throws, answers 0/positive/-errno, state stays consistent`, () => {
    fc.assert(
      fc.property(fc.array(opArb([3, 4, 5, 6, 7]), { minLength: 1, maxLength: 40 }), (ops) => {
        const n = openNic(m as Machine, v);
        // fds 3..6: eventfds, 7: a plain file.
        for (let i = 0; i < 4; i++) n.fds.eventfd();
        n.fds.openFile('/dev/null');
        const cfg = new Uint8Array([0x07, 0x00]);
        n.file.pwrite(0x70000000004n, cfg);
        for (const op of ops) {
          if (op.kind === 'intx') {
            n.p.fabric.pci(n.bdf)!.model.setIntx(op.level);
            checkInvariants(n);
            continue;
          }
          if (op.kind === 'command') {
            assert.equal(n.file.pwrite(0x70000000004n, new Uint8Array([op.value & 0xff, op.value >> 8])), 2);
            checkInvariants(n);
            continue;
          }
          if (op.kind === 'nic') {
            const b = new Uint8Array(4);
            new DataView(b.buffer).setUint32(0, op.value, true);
            const r = op.read ? n.file.pread(BigInt(op.reg), b) : n.file.pwrite(BigInt(op.reg), b);
            assert.ok(r === 4 || r === -ERRNO.EIO, `BAR0 access: ${r}`);
            checkInvariants(n);
            continue;
          }
          if (op.kind === 'signal') {
            const r = n.fds.writeEventfd(op.fd, 1n);
            assert.ok(r === 8 || r === -ERRNO.EINVAL || r === -ERRNO.EAGAIN);
            checkInvariants(n);
            continue;
          }
          if (op.kind === 'raise') {
            const t = n.p.fabric.raise(n.bdf, op.vector);
            assert.ok(['delivered', 'dropped', 'fault', 'no-write', 'memory-write'].includes(t.outcome));
            if (t.outcome === 'delivered') assert.ok(n.file.irqs.trigger(op.vector) !== undefined);
            continue;
          }
          const buf = op.kind === 'set' ? encode(op) : op.bytes.slice();
          const cmd = op.kind === 'set' ? VFIO_DEVICE_SET_IRQS : op.cmd;
          const rc = n.file.ioctl(cmd, buf);
          assert.ok(Number.isInteger(rc));
          if (rc < 0) assert.ok(KNOWN.has(rc), `unknown errno ${rc}`);
          checkInvariants(n);
        }
        n.file.close();
        assert.equal(n.p.fabric.pci(n.bdf)!.mode, 'none', 'close turns interrupts off');
      }),
      { numRuns: 150, seed: 0x5eed },
    );
  });
}
