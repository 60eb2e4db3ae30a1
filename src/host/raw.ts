/**
 * What a real host shows in sysfs (or a snapshot of it) and how it becomes a HostView. sysfs is less
 * precise than the model: an `msi` line may be a hardware doorbell (IOMMU_RESV_MSI) or the software
 * window dma-iommu maps doorbells into (IOMMU_RESV_SW_MSI), the IOMMU aperture is not shown, and
 * interrupt isolation is not visible. This module infers what can be inferred and says so (region
 * `origin` starts with "inferred"), and leaves the rest unknown with a note.
 */
import { IntervalSet } from '../base/interval-set.js';
import type { Range } from '../base/range.js';
import { U64_MAX, hex } from '../base/u64.js';
import { ResvType, parseReservedRegions } from '../iommu/resv-region.js';
import type { Arch } from '../platform/types.js';
import type { HostDeviceView, HostGroupView, HostRegionView, HostView } from './view.js';

/** A PCI function as sysfs shows it: the same facts as the view's device. */
export type RawDevice = HostDeviceView;

export interface RawGroup {
  readonly id: number;
  /** sysfs `type`; undefined when the file does not exist (kernels before 5.11). */
  readonly type: string | undefined;
  /** `reserved_regions` verbatim. */
  readonly reservedRegions: string;
  /** Where the reserved_regions text came from, for error messages. */
  readonly reservedRegionsFile: string;
  readonly devices: readonly RawDevice[];
  /** Group members that are not PCI functions (platform/ACPI devices), by sysfs name. */
  readonly otherDevices?: readonly string[];
  /** The IOMMU aperture of this group's devices, when sysfs lets us work it out (intel-iommu cap). */
  readonly aperture?: Range;
}

export interface RawHost {
  readonly source: string;
  readonly arch?: Arch;
  readonly kernel?: string;
  readonly aperture?: Range;
  readonly pageSize?: number;
  /** The live host's iommufd files (HostView.iommufd). */
  readonly iommufd?: HostView['iommufd'];
  readonly groups: readonly RawGroup[];
  readonly ungrouped: readonly RawDevice[];
  readonly notes?: readonly string[];
}

/** The ARM software MSI window (MSI_IOVA_BASE, MSI_IOVA_LENGTH in arm-smmu, arm-smmu-v3, virtio-iommu). */
export const SW_MSI_WINDOW: Range = { start: 0x8000000n, end: 0x80fffffn };
/** The x86 interrupt window (IOAPIC_RANGE / MSI_RANGE in intel and amd iommu drivers). */
export const X86_MSI_WINDOW: Range = { start: 0xfee00000n, end: 0xfeefffffn };

const same = (a: Range, b: Range) => a.start === b.start && a.end === b.end;

/** Guesses the architecture from the MSI windows a host reports. */
export function inferArch(groups: readonly RawGroup[]): Arch | undefined {
  for (const g of groups) {
    for (const l of safeParse(g)) {
      if (l.typeString !== 'msi') continue;
      if (same(l, X86_MSI_WINDOW)) return 'x86_64';
      if (same(l, SW_MSI_WINDOW)) return 'aarch64';
    }
  }
  return undefined;
}

function safeParse(g: RawGroup) {
  try {
    return parseReservedRegions(g.reservedRegions, g.reservedRegionsFile);
  } catch {
    return [];
  }
}

/** The exact type of a sysfs line, inferring the two kinds of `msi`. */
export function inferRegion(
  start: bigint,
  end: bigint,
  typeString: string,
  arch: Arch | undefined,
): { type: ResvType; origin: string } {
  switch (typeString) {
    case 'direct':
      return {
        type: ResvType.Direct,
        origin: 'sysfs: firmware asks for a 1:1 mapping (RMRR, IVMD or IORT RMR)',
      };
    case 'direct-relaxable':
      return {
        type: ResvType.DirectRelaxable,
        origin: 'sysfs: relaxable 1:1 mapping (USB/graphics RMRR, ISA bridge floppy workaround, RMR)',
      };
    case 'reserved':
      return { type: ResvType.Reserved, origin: 'sysfs: never mapped (e.g. AMD HyperTransport hole)' };
    default: {
      const r = { start, end };
      if (arch === 'x86_64' || same(r, X86_MSI_WINDOW))
        return {
          type: ResvType.Msi,
          origin: 'inferred: hardware MSI window (x86 interrupt addresses bypass translation)',
        };
      if (same(r, SW_MSI_WINDOW))
        return {
          type: ResvType.SwMsi,
          origin: 'inferred: software MSI window where dma-iommu maps the doorbell (0x8000000, 1 MiB)',
        };
      return {
        type: ResvType.Msi,
        origin: 'inferred: hardware MSI doorbell outside the software window (e.g. an ITS page)',
      };
    }
  }
}

