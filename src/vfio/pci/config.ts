/**
 * Config-space access through the vfio-pci device fd (drivers/vfio/pci/vfio_pci_config.c).
 *
 * At open (vfio_config_init) every byte gets an owner: the standard header, a capability found on the
 * device's lists (a capability vfio does not know is hidden: the previous next pointer skips it in
 * vconfig), or nobody. An access is cut into aligned pieces of at most a dword inside one owner
 * (vfio_config_do_rw); each piece follows its owner's perm bits (config-perms.ts): virtual bits read and
 * write vconfig, writable non-virtual bits go to the device, which applies its own write masks. On top:
 * BAR sizing (vfio_bar_fixup), the command register's memory/IO bookkeeping, PMCSR state writes turned
 * into power transitions, the PCIe FLR bit and MSI flags (vfio_msi_config_write). Bytes nobody owns
 * pass to the device both ways (unassigned_perms). Checked in conformance/golden (`common/config.iovx`).
 */
import type { MsiDeviceModel } from '../../pci/msi-device.js';
import {
  PCI_COMMAND,
  PCI_COMMAND_INTX_DISABLE,
  PCI_COMMAND_IO,
  PCI_COMMAND_MEMORY,
  msiCapLength,
} from '../../pci/msi-device.js';
import { pciSetPowerState } from '../../pci/power.js';
import {
  BASIC_PERMS,
  ERR_PERMS,
  EXP_PERMS,
  PCI_CAP_LENGTH,
  PCI_EXP_DEVCTL_BCR_FLR,
  PCI_EXT_CAP_LENGTH,
  PCI_PM_CAP_PME_MASK,
  PCI_PM_CTRL_PME_ENABLE,
  PCI_PM_CTRL_PME_STATUS,
  PM_PERMS,
  PWR_PERMS,
  msiPerms,
  type PermBits,
} from './config-perms.js';

const CAP_BASIC = 0;
const CAP_PM = 0x01;
const CAP_MSI = 0x05;
const CAP_VNDR = 0x09;
const CAP_EXP = 0x10;
const ECAP_ERR = 0x01;
const ECAP_PWR = 0x04;
const ECAP_VNDR = 0x0b;
const ECAP_DVSEC = 0x23;
/** PCI_CAP_ID_INVALID: a byte no capability owns. */
const UNOWNED = 0xff;

/**
 * What owns a piece, which decides how it is read and written: the header, a capability with perm bits
 * and its own write function (standard PM, PCIe and MSI; extended AER and power budgeting), one read
 * directly from the device (writes dropped, or raw for vendor-specific ones), or nobody (raw). Kinds,
 * not capability IDs: the standard and extended ID spaces overlap (AER and PM are both 1).
 */
type OwnerKind = 'basic' | 'pm' | 'exp' | 'msi' | 'err' | 'pwr' | 'direct' | 'direct-raw-write' | 'raw';

/** is_bar(): a byte of a BAR or of the expansion ROM BAR. */
function isBar(off: number): boolean {
  return (off >= 0x10 && off < 0x28) || (off >= 0x30 && off < 0x34);
}

export interface VfioPciConfigHooks {
  /** vdev->irq_type is MSI (vfio_msi_config_write keeps the enable bit only then). */
  readonly msiActive?: () => boolean;
  /** vdev->msi_qmax: set when MSI is enabled (fls(nvec * 2 - 1) - 1), 0 before. */
  readonly msiQmax?: () => number;
  /** The user's command write left INTx disable set or clear in vconfig (vdev->virq_disabled follows). */
  readonly intxDisable?: (disabled: boolean) => void;
}

export class VfioPciConfig {
  /** vdev->vconfig */
  readonly vconfig: Uint8Array;
  /** vdev->pci_config_map: the owner of each byte (a capability ID, CAP_BASIC or UNOWNED). */
  private readonly map = new Uint8Array(4096).fill(UNOWNED);
  private readonly msiPerm: PermBits | undefined;
  /** pdev->cfg_size: 4 KiB for PCI Express, 256 bytes for conventional PCI. */
  readonly size: number;
  /** vdev->bardirty: the BARs were written since the last fixup (true at open). */
  private barDirty = true;

