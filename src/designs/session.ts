/**
 * One VMM session under one design, run on the model through the uapi bytes: boot the platform, bind
 * the device to vfio-pci, open the container, do what the design asks of userspace (or not), map the
 * guest's RAM, enable MSI-X and fire every vector. The record says which calls were made, where the
 * doorbell ended up, what userspace learned about reserved IOVA, and what happened.
 */
import { ERRNO, errnoName } from '../base/errno.js';
import { InputError } from '../base/errors.js';
import { hex16 } from '../base/u64.js';
import {
  type ResvRegion,
  ResvType,
  formatReservedRegions,
  parseReservedRegions,
} from '../iommu/resv-region.js';
import { attachMsiFabric } from '../irq/fabric.js';
import { type KernelVersion, kernelProfile } from '../kernel/profile.js';
import { AddressSpace, PROT_READ, PROT_WRITE } from '../mm/address-space.js';
import { loadPreset } from '../platform/presets.js';
import { buildPlatform } from '../platform/build.js';
import { VFIO_PCI_MSIX_IRQ_INDEX } from '../uapi/vfio-device.js';
import {
  TYPE1_INFO_SIZE,
  VFIO_IOMMU_MAP_DMA,
  VFIO_SET_IOMMU,
  VFIO_TYPE1v2_IOMMU,
  getU16,
  getU32,
  getU64,
} from '../uapi/vfio-type1.js';
import { findVmm } from '../vmm/index.js';
import { VfioPciDevice } from '../vfio/pci/vfio-pci.js';
import { VFIO_PCI_DRIVER, VfioSystem } from '../vfio/system.js';
import {
  encodeDmaMap,
  getDeviceFd,
  getInfo,
  setContainer,
  setIrqEventfds,
  setPciCommandBits,
} from '../vfio/typed.js';
import { findDesign } from './index.js';
import type { DesignName } from './types.js';
import * as U from './uapi.js';

export type SessionMode = 'follow' | 'ignore';

export interface SessionRequest {
  readonly platform: string;
  readonly design: DesignName;
  readonly vmm: string;
  readonly memory: bigint;
  readonly mode: SessionMode;
  readonly kernel?: KernelVersion;
  readonly vectors?: number;
}

export interface Span {
  readonly start: bigint;
  readonly end: bigint;
  readonly what: string;
}

export interface SessionResult {
  readonly request: SessionRequest;
  readonly bdf: string;
  /** Every call userspace made, in order (`IOCTL args -> rc`). */
  readonly calls: string[];
  /** IOVA ranges userspace learned it must not use, and through which channel. */
  readonly learned: Span[];
  readonly channel: string;
  /** Where the doorbell ended up (programmed address of vector 0), or why not. */
  readonly msiWindow: string;
  readonly ramMapped: { range: Span; rc: number }[];
  readonly ramWorks: boolean;
  readonly setIrqsRc: number;
  readonly vectors: number;
  readonly delivered: number;
  /** What went wrong, in plain words (empty when MSI-X works and all RAM is mapped). */
  readonly problems: string[];
  /** Things userspace had to do that are not the design's (module parameters). */
  readonly notes: string[];
  /** Fixed regions of the platform (not remappable) and whether the design told userspace about each. */
  readonly fixed: { region: Span; expressed: boolean; guestDma?: string }[];
}

const hx = (v: bigint): string => '0x' + v.toString(16);
const span = (s: Span): string => `[${hx(s.start)}-${hx(s.end)}]`;
const PAGE = 4096n;
/** Where a VMM that ignores the design puts an extra guest RAM bank: over the kernel's SW_MSI window. */
export const IGNORE_BANK: Span = {
  start: 0x8000000n,
  end: 0x81fffffn,
  what: 'guest RAM bank over 0x8000000',
};

const TYPE_NAMES: Record<number, string> = {
  0: 'direct',
  1: 'direct-relaxable',
  2: 'reserved',
  3: 'msi',
  4: 'msi(sw)',
};

