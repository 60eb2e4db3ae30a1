/**
 * Byte layouts of /dev/iommu's ioctls (include/uapi/linux/iommufd.h, 6.12, LP64 little-endian) and of
 * the VFIO device cdev's iommufd ioctls (include/uapi/linux/vfio.h). Every struct starts with its size
 * (u32); offsets are explicit, as in ./vfio-type1.ts.
 */

/** `_IO(';', n)`: no direction or size bits. */
const io = (n: number): number => 0x3b00 | n;

export const IOMMUFD_CMD_BASE = 0x80;
export const IOMMU_DESTROY = io(0x80);
export const IOMMU_IOAS_ALLOC = io(0x81);
export const IOMMU_IOAS_ALLOW_IOVAS = io(0x82);
export const IOMMU_IOAS_COPY = io(0x83);
export const IOMMU_IOAS_IOVA_RANGES = io(0x84);
export const IOMMU_IOAS_MAP = io(0x85);
export const IOMMU_IOAS_UNMAP = io(0x86);
export const IOMMU_OPTION = io(0x87);
export const IOMMU_VFIO_IOAS = io(0x88);
export const IOMMU_HWPT_ALLOC = io(0x89);
export const IOMMU_GET_HW_INFO = io(0x8a);
export const IOMMU_HWPT_SET_DIRTY_TRACKING = io(0x8b);
export const IOMMU_HWPT_GET_DIRTY_BITMAP = io(0x8c);
export const IOMMU_HWPT_INVALIDATE = io(0x8d);
export const IOMMU_FAULT_QUEUE_ALLOC = io(0x8e);
/** One past the last command number of 6.12's table (IOMMU_TEST_CMD is not built). */
export const IOMMUFD_CMD_END = 0x8f;

/** Struct sizes (the kernel's `op->size`) and minimum user sizes (`op->min_size`) per command nr. */
export const IOMMUFD_OP_SIZES: Readonly<Record<number, { readonly size: number; readonly min: number }>> = {
  0x80: { size: 8, min: 8 },
  0x81: { size: 12, min: 12 },
  0x82: { size: 24, min: 24 },
  0x83: { size: 40, min: 40 },
  0x84: { size: 32, min: 32 },
  0x85: { size: 40, min: 40 },
  0x86: { size: 24, min: 24 },
  0x87: { size: 24, min: 24 },
  0x88: { size: 12, min: 12 },
  0x89: { size: 48, min: 24 },
  0x8a: { size: 40, min: 32 },
  0x8b: { size: 16, min: 16 },
  0x8c: { size: 48, min: 48 },
  0x8d: { size: 32, min: 32 },
  0x8e: { size: 16, min: 16 },
};

/** struct iommu_ioas_map flags. */
export const IOMMU_IOAS_MAP_FIXED_IOVA = 1 << 0;
export const IOMMU_IOAS_MAP_WRITEABLE = 1 << 1;
export const IOMMU_IOAS_MAP_READABLE = 1 << 2;
export const IOMMU_IOAS_MAP_VALID = 7;

/** struct iommu_option: option ids and ops. */
export const IOMMU_OPTION_RLIMIT_MODE = 0;
export const IOMMU_OPTION_HUGE_PAGES = 1;
export const IOMMU_OPTION_OP_SET = 0;
export const IOMMU_OPTION_OP_GET = 1;

/** struct iommu_iova_range: 16 bytes, inclusive. */
export const IOVA_RANGE_SIZE = 16;

/** VFIO device cdev ioctls: _IO(';', 100 + 18..20). */
export const VFIO_DEVICE_BIND_IOMMUFD = 0x3b00 | (100 + 18);
export const VFIO_DEVICE_ATTACH_IOMMUFD_PT = 0x3b00 | (100 + 19);
export const VFIO_DEVICE_DETACH_IOMMUFD_PT = 0x3b00 | (100 + 20);
/** Their struct sizes (argsz minimums). */
export const BIND_IOMMUFD_SIZE = 16;
export const ATTACH_PT_SIZE = 12;
export const DETACH_PT_SIZE = 8;
