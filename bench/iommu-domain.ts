/**
 * IOMMU paging domain: iommu_map / iova_to_phys / iommu_unmap with up to 10^6 separate 4 KiB mappings
 * (what VFIO type1 puts there with dma_entry_limit raised), and the memory they take.
 */
import { gcNow, type Benchmark, type Figure } from './harness.js';
import { buildPlatform } from '../src/platform/build.js';
import { loadPreset } from '../src/platform/presets.js';
import { IOMMU_READ, IOMMU_WRITE } from '../src/iommu/resv-region.js';
import { CoreDomain } from '../src/iommu/domain.js';

/**
 * Live bytes per mapping: n separate 4 KiB mappings in a new domain, collected before and after. In a
 * function of its own so that nothing else of the benchmark is alive in between.
 */
function bytesPerMapping(n: number): number {
  const core = buildPlatform(loadPreset('qemu-q35-intel-iommu')).iommu;
  const d = core.allocPagingDomain(core.device('00:02.0')!);
  if (!d.ok || !(d.value instanceof CoreDomain)) throw new Error('no domain');
  gcNow();
  const heap0 = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
  for (let i = 0; i < n; i++) d.value.mapFrames(2 * i, i, 1, IOMMU_READ | IOMMU_WRITE);
  gcNow();
  const heap1 = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
  if (d.value.mappingCount !== n) throw new Error('mappings lost'); // (keeps the domain alive)
  return (heap1 - heap0) / n;
}

export const iommuDomainBench: Benchmark = {
  name: 'iommu-domain',
  run({ quick, log }) {
    const n = quick ? 100_000 : 1_000_000;
    const bytes = bytesPerMapping(n);
    const core = buildPlatform(loadPreset('qemu-q35-intel-iommu')).iommu;
    const dom = core.allocPagingDomain(core.device('00:02.0')!);
    if (!dom.ok) throw new Error('no domain');
    const d = dom.value;
    if (!(d instanceof CoreDomain)) throw new Error('not a core domain');
    const rw = IOMMU_READ | IOMMU_WRITE;
    // Every other page, so no two mappings touch (they stay separate runs).
    let t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) d.map(BigInt(i) * 0x2000n, BigInt(i) * 0x1000n, 0x1000n, rw);
    const mapNs = Number(process.hrtime.bigint() - t0) / n;
    t0 = process.hrtime.bigint();
    let acc = 0n;
    for (let i = 0; i < n; i++) acc ^= d.iovaToPhys(BigInt((i * 7919) % n) * 0x2000n + 0x10n);
    const lookupNs = Number(process.hrtime.bigint() - t0) / n;
    t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) d.unmap(BigInt(i) * 0x2000n, 0x1000n);
    const unmapNs = Number(process.hrtime.bigint() - t0) / n;
    // The same through the frame-number fast path (what VFIO type1 uses).
    t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) d.mapFrames(2 * i, i, 1, rw);
    const mapFramesNs = Number(process.hrtime.bigint() - t0) / n;
    t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) d.unmapFrames(2 * i, 1);
    const unmapFramesNs = Number(process.hrtime.bigint() - t0) / n;
    log(`iommu-domain: ${n} mappings, checksum ${acc & 0xffffn}, left ${d.mappingCount}`);
    const figs: Figure[] = [
      { name: `iommu_map (${n} mappings)`, value: Math.round(mapNs), unit: 'ns/op' },
      { name: 'iova_to_phys', value: Math.round(lookupNs), unit: 'ns/op' },
      { name: 'iommu_unmap', value: Math.round(unmapNs), unit: 'ns/op' },
      { name: 'mapFrames (number fast path)', value: Math.round(mapFramesNs), unit: 'ns/op' },
      { name: 'unmapFrames (number fast path)', value: Math.round(unmapFramesNs), unit: 'ns/op' },
      { name: 'memory per mapping', value: Math.round(bytes), unit: 'bytes' },
    ];
    return figs;
  },
};
