/**
 * IOAS objects and their ioctls (drivers/iommu/iommufd/ioas.c, 6.12): ALLOC, IOVA_RANGES, ALLOW_IOVAS,
 * MAP, UNMAP, and IOMMU_OPTION (RLIMIT_MODE on the context, HUGE_PAGES on an IOAS). Each handler gets
 * the kernel's copy of the struct (`k`, already size-checked by the dispatcher) and calls `respond` to
 * copy it back where the kernel does.
 */
import { ERRNO } from '../base/errno.js';
import { U64_MAX } from '../base/u64.js';
import {
  IOMMU_IOAS_MAP_FIXED_IOVA,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_VALID,
  IOMMU_IOAS_MAP_WRITEABLE,
  IOMMU_OPTION_HUGE_PAGES,
  IOMMU_OPTION_OP_GET,
  IOMMU_OPTION_OP_SET,
  IOMMU_OPTION_RLIMIT_MODE,
  IOVA_RANGE_SIZE,
} from '../uapi/iommufd.js';
import { getU16, getU32, getU64, putU32, putU64 } from '../uapi/vfio-type1.js';
import type { HwptPaging } from './device.js';
import { IoPagetable, type Span } from './io-pagetable.js';
import type { IommufdCtx } from './main.js';
import { IoptPages } from './pages.js';

export class IoasObject {
  readonly kind = 'ioas';
  readonly iopt: IoPagetable;
  /** Paging HWPTs on this IOAS, in creation order (each holds a reference: DESTROY is -EBUSY). */
  readonly hwpts: HwptPaging[] = [];

  constructor(
    readonly id: number,
    autoIovaMaxAlign: bigint,
  ) {
    this.iopt = new IoPagetable({ autoIovaMaxAlign });
  }
}

/** IOMMU_IOAS_ALLOC: the lowest free id; on a failed copy back the object is dropped again. */
export function ioasAlloc(ctx: IommufdCtx, k: Uint8Array, respond: () => number): number {
  if (getU32(k, 4) !== 0) return -ERRNO.EOPNOTSUPP;
  const ioas = new IoasObject(ctx.allocId(), ctx.env.autoIovaMaxAlign);
  putU32(k, 8, ioas.id);
  const rc = respond();
  if (rc !== 0) return rc;
  ctx.publish(ioas);
  return 0;
}

/** IOMMU_IOAS_IOVA_RANGES: the holes of the reserved IOVA; -EMSGSIZE (after writing) when they do not fit. */
export function ioasIovaRanges(ctx: IommufdCtx, k: Uint8Array, respond: () => number): number {
  if (getU32(k, 12) !== 0) return -ERRNO.EOPNOTSUPP;
  const ioas = ctx.get(getU32(k, 4), 'ioas');
  if (!ioas) return -ERRNO.ENOENT;
  const max = getU32(k, 8);
  const ranges = ioas.iopt.usableRanges();
  const user = getU64(k, 16);
  for (let i = 0; i < ranges.length && i < max; i++) {
    const e = new Uint8Array(IOVA_RANGE_SIZE);
    putU64(e, 0, ranges[i]!.start);
    putU64(e, 8, ranges[i]!.last);
    if (ctx.env.mm.copyToUser(BigInt.asUintN(64, user + BigInt(i * IOVA_RANGE_SIZE)), e) !== 0)
      return -ERRNO.EFAULT;
  }
  putU32(k, 8, ranges.length);
  putU64(k, 24, ioas.iopt.iovaAlignment);
  const rc = respond();
  if (rc !== 0) return rc;
  return ranges.length > max ? -ERRNO.EMSGSIZE : 0;
}

/** IOMMU_IOAS_ALLOW_IOVAS: replaces the allowed list (ranges may come in any order, must not overlap). */
export function ioasAllowIovas(ctx: IommufdCtx, k: Uint8Array): number {
  if (getU32(k, 12) !== 0) return -ERRNO.EOPNOTSUPP;
  const ioas = ctx.get(getU32(k, 4), 'ioas');
  if (!ioas) return -ERRNO.ENOENT;
  const num = getU32(k, 8);
  const user = getU64(k, 16);
  const list: Span[] = [];
  const e = new Uint8Array(IOVA_RANGE_SIZE);
  // iommufd_ioas_load_iovas
  for (let i = 0; i < num; i++) {
    if (ctx.env.mm.copyFromUser(e, BigInt.asUintN(64, user + BigInt(i) * 16n)) !== 0) return -ERRNO.EFAULT;
    const start = getU64(e, 0);
    const last = getU64(e, 8);
    if (start >= last) return -ERRNO.EINVAL;
    if (list.some((r) => r.start <= last && start <= r.last)) return -ERRNO.EINVAL;
    list.push({ start, last });
  }
  return ioas.iopt.setAllowed(list);
}

