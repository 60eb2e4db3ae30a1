/**
 * The MSI fabric of one booted platform: its interrupt controllers (from the platform description),
 * the Linux irq table, the hardware model of every PCI function (bridges only with MSI), and the path
 * of a device's MSI write: host-bridge interception, else the IOMMU (translation, bypass of an MSI
 * window, or a fault), then the controller that owns the physical address, which delivers or drops.
 *
 * Attach it to an IommuCore with `attachMsiFabric(core, desc)`; vfio-pci finds it with `msiFabricOf`.
 */
import type { Device, IommuCore, IommuDomain, TranslationResult } from '../iommu/api.js';
import type { KernelProfile } from '../kernel/profile.js';
import type {
  HostBridgeDescription,
  InterruptControllerDescription,
  PlatformDescription,
} from '../platform/types.js';
import { hasDmaCookie, iommuDmaInitDomain } from '../dma-iommu/init-domain.js';
import { iommuGetMsiCookie } from '../dma-iommu/cookie.js';
import { hex16 } from '../base/u64.js';
import { MsiDeviceModel, PCI_COMMAND_IO, PCI_COMMAND_MEMORY, PCI_COMMAND_SERR } from '../pci/msi-device.js';
import { PciMsiCore } from '../pci/msi-core.js';
import { GicV2m } from './gicv2m.js';
import { GicV3Its } from './gicv3-its.js';
import { HostBridgeMsi } from './host-bridge-msi.js';
import { IrqTable } from './irq-core.js';
import { IntxLine } from './intx.js';
import type { MsiController } from './types.js';
import { type X86IrMode, type X86Options, X86Apic } from './x86.js';

export interface MsiFabricOptions {
  readonly x86?: X86Options;
  /** First Linux irq number handed out. */
  readonly firstVirq?: number;
}

/** Everything that happened to one MSI write, hop by hop. */
export interface MsiTrace {
  readonly bdf: string;
  /** Address and data the device wrote. */
  readonly addr: bigint;
  readonly data: number;
  /** IOMMU result, or interception by the host bridge before it. */
  readonly iommu: TranslationResult | { readonly kind: 'intercepted'; readonly by: string };
  readonly outcome: 'delivered' | 'dropped' | 'fault' | 'memory-write' | 'no-write';
  readonly controller?: string;
  /** Linux irq that fired. */
  readonly virq?: number;
  readonly why: string;
}

export class MsiFabric {
  readonly irqs: IrqTable;
  readonly controllers = new Map<string, MsiController>();
  private readonly functions = new Map<string, PciMsiCore>();
  private readonly ctrlOfBdf = new Map<string, MsiController>();
  private readonly intxLines = new Map<string, IntxLine>();

  constructor(
    readonly desc: PlatformDescription,
    readonly core: IommuCore,
    readonly profile: KernelProfile,
    opts: MsiFabricOptions = {},
  ) {
    this.irqs = new IrqTable(opts.firstVirq ?? 32);
    for (const c of desc.interruptControllers) {
      const ctl = this.buildController(c, opts);
      if (ctl !== undefined) this.controllers.set(c.id, ctl);
    }
    for (const d of desc.devices) {
      const dev = core.device(d.bdf);
      // every function but a bridge without MSI gets a model: config space, BARs, its INTx pin
      if (dev === undefined || (d.bridge !== undefined && d.msi === undefined && d.msix === undefined))
        continue;
      const controller = this.controllerForBdf(d.bdf);
      if (controller !== undefined) this.ctrlOfBdf.set(d.bdf, controller);
      const bridge = this.bridgeOf(d.bdf);
      const env = {
        controller,
        profile,
        domainOf: (x: Device): IommuDomain | undefined =>
          x.groupId === undefined ? undefined : core.group(x.groupId)?.domain,
        ensureDmaCookie: (x: Device, dom: IommuDomain): void => {
          if (!hasDmaCookie(dom))
            iommuDmaInitDomain({ domain: dom, bridge, regions: core.deviceResvRegions(x), profile });
        },
      };
      const pd = core.topology.get(d.bdf);
      const model = new MsiDeviceModel(d, undefined, {
        onRootBus: pd?.onRootBus ?? true,
        multifunction: pd?.multifunction ?? false,
      });
      if (desc.arch === 'x86_64') {
        // The BIOS (SeaBIOS on q35) enables decoding and SERR# on every function it sizes.
        let cmd = PCI_COMMAND_SERR;
        for (const b of model.layout.bars) cmd |= b.kind === 'io' ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY;
        model.command = cmd;
      }
      this.functions.set(d.bdf, new PciMsiCore(dev, model, env));
      // the device's own registers asking for a message, and its INTx pin wired to a host line
      model.onMsiNotify = (n) => void this.raise(d.bdf, n);
      if (model.layout.interruptPin !== 0) {
        const line = new IntxLine(model.layout.interruptPin, d.bdf);
        this.intxLines.set(d.bdf, line);
        model.onIntxLine = (asserted) => line.setLevel(asserted);
      }
    }
    // Port services (drivers/pci/pcie/portdrv.c pcie_port_enable_irq_vec): a port bound to pcieport at
    // boot keeps one MSI-X (else MSI) vector for PME/AER/hotplug, so it holds its IRTE and CPU vector
    // before any endpoint driver or VFIO asks for theirs.
    for (const d of desc.devices) {
      const f = this.functions.get(d.bdf);
      if (f === undefined || core.device(d.bdf)?.driver !== 'pcieport') continue;
      if (f.allocIrqVectors(1, d.msix !== undefined) === 1)
        f.requestIrq(0, { name: `PCIe PME, aerdrv (${d.bdf})`, handler: () => {} });
    }
  }

