/**
 * The vfio-pci device file (drivers/vfio/pci/vfio_pci_core.c): what VFIO_GROUP_GET_DEVICE_FD returns.
 * The container/group code (src/vfio/) creates it; the device ioctls (GET_INFO, GET_REGION_INFO,
 * GET_IRQ_INFO, SET_IRQS, RESET, FEATURE in feature.ts, GET_PCI_HOT_RESET_INFO and PCI_HOT_RESET in
 * hot-reset.ts, IOEVENTFD in ioeventfd.ts), config-space and BAR access through the fd, and the MSI/MSI-X state
 * live here and in this folder (intrs.ts, config.ts, eventfd.ts).
 */
import type { Device, IommuCore } from '../../iommu/api.js';
import type { KernelProfile } from '../../kernel/profile.js';
import { ERRNO } from '../../base/errno.js';
import { type MsiFabric, msiFabricOf } from '../../irq/fabric.js';
import type { PciMsiCore } from '../../pci/msi-core.js';
import {
  type MsiDeviceModel,
  PCI_COMMAND_INTX_DISABLE,
  PCI_COMMAND_IO,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_STATUS,
  PCI_STATUS_INTERRUPT,
} from '../../pci/msi-device.js';
import type { IntxLine } from '../../irq/intx.js';
import {
  VFIO_DEVICE_FLAGS_PCI,
  VFIO_DEVICE_FLAGS_RESET,
  VFIO_DEVICE_GET_INFO,
  VFIO_DEVICE_GET_IRQ_INFO,
  VFIO_DEVICE_GET_PCI_HOT_RESET_INFO,
  VFIO_DEVICE_IOEVENTFD,
  VFIO_DEVICE_PCI_HOT_RESET,
  VFIO_DEVICE_FEATURE,
  VFIO_DEVICE_GET_REGION_INFO,
  VFIO_DEVICE_INFO_CAPSZ,
  VFIO_DEVICE_INFO_MINSZ,
  VFIO_DEVICE_INFO_SIZE,
  VFIO_DEVICE_RESET,
  VFIO_DEVICE_SET_IRQS,
  VFIO_INFO_CAP_HEADER_SIZE,
  VFIO_IRQ_INFO_SIZE,
  VFIO_PCI_CONFIG_REGION_INDEX,
  VFIO_PCI_MSI_IRQ_INDEX,
  VFIO_PCI_NUM_IRQS,
  VFIO_PCI_NUM_REGIONS,
  VFIO_PCI_OFFSET_SHIFT,
  VFIO_PCI_ROM_REGION_INDEX,
  VFIO_PCI_VGA_REGION_INDEX,
  VFIO_REGION_INFO_CAP_MSIX_MAPPABLE,
  VFIO_REGION_INFO_FLAG_CAPS,
  VFIO_REGION_INFO_FLAG_MMAP,
  VFIO_REGION_INFO_FLAG_READ,
  VFIO_REGION_INFO_FLAG_WRITE,
  VFIO_REGION_INFO_SIZE,
  fits,
  rdU32,
  vfioPciIndexToOffset,
  wrU16,
  wrU32,
  wrU64,
} from '../../uapi/vfio-device.js';
import { VfioPciConfig } from './config.js';
import { pciSetPowerState } from '../../pci/power.js';
import { type ResetMethod, pciResetFunction, probeResetMethod } from '../../pci/reset.js';
import { FdTable } from './eventfd.js';
import { type IntxHost, VfioPciIrqs } from './intrs.js';
import { deviceFeature } from './feature.js';
import { type GroupFdAnswer, type HotResetContext, getPciHotResetInfo, pciHotReset } from './hot-reset.js';
import { VfioPciIoeventfds } from './ioeventfd.js';

