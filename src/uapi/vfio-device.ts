/**
 * Byte layouts of the VFIO *device* ioctls (include/uapi/linux/vfio.h, LP64 little-endian):
 * VFIO_DEVICE_GET_INFO, GET_REGION_INFO, GET_IRQ_INFO, SET_IRQS, RESET, GET_PCI_HOT_RESET_INFO,
 * PCI_HOT_RESET, IOEVENTFD, FEATURE. The container/group ioctls live
 * in the files of the vfio engineer (vfio-type1.ts and friends).
 *
 * The byte layer reads and writes `Uint8Array` user buffers with explicit offsets; the typed helpers on
 * top build buffers for callers (tests, scenarios, the CLI). Readers never throw: a buffer too short to
 * hold a field is the kernel's -EFAULT, which the callers check with `fits()` first.
 */

/** `_IO(';', 100 + n)`. */
const vfioIo = (n: number): number => 0x3b00 | (100 + n);

export const VFIO_DEVICE_GET_INFO = vfioIo(7);
export const VFIO_DEVICE_GET_REGION_INFO = vfioIo(8);
export const VFIO_DEVICE_GET_IRQ_INFO = vfioIo(9);
export const VFIO_DEVICE_SET_IRQS = vfioIo(10);
export const VFIO_DEVICE_RESET = vfioIo(11);
export const VFIO_DEVICE_GET_PCI_HOT_RESET_INFO = vfioIo(12);
export const VFIO_DEVICE_PCI_HOT_RESET = vfioIo(13);
export const VFIO_DEVICE_IOEVENTFD = vfioIo(16);
/** On a device fd; the same number is VFIO_IOMMU_DIRTY_PAGES on a container fd. */
export const VFIO_DEVICE_FEATURE = vfioIo(17);
// struct vfio_device_feature { u32 argsz; u32 flags; u8 data[]; }: flags = feature index | GET | SET | PROBE
export const VFIO_DEVICE_FEATURE_MASK = 0xffff;
export const VFIO_DEVICE_FEATURE_GET = 1 << 16;
export const VFIO_DEVICE_FEATURE_SET = 1 << 17;
export const VFIO_DEVICE_FEATURE_PROBE = 1 << 18;
export const VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY = 3;
export const VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP = 4;
export const VFIO_DEVICE_FEATURE_LOW_POWER_EXIT = 5;

// struct vfio_device_info { argsz, flags, num_regions, num_irqs, cap_offset, pad } (24 bytes)
export const VFIO_DEVICE_INFO_SIZE = 24;
/** offsetofend(struct vfio_device_info, num_irqs) */
export const VFIO_DEVICE_INFO_MINSZ = 16;
/** offsetofend(struct vfio_device_info, cap_offset) */
export const VFIO_DEVICE_INFO_CAPSZ = 20;
export const VFIO_DEVICE_FLAGS_RESET = 1 << 0;
export const VFIO_DEVICE_FLAGS_PCI = 1 << 1;
export const VFIO_DEVICE_FLAGS_CAPS = 1 << 7;

// struct vfio_region_info { argsz, flags, index, cap_offset, size u64, offset u64 } (32 bytes)
export const VFIO_REGION_INFO_SIZE = 32;
export const VFIO_REGION_INFO_FLAG_READ = 1 << 0;
export const VFIO_REGION_INFO_FLAG_WRITE = 1 << 1;
export const VFIO_REGION_INFO_FLAG_MMAP = 1 << 2;
export const VFIO_REGION_INFO_FLAG_CAPS = 1 << 3;
export const VFIO_REGION_INFO_CAP_SPARSE_MMAP = 1;
export const VFIO_REGION_INFO_CAP_TYPE = 2;
export const VFIO_REGION_INFO_CAP_MSIX_MAPPABLE = 3;

/** vfio-pci region indexes; VFIO_PCI_NUM_REGIONS = 9. */
export const VFIO_PCI_BAR0_REGION_INDEX = 0;
export const VFIO_PCI_BAR5_REGION_INDEX = 5;
export const VFIO_PCI_ROM_REGION_INDEX = 6;
export const VFIO_PCI_CONFIG_REGION_INDEX = 7;
export const VFIO_PCI_VGA_REGION_INDEX = 8;
export const VFIO_PCI_NUM_REGIONS = 9;
/** VFIO_PCI_OFFSET_SHIFT: a region's offset in the device fd is `index << 40`. */
export const VFIO_PCI_OFFSET_SHIFT = 40n;
export const vfioPciIndexToOffset = (index: number): bigint => BigInt(index) << VFIO_PCI_OFFSET_SHIFT;

