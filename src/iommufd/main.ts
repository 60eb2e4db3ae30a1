/**
 * One open /dev/iommu (struct iommufd_ctx, drivers/iommu/iommufd/main.c, 6.12): its objects by id and
 * the ioctl dispatch with the uAPI's size rules. The IOAS commands live in ./ioas.ts, devices and their
 * page tables in ./device.ts.
 *
 * Modelled: DESTROY, IOAS_ALLOC, IOAS_ALLOW_IOVAS, IOAS_COPY, IOAS_IOVA_RANGES, IOAS_MAP, IOAS_UNMAP, OPTION,
 * HWPT_ALLOC (paging HWPTs; no modelled IOMMU nests or tracks dirty pages), GET_HW_INFO, VFIO_IOAS and
 * the VFIO type1 container commands on the compat IOAS (./vfio-compat.ts).
 * Not modelled (answered -ENOTTY, listed in docs/iommufd.md): dirty tracking, HWPT_INVALIDATE,
 * FAULT_QUEUE_ALLOC.
 */
import { ERRNO } from '../base/errno.js';
import type { IommuCore, IommuDomain, IommuGroup } from '../iommu/api.js';
import type { TaskCreds } from '../kernel/task.js';
import type { AddressSpace } from '../mm/address-space.js';
import {
  IOMMUFD_CMD_BASE,
  IOMMUFD_CMD_END,
  IOMMUFD_OP_SIZES,
  IOMMU_DESTROY,
  IOMMU_GET_HW_INFO,
  IOMMU_HWPT_ALLOC,
  IOMMU_IOAS_ALLOC,
  IOMMU_IOAS_ALLOW_IOVAS,
  IOMMU_IOAS_COPY,
  IOMMU_IOAS_IOVA_RANGES,
  IOMMU_IOAS_MAP,
  IOMMU_IOAS_UNMAP,
  IOMMU_OPTION,
  IOMMU_VFIO_IOAS,
} from '../uapi/iommufd.js';
import {
  VFIO_CHECK_EXTENSION,
  VFIO_GET_API_VERSION,
  VFIO_IOMMU_GET_INFO,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_UNMAP_DMA,
  VFIO_SET_IOMMU,
  getU32,
} from '../uapi/vfio-type1.js';
import { type HwptPaging, type IommufdDevice, getHwInfo, hwptAlloc } from './device.js';
import {
  IoasObject,
  ioasAlloc,
  ioasAllowIovas,
  ioasCopy,
  ioasIovaRanges,
  ioasMap,
  ioasUnmap,
  optionIoctl,
} from './ioas.js';
import { type PageAccounting, MmLockedVm, UserLockedVm } from './pages.js';
import {
  compatCheckExtension,
  compatGetInfo,
  compatMapDma,
  compatSetIommu,
  compatUnmapDma,
  vfioIoasIoctl,
} from './vfio-compat.js';

/** The iommufd module parameter and the build facts the model follows. */
export interface IommufdParams {
  /** iommufd.allow_unsafe_interrupts (independent of vfio_iommu_type1's). */
  allowUnsafeInterrupts: boolean;
}

export interface IommufdEnv {
  readonly core: IommuCore;
  readonly mm: AddressSpace;
  readonly task: TaskCreds;
  /** The user's locked_vm (shared by every iommufd of the process's user). */
  readonly user: UserLockedVm;
  readonly params: IommufdParams;
  /** HPAGE_SIZE when the kernel has CONFIG_TRANSPARENT_HUGEPAGE (distribution kernels), else PAGE_SIZE. */
  readonly autoIovaMaxAlign: bigint;
  /** iommu_get_msi_cookie for a domain whose device has a software MSI window (ARM). */
  readonly getMsiCookie?: (domain: IommuDomain, base: bigint) => number;
}

export type IommufdObject = IoasObject | HwptPaging | IommufdDevice;

