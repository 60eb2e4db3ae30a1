/**
 * Function-level reset as the PCI core chooses it (drivers/pci/pci.c, pci_reset_fn_methods in order):
 * PCIe FLR when DEVCAP offers it, a PM reset (D3hot and back) when PMCSR lacks No_Soft_Reset, a bus
 * reset when the function is alone below its bridge (pci_parent_bus_reset). Device-specific, ACPI
 * _RST, Advanced Features FLR and hotplug slot resets are not modelled.
 */
import type { MsiDeviceModel } from './msi-device.js';
import type { PciDev } from './topology.js';
import { pciSetPowerState } from './power.js';

const PCI_EXP_DEVCAP_FLR = 0x10000000;
const PCI_PM_CTRL_NO_SOFT_RESET = 0x0008;

export type ResetMethod = 'flr' | 'pm' | 'bus';

/** pci_probe_reset_function: the first method that can reset this function, or undefined. */
export function probeResetMethod(m: MsiDeviceModel, dev: PciDev | undefined): ResetMethod | undefined {
  const e = m.layout.caps.pcie;
  if (e !== undefined && (m.cfgRead(e + 4, 4) & PCI_EXP_DEVCAP_FLR) !== 0) return 'flr';
  const pm = m.layout.caps.pm;
  if (pm !== undefined && (m.cfgRead(pm + 4, 2) & PCI_PM_CTRL_NO_SOFT_RESET) === 0) return 'pm';
  // pci_parent_bus_reset: alone below its bridge, and not marked NO_BUS_RESET itself (the bridge's own
  // mark is not looked at on this path)
  if (
    dev?.upstream !== undefined &&
    dev.children.length === 0 &&
    dev.upstream.children.length === 1 &&
    dev.noBusReset === undefined
  )
    return 'bus';
  return undefined;
}

/**
 * pci_bus_resettable for the secondary bus of `bridge`: the first device that forbids a bus reset there
 * (the bridge itself, then each device on the bus in order, a bridge's subordinate bus after it), or
 * undefined when the bus can be reset.
 */
export function busResetBlocker(bridge: PciDev): PciDev | undefined {
  if (bridge.noBusReset !== undefined) return bridge;
  for (const d of [...bridge.children].sort((a, b) => a.devfn - b.devfn)) {
    if (d.noBusReset !== undefined) return d;
    if (d.isBridge) {
      const below = busResetBlocker(d);
      if (below !== undefined) return below;
    }
  }
  return undefined;
}

/**
 * pci_try_reset_function with the save/restore around it (pci_dev_save_and_disable, pci_dev_restore):
 * the model's devices keep their registers across the reset and the restore writes back what was saved
 * just before, so what stays visible is the power state: the PM method leaves the function in D0.
 */
export function pciResetFunction(m: MsiDeviceModel, method: ResetMethod): void {
  if (method === 'pm') {
    pciSetPowerState(m, 3);
    pciSetPowerState(m, 0);
  }
}