export interface VfioDeviceFile {
  readonly bdf: string;
  /** ioctl on the device fd: >= 0 or -errno; `arg` is the user buffer, read and written in place. */
  ioctl(cmd: number, arg: Uint8Array): number;
  /** pread(2) at a region offset (`index << 40`): bytes read, or -errno. */
  pread(offset: bigint, buf: Uint8Array): number;
  /** pwrite(2) at a region offset: bytes written, or -errno. */
  pwrite(offset: bigint, buf: Uint8Array): number;
  close(): void;
}

/** The driver a device must be bound to for VFIO to expose it. */
export const VFIO_PCI_DRIVER = 'vfio-pci';

export interface VfioPciContext {
  readonly core: IommuCore;
  readonly device: Device;
  readonly profile: KernelProfile;
  /** The platform's MSI fabric; found through the core (attachMsiFabric) when absent. */
  readonly fabric?: MsiFabric;
  /** The opening process's descriptors (eventfds); a per-core default table when absent. */
  readonly fds?: FdTable;
  /** What a descriptor of the process is, for the hot-reset group list; every fd 'closed' when absent. */
  readonly groupOfFd?: (fd: number) => GroupFdAnswer;
}

const DEFAULT_FDS = new WeakMap<IommuCore, FdTable>();

/** The descriptor table used when a caller does not bring its own (one per IOMMU core). */
export function defaultFdTable(core: IommuCore): FdTable {
  let t = DEFAULT_FDS.get(core);
  if (t === undefined) {
    t = new FdTable();
    DEFAULT_FDS.set(core, t);
  }
  return t;
}

const OPEN = new WeakMap<PciMsiCore, VfioPciDevice>();

/** The open vfio-pci device of a function, if any (for scenario steps and the web view). */
export function openVfioDeviceOf(pci: PciMsiCore): VfioPciDevice | undefined {
  return OPEN.get(pci);
}

const POWER_NAMES = ['D0', 'D1', 'D2', 'D3hot'];

/**
 * /sys/bus/pci/devices/BDF/power_state (pci_power_name of the function's current state). A function
 * bound to vfio-pci and not opened is runtime-suspended (vfio_pci_core_register_device and the close
 * path call pm_runtime_put, unless vfio-pci's disable_idle_d3, not modelled), which puts a function with
 * a PM capability in D3hot; an open device file holds it awake (pm_runtime_resume_and_get), in D0 or in
 * the state the user wrote to PMCSR. undefined for a function without a model.
 */
export function pciPowerStateName(core: IommuCore, bdf: string): string | undefined {
  const pci = msiFabricOf(core)?.pci(bdf);
  if (pci === undefined) return undefined;
  const m = pci.model;
  const idle =
    core.device(bdf)?.driver === VFIO_PCI_DRIVER && !OPEN.has(pci) && m.layout.caps.pm !== undefined;
  return idle ? 'D3hot' : POWER_NAMES[m.powerState];
}

/** Opens the vfio-pci device file for a device bound to vfio-pci. */
export function openVfioPciDevice(ctx: VfioPciContext): VfioDeviceFile {
  return new VfioPciDevice(ctx);
}

export class VfioPciDevice implements VfioDeviceFile {
  readonly bdf: string;
  readonly fds: FdTable;
  readonly pci: PciMsiCore | undefined;
  readonly irqs: VfioPciIrqs;
  readonly config: VfioPciConfig | undefined;
  /** vdev->reset_works, as the method pci_probe_reset_function found at open. */
  private readonly resetMethod: ResetMethod | undefined;
  readonly ioeventfds: VfioPciIoeventfds;
  private closed = false;
  /** The command register as pci_save_state kept it at open. */
  private savedCommand = 0;
  /** The low-power features' view of the device (vdev->pm_runtime_engaged; the close clears it). */
  private readonly featureDevice = {
    lowPower: false,
    isEventfd: (fd: number): number => {
      const e = this.fds.eventfdCtxFdget(fd);
      return typeof e === 'number' ? e : 0;
    },
  };

