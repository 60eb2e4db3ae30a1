/**
 * The hardware side of a PCI function on the MSI path: its config space (header, PM, MSI, PCIe and MSI-X
 * capabilities), its BARs with the MSI-X table and PBA, and the act of raising vector N: the device
 * reads its own MSI/MSI-X registers and issues a 32-bit memory write of `data` to `address` (or sets a
 * pending bit when the vector is masked, or does nothing when MSI is off or bus mastering is disabled).
 *
 * Layouts: a description may name a known device model (QEMU's e1000e, the NIC of every oracle run:
 * caps PM 0xc8 -> MSI 0xd0 -> PCIe 0xe0 -> MSI-X 0xa0, MSI-X table of 5 in BAR3 at 0, PBA at 0x2000);
 * other devices get a generic layout built from their description.
 */
import type { PciDeviceDescription } from '../platform/types.js';
import { QemuE1000eInterrupts } from './qemu-e1000e.js';

export const PCI_CAP_ID_PM = 0x01;
export const PCI_CAP_ID_MSI = 0x05;
export const PCI_CAP_ID_EXP = 0x10;
export const PCI_CAP_ID_MSIX = 0x11;

export const PCI_COMMAND = 0x04;
export const PCI_COMMAND_IO = 0x1;
export const PCI_COMMAND_MEMORY = 0x2;
export const PCI_COMMAND_MASTER = 0x4;
export const PCI_COMMAND_SERR = 0x100;
export const PCI_COMMAND_INTX_DISABLE = 0x400;
export const PCI_STATUS = 0x06;
/** Status: the function is asserting INTx (PCI 2.3), whether or not INTx disable lets it reach the bus. */
export const PCI_STATUS_INTERRUPT = 0x08;

export const PCI_MSI_FLAGS_ENABLE = 0x1;
export const PCI_MSI_FLAGS_64BIT = 0x80;
export const PCI_MSI_FLAGS_MASKBIT = 0x100;
export const PCI_MSIX_FLAGS_MASKALL = 0x4000;
export const PCI_MSIX_FLAGS_ENABLE = 0x8000;
export const PCI_MSIX_ENTRY_SIZE = 16;
export const PCI_MSIX_ENTRY_CTRL_MASKBIT = 1;

export interface BarModel {
  readonly index: number;
  readonly size: bigint;
  readonly kind: 'mem' | 'mem64' | 'io';
}

export interface DeviceLayout {
  readonly bars: readonly BarModel[];
  readonly caps: {
    readonly pm?: number;
    readonly msi?: number;
    readonly pcie?: number;
    readonly msix?: number;
  };
  /** Capability list order (offsets), first is PCI_CAPABILITY_LIST. */
  readonly capOrder: readonly number[];
  readonly msi?: { readonly vectors: number; readonly addr64: boolean; readonly perVectorMask: boolean };
  readonly msix?: {
    readonly tableSize: number;
    readonly tableBar: number;
    readonly tableOffset: number;
    readonly pbaBar: number;
    readonly pbaOffset: number;
  };
  readonly interruptPin: number;
  readonly pcie: boolean;
  /** A device model whose remaining config registers are known exactly (QEMU's e1000e). */
  readonly model?: 'qemu-e1000e';
}

/** QEMU hw/net/e1000e.c as the oracle's sysfs config dump shows it. */
export const QEMU_E1000E_LAYOUT: DeviceLayout = {
  bars: [
    { index: 0, size: 0x20000n, kind: 'mem' },
    { index: 1, size: 0x20000n, kind: 'mem' },
    { index: 2, size: 0x20n, kind: 'io' },
    { index: 3, size: 0x4000n, kind: 'mem' },
  ],
  caps: { pm: 0xc8, msi: 0xd0, pcie: 0xe0, msix: 0xa0 },
  capOrder: [0xc8, 0xd0, 0xe0, 0xa0],
  msi: { vectors: 1, addr64: true, perVectorMask: false },
  msix: { tableSize: 5, tableBar: 3, tableOffset: 0, pbaBar: 3, pbaOffset: 0x2000 },
  interruptPin: 1,
  pcie: true,
  model: 'qemu-e1000e',
};

