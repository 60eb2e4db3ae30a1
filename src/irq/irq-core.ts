/**
 * The generic Linux IRQ layer, reduced to what the MSI path needs (kernel/irq): Linux irq numbers
 * (lowest free, like irq_alloc_descs), descriptors with a hwirq and a chip/domain label, one action
 * (request_irq / free_irq) and a per-descriptor count (/proc/interrupts).
 */

export interface IrqAction {
  /** request_irq name, e.g. `vfio-msix[0](0000:00:01.0)`. */
  readonly name: string;
  readonly handler: () => void;
}

export class IrqDesc {
  readonly virq: number;
  hwirq: number;
  /** Domain/chip name as /proc/interrupts shows it, e.g. `ITS-MSI`, `IR-PCI-MSIX-0000:00:02.0`. */
  chip: string;
  action: IrqAction | undefined;
  /** Handled interrupts. */
  count = 0;
  /** Interrupts that arrived with no action registered (spurious/unhandled). */
  unhandled = 0;
  /** CPU the interrupt is routed to, when the controller knows. */
  cpu: number | undefined;
  constructor(virq: number, hwirq: number, chip: string) {
    this.virq = virq;
    this.hwirq = hwirq;
    this.chip = chip;
  }
  /** generic_handle_irq: run the action or count an unhandled interrupt. */
  handle(): boolean {
    if (this.action === undefined) {
      this.unhandled++;
      return false;
    }
    this.count++;
    this.action.handler();
    return true;
  }
}

export class IrqTable {
  private readonly descs = new Map<number, IrqDesc>();
  private readonly first: number;
  constructor(firstVirq = 32) {
    this.first = firstVirq;
  }
  /** irq_domain_alloc_descs: `count` consecutive free irq numbers, lowest first. */
  alloc(count: number, hwirq: number, chip: string): IrqDesc[] {
    let base = this.first;
    for (;;) {
      let free = true;
      for (let i = 0; i < count; i++) {
        if (this.descs.has(base + i)) {
          free = false;
          base = base + i + 1;
          break;
        }
      }
      if (free) break;
    }
    const out: IrqDesc[] = [];
    for (let i = 0; i < count; i++) {
      const d = new IrqDesc(base + i, hwirq + i, chip);
      this.descs.set(d.virq, d);
      out.push(d);
    }
    return out;
  }
  free(d: IrqDesc): void {
    this.descs.delete(d.virq);
  }
  get(virq: number): IrqDesc | undefined {
    return this.descs.get(virq);
  }
  all(): IrqDesc[] {
    return [...this.descs.values()].sort((a, b) => a.virq - b.virq);
  }
}
