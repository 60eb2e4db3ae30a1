/**
 * The PCI hierarchy of a platform description: which bridge a device sits behind, root buses, the
 * order in which the PCI core adds devices, and DMA aliases (drivers/pci/search.c
 * pci_for_each_dma_alias). Built once from a validated `PlatformDescription`.
 */
import type { HostBridgeDescription, PciDeviceDescription } from '../platform/types.js';
import { type Bdf, bdfDevfn, compareBdf, formatBdf, parseBdf, requesterId } from './bdf.js';
import { type NoBusResetQuirkFn, noBusResetQuirk } from './quirk-tables.js';
import {
  type AcsQuirkAnswer,
  DEFAULT_QUIRK_ENV,
  type DmaAliasFixups,
  type PcieType,
  type QuirkEnv,
  type QuirkSubject,
  REQ_ACS_FLAGS,
  dmaAliasFixups,
  pciDevSpecificAcsEnabled,
} from './quirks.js';

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
  /** What the DMA-alias header fixups (quirks.ts) did to this device; set when the topology is built. */
  dmaFixups: DmaAliasFixups = { aliasDevfns: [], pcieBridgeAlias: false, xlateRoot: false, applied: [] };

  constructor(desc: PciDeviceDescription, addr: Bdf, hostBridge: HostBridgeDescription | undefined) {
    this.desc = desc;
    this.addr = addr;
    this.bdf = formatBdf(addr);
    this.hostBridge = hostBridge;
  }

  get devfn(): number {
    return bdfDevfn(this.addr);
  }

  /** The header fixup that set PCI_DEV_FLAGS_NO_BUS_RESET on this device (quirk-tables.ts), if any. */
  get noBusReset(): NoBusResetQuirkFn | undefined {
    return noBusResetQuirk(this.desc.vendor, this.desc.device);
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

const hexRid = (rid: number): string =>
  `${((rid >> 8) & 0xff).toString(16).padStart(2, '0')}:${((rid >> 3) & 0x1f).toString(16).padStart(2, '0')}.${rid & 7}`;

export interface DmaAlias {
  readonly dev: PciDev;
  readonly rid: number;
}

export class PciTopology {
  private readonly byBdf = new Map<string, PciDev>();
  private readonly ordered: PciDev[];
  private readonly acsQuirks = new Map<PciDev, AcsQuirkAnswer | undefined>();
  /** Machine facts the quirks read (ACS requested by an IOMMU driver, IVRS present). */
  readonly quirkEnv: QuirkEnv;

  constructor(
    devices: readonly PciDeviceDescription[],
    hostBridges: readonly HostBridgeDescription[],
    quirkEnv: QuirkEnv = DEFAULT_QUIRK_ENV,
  ) {
    this.quirkEnv = quirkEnv;
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
    // DECLARE_PCI_FIXUP_HEADER: the DMA-alias fixups run as each device's header is read.
    for (const dev of all) dev.dmaFixups = dmaAliasFixups(this.quirkSubject(dev));
  }

  /** pci_pcie_type as the quirks read it: a PCIe endpoint on a root bus is a root-complex endpoint. */
  private pcieType(dev: PciDev): PcieType {
    const t = this.portType(dev);
    return t === 'endpoint' && dev.onRootBus ? 'rc-end' : t;
  }

  /** Whether the device has an ACS capability (root ports inherit their host bridge's `acs`). */
  private acsCap(dev: PciDev): boolean {
    if (this.portType(dev) === 'root') return dev.desc.acs ?? dev.hostBridge?.acs ?? false;
    return dev.desc.acs ?? false;
  }

  private quirkSubject(dev: PciDev): QuirkSubject {
    const d = dev.desc;
    const up = dev.upstream;
    return {
      vendor: d.vendor,
      device: d.device,
      ...(d.subsystemVendor !== undefined ? { subsystemVendor: d.subsystemVendor } : {}),
      ...(d.subsystemDevice !== undefined ? { subsystemDevice: d.subsystemDevice } : {}),
      devfn: dev.devfn,
      pcie: dev.isPcie,
      type: this.pcieType(dev),
      isBridge: dev.isBridge,
      multifunction: dev.multifunction,
      onRootBus: dev.onRootBus,
      acsCap: this.acsCap(dev),
      ...(up !== undefined ? { upstream: { pcie: up.isPcie, type: this.pcieType(up) } } : {}),
    };
  }

  /** pci_dev_specific_acs_enabled(dev, REQ_ACS_FLAGS), memoised: the quirk's answer, if one answers. */
  acsQuirk(dev: PciDev): AcsQuirkAnswer | undefined {
    if (this.acsQuirks.has(dev)) return this.acsQuirks.get(dev);
    const a = pciDevSpecificAcsEnabled(this.quirkSubject(dev), REQ_ACS_FLAGS, this.quirkEnv);
    this.acsQuirks.set(dev, a);
    return a;
  }

  /**
   * Where a kernel quirk decided something about this device, in words for `inspect`: an ACS answer
   * that differs from what the capability alone gives, DMA aliases a fixup added, alias-walk changes.
   */
  quirkReasons(dev: PciDev): string[] {
    const out: string[] = [];
    const q = this.acsQuirk(dev);
    if (q !== undefined && q.enabled !== this.acsByCapability(dev))
      out.push(`ACS: kernel quirk ${q.fn} (${q.enabled ? 'isolated' : 'not isolated'})`);
    const f = dev.dmaFixups;
    for (const fn of f.applied) {
      const what =
        fn === 'quirk_use_pcie_bridge_dma_alias'
          ? `aliases as a PCIe-to-PCI bridge (${hexRid(requesterId(dev.desc.bridge?.secondary ?? 0, 0))})`
          : fn === 'quirk_bridge_cavm_thrx2_pcie_root'
            ? 'DMA alias walk stops here'
            : `requester IDs ${f.aliasDevfns.map((df) => hexRid(requesterId(dev.addr.bus, df))).join(', ')}`;
      out.push(`DMA alias: kernel quirk ${fn}: ${what}`);
    }
    return out;
  }

  /** pci_devs_are_dma_aliases: same bus, and one's dma_alias_mask holds the other's devfn. */
  devsAreDmaAliases(a: PciDev, b: PciDev): boolean {
    if (a.addr.segment !== b.addr.segment || a.addr.bus !== b.addr.bus) return false;
    return a.dmaFixups.aliasDevfns.includes(b.devfn) || b.dmaFixups.aliasDevfns.includes(a.devfn);
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
   * pci_for_each_dma_alias: the device itself, its quirk aliases (dma_alias_mask, same bus), then every
   * upstream bridge that takes ownership of the transaction. PCIe ports pass requester IDs through; a
   * PCIe-to-PCI bridge (or a conventional bridge flagged by quirk_use_pcie_bridge_dma_alias) forwards
   * with (secondary bus, devfn 0); a conventional PCI bridge with its own ID. The walk stops at a
   * bridge flagged PCI_DEV_FLAGS_BRIDGE_XLATE_ROOT.
   */
  dmaAliases(dev: PciDev): DmaAlias[] {
    const out: DmaAlias[] = [{ dev, rid: dev.rid }];
    for (const df of dev.dmaFixups.aliasDevfns) out.push({ dev, rid: requesterId(dev.addr.bus, df) });
    for (let tmp = dev.upstream; tmp !== undefined; tmp = tmp.upstream) {
      if (tmp.dmaFixups.xlateRoot) break;
      const br = tmp.desc.bridge!;
      if (tmp.isPcie) {
        if (br.pcieToPci === true) out.push({ dev: tmp, rid: requesterId(br.secondary, 0) });
        // root, upstream and downstream ports: the requester ID passes unchanged
      } else if (tmp.dmaFixups.pcieBridgeAlias) {
        out.push({ dev: tmp, rid: requesterId(br.secondary, 0) });
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
   * pci_acs_enabled(dev, REQ_ACS_FLAGS): a device-specific quirk answers first and, when it does, wins
   * over the capability (quirks.ts). Otherwise: conventional PCI never has ACS; root and downstream
   * ports and multifunction endpoints need the capability (root ports inherit the host bridge's `acs`
   * when the device does not say); other PCIe functions (single-function endpoints, upstream ports) are
   * isolated.
   */
  acsEnabled(dev: PciDev): boolean {
    const q = this.acsQuirk(dev);
    return q !== undefined ? q.enabled : this.acsByCapability(dev);
  }

  /** pci_acs_enabled without the quirk table: what the ACS capability alone answers. */
  acsByCapability(dev: PciDev): boolean {
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
