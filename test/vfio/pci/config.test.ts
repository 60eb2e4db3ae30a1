import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import {
  VFIO_DEVICE_RESET,
  VFIO_PCI_CONFIG_REGION_INDEX,
  vfioPciIndexToOffset,
} from '../../../src/uapi/vfio-device.js';
import type { VfioDeviceFile } from '../../../src/vfio/pci/vfio-pci.js';
import { getDeviceFd } from '../../../src/vfio/typed.js';
import { ERRNO } from '../../../src/base/errno.js';
import { msiFabricOf } from '../../../src/irq/fabric.js';
import { MsiDeviceModel } from '../../../src/pci/msi-device.js';
import { VfioPciConfig } from '../../../src/vfio/pci/config.js';
import { attached, machine } from '../machine.js';

const CFG = vfioPciIndexToOffset(VFIO_PCI_CONFIG_REGION_INDEX);

function rd(f: VfioDeviceFile, pos: number): number {
  const b = new Uint8Array(4);
  assert.equal(f.pread(CFG + BigInt(pos), b), 4);
  return new DataView(b.buffer).getUint32(0, true);
}

function wr(f: VfioDeviceFile, pos: number, v: number, len = 4): void {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  assert.equal(f.pwrite(CFG + BigInt(pos), b.subarray(0, len)), len);
}

test('vfio-pci config virtualisation: BAR sizing, virtual IRQ line, read-only IDs (conformance/golden config.iovx)', () => {
  const m = machine('qemu-q35-intel-iommu');
  const a = attached(m);
  let fd = -1;
  const open = (): VfioDeviceFile => {
    fd = getDeviceFd(m.sys, a.group, m.nic.bdf);
    const x = m.sys.file(fd);
    assert.ok(x?.kind === 'device');
    return x.device;
  };
  let f = open();
  assert.equal(rd(f, 0x10), 0xfeba0000);
  assert.equal(rd(f, 0x18), 0xc041, 'I/O BAR');
  for (const [pos, size] of [
    [0x10, 0xfffe0000],
    [0x18, 0xffffffe1],
    [0x1c, 0xffffc000],
    [0x20, 0],
    [0x30, 0],
  ] as const) {
    wr(f, pos, 0xffffffff);
    assert.equal(rd(f, pos), size, `sizing 0x${pos.toString(16)}`);
  }
  wr(f, 0x10, 0x12340000);
  assert.equal(rd(f, 0x10), 0x12340000);
  wr(f, 0x3c, 0x55, 1);
  assert.equal(rd(f, 0x3c), 0x155);
  wr(f, 0x00, 0x12345678);
  assert.equal(rd(f, 0x00), 0x10d38086);
  // the device itself never saw the BAR writes; a new open starts from it again
  m.sys.close(fd);
  f = open();
  assert.equal(rd(f, 0x10), 0xfeba0000);
  assert.equal(rd(f, 0x3c), 0x10b);
});

test('vfio-pci config perm bits: PM, PCIe, MSI-X, AER, gaps (conformance/golden config.iovx)', () => {
  const m = machine('qemu-q35-intel-iommu');
  const a = attached(m);
  const fd = getDeviceFd(m.sys, a.group, m.nic.bdf);
  const x = m.sys.file(fd);
  assert.ok(x?.kind === 'device');
  const f = x.device;
  const bar0 = (v?: number): number => {
    const b = new Uint8Array(4);
    if (v !== undefined) new DataView(b.buffer).setUint32(0, v, true);
    const r = v === undefined ? f.pread(0x2800n, b) : f.pwrite(0x2800n, b);
    return r < 0 ? r : new DataView(b.buffer).getUint32(0, true);
  };
  // command: INTx disable virtual, bus master to the device; status read-only
  wr(f, 0x04, 0x0507, 2);
  assert.equal(rd(f, 0x04), 0x00100507);
  // the user's INTx disable is virtual, but with INTx unused the physical bit follows it
  // (__vfio_pci_intx_mask: pci_intx on a PCI 2.3 function)
  const phys = (): number => msiFabricOf(m.core)!.pci(m.nic.bdf)!.model.command & 0x400;
  assert.equal(phys(), 0x400);
  wr(f, 0x04, 0x0103, 2);
  assert.equal(phys(), 0);
  wr(f, 0x06, 0xffff, 2);
  assert.equal(rd(f, 0x04), 0x00100103);
  // a gap between capabilities is the device's (QEMU keeps what is written)
  wr(f, 0x40, 0xffffffff);
  assert.equal(rd(f, 0x40), 0xffffffff);
  // PM: PME enable/status virtual and not writable, data select to the device, the state a transition
  wr(f, 0xcc, 0x0100, 2);
  assert.equal(rd(f, 0xcc), 0);
  wr(f, 0xcc, 0x1e00, 2);
  assert.equal(rd(f, 0xcc), 0x1e00);
  assert.equal(bar0(0x5a5a5000), 0x5a5a5000);
  wr(f, 0xcc, 0x0003, 2);
  assert.equal(rd(f, 0xcc), 0x3, 'D3hot, data select cleared by the write');
  assert.equal(bar0(), -ERRNO.EIO, 'no BAR access in D3hot');
  assert.equal(bar0(0x1234), -ERRNO.EIO);
  wr(f, 0xcc, 0, 2);
  assert.equal(rd(f, 0xcc), 0);
  assert.equal(bar0(), 0x5a5a5000);
  // PCIe device control: FLR, payload and read request virtual; the rest goes to a device that keeps none
  wr(f, 0xe8, 0xffff, 2);
  assert.equal(rd(f, 0xe8), 0x70e0);
  wr(f, 0xe9, 0, 1);
  assert.equal(rd(f, 0xe8), 0xe0);
  // a root-complex integrated endpoint's capability ends before the link registers
  wr(f, 0xf0, 0xffff, 2);
  assert.equal(rd(f, 0xf0), 0x110000);
  // MSI-X control belongs to the interrupt ioctls
  wr(f, 0xa2, 0xc000, 2);
  assert.equal(rd(f, 0xa0), 0x40011);
  // AER: header virtual, the correctable mask and ECRC enables writable, the uncorrectable mask not on QEMU
  wr(f, 0x100, 0xffffffff);
  assert.equal(rd(f, 0x100), 0x14020001);
  wr(f, 0x108, 0xffffffff);
  assert.equal(rd(f, 0x108), 0);
  wr(f, 0x114, 0xffffffff);
  assert.equal(rd(f, 0x114), 0xf1c1);
  wr(f, 0x118, 0xffffffff);
  assert.equal(rd(f, 0x118), 0x1e0);
  wr(f, 0x144, 0xffffffff);
  assert.equal(rd(f, 0x144), 0xff123456, 'DSN read-only');
  wr(f, 0x150, 0xffffffff);
  assert.equal(rd(f, 0x150), 0xffffffff);
  // AER shares ID 1 with PM: its offset 4 (uncorrectable status) is no power-state write
  wr(f, 0x104, 0xffffffff);
  assert.equal(rd(f, 0xcc), 0, 'still D0');
  assert.equal(bar0(), 0x5a5a5000);
  // memory decoding off in the virtual command register refuses BAR access; the end of config space
  wr(f, 0x04, 0x0101, 2);
  assert.equal(bar0(), -ERRNO.EIO);
  wr(f, 0x04, 0x0103, 2);
  assert.equal(bar0(), 0x5a5a5000);
  assert.equal(f.pread(CFG + 0xffcn, new Uint8Array(4)), 4);
  assert.equal(f.pread(CFG + 0xffen, new Uint8Array(4)), -ERRNO.EFAULT, 'no short read across the end');
  assert.equal(f.pwrite(CFG + 0x1000n, new Uint8Array(4)), -ERRNO.EFAULT);
});

