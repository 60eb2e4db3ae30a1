import { test } from 'node:test';
import assert from 'node:assert/strict';
import { itsDeviceId } from '../../src/irq/gicv3-its.js';

test('ITS DeviceID: the requester ID on segment 0 (QEMU virt), a separate range per segment', () => {
  assert.equal(itsDeviceId('0000:00:01.0', 0x8), 0x8);
  assert.equal(itsDeviceId('0015:01:00.0', 0x100), 0x150100);
  assert.notEqual(itsDeviceId('0000:01:00.0', 0x100), itsDeviceId('0015:01:00.0', 0x100));
});
