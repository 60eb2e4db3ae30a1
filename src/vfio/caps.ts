/**
 * The generic VFIO capability chain (drivers/vfio/vfio_main.c: vfio_info_cap_add, vfio_info_cap_shift).
 * Capabilities are appended to a private buffer whose first capability sits at offset 0; `next` links are
 * buffer offsets until `shift` rebases them onto the user's info struct.
 */
import type { KernelProfile } from '../kernel/profile.js';
import { getU32, putU16, putU32 } from '../uapi/vfio-type1.js';

export class CapChain {
  private buf = new Uint8Array(64);
  private len = 0;

  constructor(private readonly profile: KernelProfile) {}

  get size(): number {
    return this.len;
  }

  get bytes(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }

  /**
   * vfio_info_cap_add: grows the chain by `size` bytes (rounded up to 8 when the profile pads), zeroes
   * them, writes the header and links the previous last capability to it. Returns the new offset.
   */
  add(size: number, id: number, version: number): number {
    const sz = this.profile.capPadding8 ? (size + 7) & ~7 : size;
    const off = this.len;
    if (off + sz > this.buf.length) {
      const nb = new Uint8Array(Math.max(this.buf.length * 2, off + sz));
      nb.set(this.buf.subarray(0, this.len));
      this.buf = nb;
    }
    this.buf.fill(0, off, off + sz);
    putU16(this.buf, off, id);
    putU16(this.buf, off + 2, version);
    putU32(this.buf, off + 4, 0);
    // Walk from the first capability to the last one and link it (for the first, this writes 0 on itself).
    let t = 0;
    for (let guard = 0; getU32(this.buf, t + 4) !== 0 && guard < 1 << 16; guard++)
      t = getU32(this.buf, t + 4);
    putU32(this.buf, t + 4, off);
    this.len = off + sz;
    return off;
  }

  /** vfio_info_cap_shift: adds `offset` to every non-zero `next`. */
  shift(offset: number): void {
    let t = 0;
    for (let guard = 0; guard < 1 << 16; guard++) {
      const next = getU32(this.buf, t + 4);
      if (next === 0) break;
      putU32(this.buf, t + 4, next + offset);
      t = next;
    }
  }

  /** Direct access for writing a capability's payload. */
  get raw(): Uint8Array {
    return this.buf;
  }
}
