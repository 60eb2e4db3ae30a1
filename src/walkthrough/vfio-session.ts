/**
 * A userspace VFIO session as a VMM runs it, step by step, through the byte layer (VfioSystem): bind the
 * device to vfio-pci, open the container and the group, attach, SET_IOMMU(TYPE1v2), GET_INFO, MAP_DMA
 * the guest's RAM, open the device, enable MSI-X with eventfds. Each call's result is returned for the
 * story to report; nothing is decided here that the kernel model did not answer.
 */
import { errnoName } from '../base/errno.js';
import { type Range } from '../base/range.js';
import type { Device, IommuCore, IommuGroup } from '../iommu/api.js';
import { type KernelProfile } from '../kernel/profile.js';
import { AddressSpace } from '../mm/address-space.js';
import { VFIO_PCI_MSIX_IRQ_INDEX, VFIO_PCI_MSI_IRQ_INDEX } from '../uapi/vfio-device.js';
import { VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU } from '../uapi/vfio-type1.js';
import { DMA_MANAGED_DRIVERS } from '../vfio/container.js';
import { VfioPciDevice } from '../vfio/pci/vfio-pci.js';
import { VfioSystem } from '../vfio/system.js';
import type { Type1Params } from '../vfio/type1/type1.js';
import {
  decodeType1Caps,
  getDeviceFd,
  getInfo,
  mapDma,
  setContainer,
  setIrqEventfds,
  setPciCommandBits,
} from '../vfio/typed.js';

const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_READ_WRITE = 3;

export interface AttachResult {
  readonly sys: VfioSystem;
  readonly group: IommuGroup;
  readonly containerFd: number;
  readonly groupFd: number;
  /** rc of each call, in order. */
  readonly calls: readonly { readonly call: string; readonly rc: number }[];
  /** 0 when the container is usable (SET_IOMMU succeeded). */
  readonly rc: number;
  /** Kernel log lines printed during the attach (e.g. the allow_unsafe_interrupts hint). */
  readonly klog: readonly string[];
}

export const rcText = (rc: number): string => (rc < 0 ? `-1 (${errnoName(-rc)})` : String(rc));

/** Binds `dev` to vfio-pci (driver_override + drivers_probe), as a VMM's setup script does. */
export function bindVfioPci(core: IommuCore, dev: Device): number {
  if (dev.driver === 'vfio-pci') return 0;
  if (dev.driver !== 'none') core.unbindDriver(dev);
  return core.bindDriver(dev, 'vfio-pci', DMA_MANAGED_DRIVERS.includes('vfio-pci'));
}

/** Opens a container and the device's group and attaches it with TYPE1v2. */
export function attachDevice(
  core: IommuCore,
  profile: KernelProfile,
  dev: Device,
  params: Partial<Type1Params> = {},
  sys: VfioSystem = new VfioSystem({ core, profile, params, mm: new AddressSpace() }),
): AttachResult | string {
  const group = core.groupOf(dev);
  if (group === undefined) return `${dev.bdf} is in no IOMMU group: no IOMMU translates it`;
  const bind = bindVfioPci(core, dev);
  if (bind !== 0) return `binding ${dev.bdf} to vfio-pci failed: ${errnoName(-bind)}`;
  const klogBefore = sys.klog.length;
  const calls: { call: string; rc: number }[] = [];
  const containerFd = sys.open('/dev/vfio/vfio');
  calls.push({ call: 'open("/dev/vfio/vfio")', rc: containerFd });
  const groupFd = sys.open(`/dev/vfio/${group.id}`);
  calls.push({ call: `open("/dev/vfio/${group.id}")`, rc: groupFd });
  const set = setContainer(sys, groupFd, containerFd);
  calls.push({ call: 'VFIO_GROUP_SET_CONTAINER', rc: set });
  let rc = set;
  if (set === 0) {
    rc = sys.ioctl(containerFd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU);
    calls.push({ call: 'VFIO_SET_IOMMU(VFIO_TYPE1v2_IOMMU)', rc });
  }
  return { sys, group, containerFd, groupFd, calls, rc, klog: sys.klog.slice(klogBefore) };
}

