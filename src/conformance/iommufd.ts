/**
 * The iommufd scenario (`<machine>/iommufd.iovx`, run on the machines whose kernel is built with
 * CONFIG_IOMMUFD and CONFIG_VFIO_DEVICE_CDEV, see conformance/kernel/build-kernel.sh): /dev/iommu's
 * ioctl dispatch and size rules, IOAS objects and their ids, IOVA ranges before and after a device is
 * attached, IOAS_MAP with a fixed and with an allocated IOVA (alignment, reserved ranges, overlaps,
 * memory the process does not have or may not write), IOAS_UNMAP's cover rules, ALLOW_IOVAS, the
 * global and per-IOAS options, the VFIO device cdev (bind, attach, replace, detach) beside the legacy
 * group path, and the locked-memory accounting per user or per process.
 * Case names are `f.<what>`.
 */

import { scenarioWriter } from './attach.js';

const MB = 0x100000n;
/** IOMMU_IOAS_MAP flags. */
const FIXED = 1;
const WRITE = 2;
const READ = 4;
/** The u64 all-ones length of an "unmap everything" request. */
const ALL = 0xffffffffffffffffn;

export function iommufdScenario(): string {
  const w = scenarioWriter('iommufd');
  w.directive('format', 'compact');
  const op = (o: Parameters<typeof w.op>[0], n: string, f: Record<string, string | number | bigint> = {}) =>
    w.op(o, `f.${n}`, f);
  const map = (n: string, f: Record<string, string | number | bigint>) =>
    op('ioas_map', n, { ioas: 1, ...f });
  const unmap = (n: string, iova: bigint, length: bigint, ioas = 1) =>
    op('ioas_unmap', n, { ioas, iova, length });
  const ranges = (n: string, ioas = 1, num = 4) => op('ioas_ranges', n, { ioas, num });

  op('groups', 'groups');
  op('open_iommufd', 'open');
  // dispatch: numbers outside the table, another type byte, a size word below the struct
  op('raw_ioctl', 'raw_below', { i: 0, cmd: 0x3b7f });
  op('raw_ioctl', 'raw_above', { i: 0, cmd: 0x3b9f });
  op('raw_ioctl', 'raw_other_type', { i: 0, cmd: 0x3c81 });
  op('raw_ioctl', 'raw_vfio_cmd', { i: 0, cmd: 0x3b64 });
  op('ioas_alloc', 'alloc_size_0', { size: 0 });
  op('ioas_alloc', 'alloc_size_8', { size: 8 });
  op('ioas_alloc', 'alloc_size_11', { size: 11 });
  op('ioas_alloc', 'alloc_flags', { flags: 1 });
  op('ioas_alloc', 'alloc_tail', { size: 16, tail: 1 });
  op('ioas_alloc', 'alloc_zero_tail', { size: 16 });
  op('ioas_alloc', 'alloc_2');
  op('ioas_alloc', 'alloc_3');
  op('destroy', 'destroy_2', { id: 2 });
  op('destroy', 'destroy_2_again', { id: 2 });
  op('destroy', 'destroy_0', { id: 0 });
  op('ioas_alloc', 'alloc_reuse');
  // a fresh IOAS: everything, alignment 1; the array too small; an unknown IOAS
  ranges('ranges_fresh');
  ranges('ranges_num_0', 1, 0);
  op('ioas_ranges', 'ranges_reserved', { ioas: 1, num: 4, reserved: 1 });
  ranges('ranges_unknown', 99);
  ranges('ranges_not_ioas', 0);
  // IOAS_MAP before any device: nothing is pinned yet
  map('map_fixed', { flags: FIXED | WRITE | READ, iova: MB, length: 2n * 0x1000n });
  map('map_overlap', { flags: FIXED | WRITE | READ, iova: MB + 0x1000n, length: 0x1000n });
  map('map_touching', {
    flags: FIXED | WRITE | READ,
    iova: MB + 0x2000n,
    length: 0x1000n,
    vaddr: 'buf+0x2000',
  });
  map('map_odd_iova', { flags: FIXED | WRITE | READ, iova: 0x3000001n, length: 0x1000n });
  map('map_odd_length', { flags: FIXED | WRITE | READ, iova: 0x4000000n, length: 0x1001n });
  map('map_odd_vaddr', {
    flags: FIXED | WRITE | READ,
    iova: 0x5000000n,
    length: 0x1000n,
    vaddr: 'buf+0x800',
  });
  map('map_length_0', { flags: FIXED | WRITE | READ, iova: 0x6000000n, length: 0n });
  map('map_no_prot', { flags: FIXED, iova: 0x6000000n, length: 0x1000n });
  map('map_bad_flags', { flags: 0x10 | READ, iova: 0x6000000n, length: 0x1000n });
  map('map_reserved_field', { flags: FIXED | READ, iova: 0x6000000n, length: 0x1000n, reserved: 1 });
  map('map_iova_wraps', { flags: FIXED | READ, iova: ALL - 0xfffn, length: 0x2000n });
  map('map_length_max', { flags: FIXED | READ, iova: 0n, length: ALL });
  map('map_top_page', { flags: FIXED | READ, iova: ALL - 0xfffn, length: 0x1000n });
  map('map_unknown_ioas', { ioas: 7, flags: FIXED | READ, iova: 0x6000000n, length: 0x1000n });
  map('map_unmapped_va', { flags: FIXED | READ, iova: 0x6000000n, length: 0x1000n, vaddr: 'abs+0x1000' });
  map('map_ro_writeable', { flags: FIXED | READ | WRITE, iova: 0x7000000n, length: 0x1000n, vaddr: 'ro+0' });
  // allocated IOVAs: where the kernel puts them, and how the user address's alignment matters
  map('alloc_page', { flags: WRITE | READ, length: 0x1000n });
  map('alloc_page_2', { flags: WRITE | READ, length: 0x1000n, vaddr: 'buf+0x1000' });
  map('alloc_64k', { flags: WRITE | READ, length: 0x10000n, vaddr: 'buf+0x10000' });
  map('alloc_2m', { flags: WRITE | READ, length: 2n * MB, vaddr: 'buf+0x200000' });
  map('alloc_odd_va', { flags: WRITE | READ, length: 0x3000n, vaddr: 'buf+0x5000' });
  map('alloc_sub_page', { flags: WRITE | READ, length: 0x800n, vaddr: 'buf+0x800' });
  ranges('ranges_with_maps');
  // ALLOW_IOVAS narrows where allocations go, never fixed maps
  op('ioas_allow', 'allow_window', { ioas: 1, ranges: '0x40000000-0x4fffffff' });
  map('alloc_in_allowed', { flags: WRITE | READ, length: 0x1000n });
  map('fixed_outside_allowed', { flags: FIXED | WRITE | READ, iova: 0x8000000n, length: 0x1000n });
  op('ioas_allow', 'allow_overlapping', { ioas: 1, ranges: '0x1000-0x2fff,0x2000-0x3fff' });
  op('ioas_allow', 'allow_unsorted', { ioas: 1, ranges: '0x10000-0x1ffff,0x1000-0x1fff' });
  op('ioas_allow', 'allow_unaligned', { ioas: 1, ranges: '0x1001-0x1fff' });
  op('ioas_allow', 'allow_inverted', { ioas: 1, ranges: '0x2000-0x1000' });
  op('ioas_allow', 'allow_reserved_field', { ioas: 1, ranges: '0x40000000-0x4fffffff', reserved: 1 });
  op('ioas_allow', 'allow_none', { ioas: 1, ranges: 'none' });
  map('alloc_after_none', { flags: WRITE | READ, length: 0x1000n });
  // IOAS_UNMAP: exact covers only
  unmap('unmap_middle', MB + 0x1000n, 0x1000n);
  unmap('unmap_partial_tail', MB, 0x1000n);
  unmap('unmap_two', MB, 0x3000n);
  unmap('unmap_nothing', MB, 0x3000n);
  unmap('unmap_length_0', MB, 0n);
  unmap('unmap_wraps', ALL - 0xfffn, 0x2000n);
  unmap('unmap_unaligned', 0x40000001n, 0x1000n);
  unmap('unmap_unknown_ioas', MB, 0x1000n, 7);
  // options
  op('option', 'opt_rlimit_get', { option_id: 0, op: 1 });
  op('option', 'opt_rlimit_set_busy', { option_id: 0, op: 0, val: 1 });
  op('option', 'opt_rlimit_object', { option_id: 0, op: 1, object: 1 });
  op('option', 'opt_huge_get', { option_id: 1, op: 1, object: 1 });
  op('option', 'opt_huge_set_0', { option_id: 1, op: 0, object: 1, val: 0 });
  op('option', 'opt_huge_get_0', { option_id: 1, op: 1, object: 1 });
  op('option', 'opt_huge_set_2', { option_id: 1, op: 0, object: 1, val: 2 });
  op('option', 'opt_huge_set_1', { option_id: 1, op: 0, object: 1, val: 1 });
  op('option', 'opt_huge_no_object', { option_id: 1, op: 1, object: 0 });
  op('option', 'opt_bad_id', { option_id: 2, op: 1 });
  op('option', 'opt_bad_op', { option_id: 0, op: 2 });
  op('option', 'opt_reserved', { option_id: 0, op: 1, reserved: 1 });
  unmap('unmap_all_1', 0n, ALL);
  ranges('ranges_emptied');

  // the VFIO device cdev
  op('open_cdev', 'cdev', { d: 0 });
  op('device_info', 'info_before_bind', { d: 0 });
  op('attach_pt', 'attach_before_bind', { d: 0, pt: 1 });
  op('bind_iommufd', 'bind_bad_fd', { d: 0, fd: 'bad' });
  op('bind_iommufd', 'bind_not_iommufd', { d: 0, fd: 'e:0' });
  op('bind_iommufd', 'bind_flags', { d: 0, flags: 1 });
  op('bind_iommufd', 'bind_small', { d: 0, size: 12 });
  // MSI isolation is checked at bind: refused without it unless iommufd's own parameter allows it
  op('param_get', 'unsafe_default', { p: 'iommufd.allow_unsafe_interrupts' });
  op('bind_iommufd', 'bind_isolated', { d: 0 });
  op('param_set', 'unsafe_on', { p: 'iommufd.allow_unsafe_interrupts', value: '1' });
  op('bind_iommufd', 'bind', { d: 0 });
  op('bind_iommufd', 'bind_again', { d: 0 });
  op('device_info', 'info_bound', { d: 0 });
  op('open_group', 'group_while_cdev', { g: 0 });
  op('attach_pt', 'attach_unknown', { d: 0, pt: 99 });
  op('attach_pt', 'attach_flags', { d: 0, pt: 1, flags: 1 });
  // mappings made while the IOAS had no domain are checked (alignment) and pinned at the first attach
  map('lazy_odd', { flags: FIXED | READ, iova: 0x3000800n, length: 0x800n, vaddr: 'buf+0x800' });
  op('attach_pt', 'attach_lazy_odd', { d: 0, pt: 1 });
  unmap('lazy_odd_unmap', 0x3000800n, 0x800n);
  map('lazy_bad_va', { flags: FIXED | READ, iova: 0x6000000n, length: 0x1000n, vaddr: 'abs+0x1000' });
  map('lazy_good', { flags: FIXED | READ | WRITE, iova: 0x5000000n, length: 0x1000n });
  op('attach_pt', 'attach_lazy_bad_va', { d: 0, pt: 1 });
  ranges('ranges_after_failed_attach');
  unmap('lazy_bad_va_unmap', 0x6000000n, 0x1000n);
  op('attach_pt', 'attach', { d: 0, pt: 1 });
  ranges('ranges_attached');
  op('attach_pt', 'attach_again', { d: 0, pt: 1 });
  map('map_msi_window', { flags: FIXED | WRITE | READ, iova: 0xfee00000n, length: 0x1000n });
  map('map_below_msi', { flags: FIXED | WRITE | READ, iova: 0xfed00000n, length: 0x1000n });
  map('map_into_msi', { flags: FIXED | WRITE | READ, iova: 0xfedff000n, length: 0x2000n });
  map('map_high', { flags: FIXED | WRITE | READ, iova: 0x7ffffff000n, length: 0x1000n });
  map('map_past_aperture', { flags: FIXED | WRITE | READ, iova: 0x8000000000n, length: 0x1000n });
  map('map_ht_hole', { flags: FIXED | WRITE | READ, iova: 0xfd00000000n, length: 0x1000n });
  map('map_sw_msi_window', { flags: FIXED | WRITE | READ, iova: 0x8000000n, length: 0x1000n });
  map('map_sub_page_attached', { flags: FIXED | WRITE | READ, iova: 0x9000000n, length: 0x800n });
  map('map_unmapped_va_attached', {
    flags: FIXED | READ,
    iova: 0x6000000n,
    length: 0x1000n,
    vaddr: 'abs+0x1000',
  });
  map('map_ro_writeable_attached', {
    flags: FIXED | READ | WRITE,
    iova: 0x7000000n,
    length: 0x1000n,
    vaddr: 'ro+0',
  });
  map('map_ro_readonly_attached', { flags: FIXED | READ, iova: 0x7000000n, length: 0x1000n, vaddr: 'ro+0' });
  map('map_half_bad_attached', {
    flags: FIXED | READ,
    iova: 0xa000000n,
    length: 0x2000n,
    vaddr: 'buf+0x3fff000',
  });
  map('alloc_attached', { flags: WRITE | READ, length: 0x1000n });
  op('destroy', 'destroy_attached_ioas', { id: 1 });
  // accounting: without CAP_IPC_LOCK the pins count against RLIMIT_MEMLOCK, per user (not VmLck)
  op('vmlck', 'vmlck_before');
  op('rlimit_memlock', 'limit_64k', { value: 0x10000 });
  op('cap_ipc_lock', 'cap_drop', { value: 0 });
  map('acct_16_pages', {
    flags: FIXED | WRITE | READ,
    iova: 0x20000000n,
    length: 0x10000n,
    vaddr: 'buf+0x100000',
  });
  op('vmlck', 'vmlck_user_mode');
  map('acct_one_over', {
    flags: FIXED | WRITE | READ,
    iova: 0x20010000n,
    length: 0x1000n,
    vaddr: 'buf+0x110000',
  });
  map('acct_same_pages_again', {
    flags: FIXED | WRITE | READ,
    iova: 0x20020000n,
    length: 0x1000n,
    vaddr: 'buf+0x100000',
  });
  unmap('acct_unmap', 0x20000000n, 0x10000n);
  map('acct_after_unmap', {
    flags: FIXED | WRITE | READ,
    iova: 0x20010000n,
    length: 0x1000n,
    vaddr: 'buf+0x110000',
  });
  // IOAS_COPY shares the source's pinned pages: charged once, and held while any copy is mapped
  const copy = (n: string, f: Record<string, string | number | bigint>) =>
    op('ioas_copy', n, { dst: 1, src: 1, flags: READ | WRITE, ...f });
  map('copy_src', { flags: FIXED | WRITE | READ, iova: 0x21000000n, length: 0x8000n, vaddr: 'buf+0x200000' });
  copy('copy_within', {
    flags: FIXED | READ | WRITE,
    length: 0x8000n,
    dst_iova: 0x31000000n,
    src_iova: 0x21000000n,
  });
  map('copy_then_map_8', {
    flags: FIXED | WRITE | READ,
    iova: 0x22000000n,
    length: 0x8000n,
    vaddr: 'buf+0x300000',
  });
  copy('copy_slice', { length: 0x2000n, src_iova: 0x21002000n });
  unmap('copy_src_unmap', 0x21000000n, 0x8000n);
  map('copy_after_src_unmap', {
    flags: FIXED | WRITE | READ,
    iova: 0x22000000n,
    length: 0x8000n,
    vaddr: 'buf+0x300000',
  });
  unmap('copy_within_unmap', 0x31000000n, 0x8000n);
  map('copy_after_within_unmap', {
    flags: FIXED | WRITE | READ,
    iova: 0x22000000n,
    length: 0x8000n,
    vaddr: 'buf+0x300000',
  });
  copy('copy_gap', { length: 0x1000n, src_iova: 0x21000000n });
  copy('copy_across_gap', { length: 0x10000n, src_iova: 0x22000000n });
  copy('copy_two_areas', {
    flags: FIXED | READ,
    length: 0x2000n,
    dst_iova: 0x32000000n,
    src_iova: 0x20010000n,
  });
  copy('copy_flags', { flags: 0x8 | READ, length: 0x1000n, src_iova: 0x22000000n });
  copy('copy_no_prot', { flags: FIXED, length: 0x1000n, src_iova: 0x22000000n });
  copy('copy_length_0', { length: 0n, src_iova: 0x22000000n });
  copy('copy_unknown_src', { src: 99, length: 0x1000n, src_iova: 0x22000000n });
  copy('copy_unknown_dst', { dst: 99, length: 0x1000n, src_iova: 0x22000000n });
  copy('copy_ro_writeable', { length: 0x1000n, src_iova: 0x7000000n });
  copy('copy_ro_readable', { flags: READ, length: 0x1000n, src_iova: 0x7000000n });
  copy('copy_dst_overlap', {
    flags: FIXED | READ,
    length: 0x1000n,
    dst_iova: 0x5000000n,
    src_iova: 0x22000000n,
  });
  copy('copy_dst_reserved', {
    flags: FIXED | READ,
    length: 0x1000n,
    dst_iova: 0xfee00000n,
    src_iova: 0x22000000n,
  });
  op('cap_ipc_lock', 'cap_raise', { value: 1 });
  op('rlimit_memlock', 'limit_default', { value: 0x800000 });
  op('param_set', 'unsafe_off', { p: 'iommufd.allow_unsafe_interrupts', value: '0' });
  // a second IOAS: replace the attachment, then detach
  op('ioas_alloc', 'alloc_second');
  op('attach_pt', 'replace', { d: 0, pt: 2 });
  ranges('ranges_first_after_replace');
  ranges('ranges_second', 2);
  op('detach_pt', 'detach_flags', { d: 0, flags: 1 });
  op('detach_pt', 'detach', { d: 0 });
  op('detach_pt', 'detach_again', { d: 0 });
  ranges('ranges_second_detached', 2);
  op('destroy', 'destroy_second', { id: 2 });
  // what QEMU 9.1+ does after bind: IOMMU_GET_HW_INFO (dirty tracking?), then its own HWPT (the device
  // is id 4; the next free ids are 2 for an IOAS and 5 for the HWPT)
  op('hw_info', 'hw_info', { dev: 4 });
  op('hw_info', 'hw_info_short', { dev: 4, data_len: 8, fill: 0xaa });
  op('hw_info', 'hw_info_long', { dev: 4, data_len: 40, fill: 0xaa });
  op('hw_info', 'hw_info_none', { dev: 4, data_len: 0 });
  op('hw_info', 'hw_info_flags', { dev: 4, flags: 1 });
  op('hw_info', 'hw_info_reserved', { dev: 4, reserved: 1 });
  op('hw_info', 'hw_info_not_device', { dev: 1 });
  op('hw_info', 'hw_info_size_32', { dev: 4, size: 32 });
  op('hw_info', 'hw_info_size_31', { dev: 4, size: 31 });
  op('ioas_alloc', 'hwpt_ioas');
  map('hwpt_lazy_bad_va', {
    ioas: 2,
    flags: FIXED | READ,
    iova: 0x100000n,
    length: 0x1000n,
    vaddr: 'abs+0x1000',
  });
  op('hwpt_alloc', 'hwpt_pins_at_alloc', { dev: 4, pt: 2 });
  unmap('hwpt_lazy_unmap', 0x100000n, 0x1000n, 2);
  op('hwpt_alloc', 'hwpt_dirty', { dev: 4, pt: 2, flags: 2 });
  op('hwpt_alloc', 'hwpt_nest_parent', { dev: 4, pt: 2, flags: 1 });
  op('hwpt_alloc', 'hwpt_fault_id', { dev: 4, pt: 2, flags: 4 });
  op('hwpt_alloc', 'hwpt_bad_flags', { dev: 4, pt: 2, flags: 8 });
  op('hwpt_alloc', 'hwpt_len_no_type', { dev: 4, pt: 2, data_len: 8 });
  op('hwpt_alloc', 'hwpt_type_no_len', { dev: 4, pt: 2, data_type: 1 });
  op('hwpt_alloc', 'hwpt_user_data', { dev: 4, pt: 2, data_type: 1, data_len: 8 });
  op('hwpt_alloc', 'hwpt_reserved', { dev: 4, pt: 2, reserved: 1 });
  op('hwpt_alloc', 'hwpt_no_dev', { dev: 99, pt: 2 });
  op('hwpt_alloc', 'hwpt_dev_not_device', { dev: 1, pt: 2 });
  op('hwpt_alloc', 'hwpt_no_pt', { dev: 4, pt: 99 });
  op('hwpt_alloc', 'hwpt_pt_device', { dev: 4, pt: 4 });
  op('hwpt_alloc', 'hwpt_size_24', { dev: 4, pt: 2, size: 24 });
  ranges('ranges_manual_hwpt', 2);
  op('hwpt_alloc', 'hwpt_nested', { dev: 4, pt: 5, data_type: 1, data_len: 8 });
  op('hwpt_alloc', 'hwpt_nested_no_data', { dev: 4, pt: 5 });
  op('attach_pt', 'attach_manual', { d: 0, pt: 5 });
  ranges('ranges_manual_attached', 2);
  op('destroy', 'destroy_manual_attached', { id: 5 });
  op('destroy', 'destroy_ioas_with_hwpt', { id: 2 });
  op('attach_pt', 'attach_ioas_beside_manual', { d: 0, pt: 2 });
  op('detach_pt', 'detach_manual', { d: 0 });
  ranges('ranges_manual_detached', 2);
  op('destroy', 'destroy_manual', { id: 5 });
  ranges('ranges_manual_gone', 2);
  op('destroy', 'destroy_hwpt_ioas', { id: 2 });
  op('close_device', 'close_cdev', { d: 0 });
  op('open_group', 'group_after_cdev', { g: 0 });
  op('close_group', 'close_group', { g: 0 });
  // process accounting (IOMMU_OPTION_RLIMIT_MODE=1) on a second iommufd with no objects yet
  op('open_iommufd', 'open_second', { i: 1 });
  op('option', 'opt_rlimit_set_mm', { i: 1, option_id: 0, op: 0, val: 1 });
  op('option', 'opt_rlimit_get_mm', { i: 1, option_id: 0, op: 1 });
  op('option', 'opt_rlimit_set_3', { i: 1, option_id: 0, op: 0, val: 3 });
  op('ioas_alloc', 'mm_alloc', { i: 1 });
  op('open_cdev', 'cdev_again', { d: 0 });
  op('bind_iommufd', 'bind_second', { d: 0, fd: 'i:1' });
  op('attach_pt', 'attach_second', { d: 0, pt: 1 });
  op('rlimit_memlock', 'mm_limit_64k', { value: 0x10000 });
  op('cap_ipc_lock', 'mm_cap_drop', { value: 0 });
  w.op('ioas_map', 'f.mm_16_pages', {
    i: 1,
    ioas: 1,
    flags: FIXED | WRITE | READ,
    iova: 0x20000000n,
    length: 0x10000n,
    vaddr: 'buf+0x100000',
  });
  op('vmlck', 'vmlck_mm_mode');
  w.op('ioas_map', 'f.mm_one_over', {
    i: 1,
    ioas: 1,
    flags: FIXED | WRITE | READ,
    iova: 0x20010000n,
    length: 0x1000n,
    vaddr: 'buf+0x110000',
  });
  op('cap_ipc_lock', 'mm_cap_raise', { value: 1 });
  op('rlimit_memlock', 'mm_limit_default', { value: 0x800000 });
  op('close_device', 'close_cdev_second', { d: 0 });
  op('vmlck', 'vmlck_after_close_device');
  op('close_iommufd', 'close_second', { i: 1 });
  op('vmlck', 'vmlck_after_close');
  // a device in a group a kernel driver also uses (x86-intel-iommufd: the AHCI 00:1f.2, whose group has
  // the i801 SMBus driver bound): bind cannot take DMA ownership of the group
  op('open_cdev', 'cdev_second_group', { d: 1 });
  op('bind_iommufd', 'bind_shared_group', { d: 1, fd: 'i:0' });
  op('close_device', 'close_cdev_second_group', { d: 1 });
  op('close_iommufd', 'close', { i: 0 });
  return w.text();
}
