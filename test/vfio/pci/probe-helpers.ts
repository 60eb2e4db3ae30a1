/** Test support: open the e1000e of a test machine through vfio-pci and run the oracle probe on it. */
import { ERRNO } from '../../../src/base/errno.js';
import { runMsiProbe, type ProbeContainer } from '../../../src/vfio/pci/msi-probe.js';
import { FdTable } from '../../../src/vfio/pci/eventfd.js';
import { openVfioPciDevice, type VfioPciDevice } from '../../../src/vfio/pci/vfio-pci.js';
import { type Machine, NIC, type TestPlatform, platform, vfioAttach } from '../../irq/machines.js';
import { comparableProbeMsiLines } from '../../oracle/probe-msi-lines.js';

/**
 * A stand-in for VFIO type1 MAP_DMA's reserved-region rule (spec 4.7): a mapping that is not inside one
 * usable range (any reserved region excluded) is -EINVAL. The real container lives in src/vfio.
 */
export function fakeContainer(p: TestPlatform, bdf: string): ProbeContainer {
  return {
    mapDma(iova: bigint, size: bigint): number {
      for (const r of p.core.groupResvRegions(p.core.groupOf(p.core.device(bdf)!)!)) {
        if (iova <= r.start + r.length - 1n && r.start <= iova + size - 1n) return -ERRNO.EINVAL;
      }
      return 0;
    },
    unmapDma(_iova: bigint, size: bigint): number {
      return Number(size);
    },
  };
}

export interface OpenNic {
  readonly p: TestPlatform;
  readonly file: VfioPciDevice;
  readonly fds: FdTable;
  readonly bdf: string;
}

export function openNic(m: Machine, version: '6.1' | '6.12', opts: { cookie?: boolean } = {}): OpenNic {
  const p = platform(m, version);
  const bdf = NIC[m];
  vfioAttach(p, bdf, opts);
  const fds = new FdTable();
  const dev = p.core.device(bdf)!;
  const file = openVfioPciDevice({
    core: p.core,
    device: dev,
    profile: p.core.profile,
    fabric: p.fabric,
    fds,
  }) as VfioPciDevice;
  return { p, file, fds, bdf };
}

/** The model's probe lines, filtered like the oracle's (test/oracle/probe-msi-lines.ts). */
export function probeLines(m: Machine, version: '6.1' | '6.12', scenario: string = m): string[] {
  const n = openNic(m, version);
  const lines = runMsiProbe({
    file: n.file,
    fabric: n.p.fabric,
    fds: n.fds,
    container: fakeContainer(n.p, n.bdf),
  });
  return comparableProbeMsiLines(lines, false, scenario);
}