  constructor(
    private readonly m: MsiDeviceModel,
    private readonly hooks: VfioPciConfigHooks = {},
  ) {
    this.size = m.layout.pcie ? 4096 : 256;
    this.vconfig = m.config.slice();
    this.map.fill(CAP_BASIC, 0, 64);
    this.msiPerm = this.capInit();
    this.ecapInit();
  }

  /** vfio_cap_init: walk the capability list, size each capability, hide the unknown ones. */
  private capInit(): PermBits | undefined {
    let msi: PermBits | undefined;
    if ((this.m.cfgRead(0x06, 2) & 0x10) === 0) return undefined;
    let pos = this.m.cfgRead(0x34, 1);
    let prev = 0x34;
    let caps = 0;
    for (let loops = (256 - 64) / 4; pos !== 0 && loops > 0; loops--) {
      const cap = this.m.cfgRead(pos, 1);
      const next = this.m.cfgRead(pos + 1, 1);
      let len = cap !== 0 ? (PCI_CAP_LENGTH[cap] ?? 0) : 0;
      if (len === 0xff) len = this.capLen(cap, pos);
      if (len === 0) {
        this.vconfig[prev] = next;
        pos = next;
        continue;
      }
      this.map.fill(cap, pos, Math.min(256, pos + len));
      if (cap === CAP_PM) {
        // vfio_update_pm_vconfig_bytes: the user sees no PME support and no PME state
        const v = new DataView(this.vconfig.buffer);
        v.setUint16(pos + 2, v.getUint16(pos + 2, true) & ~PCI_PM_CAP_PME_MASK, true);
        v.setUint16(
          pos + 4,
          v.getUint16(pos + 4, true) & ~(PCI_PM_CTRL_PME_ENABLE | PCI_PM_CTRL_PME_STATUS),
          true,
        );
      }
      if (cap === CAP_MSI) {
        const flags = this.m.cfgRead(pos + 2, 2);
        msi = msiPerms(len, flags);
        // vfio_msi_cap init (vfio_pci_core_enable leaves MSI off): enable and queue size start cleared
        const v = new DataView(this.vconfig.buffer);
        v.setUint16(pos + 2, flags & ~0x71, true);
        this.vconfig.fill(0, pos + 4, pos + len);
      }
      prev = pos + 1;
      pos = next;
      caps++;
    }
    if (caps === 0) this.vconfig[0x06] = this.vconfig[0x06]! & ~0x10;
    return msi;
  }

  private qmax(): number {
    return this.hooks.msiQmax?.() ?? 0;
  }

  /** vfio_cap_len for the variable-length capabilities. */
  private capLen(cap: number, pos: number): number {
    const m = this.m;
    if (cap === CAP_MSI) return msiCapLength(m.cfgRead(pos + 2, 2));
    if (cap === CAP_VNDR) return m.cfgRead(pos + 2, 1);
    if (cap === CAP_EXP) {
      const flags = m.cfgRead(pos + 2, 2);
      const rcEnd = ((flags >> 4) & 0xf) === 0x9;
      if ((flags & 0xf) === 1) return rcEnd ? 0xc : 0x14;
      return rcEnd ? 0x2c : 0x3c;
    }
    return 0;
  }

  /** vfio_ecap_init: the extended list (an unknown first capability stays as a 4-byte placeholder). */
  private ecapInit(): void {
    if (!this.m.layout.pcie || this.m.cfgRead(0x100, 4) === 0) return;
    let epos = 0x100;
    let prev = -1;
    let ecaps = 0;
    for (let loops = (4096 - 256) / 4; loops > 0 && epos >= 0x100; loops--) {
      const header = this.m.cfgRead(epos, 4);
      const ecap = header & 0xffff;
      const next = (header >>> 20) & 0xffc;
      let len = PCI_EXT_CAP_LENGTH[ecap] ?? 0;
      let hidden = false;
      if (len === 0) {
        if (prev >= 0) {
          const v = new DataView(this.vconfig.buffer);
          v.setUint32(prev, ((v.getUint32(prev, true) & ~(0xffc << 20)) | (next << 20)) >>> 0, true);
          epos = next;
          continue;
        }
        len = 4;
        hidden = true;
      }
      this.map.fill(ecap, epos, Math.min(4096, epos + len));
      if (hidden) {
        const v = new DataView(this.vconfig.buffer);
        v.setUint32(epos, (v.getUint32(epos, true) & (0xffc << 20)) >>> 0, true);
      } else ecaps++;
      prev = epos;
      epos = next;
    }
    if (ecaps === 0) new DataView(this.vconfig.buffer).setUint32(0x100, 0, true);
  }

