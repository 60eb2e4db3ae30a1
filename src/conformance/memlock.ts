/**
 * The locked-memory scenario (`common/memlock.iovx` in 4 KiB pages, `<machine>/memlock-pages.iovx` in a
 * larger page size): what VFIO_IOMMU_MAP_DMA charges to mm->locked_vm (VmLck) and when RLIMIT_MEMLOCK
 * refuses it with -ENOMEM, as a QEMU without CAP_IPC_LOCK meets it (libvirt, kubevirt). It pins down:
 * every pinned page is charged, the same pages mapped twice twice (vfio_pin_pages_remote counts per
 * mapping), a read-only pin of never-written memory (the shared zero page: uncharged on 6.1, a page of
 * its own on 6.12), the limit in whole pages (rlimit >> PAGE_SHIFT), CAP_IPC_LOCK bypassing it while
 * still charging, ENOMEM before a bad address (EFAULT) only when the limit trips first, and unmaps,
 * UNMAP_ALL and closing giving the charge back.
 */

import { attachNic, detachNic, scenarioWriter } from './attach.js';
import type { CompiledWriter } from './compiled.js';

/** The executor's read-only buffer is 1 MiB, its read-write buffer 64 MiB (EXEC_MEMORY). */
const RW_END = 0x4000000n;

/** The scenario's step writers, counted in pages of `P` bytes (case names `m.<op>_<name>`). */
function stepWriters(w: CompiledWriter, P: bigint) {
  return {
    pages: (n: number): bigint => BigInt(n) * P,
    buf: (off: bigint): string => `buf+0x${off.toString(16)}`,
    ro: (off: bigint): string => `ro+0x${off.toString(16)}`,
    vmlck: (n: string) => w.op('vmlck', `m.vmlck_${n}`),
    map: (n: string, iova: bigint, size: bigint, vaddr: string, flags = 3) =>
      w.op('map', `m.map_${n}`, { iova, size, vaddr, ...(flags === 3 ? {} : { flags }) }),
    unmap: (n: string, iova: bigint, size: bigint) => w.op('unmap', `m.unmap_${n}`, { iova, size }),
    limit: (n: string, value: bigint | 'inf') =>
      w.op('rlimit_memlock', `m.limit_${n}`, { value: value === 'inf' ? 'inf' : value }),
    cap: (n: string, on: number) => w.op('cap_ipc_lock', `m.cap_${n}`, { value: on }),
    lock: (n: string, vaddr: string, size: bigint) => w.op('mlock', `m.mlock_${n}`, { vaddr, size }),
    unlock: (n: string, vaddr: string, size: bigint) => w.op('munlock', `m.munlock_${n}`, { vaddr, size }),
  };
}

type Steps = ReturnType<typeof stepWriters>;

const MB = 0x100000n;

/** The scenario for a kernel whose page size is `page` bytes; sizes are counted in pages. */
export function memlockScenario(page = 0x1000n): string {
  const w = scenarioWriter('memlock');
  const st = stepWriters(w, page);
  const { pages, buf, ro, vmlck, map, unmap, limit, cap } = st;
  const P = page;
  attachNic(w, 'm.');

  // As root (CAP_IPC_LOCK): charged, never refused.
  vmlck('start');
  map('rw', MB, pages(16), buf(0n));
  vmlck('rw');
  map('ro', 2n * MB, pages(16), ro(0n), 1);
  vmlck('ro');
  map('rw_again', 3n * MB, pages(16), buf(0n));
  vmlck('again');
  unmap('again', 3n * MB, pages(16));
  vmlck('unmapped');
  // 64 pages without CAP_IPC_LOCK.
  limit('64_pages', pages(64));
  cap('drop', 0);
  map('to_limit', 4n * MB, pages(32), buf(MB));
  vmlck('to_limit');
  map('one_over', 5n * MB, pages(1), buf(2n * MB));
  map('ro_at_limit', 5n * MB + 16n * P, pages(1), ro(pages(16)), 1);
  vmlck('over');
  unmap('ro', 2n * MB, pages(16));
  vmlck('ro_gone');
  map('ro_refill', 6n * MB, pages(17), ro(pages(32)), 1);
  vmlck('ro_refill');
  unmap('to_limit', 4n * MB, pages(32));
  vmlck('freed');
  // A bad address: at the first page (EFAULT before anything is charged), then after two good ones.
  map('fault_first', 7n * MB, pages(2), buf(RW_END));
  map('fault_after', 7n * MB, pages(4), buf(RW_END - pages(2)));
  vmlck('after_fault');
  // 17 pages and a bit: the limit counts whole pages.
  limit('17_pages_and_a_bit', pages(18) - 1n);
  map('tight_one', 8n * MB, pages(1), buf(3n * MB));
  map('tight_two', 8n * MB + P, pages(2), buf(3n * MB + P));
  // The limit trips before a bad address: ENOMEM, not EFAULT.
  map('limit_before_fault', 9n * MB, pages(24), buf(RW_END - pages(20)));
  vmlck('tight');
  // CAP_IPC_LOCK back: 1 MiB past the limit, still charged; without it again, nothing more fits.
  cap('raise', 1);
  map('with_cap', 10n * MB, MB, buf(4n * MB));
  vmlck('with_cap');
  cap('drop_again', 0);
  map('above_limit', 11n * MB, pages(1), buf(5n * MB));
  limit('0', 0n);
  map('limit_0', 11n * MB, pages(1), buf(5n * MB));
  limit('inf', 'inf');
  map('limit_inf', 11n * MB, pages(1), buf(5n * MB));
  vmlck('inf');
  w.op('unmap', 'm.unmap_all', { iova: 0, size: 0, flags: 2 });
  vmlck('end');
  // What is still mapped when the container goes is given back too.
  map('left', 12n * MB, pages(8), buf(6n * MB));
  vmlck('left');
  // Invalidating and updating the vaddr (live update) moves no charge: the pages stay pinned.
  w.op('unmap', 'm.unmap_vaddr', { iova: 12n * MB, size: pages(8), flags: 4 });
  vmlck('vaddr_invalid');
  map('new_vaddr', 12n * MB, pages(8), buf(7n * MB), 4);
  vmlck('new_vaddr');
  mlockSteps(st);
  detachNic(w, 'm.');
  vmlck('closed');
  cap('root_again', 1);
  limit('default', 0x800000n);
  return w.text();
}