/**
 * VFIO type1's usable IOVA list for one group (vfio_iommu_resv_exclude): the aperture minus every
 * reserved region except direct-relaxable ones.
 */
export function usableRanges(aperture: Range, regions: readonly HostRegionView[]): Range[] {
  let set = IntervalSet.of([aperture]);
  for (const r of regions) {
    if (r.typeString === 'direct-relaxable') continue;
    set = set.subtract({ start: r.start, end: r.end });
  }
  return [...set.ranges];
}

const FULL: Range = { start: 0n, end: U64_MAX };

/** Why a group cannot be given to VFIO, from what sysfs shows (a `direct` region needs a 1:1 mapping). */
export function assignabilityFromRegions(
  regions: readonly HostRegionView[],
  devices: readonly HostDeviceView[],
): { ok: boolean; why: string } {
  const direct = regions.filter((r) => r.typeString === 'direct');
  if (direct.length === 0) {
    const advice = vfioBindAdvice(devices);
    return advice.ok ? { ok: true, why: `no region requires a 1:1 mapping; ${advice.why}` } : advice;
  }
  const list = direct.map((r) => `${hex(r.start)}-${hex(r.end)}`).join(', ');
  return {
    ok: false,
    why:
      `firmware requires a 1:1 (direct) mapping of ${list}: the kernel refuses VFIO ` +
      '(6.12: "Firmware has requested this device have a 1:1 IOMMU mapping", EINVAL when the group joins a container; ' +
      '6.1 intel-iommu: "Device is ineligible for IOMMU domain attach due to platform RMRR requirement", EPERM)',
  };
}

/** PCI-to-PCI and subtractive bridges (header type 1): vfio-pci does not bind to them. */
export function isPciBridgeClass(classCode: number): boolean {
  const sub = classCode >> 8;
  return sub === 0x0604 || sub === 0x0609;
}

/**
 * What to bind where: vfio-pci takes only normal-header functions (vfio_pci_probe), while bridges may
 * stay with pcieport (a driver_managed_dma driver) in a group VFIO uses.
 */
export function vfioBindAdvice(devices: readonly { bdf: string; class: number }[]): {
  ok: boolean;
  why: string;
} {
  const bridges = devices.filter((d) => isPciBridgeClass(d.class)).map((d) => d.bdf);
  const endpoints = devices.filter((d) => !isPciBridgeClass(d.class)).map((d) => d.bdf);
  if (endpoints.length === 0)
    return {
      ok: false,
      why: 'the group holds only PCI bridges: vfio-pci does not bind to bridges, so there is nothing to assign',
    };
  const keep = bridges.length
    ? `; the bridge${bridges.length > 1 ? 's' : ''} ${bridges.join(', ')} may stay with pcieport`
    : '';
  return { ok: true, why: `bind ${endpoints.join(', ')} to vfio-pci${keep}` };
}

const DERIVED_NOTE =
  /^(group \d+ also holds non-PCI|architecture \S+ inferred|sysfs does not show|interrupt isolation is not visible|some groups have no `type`|no IOMMU groups:|captured from )/;

/** Notes hostViewFromRaw derives again on every read (a snapshot does not store them). */
export function isDerivedNote(note: string): boolean {
  return DERIVED_NOTE.test(note);
}

