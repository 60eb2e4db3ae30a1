/**
 * A running process's locked-memory allowance as /proc shows it: the "Max locked memory" line of
 * /proc/PID/limits (RLIMIT_MEMLOCK, soft and hard, in bytes or "unlimited"; proc_pid_limits) and the
 * effective capabilities of /proc/PID/status (CapEff, hex; CAP_IPC_LOCK is bit 14), which lift the limit
 * for VFIO's pinning (vfio_pin_pages_remote checks capable(CAP_IPC_LOCK) when the mapping is made).
 * Pure: the caller reads the files.
 */
import { InputError } from '../base/errors.js';
import { parseU64 } from '../base/u64.js';

/** CAP_IPC_LOCK (include/uapi/linux/capability.h). */
export const CAP_IPC_LOCK = 14;

export interface ProcMemlock {
  /** Soft RLIMIT_MEMLOCK: what the kernel compares with (rlimit()). */
  readonly soft: bigint | 'unlimited';
  readonly hard: bigint | 'unlimited';
  readonly capIpcLock: boolean;
  /** The process's command name (status `Name:`), when shown. */
  readonly name?: string;
}

function limitValue(text: string, file: string, line: number, which: string): bigint | 'unlimited' {
  if (text === 'unlimited') return 'unlimited';
  const v = /^[0-9]+$/.test(text) ? parseU64(text) : undefined;
  if (v === undefined)
    throw new InputError(`cannot parse the ${which} limit of "Max locked memory": ${JSON.stringify(text)}`, {
      file,
      line,
    });
  return v;
}

/** Reads the texts of /proc/PID/limits and /proc/PID/status (their paths name them in errors). */
export function parseProcMemlock(
  limits: { readonly text: string; readonly file: string },
  status: { readonly text: string; readonly file: string },
): ProcMemlock {
  const lines = limits.text.split('\n');
  const at = lines.findIndex((l) => l.startsWith('Max locked memory'));
  if (at < 0)
    throw new InputError('no "Max locked memory" line: not a /proc/PID/limits file', { file: limits.file });
  const fields = lines[at]!.slice('Max locked memory'.length).trim().split(/\s+/);
  if (fields.length !== 3 || fields[2] !== 'bytes')
    throw new InputError(`cannot parse the "Max locked memory" line: ${JSON.stringify(lines[at])}`, {
      file: limits.file,
      line: at + 1,
    });
  const soft = limitValue(fields[0]!, limits.file, at + 1, 'soft');
  const hard = limitValue(fields[1]!, limits.file, at + 1, 'hard');
  const st = status.text.split('\n');
  const capAt = st.findIndex((l) => l.startsWith('CapEff:'));
  if (capAt < 0)
    throw new InputError('no "CapEff:" line: not a /proc/PID/status file', { file: status.file });
  const hex = st[capAt]!.slice('CapEff:'.length).trim();
  if (!/^[0-9a-fA-F]{1,16}$/.test(hex))
    throw new InputError(`cannot parse CapEff: ${JSON.stringify(hex)}`, {
      file: status.file,
      line: capAt + 1,
    });
  const capIpcLock = ((BigInt('0x' + hex) >> BigInt(CAP_IPC_LOCK)) & 1n) === 1n;
  const nameLine = st.find((l) => l.startsWith('Name:'));
  const name = nameLine?.slice('Name:'.length).trim();
  return { soft, hard, capIpcLock, ...(name ? { name } : {}) };
}

/** What a process pins, from /proc/PID/status: its real uid (`Uid:`) and `VmPin` (mm->pinned_vm). */
export interface ProcPinned {
  readonly uid: number;
  readonly pinned: bigint;
}

/**
 * The real uid and VmPin of a /proc/PID/status text, or undefined when either line is missing (a
 * kernel thread has no VmPin). iommufd adds every page it pins to the mapping process's pinned_vm in all
 * accounting modes (do_update_pinned), so the VmPin of a user's processes is what they hold in
 * user->locked_vm through iommufd (plus what RDMA and others pin).
 */
export function parseProcPinned(text: string): ProcPinned | undefined {
  const uid = /^Uid:\s+([0-9]+)/m.exec(text);
  const pin = /^VmPin:\s+([0-9]+) kB$/m.exec(text);
  if (!uid || !pin) return undefined;
  return { uid: Number(uid[1]), pinned: BigInt(pin[1]!) * 1024n };
}
