/**
 * VFIO type1 MAP_DMA + UNMAP_DMA pairs per second through the byte-level ioctl path, with 10^3,
 * 6.5·10^4 and 10^6 live 4 KiB mappings (dma_entry_limit raised), and heap bytes per live mapping
 * (VFIO's DMA tree plus the IOMMU domain's page table model).
 */
import { attachMsiFabric } from '../src/irq/fabric.js';
import { kernelProfile } from '../src/kernel/profile.js';
import { AddressSpace, PROT_READ, PROT_WRITE } from '../src/mm/address-space.js';
import { buildPlatform } from '../src/platform/build.js';
import { loadPreset } from '../src/platform/presets.js';
import {
  DMA_MAP_SIZE,
  DMA_UNMAP_SIZE,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_UNMAP_DMA,
  intArg,
  putU32,
  putU64,
} from '../src/uapi/vfio-type1.js';
import { VfioSystem } from '../src/vfio/system.js';
import { dependentLoadNs, gcNow, type Benchmark, type Figure } from './harness.js';

const BUF = 0x7f0000000000n;
/** Above 4 GiB: 10^6 mappings at every other page span 8 GiB, clear of the x86 MSI window. */
const BASE = 0x100000000n;

export function setup(limit: number): { sys: VfioSystem; c: number } {
  const desc = loadPreset('qemu-q35-intel-iommu');
  const core = buildPlatform(desc, kernelProfile('6.12')).iommu;
  attachMsiFabric(core, desc);
  const nic = core.devices().find((d) => d.vendor === 0x8086 && d.deviceId === 0x10d3)!;
  core.unbindDriver(nic);
  core.bindDriver(nic, 'vfio-pci', true);
  const mm = new AddressSpace();
  mm.map('buf', BUF, 1n << 24n, PROT_READ | PROT_WRITE);
  const sys = new VfioSystem({ core, profile: kernelProfile('6.12'), params: { dmaEntryLimit: limit }, mm });
  const c = sys.open('/dev/vfio/vfio');
  const g = sys.open(`/dev/vfio/${nic.groupId}`);
  if (sys.ioctl(g, 0x3b00 | 104, intArg(c)) !== 0 || sys.ioctl(c, 0x3b00 | 102, 3) !== 0)
    throw new Error('attach failed');
  return { sys, c };
}

/** Live mappings at even pages from BASE; the measured pairs use odd pages. */
export function fill(sys: VfioSystem, c: number, n: number): void {
  const b = new Uint8Array(DMA_MAP_SIZE);
  putU32(b, 0, DMA_MAP_SIZE);
  putU32(b, 4, 3);
  putU64(b, 8, BUF);
  putU64(b, 24, 0x1000n);
  for (let i = 0; i < n; i++) {
    putU64(b, 16, BASE + BigInt(i) * 0x2000n);
    if (sys.ioctl(c, VFIO_IOMMU_MAP_DMA, b) !== 0) throw new Error(`fill failed at ${i}`);
  }
}

/**
 * Nanoseconds per MAP+UNMAP pair at random odd pages among `live` mappings: [wall, cpu]. CPU time
 * (process.cpuUsage) is what the figures use: the build machine is shared, so wall time mostly measures
 * the other processes.
 */
export function pairs(sys: VfioSystem, c: number, live: number, count: number): [number, number] {
  const m = new Uint8Array(DMA_MAP_SIZE);
  putU32(m, 0, DMA_MAP_SIZE);
  putU32(m, 4, 3);
  putU64(m, 8, BUF);
  putU64(m, 24, 0x1000n);
  const u = new Uint8Array(DMA_UNMAP_SIZE);
  putU32(u, 0, DMA_UNMAP_SIZE);
  // UNMAP writes back the unmapped size, which is this same 0x1000 on success.
  putU64(u, 16, 0x1000n);
  const base = Number(BASE);
  let x = 12345;
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  for (let i = 0; i < count; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    // The same x % live and iova % 2^32 as before, without `%` on doubles (a libc fmod call that
    // the harness would otherwise add to every measured pair).
    const iova = base + (x - Math.floor(x / live) * live) * 0x2000 + 0x1000;
    const hi = Math.floor(iova / 4294967296);
    const lo = iova - hi * 4294967296;
    putU32(m, 16, lo);
    putU32(m, 20, hi);
    putU32(u, 8, lo);
    putU32(u, 12, hi);
    if (sys.ioctl(c, VFIO_IOMMU_MAP_DMA, m) !== 0) throw new Error('map failed');
    if (sys.ioctl(c, VFIO_IOMMU_UNMAP_DMA, u) !== 0) throw new Error('unmap failed');
  }
  const cpu = process.cpuUsage(c0);
  return [Number(process.hrtime.bigint() - t0) / count, ((cpu.user + cpu.system) * 1000) / count];
}