/** Builds the HostView of a sysfs tree or snapshot. Throws InputError for a garbled reserved_regions. */
export function hostViewFromRaw(raw: RawHost): HostView {
  const notes: string[] = [...(raw.notes ?? [])];
  const inferredArch = raw.arch ?? inferArch(raw.groups);
  if (raw.arch === undefined && inferredArch !== undefined)
    notes.push(`architecture ${inferredArch} inferred from the MSI windows in reserved_regions`);
  if (raw.aperture === undefined && raw.groups.some((g) => g.aperture === undefined))
    notes.push(
      'sysfs does not show the IOMMU aperture (its address width): usable ranges run to 2^64-1 here, VFIO cuts them at the aperture',
    );
  let missingType = false;
  const groups: HostGroupView[] = raw.groups.map((g) => {
    const lines = parseReservedRegions(g.reservedRegions, g.reservedRegionsFile);
    const regions: HostRegionView[] = lines.map((l) => {
      const { type, origin } = inferRegion(l.start, l.end, l.typeString, inferredArch);
      return { start: l.start, end: l.end, typeString: l.typeString, type, origin };
    });
    if (g.type === undefined) missingType = true;
    const devices: HostDeviceView[] = g.devices.map(deviceView);
    if (g.otherDevices?.length)
      notes.push(
        `group ${g.id} also holds non-PCI devices (${g.otherDevices.join(', ')}): VFIO assigns those with vfio-platform; iovamap lists them only`,
      );
    return {
      id: g.id,
      type: g.type ?? 'unknown',
      devices,
      ...(g.otherDevices?.length ? { otherDevices: g.otherDevices } : {}),
      regions,
      usable: usableRanges(g.aperture ?? raw.aperture ?? FULL, regions),
      assignable: assignabilityFromRegions(regions, devices),
    };
  });
  if (missingType) notes.push('some groups have no `type` file (kernels before 5.11 do not show it)');
  if (raw.groups.length > 0)
    notes.push(
      'interrupt isolation is not visible in sysfs: VFIO accepts a group without allow_unsafe_interrupts only with interrupt remapping (Intel/AMD) or a GICv3 ITS',
    );
  const view: HostView = {
    source: raw.source,
    groups: [...groups].sort((a, b) => a.id - b.id),
    ungrouped: raw.ungrouped.map(deviceView),
    notes,
    ...(inferredArch !== undefined ? { arch: inferredArch } : {}),
    ...(raw.kernel !== undefined ? { kernel: raw.kernel } : {}),
    ...(raw.pageSize !== undefined ? { pageSize: raw.pageSize } : {}),
    ...(raw.iommufd !== undefined ? { iommufd: raw.iommufd } : {}),
    ...(raw.aperture !== undefined ? { aperture: raw.aperture } : commonAperture(raw.groups)),
  };
  return view;
}

function commonAperture(groups: readonly RawGroup[]): { aperture?: Range } {
  const a = groups[0]?.aperture;
  if (
    a === undefined ||
    !groups.every((g) => g.aperture && g.aperture.start === a.start && g.aperture.end === a.end)
  )
    return {};
  return { aperture: a };
}

/**
 * The aperture of a paging domain on an Intel VT-d unit, from its capability register as sysfs shows it
 * (/sys/class/iommu/dmarN/intel-iommu/cap, "%llx"): MGAW is bits 21:16 plus one, and the domain's
 * address width is capped to it (intel_iommu_domain_alloc / prepare_domain_attach_device).
 */
export function intelApertureFromCap(capText: string): Range | undefined {
  const t = capText.trim();
  if (!/^[0-9a-fA-F]{1,16}$/.test(t)) return undefined;
  const mgaw = Number((BigInt('0x' + t) >> 16n) & 0x3fn) + 1;
  return { start: 0n, end: (1n << BigInt(mgaw)) - 1n };
}

function deviceView(d: RawDevice): HostDeviceView {
  return {
    bdf: d.bdf,
    vendor: d.vendor,
    device: d.device,
    class: d.class,
    driver: d.driver,
    ...(d.name !== undefined ? { name: d.name } : {}),
    ...(d.parent !== undefined ? { parent: d.parent } : {}),
  };
}

/** The explanation shown when a host has no IOMMU groups at all. */
export function noGroupsExplanation(arch: Arch | undefined, groupsDir = '/sys/kernel/iommu_groups'): string {
  const how =
    arch === 'aarch64'
      ? 'boot with iommu.passthrough=0 and check that the SMMU driver probed (dmesg | grep -i smmu)'
      : arch === 'x86_64'
        ? 'enable VT-d / AMD-Vi (IOMMU, SVM/IOMMU) in the firmware setup and boot with intel_iommu=on (Intel) or amd_iommu=on (AMD); check dmesg | grep -e DMAR -e AMD-Vi'
        : 'enable the IOMMU in the firmware setup and boot with intel_iommu=on (Intel), amd_iommu=on (AMD) or iommu.passthrough=0 (ARM)';
  return `no IOMMU groups: ${groupsDir} is empty or missing, so the IOMMU is off or has no driver and VFIO cannot assign devices. To turn it on: ${how}.`;
}
