/**
 * What GICv2m and a host-bridge MSI controller share: a fixed range of hardware interrupt numbers handed
 * out in naturally aligned power-of-two blocks (one block per MSI function, one single-vector block per
 * MSI-X vector, as bitmap_find_free_region does), a doorbell whose data is the hwirq, and no way to tell
 * which device wrote it.
 */
import type { Device } from '../iommu/api.js';
import { ERRNO } from '../base/errno.js';
import { msiMsg } from '../dma-iommu/msi.js';
import { RegionBitmap, countOrder } from './bitmap.js';
import type { IrqDesc, IrqTable } from './irq-core.js';
import type { AllocResult, HwVector, MsiMsg, PrepareHook } from './types.js';

interface BlockState {
  readonly block: number;
  readonly order: number;
  readonly first: boolean;
}

export abstract class BlockMsiController {
  abstract readonly doorbell: bigint;
  /** hwirq of the first slot of the bitmap (SPI base for GICv2m, 0 for a host-bridge controller). */
  protected abstract readonly hwirqBase: number;
  /** Whether the doorbell is translated by the IOMMU, so iommu_dma_prepare_msi runs per block. */
  protected abstract readonly preparesDoorbell: boolean;
  private readonly bm: RegionBitmap;
  protected readonly byHwirq = new Map<number, IrqDesc>();

  protected constructor(
    slots: number,
    private readonly irqs: IrqTable,
  ) {
    this.bm = new RegionBitmap(slots);
  }

  dynamicMsix(): boolean {
    return false;
  }

  alloc(dev: Device, count: number, msix: boolean, prepare: PrepareHook, chip: string): AllocResult {
    const out: HwVector[] = [];
    const blocks = msix ? count : 1;
    const per = msix ? 1 : count;
    const order = countOrder(per);
    for (let b = 0; b < blocks; b++) {
      const off = this.bm.findFreeRegion(order);
      if (off < 0) {
        this.free(dev, out);
        return { ok: false, errno: -ERRNO.ENOSPC };
      }
      if (this.preparesDoorbell) {
        const rc = prepare(this.doorbell);
        if (rc !== 0) {
          this.bm.release(off, 1 << order);
          this.free(dev, out);
          return { ok: false, errno: rc };
        }
      }
      this.irqs.alloc(per, this.hwirqBase + off, chip).forEach((irq, i) => {
        const hwirq = this.hwirqBase + off + i;
        this.byHwirq.set(hwirq, irq);
        const state: BlockState = { block: off, order, first: i === 0 };
        out.push({ hwirq, doorbell: this.doorbell, irq, state });
      });
    }
    return { ok: true, vectors: out };
  }

  free(_dev: Device, vectors: readonly HwVector[]): void {
    for (const v of vectors) {
      const st = v.state as BlockState;
      this.byHwirq.delete(v.hwirq);
      this.irqs.free(v.irq);
      if (st.first) this.bm.release(st.block, 1 << st.order);
    }
  }

  activate(): number {
    return 0;
  }

  deactivate(): void {}

  /** The message: the doorbell address, data = the hwirq (SPI number or vector). */
  compose(v: HwVector): MsiMsg {
    return msiMsg(this.doorbell, v.hwirq);
  }
}