  constructor(private readonly ctx: VfioPciContext) {
    this.bdf = ctx.device.bdf;
    this.fds = ctx.fds ?? defaultFdTable(ctx.core);
    const fabric = ctx.fabric ?? msiFabricOf(ctx.core);
    this.pci = fabric?.pci(this.bdf);
    const pci = this.pci;
    const dynMsix = pci?.controller?.dynamicMsix(ctx.profile) ?? false;
    const intxHost = pci && intxHostOf(pci.model, fabric?.intx(this.bdf));
    this.irqs = new VfioPciIrqs(
      this.bdf,
      ctx.profile,
      this.fds,
      pci,
      () => {
        const m = pci?.model;
        return {
          intxPin: m?.cfgRead(0x3d, 1) ?? 0,
          msiCtrl: m?.layout.caps.msi !== undefined ? m.msiCtrl : undefined,
          msixCtrl: m?.layout.caps.msix !== undefined ? m.msixCtrl : undefined,
          pcie: m?.layout.pcie ?? false,
          dynMsix,
        };
      },
      intxHost,
    );
    if (pci !== undefined) {
      // vfio_pci_core_enable: pci_enable_device (decode for the BARs it has), bus mastering off; a
      // function that masks INTx with INTx disable starts with it clear.
      const m = pci.model;
      let cmd = m.command & ~PCI_COMMAND_MASTER;
      for (const b of m.layout.bars) cmd |= b.kind === 'io' ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY;
      m.command = cmd;
      // pci_save_state: what the close puts back (only the command register is modelled)
      this.savedCommand = cmd;
      if (intxHost?.pci23) m.command = cmd & ~PCI_COMMAND_INTX_DISABLE;
      pciSetPowerState(m, 0); // vfio_pci_set_power_state(vdev, PCI_D0)
      this.resetMethod = probeResetMethod(m, ctx.core.topology.get(this.bdf));
      this.config = new VfioPciConfig(m, {
        msiActive: () => this.irqs.irqType === VFIO_PCI_MSI_IRQ_INDEX,
        msiQmax: () => this.irqs.msiQmax,
        intxDisable: (disabled) => this.irqs.virtIntxDisable(disabled),
      });
      OPEN.set(pci, this);
    }
    const msix = pci?.model.layout.msix;
    this.ioeventfds = new VfioPciIoeventfds(
      {
        barLength: (bar) => this.pci?.model.layout.bars.find((b) => b.index === bar)?.size ?? 0n,
        // vdev->msix_size: the whole vector table
        msix: msix && { bar: msix.tableBar, offset: msix.tableOffset, size: msix.tableSize * 16 },
        write: (bar, pos, size, data) => this.ioeventfdWrite(bar, pos, size, data),
      },
      this.fds,
    );
  }

  ioctl(cmd: number, arg: Uint8Array): number {
    if (this.closed) return -ERRNO.EBADF;
    switch (cmd) {
      case VFIO_DEVICE_GET_INFO:
        return this.getInfo(arg);
      case VFIO_DEVICE_GET_REGION_INFO:
        return this.getRegionInfo(arg);
      case VFIO_DEVICE_GET_IRQ_INFO:
        return this.getIrqInfo(arg);
      case VFIO_DEVICE_SET_IRQS:
        return this.irqs.setIrqs(arg);
      case VFIO_DEVICE_RESET:
        return this.reset();
      case VFIO_DEVICE_GET_PCI_HOT_RESET_INFO:
        return getPciHotResetInfo(this.hotResetContext(), arg);
      case VFIO_DEVICE_PCI_HOT_RESET:
        return pciHotReset(this.hotResetContext(), arg);
      case VFIO_DEVICE_IOEVENTFD:
        return this.ioeventfds.ioctl(arg);
      case VFIO_DEVICE_FEATURE:
        return deviceFeature(arg, this.featureDevice);
      default:
        return -ERRNO.ENOTTY;
    }
  }

