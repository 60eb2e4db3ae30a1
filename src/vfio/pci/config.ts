/**
 * Config-space access through the vfio-pci device fd (drivers/vfio/pci/vfio_pci_config.c):
 * - the standard header follows vfio's perm bits (init_pci_cap_basic_perm): IDs, the capability
 *   pointer and the interrupt pin read from vconfig (a copy taken at open) and ignore writes; the BARs,
 *   the ROM BAR and the interrupt line are virtual (writes land in vconfig only; vfio_bar_fixup masks a
 *   BAR to its size and sets its type bits on the next read, so writing all ones sizes it; a BAR the
 *   host did not map reads 0); cache line, latency timer and BIST pass writes to the device; the
 *   command register passes through; other header registers read the device and drop writes;
 * - the MSI capability is fully virtualised (reads come from vconfig, which was copied at open and is
 *   only changed by the user's own writes: the oracle reads enable=0 and addr/data=0 while the hardware
 *   has MSI enabled);
 * - everything else reads the hardware and ignores writes.
 * Checked in conformance/golden (`common/config.iovx`).
 */
import type { MsiDeviceModel } from '../../pci/msi-device.js';
import { PCI_COMMAND, PCI_MSI_FLAGS_ENABLE } from '../../pci/msi-device.js';

/** Header bytes whose reads come from vconfig (virtualised) and whose writes land there. */
const HDR_VIRT_RO = new Set([0x00, 0x01, 0x02, 0x03, 0x34, 0x3d]);
const HDR_VIRT_RW = new Set([...range(0x10, 0x28), 0x30, 0x31, 0x32, 0x33, 0x3c]);
/** Header bytes whose writes go to the device (reads too). */
const HDR_PASS_RW = new Set([PCI_COMMAND, PCI_COMMAND + 1, 0x0c, 0x0d, 0x0f]);

function range(a: number, b: number): number[] {
  return Array.from({ length: b - a }, (_, i) => a + i);
}

export class VfioPciConfig {
  /** vdev->vconfig */
  readonly vconfig: Uint8Array;
  private readonly msi: { start: number; end: number } | undefined;
  /** vdev->bardirty: the BARs were written since the last fixup (true at open). */
  private barDirty = true;

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

  /**
   * vfio_bar_fixup: each BAR keeps only the address bits its size allows plus its type bits; a BAR
   * the host did not map reads 0; the ROM BAR reads 0 (the model's devices have no ROM).
   */
  private barFixup(): void {
    const v = new DataView(this.vconfig.buffer);
    for (let i = 0; i < 6; i++) {
      const off = 0x10 + 4 * i;
      const bar = this.m.layout.bars.find((b) => b.index === i);
      const mapped = bar !== undefined && bar.size > 0n && this.m.cfgRead(off, 4) !== 0;
      if (!mapped) {
        v.setUint32(off, 0, true);
        continue;
      }
      const mask = Number(BigInt.asUintN(32, ~(bar.size - 1n)));
      const flags = bar.kind === 'io' ? 0x1 : bar.kind === 'mem64' ? 0x4 : 0x0;
      v.setUint32(off, ((v.getUint32(off, true) & mask) | flags) >>> 0, true);
      if (bar.kind === 'mem64' && i < 5) {
        const hi = Number(BigInt.asUintN(32, ~(bar.size - 1n) >> 32n));
        v.setUint32(off + 4, (v.getUint32(off + 4, true) & hi) >>> 0, true);
        i++;
      }
    }
    v.setUint32(0x30, 0, true);
    this.barDirty = false;
  }

  read(pos: number, buf: Uint8Array): number {
    const n = Math.min(buf.length, 4096 - pos);
    if (this.barDirty && pos < 0x34 && pos + n > 0x10) this.barFixup();
    for (let i = 0; i < n; i++) {
      const off = pos + i;
      const virt = this.inMsi(off) || HDR_VIRT_RO.has(off) || HDR_VIRT_RW.has(off);
      buf[i] = virt ? this.vconfig[off]! : this.m.config[off]!;
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
      } else if (HDR_VIRT_RW.has(off)) {
        this.vconfig[off] = b;
        if (off < 0x28 || (off >= 0x30 && off < 0x34)) this.barDirty = true;
      } else if (HDR_PASS_RW.has(off)) {
        this.m.config[off] = b;
        this.vconfig[off] = b;
      }
    }
    return n;
  }
}
