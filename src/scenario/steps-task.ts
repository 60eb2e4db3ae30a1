/**
 * Scenario steps for the process itself, as far as VFIO's charge for pinned memory goes: RLIMIT_MEMLOCK,
 * CAP_IPC_LOCK, mlock/munlock, and the VmLck line of /proc/self/status (mm->locked_vm). A scenario starts as root: every
 * capability and the default 8 MiB limit, so nothing is refused until it drops CAP_IPC_LOCK, as a QEMU
 * started by libvirt or kubevirt runs. Lines as the conformance executor prints them (op=RLIMIT_MEMLOCK,
 * op=CAP_IPC_LOCK, op=MLOCK, op=MUNLOCK, op=VMLCK).
 */
import { RLIM_INFINITY } from '../kernel/task.js';
import { CASE_NAME_FIELD, registerStep } from './registry.js';
import { vaddrOff } from './steps.js';

const name = CASE_NAME_FIELD;

registerStep({
  op: 'set_rlimit_memlock',
  summary:
    'setrlimit(RLIMIT_MEMLOCK): CASE <name> rc errno op=RLIMIT_MEMLOCK value=<bytes|inf>; MAP_DMA charges ' +
    'pinned pages against the soft limit once CAP_IPC_LOCK is dropped',
  fields: {
    name,
    bytes: { kind: 'expr', help: 'the soft limit in bytes, e.g. 64MiB (counted in whole pages)' },
    unlimited: { kind: 'bool', help: 'RLIM_INFINITY instead of `bytes`' },
    hard: { kind: 'expr', help: 'the hard limit in bytes (default unlimited)' },
  },
  validate(s) {
    const both = s.fields['bytes'] !== undefined && s.fields['unlimited'] !== undefined;
    const none = s.fields['bytes'] === undefined && s.fields['unlimited'] === undefined;
    return both || none ? { field: 'bytes', message: 'give either "bytes" or "unlimited: true"' } : undefined;
  },
  run(ctx, s) {
    const unlimited = ctx.bool(s, 'unlimited', false);
    const cur = unlimited ? RLIM_INFINITY : ctx.u64(s, 'bytes');
    const max = s.fields['hard'] ? ctx.u64(s, 'hard') : RLIM_INFINITY;
    const rc = ctx.sys.task.setMemlock(cur, max);
    ctx.caseLine(
      ctx.text(s, 'name'),
      rc,
      ` op=RLIMIT_MEMLOCK value=${unlimited ? 'inf' : '0x' + cur.toString(16)}`,
    );
    return rc;
  },
});

registerStep({
  op: 'set_cap_ipc_lock',
  summary:
    'CAP_IPC_LOCK into or out of the effective capability set (capset): CASE <name> rc errno op=CAP_IPC_LOCK ' +
    'value=<0|1>; with it, pinned pages are charged but never refused',
  fields: { name, value: { kind: 'bool', required: true, help: 'true: the capability is effective' } },
  run(ctx, s) {
    const on = ctx.bool(s, 'value', true);
    ctx.sys.task.capIpcLock = on;
    ctx.caseLine(ctx.text(s, 'name'), 0, ` op=CAP_IPC_LOCK value=${on ? 1 : 0}`);
    return 0;
  },
});

registerStep({
  op: 'read_vmlck',
  summary:
    'VmLck of /proc/self/status (mm->locked_vm, what MAP_DMA charged): CASE <name> rc errno op=VMLCK kb=<n>',
  fields: { name },
  run(ctx, s) {
    ctx.caseLine(ctx.text(s, 'name'), 0, ` op=VMLCK kb=${ctx.sys.mm.lockedVmBytes / 1024}`);
    return 0;
  },
});

for (const lock of [true, false]) {
  const op = lock ? 'mlock' : 'munlock';
  registerStep({
    op,
    summary: lock
      ? "mlock(2) of the process's own memory: CASE <name> rc errno op=MLOCK vaddr_off size; locked pages count in VmLck " +
        'once, and again when VFIO pins them (QEMU -overcommit mem-lock=on); without CAP_IPC_LOCK the new pages must ' +
        'fit RLIMIT_MEMLOCK (ENOMEM), a zero limit is EPERM'
      : 'munlock(2): CASE <name> rc errno op=MUNLOCK vaddr_off size',
    fields: {
      name,
      vaddr: { kind: 'expr', help: 'user address (default: the vaddr_base region); rounded down to a page' },
      size: { kind: 'expr', required: true, help: 'bytes (rounded up to whole pages)' },
    },
    run(ctx, s) {
      const base = ctx.vaddrBaseStart();
      const vaddr = s.fields['vaddr'] ? ctx.u64(s, 'vaddr') : (base ?? 0n);
      const size = ctx.u64(s, 'size');
      const rc = ctx.sys.mm.mlock(vaddr, size, lock, ctx.sys.task, ctx.sys.core.pageSize);
      ctx.caseLine(
        ctx.text(s, 'name'),
        rc,
        ` op=${op.toUpperCase()} vaddr_off=0x${vaddrOff(ctx, vaddr).toString(16)} size=0x${size.toString(16)}`,
      );
      return rc;
    },
  });
}
