import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildScene, itemsAt, outsideAperture } from '../../src/web/scene.js';
import { hostViewFromJson, hostViewToJson } from '../../src/web/hostview-json.js';
import { hostViewFromReservedRegions, hostViewFromText } from '../../src/web/paste.js';
import { InputError } from '../../src/base/errors.js';
import { ARM_SMMUV3, X86_AMD } from './fixtures.js';

test('one lane per group, MSI window classed as the ARM software window', () => {
  const s = buildScene(ARM_SMMUV3);
  assert.equal(s.lanes.length, 1);
  const lane = s.lanes[0]!;
  assert.equal(lane.key, 'group-0');
  assert.match(lane.subtitle, /0000:00:01\.0 .*82574L.* \(e1000e\)/);
  assert.deepEqual(
    lane.badges.map((b) => b.text),
    ['DMA', 'interrupts isolated'],
  );
  assert.equal(lane.layers.resv[0]!.cls, 'sw-msi');
  assert.match(lane.layers.resv[0]!.notes.join(' '), /doorbell/);
  // Above the 48-bit aperture nothing is usable.
  assert.deepEqual(
    lane.layers.outside.map((o) => [o.start, o.end]),
    [[1n << 48n, (1n << 64n) - 1n]],
  );
  assert.deepEqual(
    itemsAt(lane, 0x8000000n).map((i) => i.cls),
    ['sw-msi'],
  );
  assert.deepEqual(
    itemsAt(lane, 0x7fff000n).map((i) => i.cls),
    ['usable'],
  );
  assert.deepEqual(
    itemsAt(lane, 1n << 60n).map((i) => i.cls),
    ['outside'],
  );
});

test('overlays land on the groups they name, and cut the axis', () => {
  const ram = {
    start: 0x40000000n,
    end: 0x13fffffffn,
    layer: 'guest' as const,
    cls: 'ram',
    label: 'guest RAM',
    notes: [],
  };
  const s = buildScene(X86_AMD, [{ groups: [2], items: [ram] }]);
  assert.equal(s.lanes.length, 4);
  assert.equal(s.lanes[2]!.layers.guest.length, 1);
  assert.equal(s.lanes[0]!.layers.guest.length, 0);
  assert.ok(s.axis.segments.some((g) => g.start === 0x40000000n && !g.gap));
  // Top layer first: the reserved region is drawn over the guest layout.
  assert.deepEqual(
    itemsAt(s.lanes[2]!, 0xfee00000n).map((i) => i.cls),
    ['msi', 'ram'],
  );
});

test('outsideAperture covers below start and above end', () => {
  assert.deepEqual(outsideAperture({ start: 0x1000n, end: 0xffffn }), [
    { start: 0n, end: 0xfffn },
    { start: 0x10000n, end: (1n << 64n) - 1n },
  ]);
  assert.deepEqual(outsideAperture({ start: 0n, end: (1n << 64n) - 1n }), []);
});

test('HostView JSON round-trips with u64 values as hex strings', () => {
  const text = hostViewToJson(X86_AMD);
  assert.match(text, /"0xfee00000"/);
  assert.deepEqual(hostViewFromJson(text), X86_AMD);
  assert.deepEqual(hostViewFromJson(hostViewToJson(ARM_SMMUV3)), ARM_SMMUV3);
});

test('HostView JSON errors name the file and the field', () => {
  assert.throws(
    () =>
      hostViewFromJson(
        '{"groups":[{"id":0,"regions":[{"start":"0x10","end":"0x5","typeString":"msi"}]}]}',
        'h.json',
      ),
    (e: unknown) =>
      e instanceof InputError &&
      /h\.json: groups\[0\]\.regions\[0\]\.end: end is below start/.test(e.message),
  );
  assert.throws(() => hostViewFromJson('{"groups":', 'h.json'), /h\.json: not valid JSON/);
  assert.throws(
    () =>
      hostViewFromJson('{"groups":[{"id":0,"regions":[{"start":"0x0","end":"0x5","typeString":"weird"}]}]}'),
    /unknown type "weird"/,
  );
});

test('a pasted ARM reserved_regions gives the oracle usable ranges', () => {
  const v = hostViewFromReservedRegions('0x0000000008000000 0x00000000080fffff msi\n');
  assert.equal(v.arch, 'aarch64');
  assert.deepEqual(v.groups[0]!.usable, [
    { start: 0n, end: 0x7ffffffn },
    { start: 0x8100000n, end: 0xffffffffffffn },
  ]);
});

test('a pasted x86 AMD reserved_regions: msi and HT hole excluded, direct-relaxable kept usable', () => {
  const text =
    '0x00000000fee00000 0x00000000feefffff msi\n0x000000fd00000000 0x000000ffffffffff reserved\n0x00000000000e0000 0x00000000000fffff direct-relaxable\n';
  const v = hostViewFromReservedRegions(text, { apertureBits: 64 });
  assert.equal(v.arch, 'x86_64');
  assert.deepEqual(v.groups[0]!.usable, [
    { start: 0n, end: 0xfedfffffn },
    { start: 0xfef00000n, end: 0xfcffffffffn },
    { start: 0x10000000000n, end: (1n << 64n) - 1n },
  ]);
});

test('pasted text errors carry the line, as the CLI parser reports them', () => {
  assert.throws(
    () => hostViewFromText('0x0000000008000000 0x00000000080fffff msi\nbogus line\n', { file: 'paste' }),
    (e: unknown) => e instanceof InputError && /^paste:2: cannot parse reserved region line/.test(e.message),
  );
  assert.throws(() => hostViewFromText('\n\n'), /no reserved regions/);
  assert.throws(() => hostViewFromText('{"x":1}'), /not an iovamap snapshot/);
  // Regions keep the origin the host reader infers (the ARM SMMU software MSI window).
  assert.equal(
    hostViewFromReservedRegions('0x0000000008000000 0x00000000080fffff msi\n').groups[0]!.regions[0]!.type,
    4,
  );
  assert.equal(hostViewFromText(hostViewToJson(ARM_SMMUV3)).groups.length, 1);
});
