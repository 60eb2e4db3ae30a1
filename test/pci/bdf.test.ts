import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  bdfRequesterId,
  devfn,
  devfnFunc,
  devfnSlot,
  formatBdf,
  normalizeBdf,
  parseBdf,
  requesterId,
} from '../../src/pci/bdf.js';

test('PCI_DEVFN / PCI_SLOT / PCI_FUNC / PCI_DEVID', () => {
  assert.equal(devfn(0x1f, 2), 0xfa);
  assert.equal(devfnSlot(0xfa), 0x1f);
  assert.equal(devfnFunc(0xfa), 2);
  assert.equal(requesterId(0x03, devfn(0, 0)), 0x0300);
  assert.equal(bdfRequesterId(parseBdf('0000:00:1f.3')!), 0x00fb);
});

test('parseBdf accepts ssss:bb:dd.f and bb:dd.f, any case; rejects malformed', () => {
  assert.deepEqual(parseBdf('0000:00:1f.2'), { segment: 0, bus: 0, device: 0x1f, fn: 2 });
  assert.deepEqual(parseBdf('3a:00.0'), { segment: 0, bus: 0x3a, device: 0, fn: 0 });
  assert.equal(normalizeBdf('0001:3A:1F.7'), '0001:3a:1f.7');
  for (const bad of ['', '00:20.0', '00:1f.8', '0000:00:1f', 'x0:00.0', '00000:00:00.0', '0000:100:00.0']) {
    assert.equal(parseBdf(bad), undefined, bad);
  }
});

test('formatBdf(parseBdf(x)) round-trips', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xffff }),
      fc.integer({ min: 0, max: 255 }),
      fc.integer({ min: 0, max: 31 }),
      fc.integer({ min: 0, max: 7 }),
      (segment, bus, device, fn) => {
        const s = formatBdf({ segment, bus, device, fn });
        assert.match(s, /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/);
        assert.deepEqual(parseBdf(s), { segment, bus, device, fn });
      },
    ),
  );
});
