/**
 * The device-region scenario (`common/device.iovx`, every machine): VFIO_DEVICE_GET_REGION_INFO on the
 * vfio-pci e1000e for every region index and past them, at the minimum argsz (the capability chain does
 * not fit: argsz_out says how much would), with room for it (dumped), too small, and in a buffer full of
 * ones; then VFIO_DEVICE_GET_INFO and the regions again after the device fd is closed and reopened.
 */

import {
  VFIO_DEVICE_FEATURE_GET,
  VFIO_DEVICE_FEATURE_PROBE,
  VFIO_DEVICE_FEATURE_SET,
} from '../uapi/vfio-device.js';
import { attachNic, detachNic, scenarioWriter } from './attach.js';

/** BAR0-5, ROM, config, VGA, then the first indexes past VFIO_PCI_NUM_REGIONS. */
const INDEXES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0xffffffff];

export function deviceScenario(): string {
  const w = scenarioWriter('device');
  attachNic(w, 'v.');
  w.op('device_fd', 'v.device_fd', { g: 0, d: 0 });
  w.op('device_info', 'v.device_info', { d: 0 });
  for (const i of INDEXES) w.op('region_info', `v.region${i}`, { d: 0, index: i });
  for (const i of [0, 2, 3, 7])
    w.op('region_info', `v.region${i}_room`, { d: 0, index: i, argsz: 64, dump: 1 });
  w.op('region_info', 'v.region3_exact', { d: 0, index: 3, argsz: 40, dump: 1 });
  w.op('region_info', 'v.region3_one_short', { d: 0, index: 3, argsz: 39, dump: 1 });
  w.op('region_info', 'v.region0_argsz_31', { d: 0, index: 0, argsz: 31 });
  w.op('region_info', 'v.region0_argsz_0', { d: 0, index: 0, argsz: 0 });
  w.op('region_info', 'v.region3_ones', { d: 0, index: 3, argsz: 64, fill: 0xff, dump: 1 });
  w.op('close_device', 'v.close_device', { d: 0 });
  w.op('region_info', 'v.region0_closed', { d: 0, index: 0 });
  w.op('device_fd', 'v.device_fd_again', { g: 0, d: 0 });
  w.op('region_info', 'v.region3_again', { d: 0, index: 3, argsz: 64, dump: 1 });
  w.op('close_device', 'v.close_device_again', { d: 0 });
  detachNic(w, 'v.');
  return w.text();
}

/**
 * `common/device-feature.iovx`: VFIO_DEVICE_FEATURE on the e1000e's fd: every feature index with PROBE,
 * PROBE with GET/SET, GET and SET without PROBE, bad flags and argsz, and the low-power features set
 * for real (entry, then exit).
 */
export function deviceFeatureScenario(): string {
  const w = scenarioWriter('device_feature');
  attachNic(w, 'f.');
  w.op('device_fd', 'f.device_fd', { g: 0, d: 0 });
  const GET = VFIO_DEVICE_FEATURE_GET;
  const SET = VFIO_DEVICE_FEATURE_SET;
  const PROBE = VFIO_DEVICE_FEATURE_PROBE;
  const f = (name: string, flags: number, argsz?: number) =>
    w.op('device_feature', `f.${name}`, { d: 0, flags, ...(argsz === undefined ? {} : { argsz }) });
  for (const i of [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 99]) f(`probe${i}`, PROBE | i);
  for (const i of [0, 1, 3, 5]) {
    f(`probe${i}_get`, PROBE | GET | i);
    f(`probe${i}_set`, PROBE | SET | i);
  }
  f('probe3_getset', PROBE | GET | SET | 3);
  f('getset3', GET | SET | 3);
  f('none3', 3);
  f('get0', GET);
  f('set0', SET, 24);
  f('get1', GET | 1, 16);
  f('get2', GET | 2, 16);
  f('get3', GET | 3);
  f('unknown_flag', 0x80000 | PROBE);
  f('argsz7', PROBE, 7);
  f('argsz0', PROBE, 0);
  f('get99', GET | 99);
  f('wakeup_short', SET | 4, 8);
  f('low_power_entry', SET | 3);
  f('low_power_exit', SET | 5);
  f('low_power_exit_again', SET | 5);
  w.op('close_device', 'f.close_device', { d: 0 });
  w.op('device_feature', 'f.closed', { d: 0, flags: PROBE | 3 });
  detachNic(w, 'f.');
  return w.text();
}

