/**
 * The calling process as the kernel's limit and permission checks see it, for what VFIO charges a user
 * for pinned memory: the RLIMIT_MEMLOCK pair (task->signal->rlim) and CAP_IPC_LOCK in the effective
 * capability set (capable()). mm->locked_vm itself lives with the address space (src/mm).
 *
 * Defaults are those of a root process on the kernels modelled: every capability, and init's memlock
 * limit MLOCK_LIMIT, 8 MiB soft and hard (include/uapi/linux/resource.h, since 5.16), inherited by
 * everything. A libvirt or kubevirt QEMU runs without CAP_IPC_LOCK under a limit raised to the guest's
 * RAM (plus some), which is where a too-small limit turns into VFIO_MAP_DMA's -ENOMEM.
 */
import { ERRNO } from '../base/errno.js';
import { U64_MAX } from '../base/u64.js';

/** RLIM_INFINITY: ~0UL. */
export const RLIM_INFINITY = U64_MAX;
/** MLOCK_LIMIT: 8 MiB. */
export const MLOCK_LIMIT = 8n << 20n;

export interface RlimitPair {
  /** Soft limit (rlim_cur), bytes. */
  readonly cur: bigint;
  /** Hard limit (rlim_max), bytes. */
  readonly max: bigint;
}

export class TaskCreds {
  /** RLIMIT_MEMLOCK. */
  memlock: RlimitPair = { cur: MLOCK_LIMIT, max: MLOCK_LIMIT };
  /** CAP_IPC_LOCK in the effective set: pinned pages are counted but never refused. */
  capIpcLock = true;
  /** CAP_SYS_RESOURCE in the effective set: the hard limit may be raised. */
  capSysResource = true;

  /**
   * setrlimit(RLIMIT_MEMLOCK) (do_prlimit): a soft limit above the hard one is -EINVAL; raising the
   * hard limit needs CAP_SYS_RESOURCE (-EPERM). Nothing changes on an error.
   */
  setMemlock(cur: bigint, max: bigint): number {
    if (cur > max) return -ERRNO.EINVAL;
    if (max > this.memlock.max && !this.capSysResource) return -ERRNO.EPERM;
    this.memlock = { cur, max };
    return 0;
  }

  /** rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT: the soft limit in pages of `pageBytes` (vfio_pin_map_dma). */
  memlockPages(pageBytes: number): number {
    const p = this.memlock.cur / BigInt(pageBytes);
    return p > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(p);
  }
}