  /**
   * vfio_pci_ioctl_reset: EINVAL unless a reset method was found at open (vdev->reset_works); the
   * function goes back to D0 first (vfio_pci_set_power_state), then pci_try_reset_function, which
   * saves and restores MSI/MSI-X state around the reset.
   */
  private reset(): number {
    const m = this.pci?.model;
    if (m === undefined || this.resetMethod === undefined) return -ERRNO.EINVAL;
    pciSetPowerState(m, 0);
    pciResetFunction(m, this.resetMethod);
    return 0;
  }

  private hotResetContext(): HotResetContext {
    return {
      core: this.ctx.core,
      profile: this.ctx.profile,
      bdf: this.bdf,
      groupOfFd: this.ctx.groupOfFd ?? (() => 'closed' as const),
      isVfioPci: (bdf: string) => this.ctx.core.device(bdf)?.driver === VFIO_PCI_DRIVER,
    };
  }

  /**
   * vfio_pci_ioeventfd_do_write through vfio_pci_iowriteN: a memory BAR is written only while the
   * command register decodes memory (the write is dropped otherwise); 8 bytes go as two dwords.
   */
  private ioeventfdWrite(bar: number, pos: number, size: number, data: bigint): void {
    const m = this.pci?.model;
    if (m === undefined) return;
    const b = m.layout.bars.find((x) => x.index === bar);
    if (b === undefined || (b.kind !== 'io' && !this.config!.memoryEnabled())) return;
    if (size === 8) {
      m.barWrite(bar, pos, 4, Number(data & 0xffffffffn));
      m.barWrite(bar, pos + 4, 4, Number((data >> 32n) & 0xffffffffn));
    } else {
      m.barWrite(bar, pos, size, Number(data & ((1n << BigInt(8 * size)) - 1n)));
    }
  }

  /** vfio_pci_ioctl_get_info */
  private getInfo(arg: Uint8Array): number {
    if (!fits(arg, 0, VFIO_DEVICE_INFO_MINSZ)) return -ERRNO.EFAULT;
    const argsz = rdU32(arg, 0);
    if (argsz < VFIO_DEVICE_INFO_MINSZ) return -ERRNO.EINVAL;
    let copy = VFIO_DEVICE_INFO_MINSZ;
    if (this.ctx.profile.deviceInfoCopiesWholeStruct) copy = Math.min(argsz, VFIO_DEVICE_INFO_SIZE);
    else if (argsz >= VFIO_DEVICE_INFO_CAPSZ) copy = VFIO_DEVICE_INFO_CAPSZ;
    if (!fits(arg, 0, copy)) return -ERRNO.EFAULT;
    const out = new Uint8Array(VFIO_DEVICE_INFO_SIZE);
    wrU32(out, 0, argsz);
    wrU32(out, 4, VFIO_DEVICE_FLAGS_PCI | (this.resetMethod !== undefined ? VFIO_DEVICE_FLAGS_RESET : 0));
    wrU32(out, 8, VFIO_PCI_NUM_REGIONS);
    wrU32(out, 12, VFIO_PCI_NUM_IRQS);
    arg.set(out.subarray(0, copy), 0);
    return 0;
  }

