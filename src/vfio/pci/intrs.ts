/**
 * vfio-pci interrupt state and VFIO_DEVICE_SET_IRQS (drivers/vfio/pci/vfio_pci_intrs.c, the set_irqs and
 * get_irq_info parts of vfio_pci_core.c, vfio_set_irqs_validate_and_prepare of vfio_main.c).
 *
 * Versions: <= 6.4 kept MSI contexts in a fixed array of num_ctx (profile.vfioSparseIrqCtx false, the
 * 6.1 oracle); 6.5+ use a sparse xarray and can grow MSI-X on demand when the irq domain supports it.
 */
import type { KernelProfile } from '../../kernel/profile.js';
import { ERRNO } from '../../base/errno.js';
import type { PciMsiCore } from '../../pci/msi-core.js';
import {
  VFIO_IRQ_INFO_AUTOMASKED,
  VFIO_IRQ_INFO_EVENTFD,
  VFIO_IRQ_INFO_MASKABLE,
  VFIO_IRQ_INFO_NORESIZE,
  VFIO_IRQ_SET_ACTION_MASK,
  VFIO_IRQ_SET_ACTION_TRIGGER,
  VFIO_IRQ_SET_ACTION_TYPE_MASK,
  VFIO_IRQ_SET_ACTION_UNMASK,
  VFIO_IRQ_SET_DATA_BOOL,
  VFIO_IRQ_SET_DATA_EVENTFD,
  VFIO_IRQ_SET_DATA_NONE,
  VFIO_IRQ_SET_DATA_TYPE_MASK,
  VFIO_IRQ_SET_SIZE,
  VFIO_PCI_ERR_IRQ_INDEX,
  VFIO_PCI_INTX_IRQ_INDEX,
  VFIO_PCI_MSIX_IRQ_INDEX,
  VFIO_PCI_MSI_IRQ_INDEX,
  VFIO_PCI_NUM_IRQS,
  VFIO_PCI_REQ_IRQ_INDEX,
} from '../../uapi/vfio-device.js';
import type { IntxLine } from '../../irq/intx.js';
import type { EventFd, FdTable } from './eventfd.js';

const U32_MAX = 0xffff_ffff;
/** Rounds of the unmask virqfd's re-send work the model runs back to back (see virqfdInject). */
const INJECT_LIMIT = 1000;

/** The parsed, validated SET_IRQS request handed to the per-index handlers. */
export interface SetIrqsRequest {
  readonly flags: number;
  readonly index: number;
  readonly start: number;
  readonly count: number;
  /** DATA_BOOL bytes or DATA_EVENTFD fds (s32). */
  readonly bools: Uint8Array;
  readonly fds: Int32Array;
}

/** What the device offers, read from its (real) config space. */
export interface IrqCapabilities {
  readonly intxPin: number;
  readonly msiCtrl: number | undefined;
  readonly msixCtrl: number | undefined;
  readonly pcie: boolean;
  /** vdev->has_dyn_msix */
  readonly dynMsix: boolean;
}

/** The function's INTx as vfio-pci drives it: its host line and the PCI 2.3 INTx disable/status bits. */
export interface IntxHost {
  /** pdev->irq; undefined when the function has no routed INTx (-ENODEV on enable). */
  readonly line: IntxLine | undefined;
  /** vdev->pci_2_3: INTx can be masked with the command register (pci_intx_mask_supported). */
  readonly pci23: boolean;
  /** pci_intx(pdev, enable): clears or sets INTx disable. */
  setEnabled(enable: boolean): void;
  /**
   * pci_check_and_mask_intx (mask) / pci_check_and_unmask_intx: sets or clears INTx disable only when
   * the status register's interrupt bit says so (pending to mask, not pending to unmask); true if done.
   */
  checkAndSet(mask: boolean): boolean;
}

interface Ctx {
  trigger: EventFd;
  readonly name: string;
}

