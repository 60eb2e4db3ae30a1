/**
 * The MSI path: interrupts delivered per second (device write -> IOMMU -> controller -> eventfd) on the
 * oracle's ARM (ITS, translated doorbell) and x86 (Intel IR, bypass) machines, and SET_IRQS
 * enable+disable cycles of a 5-vector MSI-X block per second.
 */
import type { Benchmark, Figure } from './harness.js';
import { buildPlatform } from '../src/platform/build.js';
import { loadPreset } from '../src/platform/presets.js';
import { kernelProfile } from '../src/kernel/profile.js';
import { attachMsiFabric } from '../src/irq/fabric.js';
import { iommuGetMsiCookie } from '../src/dma-iommu/cookie.js';
import { ResvType } from '../src/iommu/resv-region.js';
import { FdTable } from '../src/vfio/pci/eventfd.js';
import { openVfioPciDevice } from '../src/vfio/pci/vfio-pci.js';
import { VFIO_DEVICE_SET_IRQS, encodeIrqSet } from '../src/uapi/vfio-device.js';

function setup(preset: string, bdf: string) {
  const desc = loadPreset(preset);
  const model = buildPlatform(desc, kernelProfile('6.12'));
  const core = model.iommu;
  const fabric = attachMsiFabric(core, desc);
  const dev = core.device(bdf)!;
  core.unbindDriver(dev);
  core.bindDriver(dev, 'vfio-pci', true);
  const g = core.groupOf(dev)!;
  core.claimDmaOwner(g, {});
  const d = core.allocPagingDomain(dev);
  if (!d.ok) throw new Error('no domain');
  core.attachGroup(d.value, g);
  const sw = core.groupResvRegions(g).find((r) => r.type === ResvType.SwMsi);
  if (sw !== undefined) iommuGetMsiCookie(d.value, sw.start, desc.pageSize);
  const fds = new FdTable();
  const file = openVfioPciDevice({ core, device: dev, profile: core.profile, fabric, fds });
  const pci = fabric.pci(bdf)!;
  pci.model.command = pci.model.command | 0x4;
  return { fabric, fds, file };
}

export const msiPathBench: Benchmark = {
  name: 'msi-path',
  run({ quick }) {
    const out: Figure[] = [];
    const n = quick ? 20_000 : 200_000;
    for (const [label, preset, bdf] of [
      ['ITS + SMMUv3 (translated doorbell)', 'qemu-virt-smmuv3-gicv3', '0000:00:01.0'],
      ['Intel IR (bypass)', 'qemu-q35-intel-iommu', '0000:00:02.0'],
    ] as const) {
      const s = setup(preset, bdf);
      const efd = Array.from({ length: 5 }, () => s.fds.eventfd());
      s.file.ioctl(
        VFIO_DEVICE_SET_IRQS,
        encodeIrqSet({ flags: 0x24, index: 2, start: 0, count: 5, fds: efd }),
      );
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) s.fabric.raise(bdf, i % 5);
      const ns = Number(process.hrtime.bigint() - t0);
      const got = efd.reduce((a, fd) => a + Number(s.fds.eventFd(fd)!.count), 0);
      if (got !== n) throw new Error(`${label}: ${got} of ${n} delivered`);
      out.push({ name: `interrupts delivered/s, ${label}`, value: (n / ns) * 1e9, unit: 'irq/s' });
    }
    const s = setup('qemu-virt-smmuv3-gicv3', '0000:00:01.0');
    const efd = Array.from({ length: 5 }, () => s.fds.eventfd());
    const on = encodeIrqSet({ flags: 0x24, index: 2, start: 0, count: 5, fds: efd });
    const off = encodeIrqSet({ flags: 0x21, index: 2, start: 0, count: 0 });
    const cycles = quick ? 2_000 : 20_000;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < cycles; i++) {
      if (s.file.ioctl(VFIO_DEVICE_SET_IRQS, on) !== 0 || s.file.ioctl(VFIO_DEVICE_SET_IRQS, off) !== 0)
        throw new Error('cycle failed');
    }
    const ns = Number(process.hrtime.bigint() - t0);
    out.push({
      name: 'SET_IRQS MSI-X x5 enable+disable cycles/s',
      value: (cycles / ns) * 1e9,
      unit: 'cycles/s',
    });
    return out;
  },
};
