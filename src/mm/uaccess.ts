/**
 * access_ok: may the kernel touch [addr, addr + size) as user memory at all? Only the range test; a
 * page the process has not mapped still faults later, in copy_to_user / copy_from_user.
 *
 * Both kernels come to the same rule, "addr + size, computed without wrapping, stays at or below the
 * top of the user address space" (TASK_SIZE_MAX):
 * - aarch64: the generic __access_ok (include/asm-generic/access_ok.h: size <= limit && addr <= limit -
 *   size), TASK_SIZE_MAX = 2^VA_BITS of the build (Debian: 48 in 6.1, 52 in 6.12);
 * - x86_64 6.1: the same generic test, TASK_SIZE_MAX = 2^47 - 4096 with 4-level paging, 2^56 - 4096
 *   when the CPU has LA57 and the kernel runs 5-level paging (Debian's default when it can);
 * - x86_64 6.12: arch/x86/include/asm/uaccess_64.h __access_ok for a size not known at compile time:
 *   the sum must not wrap and must not pass USER_PTR_MAX + 1 = TASK_SIZE_MAX (after "x86: fix
 *   off-by-one in access_ok()", which the 6.12 stable series carries).
 * The conformance runs pin these down (dirty.iovx, bitmaps placed around each limit): EFAULT just below,
 * EINVAL from the limit on, on both kernels, QEMU's `-cpu max` q35 (LA57) and the arm64 virt machines
 * (4 KiB and 16 KiB pages).
 */
import type { KernelProfile } from '../kernel/profile.js';
import type { Arch } from '../platform/types.js';

/** The CPU facts TASK_SIZE_MAX depends on. */
export interface UserCpu {
  readonly arch: Arch;
  /** x86_64: 5-level paging (LA57). */
  readonly la57?: boolean;
}

/** TASK_SIZE_MAX: one past the highest user address. */
export function taskSizeMax(cpu: UserCpu, profile: KernelProfile): bigint {
  if (cpu.arch === 'aarch64') return 1n << BigInt(profile.arm64VaBits);
  return (1n << (cpu.la57 ? 56n : 47n)) - 4096n;
}

export function accessOk(limit: bigint, addr: bigint, size: bigint): boolean {
  return size <= limit && addr <= limit - size;
}
