/**
 * ARM GICv2m MSI frame (drivers/irqchip/irq-gic-v2m.c): a 4 KiB frame whose MSI_SETSPI_NS register
 * (base + 0x40) raises the SPI number written to it. The frame does not know who wrote: any device that
 * can reach the doorbell can raise any SPI of the frame, so the domain is not flagged ISOLATED_MSI and
 * VFIO refuses the group unless allow_unsafe_interrupts=1 (spec 4.5).
 */
import type { InterruptControllerDescription } from '../platform/types.js';
import { BlockMsiController } from './block-msi.js';
import type { IrqTable } from './irq-core.js';
import type { Delivery, InboundMsi, MsiController } from './types.js';

/** V2M_MSI_SETSPI_NS */
export const V2M_MSI_SETSPI_NS = 0x40n;
const V2M_FRAME = 0x1000n;

/** gicv2m_irq_domain_alloc: one aligned SPI block per call, then iommu_dma_prepare_msi(doorbell). */
export class GicV2m extends BlockMsiController implements MsiController {
  readonly kind = 'gicv2m' as const;
  readonly label = 'GICv2m';
  readonly isolatedMsi = false;
  readonly translatedByIommu = true;
  readonly multiMsi = true;
  readonly interceptsBeforeIommu = false;
  readonly id: string;
  readonly base: bigint;
  readonly doorbell: bigint;
  readonly spiBase: number;
  readonly spiCount: number;
  protected readonly hwirqBase: number;
  protected readonly preparesDoorbell = true;

  constructor(desc: InterruptControllerDescription, irqs: IrqTable) {
    // QEMU virt's frame advertises SPI[80:143] in MSI_TYPER.
    const spiCount = desc.spiCount ?? 64;
    super(spiCount, irqs);
    this.id = desc.id;
    this.base = desc.base;
    this.doorbell = desc.base + V2M_MSI_SETSPI_NS;
    this.spiBase = desc.spiBase ?? 80;
    this.spiCount = spiCount;
    this.hwirqBase = this.spiBase;
  }

  claims(addr: bigint): boolean {
    return addr >= this.base && addr < this.base + V2M_FRAME;
  }

  receive(w: InboundMsi): Delivery {
    if (w.addr !== this.doorbell)
      return { kind: 'dropped', why: `${this.id}: write to a frame register other than MSI_SETSPI_NS` };
    const spi = w.data & 0x3ff;
    if (spi < this.spiBase || spi >= this.spiBase + this.spiCount) {
      return {
        kind: 'dropped',
        why: `${this.id}: SPI ${spi} is outside the frame's SPI[${this.spiBase}:${this.spiBase + this.spiCount - 1}]`,
      };
    }
    const irq = this.byHwirq.get(spi);
    if (irq === undefined)
      return { kind: 'dropped', why: `${this.id}: SPI ${spi} is not allocated to any MSI` };
    return { kind: 'delivered', irq, how: `GICv2m raises SPI ${spi} (the frame cannot tell who wrote it)` };
  }
}