export class VfioPciIrqs {
  /** vdev->irq_type: an index, or VFIO_PCI_NUM_IRQS for none. */
  irqType = VFIO_PCI_NUM_IRQS;
  /** <= 6.4: vdev->num_ctx. */
  numCtx = 0;
  /** MSI: the qmax virtual config-space field computed at enable. */
  msiQmax = 0;
  private readonly ctx = new Map<number, Ctx>();
  /** The INTx context while INTx is the type: trigger, mask state, the unmask virqfd's removal. */
  private intx:
    { trigger: EventFd | undefined; masked: boolean; unmask: (() => void) | undefined } | undefined;
  /** vdev->virq_disabled: the user set INTx disable in the (virtual) command register. */
  virqDisabled = false;
  /** The unmask virqfd's inject work: running, and asked for again meanwhile. */
  private injecting = false;
  private injectQueued = false;
  errTrigger: EventFd | undefined;
  reqTrigger: EventFd | undefined;

  constructor(
    private readonly bdf: string,
    private readonly profile: KernelProfile,
    private readonly fds: FdTable,
    private readonly pci: PciMsiCore | undefined,
    private readonly caps: () => IrqCapabilities,
    private readonly intxHost?: IntxHost,
  ) {}

  /** Whether INTx is enabled and currently masked (for traces and tests). */
  get intxMasked(): boolean | undefined {
    return this.intx?.masked;
  }

  /** The eventfd currently attached to an MSI/MSI-X vector (for traces and tests). */
  trigger(vector: number): EventFd | undefined {
    return this.ctx.get(vector)?.trigger;
  }

  /** vfio_pci_get_irq_count */
  irqCount(index: number): number {
    const c = this.caps();
    switch (index) {
      case VFIO_PCI_INTX_IRQ_INDEX:
        return c.intxPin !== 0 ? 1 : 0;
      case VFIO_PCI_MSI_IRQ_INDEX:
        return c.msiCtrl === undefined ? 0 : 1 << ((c.msiCtrl & 0x0e) >> 1);
      case VFIO_PCI_MSIX_IRQ_INDEX:
        return c.msixCtrl === undefined ? 0 : (c.msixCtrl & 0x7ff) + 1;
      case VFIO_PCI_ERR_IRQ_INDEX:
        return c.pcie ? 1 : 0;
      case VFIO_PCI_REQ_IRQ_INDEX:
        return 1;
      default:
        return 0;
    }
  }

  /** vfio_pci_ioctl_get_irq_info after the argsz/index checks: flags for a valid index, or -EINVAL. */
  irqInfoFlags(index: number): number {
    if (index >= VFIO_PCI_NUM_IRQS || index < 0) return -ERRNO.EINVAL;
    if (index === VFIO_PCI_ERR_IRQ_INDEX && !this.caps().pcie) return -ERRNO.EINVAL;
    let flags = VFIO_IRQ_INFO_EVENTFD;
    if (index === VFIO_PCI_INTX_IRQ_INDEX) flags |= VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED;
    else if (index !== VFIO_PCI_MSIX_IRQ_INDEX || !this.caps().dynMsix) flags |= VFIO_IRQ_INFO_NORESIZE;
    return flags;
  }