  private buildController(
    c: InterruptControllerDescription,
    opts: MsiFabricOptions,
  ): MsiController | undefined {
    switch (c.kind) {
      case 'gicv2m':
        return new GicV2m(c, this.irqs);
      case 'gicv3-its':
        return new GicV3Its(c, this.irqs);
      case 'host-bridge-msi':
        return new HostBridgeMsi(c, this.irqs);
      case 'x86-apic':
        return new X86Apic(c, this.x86Mode(c), this.irqs, opts.x86);
    }
  }

  /** Interrupt remapping by the IOMMU named in `remappedBy` (or any IOMMU with remapping on). */
  private x86Mode(c: InterruptControllerDescription): X86IrMode {
    const ir = this.desc.iommus.find(
      (i) => (c.remappedBy === undefined || i.id === c.remappedBy) && i.interruptRemapping === true,
    );
    if (ir?.driver === 'intel-iommu') return 'intel-ir';
    if (ir?.driver === 'amd-iommu') return 'amd-ir';
    return 'none';
  }

  /** The host bridge whose segment and bus range hold the device. */
  private bridgeOf(bdf: string): HostBridgeDescription | undefined {
    const m = /^([0-9a-f]{4}):([0-9a-f]{2}):/i.exec(bdf);
    if (!m) return undefined;
    const seg = parseInt(m[1]!, 16);
    const bus = parseInt(m[2]!, 16);
    return this.desc.hostBridges.find((h) => h.segment === seg && bus >= h.buses[0] && bus <= h.buses[1]);
  }

  /** The MSI parent of the device's host bridge. */
  private controllerForBdf(bdf: string): MsiController | undefined {
    const hb = this.bridgeOf(bdf);
    if (hb !== undefined) return this.controllers.get(hb.msiParent);
    return this.controllers.size === 1 ? [...this.controllers.values()][0] : undefined;
  }

  /** The MSI parent irqchip of a device. */
  controllerOf(bdf: string): MsiController | undefined {
    return this.ctrlOfBdf.get(bdf) ?? this.controllerForBdf(bdf);
  }

  /** msi_device_has_isolated_msi: the device's MSI domain chain is flagged ISOLATED_MSI. */
  deviceHasIsolatedMsi(bdf: string): boolean {
    return this.controllerOf(bdf)?.isolatedMsi ?? false;
  }

  /** The PCI MSI state and hardware model of a function with MSI or MSI-X. */
  pci(bdf: string): PciMsiCore | undefined {
    return this.functions.get(bdf);
  }

