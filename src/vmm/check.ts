/**
 * The conflict checker: which guest ranges of a VMM layout VFIO would refuse for the groups being
 * assigned, and why. It follows VFIO type1 exactly: a container's usable IOVA list is the intersection of
 * the groups' apertures minus every non-relaxable reserved region (vfio_iommu_resv_exclude,
 * vfio_iommu_aper_resize), and VFIO_IOMMU_MAP_DMA answers -EINVAL when a mapping is not entirely inside
 * one usable range (vfio_iommu_iova_dma_valid). Pure: the host comes in as a HostView.
 */
import { IntervalSet } from '../base/interval-set.js';
import { type Range, intersect, overlaps } from '../base/range.js';
import { ERRNO, errnoNumber } from '../base/errno.js';
import { hex } from '../base/u64.js';
import type { HostGroupView, HostRegionView, HostView } from '../host/view.js';
import { exactBytes, kernelAt, strerror } from './common.js';
import { describeRegion } from './describe.js';
import {
  checkMemlock,
  memlockAdvice,
  type ContainerOwner,
  zeroPageNote,
  type MemlockLimit,
  type MemlockReport,
} from './memlock.js';
import type {
  GuestLayout,
  GuestRange,
  IommufdAccounting,
  RefusingViommu,
  VfioBackend,
  VmmFailure,
  VmmModel,
} from './types.js';

export interface GroupSelection {
  /** Group numbers to assign. */
  readonly groups?: readonly number[];
  /** Devices (BDF, `0000:41:10.1` or `41:10.1`) whose groups are assigned. */
  readonly devices?: readonly string[];
  /** Also check the PCI windows where BARs land (VMMs that DMA-map BARs for peer-to-peer). */
  readonly p2p?: boolean;
  /** The guest has a vIOMMU: the groups get a container each (only the notes' wording changes). */
  readonly viommu?: boolean;
  /** With iommufd the notes say IOAS for container. */
  readonly backend?: VfioBackend;
}

export interface SelectedGroup {
  readonly id: number;
  readonly devices: readonly string[];
  readonly group: HostGroupView;
  /** The device of the group the user named (--device), which the VMM's messages then name. */
  readonly named?: string;
  /** Every device of the group the user named, in their order. */
  readonly assigned?: readonly string[];
  /** Position in the user's selection (the order a VMM sets devices up in); groups are listed by id. */
  readonly order?: number;
}

export interface RegionCause {
  readonly kind: 'region';
  readonly region: HostRegionView;
  readonly name: string;
  readonly why: string;
  /** The part of the guest range that falls in the region. */
  readonly overlap: Range;
  readonly groups: readonly { readonly id: number; readonly devices: readonly string[] }[];
}

export interface ApertureCause {
  readonly kind: 'aperture';
  readonly overlap: Range;
  readonly why: string;
}

export type Cause = RegionCause | ApertureCause;

export interface Conflict {
  readonly range: GuestRange;
  /** The bytes of the range outside every usable IOVA range. */
  readonly outside: readonly Range[];
  readonly causes: readonly Cause[];
  /** What VFIO itself answers for this mapping. */
  readonly vfio: string;
  /** What the VMM prints and does. */
  readonly failure: VmmFailure;
  /** Whether the VMM stops (RAM, ROM) or only warns (BAR windows). */
  readonly fatal: boolean;
}

/**
 * Bytes of the guest ranges VFIO pins when it maps them: RAM and firmware (vfio_pin_pages_remote charges
 * each page to RLIMIT_MEMLOCK); PCI windows are device memory (VM_PFNMAP, not charged) and mapped only
 * for peer-to-peer.
 */
export function pinnedBytes(layout: GuestLayout): bigint {
  let n = 0n;
  for (const r of layout.ranges) if (r.kind !== 'pci-window') n += r.end - r.start + 1n;
  return n;
}

/** A group VFIO refuses before any mapping: firmware-required mappings, unsafe interrupts, no usable IOVA. */
export interface Blocker {
  readonly group: number;
  readonly devices: readonly string[];
  readonly kind:
    | 'not-assignable'
    | 'unsafe-interrupts'
    | 'no-usable-iova'
    | 'split-group'
    | 'viommu-without-map'
    | 'no-iommufd';
  readonly why: string;
  readonly lines: readonly string[];
}

