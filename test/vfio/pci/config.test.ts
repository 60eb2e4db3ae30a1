import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { VFIO_PCI_CONFIG_REGION_INDEX, vfioPciIndexToOffset } from '../../../src/uapi/vfio-device.js';
import type { VfioDeviceFile } from '../../../src/vfio/pci/vfio-pci.js';
import { getDeviceFd } from '../../../src/vfio/typed.js';
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