  /**
   * vfio_pci_ioctl_set_irqs on the user buffer: copy the header (-EFAULT), validate, copy the payload,
   * dispatch. Returns 0, a positive vector count (enable could not get them all), or -errno.
   */
  setIrqs(arg: Uint8Array): number {
    if (arg.length < VFIO_IRQ_SET_SIZE) return -ERRNO.EFAULT;
    const dv = new DataView(arg.buffer, arg.byteOffset, arg.byteLength);
    const argsz = dv.getUint32(0, true);
    const flags = dv.getUint32(4, true);
    const index = dv.getUint32(8, true);
    const start = dv.getUint32(12, true);
    const count = dv.getUint32(16, true);
    const max = this.irqCount(index);
    // vfio_set_irqs_validate_and_prepare
    if (
      argsz < VFIO_IRQ_SET_SIZE ||
      index >= VFIO_PCI_NUM_IRQS ||
      count >= U32_MAX - start ||
      (flags & ~(VFIO_IRQ_SET_DATA_TYPE_MASK | VFIO_IRQ_SET_ACTION_TYPE_MASK)) !== 0
    ) {
      return -ERRNO.EINVAL;
    }
    if (start >= max || start + count > max) return -ERRNO.EINVAL;
    let size: number;
    switch (flags & VFIO_IRQ_SET_DATA_TYPE_MASK) {
      case VFIO_IRQ_SET_DATA_NONE:
        size = 0;
        break;
      case VFIO_IRQ_SET_DATA_BOOL:
        size = 1;
        break;
      case VFIO_IRQ_SET_DATA_EVENTFD:
        size = 4;
        break;
      default:
        return -ERRNO.EINVAL;
    }
    const dataSize = count * size;
    if (size !== 0 && argsz - VFIO_IRQ_SET_SIZE < dataSize) return -ERRNO.EINVAL;
    // memdup_user(&arg->data, data_size)
    if (arg.length < VFIO_IRQ_SET_SIZE + dataSize) return -ERRNO.EFAULT;
    const payload = arg.slice(VFIO_IRQ_SET_SIZE, VFIO_IRQ_SET_SIZE + dataSize);
    const req: SetIrqsRequest = {
      flags,
      index,
      start,
      count,
      bools: size === 1 ? payload : new Uint8Array(0),
      fds: size === 4 ? new Int32Array(payload.buffer, payload.byteOffset, count) : new Int32Array(0),
    };
    return this.dispatch(req);
  }

  /** vfio_pci_set_irqs_ioctl: pick the handler by index and action; none -> -ENOTTY. */
  private dispatch(r: SetIrqsRequest): number {
    const action = r.flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;
    switch (r.index) {
      case VFIO_PCI_INTX_IRQ_INDEX:
        if (action === VFIO_IRQ_SET_ACTION_MASK) return this.intxMask(r);
        if (action === VFIO_IRQ_SET_ACTION_UNMASK) return this.intxUnmask(r);
        if (action === VFIO_IRQ_SET_ACTION_TRIGGER) return this.intxTrigger(r);
        return -ERRNO.ENOTTY;
      case VFIO_PCI_MSI_IRQ_INDEX:
      case VFIO_PCI_MSIX_IRQ_INDEX:
        // MASK/UNMASK: "Need masking support exported" -> no handler.
        if (action === VFIO_IRQ_SET_ACTION_TRIGGER) return this.msiTrigger(r);
        return -ERRNO.ENOTTY;
      case VFIO_PCI_ERR_IRQ_INDEX:
        if (action === VFIO_IRQ_SET_ACTION_TRIGGER && this.caps().pcie) return this.singleTrigger(r, 'err');
        return -ERRNO.ENOTTY;
      case VFIO_PCI_REQ_IRQ_INDEX:
        if (action === VFIO_IRQ_SET_ACTION_TRIGGER) return this.singleTrigger(r, 'req');
        return -ERRNO.ENOTTY;
      default:
        return -ERRNO.ENOTTY;
    }
  }

  private get isNone(): boolean {
    return this.irqType === VFIO_PCI_NUM_IRQS;
  }

  /* ---------------- MSI / MSI-X ---------------- */

