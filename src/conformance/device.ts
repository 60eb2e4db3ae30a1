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
/** e1000e RDBAL0, a plain read-write register of BAR0 (also the ioeventfd scenario's). */
const RDBAL0 = 0x2800;

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
  // the command register (INTx disable virtual, the rest to the device) and the read-only status
  rw('cmd_master_intx', 0x04, 0x0507, 2);
  rw('cmd_restore', 0x04, 0x0103, 2);
  rw('status', 0x06, 0xffff, 2);
  // a gap between capabilities (raw access to the device)
  rw('gap_40', 0x40, 0xffffffff);
  // power management: the next pointer and PME bits virtual, the state through pci_set_power_state,
  // and what a BAR access does while the function is in D3hot
  rw('pm_header', 0xc8, 0xffffffff);
  rw('pm_pme_en', 0xcc, 0x0100, 2);
  rw('pm_data_sel', 0xcc, 0x1e00, 2);
  rw('pm_pme_status', 0xcc, 0x8000, 2);
  w.op('region_write', 'c.w_bar_before_d3', { d: 0, index: 0, pos: RDBAL0, value: 0x5a5a5000 });
  rw('pm_d3hot', 0xcc, 0x0003, 2);
  w.op('region_read', 'c.bar_in_d3', { d: 0, index: 0, pos: RDBAL0 });
  w.op('region_write', 'c.w_bar_in_d3', { d: 0, index: 0, pos: RDBAL0, value: 0x12345000 });
  rw('pm_d0', 0xcc, 0x0000, 2);
  w.op('region_read', 'c.bar_after_d0', { d: 0, index: 0, pos: RDBAL0 });
  // (the register keeps its value across opens of the fd: later scenarios expect the reset value)
  w.op('region_write', 'c.w_bar_restore', { d: 0, index: 0, pos: RDBAL0, value: 0 });
  // PCI Express: device control (FLR, payload and read request size virtual, phantom functions
  // refused), the rest read-only; on a root bus the capability ends before the link registers
  rw('exp_header', 0xe0, 0xffffffff);
  rw('exp_devcap', 0xe4, 0xffffffff);
  rw('exp_devctl_ones', 0xe8, 0xffff, 2);
  rw('exp_devctl_hi_byte', 0xe9, 0x00, 1);
  rw('exp_devctl_zero', 0xe8, 0x0000, 2);
  rw('exp_devsta', 0xea, 0xffff, 2);
  rw('exp_lnkctl', 0xf0, 0xffff, 2);
  // MSI (at 0xd0, 64-bit): flags, address and data virtual; enable only while MSI is the interrupt
  // type, the queue size clamped to what the device offers, the flags also written to the device
  rw('msi_flags_ones', 0xd2, 0xffff, 2);
  rw('msi_addr_lo', 0xd4, 0xfee01004);
  rw('msi_addr_hi', 0xd8, 0x12345678);
  rw('msi_data', 0xdc, 0xabcd, 2);
  rw('msi_flags_byte', 0xd2, 0x31, 1);
  rw('msi_flags_zero', 0xd2, 0, 2);
  // MSI-X: its control word belongs to the interrupt ioctls
  rw('msix_ctrl', 0xa2, 0xc000, 2);
  // AER (header virtual, the error masks and ECRC enables writable) and DSN (read-only)
  rw('aer_header', 0x100, 0xffffffff);
  rw('aer_uncor_status', 0x104, 0xffffffff);
  rw('aer_uncor_mask', 0x108, 0xffffffff);
  rw('aer_uncor_sever', 0x10c, 0);
  rw('aer_uncor_sever_ones', 0x10c, 0xffffffff);
  rw('aer_uncor_sever_default', 0x10c, 0x00462030);
  rw('aer_cor_status', 0x110, 0xffffffff);
  rw('aer_cor_mask', 0x114, 0xffffffff);
  rw('aer_cap', 0x118, 0xffffffff);
  rw('aer_header_log', 0x11c, 0xffffffff);
  rw('after_aer', 0x12c, 0xffffffff);
  rw('dsn', 0x144, 0xffffffff);
  rw('ext_gap', 0x150, 0xffffffff);
  // the edges of the region: pieces across a dword, 8 bytes at once, the end of config space
  w.op('region_read', 'c.cfg_unaligned', { d: 0, index: 7, pos: 0x0e, len: 4 });
  w.op('region_read', 'c.cfg_read8', { d: 0, index: 7, pos: 0x10, len: 8 });
  w.op('region_read', 'c.cfg_last_dword', { d: 0, index: 7, pos: 0xffc });
  w.op('region_read', 'c.cfg_across_end', { d: 0, index: 7, pos: 0xffe });
  w.op('region_read', 'c.cfg_past_end', { d: 0, index: 7, pos: 0x1000 });
  w.op('region_write', 'c.w_cfg_past_end', { d: 0, index: 7, pos: 0x1000, value: 0 });
  // memory decoding off in the (virtual) command register: BAR access refused until it is back on
  rw('cmd_mem_off', 0x04, 0x0101, 2);
  w.op('region_read', 'c.bar_mem_off', { d: 0, index: 0, pos: RDBAL0 });
  w.op('region_read', 'c.io_bar_mem_off', { d: 0, index: 2, pos: 0 });
  rw('cmd_mem_on', 0x04, 0x0103, 2);
  w.op('region_read', 'c.bar_mem_on', { d: 0, index: 0, pos: RDBAL0 });
  // a BAR the device does not have, the (absent) ROM, a read past the end of BAR0
  w.op('region_read', 'c.bar4_absent', { d: 0, index: 4, pos: 0 });
  w.op('region_read', 'c.rom_absent', { d: 0, index: 6, pos: 0 });
  w.op('region_read', 'c.bar0_past_end', { d: 0, index: 0, pos: 0x20000 });
  w.op('region_read', 'c.bar0_across_end', { d: 0, index: 0, pos: 0x1fffe });
  // VFIO_DEVICE_RESET from D3hot: back to D0 first, then pci_try_reset_function (a PM reset here, the
  // e1000e having no FLR), whose restore puts back what the user had written to the device
  rw('pm_d3_before_reset', 0xcc, 0x0003, 2);
  w.op('raw_ioctl', 'c.device_reset', { d: 0, cmd: 0x3b6f });
  for (const [n, pos] of [
    ['pmcsr', 0xcc],
    ['cmd', 0x04],
    ['gap', 0x40],
    ['cor_mask', 0x114],
    ['aer_cap', 0x118],
  ] as const)
    w.op('region_read', `c.${n}_after_reset`, { d: 0, index: 7, pos });
  w.op('region_read', 'c.bar_after_reset', { d: 0, index: 0, pos: RDBAL0 });
  w.op('close_device', 'c.close_device', { d: 0 });
  w.op('device_fd', 'c.device_fd_again', { g: 0, d: 0 });
  for (const pos of [0x10, 0x18, 0x30, 0x3c])
    w.op('region_read', `c.reopened_cfg${pos.toString(16).padStart(3, '0')}`, { d: 0, index: 7, pos });
  w.op('close_device', 'c.close_device_again', { d: 0 });
  detachNic(w, 'c.');
  return w.text();
}
