/**
 * ARM GICv2m MSI frame (drivers/irqchip/irq-gic-v2m.c): a 4 KiB frame whose MSI_SETSPI_NS register
 * (base + 0x40) raises the SPI number written to it. The frame does not know who wrote: any device that
 * can reach the doorbell can raise any SPI of the frame, so the domain is not flagged ISOLATED_MSI and
 * VFIO refuses the group unless allow_unsafe_interrupts=1 (spec 4.5).
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

/** V2M_MSI_SETSPI_NS */
export const V2M_MSI_SETSPI_NS = 0x40n;
const V2M_FRAME = 0x1000n;

export class GicV2m implements MsiController {
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
  private readonly bm: RegionBitmap;
  private readonly bySpi = new Map<number, IrqDesc>();

  constructor(
    desc: InterruptControllerDescription,
    private readonly irqs: IrqTable,
  ) {
    this.id = desc.id;
    this.base = desc.base;
    this.doorbell = desc.base + V2M_MSI_SETSPI_NS;
    // QEMU virt's frame advertises SPI[80:143] in MSI_TYPER.
    this.spiBase = desc.spiBase ?? 80;
    this.spiCount = desc.spiCount ?? 64;
    this.bm = new RegionBitmap(this.spiCount);
  }

  dynamicMsix(): boolean {
    return false;
  }

  claims(addr: bigint): boolean {
    return addr >= this.base && addr < this.base + V2M_FRAME;
  }

  /** gicv2m_irq_domain_alloc: one aligned SPI block per call, then iommu_dma_prepare_msi(doorbell). */
  alloc(_dev: Device, count: number, msix: boolean, prepare: PrepareHook, chip: string): AllocResult {
    const out: HwVector[] = [];
    const blocks = msix ? count : 1;
    const per = msix ? 1 : count;
    for (let b = 0; b < blocks; b++) {
      const off = this.bm.findFreeRegion(countOrder(per));
      if (off < 0) {
        this.free(_dev, out);
        return { ok: false, errno: -ERRNO.ENOSPC };
      }
      const rc = prepare(this.doorbell);
      if (rc !== 0) {
        this.bm.release(off, 1 << countOrder(per));
        this.free(_dev, out);
        return { ok: false, errno: rc };
      }
      const descs = this.irqs.alloc(per, this.spiBase + off, chip);
      descs.forEach((irq, i) => {
        const spi = this.spiBase + off + i;
        this.bySpi.set(spi, irq);
        out.push({
          hwirq: spi,
          doorbell: this.doorbell,
          irq,
          state: { block: off, order: countOrder(per), first: i === 0 },
        });
      });
    }
    return { ok: true, vectors: out };
  }

  free(_dev: Device, vectors: readonly HwVector[]): void {
    for (const v of vectors) {
      const st = v.state as { block: number; order: number; first: boolean };
      this.bySpi.delete(v.hwirq);
      this.irqs.free(v.irq);
      if (st.first) this.bm.release(st.block, 1 << st.order);
    }
  }

  activate(): number {
    return 0;
  }

  deactivate(): void {}

  /** gicv2m_compose_msi_msg: address = frame + MSI_SETSPI_NS, data = SPI number. */
  compose(v: HwVector): MsiMsg {
    return msiMsg(this.doorbell, v.hwirq);
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
    const irq = this.bySpi.get(spi);
    if (irq === undefined)
      return { kind: 'dropped', why: `${this.id}: SPI ${spi} is not allocated to any MSI` };
    return { kind: 'delivered', irq, how: `GICv2m raises SPI ${spi} (the frame cannot tell who wrote it)` };
  }
}