  /** vfio_pci_ioctl_get_region_info (+ the generic capability placement). */
  private getRegionInfo(arg: Uint8Array): number {
    if (!fits(arg, 0, VFIO_REGION_INFO_SIZE)) return -ERRNO.EFAULT;
    let argsz = rdU32(arg, 0);
    const index = rdU32(arg, 8);
    if (argsz < VFIO_REGION_INFO_SIZE) return -ERRNO.EINVAL;
    let flags = 0;
    let size = 0n;
    let capOffset = 0;
    const caps: Uint8Array[] = [];
    const m = this.pci?.model;
    if (index === VFIO_PCI_CONFIG_REGION_INDEX) {
      size = BigInt(this.config?.size ?? 4096); // pdev->cfg_size
      flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
    } else if (index <= 5) {
      const bar = m?.layout.bars.find((b) => b.index === index);
      size = bar?.size ?? 0n;
      if (bar !== undefined && size > 0n) {
        flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
        // bar_mmap_supported: memory BARs (page-aligned); I/O BARs are never mmapable.
        if (bar.kind !== 'io') {
          flags |= VFIO_REGION_INFO_FLAG_MMAP;
          if (m?.layout.msix?.tableBar === index) {
            const cap = new Uint8Array(VFIO_INFO_CAP_HEADER_SIZE);
            wrU16(cap, 0, VFIO_REGION_INFO_CAP_MSIX_MAPPABLE);
            wrU16(cap, 2, 1);
            caps.push(cap);
          }
        }
      }
    } else if (index === VFIO_PCI_ROM_REGION_INDEX) {
      size = 0n;
    } else if (index === VFIO_PCI_VGA_REGION_INDEX) {
      return -ERRNO.EINVAL; // !has_vga
    } else {
      return -ERRNO.EINVAL; // no device-specific regions
    }
    if (caps.length > 0) {
      flags |= VFIO_REGION_INFO_FLAG_CAPS;
      const capsSize = caps.reduce((n, c) => n + c.length, 0);
      if (argsz < VFIO_REGION_INFO_SIZE + capsSize) {
        argsz = VFIO_REGION_INFO_SIZE + capsSize;
        capOffset = 0;
      } else {
        if (!fits(arg, VFIO_REGION_INFO_SIZE, capsSize)) return -ERRNO.EFAULT;
        // vfio_info_cap_shift: next offsets relative to the start of the info struct.
        let off = VFIO_REGION_INFO_SIZE;
        caps.forEach((c, i) => {
          const next = i + 1 < caps.length ? off + c.length : 0;
          wrU32(c, 4, next);
          arg.set(c, off);
          off += c.length;
        });
        capOffset = VFIO_REGION_INFO_SIZE;
      }
    }
    wrU32(arg, 0, argsz);
    wrU32(arg, 4, flags);
    wrU32(arg, 8, index);
    wrU32(arg, 12, capOffset);
    wrU64(arg, 16, size);
    wrU64(arg, 24, vfioPciIndexToOffset(index));
    return 0;
  }

  /** vfio_pci_ioctl_get_irq_info */
  private getIrqInfo(arg: Uint8Array): number {
    if (!fits(arg, 0, VFIO_IRQ_INFO_SIZE)) return -ERRNO.EFAULT;
    const argsz = rdU32(arg, 0);
    const index = rdU32(arg, 8);
    if (argsz < VFIO_IRQ_INFO_SIZE || index >= VFIO_PCI_NUM_IRQS) return -ERRNO.EINVAL;
    const flags = this.irqs.irqInfoFlags(index);
    if (flags < 0) return flags;
    wrU32(arg, 4, flags);
    wrU32(arg, 12, this.irqs.irqCount(index));
    return 0;
  }

  private region(offset: bigint): { index: number; pos: number } | undefined {
    if (offset < 0n) return undefined;
    const index = Number(offset >> VFIO_PCI_OFFSET_SHIFT);
    const pos = Number(offset & ((1n << VFIO_PCI_OFFSET_SHIFT) - 1n));
    return { index, pos };
  }

  pread(offset: bigint, buf: Uint8Array): number {
    return this.rw(offset, buf, false);
  }

  pwrite(offset: bigint, buf: Uint8Array): number {
    return this.rw(offset, buf, true);
  }