  /** The owner of the byte at pos: its kind, its perm bits when it has some, where it starts. */
  private owner(pos: number): { kind: OwnerKind; perm?: PermBits; start: number } {
    const cap = this.map[pos]!;
    if (cap === UNOWNED) return { kind: 'raw', start: pos };
    if (pos < 64) return { kind: 'basic', perm: BASIC_PERMS, start: 0 };
    let start = pos;
    const base = pos >= 256 ? 256 : 64;
    while (start - 1 >= base && this.map[start - 1] === cap) start--;
    if (pos >= 256) {
      if (cap === ECAP_ERR) return { kind: 'err', perm: ERR_PERMS, start };
      if (cap === ECAP_PWR) return { kind: 'pwr', perm: PWR_PERMS, start };
      return { kind: cap === ECAP_VNDR || cap === ECAP_DVSEC ? 'direct-raw-write' : 'direct', start };
    }
    if (cap === CAP_PM) return { kind: 'pm', perm: PM_PERMS, start };
    if (cap === CAP_EXP) return { kind: 'exp', perm: EXP_PERMS, start };
    if (cap === CAP_MSI && this.msiPerm) return { kind: 'msi', perm: this.msiPerm, start };
    return { kind: cap === CAP_VNDR ? 'direct-raw-write' : 'direct', start };
  }

