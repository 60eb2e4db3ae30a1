/**
 * The probe scenario: the oracle's `probe_full` sequence (vfio_probe.c: API, extensions, group, GET_INFO
 * at several argsz, the MAP/UNMAP edge-case table, holes and aperture, UNMAP_ALL, UPDATE_VADDR, the
 * dma_entry_limit fill), plus an attach with default module parameters, the lowered-limit fill, the
 * legacy TYPE1 table, the two-group container steps and sysfs/MSI evidence. Case names are the
 * oracle's, so the kernel run can be checked line by line against the oracle captures (shared/oracle/out).
 */

import { CompiledWriter } from './compiled.js';
import type { ConformanceMachine } from './machines.js';

const PAGE = 0x1000n;
const EXTENSIONS: readonly [number, string][] = [
  [1, 'TYPE1'],
  [2, 'SPAPR_TCE'],
  [3, 'TYPE1v2'],
  [4, 'DMA_CC'],
  [5, 'EEH'],
  [6, 'TYPE1_NESTING'],
  [7, 'SPAPR_TCE_v2'],
  [8, 'NOIOMMU'],
  [9, 'UNMAP_ALL'],
  [10, 'UPDATE_VADDR'],
  [11, 'ext11'],
  [0, 'ext0'],
];
const RW = 3;

function attach(w: CompiledWriter, p: string, type: number): void {
  w.op('open_container', `${p}open_container`);
  w.op('open_group', `${p}open_group`, { g: 0 });
  w.op('set_container', `${p}group_set_container`, { g: 0 });
  w.op('set_iommu', `${p}set_iommu`, { type });
}

/** vfio_probe's start: API, extensions, group, SET_CONTAINER, SET_IOMMU (type), SET_IOMMU again. */
function preamble(w: CompiledWriter, p: string, type: number, fallback: boolean): void {
  w.op('open_container', `${p}open_container`);
  w.op('api_version', `${p}get_api_version`);
  for (const [id, n] of EXTENSIONS) w.op('check_ext', `${p}check_ext_before_${n}`, { ext: id });
  w.op('open_group', `${p}open_group`, { g: 0 });
  w.op('group_status', `${p}group_status_before`, { g: 0 });
  w.op('set_iommu', `${p}set_iommu_without_group`, { type: 3 });
  w.op('get_info', `${p}get_info_without_iommu`, { argsz: 24 });
  w.op('set_container', `${p}group_set_container`, { g: 0 });
  w.op('group_status', `${p}group_status_after_set_container`, { g: 0 });
  w.op('set_iommu', type === 1 ? `${p}set_iommu_type1` : `${p}set_iommu_type1v2`, { type });
  // vfio_probe retries with the legacy type when v2 fails (only shown where it fails: unsafe_retry)
  if (fallback) w.op('set_iommu', `${p}set_iommu_type1_fallback`, { type: 1 });
  w.op('set_iommu', `${p}set_iommu_again`, { type: 3 });
  for (const [id, n] of EXTENSIONS) w.op('check_ext', `${p}check_ext_after_${n}`, { ext: id });
}

function detach(w: CompiledWriter, p: string): void {
  w.op('close_group', `${p}close_group`, { g: 0 });
  w.op('close_container', `${p}close_container`);
}

/**
 * GET_INFO with argsz negotiation, as vfio_probe does it: `<name>_round0` at argsz 24 learns the size,
 * the second call (`<name>_round1` unless named) at that argsz dumps the capability chain.
 */
function infoRounds(w: CompiledWriter, name: string, second = `${name}_round1`): void {
  w.op('get_info', `${name}_round0`, { argsz: 24 });
  w.op('get_info', second, { argsz: 'last', dump: 1 });
}

/** vfio_probe's device fd and GET_INFO probes after SET_IOMMU. */
function infoProbes(w: CompiledWriter, p: string): void {
  w.op('device_fd', `${p}group_get_device_fd`, { g: 0, d: 0 });
  w.op('device_info', `${p}device_get_info`, { d: 0 });
  w.op('close_device', `${p}device_close`, { d: 0 });
  w.op('get_info', `${p}get_info_argsz8`, { argsz: 8 });
  w.op('get_info', `${p}get_info_argsz16`, { argsz: 16, fill: '0xff' });
  w.op('get_info', `${p}get_info_argsz4096`, { argsz: 4096, fill: '0xee' });
  infoRounds(w, `${p}get_info`);
}