/** The layout of a described device: a known model when vendor/device match, else a generic one. */
export function layoutFor(d: PciDeviceDescription): DeviceLayout {
  if (d.vendor === 0x8086 && d.device === 0x10d3) {
    // Descriptions list memory BARs; the model keeps the device's I/O BAR and takes the sizes described.
    const described = new Map((d.bars ?? []).map((b) => [b.index, b.size]));
    const bars = QEMU_E1000E_LAYOUT.bars.map((b) => ({ ...b, size: described.get(b.index) ?? b.size }));
    for (const [index, size] of described) {
      if (!bars.some((b) => b.index === index)) bars.push({ index, size, kind: 'mem' });
    }
    return { ...QEMU_E1000E_LAYOUT, bars: bars.sort((a, b) => a.index - b.index) };
  }
  const caps: { pm?: number; msi?: number; pcie?: number; msix?: number } = { pm: 0x40 };
  const order = [0x40];
  if (d.msi) {
    caps.msi = 0x50;
    order.push(0x50);
  }
  if (d.pcie) {
    caps.pcie = 0x70;
    order.push(0x70);
  }
  if (d.msix) {
    caps.msix = 0xb0;
    order.push(0xb0);
  }
  const msixBar = d.msix?.tableBar ?? 0;
  const bars: BarModel[] = (d.bars ?? []).map((b) => ({
    index: b.index,
    size: b.size,
    kind: 'mem' as const,
  }));
  if (d.msix && !bars.some((b) => b.index === msixBar)) {
    const need = BigInt(d.msix.tableOffset + d.msix.tableSize * 16 + 0x1000);
    let size = 0x1000n;
    while (size < need * 2n) size <<= 1n;
    bars.push({ index: msixBar, size, kind: 'mem' });
  }
  return {
    bars,
    caps,
    capOrder: order,
    msi: d.msi,
    msix: d.msix
      ? {
          ...d.msix,
          pbaBar: d.msix.tableBar,
          pbaOffset: alignUp(d.msix.tableOffset + d.msix.tableSize * 16, 0x1000),
        }
      : undefined,
    interruptPin: d.interruptPin ?? 1,
    pcie: d.pcie,
  };
}

function alignUp(v: number, a: number): number {
  return Math.ceil(v / a) * a;
}

/** What happened when the device tried to raise a vector. */
export type RaiseAttempt =
  | { readonly kind: 'write'; readonly addr: bigint; readonly data: number; readonly source: 'msi' | 'msix' }
  | { readonly kind: 'pending'; readonly why: string }
  | { readonly kind: 'none'; readonly why: string };

/**
 * The rest of QEMU's e1000e config space (hw/net/e1000e.c, hw/pci/pcie.c, hw/pci/pcie_aer.c), as read
 * through vfio-pci on the conformance machines: PM capability version 2 with DSI; a version-1 PCIe
 * capability whose type is "root complex integrated endpoint" on a root bus and "endpoint" behind a
 * port, role-based error reporting, a x1 2.5 GT/s link with L0s; the AER extended capability at 0x100
 * with QEMU's default severities and masks, then the Device Serial Number at 0x140 built from the MAC.
 */