export class IommufdCtx {
  private readonly objects = new Map<number, IommufdObject>();
  /** Ids taken by objects still being created (XA_ZERO_ENTRY): skipped by allocId, invisible to lookups. */
  private readonly reservedIds = new Set<number>();
  /** IOMMU_OPTION_RLIMIT_MODE: per-process (mm) accounting instead of per user. */
  accountMm = false;
  /** This context's charges to mm->locked_vm (MM mode). */
  readonly mmCharge = new MmLockedVm();
  /** ictx->vfio_ioas: the IOAS the VFIO container ioctls on this file work on (IOMMU_VFIO_IOAS). */
  vfioIoas: IoasObject | undefined;
  /** Kernel-side struct buffers by size (the handlers use them within one ioctl). */
  private readonly kbufs: (Uint8Array | undefined)[] = [];

  constructor(readonly env: IommufdEnv) {
    env.mm.addLocker(this.mmCharge);
  }

  // ------------------------------------------------------------------ objects

  /** xa_alloc with XA_FLAGS_ALLOC1: the lowest free id from 1. */
  allocId(): number {
    let id = 1;
    while (this.objects.has(id) || this.reservedIds.has(id)) id++;
    return id;
  }

  /** Holds an id for an object under construction. */
  reserveId(id: number): void {
    this.reservedIds.add(id);
  }

  publish<T extends IommufdObject>(o: T): T {
    this.reservedIds.delete(o.id);
    this.objects.set(o.id, o);
    return o;
  }

  remove(id: number): void {
    this.reservedIds.delete(id);
    this.objects.delete(id);
  }

  /** Objects and held ids (IOMMU_OPTION_RLIMIT_MODE needs none). */
  get objectCount(): number {
    return this.objects.size + this.reservedIds.size;
  }

  /** Some device of `group` is bound to this context (it holds the group's DMA ownership). */
  ownsGroup(group: IommuGroup): boolean {
    for (const o of this.objects.values()) if (o.kind === 'device' && o.group === group) return true;
    return false;
  }

  /** The MSI-only cookie for a domain with a software MSI window (iommufd_sw_msi setup). */
  msiCookie(domain: IommuDomain, base: bigint): void {
    this.env.getMsiCookie?.(domain, base);
  }

  /** iommufd_get_object: the object of that id and kind, or undefined (-ENOENT). */
  get<K extends IommufdObject['kind']>(id: number, kind: K): Extract<IommufdObject, { kind: K }> | undefined {
    const o = this.objects.get(id);
    return o?.kind === kind ? (o as Extract<IommufdObject, { kind: K }>) : undefined;
  }

  any(id: number): IommufdObject | undefined {
    return this.objects.get(id);
  }

  /** Who pays for pages mapped now (iopt_alloc_pages, then the context's RLIMIT_MODE). */
  pageAccounting(): PageAccounting {
    const { task, mm, user } = this.env;
    const mode = task.capIpcLock ? 'none' : this.accountMm ? 'mm' : 'user';
    return { mode, mm, task, user, mmCharge: this.mmCharge };
  }

  // ------------------------------------------------------------------ ioctl

