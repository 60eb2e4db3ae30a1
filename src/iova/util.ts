/**
 * Shared arithmetic of the IOVA allocator (drivers/iommu/iova.c, include/linux/iova.h) on page frame
 * numbers held as JS numbers. Every pfn the model accepts is a safe integer (< 2^53), so the
 * arithmetic below is exact; the API refuses anything else instead of truncating it.
 */

/** IOVA_ANCHOR (~0UL): the anchor node's pfn_lo/pfn_hi. Kept as the float 2^64 (never used in sums). */
export const IOVA_ANCHOR = 2 ** 64;

/** IOVA_RANGE_CACHE_MAX_SIZE: log2 of the largest cached size + 1 (classes 1, 2, 4, ... 32 pages). */
export const IOVA_RANGE_CACHE_MAX_SIZE = 6;

/** Highest pfn (inclusive) the number-based API accepts: limit_pfn + 1 must still be exact. */
export const MAX_MODEL_PFN = Number.MAX_SAFE_INTEGER - 1;

/** A pfn or page count the model can hold exactly (safe, non-negative integer below MAX_MODEL_PFN). */
export function isModelPfn(v: number): boolean {
  return Number.isSafeInteger(v) && v >= 0 && v <= MAX_MODEL_PFN;
}

/** fls_long(x): 1-based index of the highest set bit, 0 for 0. x < 2^53. */
export function flsLong(x: number): number {
  if (x <= 0) return 0;
  if (x < 2 ** 32) return 32 - Math.clz32(x >>> 0);
  return 64 - Math.clz32(Math.floor(x / 2 ** 32));
}

/** order_base_2(n): log2 of n rounded up (0 for n <= 1). */
export function orderBase2(n: number): number {
  return n <= 1 ? 0 : flsLong(n - 1);
}

/** roundup_pow_of_two(n) for 1 <= n. */
export function roundupPowOfTwo(n: number): number {
  return 2 ** orderBase2(n);
}

/**
 * The alignment alloc_iova applies: `align_mask <<= fls_long(size - 1)` when size_aligned, i.e. the start
 * is a multiple of roundup_pow_of_two(size); 1 (no alignment) otherwise.
 */
export function allocAlignment(size: number, sizeAligned: boolean): number {
  return sizeAligned ? POW2[flsLong(size - 1)]! : 1;
}

/** 2^i for i = 0..64 (a table: `2 ** i` is a call into Math.pow on the hot path). */
const POW2: readonly number[] = Array.from({ length: 65 }, (_, i) => 2 ** i);

/** log2 of a power of two a (1 <= a <= 2^53). */
export function log2Pow2(a: number): number {
  return a <= 0x80000000 ? 31 - Math.clz32(a) : 32 + (31 - Math.clz32(a / 0x100000000));
}

// The two below divide instead of taking `x % a`: with pfns above 2^31 a float remainder is a libc
// fmod call, while a division by a power of two and its floor are exact and cheap.

/** x & ~(a - 1) for x >= 0 and a power of two. */
export function alignDown(x: number, a: number): number {
  return a === 1 ? x : Math.floor(x / a) * a;
}

/** Round x >= 0 up to a multiple of the power of two a. */
export function alignUp(x: number, a: number): number {
  return a === 1 ? x : Math.ceil(x / a) * a;
}

/** log2 of a power-of-two granule, or -1 when it is not one (init_iova_domain would BUG). */
export function granuleShift(granule: number): number {
  if (!Number.isSafeInteger(granule) || granule <= 0) return -1;
  const s = Math.log2(granule);
  return Number.isInteger(s) ? s : -1;
}

/**
 * What init_iova_domain(granule, start_pfn) derives, or undefined for arguments it refuses (the kernel
 * BUGs on a granule that is not a power of two; the model also keeps granules to 64 KiB and start pfns
 * it can hold exactly). One rule for both trees and for initIovaDomain.
 */
export function iovaDomainGeometry(
  granule: number,
  startPfn: number,
): { readonly shift: number; readonly dma32bitPfn: number } | undefined {
  const shift = granuleShift(granule);
  if (shift < 0 || shift > 16 || !isModelPfn(startPfn)) return undefined;
  // dma_32bit_pfn: the first pfn at or above 4 GiB
  return { shift, dma32bitPfn: 2 ** (32 - shift) };
}