  /** vfio_pci_set_msi_trigger */
  private msiTrigger(r: SetIrqsRequest): number {
    const msix = r.index === VFIO_PCI_MSIX_IRQ_INDEX;
    if (this.irqType === r.index && r.count === 0 && (r.flags & VFIO_IRQ_SET_DATA_NONE) !== 0) {
      this.msiDisable(msix);
      return 0;
    }
    if (!(this.irqType === r.index || this.isNone)) return -ERRNO.EINVAL;
    if ((r.flags & VFIO_IRQ_SET_DATA_EVENTFD) !== 0) {
      if (this.irqType === r.index) return this.msiSetBlock(r.start, r.count, r.fds, msix);
      // nvec = start + count; 0 reaches pci_alloc_irq_vectors(pdev, 1, 0, ...) and comes back -ERANGE.
      const rc = this.msiEnable(r.start + r.count, msix);
      if (rc !== 0) return rc;
      const ret = this.msiSetBlock(r.start, r.count, r.fds, msix);
      if (ret !== 0) this.msiDisable(msix);
      return ret;
    }
    if (this.irqType !== r.index) return -ERRNO.EINVAL;
    // <= 6.4 also bounded the loopback range by num_ctx (6.12 skips vectors without a context).
    if (!this.profile.triggerUnallocatedIgnored && r.start + r.count > this.numCtx) return -ERRNO.EINVAL;
    for (let i = r.start; i < r.start + r.count; i++) {
      const c = this.ctx.get(i);
      if (c === undefined) continue;
      if ((r.flags & VFIO_IRQ_SET_DATA_NONE) !== 0) c.trigger.signal();
      else if ((r.flags & VFIO_IRQ_SET_DATA_BOOL) !== 0 && r.bools[i - r.start] !== 0) c.trigger.signal();
    }
    return 0;
  }

  /** vfio_msi_enable: allocate `nvec` vectors; fewer obtainable -> that positive number. */
  private msiEnable(nvec: number, msix: boolean): number {
    if (!this.isNone) return -ERRNO.EINVAL;
    if (this.pci === undefined) return -ERRNO.EINVAL;
    const got = this.pci.allocIrqVectors(nvec, msix);
    if (got < nvec) {
      if (got > 0) this.pci.freeIrqVectors();
      return got;
    }
    this.numCtx = nvec;
    this.irqType = msix ? VFIO_PCI_MSIX_IRQ_INDEX : VFIO_PCI_MSI_IRQ_INDEX;
    // fls(nvec * 2 - 1) - 1
    if (!msix) this.msiQmax = (nvec * 2 - 1).toString(2).length - 1;
    return 0;
  }

  /** vfio_msi_alloc_irq: the vector's Linux irq, allocated on demand with dynamic MSI-X. */
  private msiAllocIrq(vector: number, msix: boolean): number {
    const irq = this.pci!.irqVector(vector);
    if (irq > 0 || !msix || !this.caps().dynMsix) return irq;
    return this.pci!.msixAllocIrqAt(vector);
  }

  /** vfio_msi_set_vector_signal */
  private msiSetVectorSignal(vector: number, fd: number, msix: boolean): number {
    const pci = this.pci!;
    if (!this.profile.vfioSparseIrqCtx && vector >= this.numCtx) return -ERRNO.EINVAL;
    let irq = -ERRNO.EINVAL;
    const old = this.ctx.get(vector);
    if (old !== undefined) {
      irq = pci.irqVector(vector);
      pci.freeIrq(vector);
      this.ctx.delete(vector);
    } else if (!this.profile.vfioSparseIrqCtx) {
      irq = pci.irqVector(vector);
    }
    if (fd < 0) return 0;
    if (irq === -ERRNO.EINVAL) {
      irq = this.msiAllocIrq(vector, msix);
      if (irq < 0) return irq;
    }
    const name = `vfio-msi${msix ? 'x' : ''}[${vector}](${this.bdf})`;
    const trigger = this.fds.eventfdCtxFdget(fd);
    if (typeof trigger === 'number') return trigger;
    if (msix) pci.rewriteCached(vector);
    const rc = pci.requestIrq(vector, { name, handler: () => trigger.signal() });
    if (rc !== 0) return rc;
    this.ctx.set(vector, { trigger, name });
    return 0;
  }