/** Walks a GET_INFO capability chain: [id, version, offset]. */
function capsOf(b: Uint8Array): [number, number, number][] {
  const out: [number, number, number][] = [];
  if ((getU32(b, 4) & 2) === 0) return out;
  let off = getU32(b, 16);
  for (let guard = 0; off !== 0 && off + 8 <= b.length && guard < 4096; guard++) {
    out.push([getU16(b, off), getU16(b, off + 2), off]);
    off = getU32(b, off + 4);
  }
  return out;
}

/** The lowest page-aligned IOVA window of `size` (aligned to `align`) outside every guest range. */
function freeWindow(busy: readonly Span[], size: bigint, align: bigint): bigint {
  let a = align > PAGE ? align : PAGE;
  for (;;) {
    const hit = busy.find((r) => a <= r.end && a + size - 1n >= r.start);
    if (!hit) return a;
    a = ((hit.end + 1n + align - 1n) / align) * align;
  }
}

export function runDesignSession(req: SessionRequest): SessionResult {
  const def = findDesign(req.design);
  if (!def) throw new InputError(`unknown design "${req.design}"`, { field: '--design' });
  const profile = kernelProfile(req.kernel);
  const desc = loadPreset(req.platform);
  const core = buildPlatform(desc, profile).iommu;
  const fabric = attachMsiFabric(core, desc);
  const vm = findVmm(req.vmm, { arch: desc.arch === 'x86_64' ? 'x86_64' : 'aarch64' });
  if (!vm.ok) throw new InputError(vm.reason, { field: '--vmm' });
  const lay = vm.model.layout({ memory: req.memory, options: {} });
  if (!lay.ok) throw new InputError(`${req.vmm}: cannot lay out ${req.memory} bytes`, { field: '--memory' });
  const guest = lay.layout.ranges;
  const ram: Span[] = guest
    .filter((r) => r.kind === 'ram')
    .map((r) => ({ start: r.start, end: r.end, what: r.name }));
  if (req.mode === 'ignore') ram.push(IGNORE_BANK);

  const dev = desc.devices.find(
    (d) => d.msix !== undefined && d.driver !== undefined && d.driver !== 'pcieport',
  );
  const cdev = dev && core.device(dev.bdf);
  if (!dev || !cdev)
    throw new InputError(`${req.platform} has no MSI-X device to assign`, { field: '--platform' });
  const bdf = cdev.bdf;
  core.unbindDriver(cdev);
  core.bindDriver(cdev, VFIO_PCI_DRIVER, true);
  const group = core.groupOf(cdev);

  const mm = new AddressSpace();
  const sys = new VfioSystem({ core, profile, mm, design: def.design });
  const calls: string[] = [];
  const call = (label: string, rc: number): number => {
    calls.push(`${label} -> ${rc < 0 ? errnoName(rc) : rc}`);
    return rc;
  };
  const problems: string[] = [];
  const notes: string[] = [];
  const learned: Span[] = [];
  let channel = 'none';

  const container = sys.open('/dev/vfio/vfio');
  const groupFd = sys.open(`/dev/vfio/${group?.id ?? -1}`);
  call('VFIO_GROUP_SET_CONTAINER', setContainer(sys, groupFd, container));
  let rcIommu = call('VFIO_SET_IOMMU(TYPE1v2)', sys.ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));
  if (rcIommu === -ERRNO.EPERM) {
    // No MSI isolation (e.g. GICv2m): users of such hosts set the module parameter and go on.
    notes.push('no interrupt isolation: VFIO refused until allow_unsafe_interrupts=1 was set');
    sys.params.allowUnsafeInterrupts = true;
    calls.push('write /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts = 1');
    rcIommu = call('VFIO_SET_IOMMU(TYPE1v2)', sys.ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));
  }
  if (rcIommu < 0) problems.push(`VFIO_SET_IOMMU failed: ${errnoName(rcIommu)}`);

  // GET_INFO twice: once to learn argsz, once with room for the chain.
  const name = req.design;
  let info = new Uint8Array(TYPE1_INFO_SIZE);
  const wantsInfo = name !== 'merged-4.11' && name !== 'virtual-doorbell';
  if (wantsInfo) {
    const first = getInfo(sys, container, TYPE1_INFO_SIZE);
    call('VFIO_IOMMU_GET_INFO(argsz=24)', first.rc);
    info = first.buf;
    const need = first.out.argsz;
    if (need > TYPE1_INFO_SIZE) {
      const full = getInfo(sys, container, need);
      call(`VFIO_IOMMU_GET_INFO(argsz=${need})`, full.rc);
      info = full.buf;
    }
  }
  const caps = capsOf(info);
  const learn = (s: bigint, e: bigint, what: string): void => void learned.push({ start: s, end: e, what });

  // What the design tells userspace about reserved IOVA.
  let donate: { size: bigint; align: bigint } | undefined;
  let fixedMsi: Span | undefined;
  if (name === 'today') {
    channel = 'GET_INFO IOVA_RANGE capability';
    const c = caps.find((x) => x[0] === 1);
    if (c) {
      const n = getU32(info, c[2] + 8);
      let prev = 0n;
      for (let i = 0; i < n; i++) {
        const s = getU64(info, c[2] + 16 + 16 * i);
        const e = getU64(info, c[2] + 24 + 16 * i);
        if (s > prev) learn(prev, s - 1n, 'not usable (hole between IOVA ranges)');
        prev = e + 1n;
      }
    }
  } else if (name === 'resv-iova-range') {
    channel = 'GET_INFO RESV_IOVA_RANGE capabilities';
    for (const c of caps.filter((x) => x[0] === U.VFIO_IOMMU_TYPE1_INFO_CAP_RESV_IOVA_RANGE)) {
      learn(
        getU64(info, c[2] + 8),
        getU64(info, c[2] + 16),
        TYPE_NAMES[getU32(info, c[2] + 24)] ?? 'reserved',
      );
    }
  } else if (name === 'merged-4.11') {
    channel = 'sysfs reserved_regions';
    if (req.mode === 'follow' && group) {
      const text = formatReservedRegions(core.groupResvRegions(group));
      calls.push(
        `read /sys/kernel/iommu_groups/${group.id}/reserved_regions -> ${text.split('\n').filter(Boolean).length} lines`,
      );
      for (const r of parseReservedRegions(text)) learn(r.start, r.end, r.typeString);
    }
  } else if (name === 'msi-resv') {
    channel = 'GET_INFO MSI_RESV capability (size, alignment)';
    const c = caps.find((x) => x[0] === U.VFIO_IOMMU_TYPE1_INFO_CAP_MSI_RESV);
    if (c) donate = { size: getU64(info, c[2] + 8), align: getU64(info, c[2] + 16) };
  } else if (name === 'msi-geometry') {
    channel = 'GET_INFO MSI_GEOMETRY capability';
    const c = caps.find((x) => x[0] === U.VFIO_IOMMU_TYPE1_INFO_CAP_MSI_GEOMETRY);
    if (c && (getU32(info, c[2] + 8) & U.MSI_GEOMETRY_FLAG_FIXED) !== 0) {
      fixedMsi = { start: getU64(info, c[2] + 24), end: getU64(info, c[2] + 32), what: 'fixed MSI aperture' };
      learned.push(fixedMsi);
    } else if (c) donate = { size: getU64(info, c[2] + 16), align: 1n << BigInt(getU32(info, c[2] + 12)) };
  }

  const busy: Span[] = [...guest.map((r) => ({ start: r.start, end: r.end, what: r.name })), ...learned];
  if (req.mode === 'follow' && donate) {
    const at = freeWindow(busy, donate.size, donate.align);
    const flag = name === 'msi-resv' ? 'RESERVED_MSI_IOVA' : 'MSI_RESERVED_IOVA';
    const b = encodeDmaMap({
      argsz: 32,
      flags: U.VFIO_DMA_MAP_FLAG_RESERVED_MSI_IOVA,
      vaddr: 0n,
      iova: at,
      size: donate.size,
    });
    call(
      `VFIO_IOMMU_MAP_DMA(${flag}, iova=${hx(at)}, size=${hx(donate.size)})`,
      sys.ioctl(container, VFIO_IOMMU_MAP_DMA, b),
    );
  }
  if (req.mode === 'follow' && name === 'virtual-doorbell') {
    const at = freeWindow(busy, PAGE, PAGE);
    const b = encodeDmaMap({
      argsz: 32,
      flags: U.VFIO_DMA_MAP_FLAG_MSI_DOORBELL,
      vaddr: 0n,
      iova: at,
      size: PAGE,
    });
    call(
      `VFIO_IOMMU_MAP_DMA(MSI_DOORBELL, iova=${hx(at)}, size=0x1000)`,
      sys.ioctl(container, VFIO_IOMMU_MAP_DMA, b),
    );
  }

  // Guest RAM, identity IOVA = guest physical address. A design-aware VMM refuses RAM it was told about.
  const ramMapped: { range: Span; rc: number }[] = [];
  let vaddr = 0x7f00_0000_0000n;
  for (const r of ram) {
    const size = r.end - r.start + 1n;
    const clash =
      req.mode === 'follow' ? learned.find((l) => r.start <= l.end && r.end >= l.start) : undefined;
    if (clash) {
      ramMapped.push({ range: r, rc: -1 });
      problems.push(
        `guest RAM ${span(r)} overlaps ${span(clash)} (${clash.what}) reported by the design: the VMM must move its RAM`,
      );
      calls.push(`(VMM refuses to map ${span(r)}: overlaps a reported reserved range)`);
      continue;
    }
    mm.map(`ram@${hx(r.start)}`, vaddr, size, PROT_READ | PROT_WRITE);
    const b = encodeDmaMap({ argsz: 32, flags: 3, vaddr, iova: r.start, size });
    const rc = call(
      `VFIO_IOMMU_MAP_DMA(READ|WRITE, iova=${hx(r.start)}, size=${hx(size)})`,
      sys.ioctl(container, VFIO_IOMMU_MAP_DMA, b),
    );
    if (rc < 0) problems.push(`MAP_DMA of guest RAM ${span(r)} failed: ${errnoName(rc)}`);
    ramMapped.push({ range: r, rc });
    vaddr += (size + 0x1f_ffffn) & ~0x1f_ffffn;
  }

  // The device: MSI-X with one eventfd per vector, then fire each vector.
  const devFd = getDeviceFd(sys, groupFd, bdf);
  calls.push(`VFIO_GROUP_GET_DEVICE_FD(${bdf}) -> ${devFd < 0 ? errnoName(devFd) : 'fd'}`);
  const file = devFd >= 0 ? sys.file(devFd) : undefined;
  const device = file?.kind === 'device' ? file.device : undefined;
  const nvec = Math.min(req.vectors ?? 4, dev.msix?.tableSize ?? 1);
  let setIrqsRc = -1;
  let delivered = 0;
  let msiWindow = 'no MSI-X';
  if (device instanceof VfioPciDevice) {
    setPciCommandBits(device, 0x6); // memory decode + bus mastering
    const efds = Array.from({ length: nvec }, () => device.fds.eventfd());
    setIrqsRc = call(
      `VFIO_DEVICE_SET_IRQS(MSIX, EVENTFD|TRIGGER, count=${nvec})`,
      setIrqEventfds(device, VFIO_PCI_MSIX_IRQ_INDEX, efds),
    );
    const model = fabric.pci(bdf)?.model;
    if (setIrqsRc === 0 && model) {
      const e = model.msixEntry(0);
      msiWindow = `doorbell at IOVA ${hex16(e.addr)}`;
      for (let v = 0; v < nvec; v++) {
        const t = fabric.raise(bdf, v);
        const n = device.fds.eventFd(efds[v]!)?.read() ?? 0n;
        if (n > 0n) delivered++;
        else problems.push(`vector ${v}: ${t.outcome}: ${t.why}`);
      }
    } else if (setIrqsRc < 0) {
      if (name === 'merged-4.11') {
        // 4.11-5.1: the doorbell was mapped in compose_msi_msg; a failure left an all-ones message (WARN).
        const t = fabric.dmaWrite(bdf, 0xffff_ffff_ffff_ffffn, 0xffffffff);
        calls[calls.length - 1] += ' (4.11: 0, the failure stayed inside compose_msi_msg)';
        msiWindow =
          'doorbell mapping failed: 4.11 composed address 0xffffffffffffffff data 0xffffffff (WARN)';
        problems.push(
          `MSI setup: the doorbell page could not be mapped at the SW_MSI window (guest RAM is there); 4.11 reported it only by a WARN and an all-ones MSI message, SET_IRQS succeeded; firing: ${t.outcome}: ${t.why}`,
        );
      } else {
        msiWindow = `SET_IRQS failed: ${errnoName(setIrqsRc)}`;
        problems.push(`MSI-X setup failed: ${errnoName(setIrqsRc)}`);
      }
    }
  }

  // Fixed regions of the platform: reserved regions other than SW_MSI, and the device's host-bridge windows.
  const fixed: Span[] = [];
  for (const r of group ? core.groupResvRegions(group) : []) {
    if (r.type === ResvType.SwMsi) continue;
    const what = `${TYPE_NAMES[r.type]} region${r.origin ? ` (${r.origin})` : ''}`;
    fixed.push({ start: r.start, end: r.start + r.length - 1n, what });
  }
  const bridge = desc.hostBridges.find(
    (h) => h.windows.some(() => true) && core.device(bdf) !== undefined && bridgeHas(h, bdf),
  );
  for (const w of bridge?.windows ?? []) {
    if (w.kind === 'io') continue;
    const off = w.offset ?? 0n;
    fixed.push({
      start: w.cpu.start - off,
      end: w.cpu.end - off,
      what: `PCI host-bridge ${w.kind} window (peer-to-peer)`,
    });
  }
  const covered = (f: Span): boolean => learned.some((l) => l.start <= f.start && l.end >= f.end);
  return {
    request: req,
    bdf,
    calls,
    learned,
    channel,
    msiWindow,
    ramMapped,
    ramWorks: ramMapped.every((m) => m.rc === 0),
    setIrqsRc,
    vectors: nvec,
    delivered,
    problems,
    notes,
    fixed: fixed.map((region) => {
      // Guest RAM mapped over a fixed region: what a device DMA write to that guest address really hits.
      const over = ramMapped.find(
        (m) => m.rc === 0 && m.range.start <= region.start && m.range.end >= region.start,
      );
      if (over === undefined) return { region, expressed: covered(region) };
      const t = fabric.dmaWrite(bdf, region.start + 0x40n, 0);
      return {
        region,
        expressed: covered(region),
        guestDma: `guest RAM at ${hx(region.start + 0x40n)}: ${t.outcome} (${t.why})`,
      };
    }),
  };
}

function bridgeHas(h: { segment: number; buses: readonly [number, number] }, bdf: string): boolean {
  const m = /^(?:([0-9a-f]{4}):)?([0-9a-f]{2}):/i.exec(bdf);
  if (!m) return false;
  const seg = m[1] ? parseInt(m[1], 16) : 0;
  const bus = parseInt(m[2]!, 16);
  return seg === h.segment && bus >= h.buses[0] && bus <= h.buses[1];
}

export type { ResvRegion };
