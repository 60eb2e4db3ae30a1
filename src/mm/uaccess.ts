/**
 * access_ok: may the kernel touch [addr, addr + size) as user memory at all? Only the range test; a
 * page the process has not mapped still faults later, in copy_to_user / copy_from_user.
 *
 * Both kernels come to the same rule, "addr + size, computed without wrapping, stays at or below the
 * top of the user address space" (TASK_SIZE_MAX):
 * - aarch64: the generic __access_ok (include/asm-generic/access_ok.h: size <= limit && addr <= limit -
 *   size) with TASK_SIZE_MAX = 2^VA_BITS, 2^48 in Debian's configuration;
 * - x86_64 6.1: the same generic test with TASK_SIZE_MAX = 2^47 - 4096 (4-level paging);
 * - x86_64 6.12: arch/x86/include/asm/uaccess_64.h __access_ok for a size not known at compile time:
 *   the sum must not wrap and must not pass USER_PTR_MAX + 1 = TASK_SIZE_MAX (after "x86: fix
 *   off-by-one in access_ok()", which the 6.12 stable series carries).
 */
import type { Arch } from '../platform/types.js';

/** TASK_SIZE_MAX per architecture (Debian kernels: 4-level paging on x86_64, 48-bit VA on arm64). */
export const TASK_SIZE_MAX: Readonly<Record<Arch, bigint>> = {
  x86_64: (1n << 47n) - 4096n,
  aarch64: 1n << 48n,
};

export function accessOk(arch: Arch, addr: bigint, size: bigint): boolean {
  const limit = TASK_SIZE_MAX[arch];
  return size <= limit && addr <= limit - size;
}
