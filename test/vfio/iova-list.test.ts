import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import fc from 'fast-check';
import { ERRNO } from '../../src/base/errno.js';
import { IntervalSet } from '../../src/base/interval-set.js';
import { ResvType, resvRegion } from '../../src/iommu/resv-region.js';
import {
  aperConflict,
  aperResize,
  hasSwMsi,
  iovaDmaValid,
  refreshAfterDetach,
  resvExclude,
  usableIovaList,
  type IovaList,
} from '../../src/vfio/type1/iova-list.js';

const L = (...r: [bigint, bigint][]): IovaList => r.map(([start, end]) => ({ start, end }));
const R = (start: bigint, len: bigint, type: ResvType) => resvRegion(start, len, 0, type);

test('aperture resize clips the nodes that contain the new edges', () => {
  const l = L([0n, 0xfffn], [0x2000n, 0x2fffn], [0x4000n, 0x4fffn]);
  aperResize(l, 0x800n, 0x2800n);
  assert.deepEqual(l, L([0x800n, 0xfffn], [0x2000n, 0x2800n]));
});

test('aperture resize quirk: a node touching the new start on its last byte is deleted, not shrunk', () => {
  const l = L([0n, 0xfffn], [0x2000n, 0x2fffn]);
  aperResize(l, 0xfffn, 0xffffn);
  assert.deepEqual(l, L([0x2000n, 0x2fffn]));
});

test('aperture resize quirk: a node whose first byte is the new end is deleted', () => {
  const l = L([0n, 0xfffn], [0x2000n, 0x2fffn]);
  aperResize(l, 0n, 0x2000n);
  assert.deepEqual(l, L([0n, 0xfffn]));
});

test('aperture resize never widens and fills an empty list', () => {
  const l = L([0x1000n, 0x1fffn]);
  aperResize(l, 0n, 0xffffn);
  assert.deepEqual(l, L([0x1000n, 0x1fffn]));
  const e: IovaList = [];
  aperResize(e, 5n, 9n);
  assert.deepEqual(e, L([5n, 9n]));
});

test('exclusion cuts every type but DIRECT_RELAXABLE and fails when nothing is left', () => {
  const l = L([0n, 0xffffn]);
  assert.equal(
    resvExclude(l, [
      R(0n, 0x1000n, ResvType.DirectRelaxable),
      R(0x2000n, 0x1000n, ResvType.Msi),
      R(0x8000n, 0x1000n, ResvType.SwMsi),
      R(0xf000n, 0x1000n, ResvType.Reserved),
    ]),
    0,
  );
  assert.deepEqual(l, L([0n, 0x1fffn], [0x3000n, 0x7fffn], [0x9000n, 0xefffn]));
  const m = L([0n, 0xfffn]);
  assert.equal(resvExclude(m, [R(0n, 0x1000n, ResvType.Direct)]), -ERRNO.EINVAL);
});

test('SW-MSI detection: the last SW_MSI wins, any hardware MSI region first cancels it', () => {
  assert.deepEqual(hasSwMsi([R(0x8000000n, 0x100000n, ResvType.SwMsi)]), { found: true, base: 0x8000000n });
  assert.equal(hasSwMsi([R(0x1000n, 1n, ResvType.SwMsi), R(0x2000n, 1n, ResvType.Msi)]).found, false);
  assert.deepEqual(hasSwMsi([R(0x1000n, 1n, ResvType.SwMsi), R(0x5000n, 1n, ResvType.SwMsi)]), {
    found: true,
    base: 0x5000n,
  });
});

test('aperture conflict: disjoint apertures, and mappings that would fall outside', () => {
  const l = L([0n, 0xfedfffffn], [0xfef00000n, 0x7fffffffffn]);
  const none = () => false;
  assert.equal(aperConflict([], 5n, 6n, none), false);
  assert.equal(aperConflict(l, 0x8000000000n, 0x9000000000n, none), true);
  assert.equal(aperConflict(l, 0x1000n, 0xffffffffn, none), false);
  assert.equal(
    aperConflict(l, 0x1000n, 0xffffffffn, (s, e) => s <= 0x0n && 0x0n <= e),
    true,
  );
  assert.equal(
    aperConflict(l, 0n, 0xffffffffn, (s, e) => s <= 0x100000000n && 0x100000000n <= e),
    true,
  );
});

