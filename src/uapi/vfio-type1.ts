/**
 * Byte layouts of the VFIO container, group and type1 IOMMU ioctls (include/uapi/linux/vfio.h, LP64,
 * little-endian). Device ioctls (GET_INFO, REGION/IRQ info, SET_IRQS) live in ./vfio-device.ts.
 *
 * Offsets are explicit: every user buffer is a `Uint8Array` read and written in place with these
 * helpers, exactly as `copy_from_user` / `copy_to_user` of the kernel would see it.
 */

/** `_IO(';', 100 + n)` = 0x3B00 | (100 + n). */
export const vfioIoctl = (n: number): number => 0x3b00 | (100 + n);

export const VFIO_API_VERSION = 0;

export const VFIO_GET_API_VERSION = vfioIoctl(0);
export const VFIO_CHECK_EXTENSION = vfioIoctl(1);
export const VFIO_SET_IOMMU = vfioIoctl(2);
export const VFIO_GROUP_GET_STATUS = vfioIoctl(3);
export const VFIO_GROUP_SET_CONTAINER = vfioIoctl(4);
export const VFIO_GROUP_UNSET_CONTAINER = vfioIoctl(5);
export const VFIO_GROUP_GET_DEVICE_FD = vfioIoctl(6);
export const VFIO_IOMMU_GET_INFO = vfioIoctl(12);
export const VFIO_IOMMU_MAP_DMA = vfioIoctl(13);
export const VFIO_IOMMU_UNMAP_DMA = vfioIoctl(14);
export const VFIO_IOMMU_ENABLE = vfioIoctl(15);
export const VFIO_IOMMU_DISABLE = vfioIoctl(16);
export const VFIO_IOMMU_DIRTY_PAGES = vfioIoctl(17);

/** Names of the container/group/type1 ioctls, for scenarios and messages. */
export const CONTAINER_IOCTL_NAMES: Readonly<Record<string, number>> = {
  VFIO_GET_API_VERSION,
  VFIO_CHECK_EXTENSION,
  VFIO_SET_IOMMU,
  VFIO_GROUP_GET_STATUS,
  VFIO_GROUP_SET_CONTAINER,
  VFIO_GROUP_UNSET_CONTAINER,
  VFIO_GROUP_GET_DEVICE_FD,
  VFIO_IOMMU_GET_INFO,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_UNMAP_DMA,
  VFIO_IOMMU_ENABLE,
  VFIO_IOMMU_DISABLE,
  VFIO_IOMMU_DIRTY_PAGES,
};

/** CHECK_EXTENSION / SET_IOMMU arguments. */
export const VFIO_TYPE1_IOMMU = 1;
export const VFIO_SPAPR_TCE_IOMMU = 2;
export const VFIO_TYPE1v2_IOMMU = 3;
export const VFIO_DMA_CC_IOMMU = 4;
export const VFIO_EEH = 5;
export const VFIO_TYPE1_NESTING_IOMMU = 6;
export const VFIO_SPAPR_TCE_v2_IOMMU = 7;
export const VFIO_NOIOMMU_IOMMU = 8;
export const VFIO_UNMAP_ALL = 9;
export const VFIO_UPDATE_VADDR = 10;

// struct vfio_group_status { u32 argsz; u32 flags; }
export const GROUP_STATUS_SIZE = 8;
export const VFIO_GROUP_FLAGS_VIABLE = 1 << 0;
export const VFIO_GROUP_FLAGS_CONTAINER_SET = 1 << 1;

// struct vfio_iommu_type1_info { u32 argsz; u32 flags; u64 iova_pgsizes; u32 cap_offset; u32 pad; }
export const TYPE1_INFO_SIZE = 24;
/** offsetofend(iova_pgsizes): what the kernel requires. */
export const TYPE1_INFO_MINSZ = 16;
/** offsetofend(cap_offset). */
export const TYPE1_INFO_CAPSZ = 20;
export const VFIO_IOMMU_INFO_PGSIZES = 1 << 0;
export const VFIO_IOMMU_INFO_CAPS = 1 << 1;

