/**
 * pci_device_group (drivers/iommu/iommu.c): which existing IOMMU group a PCI device joins, or that it
 * needs a new one. Groups are looked up through `groupOf`, so the rules stay independent of the core.
 */
import type { PciDev, PciTopology } from './topology.js';

/** Returns the id of the group to join, or undefined to allocate a new group. */
export function pciDeviceGroup(
  topo: PciTopology,
  dev: PciDev,
  groupOf: (d: PciDev) => number | undefined,
): number | undefined {
  // 1. get_pci_alias_or_group over pci_for_each_dma_alias: an alias that already has a group wins.
  let pdev = dev;
  for (const a of topo.dmaAliases(dev)) {
    pdev = a.dev;
    const g = groupOf(a.dev);
    if (g !== undefined) return g;
  }
  // 2. Walk up to the root bus; stop at the first bridge with ACS all the way up; otherwise the
  //    device shares the group of that bridge.
  for (let br = pdev.upstream; br !== undefined; br = br.upstream) {
    if (topo.acsPathEnabled(br)) break;
    pdev = br;
    const g = groupOf(br);
    if (g !== undefined) return g;
  }
  // 3. get_pci_alias_group: quirk DMA aliases (dma_alias_mask) are not described; nothing to do.
  // 4. get_pci_function_alias_group: functions of a multifunction slot without ACS share a group.
  if (pdev.multifunction && !topo.acsEnabled(pdev)) {
    for (const tmp of topo.addOrder()) {
      if (
        tmp === pdev ||
        tmp.addr.segment !== pdev.addr.segment ||
        tmp.addr.bus !== pdev.addr.bus ||
        tmp.addr.device !== pdev.addr.device ||
        topo.acsEnabled(tmp)
      ) {
        continue;
      }
      const g = groupOf(tmp);
      if (g !== undefined) return g;
    }
  }
  return undefined;
}