function qemuE1000eConfig(
  dv: DataView,
  layout: DeviceLayout,
  desc: PciDeviceDescription,
  onRootBus: boolean,
): void {
  if (layout.caps.pm !== undefined) dv.setUint16(layout.caps.pm + 2, 0x0022, true);
  const e = layout.caps.pcie;
  if (e !== undefined) {
    dv.setUint16(e + 2, 0x0001 | ((onRootBus ? 0x9 : 0x0) << 4), true); // PCI_EXP_TYPE_RC_END / ENDPOINT
    dv.setUint32(e + 4, 0x00008000, true); // DEVCAP: role-based error reporting
    dv.setUint32(e + 0x0c, 0x00000411, true); // LNKCAP: L0s, x1, 2.5 GT/s
    dv.setUint16(e + 0x12, 0x0011, true); // LNKSTA: x1, 2.5 GT/s
  }
  dv.setUint32(0x100, 0x14020001, true); // AER, version 2, next 0x140
  dv.setUint32(0x10c, 0x00462030, true); // uncorrectable severity
  dv.setUint32(0x114, 0x0000e000, true); // correctable mask
  dv.setUint32(0x118, 0x000000a0, true); // ECRC generation and check capable
  dv.setUint32(0x140, 0x00010003, true); // Device Serial Number, version 1, last
  const mac = (desc.mac ?? '52:54:00:12:34:56').split(':').map((x) => parseInt(x, 16));
  // e1000e_gen_dsn: the MAC's halves around ff:ff, EUI-64 style
  dv.setUint8(0x144, mac[5]!);
  dv.setUint8(0x145, mac[4]!);
  dv.setUint8(0x146, mac[3]!);
  dv.setUint8(0x147, 0xff);
  dv.setUint8(0x148, 0xff);
  dv.setUint8(0x149, mac[2]!);
  dv.setUint8(0x14a, mac[1]!);
  dv.setUint8(0x14b, mac[0]!);
}

/** Length of an MSI capability with these flags: 10 bytes, +4 for 64-bit addresses, +10 for per-vector masks. */
export function msiCapLength(flags: number): number {
  return 10 + (flags & PCI_MSI_FLAGS_64BIT ? 4 : 0) + (flags & PCI_MSI_FLAGS_MASKBIT ? 10 : 0);
}

/** Capability sizes as QEMU registers them (pci_add_capability / pcie_add_capability): read-only spans. */
const QEMU_CAP_SPANS = (l: DeviceLayout): Array<[number, number]> => {
  const spans: Array<[number, number]> = [];
  if (l.caps.pm !== undefined) spans.push([l.caps.pm, 8]);
  if (l.caps.msi !== undefined && l.msi)
    spans.push([
      l.caps.msi,
      msiCapLength(
        (l.msi.addr64 ? PCI_MSI_FLAGS_64BIT : 0) | (l.msi.perVectorMask ? PCI_MSI_FLAGS_MASKBIT : 0),
      ),
    ]);
  if (l.caps.pcie !== undefined) spans.push([l.caps.pcie, 0x14]); // PCI_EXP_VER1_SIZEOF
  if (l.caps.msix !== undefined) spans.push([l.caps.msix, 12]);
  return spans;
};

/**
 * Which config bits a write changes (wmask) and which a written one clears (w1cmask), as a config write
 * reaching the function applies them. QEMU's rules (hw/pci/pci.c pci_init_wmask and
 * pci_default_write_config): the command bits it implements, cache line and interrupt line; every byte
 * outside the header and the capabilities writable (QEMU keeps them as plain storage); capabilities
 * read-only except their control registers (PMCSR state, PME enable and data select, PME status
 * write-one-to-clear; MSI enable, queue size, address and data; MSI-X enable and mask-all); AER's
 * severities, correctable mask and ECRC enables (its uncorrectable mask does not take writes on QEMU
 * 7.2, as the conformance runs show). Other devices: the same control registers, no writable gaps.
 */