/** The MAP/UNMAP table of vfio_probe's `full` mode, after SET_IOMMU. */
function mapTable(w: CompiledWriter, m: ConformanceMachine, p: string): void {
  const map = (
    name: string,
    iova: bigint,
    size: bigint,
    extra: Record<string, string | number | bigint> = {},
  ): void => {
    w.op('map', p + name, { flags: RW, iova, size, vaddr: 'buf+0x0', ...extra });
  };
  const unmap = (
    name: string,
    iova: bigint,
    size: bigint,
    extra: Record<string, string | number | bigint> = {},
  ): void => {
    w.op('unmap', p + name, { flags: 0, iova, size, ...extra });
  };
  const avail = (tag: string): void => {
    w.op('get_info', `${p}dma_avail_${tag}`, { argsz: 'last', dump: 1 });
  };
  map('a_map_valid', 0x100000n, 0x1000n);
  avail('after_a');
  map('b_map_duplicate', 0x100000n, 0x1000n);
  map('d_map_overlap_tail_into_existing', 0xff000n, 0x2000n);
  map('d_map_overlap_head_from_existing', 0x100000n, 0x2000n);
  map('d_map_superset_of_existing', 0xff000n, 0x3000n);
  map('d_map_adjacent_below', 0xff000n, 0x1000n);
  map('d_map_adjacent_above', 0x101000n, 0x1000n);
  avail('after_d');
  map('e_map_unaligned_iova', 0x200800n, 0x1000n);
  map('e_map_unaligned_size', 0x200000n, 0x800n);
  map('e_map_unaligned_vaddr', 0x200000n, 0x1000n, { vaddr: 'buf+0x800' });
  map('f_map_size0', 0x200000n, 0n);
  map('x_map_flags_none', 0x200000n, 0x1000n, { flags: 0 });
  map('x_map_flags_readonly', 0x300000n, 0x1000n, { flags: 1, vaddr: 'buf+0x1000' });
  map('x_map_flags_writeonly', 0x310000n, 0x1000n, { flags: 2, vaddr: 'buf+0x2000' });
  map('x_map_flags_unknown_bit', 0x200000n, 0x1000n, { flags: '0x83' });
  map('x_map_argsz_small', 0x200000n, 0x1000n, { argsz: 16 });
  map('x_map_argsz_large', 0x320000n, 0x1000n, { argsz: 64, vaddr: 'buf+0x3000' });
  map('x_map_iova_wrap', 0xfffffffffffff000n, 0x2000n);
  map('x_map_vaddr_unmapped', 0x200000n, 0x1000n, { vaddr: 'abs+0x1000' });
  map('x_map_vaddr_readonly_mem_rw', 0x210000n, 0x1000n, { vaddr: 'ro+0x0' });
  map('x_map_vaddr_readonly_mem_ro', 0x220000n, 0x1000n, { flags: 1, vaddr: 'ro+0x0' });
  map('x_map_2MiB', 0x800000n, 0x200000n);
  map('x_map_iova_0', 0x0n, 0x1000n, { vaddr: 'buf+0x4000' });
  map('c_map_x86_msi_0xfee00000', 0xfee00000n, 0x1000n);
  map('c_map_arm_swmsi_0x08000000', 0x08000000n, 0x1000n);
  const r = m.iovaRanges;
  for (let i = 0; i + 1 < r.length; i++) {
    const gs = r[i]![1] + 1n;
    const ge = r[i + 1]![0] - 1n;
    map(`c_hole${i}_map_at_start`, gs, PAGE);
    map(`c_hole${i}_map_last_page`, ge + 1n - PAGE, PAGE);
    map(`c_hole${i}_map_straddle_low`, gs - PAGE, 2n * PAGE);
    map(`c_hole${i}_map_straddle_high`, ge + 1n - PAGE, 2n * PAGE);
    map(`c_hole${i}_map_span_whole`, gs - PAGE, ge - gs + 1n + 2n * PAGE);
    // vfio_probe unmaps only what it could map; both pages are usable by construction.
    map(`c_hole${i}_map_just_below`, gs - PAGE, PAGE);
    unmap(`c_hole${i}_unmap_just_below`, gs - PAGE, PAGE);
    map(`c_hole${i}_map_just_above`, ge + 1n, PAGE);
    unmap(`c_hole${i}_unmap_just_above`, ge + 1n, PAGE);
  }
  const top = r[r.length - 1]![1];
  if (top < 0xfffffffffffff000n) {
    map('c_map_above_aperture', top + 1n, PAGE);
    map('c_map_straddle_aperture_top', top + 1n - PAGE, 2n * PAGE);
    map('c_map_last_page_of_aperture', top + 1n - PAGE, PAGE);
    unmap('c_unmap_last_page_of_aperture', top + 1n - PAGE, PAGE);
  }
  map('c_map_iova_2pow52', 1n << 52n, PAGE);

  w.op('map', p + 'g_setup_map_4pages', { flags: RW, iova: 0x400000n, size: 0x4000n, vaddr: 'buf+0x10000' });
  unmap('g_unmap_middle_page', 0x401000n, 0x1000n);
  unmap('g_unmap_first_page', 0x400000n, 0x1000n);
  unmap('g_unmap_last_page', 0x403000n, 0x1000n);
  unmap('g_unmap_nothing_mapped', 0x10000000n, 0x1000n);
  unmap('g_unmap_unaligned_iova', 0x400800n, 0x1000n);
  unmap('g_unmap_unaligned_size', 0x400000n, 0x800n);
  unmap('g_unmap_size0', 0x400000n, 0n);
  unmap('g_unmap_wrap', 0xfffffffffffff000n, 0x2000n);
  unmap('g_unmap_argsz_small', 0x400000n, 0x4000n, { argsz: 8 });
  unmap('g_unmap_flags_unknown', 0x400000n, 0x4000n, { flags: '0x80' });
  unmap('g_unmap_superset', 0x3ff000n, 0x6000n);
  unmap('g_unmap_again_after_gone', 0x400000n, 0x4000n);
  map('g_setup_map_A', 0x500000n, 0x1000n, { vaddr: 'buf+0x20000' });
  map('g_setup_map_B', 0x501000n, 0x1000n, { vaddr: 'buf+0x21000' });
  map('g_setup_map_C', 0x502000n, 0x2000n, { vaddr: 'buf+0x22000' });
  unmap('g_unmap_tail_bisect_C', 0x500000n, 0x3000n);
  unmap('g_unmap_span_A_B', 0x500000n, 0x2000n);
  unmap('g_unmap_exact_C', 0x502000n, 0x2000n);
  unmap('g_unmap_whole_a_valid', 0x100000n, 0x1000n);
  avail('after_g');

  map('h_setup_map_1', 0x600000n, 0x1000n, { vaddr: 'buf+0x30000' });
  map('h_setup_map_2', 0x700000n, 0x3000n, { vaddr: 'buf+0x31000' });
  unmap('h_unmap_all_with_iova', 0x600000n, 0n, { flags: 2 });
  unmap('h_unmap_all_with_size', 0n, 0x1000n, { flags: 2 });
  unmap('h_unmap_all_plus_dirty_bitmap', 0n, 0n, { flags: 3 });
  unmap('h_unmap_all', 0n, 0n, { flags: 2 });
  unmap('h_unmap_all_again_empty', 0n, 0n, { flags: 2 });
  avail('after_h');

  map('u_setup_map', 0x900000n, 0x2000n, { vaddr: 'buf+0x40000' });
  unmap('u_unmap_vaddr_partial', 0x900000n, 0x1000n, { flags: 4 });
  unmap('u_unmap_vaddr', 0x900000n, 0x2000n, { flags: 4 });
  unmap('u_unmap_vaddr_again', 0x900000n, 0x2000n, { flags: 4 });
  map('u_map_plain_over_invalidated', 0x900000n, 0x2000n, { vaddr: 'buf+0x40000' });
  map('u_map_vaddr_with_rw', 0x900000n, 0x2000n, { flags: 7, vaddr: 'buf+0x50000' });
  map('u_map_vaddr_wrong_size', 0x900000n, 0x1000n, { flags: 4, vaddr: 'buf+0x50000' });
  map('u_map_vaddr_no_mapping', 0xa00000n, 0x2000n, { flags: 4, vaddr: 'buf+0x50000' });
  map('u_map_vaddr', 0x900000n, 0x2000n, { flags: 4, vaddr: 'buf+0x50000' });
  map('u_map_vaddr_when_valid', 0x900000n, 0x2000n, { flags: 4, vaddr: 'buf+0x50000' });
  unmap('u_unmap', 0x900000n, 0x2000n);
  unmap('u_unmap_all_plus_vaddr', 0n, 0n, { flags: 6 });
  w.op('get_info', p + 'get_info_final_round0', { argsz: 24 });
  w.op('get_info', p + 'get_info_final_round1', { argsz: 'last', dump: 1 });
}

