/**
 * pci_set_power_state for a function model (drivers/pci/pci.c): D0 <-> D3hot through PMCSR. Going down,
 * the state field is set in PMCSR (pci_set_low_power_state); coming back, pci_power_up writes the whole
 * register to 0 (clearing PME_En and the data select too). D1 and D2 fail unless PMC offers them, and
 * a function without a PM capability stays in D0. Returns 0 or -EIO (callers such as vfio ignore it).
 */
import { ERRNO } from '../base/errno.js';
import { PCI_PM_CTRL_STATE_MASK, type MsiDeviceModel } from './msi-device.js';

const PCI_PM_CAP_D1 = 0x0200;
const PCI_PM_CAP_D2 = 0x0400;

export function pciSetPowerState(m: MsiDeviceModel, state: number): number {
  const pm = m.layout.caps.pm;
  if (pm === undefined) return state === 0 ? 0 : -ERRNO.EIO;
  const cur = m.powerState;
  if (state === cur) return 0;
  if (state === 0) {
    m.busWrite(pm + 4, 2, 0);
    return 0;
  }
  const pmc = m.cfgRead(pm + 2, 2);
  if ((state === 1 && !(pmc & PCI_PM_CAP_D1)) || (state === 2 && !(pmc & PCI_PM_CAP_D2))) return -ERRNO.EIO;
  // a deeper state only from a shallower one (D3hot to D1 is refused)
  if (cur > state) return -ERRNO.EINVAL;
  const pmcsr = m.cfgRead(pm + 4, 2);
  m.busWrite(pm + 4, 2, (pmcsr & ~PCI_PM_CTRL_STATE_MASK) | state);
  return 0;
}
