/**
 * The group-type scenario (`common/group-type.iovx`, every machine, last): writes to
 * /sys/kernel/iommu_groups/N/type (iommu_group_store_type) on the vfio-pci NIC's group, before and
 * while VFIO owns it, and on group 0 (on x86 the host bridge, with no driver; on arm64 the NIC's group
 * again): bad words, identity, DMA, DMA-FQ (a live DMA domain gains a flush queue), auto. Each step
 * prints what write(2) answered and the type read back. It ends with `auto` on both groups, the boot
 * default.
 */

import { attachNic, detachNic, scenarioWriter } from './attach.js';

export function groupTypeScenario(): string {
  const w = scenarioWriter('group_type');
  const nic = (name: string, value: string) => w.op('group_type', `t.nic_${name}`, { g: 0, value });
  const g0 = (name: string, value: string) => w.op('group_type', `t.g0_${name}`, { nr: 0, value });
  nic('bogus', 'bogus');
  nic('empty', '""');
  nic('lowercase_dma', 'dma');
  nic('identity', 'identity');
  nic('dma', 'DMA');
  nic('dma_fq', 'DMA-FQ');
  nic('dma_again', 'DMA');
  nic('auto', 'auto');
  g0('identity', 'identity');
  g0('identity_again', 'identity');
  g0('dma', 'DMA');
  g0('dma_fq', 'DMA-FQ');
  g0('auto', 'auto');
  // VFIO owns the group from SET_CONTAINER on
  attachNic(w, 't.');
  nic('owned_identity', 'identity');
  nic('owned_dma', 'DMA');
  nic('owned_dma_fq', 'DMA-FQ');
  nic('owned_auto', 'auto');
  w.op('map', 't.map_while_owned', { iova: 0x100000n, size: 0x10000n, vaddr: 'buf+0' });
  detachNic(w, 't.');
  nic('released_auto', 'auto');
  g0('end_auto', 'auto');
  return w.text();
}
