/**
 * bitmap_find_free_region / bitmap_release_region (lib/bitmap.c): the lowest free block of 2^order
 * bits aligned to its size. Used by GICv2m SPIs, ITS event ids, Intel IRTEs and host-bridge vectors.
 */
export class RegionBitmap {
  private readonly bits: Uint8Array;
  constructor(readonly size: number) {
    this.bits = new Uint8Array(size);
  }
  /** Index of the allocated block, or -1 (the kernel's -ENOMEM/-ENOSPC). */
  findFreeRegion(order: number): number {
    const n = 1 << order;
    for (let pos = 0; pos + n <= this.size; pos += n) {
      let free = true;
      for (let i = 0; i < n; i++) {
        if (this.bits[pos + i] !== 0) {
          free = false;
          break;
        }
      }
      if (free) {
        this.bits.fill(1, pos, pos + n);
        return pos;
      }
    }
    return -1;
  }
  /** `count` consecutive free bits, optionally aligned to the next power of two (AMD alloc_irq_index). */
  findFreeRun(count: number, align: boolean): number {
    const step = align ? 1 << Math.ceil(Math.log2(Math.max(1, count))) : 1;
    for (let pos = 0; pos + count <= this.size; pos += step) {
      let free = true;
      for (let i = 0; i < count; i++) {
        if (this.bits[pos + i] !== 0) {
          free = false;
          break;
        }
      }
      if (free) {
        this.bits.fill(1, pos, pos + count);
        return pos;
      }
    }
    return -1;
  }
  reserve(pos: number, count = 1): void {
    this.bits.fill(1, pos, Math.min(this.size, pos + count));
  }
  release(pos: number, count = 1): void {
    this.bits.fill(0, pos, Math.min(this.size, pos + count));
  }
  isSet(pos: number): boolean {
    return pos >= 0 && pos < this.size && this.bits[pos] !== 0;
  }
  used(): number {
    let n = 0;
    for (const b of this.bits) n += b;
    return n;
  }
}

/** get_count_order: ceil(log2(n)) for n >= 1. */
export function countOrder(n: number): number {
  return n <= 1 ? 0 : Math.ceil(Math.log2(n));
}
