/**
 * Config-space access through the vfio-pci device fd (drivers/vfio/pci/vfio_pci_config.c), reduced to
 * what the MSI path shows: the MSI capability is fully virtualised (reads come from vconfig, which was
 * copied at open and is only changed by the user's own writes: the oracle reads enable=0 and
 * addr/data=0 while the hardware has MSI enabled); the command register passes through; everything
 * else reads the hardware and ignores writes.
 */
import type { MsiDeviceModel } from '../../pci/msi-device.js';
import { PCI_COMMAND, PCI_MSI_FLAGS_ENABLE } from '../../pci/msi-device.js';

export class VfioPciConfig {
  /** vdev->vconfig */
  readonly vconfig: Uint8Array;
  private readonly msi: { start: number; end: number } | undefined;

  constructor(private readonly m: MsiDeviceModel) {
    this.vconfig = m.config.slice();
    const o = m.layout.caps.msi;
    if (o !== undefined) {
      const ctrl = m.msiCtrl;
      const a64 = (ctrl & 0x80) !== 0;
      const pvm = (ctrl & 0x100) !== 0;
      const len = 10 + (a64 ? 4 : 0) + (pvm ? 10 : 0);
      this.msi = { start: o, end: o + len };
      // vfio_msi_cap init: virtual enable/MME start cleared, message registers start at zero.
      const v = new DataView(this.vconfig.buffer);
      v.setUint16(o + 2, ctrl & ~(PCI_MSI_FLAGS_ENABLE | 0x70), true);
      this.vconfig.fill(0, o + 4, this.msi.end);
    }
  }

  private inMsi(off: number): boolean {
    return this.msi !== undefined && off >= this.msi.start && off < this.msi.end;
  }

  read(pos: number, buf: Uint8Array): number {
    const n = Math.min(buf.length, 4096 - pos);
    for (let i = 0; i < n; i++) {
      const off = pos + i;
      buf[i] = this.inMsi(off) ? this.vconfig[off]! : this.m.config[off]!;
    }
    return n;
  }

  write(pos: number, buf: Uint8Array): number {
    const n = Math.min(buf.length, 4096 - pos);
    for (let i = 0; i < n; i++) {
      const off = pos + i;
      const b = buf[i]!;
      if (this.inMsi(off)) {
        const rel = off - this.msi!.start;
        if (rel === 2) this.vconfig[off] = (this.vconfig[off]! & ~0x71) | (b & 0x71);
        else if (rel >= 4) this.vconfig[off] = b;
      } else if (off === PCI_COMMAND || off === PCI_COMMAND + 1) {
        this.m.config[off] = b;
        this.vconfig[off] = b;
      }
    }
    return n;
  }
}
