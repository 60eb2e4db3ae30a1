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
  // 3. get_pci_alias_group: devices on the bus that alias this one, or that it aliases (DMA-alias quirks).
  const devfns = new Set<number>();
  const byAlias = aliasGroup(topo, pdev, devfns, groupOf);
  if (byAlias !== undefined) return byAlias;
  // 4. get_pci_function_alias_group: functions of a multifunction slot without ACS share a group,
  //    together with their aliases. The devfn bitmap of step 3 stays: those devfns were already looked at.
  return functionAliasGroup(topo, pdev, devfns, groupOf);
}

/**
 * get_pci_alias_group: the device's group, else the group of any same-bus device that is a DMA alias of
 * it (either direction), or of such a device's non-isolated sibling functions. `devfns` is the kernel's
 * 256-bit search bitmap (keyed by devfn only, as the kernel's is), so each devfn is visited once.
 */
function aliasGroup(
  topo: PciTopology,
  pdev: PciDev,
  devfns: Set<number>,
  groupOf: (d: PciDev) => number | undefined,
): number | undefined {
  if (devfns.has(pdev.devfn)) return undefined;
  devfns.add(pdev.devfn);
  const own = groupOf(pdev);
  if (own !== undefined) return own;
  for (const tmp of topo.addOrder()) {
    if (tmp === pdev || !topo.devsAreDmaAliases(pdev, tmp)) continue;
    const g = aliasGroup(topo, tmp, devfns, groupOf) ?? functionAliasGroup(topo, tmp, devfns, groupOf);
    if (g !== undefined) return g;
  }
  return undefined;
}

/** get_pci_function_alias_group: other functions of the slot without ACS, and their aliases. */
function functionAliasGroup(
  topo: PciTopology,
  pdev: PciDev,
  devfns: Set<number>,
  groupOf: (d: PciDev) => number | undefined,
): number | undefined {
  if (!pdev.multifunction || topo.acsEnabled(pdev)) return undefined;
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
    const g = aliasGroup(topo, tmp, devfns, groupOf);
    if (g !== undefined) return g;
  }
  return undefined;
}
