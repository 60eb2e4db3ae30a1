/**
 * The typed convenience layer: builds the uapi byte buffers, calls the byte layer (`VfioSystem.ioctl`)
 * and decodes what the kernel wrote back. It never bypasses the bytes.
 */
import { ERRNO } from '../base/errno.js';
import {
  CAP_HEADER_SIZE,
  DIRTY_BITMAP_GET_SIZE,
  DIRTY_BITMAP_SIZE,
  DMA_MAP_SIZE,
  DMA_UNMAP_SIZE,
  GROUP_STATUS_SIZE,
  TYPE1_INFO_SIZE,
  VFIO_GROUP_GET_DEVICE_FD,
  VFIO_GROUP_GET_STATUS,
  VFIO_GROUP_SET_CONTAINER,
  VFIO_BITMAP_SIZE,
  VFIO_IOMMU_DIRTY_PAGES,
  VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP,
  VFIO_IOMMU_GET_INFO,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE,
  VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION,
  VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL,
  VFIO_IOMMU_UNMAP_DMA,
  cString,
  getU16,
  getU32,
  getU64,
  intArg,
  putU32,
  putU64,
} from '../uapi/vfio-type1.js';
import {
  VFIO_DEVICE_GET_PCI_HOT_RESET_INFO,
  VFIO_DEVICE_IOEVENTFD,
  VFIO_DEVICE_PCI_HOT_RESET,
  VFIO_DEVICE_SET_IRQS,
  VFIO_IRQ_SET_ACTION_TRIGGER,
  VFIO_PCI_DEPENDENT_DEVICE_SIZE,
  VFIO_PCI_HOT_RESET_HEADER_SIZE,
  type DependentDevice,
  decodeHotResetInfo,
  encodeHotReset,
  encodeHotResetInfo,
  encodeIoeventfd,
  VFIO_IRQ_SET_DATA_EVENTFD,
  VFIO_PCI_CONFIG_REGION_INDEX,
  encodeIrqSet,
  vfioPciIndexToOffset,
} from '../uapi/vfio-device.js';
import type { VfioDeviceFile } from './pci/vfio-pci.js';
import type { VfioSystem } from './system.js';

export interface DmaMapFields {
  argsz: number;
  flags: number;
  vaddr: bigint;
  iova: bigint;
  size: bigint;
}

export interface DmaUnmapFields {
  argsz: number;
  flags: number;
  iova: bigint;
  size: bigint;
  /** struct vfio_bitmap after the 24 bytes (UNMAP with GET_DIRTY_BITMAP). */
  bitmap?: VfioBitmap;
}

/** struct vfio_bitmap: page size of one bit, bytes of the user's bitmap, its user address. */
export interface VfioBitmap {
  pgsize: bigint;
  size: bigint;
  data: bigint;
}

/** Encodes a vfio_iommu_type1_dma_map; the buffer is max(argsz, 32) bytes long (at least what the kernel reads). */
export function encodeDmaMap(f: DmaMapFields, bufLen = Math.max(f.argsz, DMA_MAP_SIZE)): Uint8Array {
  const b = new Uint8Array(bufLen);
  putU32(b, 0, f.argsz);
  putU32(b, 4, f.flags);
  putU64(b, 8, f.vaddr);
  putU64(b, 16, f.iova);
  putU64(b, 24, f.size);
  return b;
}

export function decodeDmaMap(b: Uint8Array): DmaMapFields {
  return {
    argsz: getU32(b, 0),
    flags: getU32(b, 4),
    vaddr: getU64(b, 8),
    iova: getU64(b, 16),
    size: getU64(b, 24),
  };
}

export function encodeDmaUnmap(
  f: DmaUnmapFields,
  bufLen = Math.max(f.argsz, DMA_UNMAP_SIZE + (f.bitmap ? VFIO_BITMAP_SIZE : 0)),
): Uint8Array {
  const b = new Uint8Array(bufLen);
  putU32(b, 0, f.argsz);
  putU32(b, 4, f.flags);
  putU64(b, 8, f.iova);
  putU64(b, 16, f.size);
  if (f.bitmap) putBitmap(b, DMA_UNMAP_SIZE, f.bitmap);
  return b;
}

function putBitmap(b: Uint8Array, off: number, m: VfioBitmap): void {
  putU64(b, off, m.pgsize);
  putU64(b, off + 8, m.size);
  putU64(b, off + 16, m.data);
}

/**
 * Encodes a VFIO_IOMMU_DIRTY_PAGES argument: the 8-byte header, then with a bitmap the
 * vfio_iommu_type1_dirty_bitmap_get payload (iova, size, struct vfio_bitmap). argsz defaults to the
 * buffer's length.
 */
export function encodeDirtyPages(
  flags: number,
  get?: { iova: bigint; size: bigint; bitmap: VfioBitmap },
  argsz?: number,
): Uint8Array {
  const b = new Uint8Array(DIRTY_BITMAP_SIZE + (get ? DIRTY_BITMAP_GET_SIZE : 0));
  putU32(b, 0, argsz ?? b.length);
  putU32(b, 4, flags);
  if (get) {
    putU64(b, 8, get.iova);
    putU64(b, 16, get.size);
    putBitmap(b, 24, get.bitmap);
  }
  return b;
}