/** vfio_probe's fill base: 1 GiB, or the first 1 MiB-aligned spot of a range with room for 70000 pages. */
function fillBase(m: ConformanceMachine): bigint {
  for (const [s0, e] of m.iovaRanges) {
    const s = s0 < 0x40000000n ? 0x40000000n : s0;
    if (s <= e && e - s + 1n >= 70000n << 12n) return (s + 0xfffffn) & ~0xfffffn;
  }
  return 0x40000000n;
}

function fill(w: CompiledWriter, m: ConformanceMachine, tag: string, limit: bigint): void {
  const base = fillBase(m);
  w.op('param_get', 'param_dma_entry_limit', { p: 'dma_entry_limit' });
  w.op('get_info', 'dma_avail_before_fill', { argsz: 'last', dump: 1 });
  w.op('fill', `${tag}_fill`, { base });
  w.op('get_info', 'dma_avail_after_fill', { argsz: 'last', dump: 1 });
  // vfio_probe: one more map past the refusal, at index limit+1, to show the error is sticky
  w.op('map', 'fill_one_more', { flags: RW, iova: base + (limit + 1n) * PAGE, size: PAGE, vaddr: 'buf+0x0' });
  w.op('unmap', 'fill_unmap_all', { flags: 2, iova: 0, size: 0 });
  w.op('get_info', 'dma_avail_after_fill_unmap', { argsz: 'last', dump: 1 });
}