// struct vfio_irq_info { argsz, flags, index, count } (16 bytes)
export const VFIO_IRQ_INFO_SIZE = 16;
export const VFIO_IRQ_INFO_EVENTFD = 1 << 0;
export const VFIO_IRQ_INFO_MASKABLE = 1 << 1;
export const VFIO_IRQ_INFO_AUTOMASKED = 1 << 2;
export const VFIO_IRQ_INFO_NORESIZE = 1 << 3;

// struct vfio_irq_set { argsz, flags, index, start, count, data[] } (20 bytes + data)
export const VFIO_IRQ_SET_SIZE = 20;
export const VFIO_IRQ_SET_DATA_NONE = 1 << 0;
export const VFIO_IRQ_SET_DATA_BOOL = 1 << 1;
export const VFIO_IRQ_SET_DATA_EVENTFD = 1 << 2;
export const VFIO_IRQ_SET_ACTION_MASK = 1 << 3;
export const VFIO_IRQ_SET_ACTION_UNMASK = 1 << 4;
export const VFIO_IRQ_SET_ACTION_TRIGGER = 1 << 5;
export const VFIO_IRQ_SET_DATA_TYPE_MASK = 0x7;
export const VFIO_IRQ_SET_ACTION_TYPE_MASK = 0x38;

/** vfio-pci IRQ indexes; VFIO_PCI_NUM_IRQS = 5. */
export const VFIO_PCI_INTX_IRQ_INDEX = 0;
export const VFIO_PCI_MSI_IRQ_INDEX = 1;
export const VFIO_PCI_MSIX_IRQ_INDEX = 2;
export const VFIO_PCI_ERR_IRQ_INDEX = 3;
export const VFIO_PCI_REQ_IRQ_INDEX = 4;
export const VFIO_PCI_NUM_IRQS = 5;

export const IRQ_INDEX_NAMES = ['INTX', 'MSI', 'MSIX', 'ERR', 'REQ'] as const;

// struct vfio_info_cap_header { u16 id, u16 version, u32 next } (8 bytes)
export const VFIO_INFO_CAP_HEADER_SIZE = 8;

/* ---------------- byte layer ---------------- */

/** True when `len` bytes at `off` lie inside the user buffer (otherwise the kernel's copy faults). */
export function fits(buf: Uint8Array, off: number, len: number): boolean {
  return off >= 0 && len >= 0 && off + len <= buf.length;
}