/** VFIO_IOMMU_DIRTY_PAGES with START (1), STOP (2) or another flag word and no payload: 0 or -errno. */
export function dirtyPages(sys: VfioSystem, fd: number, flags: number): number {
  return sys.ioctl(fd, VFIO_IOMMU_DIRTY_PAGES, encodeDirtyPages(flags));
}

/**
 * VFIO_IOMMU_DIRTY_PAGES with GET_BITMAP: the dirty bits of [iova, iova + size) go to the user's bitmap
 * (read them back with the address space's copyFromUser). 0 or -errno.
 */
export function getDirtyBitmap(
  sys: VfioSystem,
  fd: number,
  iova: bigint,
  size: bigint,
  bitmap: VfioBitmap,
): number {
  const b = encodeDirtyPages(VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP, { iova, size, bitmap });
  return sys.ioctl(fd, VFIO_IOMMU_DIRTY_PAGES, b);
}

export function decodeDmaUnmap(b: Uint8Array): DmaUnmapFields {
  return { argsz: getU32(b, 0), flags: getU32(b, 4), iova: getU64(b, 8), size: getU64(b, 16) };
}

export interface IoctlResult<T> {
  /** ioctl return: >= 0, or -errno. */
  readonly rc: number;
  readonly out: T;
  readonly buf: Uint8Array;
}

export function mapDma(sys: VfioSystem, fd: number, f: DmaMapFields): IoctlResult<DmaMapFields> {
  const buf = encodeDmaMap(f);
  const rc = sys.ioctl(fd, VFIO_IOMMU_MAP_DMA, buf);
  return { rc, out: decodeDmaMap(buf), buf };
}

export function unmapDma(sys: VfioSystem, fd: number, f: DmaUnmapFields): IoctlResult<DmaUnmapFields> {
  const buf = encodeDmaUnmap(f);
  const rc = sys.ioctl(fd, VFIO_IOMMU_UNMAP_DMA, buf);
  return { rc, out: decodeDmaUnmap(buf), buf };
}

export interface GroupStatus {
  argsz: number;
  flags: number;
}

export function groupStatus(sys: VfioSystem, groupFd: number): IoctlResult<GroupStatus> {
  const buf = new Uint8Array(GROUP_STATUS_SIZE);
  putU32(buf, 0, GROUP_STATUS_SIZE);
  const rc = sys.ioctl(groupFd, VFIO_GROUP_GET_STATUS, buf);
  return { rc, out: { argsz: getU32(buf, 0), flags: getU32(buf, 4) }, buf };
}

export function setContainer(sys: VfioSystem, groupFd: number, containerFd: number): number {
  return sys.ioctl(groupFd, VFIO_GROUP_SET_CONTAINER, intArg(containerFd));
}

export function getDeviceFd(sys: VfioSystem, groupFd: number, bdf: string): number {
  return sys.ioctl(groupFd, VFIO_GROUP_GET_DEVICE_FD, cString(bdf));
}

/** The PCI command register through the vfio-pci config region, around a read-modify-write. */
export interface CommandUpdate {
  readonly before: number;
  readonly written: number;
  /** pwrite's return (bytes written or -errno). */
  readonly rc: number;
  readonly after: number;
}

/**
 * Sets `bits` in the device's PCI command register the way userspace does before using MSI (bus
 * mastering: the device's MSI writes are DMA): pread the 16-bit register at config offset 4, pwrite it
 * with the bits set, read it back.
 */
export function setPciCommandBits(file: VfioDeviceFile, bits: number): CommandUpdate {
  const at = vfioPciIndexToOffset(VFIO_PCI_CONFIG_REGION_INDEX) + 4n;
  const b = new Uint8Array(2);
  file.pread(at, b);
  const before = b[0]! | (b[1]! << 8);
  const written = before | bits;
  const rc = file.pwrite(at, new Uint8Array([written & 0xff, written >> 8]));
  file.pread(at, b);
  return { before, written, rc, after: b[0]! | (b[1]! << 8) };
}

/** VFIO_DEVICE_SET_IRQS(DATA_EVENTFD | ACTION_TRIGGER): eventfd `fds[i]` signals vector `start + i`. */
export function setIrqEventfds(
  file: VfioDeviceFile,
  index: number,
  fds: readonly number[],
  start = 0,
): number {
  const flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
  return file.ioctl(VFIO_DEVICE_SET_IRQS, encodeIrqSet({ flags, index, start, count: fds.length, fds }));
}

/**
 * VFIO_DEVICE_GET_PCI_HOT_RESET_INFO as userspace asks it: the header first (ENOSPC tells how many
 * devices), then a buffer with room for them. `rc` is the final answer (0 or -errno).
 */