/**
 * The process's own mlock() counts in the same mm->locked_vm (QEMU's -overcommit mem-lock=on): a page
 * once however often it is locked, again when VFIO pins it; mlock's own limit check discounts pages
 * already locked; a range that runs out of the buffer is changed up to the hole; a zero limit without
 * CAP_IPC_LOCK makes mlock EPERM (can_do_mlock).
 */
function mlockSteps(st: Steps): void {
  const { pages, buf, vmlck, map, unmap, limit, cap, lock, unlock } = st;
  const P = pages(1);
  const L = 8n * MB;
  // 8 pages are mapped ("left") here, without CAP_IPC_LOCK and without a limit.
  lock('16', buf(L), pages(16));
  vmlck('mlock_16');
  lock('same', buf(L), pages(16));
  vmlck('mlock_same');
  lock('overlap', buf(L + pages(8)), pages(16));
  vmlck('mlock_overlap');
  map('mlocked', 13n * MB, pages(16), buf(L));
  vmlck('mlocked_mapped');
  // 48 pages are charged now: 4 more fit
  limit('52_pages', pages(52));
  lock('over', buf(L + pages(32)), pages(8));
  lock('relock', buf(L), pages(24));
  lock('some_new', buf(L + pages(20)), pages(8));
  vmlck('mlock_limit');
  map('over_mlock', 14n * MB, pages(1), buf(L + pages(40)));
  unlock('all', buf(L), pages(28));
  vmlck('munlocked');
  cap('raise_mlock', 1);
  lock('past_end', buf(RW_END - pages(2)), pages(4));
  vmlck('past_end');
  unlock('past_end', buf(RW_END - pages(2)), pages(4));
  vmlck('past_end_unlocked');
  lock('unmapped', buf(RW_END), pages(1));
  // a range reaching 2^64 wraps: EINVAL before any region is looked at
  lock('top', `abs+0x${((1n << 64n) - P).toString(16)}`, P);
  lock('top_len_0', `abs+0x${((1n << 64n) - P).toString(16)}`, 0n);
  lock('unaligned', buf(L + 0x800n), 0x1000n);
  vmlck('unaligned');
  unlock('unaligned', buf(L + 0x800n), 0x1000n);
  lock('ro', 'ro+0x0', pages(4));
  vmlck('mlock_ro');
  unlock('ro', 'ro+0x0', pages(4));
  limit('0_mlock', 0n);
  cap('drop_for_eperm', 0);
  lock('limit_0', buf(L), pages(1));
  lock('len_0', buf(L), 0n);
  unlock('limit_0', buf(L), pages(1));
  cap('root_mlock', 1);
  limit('inf_mlock', 'inf');
  lock('len_0_root', buf(L), 0n);
  unmap('mlocked', 13n * MB, pages(16));
  vmlck('mlock_done');
}
