/**
 * Pinning the user memory behind an IOAS area and charging it (drivers/iommu/iommufd/pages.c, 6.12):
 * pin_user_pages with FOLL_LONGTERM (and FOLL_WRITE for a writeable map) over every page of the area,
 * then one charge for the whole area (pfn_reader_update_pinned -> do_update_pinned):
 *  - NONE: the mapping task had CAP_IPC_LOCK;
 *  - USER (default): the user's locked_vm (user_struct, shared by all of the user's processes), not
 *    mm->locked_vm, against RLIMIT_MEMLOCK >> PAGE_SHIFT of the task (incr_user_locked_vm);
 *  - MM (IOMMU_OPTION_RLIMIT_MODE = 1): mm->locked_vm, like VFIO type1 and mlock (__account_locked_vm).
 * Over the limit is -ENOMEM and nothing stays pinned; a page the process does not have, or a writeable
 * map of read-only memory, is -EFAULT.
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

/** Who pays for one area's pins, decided at IOAS_MAP (iopt_alloc_pages). */
export interface PageAccounting {
  readonly mode: AccountMode;
  readonly mm: AddressSpace;
  readonly task: TaskCreds;
  readonly user: UserLockedVm;
  readonly mmCharge: MmLockedVm;
}

/** Pinned pages: physically contiguous runs [first physical frame, frames], and the frames charged. */
export interface PinnedPages {
  readonly runs: readonly (readonly [number, number])[];
  readonly frames: number;
}

/** What pinUserPages needs of an area. */
export interface PinnableArea {
  readonly start: bigint;
  readonly last: bigint;
  readonly uva: bigint;
  readonly writable: boolean;
  readonly accounting: PageAccounting;
  pinned: PinnedPages | undefined;
}

const PAGE_SHIFT = 12n;

/** Pins and charges every page of the area (not recorded in it): the pages, or -EFAULT / -ENOMEM. */
export function pinUserPages(area: PinnableArea): PinnedPages | number {
  const acct = area.accounting;
  const length = area.last - area.start + 1n;
  const first = Number(area.uva >> PAGE_SHIFT);
  const frames = Number((((area.uva & 0xfffn) + length - 1n) >> PAGE_SHIFT) + 1n);
  // pfn_reader_user_pin: pin_user_pages_fast over the whole area; one bad page fails it
  if (acct.mm.pinnable(first, frames, area.writable) < frames) return -ERRNO.EFAULT;
  const runs: [number, number][] = [];
  for (let f = first; f < first + frames;) {
    const r = acct.mm.runAt(f, first + frames - f)!;
    runs.push([r[0], r[1]]);
    f += r[1];
  }
  if (acct.mode !== 'none') {
    const limit = acct.task.memlockPages(4096);
    const cur = acct.mode === 'user' ? acct.user.pages : acct.mm.lockedVmBytes / 4096;
    if (cur + frames > limit) return -ERRNO.ENOMEM;
    if (acct.mode === 'user') acct.user.pages += frames;
    else acct.mmCharge.lockedFrames += frames;
  }
  return { runs, frames };
}

/** Unpins an area's pages and gives their charge back. */
export function unpinUserPages(area: PinnableArea): void {
  const p = area.pinned;
  if (!p) return;
  const acct = area.accounting;
  if (acct.mode === 'user') acct.user.pages -= p.frames;
  else if (acct.mode === 'mm') acct.mmCharge.lockedFrames -= p.frames;
  area.pinned = undefined;
}