function writeMasks(l: DeviceLayout): { wmask: Uint8Array; w1cmask: Uint8Array } {
  const wmask = new Uint8Array(4096);
  const w1cmask = new Uint8Array(4096);
  const dv = new DataView(wmask.buffer);
  const dc = new DataView(w1cmask.buffer);
  const qemu = l.model === 'qemu-e1000e';
  if (qemu) {
    wmask.fill(0xff, 0x40);
    for (const [o, n] of QEMU_CAP_SPANS(l)) wmask.fill(0, o, o + n);
    wmask.fill(0, 0x100, 0x148); // AER (PCI_ERR_SIZEOF)
    wmask.fill(0, 0x140, 0x14c); // DSN
    dv.setUint32(0x10c, 0x03fff030, true); // AER uncorrectable severity
    dv.setUint32(0x114, 0x0000f1c1, true); // AER correctable mask
    dv.setUint32(0x118, 0x00000140, true); // AER ECRC generation / check enable
    dc.setUint32(0x104, 0x03fff030, true); // AER uncorrectable status
    dc.setUint32(0x110, 0x0000f1c1, true); // AER correctable status
  }
  dv.setUint16(
    PCI_COMMAND,
    PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE | PCI_COMMAND_SERR,
    true,
  );
  wmask[0x0c] = 0xff;
  wmask[0x3c] = 0xff;
  if (l.caps.pm !== undefined) {
    dv.setUint16(l.caps.pm + 4, PCI_PM_CTRL_STATE_MASK | 0x0100 | (qemu ? 0x1e00 : 0), true);
    dc.setUint16(l.caps.pm + 4, 0x8000, true);
  }
  if (l.caps.msi !== undefined && l.msi) {
    const o = l.caps.msi;
    dv.setUint16(o + 2, 0x0071, true);
    dv.setUint32(o + 4, 0xfffffffc, true);
    if (l.msi.addr64) dv.setUint32(o + 8, 0xffffffff, true);
    dv.setUint16(o + (l.msi.addr64 ? 12 : 8), 0xffff, true);
    if (l.msi.perVectorMask) dv.setUint32(o + (l.msi.addr64 ? 16 : 12), 0xffffffff, true);
  }
  if (l.caps.msix !== undefined) dv.setUint16(l.caps.msix + 2, 0xc000, true);
  return { wmask, w1cmask };
}

export const PCI_PM_CTRL_STATE_MASK = 0x0003;

export class MsiDeviceModel {
  readonly bdf: string;
  readonly layout: DeviceLayout;
  /** 4 KiB PCIe config space (the device's real registers, what sysfs `config` shows). */
  readonly config = new Uint8Array(4096);
  /** Bits a config write changes, and bits a written one clears (see writeMasks). */
  private readonly wmask: Uint8Array;
  private readonly w1cmask: Uint8Array;
  /** MSI-X table + PBA backing (BAR memory of the table BAR). */
  private readonly msixTable: Uint8Array;
  private readonly pba: Uint8Array;
  /** Other BAR registers (the device's own registers): offset -> value, per BAR. */
  private readonly regs = new Map<string, number>();
  /** What the function drives on its INTx pin before INTx disable (QEMU's irq_state). */
  private intxLevel = false;
  /** The INTx level the bus was last told. */
  private busLine = false;
  /**
   * Called when the pin's level as the bus sees it changes: the function asserts INTx and the command
   * register's INTx disable is clear (QEMU's pci_irq_handler and pci_update_irq_disabled). The platform's
   * legacy interrupt line (src/irq/intx.ts) listens here.
   */
  onIntxLine: ((asserted: boolean) => void) | undefined;
  /** Called when the device's own registers ask for MSI/MSI-X vector n (QEMU's msi_notify). */
  onMsiNotify: ((vector: number) => void) | undefined;
  /** The device's own interrupt registers in BAR0, when its model has them (QEMU's e1000e). */
  private readonly nic: QemuE1000eInterrupts | undefined;

