/**
 * The interrupt registers of QEMU 7.2's e1000e (hw/net/e1000e_core.c), the NIC of every conformance
 * machine: interrupt causes (ICR, set through ICS), the mask (IMS, cleared through IMC) and the throttle
 * (ITR), and how they become an interrupt: in legacy mode the INTx pin follows "a cause is pending and
 * unmasked", with MSI one message per newly pending set of causes.
 *
 * Not modelled: interrupt throttling (an ITR interval postpones a raise by at most 128 us; the model
 * raises at once, which is what a reader sees after any wait), MSI-X (causes are routed through IVAR,
 * which no conformance scenario programs), the auto-mask and auto-clear extensions of CTRL_EXT.
 */

/** Register offsets in BAR0. */
export const E1000_ICR = 0xc0;
export const E1000_ITR = 0xc4;
export const E1000_ICS = 0xc8;
export const E1000_IMS = 0xd0;
export const E1000_IMC = 0xd8;

/** ICR bit 31: set whenever any cause is (e1000e_fix_icr_asserted). */
export const E1000_ICR_ASSERTED = 0x80000000;
const E1000_ICR_OTHER = 0x01000000;
/** Causes that clearing OTHER in ICR clears too (E1000_ICR_OTHER_CAUSES). */
const E1000_ICR_OTHER_CAUSES =
  0x00000004 | // LSC
  0x00000040 | // RXO
  0x00000200 | // MDAC
  0x00010000 | // SRPD
  0x00020000 | // ACK
  0x00040000; // MNG
/** The causes IMS takes (e1000e_set_ims: ims_valid_mask). */
const IMS_VALID_MASK =
  0x00000001 | // TXDW
  0x00000002 | // TXQE
  0x00000004 | // LSC
  0x00000010 | // RXDMT0
  0x00000040 | // RXO
  0x00000080 | // RXT0
  0x00000200 | // MDAC
  0x00008000 | // TXD_LOW
  0x00010000 | // SRPD
  0x00020000 | // ACK
  0x00040000 | // MNG
  0x00100000 | // RXQ0
  0x00200000 | // RXQ1
  0x00400000 | // TXQ0
  0x00800000 | // TXQ1
  E1000_ICR_OTHER;
/** The smallest throttle interval the device keeps (E1000E_MIN_XITR). */
const MIN_XITR = 500;

export interface E1000eWiring {
  /** Which interrupt the function uses now (its MSI-X and MSI enable bits). */
  mode(): 'intx' | 'msi' | 'msix';
  /** Drive the INTx pin (pci_set_irq). */
  setIntx(level: boolean): void;
  /** Send MSI vector n (msi_notify). */
  notifyMsi(vector: number): void;
}

/** The NIC's interrupt causes and mask, as the function's BAR0 registers. */
export class QemuE1000eInterrupts {
  icr = 0;
  ims = 0;
  itr = MIN_XITR;
  /** Causes an MSI was already sent for (core->msi_causes_pending). */
  private msiPending = 0;

  constructor(private readonly wire: E1000eWiring) {}

  /** A 4-byte read of `reg`: the register's value, or undefined when it is not an interrupt register. */
  read(reg: number): number | undefined {
    switch (reg) {
      case E1000_ICR: {
        // e1000e_mac_icr_read: clear on read (without MSI-X, or with nothing unmasked)
        const v = this.icr;
        if (this.ims === 0 || this.wire.mode() !== 'msix') this.icr = 0;
        this.update();
        return v;
      }
      case E1000_ICS: // reads as ICR, without the clear
        return this.icr;
      case E1000_IMS:
        return this.ims;
      case E1000_ITR:
        return this.itr;
      default:
        return undefined;
    }
  }

  /** A 4-byte write of `reg`: true when it was an interrupt register (the access is consumed). */
  write(reg: number, value: number): boolean {
    const v = value >>> 0;
    switch (reg) {
      case E1000_ICS: // e1000e_set_ics -> e1000e_set_interrupt_cause
        this.icr = (this.icr | v) >>> 0;
        break;
      case E1000_IMS:
        this.ims = (this.ims | (v & IMS_VALID_MASK)) >>> 0;
        break;
      case E1000_IMC:
        this.ims = (this.ims & ~v) >>> 0;
        break;
      case E1000_ICR: {
        // e1000e_set_icr: write one to clear; clearing OTHER clears the causes it stands for
        let icr = this.icr & ~v;
        if ((v & E1000_ICR_OTHER) !== 0) icr &= ~E1000_ICR_OTHER_CAUSES;
        this.icr = icr >>> 0;
        break;
      }
      case E1000_ITR: // e1000e_set_itr: 16 bits, at least the minimum interval
        this.itr = Math.max(v & 0xffff, MIN_XITR);
        return true;
      default:
        return false;
    }
    this.update();
    return true;
  }

  /** e1000e_update_interrupt_state */
  private update(): void {
    this.icr = (this.icr & ~E1000_ICR_ASSERTED) >>> 0;
    if (this.icr !== 0) this.icr = (this.icr | E1000_ICR_ASSERTED) >>> 0;
    const pending = (this.ims & this.icr) !== 0;
    if (!pending) this.msiPending = 0;
    const mode = this.wire.mode();
    if (mode === 'intx') {
      this.wire.setIntx(pending);
      return;
    }
    if (!pending || mode === 'msix') return;
    // e1000e_send_msi: one message for causes not already signalled
    let causes = this.icr & this.ims & ~E1000_ICR_ASSERTED;
    this.msiPending &= causes;
    causes ^= this.msiPending;
    if (causes === 0) return;
    this.msiPending |= causes;
    this.wire.notifyMsi(0);
  }
}