  /** vfio_pci_rw: config space through the virtualisation layer, BARs through vfio_pci_bar_rw. */
  private rw(offset: bigint, buf: Uint8Array, write: boolean): number {
    if (this.closed) return -ERRNO.EBADF;
    const r = this.region(offset);
    const m = this.pci?.model;
    if (r === undefined || m === undefined) return -ERRNO.EINVAL;
    if (r.index === VFIO_PCI_CONFIG_REGION_INDEX) {
      // vfio_config_do_rw: the whole access inside cfg_size, else EFAULT (no short read)
      if (r.pos + buf.length > this.config!.size) return -ERRNO.EFAULT;
      return write ? this.config!.write(r.pos, buf) : this.config!.read(r.pos, buf);
    }
    if (r.index > 5) return -ERRNO.EINVAL;
    const bar = m.layout.bars.find((b) => b.index === r.index);
    if (bar === undefined || BigInt(r.pos) >= bar.size) return -ERRNO.EINVAL;
    // vfio_pci_core_do_io_rw(test_mem): memory BARs only while memory decoding is on and above D3hot
    if (bar.kind !== 'io' && !this.config!.memoryEnabled()) return -ERRNO.EIO;
    const count = Math.min(buf.length, Number(bar.size - BigInt(r.pos)));
    const x = m.layout.msix;
    for (let done = 0; done < count;) {
      const pos = r.pos + done;
      const chunk = count - done >= 4 && pos % 4 === 0 ? 4 : 1;
      const inTable =
        x !== undefined &&
        x.tableBar === r.index &&
        pos >= x.tableOffset &&
        pos < x.tableOffset + x.tableSize * 16;
      if (write) {
        // Writes to the MSI-X table are dropped: the kernel owns the vector table.
        if (!inTable) m.barWrite(r.index, pos, chunk, readChunk(buf, done, chunk));
      } else {
        // Reads of the MSI-X table return all-ones.
        const v = inTable ? 0xffffffff : (m.barRead(r.index, pos, chunk) ?? 0xffffffff);
        writeChunk(buf, done, chunk, v);
      }
      done += chunk;
    }
    return count;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.irqs.releaseAll();
    this.ioeventfds.releaseAll();
    if (this.pci !== undefined) {
      OPEN.delete(this.pci);
      // vfio_pci_core_disable: command = INTx disable, then the state saved at open is restored
      this.pci.model.command = PCI_COMMAND_INTX_DISABLE;
      this.pci.model.command = this.savedCommand;
    }
  }
}

/**
 * The function's INTx for vfio-pci: its host line, and the PCI 2.3 command/status bits
 * (drivers/pci/pci.c pci_intx, pci_check_and_set_intx_mask). pci_2_3 is what pci_intx_mask_supported
 * finds: INTx disable takes a write on the function.
 */
function intxHostOf(m: MsiDeviceModel, line: IntxLine | undefined): IntxHost {
  const setDisable = (disable: boolean): void => {
    const cmd = m.command;
    const next = disable ? cmd | PCI_COMMAND_INTX_DISABLE : cmd & ~PCI_COMMAND_INTX_DISABLE;
    if (next !== cmd) m.busWrite(0x04, 2, next);
  };
  // pci_intx_mask_supported: flip the bit, see whether it stuck, put it back
  const was = m.command;
  m.busWrite(0x04, 2, was ^ PCI_COMMAND_INTX_DISABLE);
  const pci23 = ((m.command ^ was) & PCI_COMMAND_INTX_DISABLE) !== 0;
  m.busWrite(0x04, 2, was);
  return {
    line,
    pci23,
    setEnabled: (enable) => setDisable(!enable),
    checkAndSet(mask) {
      const pending = (m.cfgRead(PCI_STATUS, 2) & PCI_STATUS_INTERRUPT) !== 0;
      if (mask !== pending) return false;
      setDisable(mask);
      return true;
    },
  };
}

function readChunk(b: Uint8Array, off: number, n: number): number {
  let v = 0;
  for (let i = n - 1; i >= 0; i--) v = v * 256 + (b[off + i] ?? 0);
  return v >>> 0;
}

function writeChunk(b: Uint8Array, off: number, n: number, v: number): void {
  let x = v >>> 0;
  for (let i = 0; i < n; i++) {
    b[off + i] = x & 0xff;
    x = Math.floor(x / 256);
  }
}