export interface CheckReport {
  readonly layout: GuestLayout;
  readonly groups: readonly SelectedGroup[];
  readonly backend: VfioBackend;
  /**
   * The container's usable IOVA ranges (what VFIO_IOMMU_GET_INFO would report), or with iommufd the
   * IOAS's (IOMMU_IOAS_IOVA_RANGES: the same type rule, DIRECT_RELAXABLE left usable).
   */
  readonly usable: readonly Range[];
  readonly conflicts: readonly Conflict[];
  readonly blockers: readonly Blocker[];
  /** Locked memory against the VMM's RLIMIT_MEMLOCK, when a limit was given and a group is assigned. */
  readonly memlock?: MemlockReport;
  readonly notes: readonly string[];
  /** No conflict (BAR windows included when asked for), no blocker, and the pins fit RLIMIT_MEMLOCK. */
  readonly fits: boolean;
}

export type SelectResult =
  | { readonly ok: true; readonly groups: readonly SelectedGroup[]; readonly notes: readonly string[] }
  | { readonly ok: false; readonly reason: string; readonly hint?: string };

function normBdf(b: string): string {
  const t = b.trim().toLowerCase();
  return /^[0-9a-f]{4}:/.test(t) && t.split(':').length === 3 ? t : `0000:${t}`;
}

/** PCI class codes of host bridges (0x0600) and PCI-to-PCI bridges (0x0604, 0x0609): nobody assigns these. */
function isBridge(classCode: number): boolean {
  const sub = classCode >> 8;
  return sub === 0x0600 || sub === 0x0604 || sub === 0x0609;
}

/** Picks the groups to assign: explicit groups and devices, else every assignable group that is not only bridges. */
export function selectGroups(host: HostView, sel: GroupSelection): SelectResult {
  const chosen = new Map<number, HostGroupView>();
  const named = new Map<number, string[]>();
  const notes: string[] = [];
  for (const id of sel.groups ?? []) {
    const g = host.groups.find((x) => x.id === id);
    if (!g) {
      return {
        ok: false,
        reason: `no IOMMU group ${id} on ${host.source}`,
        hint: `groups: ${host.groups.map((x) => x.id).join(', ') || 'none'}`,
      };
    }
    chosen.set(id, g);
  }
  for (const d of sel.devices ?? []) {
    const want = normBdf(d);
    const g = host.groups.find((x) => x.devices.some((dev) => normBdf(dev.bdf) === want));
    if (!g)
      return {
        ok: false,
        reason: `no device ${d} in any IOMMU group of ${host.source}`,
        hint: 'list the devices of each group with "iovamap inspect" on the same host source',
      };
    chosen.set(g.id, g);
    const bdf = g.devices.find((dev) => normBdf(dev.bdf) === want)!.bdf;
    const list = named.get(g.id) ?? [];
    if (!list.includes(bdf)) list.push(bdf);
    named.set(g.id, list);
  }
  if (chosen.size === 0) {
    const bridgesOnly = (g: HostGroupView) =>
      g.devices.length > 0 && g.devices.every((d) => isBridge(d.class));
    for (const g of host.groups) if (g.assignable?.ok !== false && !bridgesOnly(g)) chosen.set(g.id, g);
    const skipped = host.groups.filter((g) => g.assignable?.ok === false);
    if (skipped.length > 0) {
      notes.push(
        `not assignable, so left out: ${skipped.map((g) => `group ${g.id} (${g.assignable!.why})`).join('; ')}`,
      );
    }
    const bridges = host.groups.filter((g) => g.assignable?.ok !== false && bridgesOnly(g));
    if (bridges.length > 0) {
      notes.push(`left out groups of host and PCI bridges only: ${bridges.map((g) => g.id).join(', ')}`);
    }
    if (chosen.size > 1)
      notes.push(
        `checking all ${chosen.size} assignable groups ${sel.viommu ? `behind the vIOMMU, ${sel.backend === 'iommufd' ? 'an IOAS' : 'a container'} each` : `in one ${sel.backend === 'iommufd' ? 'IOAS' : 'container'}`}`,
      );
  }
  const groups = [...chosen.values()]
    .map((g, order) => ({
      id: g.id,
      devices: g.devices.map((d) => d.bdf),
      group: g,
      order,
      ...(named.has(g.id) ? { named: named.get(g.id)![0]!, assigned: named.get(g.id)! } : {}),
    }))
    .sort((a, b) => a.id - b.id);
  return { ok: true, groups, notes };
}