  constructor(
    desc: PciDeviceDescription,
    layout: DeviceLayout = layoutFor(desc),
    where: { readonly onRootBus?: boolean; readonly multifunction?: boolean } = {},
  ) {
    this.bdf = desc.bdf;
    this.layout = layout;
    ({ wmask: this.wmask, w1cmask: this.w1cmask } = writeMasks(layout));
    const c = this.config;
    const dv = new DataView(c.buffer);
    if (where.multifunction) c[0x0e] = 0x80;
    c[0x3c] = desc.interruptLine ?? 0;
    // BARs as the firmware assigned them: memory BARs 32-bit non-prefetchable, I/O BARs with bit 0
    for (const b of desc.bars ?? []) {
      if (b.addr === undefined) continue;
      const kind = layout.bars.find((x) => x.index === b.index)?.kind ?? 'mem';
      dv.setUint32(0x10 + 4 * b.index, Number(b.addr & 0xffffffffn) | (kind === 'io' ? 1 : 0), true);
      if (kind === 'mem64') dv.setUint32(0x14 + 4 * b.index, Number(b.addr >> 32n), true);
    }
    dv.setUint16(0, desc.vendor, true);
    dv.setUint16(2, desc.device, true);
    c[0x09] = desc.class & 0xff;
    c[0x0a] = (desc.class >> 8) & 0xff;
    c[0x0b] = (desc.class >> 16) & 0xff;
    c[0x3d] = layout.interruptPin;
    dv.setUint16(0x2c, desc.subsystemVendor ?? desc.vendor, true);
    dv.setUint16(0x2e, desc.subsystemDevice ?? 0, true);
    if (layout.capOrder.length > 0) {
      dv.setUint16(0x06, 0x0010, true); // status: capability list
      c[0x34] = layout.capOrder[0]!;
    }
    layout.capOrder.forEach((off, i) => {
      c[off + 1] = layout.capOrder[i + 1] ?? 0;
    });
    if (layout.caps.pm !== undefined) {
      c[layout.caps.pm] = PCI_CAP_ID_PM;
      dv.setUint16(layout.caps.pm + 2, 0x0003, true);
    }
    if (layout.caps.pcie !== undefined) {
      c[layout.caps.pcie] = PCI_CAP_ID_EXP;
      dv.setUint16(layout.caps.pcie + 2, 0x0002, true);
    }
    if (layout.caps.msi !== undefined && layout.msi) {
      const o = layout.caps.msi;
      c[o] = PCI_CAP_ID_MSI;
      const mmc = Math.min(5, Math.ceil(Math.log2(Math.max(1, layout.msi.vectors))));
      let ctrl = mmc << 1;
      if (layout.msi.addr64) ctrl |= PCI_MSI_FLAGS_64BIT;
      if (layout.msi.perVectorMask) ctrl |= PCI_MSI_FLAGS_MASKBIT;
      dv.setUint16(o + 2, ctrl, true);
    }
    if (layout.model === 'qemu-e1000e') {
      qemuE1000eConfig(dv, layout, desc, where.onRootBus ?? false);
      this.nic = new QemuE1000eInterrupts({
        mode: () =>
          (this.msixCtrl & PCI_MSIX_FLAGS_ENABLE) !== 0
            ? 'msix'
            : (this.msiCtrl & PCI_MSI_FLAGS_ENABLE) !== 0
              ? 'msi'
              : 'intx',
        setIntx: (level) => this.setIntx(level),
        notifyMsi: (n) => this.onMsiNotify?.(n),
      });
    }
    const tableSize = layout.msix?.tableSize ?? 0;
    this.msixTable = new Uint8Array(tableSize * PCI_MSIX_ENTRY_SIZE);
    this.pba = new Uint8Array(Math.max(8, Math.ceil(tableSize / 64) * 8));
    if (layout.caps.msix !== undefined && layout.msix) {
      const o = layout.caps.msix;
      c[o] = PCI_CAP_ID_MSIX;
      dv.setUint16(o + 2, (layout.msix.tableSize - 1) & 0x7ff, true);
      dv.setUint32(o + 4, (layout.msix.tableOffset & ~7) | layout.msix.tableBar, true);
      dv.setUint32(o + 8, (layout.msix.pbaOffset & ~7) | layout.msix.pbaBar, true);
      for (let i = 0; i < tableSize; i++) this.msixTable[i * 16 + 12] = PCI_MSIX_ENTRY_CTRL_MASKBIT;
    }
  }