test('vfio-pci config: a capability vfio does not know is hidden from the chain', () => {
  const m = machine('qemu-q35-intel-iommu');
  const a = attached(m);
  const model = msiFabricOf(m.core)!.pci(m.nic.bdf)!.model;
  // put a debug-port capability (ID 0x0a, length 0: hidden) between PM (0xc8) and MSI (0xd0)
  model.config[0x40] = 0x0a;
  model.config[0x41] = model.config[0xc9]!;
  model.config[0xc9] = 0x40;
  const fd = getDeviceFd(m.sys, a.group, m.nic.bdf);
  const x = m.sys.file(fd);
  assert.ok(x?.kind === 'device');
  assert.equal((rd(x.device, 0xc8) >> 8) & 0xff, 0xd0, 'PM next skips the hidden capability');
  assert.equal(
    rd(x.device, 0x40) & 0xffff,
    0xd00a,
    'its bytes belong to no capability: read from the device',
  );
});

test('VFIO_DEVICE_RESET: a PM reset for the e1000e (no FLR), from D3hot back to D0; EINVAL with no method', () => {
  const m = machine('qemu-q35-intel-iommu');
  const a = attached(m);
  const fd = getDeviceFd(m.sys, a.group, m.nic.bdf);
  const x = m.sys.file(fd);
  assert.ok(x?.kind === 'device');
  wr(x.device, 0xcc, 3, 2);
  assert.equal(rd(x.device, 0xcc), 3);
  assert.equal(m.sys.ioctl(fd, VFIO_DEVICE_RESET, new Uint8Array(0)), 0);
  assert.equal(rd(x.device, 0xcc), 0, 'D0 after the reset');
  // a function with No_Soft_Reset, no FLR and on a root bus has no reset method (vdev->reset_works)
  m.sys.close(fd);
  const model = msiFabricOf(m.core)!.pci(m.nic.bdf)!.model;
  model.config[0xcc] = 0x08;
  const fd2 = getDeviceFd(m.sys, a.group, m.nic.bdf);
  assert.equal(m.sys.ioctl(fd2, VFIO_DEVICE_RESET, new Uint8Array(0)), -ERRNO.EINVAL);
});

test('vfio-pci config: a conventional PCI function has 256 bytes of config space (pdev->cfg_size)', () => {
  const model = new MsiDeviceModel({
    bdf: '0000:00:05.0',
    vendor: 0x1234,
    device: 0x5678,
    class: 0x020000,
    driver: 'vfio-pci',
    pcie: false,
    msi: { vectors: 1, addr64: false, perVectorMask: false },
  });
  const cfg = new VfioPciConfig(model);
  assert.equal(cfg.size, 256);
  const b = new Uint8Array(8);
  assert.equal(cfg.read(0xfc, b), 4, 'reads stop at the end of the 256 bytes');
  assert.equal(cfg.read(0, b.subarray(0, 4)), 4);
  assert.equal(new DataView(b.buffer).getUint32(0, true), 0x56781234);
});