// struct vfio_info_cap_header { u16 id; u16 version; u32 next; }
export const CAP_HEADER_SIZE = 8;
export const VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE = 1;
export const VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION = 2;
export const VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL = 3;
/** sizeof(vfio_iommu_type1_info_cap_migration) */
export const CAP_MIGRATION_SIZE = 32;
/** sizeof(vfio_iommu_type1_info_dma_avail) */
export const CAP_DMA_AVAIL_SIZE = 12;
/** sizeof(vfio_iommu_type1_info_cap_iova_range) without ranges; each range adds 16. */
export const CAP_IOVA_RANGE_SIZE = 16;
/** DIRTY_BITMAP_SIZE_MAX = ALIGN(INT_MAX, 64) / 8 */
export const DIRTY_BITMAP_SIZE_MAX = 0x10000000n;

// struct vfio_iommu_type1_dma_map { u32 argsz; u32 flags; u64 vaddr; u64 iova; u64 size; }
export const DMA_MAP_SIZE = 32;
export const VFIO_DMA_MAP_FLAG_READ = 1 << 0;
export const VFIO_DMA_MAP_FLAG_WRITE = 1 << 1;
export const VFIO_DMA_MAP_FLAG_VADDR = 1 << 2;
export const DMA_MAP_VALID_FLAGS = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE | VFIO_DMA_MAP_FLAG_VADDR;

// struct vfio_iommu_type1_dma_unmap { u32 argsz; u32 flags; u64 iova; u64 size; u8 data[]; }
export const DMA_UNMAP_SIZE = 24;
export const VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP = 1 << 0;
export const VFIO_DMA_UNMAP_FLAG_ALL = 1 << 1;
export const VFIO_DMA_UNMAP_FLAG_VADDR = 1 << 2;
export const DMA_UNMAP_VALID_FLAGS =
  VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP | VFIO_DMA_UNMAP_FLAG_ALL | VFIO_DMA_UNMAP_FLAG_VADDR;
// struct vfio_bitmap { u64 pgsize; u64 size; u64 __user *data; }
export const VFIO_BITMAP_SIZE = 24;

// struct vfio_iommu_type1_dirty_bitmap { u32 argsz; u32 flags; u8 data[]; }
export const DIRTY_BITMAP_SIZE = 8;
export const VFIO_IOMMU_DIRTY_PAGES_FLAG_START = 1 << 0;
export const VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP = 1 << 1;
export const VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP = 1 << 2;
// struct vfio_iommu_type1_dirty_bitmap_get { u64 iova; u64 size; struct vfio_bitmap bitmap; }
export const DIRTY_BITMAP_GET_SIZE = 16 + VFIO_BITMAP_SIZE;

/** Little-endian field access on a user buffer. Callers check the length first. */
export const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);

export function getU32(b: Uint8Array, off: number): number {
  return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
}

export function putU32(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff;
  b[off + 1] = (v >>> 8) & 0xff;
  b[off + 2] = (v >>> 16) & 0xff;
  b[off + 3] = (v >>> 24) & 0xff;
}

export function putU16(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff;
  b[off + 1] = (v >>> 8) & 0xff;
}

export function getU16(b: Uint8Array, off: number): number {
  return b[off]! | (b[off + 1]! << 8);
}

export function getU64(b: Uint8Array, off: number): bigint {
  return (BigInt(getU32(b, off + 4)) << 32n) | BigInt(getU32(b, off));
}

export function putU64(b: Uint8Array, off: number, v: bigint): void {
  putU32(b, off, Number(v & 0xffffffffn));
  putU32(b, off + 4, Number((v >> 32n) & 0xffffffffn));
}

/** A NUL-terminated string in a user buffer (strndup_user); undefined when no NUL within `max`. */
export function getCString(b: Uint8Array, max = 4096): string | undefined {
  const n = Math.min(b.length, max);
  for (let i = 0; i < n; i++) {
    if (b[i] === 0) return new TextDecoder().decode(b.subarray(0, i));
  }
  return undefined;
}

export function cString(s: string): Uint8Array {
  const enc = new TextEncoder().encode(s);
  const b = new Uint8Array(enc.length + 1);
  b.set(enc);
  return b;
}

/** The integer stored in a 4-byte user int (`int __user *`), e.g. the container fd of SET_CONTAINER. */
export function intArg(v: number): Uint8Array {
  const b = new Uint8Array(4);
  putU32(b, 0, v >>> 0);
  return b;
}

export function getI32(b: Uint8Array, off: number): number {
  return getU32(b, off) | 0;
}
