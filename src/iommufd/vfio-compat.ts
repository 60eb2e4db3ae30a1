/**
 * VFIO type1 on /dev/iommu (drivers/iommu/iommufd/vfio_compat.c, 6.12): the legacy container ioctls
 * answered by an iommufd context against its compatibility IOAS, which IOMMU_VFIO_IOAS sets, reads and
 * clears. What differs from vfio_iommu_type1 (src/vfio/type1): GET_INFO's capabilities are DMA_AVAIL
 * (always U32_MAX) then the IOVA ranges (the holes of the IOAS's reserved IOVA), without migration;
 * MAP_DMA takes only READ|WRITE (no VADDR) and maps at the given IOVA like IOAS_MAP with FIXED_IOVA, even
 * with neither flag; UNMAP_DMA takes only UNMAP_ALL (no dirty bitmap, no VADDR), removes whole mappings
 * and answers the bytes removed even when it fails part way; SET_IOMMU(TYPE1) turns large pages off,
 * which lets UNMAP_DMA cut mappings at the ends of the range first (type1 v1's partial unmaps).
 */
import { ERRNO } from '../base/errno.js';
import { U64_MAX } from '../base/u64.js';
import {
  CAP_DMA_AVAIL_SIZE,
  TYPE1_INFO_MINSZ,
  TYPE1_INFO_SIZE,
  VFIO_DMA_CC_IOMMU,
  VFIO_IOMMU_INFO_CAPS,
  VFIO_IOMMU_INFO_PGSIZES,
  VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE,
  VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL,
  VFIO_TYPE1_IOMMU,
  VFIO_TYPE1v2_IOMMU,
  VFIO_UNMAP_ALL,
  getU16,
  getU32,
  getU64,
  putU32,
  putU64,
} from '../uapi/vfio-type1.js';
import type { IoasObject } from './ioas.js';
import type { IommufdCtx } from './main.js';
import { IoptPages } from './pages.js';

export const IOMMU_VFIO_IOAS_GET = 0;
export const IOMMU_VFIO_IOAS_SET = 1;
export const IOMMU_VFIO_IOAS_CLEAR = 2;

const PAGE = 4096n;
const DMA_MAP_MINSZ = 32; // offsetofend(struct vfio_iommu_type1_dma_map, size)
const DMA_UNMAP_MINSZ = 24; // offsetofend(struct vfio_iommu_type1_dma_unmap, size)
const MAP_READ = 1;
const MAP_WRITE = 2;
const UNMAP_ALL = 2;
const IOVA_CAP_HEADER = 16; // struct vfio_iommu_type1_info_cap_iova_range without its ranges
const IOVA_RANGE = 16;

/** IOMMU_VFIO_IOAS (iommufd_vfio_ioas): `k` is the kernel's copy of struct iommu_vfio_ioas. */
export function vfioIoasIoctl(ctx: IommufdCtx, k: Uint8Array, respond: () => number): number {
  if (getU16(k, 10) !== 0) return -ERRNO.EOPNOTSUPP;
  switch (getU16(k, 8)) {
    case IOMMU_VFIO_IOAS_GET: {
      const ioas = ctx.vfioIoas;
      if (!ioas) return -ERRNO.ENODEV;
      putU32(k, 4, ioas.id);
      return respond();
    }
    case IOMMU_VFIO_IOAS_SET: {
      const ioas = ctx.get(getU32(k, 4), 'ioas');
      if (!ioas) return -ERRNO.ENOENT;
      ctx.vfioIoas = ioas;
      return 0;
    }
    case IOMMU_VFIO_IOAS_CLEAR:
      ctx.vfioIoas = undefined;
      return 0;
    default:
      return -ERRNO.EOPNOTSUPP;
  }
}

