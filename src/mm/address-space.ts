/**
 * A process address space, simply: non-overlapping regions (like VMAs) with protections, each backed by
 * physically contiguous memory. Enough for VFIO's pinning (vfio_pin_pages_remote -> pin_user_pages):
 * a vaddr the process does not have, or a read-only page pinned for device writes, is -EFAULT.
 * Contents exist where the kernel copies to or from user memory (copy_to_user / copy_from_user, e.g.
 * type1's dirty bitmaps): sparse, per virtual page, zero until written (aliases through an explicit
 * shared `phys` are not followed).
 *
 * Addresses are 4 KiB page frames (JS numbers) in the lookups, bigint at the API.
 */
import { ERRNO } from '../base/errno.js';

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 4096;

export const PROT_READ = 1;
export const PROT_WRITE = 2;

export interface MemRegion {
  readonly name: string;
  /** First byte (page aligned). */
  readonly start: bigint;
  /** Bytes (page multiple). */
  readonly size: bigint;
  readonly prot: number;
  /** Physical address backing `start`. */
  readonly phys: bigint;
}

interface Vma {
  readonly first: number;
  readonly last: number;
  readonly prot: number;
  readonly physFirst: number;
  readonly region: MemRegion;
  /** What a byte the process never wrote reads as (0 for fresh anonymous memory). */
  initial: number;
  /** Every page has been written (memset): none still maps the shared zero page. */
  populated: boolean;
}

/** Something that charges pinned pages to an mm (see AddressSpace.lockedVmBytes). */
export interface LockedVmSource {
  /** 4 KiB frames charged. */
  readonly lockedFrames: number;
}

/** What mlock needs of the task (src/kernel/task.ts TaskCreds has it). */
export interface MlockTask {
  readonly memlock: { readonly cur: bigint };
  readonly capIpcLock: boolean;
}

export class AddressSpace {
  /**
   * Who charges pinned pages to this mm (VFIO type1 backends, vfio_lock_acct): each keeps its own count
   * of 4 KiB frames, so a MAP or UNMAP updates a field of its own and mm->locked_vm is their sum.
   */
  private readonly lockers = new Set<LockedVmSource>();
  /** Frames the process mlock()ed (VM_LOCKED), as sorted disjoint [first, last] runs, and their count. */
  private mlockedRuns: [number, number][] = [];
  private mlockedFrames = 0;
  /** Charges nobody gives back any more (see strand): they stay in locked_vm for the process's life. */
  private strandedFrames = 0;

  /**
   * `frames` charged pages whose owner went away without giving them back (a <= 6.17 VFIO mapping that
   * ends at 2^64-1: vfio_unmap_unpin's `iova < end` loop never runs, as end wrapped to 0).
   */
  strand(frames: number): void {
    this.strandedFrames += frames;
  }
  private vmas: Vma[] = [];

  /**
   * mm->locked_vm in bytes: what VFIO charged for the pages it pinned, checked against RLIMIT_MEMLOCK
   * unless the task has CAP_IPC_LOCK. /proc/self/status shows it as VmLck.
   */
  get lockedVmBytes(): number {
    let frames = this.mlockedFrames + this.strandedFrames;
    for (const l of this.lockers) frames += l.lockedFrames;
    return frames * PAGE_SIZE;
  }

  /**
   * mlock(2) (`lock`) or munlock(2) of [start, start+len) for a task (do_mlock, apply_vma_lock_flags,
   * mlock_fixup), in the kernel's pages of `pageBytes`: the range grows to whole pages; mlock needs a
   * non-zero RLIMIT_MEMLOCK or CAP_IPC_LOCK (-EPERM), and without the capability the pages it adds to
   * the ones already locked must stay within the limit (-ENOMEM). The regions are changed in address
   * order: a range that starts outside every region is -ENOMEM with nothing changed, one that runs into
   * a hole is -ENOMEM after the regions before the hole changed. mm->locked_vm counts locked pages once.
   */
  mlock(start: bigint, len: bigint, lock: boolean, task: MlockTask, pageBytes: number): number {
    const pg = BigInt(pageBytes);
    if (lock && task.memlock.cur === 0n && !task.capIpcLock) return -ERRNO.EPERM;
    const off = start % pg;
    const bytes = ((len + off + pg - 1n) / pg) * pg;
    const first = start - off;
    const end = first + bytes;
    const frames = Number(bytes >> BigInt(PAGE_SHIFT));
    const firstF = Number(first >> BigInt(PAGE_SHIFT));
    if (lock && !task.capIpcLock) {
      const limit = task.memlock.cur / pg;
      const pages = BigInt(frames / (pageBytes / PAGE_SIZE));
      let locked = pages + BigInt(this.lockedVmBytes / pageBytes);
      if (locked > limit) locked -= BigInt(this.mlockedIn(firstF, frames) / (pageBytes / PAGE_SIZE));
      if (locked > limit) return -ERRNO.ENOMEM;
    }
    // apply_vma_lock_flags: `end < start` once start + len wraps (reaching 2^64 exactly wraps to 0)
    if (end >= 1n << 64n) return -ERRNO.EINVAL;
    if (frames === 0) return 0;
    let f = firstF;
    const last = firstF + frames - 1;
    if (this.find(f) < 0) return -ERRNO.ENOMEM;
    while (f <= last) {
      const i = this.find(f);
      if (i < 0) return -ERRNO.ENOMEM;
      const v = this.vmas[i]!;
      const to = Math.min(v.last, last);
      this.setLocked(f, to, lock);
      f = to + 1;
    }
    return 0;
  }

