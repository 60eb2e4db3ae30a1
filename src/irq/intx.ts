/**
 * A PCI function's legacy interrupt as the host sees it (pdev->irq): a level-triggered line (an IO-APIC
 * pin on x86, a GIC SPI on arm64, after the host bridge's swizzle) with the kernel's request_irq /
 * free_irq, disable_irq_nosync / enable_irq and the flow of a level interrupt (kernel/irq/chip.c
 * handle_fasteoi_irq): while the line is asserted, enabled and has a handler, the handler runs; a
 * handler that leaves the line asserted gets it again at once. Sharing with other functions is not
 * modelled (one action per line).
 */

import { ERRNO } from '../base/errno.js';

/** What a handler answers: IRQ_HANDLED (true) or IRQ_NONE (false). */
export type IntxHandler = () => boolean;

/** A handler that keeps the line asserted is run again at most this many times in a row. */
const STORM_LIMIT = 1000;

export class IntxLine {
  private asserted = false;
  private action: { readonly name: string; readonly handler: IntxHandler } | undefined;
  /** disable_irq depth: the line is serviced only at 0. */
  private depth = 0;
  /** Handled interrupts (/proc/interrupts). */
  count = 0;
  /** Interrupts no handler claimed. */
  unhandled = 0;
  /**
   * Times the function asserted the line while nobody had requested it: on real hardware the line is
   * usually shared, and another driver's handler would see interrupts it cannot clear.
   */
  spurious = 0;
  private servicing = false;

  constructor(
    /** The pin the function uses (1 = INTA). */
    readonly pin: number,
    /** The function, for names. */
    readonly bdf: string,
  ) {}

  get name(): string | undefined {
    return this.action?.name;
  }

  /** Whether the function's pin is asserted on the bus now. */
  get level(): boolean {
    return this.asserted;
  }

  /** request_irq: -EBUSY when the line already has a handler (no sharing in the model). */
  request(name: string, handler: IntxHandler, noAutoEnable = false): number {
    if (this.action !== undefined) return -ERRNO.EBUSY;
    this.action = { name, handler };
    this.depth = noAutoEnable ? 1 : 0;
    this.service();
    return 0;
  }

  /** free_irq: the line is shut down with its last handler. */
  free(): void {
    this.action = undefined;
    this.depth = 0;
  }

  /** disable_irq_nosync */
  disable(): void {
    this.depth++;
  }

  /** enable_irq: a level still asserted fires as soon as the line is enabled again. */
  enable(): void {
    if (this.depth > 0) this.depth--;
    this.service();
  }

  /** The bus level changed (the function, or its INTx disable bit). */
  setLevel(asserted: boolean): void {
    if (asserted && !this.asserted && this.action === undefined) this.spurious++;
    this.asserted = asserted;
    this.service();
  }

  private service(): void {
    if (this.servicing) return; // a handler that changes the level is looked at again by the loop
    this.servicing = true;
    try {
      for (let i = 0; i < STORM_LIMIT && this.asserted && this.depth === 0 && this.action; i++) {
        if (this.action.handler()) this.count++;
        else {
          // note_interrupt: nobody claimed it; a real kernel disables a line that keeps doing this
          this.unhandled++;
          break;
        }
      }
    } finally {
      this.servicing = false;
    }
  }
}