/** vfio_iommu_resv_exclude + aperture intersection over every group of the container. */
export function containerUsable(groups: readonly SelectedGroup[]): IntervalSet {
  let usable: IntervalSet | undefined;
  for (const g of groups) {
    if (g.group.usable.length === 0) continue;
    const mine = IntervalSet.of(g.group.usable);
    usable = usable === undefined ? mine : usable.intersect(mine);
  }
  return usable ?? IntervalSet.full();
}

function vfioAnswer(r: GuestRange, usable: IntervalSet, backend: VfioBackend): string {
  const size = r.end - r.start + 1n;
  const near = usable.ranges.filter((u) => u.end >= r.start - 1n && u.start <= r.end + 1n);
  const around = near.length
    ? `; usable around it: ${near.map((u) => `[${hex(u.start)}, ${hex(u.end)}]`).join(', ')}`
    : '';
  // iopt_check_iova: reserved IOVA (a device's region, or outside a domain's aperture) answers -EINVAL
  if (backend === 'iommufd')
    return `IOMMU_IOAS_MAP(iova=${hex(r.start)}, length=${hex(size)}) = -EINVAL: the range meets reserved IOVA of the IOAS${around}`;
  return (
    `VFIO_IOMMU_MAP_DMA(iova=${hex(r.start)}, size=${hex(size)}) = -EINVAL: the range is not inside one ` +
    `usable IOVA range${around}`
  );
}

function causesFor(outside: readonly Range[], groups: readonly SelectedGroup[], host: HostView): Cause[] {
  const causes: RegionCause[] = [];
  // one cause per (region, overlap), found by key: a host may report thousands of regions
  const byKey = new Map<string, RegionCause>();
  for (const piece of outside) {
    for (const g of groups) {
      for (const reg of g.group.regions) {
        if (reg.typeString === 'direct-relaxable') continue;
        const ov = intersect(reg, piece);
        if (!ov) continue;
        const key = `${reg.start}:${reg.end}:${reg.typeString}:${ov.start}`;
        const same = byKey.get(key);
        if (same) {
          if (!same.groups.some((x) => x.id === g.id)) {
            (same.groups as { id: number; devices: readonly string[] }[]).push({
              id: g.id,
              devices: g.devices,
            });
          }
          continue;
        }
        const d = describeRegion(reg, host.arch);
        const cause: RegionCause = {
          kind: 'region',
          region: reg,
          name: d.name,
          why: d.why,
          overlap: ov,
          groups: [{ id: g.id, devices: g.devices }],
        };
        causes.push(cause);
        byKey.set(key, cause);
      }
    }
  }
  const out: Cause[] = [...causes];
  // Whatever no region explains lies outside the IOMMU's input range (aperture / address width).
  const explained = IntervalSet.of(causes.map((c) => c.overlap));
  for (const piece of outside) {
    for (const rest of IntervalSet.of([piece]).subtract(explained).ranges) {
      const ap = host.aperture;
      out.push({
        kind: 'aperture',
        overlap: rest,
        why:
          ap !== undefined
            ? `beyond the IOMMU's input address range [${hex(ap.start)}, ${hex(ap.end)}] (its address width)`
            : "outside every usable IOVA range the host reports (beyond the IOMMU's address width)",
      });
    }
  }
  return out.sort((a, b) => (a.overlap.start < b.overlap.start ? -1 : 1));
}

/** Which VFIO step refuses a group and with which errno, as the host model states it. */
export interface Refusal {
  readonly ioctl:
    | 'VFIO_GROUP_SET_CONTAINER'
    | 'VFIO_SET_IOMMU'
    | 'VFIO_DEVICE_BIND_IOMMUFD'
    | 'VFIO_DEVICE_ATTACH_IOMMUFD_PT'
    | 'open vfio-dev'
    | 'open /dev/iommu';
  readonly errno: number;
}