  private get dv(): DataView {
    return new DataView(this.config.buffer);
  }

  cfgRead(off: number, size: 1 | 2 | 4): number {
    if (off < 0 || off + size > this.config.length) return size === 4 ? 0xffffffff : (1 << (8 * size)) - 1;
    return size === 1
      ? this.config[off]!
      : size === 2
        ? this.dv.getUint16(off, true)
        : this.dv.getUint32(off, true);
  }

  cfgWrite(off: number, size: 1 | 2 | 4, value: number): void {
    if (off < 0 || off + size > this.config.length) return;
    if (size === 1) this.config[off] = value & 0xff;
    else if (size === 2) this.dv.setUint16(off, value & 0xffff, true);
    else this.dv.setUint32(off, value >>> 0, true);
    this.afterConfigWrite(off, size);
  }

  /**
   * A config write as it reaches the function (pci_user_write_config_*): each byte keeps its read-only
   * bits, takes the writable ones and clears the write-one-to-clear ones that are written as 1.
   */
  busWrite(off: number, size: 1 | 2 | 4, value: number): void {
    if (off < 0 || off + size > this.config.length) return;
    let v = value >>> 0;
    for (let i = 0; i < size; i++, v = Math.floor(v / 256)) {
      const b = v & 0xff;
      const a = off + i;
      const wm = this.wmask[a]!;
      this.config[a] = ((this.config[a]! & ~wm) | (b & wm)) & ~(b & this.w1cmask[a]!);
    }
    this.afterConfigWrite(off, size);
  }

  /**
   * After any config write: a function with MSI or MSI-X enabled stops asserting INTx (QEMU's
   * msi_write_config and msix_write_config call pci_device_deassert_intx), and a change of INTx disable
   * changes what the bus sees (pci_update_irq_disabled).
   */
  private afterConfigWrite(off: number, size: number): void {
    const touches = (at: number | undefined): boolean =>
      at !== undefined && off <= at + 3 && off + size > at + 2;
    if (
      this.intxLevel &&
      ((touches(this.layout.caps.msi) && (this.msiCtrl & PCI_MSI_FLAGS_ENABLE) !== 0) ||
        (touches(this.layout.caps.msix) && (this.msixCtrl & PCI_MSIX_FLAGS_ENABLE) !== 0))
    )
      this.setIntx(false);
    this.intxLineChanged();
  }

  /* ---- INTx ---- */

  /** The level on the bus: the function asserts INTx and INTx disable is clear. */
  get intxAsserted(): boolean {
    return this.intxLevel && (this.command & PCI_COMMAND_INTX_DISABLE) === 0;
  }

  /**
   * The function asserts (or releases) its INTx pin (pci_set_irq): the status register's interrupt bit
   * follows at once; the bus sees it only while INTx disable is clear. No pin, no effect.
   */
  setIntx(level: boolean): void {
    if (this.layout.interruptPin === 0 || level === this.intxLevel) return;
    this.intxLevel = level;
    const st = this.cfgRead(PCI_STATUS, 2);
    this.dv.setUint16(PCI_STATUS, level ? st | PCI_STATUS_INTERRUPT : st & ~PCI_STATUS_INTERRUPT, true);
    this.intxLineChanged();
  }

  /** Tells the listener when the level the bus sees differs from the last one it was told. */
  private intxLineChanged(): void {
    const now = this.intxAsserted;
    if (now === this.busLine) return;
    this.busLine = now;
    this.onIntxLine?.(now);
  }

  /** Power state from PMCSR (0 = D0 .. 3 = D3hot); D0 without a PM capability. */
  get powerState(): number {
    const pm = this.layout.caps.pm;
    return pm === undefined ? 0 : this.cfgRead(pm + 4, 2) & PCI_PM_CTRL_STATE_MASK;
  }

  get command(): number {
    return this.cfgRead(PCI_COMMAND, 2);
  }
  set command(v: number) {
    this.cfgWrite(PCI_COMMAND, 2, v);
  }