export interface InfoResult {
  readonly rc: number;
  readonly argszNeeded: number;
  readonly pgsizes: bigint;
  readonly ranges: readonly Range[];
  readonly dmaAvail?: number;
}

/** VFIO_IOMMU_GET_INFO with argsz negotiation, decoding the capability chain. */
export function queryInfo(sys: VfioSystem, containerFd: number): InfoResult {
  const first = getInfo(sys, containerFd, 24);
  if (first.rc < 0) return { rc: first.rc, argszNeeded: 0, pgsizes: 0n, ranges: [] };
  const need = first.out.argsz;
  const full = getInfo(sys, containerFd, need);
  const caps = decodeType1Caps(full.buf, need, full.out.capOffset);
  let ranges: Range[] = [];
  let dmaAvail: number | undefined;
  for (const c of caps) {
    if ('name' in c && c.name === 'IOVA_RANGE') ranges = c.ranges;
    if ('name' in c && c.name === 'DMA_AVAIL') dmaAvail = c.avail;
  }
  return dmaAvail === undefined
    ? { rc: full.rc, argszNeeded: need, pgsizes: full.out.iovaPgsizes, ranges }
    : { rc: full.rc, argszNeeded: need, pgsizes: full.out.iovaPgsizes, ranges, dmaAvail };
}

export interface MapOutcome {
  readonly iova: bigint;
  readonly size: bigint;
  readonly vaddr: bigint;
  readonly rc: number;
}

/**
 * mmap()s guest RAM in the process and MAP_DMAs it at `iova` (IOVA = guest-physical address, as every
 * VMM does).
 */
export function mapGuestRange(
  sys: VfioSystem,
  containerFd: number,
  name: string,
  iova: bigint,
  size: bigint,
): MapOutcome {
  // Userspace picks a free virtual address for the mapping; the model's process has its own space.
  const vaddr = 0x7f00_0000_0000n + iova;
  const region = sys.mm.map(name, vaddr, size, PROT_READ | PROT_WRITE);
  if (typeof region === 'string') return { iova, size, vaddr, rc: -22 };
  const r = mapDma(sys, containerFd, { argsz: 32, flags: MAP_READ_WRITE, vaddr, iova, size });
  return { iova, size, vaddr, rc: r.rc };
}

export interface DeviceSession {
  readonly fd: number;
  readonly file: VfioPciDevice;
  readonly index: number;
  readonly kind: 'MSI-X' | 'MSI';
  readonly eventfds: readonly number[];
  readonly rc: number;
}

/** Opens the device fd, turns on bus mastering through the config region, enables `n` vectors with eventfds. */
export function enableInterrupts(
  sys: VfioSystem,
  groupFd: number,
  dev: Device,
  n: number,
): DeviceSession | string {
  const fd = getDeviceFd(sys, groupFd, dev.bdf);
  if (fd < 0) return `VFIO_GROUP_GET_DEVICE_FD failed: ${rcText(fd)}`;
  const f = sys.file(fd);
  if (f?.kind !== 'device' || !(f.device instanceof VfioPciDevice))
    return 'the device fd is not a vfio-pci device';
  const file = f.device;
  setPciCommandBits(file, 0x4); // PCI_COMMAND_MASTER: the device needs bus mastering to write MSIs
  const useMsix = file.irqs.irqCount(VFIO_PCI_MSIX_IRQ_INDEX) > 0;
  const index = useMsix ? VFIO_PCI_MSIX_IRQ_INDEX : VFIO_PCI_MSI_IRQ_INDEX;
  const eventfds = Array.from({ length: n }, () => file.fds.eventfd());
  const rc = setIrqEventfds(file, index, eventfds);
  return { fd, file, index, kind: useMsix ? 'MSI-X' : 'MSI', eventfds, rc };
}

/** The eventfd counter (a non-blocking read; 0 when nothing arrived). */
export function readEventfd(file: VfioPciDevice, fd: number): bigint {
  const e = file.fds.get(fd);
  return e?.kind === 'eventfd' ? (e.read() ?? 0n) : 0n;
}
