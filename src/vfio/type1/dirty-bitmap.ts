/**
 * Type1 dirty-page reports (drivers/vfio/vfio_iommu_type1.c): the per-mapping bitmaps that dirty
 * tracking keeps (`vfio_dma->bitmap`, one bit per smallest IOMMU page) and update_user_bitmap, which
 * copies one mapping's bits into the user's bitmap for GET_BITMAP and for UNMAP with GET_DIRTY_BITMAP.
 *
 * What a report contains: a group whose pages nobody pins through vfio_pin_pages (every group in this
 * model: a vfio-pci device, no emulated/mdev groups) cannot say which pages its device wrote, so while
 * such a group is attached every page of a mapping the IOMMU maps is reported dirty, at every report.
 *
 * The bytes are the kernel's, quirks included: the user's bitmap is written in whole u64 words from
 * the word holding the mapping's first bit; when that bit is not the first of its word the mapping's
 * bits are shifted in place inside the kernel's bitmap and the user's whole first word is ORed in
 * (read first: an unreadable bitmap is -EFAULT), and the end of the last word is written with whatever
 * the kernel's bitmap holds there. After a GET_BITMAP only the mapping's own bits are cleared, so bits a
 * shift pushed past them stay and show up in later reports' last word. Those leftovers are kept here per
 * mapping; a mapping without an entry has the all-zero bitmap that START allocates.
 */
import { ERRNO } from '../../base/errno.js';
import { U64_MAX } from '../../base/u64.js';
import type { AddressSpace } from '../../mm/address-space.js';

/** DIRTY_BITMAP_BYTES(n): bytes of n bits rounded up to whole u64 words. */
export function dirtyBitmapBytes(nbits: number): number {
  return Math.ceil(nbits / 64) * 8;
}

/** bitmap_set / bitmap_clear of bits [from, to). */
function fillBits(b: Uint8Array, from: number, to: number, on: boolean): void {
  const put = (i: number): void => {
    if (on) b[i >> 3]! |= 1 << (i & 7);
    else b[i >> 3]! &= ~(1 << (i & 7));
  };
  const first = Math.min(Math.ceil(from / 8), to >> 3);
  const last = to >> 3;
  for (let i = from; i < first * 8; i++) put(i);
  b.fill(on ? 0xff : 0, first, last);
  for (let i = Math.max(last * 8, from); i < to; i++) put(i);
}

/**
 * __bitmap_shift_left by s (0 < s < 64) over the first `bytes` bytes (whole u64 words): bits move up,
 * the ones pushed past the last word are lost, zeros come in at the bottom, later words are untouched.
 */
function shiftLeft(b: Uint8Array, s: number, bytes: number): void {
  const by = s >> 3;
  const bit = s & 7;
  for (let j = bytes - 1; j >= 0; j--) {
    const hi = j - by >= 0 ? b[j - by]! : 0;
    const lo = j - by - 1 >= 0 ? b[j - by - 1]! : 0;
    b[j] = bit === 0 ? hi : ((hi << bit) | (lo >> (8 - bit))) & 0xff;
  }
}

/** The kernel's dirty bitmaps of one type1 container while tracking is on. */
export class DirtyBitmaps {
  /** Bitmaps with bits left past their mapping, by the mapping's first frame. */
  private readonly leftovers = new Map<number, Uint8Array>();

  /** START or STOP (vfio_dma_bitmap_alloc_all / free_all): every bitmap is zero again. */
  reset(): void {
    this.leftovers.clear();
  }

  /** vfio_remove_dma frees the mapping's bitmap. */
  forget(firstFrame: number): void {
    if (this.leftovers.size > 0) this.leftovers.delete(firstFrame);
  }

  /**
   * update_user_bitmap for the mapping starting at `firstFrame` with `nbits` pages, whose first bit is
   * bit `bitOffset` of the user's bitmap at `userBitmap`; with `rearm` (GET_BITMAP), then the
   * mapping's own bits are cleared (vfio_iova_dirty_bitmap: bitmap_clear + populate, and no page is
   * pinned here). 0 or -EFAULT; a failed copy leaves the kernel's bitmap as the kernel leaves it.
   */
  report(
    mm: AddressSpace,
    firstFrame: number,
    nbits: number,
    bitOffset: number,
    userBitmap: bigint,
    rearm: boolean,
  ): number {
    const kb = this.leftovers.get(firstFrame) ?? new Uint8Array(dirtyBitmapBytes(nbits + 64));
    fillBits(kb, 0, nbits, true);
    const shift = bitOffset % 64;
    // u64 pointer arithmetic: bitmap + copy_offset words
    const at = (userBitmap + BigInt(Math.floor(bitOffset / 64)) * 8n) & U64_MAX;
    const bytes = dirtyBitmapBytes(nbits + shift);
    let rc = 0;
    if (shift !== 0) {
      shiftLeft(kb, shift, bytes);
      const leftover = new Uint8Array(8);
      if (mm.copyFromUser(leftover, at) !== 0) rc = -ERRNO.EFAULT;
      // bitmap_or over `shift` bits: one whole word
      else for (let j = 0; j < 8; j++) kb[j]! |= leftover[j]!;
    }
    if (rc === 0 && mm.copyToUser(at, kb.subarray(0, bytes)) !== 0) rc = -ERRNO.EFAULT;
    if (rc === 0 && rearm) fillBits(kb, 0, nbits, false);
    if (kb.some((v) => v !== 0)) this.leftovers.set(firstFrame, kb);
    else this.leftovers.delete(firstFrame);
    return rc;
  }
}
