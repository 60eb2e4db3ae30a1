import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { MACHINES } from '../../src/conformance/machines.js';
import { caseRecords } from '../../src/conformance/golden.js';
import { loadSuite } from '../../src/conformance/node/load.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

test('the probe inputs (IOVA ranges per machine) are what our kernels reported', () => {
  const suite = loadSuite(ROOT);
  for (const p of suite.pairs) {
    const m = MACHINES.find((x) => x.name === p.machine)!;
    // the iommufd machines: the IOAS's ranges once the NIC is attached (IOMMU_IOAS_IOVA_RANGES)
    const iommufd = m.suite === 'iommufd';
    const rec = caseRecords(p.golden.blocks.get(iommufd ? 'iommufd.iovx' : 'probe.iovx') ?? []).find((r) =>
      iommufd ? r.name === 'f.ranges_attached' : r.section === 'probe_full' && r.name === 'get_info_round1',
    );
    assert.ok(rec, p.pair);
    const count = iommufd ? Number(/num_out=(\d+)/.exec(rec.lines[0]!)![1]) : Infinity;
    const ranges = rec.lines.flatMap((l) => {
      const x = /^RANGE idx=(\d+) start=(0x[0-9a-f]+) end=(0x[0-9a-f]+)$/.exec(l);
      return x && Number(x[1]) < count ? [[BigInt(x[2]!), BigInt(x[3]!)]] : [];
    });
    assert.deepEqual(ranges, m.iovaRanges, p.pair);
  }
});

test('machine names are unique and each has at least one kernel', () => {
  assert.equal(new Set(MACHINES.map((m) => m.name)).size, MACHINES.length);
  for (const m of MACHINES) assert.ok(m.kernels.length > 0, m.name);
});
