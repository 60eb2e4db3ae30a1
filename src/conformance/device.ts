/**
 * The device-region scenario (`common/device.iovx`, every machine): VFIO_DEVICE_GET_REGION_INFO on the
 * vfio-pci e1000e for every region index and past them, at the minimum argsz (the capability chain does
 * not fit: argsz_out says how much would), with room for it (dumped), too small, and in a buffer full of
 * ones; then VFIO_DEVICE_GET_INFO and the regions again after the device fd is closed and reopened.
 */

import { CompiledWriter } from './compiled.js';

/** BAR0-5, ROM, config, VGA, then the first indexes past VFIO_PCI_NUM_REGIONS. */
const INDEXES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0xffffffff];

export function deviceScenario(): string {
  const w = new CompiledWriter();
  w.directive('format', 'full');
  w.directive('section', 'device');
  w.op('param_set', 'v.unsafe', { p: 'allow_unsafe_interrupts', value: '1' });
  w.op('open_container', 'v.open_container');
  w.op('open_group', 'v.open_group', { g: 0 });
  w.op('set_container', 'v.set_container', { g: 0 });
  w.op('set_iommu', 'v.set_iommu', { type: 3 });
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
  w.op('close_group', 'v.close_group', { g: 0 });
  w.op('close_container', 'v.close_container');
  w.op('param_set', 'v.safe', { p: 'allow_unsafe_interrupts', value: '0' });
  return w.text();
}