  /* ---- MSI capability registers ---- */

  get msiCtrl(): number {
    return this.layout.caps.msi === undefined ? 0 : this.cfgRead(this.layout.caps.msi + 2, 2);
  }
  set msiCtrl(v: number) {
    if (this.layout.caps.msi !== undefined) this.cfgWrite(this.layout.caps.msi + 2, 2, v);
  }

  /** Message address/data registers of the MSI capability. */
  msiMessage(): { addr: bigint; data: number } {
    const o = this.layout.caps.msi;
    if (o === undefined) return { addr: 0n, data: 0 };
    const a64 = (this.msiCtrl & PCI_MSI_FLAGS_64BIT) !== 0;
    const lo = BigInt(this.cfgRead(o + 4, 4));
    const hi = a64 ? BigInt(this.cfgRead(o + 8, 4)) : 0n;
    return { addr: (hi << 32n) | lo, data: this.cfgRead(o + (a64 ? 12 : 8), 2) };
  }

  /** pci_write_msg_msi: address/data registers (the data register is 16 bits). */
  setMsiMessage(addr: bigint, data: number): void {
    const o = this.layout.caps.msi;
    if (o === undefined) return;
    const a64 = (this.msiCtrl & PCI_MSI_FLAGS_64BIT) !== 0;
    this.cfgWrite(o + 4, 4, Number(addr & 0xffff_ffffn));
    if (a64) this.cfgWrite(o + 8, 4, Number((addr >> 32n) & 0xffff_ffffn));
    this.cfgWrite(o + (a64 ? 12 : 8), 2, data & 0xffff);
  }

  /* ---- MSI-X ---- */

  get msixCtrl(): number {
    return this.layout.caps.msix === undefined ? 0 : this.cfgRead(this.layout.caps.msix + 2, 2);
  }
  set msixCtrl(v: number) {
    if (this.layout.caps.msix !== undefined) this.cfgWrite(this.layout.caps.msix + 2, 2, v);
  }

  get msixTableSize(): number {
    return this.layout.msix?.tableSize ?? 0;
  }

  msixEntry(i: number): { addr: bigint; data: number; ctrl: number } {
    if (i < 0 || i >= this.msixTableSize) return { addr: 0n, data: 0, ctrl: 1 };
    const dv = new DataView(this.msixTable.buffer);
    const o = i * 16;
    const addr = (BigInt(dv.getUint32(o + 4, true)) << 32n) | BigInt(dv.getUint32(o, true));
    return { addr, data: dv.getUint32(o + 8, true), ctrl: dv.getUint32(o + 12, true) };
  }

  setMsixEntry(i: number, addr: bigint, data: number): void {
    if (i < 0 || i >= this.msixTableSize) return;
    const dv = new DataView(this.msixTable.buffer);
    dv.setUint32(i * 16, Number(addr & 0xffff_ffffn), true);
    dv.setUint32(i * 16 + 4, Number((addr >> 32n) & 0xffff_ffffn), true);
    dv.setUint32(i * 16 + 8, data >>> 0, true);
  }

  maskMsixEntry(i: number, masked: boolean): void {
    if (i < 0 || i >= this.msixTableSize) return;
    const dv = new DataView(this.msixTable.buffer);
    const c = dv.getUint32(i * 16 + 12, true);
    dv.setUint32(i * 16 + 12, masked ? c | 1 : c & ~1, true);
  }

  /** PBA bit of an entry. */
  msixPending(i: number): boolean {
    return ((this.pba[i >> 3] ?? 0) & (1 << (i & 7))) !== 0;
  }

  /* ---- BAR memory (as the device decodes it) ---- */

