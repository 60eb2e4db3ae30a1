/**
 * `iommufd/compat.iovx` (the four iommufd machines): VFIO type1 on /dev/iommu. The container operations
 * run on the iommufd file (compat_container) before and after IOMMU_VFIO_IOAS names a compat IOAS:
 * CHECK_EXTENSION, SET_IOMMU (TYPE1 turns large pages off), GET_INFO at every argsz around its two
 * capabilities, MAP_DMA and UNMAP_DMA (whole mappings, partial failures, and the cuts TYPE1 allows),
 * then the same with the NIC's cdev attached, and the compat IOAS cleared, replaced and destroyed.
 */
import { CompiledWriter } from './compiled.js';

export function iommufdCompatScenario(): string {
  const w = new CompiledWriter().directive('section', 'iommufd_compat');
  const op = (o: Parameters<CompiledWriter['op']>[0], n: string, f: Record<string, string | number> = {}) =>
    w.op(o, `v.${n}`, f);
  const ext = (n: string, e: number) => op('check_ext', n, { c: 0, ext: e });
  const ioas = (n: string, vop: number, f: Record<string, string | number> = {}) =>
    op('vfio_ioas', n, { i: 0, vop, ...f });
  const info = (n: string, argsz: number | string, dump = 0) =>
    op('get_info', n, { c: 0, argsz, ...(dump ? { dump: 1 } : {}) });
  const hex = (v: number | bigint): string => `0x${v.toString(16)}`;
  const map = (n: string, iova: number | bigint, size: number, f: Record<string, string | number> = {}) =>
    op('map', n, { c: 0, iova: hex(iova), size: hex(size), ...f });
  const unmap = (n: string, iova: number, size: number, f: Record<string, string | number> = {}) =>
    op('unmap', n, { c: 0, iova: hex(iova), size: hex(size), ...f });

  op('open_iommufd', 'open', { i: 0 });
  op('compat_container', 'container', { c: 0, i: 0 });
  op('api_version', 'api_version', { c: 0 });
  // without a compat IOAS
  for (const e of [0, 1, 2, 3, 4, 6, 8, 9, 10, 11]) ext(`ext${e}_none`, e);
  op('set_iommu', 'set_type1v2_none', { c: 0, type: 3 });
  op('set_iommu', 'set_spapr', { c: 0, type: 2 });
  info('info_none', 24);
  map('map_none', 0x100000, 0x1000, { flags: 3, vaddr: 'buf+0x0' });
  unmap('unmap_none', 0x100000, 0x1000);
  ioas('get_none', 0);
  ioas('op_unknown', 3);
  ioas('get_reserved', 0, { reserved: 1 });
  ioas('set_missing', 1, { ioas: 1 });
  ioas('clear_none', 2);
  // a compat IOAS, no domain yet: mappings are only recorded
  op('ioas_alloc', 'ioas_alloc', { i: 0 });
  ioas('set', 1, { ioas: 1 });
  ioas('get', 0);
  ioas('get_small', 0, { size: 8 });
  for (const e of [1, 3, 4, 8, 9]) ext(`ext${e}`, e);
  op('set_iommu', 'set_type1v2', { c: 0, type: 3 });
  for (const a of [15, 16, 20, 24, 32, 36, 40, 48, 56, 64, 71, 72, 80]) info(`info_${a}`, a);
  info('info_full', 80, 1);
  map('map', 0x100000, 0x4000, { flags: 3, vaddr: 'buf+0x0' });
  map('map_again', 0x100000, 0x4000, { flags: 3, vaddr: 'buf+0x0' });
  map('map_overlap', 0x103000, 0x2000, { flags: 3, vaddr: 'buf+0x10000' });
  map('map_no_prot', 0x200000, 0x1000, { flags: 0, vaddr: 'buf+0x20000' });
  unmap('unmap_no_prot', 0x200000, 0x1000);
  map('map_vaddr_flag', 0x300000, 0x1000, { flags: 7, vaddr: 'buf+0x30000' });
  map('map_argsz_small', 0x300000, 0x1000, { flags: 3, vaddr: 'buf+0x30000', argsz: 28 });
  map('map_size0', 0x300000, 0, { flags: 3, vaddr: 'buf+0x30000' });
  // without a domain nothing is pinned yet: a bad user address is accepted until the first attach
  map('map_readonly_mem_rw', 0x300000, 0x1000, { flags: 3, vaddr: 'ro+0x0' });
  map('map_unmapped_va', 0x310000, 0x1000, { flags: 1, vaddr: 'abs+0x1000' });
  unmap('unmap_readonly_mem_rw', 0x300000, 0x1000);
  unmap('unmap_unmapped_va', 0x310000, 0x1000);
  map('map_wrap', 0xfffffffffffff000n, 0x2000, { flags: 3, vaddr: 'buf+0x30000' });
  // type1v2 rules (large pages allowed): whole mappings only
  unmap('unmap_middle', 0x101000, 0x1000);
  unmap('unmap_superset', 0xff000, 0x6000);
  unmap('unmap_nothing', 0x900000, 0x1000);
  unmap('unmap_size0', 0x100000, 0);
  unmap('unmap_dirty_flag', 0x100000, 0x4000, { flags: 1 });
  unmap('unmap_vaddr_flag', 0x100000, 0x4000, { flags: 4 });
  unmap('unmap_all_with_iova', 0x100000, 0, { flags: 2 });
  unmap('unmap_argsz_small', 0x100000, 0x4000, { argsz: 20 });
  map('map_a', 0x400000, 0x1000, { flags: 3, vaddr: 'buf+0x40000' });
  map('map_b', 0x401000, 0x2000, { flags: 3, vaddr: 'buf+0x41000' });
  unmap('unmap_a_and_half_b', 0x400000, 0x2000);
  unmap('unmap_b', 0x401000, 0x2000);
  map('map_odd', 0x500800, 0x800, { flags: 3, vaddr: 'buf+0x50800' });
  // TYPE1: large pages off (the unaligned mapping stops it), then cuts at the ends of an unmap
  op('set_iommu', 'set_type1_odd', { c: 0, type: 1 });
  unmap('unmap_odd', 0x500800, 0x800);
  op('set_iommu', 'set_type1', { c: 0, type: 1 });
  info('info_type1', 80, 1);
  map('map_c', 0x600000, 0x4000, { flags: 3, vaddr: 'buf+0x60000' });
  unmap('cut_middle', 0x601000, 0x1000);
  unmap('cut_unaligned', 0x600800, 0x1000);
  unmap('cut_head', 0x600000, 0x1000);
  unmap('cut_rest', 0x602000, 0x2000);
  unmap('unmap_all', 0, 0, { flags: 2 });
  // the NIC attached: its reserved regions and the aperture in GET_INFO, its page sizes
  map('map_lazy', 0x700000, 0x200000, { flags: 3, vaddr: 'buf+0x200000' });
  op('param_set', 'unsafe_on', { p: 'iommufd.allow_unsafe_interrupts', value: '1' });
  op('open_cdev', 'cdev', { d: 0 });
  op('bind_iommufd', 'bind', { d: 0 });
  op('attach_pt', 'attach', { d: 0, pt: 1 });
  info('info_attached', 24);
  info('info_attached_full', 'last', 1);
  ext('ext4_attached', 4);
  unmap('cut_attached', 0x701000, 0x1000);
  map('map_msi_window', 0xfee00000, 0x1000, { flags: 3, vaddr: 'buf+0x10000' });
  map('map_sw_msi_window', 0x8000000, 0x1000, { flags: 3, vaddr: 'buf+0x10000' });
  map('map_attached', 0x1000000, 0x200000, { flags: 3, vaddr: 'buf+0x400000' });
  unmap('unmap_attached', 0x1000000, 0x200000);
  // a second IOAS with large pages: the attached device moves there, then TYPE1 is refused
  // (ids: the device is 2, its automatic HWPT 3, this IOAS 4)
  op('ioas_alloc', 'ioas_alloc_2', { i: 0 });
  ioas('set_2', 1, { ioas: 4 });
  map('map_2', 0x100000, 0x200000, { flags: 3, vaddr: 'buf+0x200000' });
  op('attach_pt', 'replace_to_2', { d: 0, pt: 4 });
  op('set_iommu', 'set_type1_with_domain', { c: 0, type: 1 });
  unmap('unmap_2_middle', 0x101000, 0x1000);
  ioas('get_2', 0);
  ioas('clear', 2);
  ioas('get_cleared', 0);
  map('map_cleared', 0x100000, 0x1000, { flags: 3, vaddr: 'buf+0x0' });
  ioas('set_1_again', 1, { ioas: 1 });
  op('destroy', 'destroy_1', { i: 0, id: 1 });
  ioas('get_after_destroy', 0);
  op('detach_pt', 'detach', { d: 0 });
  op('close_device', 'close_cdev', { d: 0 });
  op('param_set', 'unsafe_off', { p: 'iommufd.allow_unsafe_interrupts', value: '0' });
  op('compat_container', 'forget_container', { c: 0 });
  op('close_iommufd', 'close', { i: 0 });
  return w.text();
}
