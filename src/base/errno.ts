/** Linux errno numbers (asm-generic, as on x86_64 and arm64) used by the model. */
export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  ENOTTY: 25,
  ENOSPC: 28,
  ERANGE: 34,
  EOVERFLOW: 75,
  EBADFD: 77,
  EMSGSIZE: 90,
  EOPNOTSUPP: 95,
  EADDRINUSE: 98,
} as const;

export type ErrnoName = keyof typeof ERRNO;

const BY_NUMBER = new Map<number, ErrnoName>(
  (Object.entries(ERRNO) as [ErrnoName, number][]).map(([k, v]) => [v, k]),
);

/** `EINVAL` for 22 or -22; `E<n>` for numbers the model does not name. */
export function errnoName(n: number): string {
  const a = Math.abs(n);
  return BY_NUMBER.get(a) ?? `E${a}`;
}

export function errnoNumber(name: string): number | undefined {
  return (ERRNO as Record<string, number>)[name];
}

/** Kernel style result: 0 or a positive value on success, `-errno` on failure. */
export type KResult = number;

export const neg = (name: ErrnoName): number => -ERRNO[name];
