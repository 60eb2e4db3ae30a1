/**
 * The typed convenience layer for /dev/iommu and the VFIO device cdev: builds the uapi structs, calls
 * the byte layer (`VfioSystem.ioctl`) and decodes what the kernel wrote back. Every call answers `rc`
 * (0 or -errno) with the decoded outputs; arrays the kernel reads or writes by pointer go through a
 * 1 MiB scratch region of the process's own memory (mapped on first use, like a program's buffer).
 */
import type { VfioSystem } from '../vfio/system.js';
import { PROT_READ, PROT_WRITE } from '../mm/address-space.js';
import {
  IOMMU_DESTROY,
  IOMMU_GET_HW_INFO,
  IOMMU_HWPT_ALLOC,
  IOMMU_IOAS_ALLOC,
  IOMMU_IOAS_ALLOW_IOVAS,
  IOMMU_IOAS_COPY,
  IOMMU_IOAS_IOVA_RANGES,
  IOMMU_IOAS_MAP,
  IOMMU_IOAS_MAP_FIXED_IOVA,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
  IOMMU_IOAS_UNMAP,
  IOMMU_OPTION,
  VFIO_DEVICE_ATTACH_IOMMUFD_PT,
  VFIO_DEVICE_BIND_IOMMUFD,
  VFIO_DEVICE_DETACH_IOMMUFD_PT,
} from '../uapi/iommufd.js';
import { getU32, getU64, putU32, putU64 } from '../uapi/vfio-type1.js';

export interface IovaRange {
  readonly start: bigint;
  /** Inclusive. */
  readonly last: bigint;
}

const SCRATCH = { name: 'iommufd-arrays', start: 0x7e0000000000n, size: 0x100000n };
const MAX_RANGES = Number(SCRATCH.size / 16n);

/**
 * The user address of a 1 MiB scratch region of the process (mapped on first use) for arrays the kernel
 * reads or writes by pointer; the scenario steps use it too.
 */
export function iommufdScratch(sys: VfioSystem): bigint {
  if (!sys.mm.region(SCRATCH.name))
    sys.mm.map(SCRATCH.name, SCRATCH.start, SCRATCH.size, PROT_READ | PROT_WRITE);
  return SCRATCH.start;
}

function call(sys: VfioSystem, fd: number, cmd: number, size: number, fill: (b: Uint8Array) => void) {
  const b = new Uint8Array(size);
  putU32(b, 0, size);
  fill(b);
  return { rc: sys.ioctl(fd, cmd, b), b };
}

/** IOMMU_IOAS_ALLOC: the new IOAS id. */
export function ioasAlloc(sys: VfioSystem, iommufd: number): { rc: number; id: number } {
  const r = call(sys, iommufd, IOMMU_IOAS_ALLOC, 12, () => {});
  return { rc: r.rc, id: r.rc === 0 ? getU32(r.b, 8) : 0 };
}

/** IOMMU_DESTROY. */
export function iommuDestroy(sys: VfioSystem, iommufd: number, id: number): number {
  return call(sys, iommufd, IOMMU_DESTROY, 8, (b) => putU32(b, 4, id)).rc;
}

/** IOMMU_IOAS_IOVA_RANGES: the usable ranges and the IOVA alignment the IOAS requires now. */
export function ioasIovaRanges(
  sys: VfioSystem,
  iommufd: number,
  ioas: number,
): { rc: number; ranges: IovaRange[]; alignment: bigint } {
  const at = iommufdScratch(sys);
  const r = call(sys, iommufd, IOMMU_IOAS_IOVA_RANGES, 32, (b) => {
    putU32(b, 4, ioas);
    putU32(b, 8, MAX_RANGES);
    putU64(b, 16, at);
  });
  const n = r.rc === 0 ? getU32(r.b, 8) : 0;
  const arr = new Uint8Array(16 * n);
  sys.mm.copyFromUser(arr, at);
  const ranges = Array.from({ length: n }, (_, i) => ({
    start: getU64(arr, i * 16),
    last: getU64(arr, i * 16 + 8),
  }));
  return { rc: r.rc, ranges, alignment: getU64(r.b, 24) };
}