  /** vfio_config_do_rw's piece: at most a dword, aligned, inside one owner. */
  private pieceLen(pos: number, count: number): 1 | 2 | 4 {
    let same = 1;
    while ((pos + same) % 4 !== 0 && this.map[pos + same] === this.map[pos]) same++;
    const n = Math.min(count, same);
    return n >= 4 && pos % 4 === 0 ? 4 : n >= 2 && pos % 2 === 0 ? 2 : 1;
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

  /** __vfio_pci_memory_enabled: the virtual command decodes memory and the function is above D3hot. */
  memoryEnabled(): boolean {
    return this.m.powerState < 3 && (this.vconfig[PCI_COMMAND]! & PCI_COMMAND_MEMORY) !== 0;
  }

  read(pos: number, buf: Uint8Array): number {
    const total = Math.min(buf.length, this.size - pos);
    for (let done = 0; done < total;) {
      const at = pos + done;
      const n = this.pieceLen(at, total - done);
      const o = this.owner(at);
      if (o.kind === 'basic' && this.barDirty && isBar(at)) this.barFixup();
      if (o.kind === 'msi' && at - o.start <= 2 && at - o.start + n >= 2) {
        // vfio_msi_config_read means to show msi_qmax in the flags' Multiple Message Capable field but
        // addresses the capability's first word (vfio_find_cap_start without + PCI_MSI_FLAGS): it
        // rewrites bits 1-3 of the ID byte in vconfig, which reads come from the device for, so the
        // user sees the flags as written (conformance: r_msi_flags_ones reads 0x8e, not 0x80)
        this.vconfig[o.start] = (this.vconfig[o.start]! & ~0x0e) | (this.qmax() << 1);
      }
      for (let i = 0; i < n; i++) {
        const b = at + i;
        const off = b - o.start;
        let virt = 0;
        if (o.perm) virt = o.perm.virt[off] ?? 0;
        else if (o.kind !== 'raw') {
          // vfio_direct_config_read: a capability's ID and next pointer, an extended one's header, from vconfig
          virt = (b < 256 ? off < 2 : off < 4) ? 0xff : 0;
        }
        buf[done + i] = (this.m.config[b]! & ~virt) | (this.vconfig[b]! & virt);
      }
      done += n;
    }
    return total;
  }

  write(pos: number, buf: Uint8Array): number {
    const total = Math.min(buf.length, this.size - pos);
    for (let done = 0; done < total;) {
      const at = pos + done;
      const n = this.pieceLen(at, total - done);
      const o = this.owner(at);
      let val = 0;
      for (let i = n - 1; i >= 0; i--) val = val * 256 + buf[done + i]!;
      if (o.kind === 'raw' || o.kind === 'direct-raw-write') this.m.busWrite(at, n, val);
      else if (o.perm) this.permWrite(o.kind, o.start, at, n, val, o.perm);
      done += n;
    }
    return total;
  }

  /** vfio_default_config_write, then the owner's own write function. */
  private permWrite(
    kind: OwnerKind,
    start: number,
    at: number,
    n: 1 | 2 | 4,
    val: number,
    perm: PermBits,
  ): void {
    const offset = at - start;
    let hwMask = 0;
    let hwVal = 0;
    for (let i = 0; i < n; i++) {
      const b = at + i;
      const w = perm.write[offset + i] ?? 0;
      const v = perm.virt[offset + i] ?? 0;
      const byte = (val >>> (8 * i)) & 0xff;
      this.vconfig[b] = (this.vconfig[b]! & ~(w & v)) | (byte & w & v);
      hwMask += (w & ~v & 0xff) * 256 ** i;
      hwVal += (byte & w & ~v) * 256 ** i;
    }
    if (hwMask !== 0) {
      // read, merge the writable bits, write the piece back
      const phys = this.m.cfgRead(at, n);
      this.m.busWrite(at, n, (phys & ~hwMask) + hwVal);
    }
    if (kind === 'basic') {
      if (offset === PCI_COMMAND) {
        // vfio_basic_config_write keeps the memory/IO enables the user wrote in vconfig
        const mask = PCI_COMMAND_MEMORY | PCI_COMMAND_IO;
        this.vconfig[PCI_COMMAND] = (this.vconfig[PCI_COMMAND]! & ~mask) | (val & mask);
      }
      // "Emulate INTx disable": a write starting in the command register (not a dword write at 0)
      if (offset === PCI_COMMAND || offset === PCI_COMMAND + 1)
        this.hooks.intxDisable?.((this.vconfig[PCI_COMMAND + 1]! & (PCI_COMMAND_INTX_DISABLE >> 8)) !== 0);
      if (isBar(offset)) this.barDirty = true;
    } else if (kind === 'pm' && offset === 4) {
      // vfio_pm_config_write: the state field becomes a power transition (D1/D2 fail on a function
      // without them, which vfio ignores)
      pciSetPowerState(this.m, val & 3);
    } else if (kind === 'exp') {
      // vfio_exp_config_write: FLR always reads 0 (the model's functions have no FLR: DEVCAP bit 28),
      // a new read request size is set on the device (invisible: the field is virtual)
      const ctrl = start + 8; // PCI_EXP_DEVCTL
      this.vconfig[ctrl + 1] = this.vconfig[ctrl + 1]! & ~(PCI_EXP_DEVCTL_BCR_FLR >> 8);
    } else if (kind === 'msi' && offset <= 2 && offset + n >= 2) {
      // vfio_msi_config_write: enable only while MSI is the interrupt type, queue size at most what the
      // device offers; the flags go to the device too
      const f = start + 2;
      let flags = this.vconfig[f]! | (this.vconfig[f + 1]! << 8);
      if (!(this.hooks.msiActive?.() ?? false)) flags &= ~1;
      if (((flags >> 4) & 7) > this.qmax()) flags = (flags & ~0x70) | (this.qmax() << 4);
      this.vconfig[f] = flags & 0xff;
      this.vconfig[f + 1] = flags >> 8;
      this.m.busWrite(f, 2, flags);
    }
  }
}