function view(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

export function rdU32(buf: Uint8Array, off: number): number {
  return view(buf).getUint32(off, true);
}
export function rdS32(buf: Uint8Array, off: number): number {
  return view(buf).getInt32(off, true);
}
export function rdU64(buf: Uint8Array, off: number): bigint {
  return view(buf).getBigUint64(off, true);
}
export function wrU16(buf: Uint8Array, off: number, v: number): void {
  view(buf).setUint16(off, v & 0xffff, true);
}
export function wrU32(buf: Uint8Array, off: number, v: number): void {
  view(buf).setUint32(off, v >>> 0, true);
}
export function wrU64(buf: Uint8Array, off: number, v: bigint): void {
  view(buf).setBigUint64(off, BigInt.asUintN(64, v), true);
}

/* ---------------- typed layer ---------------- */

export interface DeviceInfo {
  argsz: number;
  flags: number;
  numRegions: number;
  numIrqs: number;
  capOffset: number;
}

export function encodeDeviceInfo(
  argsz: number = VFIO_DEVICE_INFO_SIZE,
  size = VFIO_DEVICE_INFO_SIZE,
): Uint8Array {
  const b = new Uint8Array(size);
  if (fits(b, 0, 4)) wrU32(b, 0, argsz);
  return b;
}

export function decodeDeviceInfo(b: Uint8Array): DeviceInfo {
  return {
    argsz: rdU32(b, 0),
    flags: rdU32(b, 4),
    numRegions: rdU32(b, 8),
    numIrqs: rdU32(b, 12),
    capOffset: b.length >= 20 ? rdU32(b, 16) : 0,
  };
}

export interface RegionInfo {
  argsz: number;
  flags: number;
  index: number;
  capOffset: number;
  size: bigint;
  offset: bigint;
}

export function encodeRegionInfo(index: number, argsz = VFIO_REGION_INFO_SIZE, size = argsz): Uint8Array {
  const b = new Uint8Array(Math.max(size, 0));
  if (fits(b, 0, 4)) wrU32(b, 0, argsz);
  if (fits(b, 8, 4)) wrU32(b, 8, index);
  return b;
}

export function decodeRegionInfo(b: Uint8Array): RegionInfo {
  return {
    argsz: rdU32(b, 0),
    flags: rdU32(b, 4),
    index: rdU32(b, 8),
    capOffset: rdU32(b, 12),
    size: rdU64(b, 16),
    offset: rdU64(b, 24),
  };
}

export interface CapHeader {
  readonly offset: number;
  readonly id: number;
  readonly version: number;
  readonly next: number;
}

/** Walks a capability chain inside an info buffer (offsets from the buffer start), bounded. */
export function walkCaps(b: Uint8Array, first: number): CapHeader[] {
  const out: CapHeader[] = [];
  let off = first;
  const seen = new Set<number>();
  while (off !== 0 && fits(b, off, VFIO_INFO_CAP_HEADER_SIZE) && !seen.has(off)) {
    seen.add(off);
    const v = view(b);
    const h = {
      offset: off,
      id: v.getUint16(off, true),
      version: v.getUint16(off + 2, true),
      next: rdU32(b, off + 4),
    };
    out.push(h);
    off = h.next;
  }
  return out;
}

export interface IrqInfo {
  argsz: number;
  flags: number;
  index: number;
  count: number;
}

export function encodeIrqInfo(index: number, argsz = VFIO_IRQ_INFO_SIZE): Uint8Array {
  const b = new Uint8Array(VFIO_IRQ_INFO_SIZE);
  wrU32(b, 0, argsz);
  wrU32(b, 8, index);
  return b;
}

export function decodeIrqInfo(b: Uint8Array): IrqInfo {
  return { argsz: rdU32(b, 0), flags: rdU32(b, 4), index: rdU32(b, 8), count: rdU32(b, 12) };
}

export interface IrqSet {
  readonly flags: number;
  readonly index: number;
  readonly start: number;
  readonly count: number;
  /** DATA_BOOL: one byte per vector; DATA_EVENTFD: s32 fds; NONE: nothing. */
  readonly bools?: readonly number[];
  readonly fds?: readonly number[];
  /** Override of the argsz field (default: 20 + payload bytes). */
  readonly argsz?: number;
}

/**
 * Builds a `struct vfio_irq_set` buffer with its payload, as the oracle probe does. `slack` extra zero
 * bytes follow the payload (a user buffer larger than the struct, so an argsz beyond it still reads memory).
 */
export function encodeIrqSet(s: IrqSet, slack = 0): Uint8Array {
  const payload = s.fds !== undefined ? s.fds.length * 4 : s.bools !== undefined ? s.bools.length : 0;
  const b = new Uint8Array(VFIO_IRQ_SET_SIZE + payload + slack);
  wrU32(b, 0, s.argsz ?? VFIO_IRQ_SET_SIZE + payload);
  wrU32(b, 4, s.flags);
  wrU32(b, 8, s.index);
  wrU32(b, 12, s.start);
  wrU32(b, 16, s.count);
  if (s.fds !== undefined) s.fds.forEach((fd, i) => view(b).setInt32(VFIO_IRQ_SET_SIZE + 4 * i, fd, true));
  else if (s.bools !== undefined) s.bools.forEach((v, i) => (b[VFIO_IRQ_SET_SIZE + i] = v & 0xff));
  return b;
}

/** The IRQ index name the oracle prints (`IDX?` beyond the five). */
export function irqIndexName(i: number): string {
  return i >= 0 && i < IRQ_INDEX_NAMES.length ? IRQ_INDEX_NAMES[i]! : 'IDX?';
}

// struct vfio_pci_hot_reset_info { u32 argsz; u32 flags; u32 count; struct vfio_pci_dependent_device devices[]; }
// struct vfio_pci_hot_reset { u32 argsz; u32 flags; u32 count; s32 group_fds[]; }
/** The header both share (offsetofend(..., count) is their minsz). */
export const VFIO_PCI_HOT_RESET_HEADER_SIZE = 12;
// struct vfio_pci_dependent_device { u32 group_id (6.12: or devid); u16 segment; u8 bus; u8 devfn; }
export const VFIO_PCI_DEPENDENT_DEVICE_SIZE = 8;
// struct vfio_device_ioeventfd { u32 argsz; u32 flags; u64 offset; u64 data; s32 fd; u32 reserved; }
export const VFIO_DEVICE_IOEVENTFD_SIZE = 32;
/** offsetofend(struct vfio_device_ioeventfd, fd): `reserved` is never read. */
export const VFIO_DEVICE_IOEVENTFD_MINSZ = 28;
/** VFIO_DEVICE_IOEVENTFD_{8,16,32,64} = 1, 2, 4, 8: one bit, the write's size in bytes. */
export const VFIO_DEVICE_IOEVENTFD_SIZE_MASK = 0xf;

/** A device a bus or slot reset also resets. */
export interface DependentDevice {
  readonly group: number;
  readonly segment: number;
  readonly bus: number;
  readonly devfn: number;
}

export interface HotResetInfo {
  readonly argsz: number;
  readonly flags: number;
  readonly count: number;
  /** The entries the buffer holds (at most `count`). */
  readonly devices: readonly DependentDevice[];
}

/** A GET_PCI_HOT_RESET_INFO buffer of `argsz` bytes (at least the header). */
export function encodeHotResetInfo(argsz = VFIO_PCI_HOT_RESET_HEADER_SIZE): Uint8Array {
  const b = new Uint8Array(Math.max(argsz, VFIO_PCI_HOT_RESET_HEADER_SIZE));
  wrU32(b, 0, argsz);
  return b;
}

export function decodeHotResetInfo(b: Uint8Array): HotResetInfo {
  const count = rdU32(b, 8);
  const devices: DependentDevice[] = [];
  for (let i = 0; i < count; i++) {
    const o = VFIO_PCI_HOT_RESET_HEADER_SIZE + i * VFIO_PCI_DEPENDENT_DEVICE_SIZE;
    if (!fits(b, o, VFIO_PCI_DEPENDENT_DEVICE_SIZE)) break;
    devices.push({
      group: rdU32(b, o),
      segment: view(b).getUint16(o + 4, true),
      bus: b[o + 6]!,
      devfn: b[o + 7]!,
    });
  }
  return { argsz: rdU32(b, 0), flags: rdU32(b, 4), count, devices };
}

/** A PCI_HOT_RESET buffer naming `groupFds` (argsz and count from the list unless given). */
export function encodeHotReset(
  groupFds: readonly number[],
  o: { argsz?: number; flags?: number; count?: number } = {},
): Uint8Array {
  const b = new Uint8Array(VFIO_PCI_HOT_RESET_HEADER_SIZE + 4 * groupFds.length);
  wrU32(b, 0, o.argsz ?? b.length);
  wrU32(b, 4, o.flags ?? 0);
  wrU32(b, 8, o.count ?? groupFds.length);
  groupFds.forEach((fd, i) => view(b).setInt32(VFIO_PCI_HOT_RESET_HEADER_SIZE + 4 * i, fd, true));
  return b;
}

export interface IoeventfdFields {
  /** VFIO_DEVICE_IOEVENTFD_* size flags (1, 2, 4 or 8; anything for tests). */
  readonly flags: number;
  /** Device fd offset of the write: region index << 40 | position. */
  readonly offset: bigint;
  readonly data: bigint;
  /** The eventfd, or -1 to remove the matching ioeventfd. */
  readonly fd: number;
  readonly argsz?: number;
}

export function encodeIoeventfd(f: IoeventfdFields): Uint8Array {
  const b = new Uint8Array(VFIO_DEVICE_IOEVENTFD_SIZE);
  wrU32(b, 0, f.argsz ?? VFIO_DEVICE_IOEVENTFD_SIZE);
  wrU32(b, 4, f.flags);
  wrU64(b, 8, f.offset);
  wrU64(b, 16, f.data);
  view(b).setInt32(24, f.fd, true);
  return b;
}