/** The iommufd step where type1's refusal shows up: claiming the device at bind, the domain at attach. */
function iommufdStep(r: Refusal): Refusal {
  return {
    ...r,
    ioctl:
      r.ioctl === 'VFIO_GROUP_SET_CONTAINER' ? 'VFIO_DEVICE_BIND_IOMMUFD' : 'VFIO_DEVICE_ATTACH_IOMMUFD_PT',
  };
}

/**
 * The host model words a refusal as "<ioctl> fails with <ERRNO>" (or "... returns <ERRNO>"); read the
 * step and errno back so the VMM's own message can be printed. Undefined when the text names neither.
 */
export function refusalOf(why: string): Refusal | undefined {
  const m =
    /\b(VFIO_GROUP_SET_CONTAINER|VFIO_SET_IOMMU) fails(?: with (E[A-Z0-9]+)|:[^;]*?returns (E[A-Z0-9]+))/.exec(
      why,
    );
  if (!m) return undefined;
  const errno = errnoNumber(m[2] ?? m[3]!);
  if (errno === undefined) return undefined;
  return { ioctl: m[1] as Refusal['ioctl'], errno };
}

function blockersFor(
  model: VmmModel,
  layout: GuestLayout,
  host: HostView,
  groups: readonly SelectedGroup[],
  opts: CheckOptions,
): Blocker[] {
  const out: Blocker[] = [];
  const iommufd = opts.backend === 'iommufd';
  const say = (dev: string, group: number, why: string, fallback: Refusal): string[] => {
    const r = refusalOf(why) ?? fallback;
    return model.refusal({ ...(iommufd ? iommufdStep(r) : r), device: dev, group }, layout);
  };
  const at = kernelAt(host.kernel);
  const live = host.iommufd;
  const missing =
    live === undefined || (live.dev && live.deviceFiles)
      ? undefined
      : !live.dev
        ? 'this host has no /dev/iommu: its kernel is built without CONFIG_IOMMUFD, or the iommufd module is not loaded (modprobe iommufd)'
        : 'this host has no VFIO device files (/dev/vfio/devices): its kernel is built without CONFIG_VFIO_DEVICE_CDEV';
  for (const g of groups) {
    const dev = g.devices[0] ?? '<bdf>';
    if (iommufd && missing !== undefined && !(at !== undefined && at < 6006)) {
      out.push({
        group: g.id,
        devices: g.devices,
        kind: 'no-iommufd',
        why: `${missing}: use the legacy VFIO container, or a kernel with iommufd`,
        lines: model.refusal(
          {
            ioctl: !live!.deviceFiles ? 'open vfio-dev' : 'open /dev/iommu',
            errno: ERRNO.ENOENT,
            device: g.named ?? dev,
            group: g.id,
          },
          layout,
        ),
      });
      continue;
    }
    if (iommufd && at !== undefined && at < 6006) {
      // QEMU and cloud-hypervisor open the device's /dev/vfio/devices/vfioN (CONFIG_VFIO_DEVICE_CDEV, 6.6)
      out.push({
        group: g.id,
        devices: g.devices,
        kind: 'no-iommufd',
        why:
          `Linux ${host.kernel} has no VFIO device files (/dev/vfio/devices/vfioN, Linux 6.6 and later), which the ` +
          `iommufd backend binds to /dev/iommu${at < 6002 ? ' (and no /dev/iommu either: iommufd arrived in 6.2)' : ''}: ` +
          'use the legacy VFIO container, or a newer kernel',
        lines: model.refusal(
          { ioctl: 'open vfio-dev', errno: ERRNO.ENOENT, device: g.named ?? dev, group: g.id },
          layout,
        ),
      });
      continue;
    }
    if (g.group.assignable?.ok === false) {
      const why = iommufd
        ? g.group.assignable.why.replace(
            /\bVFIO_GROUP_SET_CONTAINER fails\b/,
            'VFIO_DEVICE_BIND_IOMMUFD fails',
          )
        : g.group.assignable.why;
      out.push({
        group: g.id,
        devices: g.devices,
        kind: 'not-assignable',
        why,
        lines: say(dev, g.id, why, { ioctl: 'VFIO_GROUP_SET_CONTAINER', errno: ERRNO.EINVAL }),
      });
    }
    if (g.group.interruptSafety?.safe === false && iommufd) {
      // iommufd_device_bind: its own allow_unsafe_interrupts, independent of vfio_iommu_type1's; no log
      out.push({
        group: g.id,
        devices: g.devices,
        kind: 'unsafe-interrupts',
        why:
          "the platform cannot isolate the device's MSIs, so iommufd refuses to bind it: VFIO_DEVICE_BIND_IOMMUFD " +
          'fails with EPERM and the kernel logs nothing; iommufd.allow_unsafe_interrupts=1 overrides it ' +
          '(vfio_iommu_type1.allow_unsafe_interrupts does not apply to iommufd)',
        lines: model.refusal(
          { ioctl: 'VFIO_DEVICE_BIND_IOMMUFD', errno: ERRNO.EPERM, device: g.named ?? dev, group: g.id },
          layout,
        ),
      });
    } else if (g.group.interruptSafety?.safe === false) {
      // vfio_iommu_type1_attach_group refuses unsafe interrupts with -EPERM at VFIO_SET_IOMMU.
      const why = g.group.interruptSafety.why;
      out.push({
        group: g.id,
        devices: g.devices,
        kind: 'unsafe-interrupts',
        why,
        lines: say(dev, g.id, why, { ioctl: 'VFIO_SET_IOMMU', errno: ERRNO.EPERM }),
      });
    }
    if (opts.viommuWithoutMap !== undefined) {
      const v = opts.viommuWithoutMap;
      out.push({
        group: g.id,
        devices: g.devices,
        kind: 'viommu-without-map',
        why:
          v === 'intel-iommu'
            ? "the guest's intel-iommu runs without caching-mode=on, so it cannot tell VFIO which IOVAs the " +
              'guest maps, and QEMU refuses device assignment behind it: add caching-mode=on to -device intel-iommu'
            : `the guest's ${v} cannot tell VFIO which IOVAs it maps (QEMU's emulation has no MAP notifier), so ` +
              "QEMU refuses a VFIO device behind it: drop the vIOMMU, or use QEMU's iommufd backend with an " +
              'accelerated SMMUv3 (not modelled)',
        lines: model.viommuRefusal?.(g.named ?? dev, g.id, v, layout) ?? [],
      });
    }
    const assigned = g.assigned ?? [];
    const bridge = (d: string) => opts.viommuBridges?.[d];
    const oneBridge =
      bridge(assigned[0]!) !== undefined && assigned.every((d) => bridge(d) === bridge(assigned[0]!));
    if (opts.viommu && assigned.length > 1 && !oneBridge) {
      // every device behind a vIOMMU has an address space of its own (a conventional PCI bridge aliases
      // those behind it); QEMU's vfio_get_group keeps a group in one container, and iommufd
      // (iommufd_hw_pagetable_attach) every device of a group on the one page table of its group
      const space = iommufd ? 'an IOAS' : 'an address space';
      out.push({
        group: g.id,
        devices: g.devices,
        kind: 'split-group',
        why:
          `its devices ${assigned.join(', ')} would each get ${space} of their own behind the vIOMMU, ` +
          (iommufd
            ? 'but iommufd keeps the devices of a group on one page table, so attaching the second fails with EINVAL'
            : 'but a group can only be in one container') +
          ': put them behind one conventional PCI bridge (pcie-pci-bridge) in the guest, or assign only one of them',
        lines: iommufd
          ? model.refusal(
              {
                ioctl: 'VFIO_DEVICE_ATTACH_IOMMUFD_PT',
                errno: ERRNO.EINVAL,
                device: assigned[1]!,
                group: g.id,
              },
              layout,
            )
          : (model.splitGroup?.(assigned[1]!, g.id, layout) ?? []),
      });
    }
    // iommufd reserves the regions without checking what is left: every map then fails (conflicts)
    if (g.group.usable.length === 0 && !iommufd) {
      // vfio_iommu_resv_exclude leaves an empty list: the attach at VFIO_SET_IOMMU answers -EINVAL.
      out.push({
        group: g.id,
        devices: g.devices,
        kind: 'no-usable-iova',
        why: 'its reserved regions leave no usable IOVA range, so attaching it fails with -EINVAL',
        lines: model.refusal(
          { ioctl: 'VFIO_SET_IOMMU', errno: ERRNO.EINVAL, device: dev, group: g.id },
          layout,
        ),
      });
    }
  }
  return out;
}

