/**
 * The PCI hierarchy of a platform description: which bridge a device sits behind, root buses, the
 * order in which the PCI core adds devices, and DMA aliases (drivers/pci/search.c
 * pci_for_each_dma_alias). Built once from a validated `PlatformDescription`.
 */
import type { HostBridgeDescription, PciDeviceDescription } from '../platform/types.js';
import { type Bdf, bdfDevfn, compareBdf, formatBdf, parseBdf, requesterId } from './bdf.js';

export class PciDev {
  readonly bdf: string;
  readonly addr: Bdf;
  readonly desc: PciDeviceDescription;
  readonly hostBridge: HostBridgeDescription | undefined;
  /** The bridge whose secondary bus this device is on; undefined on a root bus. */
  upstream: PciDev | undefined = undefined;
  /** Other functions exist in the same slot (the header's multifunction bit). */
  multifunction = false;
  readonly children: PciDev[] = [];

  constructor(desc: PciDeviceDescription, addr: Bdf, hostBridge: HostBridgeDescription | undefined) {
    this.desc = desc;
    this.addr = addr;
    this.bdf = formatBdf(addr);
    this.hostBridge = hostBridge;
  }

  get devfn(): number {
    return bdfDevfn(this.addr);
  }

  /** The device's own requester ID (bus << 8 | devfn). */
  get rid(): number {
    return requesterId(this.addr.bus, this.devfn);
  }

  get isBridge(): boolean {
    return this.desc.bridge !== undefined;
  }

  get isPcie(): boolean {
    return this.desc.pcie;
  }

  /** Device sits on its host bridge's root bus. */
  get onRootBus(): boolean {
    return this.upstream === undefined;
  }
}

export interface DmaAlias {
  readonly dev: PciDev;
  readonly rid: number;
}

export class PciTopology {
  private readonly byBdf = new Map<string, PciDev>();
  private readonly ordered: PciDev[];

  constructor(devices: readonly PciDeviceDescription[], hostBridges: readonly HostBridgeDescription[]) {
    const all: PciDev[] = [];
    for (const d of devices) {
      const addr = parseBdf(d.bdf);
      if (addr === undefined) continue; // the loader validates BDFs; a bad one cannot reach here
      const hb = hostBridges.find(
        (h) => h.segment === addr.segment && h.buses[0] <= addr.bus && addr.bus <= h.buses[1],
      );
      const dev = new PciDev(d, addr, hb);
      this.byBdf.set(dev.bdf, dev);
      all.push(dev);
    }
    all.sort((a, b) => compareBdf(a.addr, b.addr));
    for (const dev of all) {
      // A bridge forwards to a bus numbered above its own (pci_scan_bridge); a device on its host
      // bridge's first bus is on the root bus. Both rules keep the hierarchy a tree.
      const onRoot = dev.hostBridge !== undefined && dev.addr.bus === dev.hostBridge.buses[0];
      const up = onRoot
        ? undefined
        : all.find(
            (br) =>
              br.desc.bridge !== undefined &&
              br.addr.segment === dev.addr.segment &&
              br.desc.bridge.secondary === dev.addr.bus &&
              br.desc.bridge.secondary > br.addr.bus,
          );
      if (up !== undefined && up !== dev) {
        dev.upstream = up;
        up.children.push(dev);
      }
      dev.multifunction = all.some(
        (o) =>
          o !== dev &&
          o.addr.segment === dev.addr.segment &&
          o.addr.bus === dev.addr.bus &&
          o.addr.device === dev.addr.device,
      );
    }
    // pci_bus_add_devices: every device of a bus in devfn order, then each bridge's child bus in turn.
    const roots = all.filter((d) => d.upstream === undefined);
    const order: PciDev[] = [];
    const addBus = (devs: readonly PciDev[]): void => {
      order.push(...devs);
      for (const d of devs) if (d.children.length > 0) addBus(d.children);
    };
    const rootBuses = new Map<string, PciDev[]>();
    for (const d of roots) {
      const k = `${d.addr.segment}:${d.addr.bus}`;
      const list = rootBuses.get(k) ?? [];
      list.push(d);
      rootBuses.set(k, list);
    }
    for (const list of rootBuses.values()) addBus(list);
    this.ordered = order;
  }

  get(bdf: string): PciDev | undefined {
    const b = parseBdf(bdf);
    return b === undefined ? undefined : this.byBdf.get(formatBdf(b));
  }

  /** Devices in the order the PCI core adds them (bus by bus, depth first below bridges). */
  addOrder(): readonly PciDev[] {
    return this.ordered;
  }

  /**
   * pci_for_each_dma_alias: the device itself, then every upstream bridge that takes ownership of the
   * transaction. PCIe ports pass requester IDs through; a PCIe-to-PCI bridge forwards with
   * (secondary bus, devfn 0); a conventional PCI bridge with its own ID.
   */
  dmaAliases(dev: PciDev): DmaAlias[] {
    const out: DmaAlias[] = [{ dev, rid: dev.rid }];
    for (let tmp = dev.upstream; tmp !== undefined; tmp = tmp.upstream) {
      const br = tmp.desc.bridge!;
      if (tmp.isPcie) {
        if (br.pcieToPci === true) out.push({ dev: tmp, rid: requesterId(br.secondary, 0) });
        // root, upstream and downstream ports: the requester ID passes unchanged
      } else {
        out.push({ dev: tmp, rid: tmp.rid });
      }
    }
    return out;
  }

  /** The requester ID the IOMMU sees: the last DMA alias (what the IOMMU driver programs). */
  visibleRequesterId(dev: PciDev): number {
    const a = this.dmaAliases(dev);
    return a[a.length - 1]!.rid;
  }

  /**
   * pci_acs_enabled(dev, REQ_ACS_FLAGS): conventional PCI never has ACS; root and downstream ports and
   * multifunction endpoints need the capability (root ports inherit the host bridge's `acs` when the
   * device does not say); other PCIe functions (single-function endpoints, upstream ports) are isolated.
   */
  acsEnabled(dev: PciDev): boolean {
    if (!dev.isPcie) return false;
    switch (this.portType(dev)) {
      case 'pcie-to-pci':
        return false;
      case 'root':
        return dev.desc.acs ?? dev.hostBridge?.acs ?? false;
      case 'downstream':
        return dev.desc.acs ?? false;
      default:
        // endpoints, upstream ports: ACS only matters for multifunction devices
        return dev.multifunction ? (dev.desc.acs ?? false) : true;
    }
  }

  /**
   * PCIe port type, derived from the hierarchy: bridges on a root bus are root ports; a bridge on the
   * link below a root or downstream port is a switch upstream port; bridges below an upstream port
   * are downstream ports.
   */
  portType(dev: PciDev): 'endpoint' | 'root' | 'upstream' | 'downstream' | 'pcie-to-pci' {
    if (!dev.isBridge) return 'endpoint';
    if (dev.desc.bridge!.pcieToPci === true) return 'pcie-to-pci';
    const up = dev.upstream;
    if (up === undefined) return 'root';
    return this.portType(up) === 'upstream' ? 'downstream' : 'upstream';
  }

  /** pci_acs_path_enabled(start, NULL, flags): ACS on `start` and every bridge above it. */
  acsPathEnabled(start: PciDev): boolean {
    for (let d: PciDev | undefined = start; d !== undefined; d = d.upstream) {
      if (!this.acsEnabled(d)) return false;
    }
    return true;
  }
}
