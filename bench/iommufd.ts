/**
 * iommufd IOAS_MAP + IOAS_UNMAP pairs (fixed IOVA, 4 KiB) through the byte-level ioctl path, with 10^3
 * and 10^5 live mappings in an IOAS the NIC's cdev is attached to (every map pins and maps into the
 * automatic domain), and kernel-chosen IOVAs for 10^4 mappings in a fresh IOAS.
 */
import { kernelProfile } from '../src/kernel/profile.js';
import { AddressSpace } from '../src/mm/address-space.js';
import { bootPreset } from '../src/scenario/platforms.js';
import { VfioSystem } from '../src/vfio/system.js';
import {
  attachIommufdPt,
  bindIommufd,
  ioasAlloc,
  ioasMap,
  ioasUnmap,
  openDeviceCdev,
} from '../src/iommufd/typed.js';
import type { Benchmark, Figure } from './harness.js';

const RAM = 0x7f0000000000n;
const BASE = 0x100000000n;

function setup(): { sys: VfioSystem; fd: number; ioas: number } {
  const core = bootPreset('qemu-q35-intel-iommu', kernelProfile('6.12'));
  const nic = core.devices().find((d) => d.vendor === 0x8086 && d.deviceId === 0x10d3)!;
  core.unbindDriver(nic);
  core.bindDriver(nic, 'vfio-pci', true);
  const mm = new AddressSpace();
  mm.map('ram', RAM, 1n << 24n, 3);
  const sys = new VfioSystem({ core, mm });
  const fd = sys.open('/dev/iommu');
  const ioas = ioasAlloc(sys, fd).id;
  const dev = openDeviceCdev(sys, nic.bdf);
  bindIommufd(sys, dev, fd);
  attachIommufdPt(sys, dev, ioas);
  return { sys, fd, ioas };
}

function pairsNs(live: number, count: number): number {
  const { sys, fd, ioas } = setup();
  for (let i = 0; i < live; i++)
    if (ioasMap(sys, fd, ioas, { vaddr: RAM, length: 0x1000n, iova: BASE + BigInt(i) * 0x2000n }).rc)
      throw new Error('fill failed');
  let x = 12345;
  const c0 = process.cpuUsage();
  for (let i = 0; i < count; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const iova = BASE + BigInt(x % live) * 0x2000n + 0x1000n;
    if (ioasMap(sys, fd, ioas, { vaddr: RAM, length: 0x1000n, iova }).rc) throw new Error('map failed');
    if (ioasUnmap(sys, fd, ioas, { iova, length: 0x1000n }).rc) throw new Error('unmap failed');
  }
  const cpu = process.cpuUsage(c0);
  return ((cpu.user + cpu.system) * 1000) / count;
}

export const iommufdBench: Benchmark = {
  name: 'iommufd',
  run({ quick, log }) {
    const figs: Figure[] = [];
    const count = quick ? 5000 : 20000;
    const ns = [1000, 100000].map((live) => {
      const v = pairsNs(live, count);
      log(`${live} live: ${v.toFixed(0)} ns CPU per IOAS_MAP+IOAS_UNMAP pair`);
      figs.push({
        name: `IOAS_MAP+UNMAP pairs/s at ${live} live 4KiB mappings`,
        value: 1e9 / v,
        unit: 'pairs/s',
      });
      return v;
    });
    figs.push({ name: 'pair cost 10^5 live / 10^3 live', value: ns[1]! / ns[0]!, unit: 'x' });
    // kernel-chosen IOVAs: each lands above the previous one (lowest fit from 4 KiB)
    const { sys, fd, ioas } = setup();
    const n = quick ? 2000 : 10000;
    const c0 = process.cpuUsage();
    for (let i = 0; i < n; i++)
      if (ioasMap(sys, fd, ioas, { vaddr: RAM + BigInt(i % 4096) * 0x1000n, length: 0x1000n }).rc)
        throw new Error('alloc failed');
    const cpu = process.cpuUsage(c0);
    const per = ((cpu.user + cpu.system) * 1000) / n;
    log(`kernel-chosen IOVA: ${per.toFixed(0)} ns CPU per map, ${n} maps packed from 4 KiB`);
    figs.push({ name: `IOAS_MAP with a kernel-chosen IOVA, ${n} packed`, value: per, unit: 'ns/map' });
    return figs;
  },
};