export interface CheckOptions {
  /** Also check the PCI windows where BARs land (peer-to-peer DMA). */
  readonly p2p?: boolean;
  /** The VMM's RLIMIT_MEMLOCK: what VFIO pins must fit in. */
  readonly memlock?: MemlockLimit;
  /**
   * The guest has a vIOMMU (QEMU's intel-iommu or virtio-iommu, which let VFIO devices sit behind them):
   * each assigned group gets a container of its own, and while the guest has not turned translation on
   * (boot, or a passthrough domain) each maps all of the layout.
   */
  readonly viommu?: boolean;
  /**
   * With a vIOMMU: the conventional PCI bridge (its id) each assigned device sits behind in the guest,
   * when known (from a QEMU command line). Devices behind one such bridge share an address space.
   */
  readonly viommuBridges?: Readonly<Record<string, string>>;
  /**
   * A vIOMMU that cannot carry VFIO devices as configured (GuestDescription.viommuWithoutMap): every
   * group is refused.
   */
  readonly viommuWithoutMap?: RefusingViommu;
  /**
   * How the VMM drives VFIO (default type1). With iommufd: an IOAS per guest address space, IOMMU_IOAS_MAP
   * for each range, and the kernel's iommufd rules for binding devices and charging pins.
   */
  readonly backend?: VfioBackend;
  /** With iommufd: per-user (default) or per-process locked-memory accounting. */
  readonly iommufdAccounting?: IommufdAccounting;
  /** With iommufd's per-user accounting: bytes the user's other processes have charged already. */
  readonly userLocked?: bigint;
  /**
   * Devices the VMM puts behind its own virtio-iommu (GuestDescription.guestMapped): their groups' containers
   * map nothing at boot, so the layout is checked against the other groups only.
   */
  readonly guestMapped?: GuestMappedDevices;
}