  /** vfio_msi_set_block: program start..start+count-1; on error undo the ones done in this call. */
  private msiSetBlock(start: number, count: number, fds: Int32Array, msix: boolean): number {
    if (!this.profile.vfioSparseIrqCtx && (start >= this.numCtx || start + count > this.numCtx))
      return -ERRNO.EINVAL;
    let ret = 0;
    let j = start;
    for (let i = 0; i < count && ret === 0; i++, j++) {
      const fd = fds.length > i ? fds[i]! : -1;
      ret = this.msiSetVectorSignal(j, fd, msix);
    }
    if (ret !== 0) {
      for (let i = start; i < j; i++) this.msiSetVectorSignal(i, -1, msix);
    }
    return ret;
  }

  /** vfio_msi_disable: release every context, free the vectors, back to no IRQ. */
  private msiDisable(msix: boolean): void {
    const vectors = this.profile.vfioSparseIrqCtx
      ? [...this.ctx.keys()].sort((a, b) => a - b)
      : Array.from({ length: this.numCtx }, (_, i) => i);
    for (const v of vectors) this.msiSetVectorSignal(v, -1, msix);
    this.pci?.freeIrqVectors();
    this.ctx.clear();
    this.numCtx = 0;
    this.irqType = VFIO_PCI_NUM_IRQS;
  }

  /* ---------------- INTx ---------------- */

  /** vfio_send_intx_eventfd: only while INTx is the type and the user has not disabled it in config. */
  private sendIntxEventfd(): void {
    if (this.irqType === VFIO_PCI_INTX_IRQ_INDEX && !this.virqDisabled) this.intx?.trigger?.signal();
  }

  /** __vfio_pci_intx_mask */
  private intxMaskNow(): void {
    const h = this.intxHost;
    if (this.irqType !== VFIO_PCI_INTX_IRQ_INDEX || this.intx === undefined) {
      // from config space's INTx disable while INTx is not in use: the physical bit follows
      if (h?.pci23) h.setEnabled(false);
      return;
    }
    if (this.intx.masked) return;
    // always mask, pending or not (not check_and_mask)
    if (h?.pci23) h.setEnabled(false);
    else h?.line?.disable();
    this.intx.masked = true;
  }

  /** vfio_pci_intx_unmask_handler: 1 when an interrupt is still pending (the caller re-sends it). */
  private intxUnmaskHandler(): number {
    const h = this.intxHost;
    if (this.irqType !== VFIO_PCI_INTX_IRQ_INDEX || this.intx === undefined) {
      if (h?.pci23) h.setEnabled(true);
      return 0;
    }
    let ret = 0;
    if (this.intx.masked && !this.virqDisabled) {
      if (h?.pci23) {
        if (!h.checkAndSet(false)) ret = 1;
      } else h?.line?.enable();
      this.intx.masked = ret > 0;
    }
    return ret;
  }

  /** __vfio_pci_intx_unmask */
  private intxUnmaskNow(): void {
    if (this.intxUnmaskHandler() > 0) this.sendIntxEventfd();
  }

  /** vfio_intx_handler, on the function's host line. */
  private intxHandler(): boolean {
    const h = this.intxHost;
    const ctx = this.intx;
    if (h === undefined || ctx === undefined) return false;
    let handled = false;
    if (!h.pci23) {
      h.line?.disable();
      ctx.masked = true;
      handled = true;
    } else if (!ctx.masked && h.checkAndSet(true)) {
      ctx.masked = true;
      handled = true;
    }
    if (handled) this.sendIntxEventfd();
    return handled;
  }

  /**
   * The user wrote the command register's INTx disable bit (vfio_basic_config_write, "Emulate INTx
   * disable"): a change masks or unmasks, whatever the interrupt type.
   */
  virtIntxDisable(disabled: boolean): void {
    if (disabled && !this.virqDisabled) {
      this.virqDisabled = true;
      this.intxMaskNow();
    } else if (!disabled && this.virqDisabled) {
      this.virqDisabled = false;
      this.intxUnmaskNow();
    }
  }

