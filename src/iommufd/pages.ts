/**
 * The user memory behind IOAS areas (struct iopt_pages, drivers/iommu/iommufd/pages.c, 6.12): one per
 * IOMMU_IOAS_MAP, shared by the areas IOMMU_IOAS_COPY makes from it. Pages are pinned
 * (pin_user_pages with FOLL_LONGTERM, FOLL_WRITE for a writeable map) while some area using them sits in
 * an IOAS that has a domain, once however many such areas there are, and charged once per pinned page
 * (pfn_reader_update_pinned -> do_update_pinned):
 *  - NONE: the mapping task had CAP_IPC_LOCK;
 *  - USER (default): the user's locked_vm (user_struct, shared by all of the user's processes), not
 *    mm->locked_vm, against RLIMIT_MEMLOCK >> PAGE_SHIFT of the task (incr_user_locked_vm);
 *  - MM (IOMMU_OPTION_RLIMIT_MODE = 1): mm->locked_vm, like VFIO type1 and mlock (__account_locked_vm).
 * Over the limit is -ENOMEM and nothing new stays pinned; a page the process does not have, or a
 * writeable map of read-only memory, is -EFAULT.
 */
import { ERRNO } from '../base/errno.js';
import type { AddressSpace, LockedVmSource } from '../mm/address-space.js';
import type { TaskCreds } from '../kernel/task.js';

/** user_struct->locked_vm of the process's user, in pages. */
export class UserLockedVm {
  pages = 0;
}

/** An iommufd context's charges to its mm (mm->locked_vm), as one of the address space's lockers. */
export class MmLockedVm implements LockedVmSource {
  lockedFrames = 0;
}

export type AccountMode = 'none' | 'user' | 'mm';

/** Who pays for the pins, decided at IOAS_MAP (iopt_alloc_pages). */
export interface PageAccounting {
  readonly mode: AccountMode;
  readonly mm: AddressSpace;
  readonly task: TaskCreds;
  readonly user: UserLockedVm;
  readonly mmCharge: MmLockedVm;
}

type Span = readonly [number, number];

/** Pages in the union of inclusive index spans. */
function unionSize(spans: Iterable<Span>): number {
  const s = [...spans].sort((a, b) => a[0] - b[0]);
  let n = 0;
  let hi = -1;
  for (const [a, b] of s) {
    if (b <= hi) continue;
    n += b - Math.max(a, hi + 1) + 1;
    hi = b;
  }
  return n;
}

/** The parts of [first, last] that no span covers. */
function uncovered(spans: Iterable<Span>, first: number, last: number): Span[] {
  const s = [...spans].sort((a, b) => a[0] - b[0]);
  const out: Span[] = [];
  let cur = first;
  for (const [a, b] of s) {
    if (b < cur) continue;
    if (a > last) break;
    if (a > cur) out.push([cur, a - 1]);
    cur = Math.max(cur, b + 1);
    if (cur > last) return out;
  }
  if (cur <= last) out.push([cur, last]);
  return out;
}

export class IoptPages {
  /** ALIGN_DOWN(user address, PAGE_SIZE): page 0 of these pages. */
  readonly base: bigint;
  readonly npages: number;
  /** Who holds which pages pinned (areas in an IOAS with a domain), by page index. */
  private readonly holders = new Map<object, Span>();
  /** Pages pinned and charged: the union of the holders' spans. */
  private pinned = 0;

  constructor(
    uva: bigint,
    length: bigint,
    readonly writable: boolean,
    readonly accounting: PageAccounting,
  ) {
    this.base = uva & ~0xfffn;
    this.npages = Number((((uva & 0xfffn) + length - 1n) >> 12n) + 1n);
  }

  /** The first user frame (4 KiB) of the pages. */
  get firstFrame(): number {
    return Number(this.base >> 12n);
  }

  /**
   * `owner` needs pages [first, last] pinned: pins the ones not pinned yet and charges them. 0, -EFAULT
   * or -ENOMEM (then nothing changes).
   */
  acquire(owner: object, first: number, last: number): number {
    const acct = this.accounting;
    const fresh = uncovered(this.holders.values(), first, last);
    let add = 0;
    for (const [a, b] of fresh) {
      // pfn_reader_user_pin: one page it cannot pin fails the whole area
      if (acct.mm.pinnable(this.firstFrame + a, b - a + 1, this.writable) < b - a + 1) return -ERRNO.EFAULT;
      add += b - a + 1;
    }
    if (add > 0 && acct.mode !== 'none') {
      const limit = acct.task.memlockPages(4096);
      const cur = acct.mode === 'user' ? acct.user.pages : acct.mm.lockedVmBytes / 4096;
      if (cur + add > limit) return -ERRNO.ENOMEM;
      if (acct.mode === 'user') acct.user.pages += add;
      else acct.mmCharge.lockedFrames += add;
    }
    this.holders.set(owner, [first, last]);
    this.pinned += add;
    return 0;
  }

  /** `owner` no longer needs its pages: the ones nobody else holds are unpinned and uncharged. */
  release(owner: object): void {
    if (!this.holders.delete(owner)) return;
    const left = unionSize(this.holders.values());
    const gone = this.pinned - left;
    this.pinned = left;
    const acct = this.accounting;
    if (acct.mode === 'user') acct.user.pages -= gone;
    else if (acct.mode === 'mm') acct.mmCharge.lockedFrames -= gone;
  }

  /** Physically contiguous runs [first physical frame, frames] of pages [first, last]. */
  physRuns(first: number, last: number): [number, number][] {
    const runs: [number, number][] = [];
    for (let f = this.firstFrame + first; f <= this.firstFrame + last;) {
      const r = this.accounting.mm.runAt(f, this.firstFrame + last - f + 1)!;
      runs.push([r[0], r[1]]);
      f += r[1];
    }
    return runs;
  }
}
