/**
 * vfio-pci's remaining device ioctls, on the e1000e's fd (every machine):
 * - `common/hot-reset.iovx`: VFIO_DEVICE_GET_PCI_HOT_RESET_INFO and VFIO_DEVICE_PCI_HOT_RESET with short,
 *   exact and roomy argsz, flags, an empty group list, the device's own group, -1, a file that is not a
 *   group, a closed fd; the iommufd-only device ioctls on a group-opened device.
 * - `common/ioeventfd.iovx`: VFIO_DEVICE_IOEVENTFD: argsz, size flags, every region, BAR ends, the
 *   MSI-X table's bytes and the ones beside them, fds that are not eventfds, duplicates, removal, an
 *   ioeventfd doing its write (the register read back through the device fd), the per-device limit,
 *   and what closing the device does to them.
 */

import { attachNic, detachNic, scenarioWriter } from './attach.js';

export function hotResetScenario(): string {
  const w = scenarioWriter('hot_reset');
  attachNic(w, 'r.');
  w.op('device_fd', 'r.device_fd', { g: 0, d: 0 });
  const info = (name: string, f: Record<string, number> = {}) =>
    w.op('hot_reset_info', `r.${name}`, { d: 0, ...f });
  info('info_argsz0', { argsz: 0 });
  info('info_argsz11', { argsz: 11 });
  info('info');
  info('info_argsz20', { argsz: 20, dump: 1 });
  info('info_argsz28', { argsz: 28, dump: 1 });
  info('info_room', { argsz: 64, fill: 0xff, dump: 1 });
  info('info_argsz_max', { argsz: 4096, dump: 1 });
  const reset = (name: string, f: Record<string, number | string>) =>
    w.op('hot_reset', `r.${name}`, { d: 0, ...f });
  reset('reset_argsz11', { fds: 'g:0', argsz: 11 });
  reset('reset_argsz0', { fds: 'g:0', argsz: 0 });
  reset('reset_flags1', { fds: 'g:0', flags: 1 });
  reset('reset_flags_hi', { fds: 'g:0', flags: 0x80000000 });
  reset('reset_empty', { fds: 'none' });
  reset('reset_empty_argsz16', { fds: 'none', argsz: 16 });
  reset('reset_own_group', { fds: 'g:0' });
  reset('reset_minus1', { fds: '-1' });
  reset('reset_bad_fd', { fds: 'bad' });
  reset('reset_container', { fds: 'c:0' });
  reset('reset_device', { fds: 'd:0' });
  reset('reset_eventfd', { fds: 'e:0' });
  reset('reset_twice', { fds: 'g:0,g:0' });
  reset('reset_count_short', { fds: 'g:0,g:0', count: 1 });
  // more groups than the reset reaches devices (the kernel reads no fd then)
  reset('reset_count_long', { fds: 'g:0', count: 3 });
  reset('reset_count_huge', { fds: 'g:0', count: 0x10000 });
  // the iommufd-only device commands (BIND_IOMMUFD, ATTACH/DETACH_IOMMUFD_PT) and the next numbers
  for (const cmd of [0x3b76, 0x3b77, 0x3b78, 0x3b79, 0x3b7a])
    w.op('raw_ioctl', `r.device_${cmd.toString(16)}`, { d: 0, cmd });
  w.op('close_device', 'r.close_device', { d: 0 });
  info('info_closed');
  reset('reset_closed', { fds: 'g:0' });
  detachNic(w, 'r.');
  return w.text();
}

/** The e1000e's RDBAL0 register (BAR0 0x2800): what is written reads back (its low 4 bits are zero). */
const RDBAL0 = 0x2800;
/** VFIO_DEVICE_IOEVENTFD_{8,16,32,64} */
const SZ1 = 1;
const SZ2 = 2;
const SZ4 = 4;
const SZ8 = 8;