/** iommufd_vfio_check_extension */
export function compatCheckExtension(ctx: IommufdCtx, ext: number): number {
  switch (ext) {
    case VFIO_TYPE1_IOMMU:
    case VFIO_TYPE1v2_IOMMU:
    case VFIO_UNMAP_ALL:
      return 1;
    case VFIO_DMA_CC_IOMMU: {
      // iommufd_vfio_cc_iommu: every paging HWPT of the compat IOAS enforces coherency
      const ioas = ctx.vfioIoas;
      if (!ioas) return -ERRNO.ENODEV;
      return ioas.hwpts.every((h) => h.domain.enforceCacheCoherency) ? 1 : 0;
    }
    default:
      // NOIOMMU (no CONFIG_VFIO_NOIOMMU), the obsolete nesting type, UPDATE_VADDR, anything else
      return 0;
  }
}

/** iommufd_vfio_set_iommu: TYPE1 or TYPE1v2 on an existing compat IOAS; TYPE1 disables large pages. */
export function compatSetIommu(ctx: IommufdCtx, type: number): number {
  if (type !== VFIO_TYPE1_IOMMU && type !== VFIO_TYPE1v2_IOMMU) return -ERRNO.EINVAL;
  const ioas = ctx.vfioIoas;
  if (!ioas) return -ERRNO.ENODEV;
  return type === VFIO_TYPE1_IOMMU ? ioas.iopt.setLargePages(false) : 0;
}

/** iommufd_get_pagesizes: what the IOAS's domains share, at least the CPU page, at least the alignment. */
function pageSizes(ioas: IoasObject): bigint {
  let bitmap = U64_MAX;
  for (const d of ioas.iopt.domains) bitmap &= d.pgsizeBitmap;
  if ((bitmap & (PAGE - 1n)) !== 0n) bitmap = (bitmap & ~(PAGE - 1n)) | PAGE;
  return bitmap > ioas.iopt.iovaAlignment ? bitmap : ioas.iopt.iovaAlignment;
}

/**
 * iommufd_vfio_iommu_get_info on the user's buffer: the capabilities that fit are written where they go,
 * a capability's `next` is set once the following one is counted (even if it did not fit), argsz says
 * how much all of them need.
 */
export function compatGetInfo(ctx: IommufdCtx, arg: Uint8Array): number {
  if (arg.length < TYPE1_INFO_MINSZ) return -ERRNO.EFAULT;
  const argsz = getU32(arg, 0);
  if (argsz < TYPE1_INFO_MINSZ) return -ERRNO.EINVAL;
  const minsz = Math.min(argsz, TYPE1_INFO_SIZE);
  const ioas = ctx.vfioIoas;
  if (!ioas) return -ERRNO.ENODEV;
  // copy_to_user of the capabilities, against the buffer the process really has
  const room = (at: number, n: number): boolean => at + n <= arg.length;
  const fills: ((at: number, avail: number) => number)[] = [
    (at, avail) => {
      if (avail >= CAP_DMA_AVAIL_SIZE) {
        if (!room(at, CAP_DMA_AVAIL_SIZE)) return -ERRNO.EFAULT;
        arg.fill(0, at, at + CAP_DMA_AVAIL_SIZE);
        arg[at] = VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL;
        arg[at + 2] = 1;
        putU32(arg, at + 8, 0xffffffff);
      }
      return CAP_DMA_AVAIL_SIZE;
    },
    (at, avail) => {
      const ranges = ioas.iopt.usableRanges();
      for (let i = 0; i < ranges.length; i++) {
        if (avail < IOVA_CAP_HEADER + IOVA_RANGE * (i + 1)) continue;
        const o = at + IOVA_CAP_HEADER + IOVA_RANGE * i;
        if (!room(o, IOVA_RANGE)) return -ERRNO.EFAULT;
        putU64(arg, o, ranges[i]!.start);
        putU64(arg, o + 8, ranges[i]!.last);
      }
      if (avail >= IOVA_CAP_HEADER + IOVA_RANGE * ranges.length) {
        if (!room(at, IOVA_CAP_HEADER)) return -ERRNO.EFAULT;
        arg.fill(0, at, at + IOVA_CAP_HEADER);
        arg[at] = VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE;
        arg[at + 2] = 1;
        putU32(arg, at + 8, ranges.length);
      }
      return IOVA_CAP_HEADER + IOVA_RANGE * ranges.length;
    },
  ];
  let total = TYPE1_INFO_SIZE;
  let lastCap = -1;
  for (const fill of fills) {
    const size = argsz > total ? fill(total, argsz - total) : fill(-1, 0);
    if (size < 0) return size;
    if (lastCap >= 0 && argsz >= total) {
      if (!room(lastCap + 4, 4)) return -ERRNO.EFAULT;
      putU32(arg, lastCap + 4, total);
    }
    lastCap = total;
    total += (size + 7) & ~7;
  }
  const info = new Uint8Array(TYPE1_INFO_SIZE);
  putU32(info, 0, total);
  putU32(info, 4, VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS);
  putU64(info, 8, pageSizes(ioas));
  putU32(info, 16, argsz >= total ? TYPE1_INFO_SIZE : 0);
  if (!room(0, minsz)) return -ERRNO.EFAULT;
  arg.set(info.subarray(0, minsz), 0);
  return 0;
}