/** IOMMU_IOAS_MAP (iommufd_ioas_map -> iopt_map_user_pages). */
export function ioasMap(ctx: IommufdCtx, k: Uint8Array, respond: () => number): number {
  const flags = getU32(k, 4);
  if ((flags & ~IOMMU_IOAS_MAP_VALID) !== 0 || getU32(k, 12) !== 0) return -ERRNO.EOPNOTSUPP;
  const uva = getU64(k, 16);
  const length = getU64(k, 24);
  const iova = getU64(k, 32);
  if (iova >= U64_MAX || length >= U64_MAX) return -ERRNO.EOVERFLOW;
  if ((flags & (IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE)) === 0) return -ERRNO.EINVAL;
  const ioas = ctx.get(getU32(k, 8), 'ioas');
  if (!ioas) return -ERRNO.ENOENT;
  // iopt_alloc_pages: nothing of the user memory is looked at yet
  if (length === 0n || length > U64_MAX - 4096n) return -ERRNO.EINVAL;
  if (uva + length > U64_MAX) return -ERRNO.EOVERFLOW;
  const writable = (flags & IOMMU_IOAS_MAP_WRITEABLE) !== 0;
  const pages = new IoptPages(uva, length, writable, ctx.pageAccounting());
  const at = ioas.iopt.mapPages(
    [{ pages, startByte: uva & 0xfffn, length }],
    length,
    flags & IOMMU_IOAS_MAP_FIXED_IOVA ? iova : undefined,
    { readable: (flags & IOMMU_IOAS_MAP_READABLE) !== 0, writable },
  );
  if (typeof at === 'number') return at;
  putU64(k, 32, at);
  // a failed copy back answers -EFAULT; the mapping stays
  return respond();
}

/** IOMMU_IOAS_COPY: maps pages already mapped in one IOAS into another (or the same), pinned once. */
export function ioasCopy(ctx: IommufdCtx, k: Uint8Array, respond: () => number): number {
  const flags = getU32(k, 4);
  if ((flags & ~IOMMU_IOAS_MAP_VALID) !== 0) return -ERRNO.EOPNOTSUPP;
  const length = getU64(k, 16);
  const dstIova = getU64(k, 24);
  const srcIova = getU64(k, 32);
  if (length >= U64_MAX || srcIova >= U64_MAX || dstIova >= U64_MAX) return -ERRNO.EOVERFLOW;
  if ((flags & (IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE)) === 0) return -ERRNO.EINVAL;
  const src = ctx.get(getU32(k, 12), 'ioas');
  if (!src) return -ERRNO.ENOENT;
  const slices = src.iopt.slicesOf(srcIova, length);
  if (typeof slices === 'number') return slices;
  const dst = ctx.get(getU32(k, 8), 'ioas');
  if (!dst) return -ERRNO.ENOENT;
  const at = dst.iopt.mapPages(slices, length, flags & IOMMU_IOAS_MAP_FIXED_IOVA ? dstIova : undefined, {
    readable: (flags & IOMMU_IOAS_MAP_READABLE) !== 0,
    writable: (flags & IOMMU_IOAS_MAP_WRITEABLE) !== 0,
  });
  if (typeof at === 'number') return at;
  putU64(k, 24, at);
  return respond();
}

/** IOMMU_IOAS_UNMAP: whole mappings inside the range, or everything for [0, U64_MAX]. */
export function ioasUnmap(ctx: IommufdCtx, k: Uint8Array, respond: () => number): number {
  const ioas = ctx.get(getU32(k, 4), 'ioas');
  if (!ioas) return -ERRNO.ENOENT;
  const iova = getU64(k, 8);
  const length = getU64(k, 16);
  let unmapped: bigint;
  if (iova === 0n && length === U64_MAX) {
    unmapped = ioas.iopt.unmapAll();
  } else {
    if (iova >= U64_MAX || length >= U64_MAX) return -ERRNO.EOVERFLOW;
    if (length === 0n) return -ERRNO.EINVAL;
    if (iova + length - 1n > U64_MAX) return -ERRNO.EOVERFLOW;
    const r = ioas.iopt.unmapRange(iova, iova + length - 1n);
    if (typeof r === 'number') return r;
    unmapped = r;
  }
  putU64(k, 16, unmapped);
  return respond();
}

/** IOMMU_OPTION (iommufd_option): val64 is copied back by the dispatcher on success. */
export function optionIoctl(ctx: IommufdCtx, k: Uint8Array): number {
  if (getU16(k, 10) !== 0) return -ERRNO.EOPNOTSUPP;
  const option = getU32(k, 4);
  const op = getU16(k, 8);
  const object = getU32(k, 12);
  const val = getU64(k, 16);
  if (option === IOMMU_OPTION_RLIMIT_MODE) {
    // iommufd_option_rlimit_mode
    if (object !== 0) return -ERRNO.EOPNOTSUPP;
    if (op === IOMMU_OPTION_OP_GET) {
      putU64(k, 16, ctx.accountMm ? 1n : 0n);
      return 0;
    }
    if (op !== IOMMU_OPTION_OP_SET) return -ERRNO.EOPNOTSUPP;
    if (!ctx.env.task.capSysResource) return -ERRNO.EPERM;
    if (ctx.objectCount > 0) return -ERRNO.EBUSY;
    if (val > 1n) return -ERRNO.EINVAL;
    ctx.accountMm = val === 1n;
    return 0;
  }
  if (option !== IOMMU_OPTION_HUGE_PAGES) return -ERRNO.EOPNOTSUPP;
  // iommufd_ioas_option: the IOAS first
  const ioas = ctx.get(object, 'ioas');
  if (!ioas) return -ERRNO.ENOENT;
  if (op === IOMMU_OPTION_OP_GET) {
    putU64(k, 16, ioas.iopt.disableLargePages ? 0n : 1n);
    return 0;
  }
  if (op !== IOMMU_OPTION_OP_SET) return -ERRNO.EOPNOTSUPP;
  if (val > 1n) return -ERRNO.EINVAL;
  return ioas.iopt.setLargePages(val === 1n);
}