export const vfioType1Bench: Benchmark = {
  name: 'vfio-type1',
  run({ quick, log }) {
    const figs: Figure[] = [];
    const sizes = quick ? [1000, 65000, 200000] : [1000, 65000, 1000000];
    const ns: number[] = [];
    // All sizes set up first, then measured in interleaved rounds: the machine is shared, so a burst
    // from another process lands on every size alike instead of on one, and the median of the rounds
    // drops it. (The ratio compares sizes measured minutes apart otherwise.)
    const systems = sizes.map((live) => {
      const s = setup(live + 16);
      fill(s.sys, s.c, live);
      pairs(s.sys, s.c, live, 20000); // warm-up
      return s;
    });
    const ROUNDS = 5;
    const runs: [number, number][][] = sizes.map(() => []);
    // the machine's memory latency at the largest state's size, measured in every round too
    const floor: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      sizes.forEach((live, k) =>
        runs[k]!.push(pairs(systems[k]!.sys, systems[k]!.c, live, quick ? 100000 : 400000)),
      );
      floor.push(dependentLoadNs(64 << 20));
    }
    systems.length = 0;
    sizes.forEach((live, k) => {
      const rs = runs[k]!;
      const sorted = [...rs].sort((a, b) => a[1] - b[1]);
      const [wall, per] = sorted[ROUNDS >> 1]!;
      ns.push(per);
      log(
        `${live} live: ${per.toFixed(0)} ns CPU (${wall.toFixed(0)} ns wall) per MAP+UNMAP pair, median of ` +
          `${rs.map((r) => r[1].toFixed(0)).join(' / ')}`,
      );
      figs.push({
        name: `pairs/s (CPU time) at ${live} live 4KiB mappings`,
        value: 1e9 / per,
        unit: 'pairs/s',
        ...(live === 65000 ? { target: '>= 1e6', met: 1e9 / per >= 1e6 } : {}),
      });
    });
    const ratio = ns[2]! / ns[0]!;
    // The same ratio round by round (each round measures both sizes seconds apart): its spread shows how
    // much of the figure is the shared machine's load.
    const perRound = runs[2]!.map((r, i) => r[1] / runs[0]![i]![1]).sort((a, b) => a - b);
    log(
      `ratio per round: ${perRound.map((r) => r.toFixed(2)).join(' / ')} (median ${perRound[ROUNDS >> 1]!.toFixed(2)})`,
    );
    // A MAP at a random IOVA reads at least one line no cache holds at 10^6 (its leaf of the tree): that
    // load alone puts the ratio at (cost at 10^3 + one miss) / cost at 10^3, whatever the code does.
    const miss = [...floor].sort((a, b) => a - b)[ROUNDS >> 1]!;
    log(
      `memory: a dependent load at a random line of 64 MiB costs ${miss.toFixed(0)} ns here now (per round ` +
        `${floor.map((f) => f.toFixed(0)).join(' / ')}); one such miss per pair alone gives a ratio of ` +
        `${((ns[0]! + miss) / ns[0]!).toFixed(2)} at this 10^3 cost`,
    );
    figs.push({ name: 'dependent load in 64 MiB (memory latency, now)', value: miss, unit: 'ns' });
    figs.push({
      name: `cost ratio ${sizes[2]} live / 1000 live`,
      value: ratio,
      unit: 'x',
      target: '<= 2',
      met: ratio <= 2,
    });
    // Heap bytes per live mapping.
    const n = quick ? 200000 : 1000000;
    gcNow();
    const before = process.memoryUsage();
    const { sys, c } = setup(n + 16);
    fill(sys, c, n);
    gcNow();
    const after = process.memoryUsage();
    const bytes = after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers);
    const per = bytes / n;
    log(
      `${n} live mappings: ${(bytes / 1048576).toFixed(1)} MiB (heap + array buffers, includes the platform)`,
    );
    figs.push({
      name: 'heap bytes per live mapping',
      value: per,
      unit: 'B',
      target: '<= 200',
      met: per <= 200,
    });
    if (sys.container(c)!.iommu!.dma.size !== n) throw new Error('lost mappings');
    return figs;
  },
};