export interface GuestMappedDevices {
  readonly devices: readonly string[];
  /** "cloud-hypervisor's virtio-iommu" */
  readonly viommu: string;
  /** What that virtio-iommu tells the guest is reserved (its PROBE), when known, and in words. */
  readonly reported?: readonly Range[];
  readonly reportedText: string;
}

/** The selected groups whose devices the user named all sit behind the VMM's virtio-iommu. */
function guestMappedGroups(
  groups: readonly SelectedGroup[],
  g: GuestMappedDevices | undefined,
): SelectedGroup[] {
  if (g === undefined || g.devices.length === 0) return [];
  const set = new Set(g.devices);
  return groups.filter((x) => {
    const named = x.assigned ?? (x.named !== undefined ? [x.named] : []);
    return named.length > 0 && named.every((d) => set.has(d));
  });
}

/**
 * What a group behind the VMM's virtio-iommu meets instead: the guest picks the IOVAs, and it knows only
 * the regions that virtio-iommu reports; a guest mapping into any other reserved region of the host
 * fails (VFIO_IOMMU_MAP_DMA answers -EINVAL) when the guest uses it.
 */
function guestMappedNotes(groups: readonly SelectedGroup[], g: GuestMappedDevices, host: HostView): string[] {
  const told = IntervalSet.of(g.reported ?? []);
  return groups.map((x) => {
    const untold = x.group.regions.filter(
      (r) => r.typeString !== 'direct-relaxable' && !told.containsRange(r),
    );
    const list = untold.map((r) => `[${hex(r.start)}, ${hex(r.end)}] ${describeRegion(r, host.arch).name}`);
    return (
      `group ${x.id} (${(x.assigned ?? x.devices).join(', ')}) sits behind ${g.viommu}: its container maps ` +
      'nothing at boot, only the IOVAs the guest maps through it, so the RAM layout does not meet its reserved ' +
      `regions; the guest is told only of ${g.reportedText}` +
      (list.length
        ? `, not of ${list.join(', ')}: a guest mapping there fails (VFIO_IOMMU_MAP_DMA = -EINVAL) when the guest uses it`
        : ', which covers every reserved region of the group')
    );
  });
}

