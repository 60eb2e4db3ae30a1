import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ERRNO } from '../../src/base/errno.js';
import { IntxLine } from '../../src/irq/intx.js';

test('a level line runs its handler while asserted and enabled, and again while the handler leaves it up', () => {
  const l = new IntxLine(1, '0000:00:02.0');
  let runs = 0;
  assert.equal(
    l.request('h', () => {
      runs++;
      if (runs === 3) l.setLevel(false); // the third run finally quiets the device
      return true;
    }),
    0,
  );
  l.setLevel(true);
  assert.equal(runs, 3);
  assert.equal(l.count, 3);
});

test('disable holds a level off; enable delivers it if still asserted', () => {
  const l = new IntxLine(1, 'x');
  let runs = 0;
  l.request('h', () => {
    runs++;
    l.disable(); // disable_irq_nosync, like vfio-pci on a function without INTx masking
    return true;
  });
  l.setLevel(true);
  assert.equal(runs, 1);
  l.setLevel(true);
  assert.equal(runs, 1);
  l.enable();
  assert.equal(runs, 2);
});

test('no handler: nothing runs; a second request is EBUSY; IRQ_NONE counts as unhandled once', () => {
  const l = new IntxLine(1, 'x');
  l.setLevel(true);
  assert.equal(l.count + l.unhandled, 0);
  assert.equal(
    l.request('a', () => false),
    0,
  );
  assert.equal(l.unhandled, 1);
  assert.equal(
    l.request('b', () => true),
    -ERRNO.EBUSY,
  );
  l.free();
  assert.equal(
    l.request('c', () => true, true),
    0,
    'requested disabled (IRQF_NO_AUTOEN)',
  );
  assert.equal(l.count, 0);
  l.enable();
  assert.equal(l.count, 1000, 'a handler that never lowers the line stops at the storm limit');
});
