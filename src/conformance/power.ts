/**
 * `common/power.iovx` (every machine): the power state vfio-pci leaves a function in, as
 * /sys/bus/pci/devices/BDF/power_state shows it: runtime-suspended to D3hot while no device file is
 * open, D0 from the open on, D3hot again shortly after the close (the suspend runs from a workqueue);
 * a D3hot the user writes to PMCSR through the open file shows too. Then the low-power feature's
 * bookkeeping: a second entry is EINVAL, the close ends low power (the state itself is not read while in
 * it: when the suspend lands depends on the guest's timing).
 */
import { attachNic, detachNic, scenarioWriter } from './attach.js';

const PMCSR = 0xcc; // the e1000e's PM capability at 0xc8

export function powerScenario(): string {
  const w = scenarioWriter('power');
  const p = 'p.';
  const state = (n: string, wait = 0) =>
    w.op('pci_attr', `${p}${n}`, { d: 0, attr: 'power_state', ...(wait ? { wait_ms: wait } : {}) });
  state('idle', 500);
  attachNic(w, p);
  state('idle_in_container');
  w.op('device_fd', `${p}device_fd`, { g: 0, d: 0 });
  state('open');
  w.op('region_write', `${p}pmcsr_d3hot`, { d: 0, index: 7, pos: PMCSR, len: 2, value: 3 });
  state('user_d3hot');
  w.op('region_write', `${p}pmcsr_d0`, { d: 0, index: 7, pos: PMCSR, len: 2, value: 0 });
  state('user_d0');
  // the low-power feature: a second entry without an exit is refused (pm_runtime_engaged)
  const SET = 1 << 17;
  w.op('device_feature', `${p}low_power_entry`, { d: 0, flags: SET | 3 });
  w.op('device_feature', `${p}low_power_entry_again`, { d: 0, flags: SET | 3 });
  w.op('device_feature', `${p}low_power_exit`, { d: 0, flags: SET | 5 });
  w.op('device_feature', `${p}low_power_entry_after_exit`, { d: 0, flags: SET | 3 });
  w.op('close_device', `${p}close_device`, { d: 0 });
  state('closed', 500);
  w.op('device_fd', `${p}device_fd_again`, { g: 0, d: 0 });
  state('open_again');
  w.op('close_device', `${p}close_device_again`, { d: 0 });
  detachNic(w, p);
  state('idle_after', 500);
  return w.text();
}
