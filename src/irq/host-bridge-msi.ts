/**
 * An MSI controller inside the PCI host bridge (e.g. drivers/pci/controller/dwc/pcie-designware-host.c):
 * the root complex catches inbound writes to one programmed target address before they reach the
 * IOMMU, and raises vector `data` of its own interrupt. The irqchip never calls iommu_dma_prepare_msi
 * (nothing to translate), and it cannot tell which device wrote: not ISOLATED_MSI.
 */
import type { Device } from '../iommu/api.js';
import type { InterruptControllerDescription } from '../platform/types.js';
import { ERRNO } from '../base/errno.js';
import { msiMsg } from '../dma-iommu/msi.js';
import { RegionBitmap, countOrder } from './bitmap.js';
import type { IrqDesc, IrqTable } from './irq-core.js';
import type { AllocResult, Delivery, HwVector, InboundMsi, MsiController, MsiMsg } from './types.js';

export class HostBridgeMsi implements MsiController {
  readonly kind = 'host-bridge-msi' as const;
  readonly label = 'PCIe MSI';
  readonly isolatedMsi = false;
  readonly translatedByIommu = false;
  readonly multiMsi = true;
  readonly interceptsBeforeIommu = true;
  readonly id: string;
  /** Target (bus) address the root complex matches. */
  readonly doorbell: bigint;
  readonly vectors: number;
  private readonly bm: RegionBitmap;
  private readonly byVector = new Map<number, IrqDesc>();

  constructor(
    desc: InterruptControllerDescription,
    private readonly irqs: IrqTable,
  ) {
    this.id = desc.id;
    this.doorbell = desc.base;
    // DesignWare: 32 vectors per controller unless the description says otherwise.
    this.vectors = desc.spiCount ?? 32;
    this.bm = new RegionBitmap(this.vectors);
  }

  dynamicMsix(): boolean {
    return false;
  }

  claims(addr: bigint): boolean {
    return addr >= this.doorbell && addr < this.doorbell + 4n;
  }

  alloc(_dev: Device, count: number, msix: boolean, _prepare: unknown, chip: string): AllocResult {
    const out: HwVector[] = [];
    const blocks = msix ? count : 1;
    const per = msix ? 1 : count;
    for (let b = 0; b < blocks; b++) {
      const pos = this.bm.findFreeRegion(countOrder(per));
      if (pos < 0) {
        this.free(_dev, out);
        return { ok: false, errno: -ERRNO.ENOSPC };
      }
      this.irqs.alloc(per, pos, chip).forEach((irq, i) => {
        this.byVector.set(pos + i, irq);
        out.push({
          hwirq: pos + i,
          doorbell: this.doorbell,
          irq,
          state: { block: pos, order: countOrder(per), first: i === 0 },
        });
      });
    }
    return { ok: true, vectors: out };
  }

  free(_dev: Device, vectors: readonly HwVector[]): void {
    for (const v of vectors) {
      const st = v.state as { block: number; order: number; first: boolean };
      this.byVector.delete(v.hwirq);
      this.irqs.free(v.irq);
      if (st.first) this.bm.release(st.block, 1 << st.order);
    }
  }

  activate(): number {
    return 0;
  }

  deactivate(): void {}

  compose(v: HwVector): MsiMsg {
    return msiMsg(this.doorbell, v.hwirq);
  }

  receive(w: InboundMsi): Delivery {
    const vec = w.data >>> 0;
    const irq = vec < this.vectors ? this.byVector.get(vec) : undefined;
    if (irq === undefined) return { kind: 'dropped', why: `${this.id}: vector ${vec} is not allocated` };
    return {
      kind: 'delivered',
      irq,
      how: `host-bridge MSI controller raises vector ${vec} (it cannot tell who wrote it)`,
    };
  }
}
