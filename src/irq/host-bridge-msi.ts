/**
 * An MSI controller inside the PCI host bridge (e.g. drivers/pci/controller/dwc/pcie-designware-host.c):
 * the root complex catches inbound writes to one programmed target address before they reach the
 * IOMMU, and raises vector `data` of its own interrupt. The irqchip never calls iommu_dma_prepare_msi
 * (nothing to translate), and it cannot tell which device wrote: not ISOLATED_MSI.
 */
import type { InterruptControllerDescription } from '../platform/types.js';
import { BlockMsiController } from './block-msi.js';
import type { IrqTable } from './irq-core.js';
import type { Delivery, InboundMsi, MsiController } from './types.js';

export class HostBridgeMsi extends BlockMsiController implements MsiController {
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
  protected readonly hwirqBase = 0;
  protected readonly preparesDoorbell = false;

  constructor(desc: InterruptControllerDescription, irqs: IrqTable) {
    // DesignWare: 32 vectors per controller unless the description says otherwise.
    const vectors = desc.spiCount ?? 32;
    super(vectors, irqs);
    this.id = desc.id;
    this.doorbell = desc.base;
    this.vectors = vectors;
  }

  claims(addr: bigint): boolean {
    return addr >= this.doorbell && addr < this.doorbell + 4n;
  }

  receive(w: InboundMsi): Delivery {
    const vec = w.data >>> 0;
    const irq = vec < this.vectors ? this.byHwirq.get(vec) : undefined;
    if (irq === undefined) return { kind: 'dropped', why: `${this.id}: vector ${vec} is not allocated` };
    return {
      kind: 'delivered',
      irq,
      how: `host-bridge MSI controller raises vector ${vec} (it cannot tell who wrote it)`,
    };
  }
}