/**
 * `common/ioctl-kinds.iovx`: ioctl numbers a file does not implement: unknown ones, another type byte,
 * and the container's, group's and device's commands sent to the other kinds (a zeroed 64-byte buffer),
 * on a container with and without an IOMMU driver. vfio-pci's hot-reset and ioeventfd commands have
 * their own scenarios (device-ioctls.ts).
 */
export function ioctlKindsScenario(): string {
  const w = scenarioWriter('ioctl_kinds');
  w.op('open_container', 'k.bare_container', { c: 1 });
  for (const cmd of [0x3b63, 0x3b67, 0x3b70, 0x3b72, 0x3b75, 0x3b7f, 0x1234])
    w.op('raw_ioctl', `k.bare_${cmd.toString(16)}`, { c: 1, cmd });
  attachNic(w, 'k.');
  w.op('device_fd', 'k.device_fd', { g: 0, d: 0 });
  for (const cmd of [0x3b63, 0x3b67, 0x3b69, 0x3b6b, 0x3b6d, 0x3b6f, 0x3b7f, 0x3bff, 0x1234])
    w.op('raw_ioctl', `k.container_${cmd.toString(16)}`, { c: 0, cmd });
  for (const cmd of [0x3b63, 0x3b64, 0x3b65, 0x3b66, 0x3b6b, 0x3b70, 0x3b71, 0x3b72, 0x3b75, 0x3b7f, 0x1234])
    w.op('raw_ioctl', `k.group_${cmd.toString(16)}`, { g: 0, cmd });
  for (const cmd of [0x3b63, 0x3b64, 0x3b65, 0x3b66, 0x3b67, 0x3b69, 0x3b6a, 0x3b72, 0x3b73, 0x3b7f, 0x1234])
    w.op('raw_ioctl', `k.device_${cmd.toString(16)}`, { d: 0, cmd });
  w.op('close_device', 'k.close_device', { d: 0 });
  w.op('close_container', 'k.close_bare', { c: 1 });
  detachNic(w, 'k.');
  return w.text();
}

/**
 * `common/config.iovx`: the e1000e's config space read through the vfio-pci device fd (region 7), one
 * dword at a time: the standard header and capabilities (0x00-0xff) and the start of the extended
 * space (0x100-0x17f: QEMU's AER and DSN capabilities).
 */
export function configScenario(): string {
  const w = scenarioWriter('config');
  attachNic(w, 'c.');
  w.op('device_fd', 'c.device_fd', { g: 0, d: 0 });
  for (let pos = 0; pos < 0x180; pos += 4)
    w.op('region_read', `c.cfg${pos.toString(16).padStart(3, '0')}`, { d: 0, index: 7, pos });
  // what vfio-pci virtualises: BAR sizing (all ones, read back, restore), the ROM BAR, the IRQ line,
  // and writes to read-only registers (IDs, class, capability pointer, the MSI-X table offset)
  const rw = (n: string, pos: number, value: number, len = 4) => {
    w.op('region_write', `c.w_${n}`, { d: 0, index: 7, pos, value, ...(len !== 4 ? { len } : {}) });
    w.op('region_read', `c.r_${n}`, { d: 0, index: 7, pos: pos & ~3 });
  };
  for (const bar of [0, 1, 2, 3, 4, 5]) rw(`bar${bar}_ones`, 0x10 + 4 * bar, 0xffffffff);
  rw('rom_ones', 0x30, 0xfffff800);
  rw('rom_enable', 0x30, 0xfffff801);
  rw('bar0_low_bits', 0x10, 0x0000000f);
  rw('bar0_addr', 0x10, 0x12340000);
  rw('irq_line', 0x3c, 0x55, 1);
  rw('vendor', 0x00, 0x12345678);
  rw('class', 0x08, 0xffffffff);
  rw('cap_ptr', 0x34, 0x40, 1);
  rw('msix_table_offset', 0xa4, 0x1000);
  w.op('close_device', 'c.close_device', { d: 0 });
  w.op('device_fd', 'c.device_fd_again', { g: 0, d: 0 });
  for (const pos of [0x10, 0x18, 0x30, 0x3c])
    w.op('region_read', `c.reopened_cfg${pos.toString(16).padStart(3, '0')}`, { d: 0, index: 7, pos });
  w.op('close_device', 'c.close_device_again', { d: 0 });
  detachNic(w, 'c.');
  return w.text();
}
