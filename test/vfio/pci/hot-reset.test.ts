import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { ERRNO } from '../../../src/base/errno.js';
import { kernelProfile, type KernelVersion } from '../../../src/kernel/profile.js';
import { noBusResetQuirk } from '../../../src/pci/quirk-tables.js';
import { busResetBlocker } from '../../../src/pci/reset.js';
import { buildPlatform } from '../../../src/platform/build.js';
import { loadPreset } from '../../../src/platform/presets.js';
import { VFIO_TYPE1v2_IOMMU, VFIO_SET_IOMMU } from '../../../src/uapi/vfio-type1.js';
import {
  VFIO_DEVICE_GET_PCI_HOT_RESET_INFO,
  VFIO_DEVICE_PCI_HOT_RESET,
  decodeHotResetInfo,
  encodeHotReset,
  encodeHotResetInfo,
} from '../../../src/uapi/vfio-device.js';
import type { VfioDeviceFile } from '../../../src/vfio/pci/vfio-pci.js';
import { VfioSystem } from '../../../src/vfio/system.js';
import { getDeviceFd, pciHotReset, pciHotResetInfo, setContainer } from '../../../src/vfio/typed.js';
import { attached, boot, machine, toVfio } from '../machine.js';

function deviceFile(sys: VfioSystem, fd: number): VfioDeviceFile {
  const f = sys.file(fd);
  assert.ok(f?.kind === 'device');
  return f.device;
}

for (const v of ['6.1', '6.12'] as const) {
  test(`hot reset of a root-bus device (the QEMU e1000e, conformance/golden hot-reset.iovx), ${v}`, () => {
    const m = machine('qemu-q35-intel-iommu', v);
    const a = attached(m);
    assert.equal(a.rc, 0);
    const file = deviceFile(m.sys, getDeviceFd(m.sys, a.group, m.nic.bdf));
    // GET_PCI_HOT_RESET_INFO: argsz, then no bridge above to reset a bus with; nothing written back
    assert.equal(file.ioctl(VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, encodeHotResetInfo(11)), -ERRNO.EINVAL);
    const b = encodeHotResetInfo(64).fill(0xff);
    b.set([64, 0, 0, 0], 0);
    assert.equal(file.ioctl(VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, b), -ERRNO.ENODEV);
    assert.equal(decodeHotResetInfo(b).flags, 0xffffffff);
    assert.deepEqual(pciHotResetInfo(file), { rc: -ERRNO.ENODEV, devices: [] });
    // PCI_HOT_RESET: header checks, 6.12's empty-list check, then ENODEV before any fd is read
    assert.equal(
      file.ioctl(VFIO_DEVICE_PCI_HOT_RESET, encodeHotReset([a.group], { argsz: 11 })),
      -ERRNO.EINVAL,
    );
    assert.equal(
      file.ioctl(VFIO_DEVICE_PCI_HOT_RESET, encodeHotReset([a.group], { flags: 1 })),
      -ERRNO.EINVAL,
    );
    assert.equal(pciHotReset(file, []), v === '6.1' ? -ERRNO.ENODEV : -ERRNO.EINVAL);
    for (const fds of [[a.group], [-1], [1000], [a.container], [a.group, a.group]])
      assert.equal(pciHotReset(file, fds), -ERRNO.ENODEV, `fds ${fds}`);
  });
}

/** amd-epyc: an X710 VF (41:10.1) on its PFs' bus, behind the GPP bridge 40:03.1. */
function epyc(v: KernelVersion) {
  return withVf(boot('amd-epyc', v));
}

/** The X710 VF 41:10.1 of an amd-epyc-like machine handed to vfio-pci, in a container, its device file. */
function withVf(core: ReturnType<typeof boot>) {
  const vf = toVfio(core, (d) => d.bdf === '0000:41:10.1');
  const sys = new VfioSystem({ core });
  const c = sys.open('/dev/vfio/vfio');
  const g = sys.open(`/dev/vfio/${vf.groupId}`);
  assert.equal(setContainer(sys, g, c), 0);
  assert.equal(sys.ioctl(c, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), 0);
  const file = deviceFile(sys, getDeviceFd(sys, g, vf.bdf));
  return { core, sys, c, g, vf, file };
}