  /** iommufd_fops_ioctl on the user's bytes (`arg` a number for the VFIO compat integer commands). */
  ioctl(cmd: number, arg: Uint8Array | number | undefined): number {
    const nr = cmd & 0xff;
    if (nr < IOMMUFD_CMD_BASE || nr >= IOMMUFD_CMD_END) return this.vfioCompat(cmd, arg);
    // get_user of the size word comes before the command is matched
    if (!(arg instanceof Uint8Array) || arg.length < 4) return -ERRNO.EFAULT;
    if (cmd !== (0x3b00 | nr)) return -ERRNO.ENOTTY;
    const op = IOMMUFD_OP_SIZES[nr]!;
    const userSize = getU32(arg, 0);
    if (userSize < op.min) return -ERRNO.EINVAL;
    // copy_struct_from_user: a larger struct's tail must be zero; the kernel copy is op.size bytes
    if (userSize > arg.length) return -ERRNO.EFAULT;
    for (let i = op.size; i < userSize; i++) if (arg[i] !== 0) return -ERRNO.E2BIG;
    // the kernel's copy of the struct (op.size bytes, zero past what the user gave), reused per size
    let k = this.kbufs[op.size];
    if (k === undefined) this.kbufs[op.size] = k = new Uint8Array(op.size);
    const n = userSize < op.size ? userSize : op.size;
    for (let i = 0; i < n; i++) k[i] = arg[i]!;
    k.fill(0, n);
    const kk = k;
    const respond = (): number => {
      for (let i = 0; i < n; i++) arg[i] = kk[i]!;
      return 0;
    };
    switch (cmd) {
      case IOMMU_DESTROY:
        return this.destroy(getU32(k, 4));
      case IOMMU_IOAS_ALLOC:
        return ioasAlloc(this, k, respond);
      case IOMMU_IOAS_ALLOW_IOVAS:
        return ioasAllowIovas(this, k);
      case IOMMU_IOAS_IOVA_RANGES:
        return ioasIovaRanges(this, k, respond);
      case IOMMU_IOAS_MAP:
        return ioasMap(this, k, respond);
      case IOMMU_IOAS_COPY:
        return ioasCopy(this, k, respond);
      case IOMMU_IOAS_UNMAP:
        return ioasUnmap(this, k, respond);
      case IOMMU_HWPT_ALLOC:
        return hwptAlloc(this, k, respond);
      case IOMMU_GET_HW_INFO:
        return getHwInfo(this, k, respond);
      case IOMMU_VFIO_IOAS:
        return vfioIoasIoctl(this, k, respond);
      case IOMMU_OPTION: {
        const rc = optionIoctl(this, k);
        // only val64 goes back (a copy_to_user of that field)
        if (rc === 0 && userSize >= 24) arg.set(k.subarray(16, 24), 16);
        return rc;
      }
      default:
        return -ERRNO.ENOTTY;
    }
  }

  /** IOMMU_DESTROY (iommufd_object_remove): -ENOENT for no object, -EBUSY while it has other users. */
  private destroy(id: number): number {
    const o = this.objects.get(id);
    if (!o) return -ERRNO.ENOENT;
    switch (o.kind) {
      case 'ioas':
        if (o.hwpts.length > 0) return -ERRNO.EBUSY;
        o.iopt.unmapAll();
        break;
      case 'device':
        // the driver holds the bound device until its file is closed
        return -ERRNO.EBUSY;
      case 'hwpt-paging':
        if (o.devices.size > 0 || o.auto) return -ERRNO.EBUSY;
        o.destroy();
        break;
    }
    this.objects.delete(id);
    if (this.vfioIoas === o) this.vfioIoas = undefined;
    return 0;
  }

  /** iommufd_vfio_ioctl: the legacy container commands on /dev/iommu, against the compat IOAS (./vfio-compat.ts). */
  private vfioCompat(cmd: number, arg: Uint8Array | number | undefined): number {
    const n = typeof arg === 'number' ? arg : -1;
    switch (cmd) {
      case VFIO_GET_API_VERSION:
        return 0;
      case VFIO_CHECK_EXTENSION:
        return compatCheckExtension(this, n);
      case VFIO_SET_IOMMU:
        return compatSetIommu(this, n);
      case VFIO_IOMMU_GET_INFO:
        return arg instanceof Uint8Array ? compatGetInfo(this, arg) : -ERRNO.EFAULT;
      case VFIO_IOMMU_MAP_DMA:
        return arg instanceof Uint8Array ? compatMapDma(this, arg) : -ERRNO.EFAULT;
      case VFIO_IOMMU_UNMAP_DMA:
        return arg instanceof Uint8Array ? compatUnmapDma(this, arg) : -ERRNO.EFAULT;
      default:
        return -ERRNO.ENOTTY;
    }
  }

  /** Open files holding the context: its own fd and every device bound to it (iommufd_ctx_get). */
  refs = 1;

  /** Drops one reference; the last one destroys every object (iommufd_fops_release). */
  put(): void {
    if (--this.refs === 0) this.release();
  }

  private release(): void {
    // iommufd_fops_release: the HWPTs (no device is attached any more: devices hold the context), then
    // the IOASes with their mappings
    for (const o of [...this.objects.values()]) if (o.kind === 'hwpt-paging') o.destroy();
    for (const o of [...this.objects.values()]) if (o.kind === 'ioas') o.iopt.unmapAll();
    this.objects.clear();
    this.env.mm.removeLocker(this.mmCharge);
  }
}