  /**
   * A 32-bit memory write by `bdf` to bus address `addr`: the real path of an MSI (or of a forged one).
   * Host-bridge MSI controllers catch their doorbell first; everything else goes through the IOMMU.
   */
  dmaWrite(bdf: string, addr: bigint, data: number): MsiTrace {
    const dev = this.core.device(bdf);
    if (dev === undefined) {
      return {
        bdf,
        addr,
        data,
        iommu: { kind: 'fault', iova: addr, why: 'no such device' },
        outcome: 'fault',
        why: `no device ${bdf}`,
      };
    }
    const own = this.controllerOf(bdf);
    if (own !== undefined && own.interceptsBeforeIommu && own.claims(addr)) {
      const d = own.receive({ requesterId: dev.requesterId, source: dev, addr, data });
      return this.finish(bdf, addr, data, { kind: 'intercepted', by: own.id }, own, d);
    }
    const t = this.core.dmaAccess(dev, addr, true);
    if (t.kind === 'fault')
      return { bdf, addr, data, iommu: t, outcome: 'fault', why: `IOMMU fault at ${hex16(addr)}: ${t.why}` };
    const pa = t.paddr;
    for (const c of this.controllers.values()) {
      if (c.interceptsBeforeIommu || !c.claims(pa)) continue;
      const d = c.receive({ requesterId: dev.requesterId, source: dev, addr: pa, data });
      return this.finish(bdf, addr, data, t, c, d);
    }
    return {
      bdf,
      addr,
      data,
      iommu: t,
      outcome: 'memory-write',
      why: `no interrupt controller at ${hex16(pa)}: an ordinary memory write`,
    };
  }

  private finish(
    bdf: string,
    addr: bigint,
    data: number,
    iommu: MsiTrace['iommu'],
    c: MsiController,
    d: ReturnType<MsiController['receive']>,
  ): MsiTrace {
    if (d.kind === 'dropped')
      return { bdf, addr, data, iommu, outcome: 'dropped', controller: c.id, why: d.why };
    const handled = d.irq.handle();
    return {
      bdf,
      addr,
      data,
      iommu,
      outcome: handled ? 'delivered' : 'dropped',
      controller: c.id,
      virq: d.irq.virq,
      why: handled ? d.how : `${d.how}, but irq ${d.irq.virq} has no handler (unhandled)`,
    };
  }

  /** The host's legacy interrupt line of a function with an INTx pin (pdev->irq), if any. */
  intx(bdf: string): IntxLine | undefined {
    return this.intxLines.get(bdf);
  }

  /** The device raises vector `n` of its enabled MSI/MSI-X block. */
  raise(bdf: string, n: number): MsiTrace {
    const f = this.functions.get(bdf);
    if (f === undefined) {
      return {
        bdf,
        addr: 0n,
        data: 0,
        iommu: { kind: 'fault', iova: 0n, why: 'no MSI device' },
        outcome: 'no-write',
        why: `${bdf} has no MSI/MSI-X`,
      };
    }
    const a = f.model.raise(n);
    if (a.kind !== 'write') {
      return {
        bdf,
        addr: 0n,
        data: 0,
        iommu: { kind: 'fault', iova: 0n, why: a.why },
        outcome: 'no-write',
        why: a.why,
      };
    }
    return this.dmaWrite(bdf, a.addr, a.data);
  }
}

const FABRICS = new WeakMap<IommuCore, MsiFabric>();

/** Builds the MSI fabric of a platform and attaches it to its IOMMU core (idempotent per core). */
export function attachMsiFabric(
  core: IommuCore,
  desc: PlatformDescription,
  opts?: MsiFabricOptions,
): MsiFabric {
  const existing = FABRICS.get(core);
  if (existing !== undefined) return existing;
  const f = new MsiFabric(desc, core, core.profile, opts);
  FABRICS.set(core, f);
  return f;
}

export function msiFabricOf(core: IommuCore): MsiFabric | undefined {
  return FABRICS.get(core);
}

/**
 * iommu_get_msi_cookie as VFIO type1 calls it on this platform: the MSI-only cookie's granule is the
 * CPU PAGE_SIZE of the platform the core was built from (4 KiB unless an arm64 kernel uses 16/64 KiB).
 */
export function msiCookieFor(core: IommuCore): (domain: IommuDomain, base: bigint) => number {
  return (domain, base) => iommuGetMsiCookie(domain, base, msiFabricOf(core)?.desc.pageSize ?? 4096);
}