for (const v of ['6.1', '6.12'] as const) {
  test(`hot reset behind a bridge: every device of the bus, their groups, and ownership of all of them (${v})`, () => {
    const e = epyc(v);
    const group = (bdf: string) => e.core.device(bdf)!.groupId!;
    // ENOSPC first: the header comes back with the count to make room for, argsz as given
    const h = encodeHotResetInfo();
    assert.equal(e.file.ioctl(VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, h), -ERRNO.ENOSPC);
    assert.deepEqual(decodeHotResetInfo(h), { argsz: 12, flags: 0, count: 3, devices: [] });
    const info = pciHotResetInfo(e.file);
    assert.equal(info.rc, 0);
    assert.deepEqual(info.devices, [
      { group: group('0000:41:00.0'), segment: 0, bus: 0x41, devfn: 0x00 },
      { group: group('0000:41:00.1'), segment: 0, bus: 0x41, devfn: 0x01 },
      { group: group('0000:41:10.1'), segment: 0, bus: 0x41, devfn: 0x81 },
    ]);
    // the PFs are bound to i40e: not in vfio-pci's device set, so no reset whatever the groups
    assert.equal(pciHotReset(e.file, [e.g]), -ERRNO.EINVAL);
    for (const bdf of ['0000:41:00.0', '0000:41:00.1']) toVfio(e.core, (d) => d.bdf === bdf);
    const pf0 = e.sys.open(`/dev/vfio/${group('0000:41:00.0')}`);
    const pf1 = e.sys.open(`/dev/vfio/${group('0000:41:00.1')}`);
    assert.ok(pf0 > 0 && pf1 > 0);
    assert.equal(pciHotReset(e.file, [e.g, pf0]), -ERRNO.EINVAL, 'a device of the bus left out');
    assert.equal(pciHotReset(e.file, [e.g, pf0, -1]), -ERRNO.EBADF);
    assert.equal(pciHotReset(e.file, [e.g, pf0, e.c]), -ERRNO.EINVAL, 'a container is not a group');
    assert.equal(pciHotReset(e.file, [e.g, pf0, pf1, pf1]), -ERRNO.EINVAL, 'more fds than devices');
    assert.equal(pciHotReset(e.file, []), -ERRNO.EINVAL);
    assert.equal(pciHotReset(e.file, [pf1, e.g, pf0]), 0);
  });
}

test('a NO_BUS_RESET quirk on the bus (an Atheros AR93xx there): both hot-reset ioctls answer ENODEV', () => {
  // the table, as drivers/pci/quirks.c has it
  assert.equal(noBusResetQuirk(0x1b21, 0x1164), 'quirk_no_bus_reset');
  assert.equal(noBusResetQuirk(0x168c, 0x003e), 'quirk_no_bus_reset');
  assert.equal(noBusResetQuirk(0x10de, 0x2345), 'quirk_nvidia_no_bus_reset');
  assert.equal(noBusResetQuirk(0x10de, 0x2380), undefined);
  assert.equal(noBusResetQuirk(0x10de, 0x22ce), 'quirk_no_bus_reset');
  assert.equal(noBusResetQuirk(0x8086, 0x1572), undefined);
  // amd-epyc with its second X710 PF replaced by an Atheros AR93xx on the VF's bus
  const desc = loadPreset('amd-epyc');
  const changed = {
    ...desc,
    devices: desc.devices.map((d) =>
      d.bdf.endsWith('41:00.1') ? { ...d, vendor: 0x168c, device: 0x0030, driver: 'ath9k' } : d,
    ),
  };
  const { core, file, g } = withVf(buildPlatform(changed, kernelProfile('6.12')).iommu);
  const bridge = core.topology.get('0000:41:10.1')!.upstream!;
  assert.equal(busResetBlocker(bridge)?.bdf, '0000:41:00.1');
  assert.deepEqual(pciHotResetInfo(file), { rc: -ERRNO.ENODEV, devices: [] });
  assert.equal(pciHotReset(file, [g]), -ERRNO.ENODEV);
});