  /** vfio_intx_enable */
  private intxEnable(trigger: EventFd | undefined): number {
    if (!this.isNone) return -ERRNO.EINVAL;
    const h = this.intxHost;
    const line = h?.line;
    if (h === undefined || line === undefined) return -ERRNO.ENODEV;
    const ctx = { trigger, masked: this.virqDisabled, unmask: undefined };
    this.intx = ctx;
    // a function with INTx disable shows the mask there; one without gets an exclusive line, off
    // until unmasked
    if (h.pci23) h.setEnabled(!ctx.masked);
    this.irqType = VFIO_PCI_INTX_IRQ_INDEX;
    this.numCtx = 1;
    const rc = line.request(`vfio-intx(${this.bdf})`, () => this.intxHandler(), !h.pci23 && ctx.masked);
    if (rc !== 0) {
      this.irqType = VFIO_PCI_NUM_IRQS;
      this.numCtx = 0;
      this.intx = undefined;
    }
    return rc;
  }

  /** vfio_intx_disable */
  private intxDisable(): void {
    if (this.intx !== undefined) {
      this.intx.unmask?.();
      this.intxHost?.line?.free();
      this.intx = undefined;
    }
    this.irqType = VFIO_PCI_NUM_IRQS;
    this.numCtx = 0;
  }

  /**
   * schedule_work(&virqfd->inject): the re-send runs after the signal that asked for it, and a request
   * made while one runs queues one more run instead of nesting. With the trigger eventfd also the unmask
   * eventfd and the device still asserting, the kernel's workqueue would go round forever; the model
   * stops after INJECT_LIMIT rounds.
   */
  private virqfdInject(): void {
    if (this.injecting) {
      this.injectQueued = true;
      return;
    }
    this.injecting = true;
    try {
      let rounds = 0;
      do {
        this.injectQueued = false;
        this.sendIntxEventfd();
      } while (this.injectQueued && ++rounds < INJECT_LIMIT);
    } finally {
      this.injecting = false;
      this.injectQueued = false;
    }
  }

  /** vfio_pci_set_intx_mask */
  private intxMask(r: SetIrqsRequest): number {
    if (this.irqType !== VFIO_PCI_INTX_IRQ_INDEX || r.start !== 0 || r.count !== 1) return -ERRNO.EINVAL;
    if ((r.flags & VFIO_IRQ_SET_DATA_NONE) !== 0) this.intxMaskNow();
    else if ((r.flags & VFIO_IRQ_SET_DATA_BOOL) !== 0) {
      if (r.bools[0] !== 0) this.intxMaskNow();
    } else if ((r.flags & VFIO_IRQ_SET_DATA_EVENTFD) !== 0) return -ERRNO.ENOTTY;
    return 0;
  }

  /** vfio_pci_set_intx_unmask */
  private intxUnmask(r: SetIrqsRequest): number {
    if (this.irqType !== VFIO_PCI_INTX_IRQ_INDEX || r.start !== 0 || r.count !== 1) return -ERRNO.EINVAL;
    if ((r.flags & VFIO_IRQ_SET_DATA_NONE) !== 0) this.intxUnmaskNow();
    else if ((r.flags & VFIO_IRQ_SET_DATA_BOOL) !== 0) {
      if (r.bools[0] !== 0) this.intxUnmaskNow();
    } else if ((r.flags & VFIO_IRQ_SET_DATA_EVENTFD) !== 0) {
      const ctx = this.intx!;
      const fd = r.fds[0]!;
      if (fd >= 0) {
        // vfio_virqfd_enable: fdget, eventfd_ctx_fileget, then -EBUSY when one is installed
        const e = this.fds.eventfdCtxFdget(fd);
        if (typeof e === 'number') return e;
        if (ctx.unmask !== undefined) return -ERRNO.EBUSY;
        // each signal: the handler at once, its re-send from the workqueue
        ctx.unmask = e.addWaiter(() => {
          if (this.intxUnmaskHandler() > 0) this.virqfdInject();
        });
        // a count already there is taken as a signal that was missed (and left to be read)
        if (e.count > 0n && this.intxUnmaskHandler() > 0) this.virqfdInject();
        return 0;
      }
      // vfio_virqfd_disable
      ctx.unmask?.();
      ctx.unmask = undefined;
    }
    return 0;
  }

