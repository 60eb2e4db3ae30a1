/** mlock(2)/munlock(2) on the model's address space (conformance section memlock checks the same). */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { ERRNO } from '../../src/base/errno.js';
import { TaskCreds } from '../../src/kernel/task.js';
import { AddressSpace, PROT_READ, PROT_WRITE } from '../../src/mm/address-space.js';

const A = 0x7f0000000000n;
const P = 4096;

function space(): { mm: AddressSpace; task: TaskCreds } {
  const mm = new AddressSpace();
  mm.map('a', A, 0x10000n, PROT_READ | PROT_WRITE);
  mm.map('b', A + 0x10000n, 0x10000n, PROT_READ); // adjacent: one range across both is fine
  return { mm, task: new TaskCreds() };
}

test('mlock counts each page once; munlock gives it back; ranges grow to whole pages', () => {
  const { mm, task } = space();
  assert.equal(mm.mlock(A, 0x4000n, true, task, P), 0);
  assert.equal(mm.mlock(A, 0x4000n, true, task, P), 0);
  assert.equal(mm.lockedVmBytes, 0x4000);
  assert.equal(mm.mlock(A + 0x2000n, 0x4000n, true, task, P), 0);
  assert.equal(mm.lockedVmBytes, 0x6000);
  assert.equal(mm.mlock(A + 0xf800n, 0x1000n, true, task, P), 0, 'across two regions, unaligned');
  assert.equal(mm.lockedVmBytes, 0x8000);
  assert.equal(mm.mlock(A + 0x1000n, 0x1000n, false, task, P), 0);
  assert.equal(mm.lockedVmBytes, 0x7000);
  assert.equal(mm.mlock(A, 0n, true, task, P), 0, 'nothing to lock');
});

test('a hole: ENOMEM, after locking what lies before it; a start in no region changes nothing', () => {
  const { mm, task } = space();
  assert.equal(mm.mlock(A + 0x1e000n, 0x4000n, true, task, P), -ERRNO.ENOMEM);
  assert.equal(mm.lockedVmBytes, 0x2000, 'the two pages inside the region stay locked');
  assert.equal(mm.mlock(A + 0x20000n, 0x1000n, true, task, P), -ERRNO.ENOMEM);
  assert.equal(mm.mlock(A + 0x1e000n, 0x4000n, false, task, P), -ERRNO.ENOMEM);
  assert.equal(mm.lockedVmBytes, 0, 'munlock too changes the part before the hole');
});

test('without CAP_IPC_LOCK: new pages must fit the limit (already locked ones are not counted again); a zero limit is EPERM', () => {
  const { mm, task } = space();
  task.capIpcLock = false;
  assert.equal(task.setMemlock(0x5000n, 0x5000n), 0);
  assert.equal(mm.mlock(A, 0x4000n, true, task, P), 0);
  assert.equal(mm.mlock(A + 0x2000n, 0x4000n, true, task, P), -ERRNO.ENOMEM, '4 + 4 - 2 > 5');
  assert.equal(mm.mlock(A + 0x2000n, 0x3000n, true, task, P), 0, '4 + 3 - 2 = 5');
  assert.equal(mm.lockedVmBytes, 0x5000);
  assert.equal(task.setMemlock(0n, 0x5000n), 0);
  assert.equal(mm.mlock(A, 0x1000n, true, task, P), -ERRNO.EPERM);
  assert.equal(mm.mlock(A, 0x1000n, false, task, P), 0, 'munlock needs nothing');
  task.capIpcLock = true;
  assert.equal(mm.mlock(A, 0x10000n, true, task, P), 0, 'the capability lifts both');
});

test('16 KiB pages: the range grows to whole 16 KiB pages, the limit counts them', () => {
  const { mm, task } = space();
  assert.equal(mm.mlock(A + 0x800n, 0x1000n, true, task, 0x4000), 0);
  assert.equal(mm.lockedVmBytes, 0x4000);
});

test('a range that wraps past 2^64 is EINVAL (ending exactly at 2^64 wraps too); length 0 is nothing', () => {
  const { mm, task } = space();
  assert.equal(mm.mlock(0xfffffffffffff000n, 0x1000n, true, task, P), -ERRNO.EINVAL);
  assert.equal(mm.mlock(0xfffffffffffff000n, 0x2000n, true, task, P), -ERRNO.EINVAL);
  assert.equal(mm.mlock(0xfffffffffffff000n, 0n, true, task, P), 0);
});