/** iommufd_vfio_map_dma: IOAS_MAP at the given IOVA, READ/WRITE only. */
export function compatMapDma(ctx: IommufdCtx, arg: Uint8Array): number {
  if (arg.length < DMA_MAP_MINSZ) return -ERRNO.EFAULT;
  const argsz = getU32(arg, 0);
  const flags = getU32(arg, 4);
  if (argsz < DMA_MAP_MINSZ || (flags & ~(MAP_READ | MAP_WRITE)) !== 0) return -ERRNO.EINVAL;
  const ioas = ctx.vfioIoas;
  if (!ioas) return -ERRNO.ENODEV;
  const uva = getU64(arg, 8);
  const iova = getU64(arg, 16);
  const length = getU64(arg, 24);
  // iopt_alloc_pages
  if (length === 0n || length > U64_MAX - PAGE) return -ERRNO.EINVAL;
  if (uva + length > U64_MAX) return -ERRNO.EOVERFLOW;
  const writable = (flags & MAP_WRITE) !== 0;
  const pages = new IoptPages(uva, length, writable, ctx.pageAccounting());
  const at = ioas.iopt.mapPages([{ pages, startByte: uva & 0xfffn, length }], length, iova, {
    readable: (flags & MAP_READ) !== 0,
    writable,
  });
  return typeof at === 'number' ? at : 0;
}

/** iommufd_vfio_unmap_dma: `size` is written back with the bytes removed, on failure too. */
export function compatUnmapDma(ctx: IommufdCtx, arg: Uint8Array): number {
  if (arg.length < DMA_UNMAP_MINSZ) return -ERRNO.EFAULT;
  const argsz = getU32(arg, 0);
  const flags = getU32(arg, 4);
  if (argsz < DMA_UNMAP_MINSZ || (flags & ~UNMAP_ALL) !== 0) return -ERRNO.EINVAL;
  const ioas = ctx.vfioIoas;
  if (!ioas) return -ERRNO.ENODEV;
  const iova = getU64(arg, 8);
  const size = getU64(arg, 16);
  let r: { rc: number; unmapped: bigint };
  if ((flags & UNMAP_ALL) !== 0) {
    if (iova !== 0n || size !== 0n) return -ERRNO.EINVAL;
    r = ioas.iopt.unmapIovaRange(0n, U64_MAX);
  } else {
    if (ioas.iopt.disableLargePages) {
      // cut at the last IOVA of the range and before its first (unsigned arithmetic, as the kernel's)
      const cuts = [BigInt.asUintN(64, iova + size - 1n)];
      if (iova !== 0n) cuts.push(iova - 1n);
      for (const c of cuts) {
        const rc = ioas.iopt.cutAfter(c);
        if (rc !== 0) return rc;
      }
    }
    // iopt_unmap_iova
    if (size === 0n) r = { rc: -ERRNO.EINVAL, unmapped: 0n };
    else if (iova + size - 1n > U64_MAX) r = { rc: -ERRNO.EOVERFLOW, unmapped: 0n };
    else r = ioas.iopt.unmapIovaRange(iova, iova + size - 1n);
  }
  putU64(arg, 16, r.unmapped);
  return r.rc;
}