/** Builds the probe scenario for one machine. */
export function probeScenario(m: ConformanceMachine): string {
  const w = new CompiledWriter();
  w.directive('format', 'full');
  w.directive('section', 'sysfs');
  w.op('groups', 'iommu_groups');
  w.op('param_get', 'param_allow_unsafe_interrupts', { p: 'allow_unsafe_interrupts' });
  w.op('param_get', 'param_dma_entry_limit', { p: 'dma_entry_limit' });
  w.op('param_get', 'param_disable_hugepages', { p: 'disable_hugepages' });

  // The oracle's unsafe_retry: SET_IOMMU with default parameters, then allow unsafe interrupts for the
  // rest of the run (it changes nothing where interrupts are isolated).
  w.directive('section', 'attach_default');
  preamble(w, 'ad_', 3, true);
  detach(w, 'ad_');
  w.op('param_set', 'set_allow_unsafe_interrupts', { p: 'allow_unsafe_interrupts', value: '1' });

  w.directive('section', 'probe_full');
  preamble(w, '', 3, false);
  infoProbes(w, '');
  mapTable(w, m, '');
  fill(w, m, 'i_default_limit', 65535n);
  w.op('resv', 'resv_after_probe', { g: 0 });
  detach(w, '');

  w.directive('section', 'probe_limit');
  w.op('param_set', 'set_dma_entry_limit_16', { p: 'dma_entry_limit', value: '16' });
  preamble(w, 'l_', 3, false);
  infoRounds(w, 'l_get_info');
  fill(w, m, 'i_lowered_limit', 16n);
  detach(w, 'l_');
  w.op('param_set', 'restore_dma_entry_limit', { p: 'dma_entry_limit', value: '65535' });

  w.directive('section', 'probe_full_type1_v1');
  preamble(w, 'v1_', 1, false);
  infoProbes(w, 'v1_');
  mapTable(w, m, 'v1_');
  detach(w, 'v1_');

  if (m.secondGroup) {
    w.directive('section', 'probe_multi_group');
    preamble(w, 'multi_', 3, false);
    infoRounds(w, 'multi_get_info_one_group');
    w.op('map', 'multi_map_iova0_before', { flags: RW, iova: 0, size: PAGE, vaddr: 'buf+0x0' });
    w.op('map', 'multi_map_1MiB_before', { flags: RW, iova: 0x100000n, size: PAGE, vaddr: 'buf+0x1000' });
    w.op('open_group', 'multi_open_group2', { g: 1 });
    w.op('group_status', 'multi_group2_status', { g: 1 });
    w.op('set_container', 'multi_group2_set_container', { g: 1 });
    infoRounds(w, 'multi_get_info_two_groups');
    w.op('map', 'multi_map_0x2000_after', { flags: RW, iova: 0x2000n, size: PAGE, vaddr: 'buf+0x2000' });
    w.op('map', 'multi_map_0xfee00000_after', {
      flags: RW,
      iova: 0xfee00000n,
      size: PAGE,
      vaddr: 'buf+0x3000',
    });
    w.op('unmap', 'multi_unmap_all', { flags: 2, iova: 0, size: 0 });
    w.op('unset_container', 'multi_group2_unset_container', { g: 1 });
    infoRounds(w, 'multi_get_info_after_unset');
    w.op('unset_container', 'multi_group1_unset_container', { g: 0 });
    w.op('get_info', 'multi_get_info_no_groups', { argsz: 24 });
    w.op('close_group', 'multi_close_group2', { g: 1 });
    detach(w, 'multi_');
  }

  w.directive('section', 'msi');
  attach(w, 'msi_', 3);
  w.op('device_fd', 'msi_device_fd', { g: 0, d: 0 });
  for (let i = 0; i <= 4; i++) w.op('irq_info', `msi_irq_info_${i}`, { d: 0, index: i });
  w.op('msi_read', 'msi_cap_before_enable', { d: 0 });
  w.op('set_irqs', 'msi_enable_1', { d: 0, index: 1, start: 0, count: 1, flags: '0x24', data: 'efd:0' });
  w.op('msi_read', 'msi_cap_enabled', { d: 0 });
  // while MSI is live: the doorbell window stays reserved and the IOVA ranges do not change
  const hole = m.iovaRanges[0]![1] + 1n;
  w.op('map', 'msi_map_hole0_while_enabled', { flags: RW, iova: hole, size: PAGE, vaddr: 'buf+0x0' });
  infoRounds(w, 'msi_get_info', 'msi_get_info_while_enabled');
  w.op('msi_fire', 'msi_fire_rxq0', { d: 0, cause: '0x100000' });
  w.op('efd_read', 'msi_delivered_rxq0', { e: 0, wait_ms: 2000 });
  w.op('msi_fire', 'msi_fire_txq0', { d: 0, cause: '0x400000' });
  w.op('efd_read', 'msi_delivered_txq0', { e: 0, wait_ms: 2000 });
  w.op('set_irqs', 'msi_trigger_none', { d: 0, index: 1, start: 0, count: 1, flags: '0x21' });
  w.op('efd_read', 'msi_delivered_soft', { e: 0, wait_ms: 100 });
  w.op('set_irqs', 'msi_disable', { d: 0, index: 1, start: 0, count: 0, flags: '0x21' });
  w.op('msi_read', 'msi_cap_after_disable', { d: 0 });
  w.op('close_device', 'msi_close_device', { d: 0 });
  detach(w, 'msi_');
  w.op('param_set', 'restore_allow_unsafe_interrupts', { p: 'allow_unsafe_interrupts', value: '0' });
  return w.text();
}