  /** Frames of [first, first+frames) that are mlocked (count_mm_mlocked_page_nr). */
  private mlockedIn(first: number, frames: number): number {
    const last = first + frames - 1;
    let n = 0;
    for (const [a, b] of this.mlockedRuns) {
      const lo = Math.max(a, first);
      const hi = Math.min(b, last);
      if (lo <= hi) n += hi - lo + 1;
    }
    return n;
  }

  /** Frames [first, last] become locked (or unlocked); mlockedFrames follows. */
  private setLocked(first: number, last: number, lock: boolean): void {
    const kept: [number, number][] = [];
    for (const [a, b] of this.mlockedRuns) {
      if (b < first || a > last) kept.push([a, b]);
      else {
        if (a < first) kept.push([a, first - 1]);
        if (b > last) kept.push([last + 1, b]);
      }
    }
    if (lock) kept.push([first, last]);
    kept.sort((x, y) => x[0] - y[0]);
    this.mlockedRuns = kept;
    let n = 0;
    for (const [a, b] of kept) n += b - a + 1;
    this.mlockedFrames = n;
  }

  addLocker(l: LockedVmSource): void {
    this.lockers.add(l);
  }

  removeLocker(l: LockedVmSource): void {
    this.lockers.delete(l);
  }
  private nextPhys = 0x1_0000_0000n;
  /** Page contents written so far, by virtual frame (a page never written reads as zeros). */
  private readonly contents = new Map<number, Uint8Array>();

  get regions(): readonly MemRegion[] {
    return this.vmas.map((v) => v.region);
  }

  region(name: string): MemRegion | undefined {
    return this.vmas.find((v) => v.region.name === name)?.region;
  }

  /** mmap: adds a region; returns it, or an error message (overlap, misalignment). */
  map(name: string, start: bigint, size: bigint, prot: number, phys?: bigint): MemRegion | string {
    if (size <= 0n || size % BigInt(PAGE_SIZE) !== 0n)
      return `size must be a positive multiple of ${PAGE_SIZE}`;
    if (start % BigInt(PAGE_SIZE) !== 0n) return 'start must be page aligned';
    if (start + size - 1n >= 1n << 64n) return 'region passes 2^64';
    const first = Number(start >> BigInt(PAGE_SHIFT));
    const last = first + Number(size >> BigInt(PAGE_SHIFT)) - 1;
    for (const v of this.vmas) {
      if (first <= v.last && v.first <= last) return `overlaps region "${v.region.name}"`;
    }
    const p = phys ?? this.nextPhys;
    if (phys === undefined) this.nextPhys += (size + 0x1f_ffffn) & ~0x1f_ffffn;
    const region: MemRegion = { name, start, size, prot, phys: p };
    this.vmas.push({
      first,
      last,
      prot,
      physFirst: Number(p >> BigInt(PAGE_SHIFT)),
      region,
      initial: 0,
      // anonymous memory starts on the shared zero page; an explicit `phys` is memory of its own
      populated: phys !== undefined,
    });
    this.vmas.sort((a, b) => a.first - b.first);
    return region;
  }