export function ioeventfdScenario(): string {
  const w = scenarioWriter('ioeventfd');
  attachNic(w, 'i.');
  w.op('device_fd', 'i.device_fd', { g: 0, d: 0 });
  const io = (name: string, f: Record<string, number | string>) =>
    w.op('ioeventfd', `i.${name}`, { d: 0, fd: 'e:0', ...f });
  // the header
  io('argsz27', { flags: SZ4, pos: RDBAL0, argsz: 27 });
  io('argsz0', { flags: SZ4, pos: RDBAL0, argsz: 0 });
  io('flags0', { flags: 0, pos: RDBAL0 });
  io('flags3', { flags: 3, pos: RDBAL0 });
  io('flags12', { flags: 12, pos: RDBAL0 });
  io('flags16', { flags: 16, pos: RDBAL0 });
  io('flags_hi', { flags: 0x80000004, pos: RDBAL0 });
  io('fd_minus2', { flags: SZ4, pos: RDBAL0, fd: '-2' });
  io('fd_bad', { flags: SZ4, pos: RDBAL0, fd: 'bad' });
  io('fd_group', { flags: SZ4, pos: RDBAL0, fd: 'g:0' });
  io('fd_device', { flags: SZ4, pos: RDBAL0, fd: 'd:0' });
  io('remove_none', { flags: SZ4, pos: RDBAL0, fd: '-1' });
  // regions: only BARs with a resource; the ends of BAR0; the MSI-X table in BAR3 and its neighbours
  for (const index of [1, 2, 3, 4, 5, 6, 7, 8, 9, 0xffffff])
    io(`region${index}`, { flags: SZ1, index, pos: 0x50, data: index });
  io('bar0_last4', { flags: SZ4, pos: 0x1fffc });
  io('bar0_last4_plus1', { flags: SZ4, pos: 0x1fffd });
  io('bar0_last8', { flags: SZ8, pos: 0x1fff8 });
  io('bar0_past', { flags: SZ1, pos: 0x20000 });
  io('bar0_huge_pos', { flags: SZ1, pos: 0xffffffffff });
  io('bar2_last1', { flags: SZ1, index: 2, pos: 0x1f });
  io('bar2_last4_plus1', { flags: SZ4, index: 2, pos: 0x1d });
  io('msix_table0', { flags: SZ4, index: 3, pos: 0 });
  io('msix_table_last', { flags: SZ4, index: 3, pos: 0x4c });
  io('msix_table_straddle', { flags: SZ4, index: 3, pos: 0x4e });
  io('msix_after_table', { flags: SZ4, index: 3, pos: 0x50 });
  io('msix_pba', { flags: SZ8, index: 3, pos: 0x2000 });
  io('unaligned', { flags: SZ4, pos: RDBAL0 + 1, data: 1 });
  // registered ones: duplicates by (bar, pos, data, size), another fd, removal
  io('add', { flags: SZ4, pos: RDBAL0, data: 0x12345670 });
  io('add_again', { flags: SZ4, pos: RDBAL0, data: 0x12345670 });
  io('add_again_other_fd', { flags: SZ4, pos: RDBAL0, data: 0x12345670, fd: 'e:1' });
  io('add_other_data', { flags: SZ4, pos: RDBAL0, data: 0x12345680 });
  io('add_other_size', { flags: SZ2, pos: RDBAL0, data: 0x12345670 });
  io('add_8', { flags: SZ8, pos: RDBAL0, data: 0x12345670 });
  io('remove_other_data', { flags: SZ4, pos: RDBAL0, data: 0x99, fd: '-1' });
  io('remove_8', { flags: SZ8, pos: RDBAL0, data: 0x12345670, fd: '-1' });
  io('remove_8_again', { flags: SZ8, pos: RDBAL0, data: 0x12345670, fd: '-1' });
  // the write an ioeventfd does: signal its eventfd (one ioeventfd on it), read the register back
  // through the device fd, and whether the signal is still counted in the eventfd
  w.op('region_read', 'i.rdbal_before', { d: 0, pos: RDBAL0 });
  io('add_e2', { flags: SZ4, pos: RDBAL0, data: 0x0abcdef0, fd: 'e:2' });
  w.op('efd_write', 'i.signal_e2', { e: 2, value: 3 });
  w.op('region_read', 'i.rdbal_after_e2', { d: 0, pos: RDBAL0, wait_ms: 50 });
  w.op('efd_read', 'i.e2_count', { e: 2 });
  io('remove_e2', { flags: SZ4, pos: RDBAL0, data: 0x0abcdef0, fd: '-1' });
  w.op('efd_write', 'i.signal_e2_removed', { e: 2 });
  w.op('efd_read', 'i.e2_count_removed', { e: 2 });
  // the per-device limit (VFIO_PCI_IOEVENTFD_MAX), counting the ones still registered
  w.op('ioeventfd_fill', 'i.fill', { d: 0, flags: SZ4, pos: 0x100, fd: 'e:3', max: 1100 });
  io('after_fill', { flags: SZ4, pos: 0x104 });
  io('after_fill_remove', { flags: SZ4, pos: 0x100, data: 5, fd: '-1' });
  io('after_fill_add', { flags: SZ4, pos: 0x104 });
  // closing the device drops them all
  w.op('close_device', 'i.close_device', { d: 0 });
  io('closed', { flags: SZ4, pos: RDBAL0 });
  w.op('device_fd', 'i.device_fd_again', { g: 0, d: 0 });
  io('reopened_add', { flags: SZ4, pos: RDBAL0, data: 0x12345670 });
  w.op('ioeventfd_fill', 'i.fill_again', { d: 0, flags: SZ4, pos: 0x100, fd: 'e:3', max: 1100 });
  w.op('close_device', 'i.close_device_again', { d: 0 });
  detachNic(w, 'i.');
  return w.text();
}
