/**
 * The dirty-tracking scenario (`common/dirty.iovx`, every machine): VFIO_IOMMU_DIRTY_PAGES START / STOP /
 * GET_BITMAP and UNMAP with GET_DIRTY_BITMAP, with the user's bitmap read back word by word. It pins
 * down what the model derives from update_user_bitmap and vfio_iova_dirty_bitmap: every mapped page
 * reported dirty, whole-word copies with the user's first word ORed in, bits left past a mapping after
 * a shifted report, the range and access_ok checks (the arm64 and x86_64 user address limits differ).
 */

import { CompiledWriter } from './compiled.js';

/** The bitmaps live at the end of the executor's 64 MiB buffer (never mapped for DMA here). */
const BM = 0x3f00000;
const bm = (off: number): string => `buf+0x${(BM + off).toString(16)}`;

export function dirtyScenario(): string {
  const w = new CompiledWriter();
  w.directive('format', 'full');
  w.directive('section', 'dirty');
  w.op('param_set', 'd.unsafe', { p: 'allow_unsafe_interrupts', value: '1' });
  w.op('param_set', 'd.limit', { p: 'dma_entry_limit', value: '65535' });
  w.op('open_container', 'd.open_container');
  w.op('open_group', 'd.open_group', { g: 0 });
  w.op('set_container', 'd.set_container', { g: 0 });
  w.op('set_iommu', 'd.set_iommu', { type: 3 });
  // pages of the range from 0x100000: a = 0-2, b = 4-5, c = 63-64 (across a word), big = 256-325
  w.op('map', 'd.map_a', { iova: 0x100000n, size: 0x3000n, vaddr: 'buf+0' });
  w.op('map', 'd.map_b', { iova: 0x104000n, size: 0x2000n, vaddr: 'buf+0' });
  w.op('map', 'd.map_c', { iova: 0x13f000n, size: 0x2000n, vaddr: 'buf+0' });
  w.op('map', 'd.map_big', { iova: 0x200000n, size: 0x46000n, vaddr: 'buf+0' });
  const get = (name: string, iova: bigint, size: bigint, f: Record<string, string | number | bigint> = {}) =>
    w.op('dirty_get', name, { iova, size, bsize: 64, bitmap: bm(0), ...f });
  get('d.get_before_start', 0x100000n, 0x200000n, { fill: 0, dump: 8 });
  w.op('dirty', 'd.start', { flags: 1 });
  w.op('dirty', 'd.start_again', { flags: 1 });
  get('d.get_all', 0x100000n, 0x200000n, { fill: 0, dump: 8 });
  get('d.get_all_again', 0x100000n, 0x200000n, { fill: 0, dump: 8 });
  get('d.get_all_over_ones', 0x100000n, 0x200000n, { fill: 0xff, dump: 8 });
  get('d.get_c_alone', 0x13f000n, 0x2000n, { bsize: 8, bitmap: bm(0x100), fill: 0, dump: 2 });
  get('d.get_b_alone', 0x104000n, 0x2000n, { bsize: 8, bitmap: bm(0x200), fill: 0, dump: 1 });
  get('d.get_b_unfilled', 0x104000n, 0x2000n, { bsize: 8, bitmap: bm(0x300), dump: 1 });
  get('d.get_nothing_mapped', 0x400000n, 0x1000n, { bsize: 8, bitmap: bm(0x400), fill: 0x11, dump: 1 });
  get('d.get_cuts_a_start', 0x101000n, 0x2000n, { bsize: 8 });
  get('d.get_cuts_a_end', 0x100000n, 0x2000n, { bsize: 8 });
  get('d.get_cuts_big_end', 0x200000n, 0x40000n, { bsize: 8 });
  get('d.get_size_0', 0x100000n, 0n, { bsize: 8 });
  get('d.get_unaligned', 0x100800n, 0x3000n, { bsize: 8 });
  get('d.get_pgsize_8k', 0x100000n, 0x4000n, { bsize: 8, pgsize: 0x2000 });
  get('d.get_pgsize_0', 0x100000n, 0x4000n, { bsize: 8, pgsize: 0 });
  get('d.get_bsize_small', 0x100000n, 0x200000n, { bsize: 56 });
  get('d.get_bsize_0', 0x100000n, 0x4000n, { bsize: 0 });
  get('d.get_bsize_over_max', 0x100000n, 0x4000n, { bsize: 0x10000008 });
  get('d.get_wraps', 0xfffffffffffff000n, 0x1000n, { bsize: 8 });
  get('d.get_argsz_short', 0x100000n, 0x4000n, { bsize: 8, argsz: 40 });
  get('d.get_bitmap_ro', 0x100000n, 0x4000n, { bsize: 8, bitmap: 'ro+0x1000', dump: 1 });
  get('d.get_bitmap_unmapped', 0x100000n, 0x4000n, { bsize: 8, bitmap: 'abs+0x100000000000' });
  // access_ok: TASK_SIZE_MAX = 2^47 or 2^56 (LA57) - 4 KiB on x86_64, 2^VA_BITS (48 or 52) on arm64
  get('d.get_bitmap_at_x86_top', 0x100000n, 0x4000n, { bsize: 8, bitmap: 'abs+0x7fffffffeff8' });
  get('d.get_bitmap_past_x86_top', 0x100000n, 0x4000n, { bsize: 8, bitmap: 'abs+0x7ffffffff000' });
  get('d.get_bitmap_at_2p48', 0x100000n, 0x4000n, { bsize: 8, bitmap: 'abs+0xfffffffffff8' });
  get('d.get_bitmap_past_2p48', 0x100000n, 0x4000n, { bsize: 8, bitmap: 'abs+0x1000000000000' });
  get('d.get_bitmap_at_2p52', 0x100000n, 0x4000n, { bsize: 8, bitmap: 'abs+0xffffffffffff8' });
  get('d.get_bitmap_past_2p52', 0x100000n, 0x4000n, { bsize: 8, bitmap: 'abs+0x10000000000000' });
  get('d.get_bitmap_at_la57_top', 0x100000n, 0x4000n, { bsize: 8, bitmap: 'abs+0xffffffffffeff8' });
  get('d.get_bitmap_past_la57_top', 0x100000n, 0x4000n, { bsize: 8, bitmap: 'abs+0xfffffffffff000' });
  get('d.get_bitmap_below_2p63', 0x100000n, 0x4000n, { bsize: 8, bitmap: 'abs+0x7ffffffffffff000' });
  get('d.get_bitmap_kernel_half', 0x100000n, 0x4000n, { bsize: 8, bitmap: 'abs+0xffff800000000000' });
  // UNMAP with GET_DIRTY_BITMAP
  /** UNMAP with a bitmap in `buf` (filled with zeros, one word read back) unless `at` says otherwise. */
  const unmap = (
    name: string,
    iova: bigint,
    size: bigint,
    f: Record<string, string | number | bigint> = {},
    at?: string,
  ) =>
    w.op('unmap', name, {
      flags: 1,
      iova,
      size,
      bsize: 8,
      bitmap: at ?? bm(0x800),
      ...(at === undefined ? { fill: 0, dump: 1 } : {}),
      ...f,
    });
  unmap('d.unmap_bitmap_ro', 0x100000n, 0x3000n, { dump: 1 }, 'ro+0x1000');
  unmap('d.unmap_bitmap_past_x86_top', 0x100000n, 0x3000n, {}, 'abs+0x7ffffffff000');
  unmap('d.unmap_bitmap_small', 0x100000n, 0x100000n, { bsize: 16 });
  unmap('d.unmap_with_all', 0n, 0n, { flags: 3 });
  unmap('d.unmap_a', 0x100000n, 0x3000n);
  unmap('d.unmap_b_and_c', 0x104000n, 0x3d000n, { dump: 2 });
  unmap('d.unmap_argsz_short', 0x200000n, 0x46000n, { argsz: 40 });
  w.op('dirty', 'd.stop', { flags: 2 });
  w.op('dirty', 'd.stop_again', { flags: 2 });
  unmap('d.unmap_after_stop', 0x200000n, 0x46000n, { bsize: 16 });
  get('d.get_after_stop', 0x200000n, 0x46000n, { bsize: 16 });
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
