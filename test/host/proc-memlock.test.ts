import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '../../src/base/errors.js';
import { parseProcMemlock, parseProcPinned } from '../../src/host/proc-memlock.js';

const LIMITS = (soft: string, hard: string) =>
  [
    'Limit                     Soft Limit           Hard Limit           Units     ',
    'Max cpu time              unlimited            unlimited            seconds   ',
    'Max open files            1024                 524288               files     ',
    `Max locked memory         ${soft.padEnd(20)} ${hard.padEnd(20)} bytes     `,
    'Max address space         unlimited            unlimited            bytes     ',
    '',
  ].join('\n');
const STATUS = (capEff: string) =>
  `Name:\tqemu-system-x86\nUmask:\t0022\nState:\tS (sleeping)\nCapEff:\t${capEff}\n`;
const L = (text: string) => ({ text, file: '/proc/42/limits' });
const S = (text: string) => ({ text, file: '/proc/42/status' });

test('the soft and hard RLIMIT_MEMLOCK and CAP_IPC_LOCK (bit 14 of CapEff) of a process', () => {
  const libvirt = parseProcMemlock(L(LIMITS('17179869184', '17179869184')), S(STATUS('0000000000000000')));
  assert.deepEqual(libvirt, {
    soft: 17179869184n,
    hard: 17179869184n,
    capIpcLock: false,
    name: 'qemu-system-x86',
  });
  const root = parseProcMemlock(L(LIMITS('8388608', '8388608')), S(STATUS('000001ffffffffff')));
  assert.equal(root.capIpcLock, true);
  // every capability but CAP_IPC_LOCK (capsh --drop=cap_ipc_lock)
  assert.equal(
    parseProcMemlock(L(LIMITS('8388608', '8388608')), S(STATUS('000001fffeffbfff'))).capIpcLock,
    false,
  );
  const unl = parseProcMemlock(L(LIMITS('unlimited', 'unlimited')), S(STATUS('0000000000004000')));
  assert.equal(unl.soft, 'unlimited');
  assert.equal(unl.capIpcLock, true);
});

test('a file that is not /proc/PID/limits or status is an error naming it (and the line)', () => {
  const bad = (f: () => unknown, file: string, line: number | undefined, re: RegExp) =>
    assert.throws(
      f,
      (e: unknown) => e instanceof InputError && e.file === file && e.line === line && re.test(e.message),
    );
  bad(
    () => parseProcMemlock(L('hello\n'), S(STATUS('0'))),
    '/proc/42/limits',
    undefined,
    /no "Max locked memory" line/,
  );
  bad(
    () => parseProcMemlock(L(LIMITS('lots', '8388608')), S(STATUS('0'))),
    '/proc/42/limits',
    4,
    /soft limit of "Max locked memory": "lots"/,
  );
  bad(
    () => parseProcMemlock(L('Max locked memory 1 2\n'), S(STATUS('0'))),
    '/proc/42/limits',
    1,
    /cannot parse the "Max locked memory" line/,
  );
  bad(
    () => parseProcMemlock(L(LIMITS('1', '1')), S('Name:\tx\n')),
    '/proc/42/status',
    undefined,
    /no "CapEff:" line/,
  );
  bad(
    () => parseProcMemlock(L(LIMITS('1', '1')), S(STATUS('xyz'))),
    '/proc/42/status',
    4,
    /cannot parse CapEff/,
  );
});

test("VmPin and the real uid of a process (what iommufd's pins of the user's other processes add up to)", () => {
  const status = [
    'Name:\tqemu-system-x86',
    'Uid:\t107\t107\t107\t107',
    'Gid:\t107\t107\t107\t107',
    'VmLck:\t       0 kB',
    'VmPin:\t 8388608 kB',
    'CapEff:\t0000000000000000',
  ].join('\n');
  assert.deepEqual(parseProcPinned(status), { uid: 107, pinned: 8n << 30n });
  // a kernel thread has no VmPin line
  assert.equal(parseProcPinned('Name:\tkthreadd\nUid:\t0\t0\t0\t0\n'), undefined);
});
