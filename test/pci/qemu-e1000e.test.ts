import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  E1000_ICR,
  E1000_ICS,
  E1000_IMC,
  E1000_IMS,
  E1000_ITR,
  QemuE1000eInterrupts,
} from '../../src/pci/qemu-e1000e.js';
import {
  MsiDeviceModel,
  PCI_COMMAND_INTX_DISABLE,
  PCI_MSI_FLAGS_ENABLE,
  QEMU_E1000E_LAYOUT,
} from '../../src/pci/msi-device.js';
import type { PciDeviceDescription } from '../../src/platform/types.js';

function nic(mode: 'intx' | 'msi' | 'msix' = 'intx') {
  const seen = { levels: [] as boolean[], msis: 0 };
  const regs = new QemuE1000eInterrupts({
    mode: () => mode,
    setIntx: (l) => seen.levels.push(l),
    notifyMsi: () => seen.msis++,
  });
  return { regs, seen };
}

test('ICS sets causes, ICR shows them with bit 31 and clears on read (no MSI-X)', () => {
  const { regs } = nic();
  regs.write(E1000_ICS, 0x100000);
  assert.equal(regs.read(E1000_ICS), 0x80100000);
  assert.equal(regs.read(E1000_ICR), 0x80100000);
  assert.equal(regs.read(E1000_ICR), 0);
});

test('with MSI-X and something unmasked, reading ICR does not clear it', () => {
  const { regs } = nic('msix');
  regs.write(E1000_IMS, 0x100000);
  regs.write(E1000_ICS, 0x100000);
  assert.equal(regs.read(E1000_ICR), 0x80100000);
  assert.equal(regs.read(E1000_ICR), 0x80100000);
});

test('IMS takes only the causes the device knows; IMC clears them', () => {
  const { regs } = nic();
  regs.write(E1000_IMS, 0xffffffff);
  assert.equal(regs.read(E1000_IMS), 0x01f782d7);
  regs.write(E1000_IMC, 0x100000);
  assert.equal(regs.read(E1000_IMS), 0x01e782d7);
});

test('writing ICR clears the bits written; clearing OTHER clears the causes it stands for', () => {
  const { regs } = nic();
  regs.write(E1000_ICS, 0x01000004 | 0x100000);
  regs.write(E1000_ICR, 0x01000000);
  assert.equal(regs.read(E1000_ICS), 0x80100000);
  regs.write(E1000_ICR, 0x100000);
  assert.equal(regs.read(E1000_ICS), 0);
});

test('ITR keeps at least 500', () => {
  const { regs } = nic();
  regs.write(E1000_ITR, 0);
  assert.equal(regs.read(E1000_ITR), 500);
  regs.write(E1000_ITR, 0x12345678);
  assert.equal(regs.read(E1000_ITR), 0x5678);
});

test('legacy mode: the INTx pin follows "a cause pending and unmasked"', () => {
  const { regs, seen } = nic();
  regs.write(E1000_ICS, 0x400000);
  assert.equal(seen.levels.at(-1), false); // masked cause
  regs.write(E1000_IMS, 0x400000);
  assert.equal(seen.levels.at(-1), true);
  regs.read(E1000_ICR);
  assert.equal(seen.levels.at(-1), false);
  regs.write(E1000_ICS, 0x400000);
  assert.equal(seen.levels.at(-1), true);
  regs.write(E1000_IMC, 0xffffffff);
  assert.equal(seen.levels.at(-1), false);
});

test('MSI mode: one message per newly pending set of causes', () => {
  const { regs, seen } = nic('msi');
  regs.write(E1000_IMS, 0x500000);
  regs.write(E1000_ICS, 0x100000);
  regs.write(E1000_ICS, 0x100000);
  assert.equal(seen.msis, 1);
  regs.write(E1000_ICS, 0x400000);
  assert.equal(seen.msis, 2);
  regs.read(E1000_ICR); // clears: the next cause is new again
  regs.write(E1000_ICS, 0x100000);
  assert.equal(seen.msis, 3);
  assert.deepEqual(seen.levels, []);
});

test('the device model: status bit and bus line, INTx disable holds the line off, MSI enable deasserts', () => {
  const desc: PciDeviceDescription = {
    bdf: '0000:00:02.0',
    vendor: 0x8086,
    device: 0x10d3,
    class: 0x020000,
    driver: 'vfio-pci',
    pcie: true,
  };
  const m = new MsiDeviceModel(desc, QEMU_E1000E_LAYOUT);
  const lines: boolean[] = [];
  m.onIntxLine = (l) => lines.push(l);
  m.barWrite(0, E1000_IMS, 4, 0x100000);
  m.barWrite(0, E1000_ICS, 4, 0x100000);
  assert.equal(m.cfgRead(0x06, 2) & 0x08, 0x08);
  assert.deepEqual(lines, [true]);
  m.busWrite(0x04, 2, m.command | PCI_COMMAND_INTX_DISABLE);
  assert.deepEqual(lines, [true, false]);
  assert.equal(m.cfgRead(0x06, 2) & 0x08, 0x08, 'the status bit still shows the device asserting');
  m.busWrite(0x04, 2, m.command & ~PCI_COMMAND_INTX_DISABLE);
  assert.deepEqual(lines, [true, false, true]);
  // enabling MSI makes the function stop asserting INTx (QEMU's msi_write_config)
  m.busWrite(QEMU_E1000E_LAYOUT.caps.msi! + 2, 2, m.msiCtrl | PCI_MSI_FLAGS_ENABLE);
  assert.deepEqual(lines, [true, false, true, false]);
  assert.equal(m.cfgRead(0x06, 2) & 0x08, 0);
});