test('usable list of the x86-intel NIC group: aperture minus the MSI window', () => {
  const r = usableIovaList([
    { aperture: { start: 0n, end: 0x7fffffffffn }, regions: [R(0xfee00000n, 0x100000n, ResvType.Msi)] },
  ]);
  assert.ok(r.ok);
  assert.deepEqual(r.ranges, [
    { start: 0n, end: 0xfedfffffn },
    { start: 0xfef00000n, end: 0x7fffffffffn },
  ]);
  const bad = usableIovaList([
    { aperture: { start: 0n, end: 0xfffn }, regions: [R(0n, 0x1000n, ResvType.Reserved)] },
  ]);
  assert.deepEqual(bad, { ok: false, errno: ERRNO.EINVAL, step: 0 });
});

test('detach refresh rebuilds from the widened aperture minus the remaining regions', () => {
  const l = L([0x1000n, 0x1fffn]);
  const out = refreshAfterDetach(l, { start: 0n, end: 0xffffn }, [R(0x8000n, 0x1000n, ResvType.Msi)]);
  assert.deepEqual(out, L([0n, 0x7fffn], [0x9000n, 0xffffn]));
  assert.equal(refreshAfterDetach([], undefined, []), undefined);
});

const arbRegion = fc
  .record({
    start: fc.bigInt({ min: 0n, max: 0xffffn }),
    len: fc.bigInt({ min: 1n, max: 0x4000n }),
    type: fc.constantFrom(
      ResvType.Direct,
      ResvType.DirectRelaxable,
      ResvType.Reserved,
      ResvType.Msi,
      ResvType.SwMsi,
    ),
  })
  .map((r) => R(r.start, r.len, r.type));

test('property: one attach gives exactly the aperture minus the non-relaxable regions', () => {
  fc.assert(
    fc.property(
      fc.bigInt({ min: 0n, max: 0x8000n }),
      fc.bigInt({ min: 0x8000n, max: 0x1ffffn }),
      fc.array(arbRegion, { maxLength: 6 }),
      (s, e, regions) => {
        const r = usableIovaList([{ aperture: { start: s, end: e }, regions }]);
        let ref = IntervalSet.of([{ start: s, end: e }]);
        for (const g of regions)
          if (g.type !== ResvType.DirectRelaxable)
            ref = ref.subtract({ start: g.start, end: g.start + g.length - 1n });
        if (ref.ranges.length === 0) assert.equal(r.ok, false);
        else {
          assert.ok(r.ok);
          // The kernel never merges adjacent nodes: compare as sets of addresses.
          assert.deepEqual(IntervalSet.of(r.ranges).ranges, ref.ranges);
        }
      },
    ),
    { seed: 42, numRuns: 300 },
  );
});

test('property: several attaches stay inside every aperture and outside every region; MAP validity agrees', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          s: fc.bigInt({ min: 0n, max: 0x4000n }),
          e: fc.bigInt({ min: 0xc000n, max: 0x1ffffn }),
          regions: fc.array(arbRegion, { maxLength: 3 }),
        }),
        { minLength: 1, maxLength: 4 },
      ),
      (steps) => {
        const r = usableIovaList(
          steps.map((x) => ({ aperture: { start: x.s, end: x.e }, regions: x.regions })),
        );
        if (!r.ok) return;
        for (const n of r.ranges) {
          for (const x of steps) {
            assert.ok(n.start >= x.s && n.end <= x.e);
            for (const g of x.regions) {
              if (g.type === ResvType.DirectRelaxable) continue;
              assert.ok(n.end < g.start || n.start > g.start + g.length - 1n);
            }
          }
          assert.ok(iovaDmaValid(r.ranges, n.start, n.end));
        }
      },
    ),
    { seed: 7, numRuns: 300 },
  );
});

test('usableIovaForGroups on presets equals what GET_INFO reports (x86-amd: three ranges)', async () => {
  const { boot } = await import('./machine.js');
  const { usableIovaForGroups } = await import('../../src/vfio/type1/iova-list.js');
  const core = boot('qemu-q35-amd-iommu', '6.1');
  const nic = core.devices().find((d) => d.deviceId === 0x10d3)!;
  const r = usableIovaForGroups(core, [core.groupOf(nic)!]);
  assert.ok(r.ok);
  assert.deepEqual(r.ranges, [
    { start: 0n, end: 0xfedfffffn },
    { start: 0xfef00000n, end: 0xfcffffffffn },
    { start: 0x10000000000n, end: 0xffffffffffffffffn },
  ]);
});
