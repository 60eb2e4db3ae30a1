/**
 * The dirty-tracking scenario (`common/dirty.iovx`, every machine): VFIO_IOMMU_DIRTY_PAGES START / STOP /
 * GET_BITMAP and UNMAP with GET_DIRTY_BITMAP, with the user's bitmap read back word by word. It pins
 * down what the model derives from update_user_bitmap and vfio_iova_dirty_bitmap: every mapped page
 * reported dirty, whole-word copies with the user's first word ORed in, bits left past a mapping after
 * a shifted report, the range and access_ok checks (the arm64 and x86_64 user address limits differ).
 */

import { attachNic, scenarioWriter } from './attach.js';

/** The bitmaps live at the end of the executor's 64 MiB buffer (never mapped for DMA here). */
const BM = 0x3f00000;
/** First IOVA of the range the reports cover (aligned for 4 KiB and 16 KiB pages). */
const BASE = 0x100000n;
const bm = (off: number): string => `buf+0x${(BM + off).toString(16)}`;

/**
 * The scenario for a kernel whose smallest IOMMU page is `page` bytes (4 KiB, or 16 KiB on the arm64-16k
 * flavour): the same mappings and ranges counted in pages, the bitmaps one bit per page.
 */
export function dirtyScenario(page = 0x1000n): string {
  const P = page;
  /** IOVA of page k of the range the reports cover. */
  const at = (k: number): bigint => BASE + BigInt(k) * P;
  const pages = (n: number): bigint => BigInt(n) * P;
  // a 4 KiB kernel keeps the bitmap's default page size (the field is left out)
  const pg: Record<string, bigint> = P === 0x1000n ? {} : { pgsize: P };
  const w = scenarioWriter('dirty');
  attachNic(w, 'd.', (x) => x.op('param_set', 'd.limit', { p: 'dma_entry_limit', value: '65535' }));
  // pages of the range: a = 0-2, b = 4-5, c = 63-64 (across a word), big = 256-325
  w.op('map', 'd.map_a', { iova: at(0), size: pages(3), vaddr: 'buf+0' });
  w.op('map', 'd.map_b', { iova: at(4), size: pages(2), vaddr: 'buf+0' });
  w.op('map', 'd.map_c', { iova: at(63), size: pages(2), vaddr: 'buf+0' });
  w.op('map', 'd.map_big', { iova: at(256), size: pages(70), vaddr: 'buf+0' });
  const get = (name: string, iova: bigint, size: bigint, f: Record<string, string | number | bigint> = {}) =>
    w.op('dirty_get', name, { iova, size, bsize: 64, bitmap: bm(0), ...pg, ...f });
  get('d.get_before_start', at(0), pages(512), { fill: 0, dump: 8 });
  w.op('dirty', 'd.start', { flags: 1 });
  w.op('dirty', 'd.start_again', { flags: 1 });
  get('d.get_all', at(0), pages(512), { fill: 0, dump: 8 });
  get('d.get_all_again', at(0), pages(512), { fill: 0, dump: 8 });
  get('d.get_all_over_ones', at(0), pages(512), { fill: 0xff, dump: 8 });
  get('d.get_c_alone', at(63), pages(2), { bsize: 8, bitmap: bm(0x100), fill: 0, dump: 2 });
  get('d.get_b_alone', at(4), pages(2), { bsize: 8, bitmap: bm(0x200), fill: 0, dump: 1 });
  get('d.get_b_unfilled', at(4), pages(2), { bsize: 8, bitmap: bm(0x300), dump: 1 });
  get('d.get_nothing_mapped', at(768), pages(1), { bsize: 8, bitmap: bm(0x400), fill: 0x11, dump: 1 });
  get('d.get_cuts_a_start', at(1), pages(2), { bsize: 8 });
  get('d.get_cuts_a_end', at(0), pages(2), { bsize: 8 });
  get('d.get_cuts_big_end', at(256), pages(64), { bsize: 8 });
  get('d.get_size_0', at(0), 0n, { bsize: 8 });
  get('d.get_unaligned', at(0) + P / 2n, pages(3), { bsize: 8 });
  get('d.get_pgsize_double', at(0), pages(4), { bsize: 8, pgsize: 2n * P });
  get('d.get_pgsize_0', at(0), pages(4), { bsize: 8, pgsize: 0 });
  get('d.get_bsize_small', at(0), pages(512), { bsize: 56 });
  get('d.get_bsize_0', at(0), pages(4), { bsize: 0 });
  get('d.get_bsize_over_max', at(0), pages(4), { bsize: 0x10000008 });
  get('d.get_wraps', (1n << 64n) - P, P, { bsize: 8 });
  get('d.get_argsz_short', at(0), pages(4), { bsize: 8, argsz: 40 });
  get('d.get_bitmap_ro', at(0), pages(4), { bsize: 8, bitmap: 'ro+0x1000', dump: 1 });
  get('d.get_bitmap_unmapped', at(0), pages(4), { bsize: 8, bitmap: 'abs+0x100000000000' });
  // access_ok: TASK_SIZE_MAX = 2^47 or 2^56 (LA57) - 4 KiB on x86_64, 2^VA_BITS (48 or 52) on arm64
  get('d.get_bitmap_at_x86_top', at(0), pages(4), { bsize: 8, bitmap: 'abs+0x7fffffffeff8' });
  get('d.get_bitmap_past_x86_top', at(0), pages(4), { bsize: 8, bitmap: 'abs+0x7ffffffff000' });
  get('d.get_bitmap_at_2p48', at(0), pages(4), { bsize: 8, bitmap: 'abs+0xfffffffffff8' });
  get('d.get_bitmap_past_2p48', at(0), pages(4), { bsize: 8, bitmap: 'abs+0x1000000000000' });
  get('d.get_bitmap_at_2p52', at(0), pages(4), { bsize: 8, bitmap: 'abs+0xffffffffffff8' });
  get('d.get_bitmap_past_2p52', at(0), pages(4), { bsize: 8, bitmap: 'abs+0x10000000000000' });
  get('d.get_bitmap_at_la57_top', at(0), pages(4), { bsize: 8, bitmap: 'abs+0xffffffffffeff8' });
  get('d.get_bitmap_past_la57_top', at(0), pages(4), { bsize: 8, bitmap: 'abs+0xfffffffffff000' });
  get('d.get_bitmap_below_2p63', at(0), pages(4), { bsize: 8, bitmap: 'abs+0x7ffffffffffff000' });
  get('d.get_bitmap_kernel_half', at(0), pages(4), { bsize: 8, bitmap: 'abs+0xffff800000000000' });
  // UNMAP with GET_DIRTY_BITMAP
  /** UNMAP with a bitmap in `buf` (filled with zeros, one word read back) unless `where` says otherwise. */
  const unmap = (
    name: string,
    iova: bigint,
    size: bigint,
    f: Record<string, string | number | bigint> = {},
    where?: string,
  ) =>
    w.op('unmap', name, {
      flags: 1,
      iova,
      size,
      bsize: 8,
      bitmap: where ?? bm(0x800),
      ...pg,
      ...(where === undefined ? { fill: 0, dump: 1 } : {}),
      ...f,
    });
  unmap('d.unmap_bitmap_ro', at(0), pages(3), { dump: 1 }, 'ro+0x1000');
  unmap('d.unmap_bitmap_past_x86_top', at(0), pages(3), {}, 'abs+0x7ffffffff000');
  unmap('d.unmap_bitmap_small', at(0), pages(256), { bsize: 16 });
  unmap('d.unmap_with_all', 0n, 0n, { flags: 3 });
  unmap('d.unmap_a', at(0), pages(3));
  unmap('d.unmap_b_and_c', at(4), pages(61), { dump: 2 });
  unmap('d.unmap_argsz_short', at(256), pages(70), { argsz: 40 });
  w.op('dirty', 'd.stop', { flags: 2 });
  w.op('dirty', 'd.stop_again', { flags: 2 });
  unmap('d.unmap_after_stop', at(256), pages(70), { bsize: 16 });
  get('d.get_after_stop', at(256), pages(70), { bsize: 16 });
  w.op('dirty', 'd.start_stop_flags', { flags: 3 });
  w.op('dirty', 'd.no_flag', { flags: 0 });
  w.op('dirty', 'd.unknown_flag', { flags: 8 });
  w.op('dirty', 'd.argsz_short', { flags: 1, argsz: 4 });
  w.op('unmap', 'd.unmap_all', { flags: 2 });
  w.op('close_group', 'd.close_group', { g: 0 });
  w.op('close_container', 'd.close_container');
  // legacy type1: no dirty tracking
  w.op('open_container', 'd.v1_open_container');
  w.op('open_group', 'd.v1_open_group', { g: 0 });
  w.op('set_container', 'd.v1_set_container', { g: 0 });
  w.op('set_iommu', 'd.v1_set_iommu', { type: 1 });
  w.op('dirty', 'd.v1_start', { flags: 1 });
  w.op('close_group', 'd.v1_close_group', { g: 0 });
  w.op('close_container', 'd.v1_close_container');
  w.op('param_set', 'd.safe', { p: 'allow_unsafe_interrupts', value: '0' });
  return w.text();
}
