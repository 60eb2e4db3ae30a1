/** Test helper shared by the PCI group tests. */
import { pciDeviceGroup } from '../../src/pci/group.js';
import type { PciTopology } from '../../src/pci/topology.js';

/**
 * Each device's group number as the IOMMU core assigns them: devices probed in add order, a new number
 * whenever pci_device_group finds no group to join.
 */
export function groupIds(topo: PciTopology): Map<string, number> {
  const g = new Map<string, number>();
  let next = 0;
  for (const d of topo.addOrder()) g.set(d.bdf, pciDeviceGroup(topo, d, (x) => g.get(x.bdf)) ?? next++);
  return g;
}
