/**
 * ARM GICv3 ITS (drivers/irqchip/irq-gic-v3-its.c, irq-gic-v3-its-pci-msi.c). Every MSI goes to one
 * doorbell, GITS_TRANSLATER (ITS base + 0x10040); the ITS translates (DeviceID, EventID) into an LPI.
 * The DeviceID comes from the bus (the requester ID through the msi-map), not from the written data, so
 * a device can only raise its own events: the domain is ISOLATED_MSI (unless a platform quirk clears it).
 */
import type { Device } from '../iommu/api.js';
import type { InterruptControllerDescription } from '../platform/types.js';
import { ERRNO } from '../base/errno.js';
import { msiMsg } from '../dma-iommu/msi.js';
import { RegionBitmap, countOrder } from './bitmap.js';
import type { IrqDesc, IrqTable } from './irq-core.js';
import type {
  AllocResult,
  Delivery,
  HwVector,
  InboundMsi,
  MsiController,
  MsiMsg,
  PrepareHook,
} from './types.js';

/** GITS_TRANSLATER: second 64 KiB page of the ITS + 0x40. */
export const GITS_TRANSLATER = 0x10040n;
const ITS_SIZE = 0x20000n;
/** First LPI INTID. */
const FIRST_LPI = 8192;

interface ItsDevice {
  readonly deviceId: number;
  readonly events: RegionBitmap;
  readonly byEvent: Map<number, IrqDesc>;
  /** its_msi_prepare found it already there (an alias): never freed on the last event. */
  shared: boolean;
}

export class GicV3Its implements MsiController {
  readonly kind = 'gicv3-its' as const;
  readonly label = 'ITS';
  readonly isolatedMsi: boolean;
  readonly translatedByIommu = true;
  readonly multiMsi = true;
  readonly interceptsBeforeIommu = false;
  readonly id: string;
  readonly base: bigint;
  readonly translater: bigint;
  private readonly devices = new Map<number, ItsDevice>();
  private readonly lpis = new Set<number>();

  constructor(
    desc: InterruptControllerDescription,
    private readonly irqs: IrqTable,
  ) {
    this.id = desc.id;
    this.base = desc.base;
    this.translater = desc.base + GITS_TRANSLATER;
    this.isolatedMsi = desc.isolationQuirk !== true;
  }

  dynamicMsix(): boolean {
    return false;
  }

  claims(addr: bigint): boolean {
    return addr >= this.base && addr < this.base + ITS_SIZE;
  }

  /**
   * DeviceID of a PCI requester: the requester ID, offset by the PCI segment. QEMU virt (one segment,
   * identity msi-map) gives the requester ID itself; with several root complexes, firmware (IORT ID
   * mappings, DT msi-map) gives each its own DeviceID range, modelled as segment << 16.
   */
  deviceId(dev: Device): number {
    return itsDeviceId(dev.bdf, dev.requesterId);
  }

  /** its_msi_prepare: create the ITS device with an ITT of max(2, nvec) events rounded up to a power of two. */
  msiPrepare(dev: Device, nvec: number): number {
    const id = this.deviceId(dev);
    const existing = this.devices.get(id);
    if (existing !== undefined) {
      existing.shared = true;
      return 0;
    }
    const nrItes = 1 << countOrder(Math.max(2, nvec));
    this.devices.set(id, {
      deviceId: id,
      events: new RegionBitmap(nrItes),
      byEvent: new Map(),
      shared: false,
    });
    return 0;
  }

  private allocLpi(): number {
    let l = FIRST_LPI;
    while (this.lpis.has(l)) l++;
    this.lpis.add(l);
    return l;
  }

  /** its_irq_domain_alloc: event ids from the device's map, iommu_dma_prepare_msi(translater), one LPI each. */
  alloc(dev: Device, count: number, msix: boolean, prepare: PrepareHook, chip: string): AllocResult {
    const id = this.deviceId(dev);
    if (!this.devices.has(id)) this.msiPrepare(dev, count);
    const itsDev = this.devices.get(id)!;
    const out: HwVector[] = [];
    const blocks = msix ? count : 1;
    const per = msix ? 1 : count;
    for (let b = 0; b < blocks; b++) {
      const ev = itsDev.events.findFreeRegion(countOrder(per));
      if (ev < 0) {
        this.free(dev, out);
        return { ok: false, errno: -ERRNO.ENOSPC };
      }
      const rc = prepare(this.translater);
      if (rc !== 0) {
        itsDev.events.release(ev, 1 << countOrder(per));
        this.free(dev, out);
        return { ok: false, errno: rc };
      }
      for (let i = 0; i < per; i++) {
        const lpi = this.allocLpi();
        const [irq] = this.irqs.alloc(1, lpi, chip);
        itsDev.byEvent.set(ev + i, irq!);
        out.push({
          hwirq: lpi,
          doorbell: this.translater,
          irq: irq!,
          state: { deviceId: id, event: ev + i },
        });
      }
    }
    return { ok: true, vectors: out };
  }

  free(_dev: Device, vectors: readonly HwVector[]): void {
    for (const v of vectors) {
      const st = v.state as { deviceId: number; event: number };
      const d = this.devices.get(st.deviceId);
      this.lpis.delete(v.hwirq);
      this.irqs.free(v.irq);
      if (d === undefined) continue;
      d.byEvent.delete(st.event);
      d.events.release(st.event);
      if (d.events.used() === 0 && !d.shared) this.devices.delete(st.deviceId);
    }
  }

  activate(): number {
    return 0;
  }

  deactivate(): void {}

  /** its_irq_compose_msi_msg: address = GITS_TRANSLATER, data = EventID. */
  compose(v: HwVector): MsiMsg {
    return msiMsg(this.translater, (v.state as { event: number }).event);
  }

  receive(w: InboundMsi): Delivery {
    if (w.addr !== this.translater) {
      return { kind: 'dropped', why: `${this.id}: write to an ITS register other than GITS_TRANSLATER` };
    }
    const id = this.deviceId(w.source);
    const d = this.devices.get(id);
    if (d === undefined)
      return { kind: 'dropped', why: `${this.id}: DeviceID ${hexId(id)} has no entry in the device table` };
    const irq = d.byEvent.get(w.data >>> 0);
    if (irq === undefined) {
      return {
        kind: 'dropped',
        why: `${this.id}: EventID ${w.data >>> 0} is not mapped in the ITT of DeviceID ${hexId(id)}`,
      };
    }
    return {
      kind: 'delivered',
      irq,
      how: `ITS translates DeviceID ${hexId(id)} EventID ${w.data >>> 0} to LPI ${irq.hwirq}`,
    };
  }
}

function hexId(n: number): string {
  return '0x' + n.toString(16);
}

/** `segment << 16 | requester ID` (see GicV3Its.deviceId). */
export function itsDeviceId(bdf: string, requesterId: number): number {
  const segment = /^([0-9a-fA-F]{4,5}):/.exec(bdf);
  return (segment ? parseInt(segment[1]!, 16) * 0x10000 : 0) + requesterId;
}