  private find(f: number): number {
    const v = this.vmas;
    let lo = 0;
    let hi = v.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const m = v[mid]!;
      if (f < m.first) hi = mid - 1;
      else if (f > m.last) lo = mid + 1;
      else return mid;
    }
    return -1;
  }

  /**
   * pin_user_pages over frames [first, first+pages): how many frames pin before the first that is not
   * mapped or lacks the protection (`write` asks for a writable page, as FOLL_WRITE does); `pages` when
   * all pin (vfio_pin_pages_remote then answers -EFAULT at that frame).
   */
  pinnable(first: number, pages: number, write: boolean): number {
    let f = first;
    const end = first + pages - 1;
    while (f <= end) {
      const i = this.find(f);
      if (i < 0) return f - first;
      const v = this.vmas[i]!;
      if ((v.prot & PROT_READ) === 0 || (write && (v.prot & PROT_WRITE) === 0)) return f - first;
      f = v.last + 1;
    }
    return pages;
  }

  /**
   * Frames of [first, first+pages) (all mapped) that still map the shared zero page: pages of anonymous
   * memory the process never wrote. A read-only pin may find the zero page there (gup_must_unshare).
   */
  zeroPageFrames(first: number, pages: number): number {
    let n = 0;
    let f = first;
    const end = first + pages - 1;
    while (f <= end) {
      const i = this.find(f);
      if (i < 0) break;
      const v = this.vmas[i]!;
      const last = Math.min(v.last, end);
      if (!v.populated) {
        let written = 0;
        if (this.contents.size < last - f + 1) {
          for (const k of this.contents.keys()) if (k >= f && k <= last) written++;
        } else {
          for (let g = f; g <= last; g++) if (this.contents.has(g)) written++;
        }
        n += last - f + 1 - written;
      }
      f = last + 1;
    }
    return n;
  }

  /** Physical frame of one mapped frame, or -1. */
  physFrame(f: number): number {
    const i = this.find(f);
    if (i < 0) return -1;
    const v = this.vmas[i]!;
    return v.physFirst + (f - v.first);
  }

  /**
   * Hot path of pinning: the physical frame behind [first, first+pages) when one region with the needed
   * protection covers it all, else -1 (the caller then takes the general path).
   */
  pinSingle(first: number, pages: number, write: boolean): number {
    const i = this.find(first);
    if (i < 0) return -1;
    const v = this.vmas[i]!;
    if (first + pages - 1 > v.last || (v.prot & PROT_READ) === 0 || (write && (v.prot & PROT_WRITE) === 0))
      return -1;
    return v.physFirst + (first - v.first);
  }

  /**
   * The process filled region `name` with `byte` (memset) before anything else wrote there: pages not
   * written since read as that byte. false if there is no such region.
   */
  memsetRegion(name: string, byte: number): boolean {
    const v = this.vmas.find((x) => x.region.name === name);
    if (!v) return false;
    v.initial = byte & 0xff;
    v.populated = true;
    for (let f = v.first; f <= v.last; f++) this.contents.delete(f);
    return true;
  }

  /**
   * copy_to_user: writes `src` at user address `addr`, page by page, and stops at the first page that
   * is not mapped writable (the bytes before it stay written). Returns the bytes not copied, 0 on
   * success, as the kernel's copy_to_user does.
   */
  copyToUser(addr: bigint, src: Uint8Array): number {
    return this.copy(addr, src, true);
  }

  /**
   * copy_from_user: fills `dst` from user address `addr`; a page that is not mapped readable ends the
   * copy and the rest of `dst` is zeroed. Returns the bytes not copied, 0 on success.
   */
  copyFromUser(dst: Uint8Array, addr: bigint): number {
    const left = this.copy(addr, dst, false);
    if (left > 0) dst.fill(0, dst.length - left);
    return left;
  }

  private copy(addr: bigint, buf: Uint8Array, toUser: boolean): number {
    if (addr < 0n || addr + BigInt(buf.length) > 1n << 64n) return buf.length;
    let done = 0;
    let frame = Number(addr >> BigInt(PAGE_SHIFT));
    let off = Number(addr & BigInt(PAGE_SIZE - 1));
    // a write needs a writable page; a read any access (x86 and arm64 pages that are writable are
    // also readable)
    const need = toUser ? PROT_WRITE : PROT_READ | PROT_WRITE;
    while (done < buf.length) {
      const i = this.find(frame);
      if (i < 0 || (this.vmas[i]!.prot & need) === 0) return buf.length - done;
      const n = Math.min(PAGE_SIZE - off, buf.length - done);
      const initial = this.vmas[i]!.initial;
      let page = this.contents.get(frame);
      if (toUser) {
        if (page === undefined) {
          page = new Uint8Array(PAGE_SIZE).fill(initial);
          this.contents.set(frame, page);
        }
        page.set(buf.subarray(done, done + n), off);
      } else if (page === undefined) buf.fill(initial, done, done + n);
      else buf.set(page.subarray(off, off + n), done);
      done += n;
      frame++;
      off = 0;
    }
    return 0;
  }

  /** The run [physFrame, count] starting at `f` and staying inside one region (hot path), or undefined. */
  runAt(f: number, pages: number): [number, number] | undefined {
    const i = this.find(f);
    if (i < 0) return undefined;
    const v = this.vmas[i]!;
    return [v.physFirst + (f - v.first), Math.min(v.last - f + 1, pages)];
  }
}

export function parseProt(s: string): number | undefined {
  if (!/^(r|rw|w|none|-)$/.test(s)) return undefined;
  return (s.includes('r') ? PROT_READ : 0) | (s.includes('w') ? PROT_WRITE : 0);
}