export function pciHotResetInfo(file: VfioDeviceFile): { rc: number; devices: readonly DependentDevice[] } {
  const probe = encodeHotResetInfo();
  let rc = file.ioctl(VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, probe);
  if (rc !== -ERRNO.ENOSPC) return { rc, devices: [] };
  const n = decodeHotResetInfo(probe).count;
  const b = encodeHotResetInfo(VFIO_PCI_HOT_RESET_HEADER_SIZE + n * VFIO_PCI_DEPENDENT_DEVICE_SIZE);
  rc = file.ioctl(VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, b);
  return { rc, devices: rc === 0 ? decodeHotResetInfo(b).devices : [] };
}

/** VFIO_DEVICE_PCI_HOT_RESET with the group fds that prove ownership of every device it resets. */
export function pciHotReset(file: VfioDeviceFile, groupFds: readonly number[]): number {
  return file.ioctl(VFIO_DEVICE_PCI_HOT_RESET, encodeHotReset(groupFds));
}

/**
 * VFIO_DEVICE_IOEVENTFD: each signal of eventfd `fd` makes the kernel write `data` (`size` bytes) at
 * `pos` of BAR `bar`; fd -1 removes that ioeventfd.
 */
export function setIoeventfd(
  file: VfioDeviceFile,
  w: { bar: number; pos: number; size: 1 | 2 | 4 | 8; data: bigint; fd: number },
): number {
  const offset = vfioPciIndexToOffset(w.bar) + BigInt(w.pos);
  return file.ioctl(
    VFIO_DEVICE_IOEVENTFD,
    encodeIoeventfd({ flags: w.size, offset, data: w.data, fd: w.fd }),
  );
}

export interface Type1InfoHeader {
  argsz: number;
  flags: number;
  iovaPgsizes: bigint;
  capOffset: number;
}

export function decodeType1Info(b: Uint8Array): Type1InfoHeader {
  return {
    argsz: getU32(b, 0),
    flags: getU32(b, 4),
    iovaPgsizes: getU64(b, 8),
    capOffset: b.length >= 20 ? getU32(b, 16) : 0,
  };
}

/** VFIO_IOMMU_GET_INFO into a zeroed buffer of `argsz` bytes (or `bufLen`). */
export function getInfo(
  sys: VfioSystem,
  fd: number,
  argsz: number,
  bufLen = Math.max(argsz, TYPE1_INFO_SIZE),
) {
  const buf = new Uint8Array(bufLen);
  putU32(buf, 0, argsz);
  const rc = sys.ioctl(fd, VFIO_IOMMU_GET_INFO, buf);
  return { rc, out: decodeType1Info(buf), buf };
}

export type DecodedCap =
  | {
      off: number;
      id: number;
      version: number;
      next: number;
      name: 'IOVA_RANGE';
      nrIovas: number;
      reserved: number;
      ranges: { start: bigint; end: bigint }[];
    }
  | {
      off: number;
      id: number;
      version: number;
      next: number;
      name: 'MIGRATION';
      flags: number;
      pgsizeBitmap: bigint;
      maxDirtyBitmapSize: bigint;
    }
  | { off: number; id: number; version: number; next: number; name: 'DMA_AVAIL'; avail: number }
  | { off: number; id: number; version: number; next: number; name: 'UNKNOWN' }
  | { off: number; error: 'beyond_buffer'; len: number };

/** Walks a type1 capability chain in an info buffer of `len` valid bytes, from `first` (at most 32 caps). */
export function decodeType1Caps(b: Uint8Array, len: number, first: number): DecodedCap[] {
  const out: DecodedCap[] = [];
  let off = first;
  for (let guard = 0; off !== 0 && guard < 32; guard++) {
    if (off + CAP_HEADER_SIZE > len) {
      out.push({ off, error: 'beyond_buffer', len });
      break;
    }
    const id = getU16(b, off);
    const version = getU16(b, off + 2);
    const next = getU32(b, off + 4);
    const h = { off, id, version, next };
    if (id === VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE && off + 16 <= b.length) {
      const nr = getU32(b, off + 8);
      const ranges: { start: bigint; end: bigint }[] = [];
      for (let i = 0; i < nr && off + 32 + 16 * i <= b.length; i++) {
        ranges.push({ start: getU64(b, off + 16 + 16 * i), end: getU64(b, off + 24 + 16 * i) });
      }
      out.push({ ...h, name: 'IOVA_RANGE', nrIovas: nr, reserved: getU32(b, off + 12), ranges });
    } else if (id === VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION && off + 32 <= b.length) {
      out.push({
        ...h,
        name: 'MIGRATION',
        flags: getU32(b, off + 8),
        pgsizeBitmap: getU64(b, off + 16),
        maxDirtyBitmapSize: getU64(b, off + 24),
      });
    } else if (id === VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL && off + 12 <= b.length) {
      out.push({ ...h, name: 'DMA_AVAIL', avail: getU32(b, off + 8) });
    } else {
      out.push({ ...h, name: 'UNKNOWN' });
    }
    off = next;
  }
  return out;
}