export interface IoasMapFields {
  /** The user address of the memory. */
  readonly vaddr: bigint;
  readonly length: bigint;
  /** A fixed IOVA (FIXED_IOVA); absent: the kernel chooses one. */
  readonly iova?: bigint;
  /** Default true. */
  readonly writeable?: boolean;
  /** Default true. */
  readonly readable?: boolean;
}

/** IOMMU_IOAS_MAP / IOMMU_IOAS_COPY flags: FIXED_IOVA with a fixed IOVA, WRITEABLE and READABLE unless turned off. */
function mapFlags(fixed: boolean, writeable: boolean | undefined, readable: boolean | undefined): number {
  return (
    (fixed ? IOMMU_IOAS_MAP_FIXED_IOVA : 0) |
    (writeable === false ? 0 : IOMMU_IOAS_MAP_WRITEABLE) |
    (readable === false ? 0 : IOMMU_IOAS_MAP_READABLE)
  );
}

/** IOMMU_IOAS_MAP: the IOVA used. */
export function ioasMap(
  sys: VfioSystem,
  iommufd: number,
  ioas: number,
  f: IoasMapFields,
): { rc: number; iova: bigint } {
  const flags = mapFlags(f.iova !== undefined, f.writeable, f.readable);
  const r = call(sys, iommufd, IOMMU_IOAS_MAP, 40, (b) => {
    putU32(b, 4, flags);
    putU32(b, 8, ioas);
    putU64(b, 16, f.vaddr);
    putU64(b, 24, f.length);
    putU64(b, 32, f.iova ?? 0n);
  });
  return { rc: r.rc, iova: getU64(r.b, 32) };
}

/** IOMMU_IOAS_UNMAP of [iova, iova + length) (whole mappings only), or everything: the bytes unmapped. */
export function ioasUnmap(
  sys: VfioSystem,
  iommufd: number,
  ioas: number,
  range: { iova: bigint; length: bigint } | 'all',
): { rc: number; length: bigint } {
  const { iova, length } = range === 'all' ? { iova: 0n, length: (1n << 64n) - 1n } : range;
  const r = call(sys, iommufd, IOMMU_IOAS_UNMAP, 24, (b) => {
    putU32(b, 4, ioas);
    putU64(b, 8, iova);
    putU64(b, 16, length);
  });
  return { rc: r.rc, length: getU64(r.b, 16) };
}

/** IOMMU_IOAS_ALLOW_IOVAS: where the kernel may choose IOVAs ([] allows everything again). */
export function ioasAllowIovas(
  sys: VfioSystem,
  iommufd: number,
  ioas: number,
  ranges: readonly IovaRange[],
): number {
  if (ranges.length > MAX_RANGES)
    throw new RangeError(`at most ${MAX_RANGES} ranges per call of this helper`);
  const at = iommufdScratch(sys);
  const arr = new Uint8Array(16 * ranges.length);
  ranges.forEach((x, i) => {
    putU64(arr, i * 16, x.start);
    putU64(arr, i * 16 + 8, x.last);
  });
  sys.mm.copyToUser(at, arr);
  return call(sys, iommufd, IOMMU_IOAS_ALLOW_IOVAS, 24, (b) => {
    putU32(b, 4, ioas);
    putU32(b, 8, ranges.length);
    putU64(b, 16, at);
  }).rc;
}

/**
 * IOMMU_OPTION: `rlimit_mode` (0 per user, 1 per process; the context's) or `huge_pages` (an IOAS's),
 * read (`value` undefined) or set. Answers the value the kernel copied back.
 */
export function iommuOption(
  sys: VfioSystem,
  iommufd: number,
  option: 'rlimit_mode' | 'huge_pages',
  o: { object?: number; value?: bigint } = {},
): { rc: number; value: bigint } {
  const r = call(sys, iommufd, IOMMU_OPTION, 24, (b) => {
    putU32(b, 4, option === 'rlimit_mode' ? 0 : 1);
    b[8] = o.value === undefined ? 1 : 0;
    putU32(b, 12, o.object ?? 0);
    putU64(b, 16, o.value ?? 0n);
  });
  return { rc: r.rc, value: getU64(r.b, 16) };
}

