import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ERRNO } from '../../src/base/errno.js';
import { MLOCK_LIMIT, RLIM_INFINITY, TaskCreds } from '../../src/kernel/task.js';

test('a task starts as root: CAP_IPC_LOCK, and the 8 MiB memlock limit soft and hard', () => {
  const t = new TaskCreds();
  assert.equal(t.capIpcLock, true);
  assert.deepEqual(t.memlock, { cur: MLOCK_LIMIT, max: MLOCK_LIMIT });
  assert.equal(t.memlockPages(4096), 2048);
  assert.equal(t.memlockPages(16384), 512);
});

test('setrlimit: soft above hard is EINVAL, raising the hard limit needs CAP_SYS_RESOURCE', () => {
  const t = new TaskCreds();
  assert.equal(t.setMemlock(2n * MLOCK_LIMIT, MLOCK_LIMIT), -ERRNO.EINVAL);
  t.capSysResource = false;
  assert.equal(t.setMemlock(MLOCK_LIMIT, RLIM_INFINITY), -ERRNO.EPERM);
  assert.deepEqual(t.memlock, { cur: MLOCK_LIMIT, max: MLOCK_LIMIT }, 'nothing changed');
  assert.equal(t.setMemlock(4096n, MLOCK_LIMIT), 0, 'lowering needs nothing');
  t.capSysResource = true;
  assert.equal(t.setMemlock(RLIM_INFINITY, RLIM_INFINITY), 0);
  assert.equal(t.memlockPages(4096), 2 ** 52 - 1, 'RLIM_INFINITY >> PAGE_SHIFT, as the kernel computes it');
  assert.equal(t.setMemlock(0x11fffn, RLIM_INFINITY), 0);
  assert.equal(t.memlockPages(4096), 17, 'whole pages: rlimit >> PAGE_SHIFT');
});