  /** Reads `size` bytes at `off` of BAR `bar` (MSI-X table/PBA included). undefined if no such BAR. */
  barRead(bar: number, off: number, size: number): number | undefined {
    const b = this.layout.bars.find((x) => x.index === bar);
    if (b === undefined || off < 0 || BigInt(off + size) > b.size) return undefined;
    const x = this.layout.msix;
    if (
      x &&
      bar === x.tableBar &&
      off >= x.tableOffset &&
      off + size <= x.tableOffset + this.msixTable.length
    ) {
      return readLe(this.msixTable, off - x.tableOffset, size);
    }
    if (x && bar === x.pbaBar && off >= x.pbaOffset && off + size <= x.pbaOffset + this.pba.length) {
      return readLe(this.pba, off - x.pbaOffset, size);
    }
    const own = bar === 0 && size === 4 ? this.nic?.read(off) : undefined;
    if (own !== undefined) return own;
    return this.regs.get(`${bar}:${off}:${size}`) ?? 0;
  }

  barWrite(bar: number, off: number, size: number, value: number): boolean {
    const b = this.layout.bars.find((x) => x.index === bar);
    if (b === undefined || off < 0 || BigInt(off + size) > b.size) return false;
    const x = this.layout.msix;
    if (
      x &&
      bar === x.tableBar &&
      off >= x.tableOffset &&
      off + size <= x.tableOffset + this.msixTable.length
    ) {
      writeLe(this.msixTable, off - x.tableOffset, size, value);
      return true;
    }
    if (x && bar === x.pbaBar && off >= x.pbaOffset && off + size <= x.pbaOffset + this.pba.length)
      return true; // read-only
    if (bar === 0 && size === 4 && this.nic?.write(off, value >>> 0)) return true;
    this.regs.set(`${bar}:${off}:${size}`, value >>> 0);
    return true;
  }

  /**
   * The device wants to signal vector `n`: MSI-X entry n, or MSI sub-vector n (data | n, within the
   * enabled block). No write without bus mastering; a masked vector only sets its pending bit.
   */
  raise(n: number): RaiseAttempt {
    const busMaster = (this.command & PCI_COMMAND_MASTER) !== 0;
    const xctrl = this.msixCtrl;
    if ((xctrl & PCI_MSIX_FLAGS_ENABLE) !== 0) {
      if (n < 0 || n >= this.msixTableSize)
        return { kind: 'none', why: `MSI-X vector ${n} beyond the table of ${this.msixTableSize}` };
      if (!busMaster) return { kind: 'none', why: 'bus mastering disabled: the device cannot write' };
      const e = this.msixEntry(n);
      if ((xctrl & PCI_MSIX_FLAGS_MASKALL) !== 0 || (e.ctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT) !== 0) {
        this.pba[n >> 3] = (this.pba[n >> 3] ?? 0) | (1 << (n & 7));
        return { kind: 'pending', why: `MSI-X vector ${n} is masked: pending bit set` };
      }
      return { kind: 'write', addr: e.addr, data: e.data, source: 'msix' };
    }
    const ctrl = this.msiCtrl;
    if ((ctrl & PCI_MSI_FLAGS_ENABLE) !== 0) {
      const enabled = 1 << ((ctrl >> 4) & 7);
      if (n < 0 || n >= enabled)
        return { kind: 'none', why: `MSI vector ${n} beyond the ${enabled} enabled` };
      if (!busMaster) return { kind: 'none', why: 'bus mastering disabled: the device cannot write' };
      const m = this.msiMessage();
      return { kind: 'write', addr: m.addr, data: (m.data & ~(enabled - 1)) | n, source: 'msi' };
    }
    return { kind: 'none', why: 'neither MSI nor MSI-X is enabled' };
  }
}

function readLe(b: Uint8Array, off: number, size: number): number {
  let v = 0;
  for (let i = size - 1; i >= 0; i--) v = v * 256 + (b[off + i] ?? 0);
  return v >>> 0;
}

function writeLe(b: Uint8Array, off: number, size: number, value: number): void {
  let v = value >>> 0;
  for (let i = 0; i < size; i++) {
    b[off + i] = v & 0xff;
    v = Math.floor(v / 256);
  }
}
