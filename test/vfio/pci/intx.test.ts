import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ERRNO } from '../../../src/base/errno.js';
import {
  VFIO_DEVICE_SET_IRQS,
  VFIO_IRQ_SET_ACTION_MASK,
  VFIO_IRQ_SET_ACTION_TRIGGER,
  VFIO_IRQ_SET_ACTION_UNMASK,
  VFIO_IRQ_SET_DATA_EVENTFD,
  VFIO_IRQ_SET_DATA_NONE,
  type IrqSet,
  encodeIrqSet,
} from '../../../src/uapi/vfio-device.js';
import { openNic, type OpenNic } from './probe-helpers.js';
import { runScenarioFull } from '../../../src/scenario/runner.js';
// installs the preset loader runScenario uses for a platform name
import '../../../src/scenario/platforms.js';

const INTX = 0;
const set = (n: OpenNic, s: Omit<IrqSet, 'index' | 'start' | 'count'> & { count?: number }): number =>
  n.file.ioctl(VFIO_DEVICE_SET_IRQS, encodeIrqSet({ index: INTX, start: 0, count: 1, ...s }));
const TRIGGER = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
const UNMASK = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK;
const UNMASK_EFD = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_UNMASK;

function intxNic(version: '6.1' | '6.12' = '6.12') {
  const n = openNic('x86-intel', version);
  const trigger = n.fds.eventfd();
  const resample = n.fds.eventfd();
  assert.equal(set(n, { flags: TRIGGER, fds: [trigger] }), 0);
  const model = n.p.fabric.pci(n.bdf)!.model;
  const count = (fd = trigger): bigint => n.fds.eventFd(fd)!.read() ?? 0n;
  return { n, model, trigger, resample, count };
}

for (const v of ['6.1', '6.12'] as const) {
  test(`${v}: delivery masks INTx with the command register; unmask while asserted re-sends`, () => {
    const { n, model, count } = intxNic(v);
    model.setIntx(true);
    assert.equal(count(), 1n);
    assert.equal(n.file.irqs.intxMasked, true);
    assert.equal(model.command & 0x400, 0x400, 'physical INTx disable set');
    assert.equal(model.intxAsserted, false);
    assert.equal(set(n, { flags: UNMASK }), 0);
    assert.equal(count(), 1n, 're-sent');
    assert.equal(n.file.irqs.intxMasked, true);
    model.setIntx(false);
    assert.equal(set(n, { flags: UNMASK }), 0);
    assert.equal(count(), 0n);
    assert.equal(n.file.irqs.intxMasked, false);
    assert.equal(model.command & 0x400, 0);
    model.setIntx(true);
    assert.equal(count(), 1n);
  });
}

test('the resample eventfd unmasks, or re-sends while the device still asserts; a second one is EBUSY', () => {
  const { n, model, resample, count } = intxNic();
  assert.equal(set(n, { flags: UNMASK_EFD, fds: [resample] }), 0);
  assert.equal(set(n, { flags: UNMASK_EFD, fds: [n.fds.eventfd()] }), -ERRNO.EBUSY);
  model.setIntx(true);
  assert.equal(count(), 1n);
  assert.equal(n.fds.writeEventfd(resample, 1n), 8);
  assert.equal(count(), 1n, 're-sent: still asserted');
  assert.equal(count(resample), 0n, 'the virqfd consumed the resample count');
  model.setIntx(false);
  n.fds.writeEventfd(resample, 1n);
  assert.equal(n.file.irqs.intxMasked, false);
  // removed with fd -1; a count already on the eventfd when it is installed again acts at once
  assert.equal(set(n, { flags: UNMASK_EFD, fds: [-1] }), 0);
  model.setIntx(true);
  model.setIntx(false);
  assert.equal(n.file.irqs.intxMasked, true);
  n.fds.writeEventfd(resample, 1n);
  assert.equal(set(n, { flags: UNMASK_EFD, fds: [resample] }), 0);
  assert.equal(n.file.irqs.intxMasked, false);
  assert.equal(count(resample), 1n, 'and is left to be read');
});

test("the user's INTx disable bit masks, holds off unmask and the soft trigger, and re-sends when cleared", () => {
  const { n, model, count } = intxNic();
  const cfg = 7n << 40n;
  const write16 = (v: number) => n.file.pwrite(cfg + 4n, new Uint8Array([v & 0xff, v >> 8]));
  const read16 = () => {
    const b = new Uint8Array(2);
    n.file.pread(cfg + 4n, b);
    return b[0]! | (b[1]! << 8);
  };
  const cmd = read16();
  assert.equal(write16(cmd | 0x400), 2);
  assert.equal(read16() & 0x400, 0x400);
  assert.equal(n.file.irqs.virqDisabled, true);
  model.setIntx(true);
  assert.equal(count(), 0n);
  assert.equal(set(n, { flags: UNMASK }), 0);
  assert.equal(set(n, { flags: VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER }), 0);
  assert.equal(count(), 0n);
  write16(cmd);
  assert.equal(count(), 1n, 'pending: sent when the user enables INTx again');
  assert.equal(
    set(n, { flags: VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_MASK, fds: [0] }),
    -ERRNO.ENOTTY,
  );
});

test('closing the device frees the line and restores the command register it found', () => {
  const { n, model } = intxNic();
  const before = model.command;
  model.setIntx(true);
  n.file.close();
  assert.equal(n.p.fabric.intx(n.bdf)!.name, undefined);
  assert.equal(model.command & 0x400, before & 0x400);
});

test('the trigger eventfd used as the unmask eventfd too, while the device asserts: no crash', () => {
  const { n, model, trigger } = intxNic();
  assert.equal(set(n, { flags: UNMASK_EFD, fds: [trigger] }), 0);
  model.setIntx(true);
  // the virqfd consumes every signal and re-sends it: the kernel's workqueue would never stop
  assert.equal(n.file.irqs.intxMasked, true);
  model.setIntx(false);
  assert.equal(n.fds.writeEventfd(trigger, 1n), 8);
  assert.equal(n.file.irqs.intxMasked, false);
});

test('a function without MSI (an EHCI controller) still has its config space and INTx through vfio-pci', () => {
  const text = `name: nomsi
platform: intel-xeon-hpe-rmrr
kernel: '6.12'
params:
  allow_unsafe_interrupts: true
steps:
  - bind_driver: { device: '0000:00:1a.0', driver: vfio-pci }
  - open_container: { name: open_container, expect: ok }
  - open_group: { name: open_group, device: '0000:00:1a.0', expect: ok }
  - set_container: { name: set_container, expect: ok }
  - set_iommu: { name: set_iommu, type: 3, expect: ok }
  - get_device_fd: { name: get_device_fd, device: '0000:00:1a.0', expect: ok }
  - read_config: { name: ids, pos: 0, expect: 'value=0x1d2d8086' }
  - eventfds: { count: 1 }
  - set_irqs: { name: intx, index: INTX, flags: 0x24, expect: ok }
  - set_irqs: { name: msi, index: MSI, flags: 0x24, expect: EINVAL }
  - intx: { name: assert, device: '0000:00:1a.0', expect: 'delivered=1 masked=1' }
`;
  const r = runScenarioFull(text, { file: 'nomsi.yaml' });
  assert.deepEqual(r.failures, []);
  assert.equal(r.exitCode, 0);
  assert.ok(r.lines.some((l) => l.startsWith('IRQINFO') || l.startsWith('CASE intx rc=0')));
});