  /** vfio_pci_set_intx_trigger */
  private intxTrigger(r: SetIrqsRequest): number {
    const isIntx = this.irqType === VFIO_PCI_INTX_IRQ_INDEX;
    if (isIntx && r.count === 0 && (r.flags & VFIO_IRQ_SET_DATA_NONE) !== 0) {
      this.intxDisable();
      return 0;
    }
    if (!(isIntx || this.isNone) || r.start !== 0 || r.count !== 1) return -ERRNO.EINVAL;
    if ((r.flags & VFIO_IRQ_SET_DATA_EVENTFD) !== 0) {
      const fd = r.fds[0]!;
      let trigger: EventFd | undefined;
      if (fd >= 0) {
        const e = this.fds.eventfdCtxFdget(fd);
        if (typeof e === 'number') return e;
        trigger = e;
      }
      // vfio_intx_set_signal swaps the trigger of an enabled INTx
      if (isIntx) this.intx!.trigger = trigger;
      else return this.intxEnable(trigger);
      return 0;
    }
    if (!isIntx) return -ERRNO.EINVAL;
    if (
      (r.flags & VFIO_IRQ_SET_DATA_NONE) !== 0 ||
      ((r.flags & VFIO_IRQ_SET_DATA_BOOL) !== 0 && r.bools[0] !== 0)
    )
      this.sendIntxEventfd();
    return 0;
  }

  /* ---------------- ERR / REQ ---------------- */

  /** vfio_pci_set_err_trigger / set_req_trigger -> vfio_pci_set_ctx_trigger_single */
  private singleTrigger(r: SetIrqsRequest, which: 'err' | 'req'): number {
    if (r.start !== 0 || r.count > 1) return -ERRNO.EINVAL;
    const cur = which === 'err' ? this.errTrigger : this.reqTrigger;
    const set = (e: EventFd | undefined): void => {
      if (which === 'err') this.errTrigger = e;
      else this.reqTrigger = e;
    };
    if ((r.flags & VFIO_IRQ_SET_DATA_NONE) !== 0) {
      if (cur !== undefined) {
        if (r.count !== 0) cur.signal();
        else set(undefined);
        return 0;
      }
      return -ERRNO.EINVAL;
    }
    if ((r.flags & VFIO_IRQ_SET_DATA_BOOL) !== 0) {
      if (r.count === 0) return -ERRNO.EINVAL;
      if (r.bools[0] !== 0 && cur !== undefined) cur.signal();
      return 0;
    }
    if ((r.flags & VFIO_IRQ_SET_DATA_EVENTFD) !== 0) {
      if (r.count === 0) return -ERRNO.EINVAL;
      const fd = r.fds[0]!;
      if (fd === -1) set(undefined);
      else if (fd >= 0) {
        const e = this.fds.eventfdCtxFdget(fd);
        if (typeof e === 'number') return e;
        set(e);
      }
      return 0;
    }
    return -ERRNO.EINVAL;
  }

  /** Device close: vfio_pci_core_disable turns every interrupt off. */
  releaseAll(): void {
    if (this.irqType === VFIO_PCI_MSI_IRQ_INDEX || this.irqType === VFIO_PCI_MSIX_IRQ_INDEX) {
      this.msiDisable(this.irqType === VFIO_PCI_MSIX_IRQ_INDEX);
    }
    if (this.irqType === VFIO_PCI_INTX_IRQ_INDEX) this.intxDisable();
    this.irqType = VFIO_PCI_NUM_IRQS;
    this.virqDisabled = false;
    this.errTrigger = undefined;
    this.reqTrigger = undefined;
  }
}