/** The groups in the order the user gave them (the order a VMM sets the devices up in). */
function inOrder(groups: readonly SelectedGroup[]): SelectedGroup[] {
  return [...groups].sort((a, b) => (a.order ?? a.id) - (b.order ?? b.id));
}

/**
 * Behind a vIOMMU, the group that opens each container, in order: vfio_connect_container (QEMU) keeps
 * one container per address space, every device behind a vIOMMU has its own, except that the devices
 * plugged into one conventional PCI bridge share the bridge's (so their groups share a container).
 */
function containerGroups(groups: readonly SelectedGroup[], opts: CheckOptions): SelectedGroup[] {
  const bridges = new Set<string>();
  return inOrder(groups).filter((g) => {
    const d = g.named ?? g.devices[0];
    const bridge = d === undefined ? undefined : opts.viommuBridges?.[d];
    if (bridge === undefined) return true;
    if (bridges.has(bridge)) return false;
    bridges.add(bridge);
    return true;
  });
}

/** Checks a layout against the selected groups of a host. */
export function checkLayout(
  model: VmmModel,
  layout: GuestLayout,
  host: HostView,
  groups: readonly SelectedGroup[],
  opts: CheckOptions = {},
): CheckReport {
  // groups behind the VMM's own virtio-iommu map nothing at boot (GuestDescription.guestMapped)
  const guest = guestMappedGroups(groups, opts.guestMapped);
  const boot = guest.length ? groups.filter((g) => !guest.includes(g)) : groups;
  const usable = containerUsable(boot.length ? boot : groups);
  const backend = opts.backend ?? 'type1';
  const iommufd = backend === 'iommufd';
  const notes: string[] = [];
  const conflicts: Conflict[] = [];
  const device = groups[0]?.devices[0];
  if (iommufd && host.source.startsWith('platform:') && (kernelAt(host.kernel) ?? 0) >= 6006)
    notes.push(
      `the iommufd backend needs a kernel built with CONFIG_IOMMUFD and CONFIG_VFIO_DEVICE_CDEV; the check ` +
        `assumes one (Debian's ${host.kernel} build has CONFIG_IOMMUFD off)`,
    );
  if (iommufd) {
    const partly = groups.filter((g) => g.assigned !== undefined && g.assigned.length < g.devices.length);
    if (partly.length)
      notes.push(
        `iommufd reserves the regions of the devices it binds (iommufd_device_attach_reserved_iova), not of ` +
          `the whole group as type1 does; the check uses the group's regions for group ${partly.map((g) => g.id).join(', ')}, ` +
          'as sysfs shows them (a region of a member not assigned may not apply)',
      );
  }
  for (const r of boot.length ? layout.ranges : []) {
    if (r.kind === 'pci-window' && !opts.p2p) continue;
    if (usable.containsRange(r)) {
      for (const g of boot) {
        for (const reg of g.group.regions) {
          if (reg.typeString === 'direct-relaxable' && overlaps(reg, r)) {
            notes.push(
              `${r.what} covers the relaxable region [${hex(reg.start)}, ${hex(reg.end)}] of group ${g.id}: ` +
                'VFIO ignores it, the device loses that firmware mapping while assigned',
            );
          }
        }
      }
      continue;
    }
    const outside = IntervalSet.of([r]).subtract(usable).ranges;
    const causes = causesFor(outside, boot, host);
    const culprit = causes.find((c) => c.kind === 'region') as RegionCause | undefined;
    const failure = model.failure(
      {
        range: r,
        errno: ERRNO.EINVAL,
        errnoName: 'EINVAL',
        strerror: strerror(ERRNO.EINVAL),
        device: culprit?.groups[0]?.devices[0] ?? boot[0]?.devices[0] ?? device ?? '<bdf>',
        group: culprit?.groups[0]?.id ?? boot[0]?.id,
        ...(iommufd ? { backend } : {}),
      },
      layout,
    );
    conflicts.push({
      range: r,
      outside,
      causes,
      vfio: vfioAnswer(r, usable, backend),
      failure,
      fatal: r.kind !== 'pci-window',
    });
  }
  const fatal = conflicts.filter((c) => c.fatal);
  if (fatal.length > 1) {
    notes.push(
      `${model.family} stops at the first refused mapping (the lowest address); the ${fatal.length - 1} ` +
        'later conflicts would show up once it is fixed',
    );
  }
  const blockers = blockersFor(model, layout, host, groups, opts);
  let memlock: MemlockReport | undefined;
  if (guest.length) notes.push(...guestMappedNotes(guest, opts.guestMapped!, host));
  if (groups.length === 0) notes.push('no group selected: nothing to assign, so nothing can conflict');
  else if (boot.length === 0)
    notes.push(
      "nothing is mapped at boot: every group sits behind the VMM's virtio-iommu, and what gets mapped " +
        '(and pinned) is what the guest maps through it',
    );
  else if (opts.memlock !== undefined) {
    // only what VFIO accepts is pinned: a refused range fails before vfio_pin_map_dma
    const accepted = layout.ranges.filter((r) => r.kind !== 'pci-window' && usable.containsRange(r));
    const owner = (g: SelectedGroup): ContainerOwner => {
      const d = g.named ?? g.devices[0];
      return { ...(d !== undefined ? { device: d } : {}), group: g.id };
    };
    memlock = checkMemlock(
      model,
      layout,
      accepted,
      opts.memlock,
      host,
      opts.viommu ? containerGroups(boot, opts).map(owner) : owner(inOrder(boot)[0]!),
      {
        backend,
        ...(opts.iommufdAccounting !== undefined ? { accounting: opts.iommufdAccounting } : {}),
        ...(opts.userLocked !== undefined ? { userLocked: opts.userLocked } : {}),
      },
    );
    // type1 leaves the shared zero page uncharged on 6.1; iommufd (6.2 on) counts every page it pins
    const zero = iommufd ? undefined : zeroPageNote(memlock, host.kernel);
    if (zero !== undefined) notes.push(zero);
    if (!memlock.failure) notes.push(memlockAdvice(memlock));
    else if (fatal.some((c) => c.range.start < memlock!.failure!.range.start))
      notes.push(
        `${model.family} stops at the refused mapping below ${hex(memlock.failure.range.start)} first; the ` +
          'locked-memory failure shows up once that is fixed',
      );
  } else {
    const pinned = pinnedBytes(layout);
    const n = opts.viommu ? containerGroups(boot, opts).length : 1;
    const space = iommufd ? 'IOAS' : 'container';
    const userWide = iommufd && (opts.iommufdAccounting ?? 'user') === 'user';
    if (pinned > 0n)
      notes.push(
        `VFIO pins the ${exactBytes(pinned)} of RAM and firmware it maps and charges them to the ` +
          (userWide
            ? "user's locked memory (iommufd's per-user count, shared by all of the user's processes, other VMs included)"
            : "VMM's locked memory (VmLck)") +
          `: without CAP_IPC_LOCK the VMM needs RLIMIT_MEMLOCK of at least ` +
          (n > 1
            ? `${exactBytes(pinned * BigInt(n))}, for the ${n} ${space}s the vIOMMU gives the groups (each pins it all)`
            : `that, per ${space}`) +
          (userWide
            ? " plus what the user's other processes have charged (memory mapped twice counts twice)"
            : ' (memory mapped twice counts twice, memory the VMM mlock()s once more, e.g. QEMU ' +
              '-overcommit mem-lock=on)') +
          ', or the mapping fails with ENOMEM, "Cannot allocate memory"' +
          (iommufd ? '' : ' ("iovamap run vfio_memlock" shows it)'),
      );
  }
  return {
    layout,
    groups,
    backend,
    usable: usable.ranges,
    conflicts,
    blockers,
    ...(memlock !== undefined ? { memlock } : {}),
    notes,
    fits: blockers.length === 0 && conflicts.length === 0 && memlock?.failure === undefined,
  };
}
