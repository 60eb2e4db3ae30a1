import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { parseGolden } from '../../src/conformance/golden.js';
import { modelTargetFactory } from '../../src/conformance/model-target.js';
import {
  checkGoldenIntegrity,
  parseKnownDifferences,
  runSuite,
  type PairInput,
  type TargetFactory,
} from '../../src/conformance/runner.js';
import type { ConformanceTarget } from '../../src/conformance/exec.js';
import { loadSuite, strayGoldens } from '../../src/conformance/node/load.js';
import { writeScenarios } from '../../src/conformance/node/write-scenarios.js';
import { InputError } from '../../src/base/errors.js';
import { MACHINES } from '../../src/conformance/machines.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

test('checked-in compiled scenarios are exactly what the generators produce', () => {
  assert.deepEqual(writeScenarios(ROOT, true), []);
});

test('every machine/kernel pair has a complete, current kernel golden', () => {
  const suite = loadSuite(ROOT);
  assert.deepEqual(suite.missing, []);
  assert.deepEqual(strayGoldens(ROOT), []);
  assert.equal(suite.pairs.length, MACHINES.flatMap((m) => m.kernels).length);
  for (const p of suite.pairs) {
    assert.deepEqual(checkGoldenIntegrity(p.pair, p.golden, p.scenarios), [], p.pair);
    // Debian's kernels, or (the iommufd machines) ours built from Debian's linux-source
    const own = MACHINES.find((m) => m.name === p.machine)!.suite === 'iommufd';
    assert.match(
      p.golden.header.kernel,
      own ? /^src-6\.12\.\d+-(amd64|arm64) \(linux-source-6\.12_/ : /^6\.(1|12)\./,
    );
    assert.match(p.golden.header.qemu, /^QEMU emulator version /);
    assert.equal(p.golden.header.kernelSeries, p.kernel);
  }
});

test('the model side runs the suite against the goldens under the known-differences list', () => {
  const suite = loadSuite(ROOT);
  const r = runSuite(suite.pairs, modelTargetFactory, suite.known);
  assert.deepEqual(
    r.pairs.flatMap((p) => p.unexpected.map((d) => `${p.pair} ${d.scenario} ${d.name}`)),
    [],
  );
  assert.deepEqual(r.stale, []);
  assert.ok(r.ok);
});

// A synthetic pair: the "kernel" answered EINVAL to set_iommu and 0 to everything else.
const GOLDEN = [
  '# machine: m',
  '# kernel-series: 6.12',
  '# kernel: 6.12.95+deb12-amd64 (x.deb)',
  '# qemu: QEMU emulator version 7.2.22',
  '@@BEGIN t.iovx',
  'SECTION s',
  'CASE open rc=0 errno=0',
  'CASE iommu rc=-1 errno=EINVAL',
  'END lines=3',
  '@@END t.iovx rc=0',
].join('\n');
const SCEN = 'section s\nopen_container open\nset_iommu iommu type=3\n';

function targetAnswering(setIommu: number): ConformanceTarget {
  return {
    open: () => 3,
    close: () => 0,
    ioctl: () => setIommu,
    readFile: () => -2,
    writeFile: () => 0,
    listDir: () => -2,
    readLink: () => -2,
    eventfd: () => 4,
    readEventfd: () => -11,
  };
}

function pair(): PairInput {
  return {
    pair: 'm-k6.12',
    machine: 'm',
    kernel: '6.12',
    golden: parseGolden(GOLDEN, 'g.txt'),
    scenarios: new Map([['t.iovx', SCEN]]),
  };
}

test('a model that agrees passes; a difference must be listed; a listed difference must still occur', () => {
  const agree: TargetFactory = () => ({ target: targetAnswering(-22), args: { groups: [], devices: [] } });
  const differ: TargetFactory = () => ({ target: targetAnswering(0), args: { groups: [], devices: [] } });
  const entry = { pair: 'm-k6.12', scenario: 't.iovx', case: 'iommu', reason: 'model lacks X' };

  const ok = runSuite([pair()], agree, []);
  assert.ok(ok.ok);
  assert.equal(ok.pairs[0]!.identical, 2);
  assert.equal(ok.pairs[0]!.steps, 2);

  const bad = runSuite([pair()], differ, []);
  assert.equal(bad.ok, false);
  assert.deepEqual(bad.pairs[0]!.unexpected[0]!.expected, ['CASE iommu rc=-1 errno=EINVAL']);
  assert.deepEqual(bad.pairs[0]!.unexpected[0]!.actual, ['CASE iommu rc=0 errno=0']);

  const listed = runSuite([pair()], differ, [entry]);
  assert.ok(listed.ok);
  assert.equal(listed.pairs[0]!.known, 1);

  const fixed = runSuite([pair()], agree, [entry]);
  assert.equal(fixed.ok, false, 'the list must shrink when the model is fixed');
  assert.deepEqual(fixed.stale, [entry]);

  const wildcard = runSuite([pair()], differ, [{ ...entry, pair: '*', case: 'iom*' }]);
  assert.ok(wildcard.ok);

  const byLine = runSuite([pair()], differ, [{ ...entry, case: '*', kernel: 'errno=EINVAL$' }]);
  assert.ok(byLine.ok);
  const wrongLine = runSuite([pair()], differ, [{ ...entry, case: '*', kernel: 'errno=EPERM$' }]);
  assert.equal(wrongLine.ok, false);
  assert.equal(wrongLine.stale.length, 1);
});

test('a stale golden (scenario changed, kernel not re-run) is reported', () => {
  const p = pair();
  const changed = new Map([['t.iovx', SCEN + 'close_container bye\n']]);
  assert.match(checkGoldenIntegrity(p.pair, p.golden, changed)[0]!, /2 cases in the golden, 3 operations/);
  const renamed = new Map([['t.iovx', SCEN.replace('iommu type', 'iommu2 type')]]);
  assert.match(
    checkGoldenIntegrity(p.pair, p.golden, renamed)[0]!,
    /case 1 is 'iommu' in the golden but 'iommu2'/,
  );
});

test('known differences need a reason', () => {
  assert.throws(
    () => parseKnownDifferences('[{"pair":"*","scenario":"*","case":"x","reason":""}]', 'k.json'),
    (e: unknown) => e instanceof InputError && /\[0\]\.reason/.test(e.message),
  );
  assert.deepEqual(parseKnownDifferences('[]', 'k.json'), []);
  assert.throws(
    () =>
      parseKnownDifferences('[{"pair":"*","scenario":"*","case":"x","kernel":"(","reason":"r"}]', 'k.json'),
    (e: unknown) => e instanceof InputError && /\[0\]\.kernel/.test(e.message),
  );
});