/** VFIO_DEVICE_BIND_IOMMUFD on a device cdev: the device's object id. */
export function bindIommufd(
  sys: VfioSystem,
  deviceFd: number,
  iommufd: number,
): { rc: number; devId: number } {
  const r = call(sys, deviceFd, VFIO_DEVICE_BIND_IOMMUFD, 16, (b) => putU32(b, 8, iommufd));
  return { rc: r.rc, devId: r.rc === 0 ? getU32(r.b, 12) : 0 };
}

/** VFIO_DEVICE_ATTACH_IOMMUFD_PT to an IOAS or HWPT id: the HWPT the device is attached to. */
export function attachIommufdPt(
  sys: VfioSystem,
  deviceFd: number,
  ptId: number,
): { rc: number; hwptId: number } {
  const r = call(sys, deviceFd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, 12, (b) => putU32(b, 8, ptId));
  return { rc: r.rc, hwptId: r.rc === 0 ? getU32(r.b, 8) : 0 };
}

/** VFIO_DEVICE_DETACH_IOMMUFD_PT. */
export function detachIommufdPt(sys: VfioSystem, deviceFd: number): number {
  return call(sys, deviceFd, VFIO_DEVICE_DETACH_IOMMUFD_PT, 8, () => {}).rc;
}

/** open("/dev/vfio/devices/vfioN") of a device bound to vfio-pci (by PCI address): the fd or -errno. */
export function openDeviceCdev(sys: VfioSystem, bdf: string): number {
  const i = sys.hasIommufd ? sys.cdevDevices().findIndex((d) => d.bdf === bdf) : -1;
  return i < 0 ? -2 : sys.open(`/dev/vfio/devices/vfio${i}`);
}

/** IOMMU_HWPT_ALLOC of a paging HWPT on an IOAS for a bound device (`flags`: 1 NEST_PARENT, 2 DIRTY_TRACKING). */
export function hwptAlloc(
  sys: VfioSystem,
  iommufd: number,
  devId: number,
  ioas: number,
  flags = 0,
): { rc: number; hwptId: number } {
  const r = call(sys, iommufd, IOMMU_HWPT_ALLOC, 48, (b) => {
    putU32(b, 4, flags);
    putU32(b, 8, devId);
    putU32(b, 12, ioas);
  });
  return { rc: r.rc, hwptId: r.rc === 0 ? getU32(r.b, 16) : 0 };
}

/**
 * IOMMU_GET_HW_INFO for a bound device: the info type (0 none, 1 Intel VT-d), the driver's data (VT-d:
 * flags, then the CAP and ECAP registers) and the capability bits (1: dirty tracking).
 */
export function getHwInfo(
  sys: VfioSystem,
  iommufd: number,
  devId: number,
): { rc: number; type: number; data: Uint8Array; capabilities: bigint } {
  const at = iommufdScratch(sys);
  const r = call(sys, iommufd, IOMMU_GET_HW_INFO, 40, (b) => {
    putU32(b, 8, devId);
    putU32(b, 12, 64);
    putU64(b, 16, at);
  });
  const len = r.rc === 0 ? Math.min(getU32(r.b, 12), 64) : 0;
  const data = new Uint8Array(len);
  sys.mm.copyFromUser(data, at);
  return { rc: r.rc, type: getU32(r.b, 24), data, capabilities: getU64(r.b, 32) };
}

/**
 * IOMMU_IOAS_COPY: maps what [srcIova, srcIova + length) of `src` maps into `dst` (at `dstIova`, or
 * where the kernel chooses), sharing the pinned pages: the IOVA used.
 */
export function ioasCopy(
  sys: VfioSystem,
  iommufd: number,
  f: { dst: number; src: number; srcIova: bigint; length: bigint; dstIova?: bigint; writeable?: boolean },
): { rc: number; iova: bigint } {
  const flags = mapFlags(f.dstIova !== undefined, f.writeable, true);
  const r = call(sys, iommufd, IOMMU_IOAS_COPY, 40, (b) => {
    putU32(b, 4, flags);
    putU32(b, 8, f.dst);
    putU32(b, 12, f.src);
    putU64(b, 16, f.length);
    putU64(b, 24, f.dstIova ?? 0n);
    putU64(b, 32, f.srcIova);
  });
  return { rc: r.rc, iova: getU64(r.b, 24) };
}
