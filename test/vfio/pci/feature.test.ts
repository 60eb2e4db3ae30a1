import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { ERRNO } from '../../../src/base/errno.js';
import { type FeatureDevice, deviceFeature } from '../../../src/vfio/pci/feature.js';

const GET = 1 << 16;
const SET = 1 << 17;
const PROBE = 1 << 18;

const dev: FeatureDevice = { lowPower: false, isEventfd: (fd) => (fd === 7 ? 0 : -ERRNO.EBADF) };

function feature(flags: number, argsz = 8, payload: number[] = []): number {
  const b = new Uint8Array(Math.max(argsz, 8 + payload.length * 4));
  const v = new DataView(b.buffer);
  v.setUint32(0, argsz, true);
  v.setUint32(4, flags, true);
  payload.forEach((x, i) => v.setInt32(8 + 4 * i, x, true));
  return deviceFeature(b, dev);
}

test('VFIO_DEVICE_FEATURE: header checks, then per feature (the answers of conformance/golden device-feature.iovx)', () => {
  assert.equal(feature(PROBE, 7), -ERRNO.EINVAL, 'argsz below the header');
  assert.equal(feature(PROBE | (1 << 19)), -ERRNO.EINVAL, 'unknown flag');
  assert.equal(feature(GET | SET | 3), -ERRNO.EINVAL, 'GET and SET without PROBE');
  // no migration driver, no DMA logging, no VF token, unknown features
  for (const i of [0, 1, 2, 6, 7, 8, 99]) assert.equal(feature(PROBE | i), -ERRNO.ENOTTY, `feature ${i}`);
  // the low-power features take SET only
  for (const i of [3, 4, 5]) {
    assert.equal(feature(PROBE | i), 0);
    assert.equal(feature(PROBE | SET | i), 0);
    assert.equal(feature(PROBE | GET | i), -ERRNO.EINVAL);
  }
  assert.equal(feature(3), -ERRNO.EINVAL, 'neither GET nor SET nor PROBE');
  assert.equal(feature(SET | 3), 0);
  assert.equal(feature(SET | 3), -ERRNO.EINVAL, 'already in low power (pm_runtime_engaged)');
  assert.equal(feature(SET | 4, 16, [7, 0]), -ERRNO.EINVAL, 'with wakeup too');
  assert.equal(feature(SET | 5), 0);
  assert.equal(feature(SET | 5), 0, 'an exit without entry is fine');
  assert.equal(feature(SET | 4, 8), -ERRNO.EINVAL, 'the wakeup eventfd does not fit');
  assert.equal(feature(SET | 4, 16, [-1, 0]), -ERRNO.EINVAL, 'a negative wakeup eventfd');
  assert.equal(feature(SET | 4, 16, [3, 0]), -ERRNO.EBADF);
  assert.equal(feature(SET | 4, 16, [7, 0]), 0);
  assert.equal(deviceFeature(new Uint8Array(4), dev), -ERRNO.EFAULT);
});
