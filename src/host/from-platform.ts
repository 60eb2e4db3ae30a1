/**
 * The HostView of a platform description: boot the model (buildPlatform) for one kernel profile and read
 * what the kernel would show (groups, members, reserved regions with their exact type and origin), what
 * VFIO type1 would report (usable IOVA ranges = aperture minus non-relaxable regions), whether the
 * group passes VFIO's interrupt isolation check, and whether VFIO can take the group at all, found by
 * running VFIO's own sequence on a scratch copy of the model (claim DMA ownership, attach a domain).
 */
import { ERRNO, errnoName } from '../base/errno.js';
import { hex } from '../base/u64.js';
import type { Device, IommuGroup } from '../iommu/api.js';
import { domainTypeSysfs } from '../iommu/api.js';
import { ResvType, resvEnd, resvTypeString } from '../iommu/resv-region.js';
import type { KernelProfile } from '../kernel/profile.js';
import { kernelProfile } from '../kernel/profile.js';
import { buildPlatform } from '../platform/build.js';
import type { PlatformModel } from '../platform/build.js';
import type { InterruptControllerDescription, PlatformDescription } from '../platform/types.js';
import { isPciBridgeClass, usableRanges, vfioBindAdvice } from './raw.js';
import type {
  Assignability,
  HostDeviceView,
  HostGroupView,
  HostRegionView,
  HostView,
  InterruptSafety,
} from './view.js';

export interface FromPlatformOptions {
  /** lspci-style names from the system's pci.ids (preferred over the description's `name`). */
  readonly names?: (vendor: number, device: number) => string | undefined;
}

/** The host view of `desc` booted with kernel `profile` (default 6.12). */
export function hostViewFromPlatform(
  desc: PlatformDescription,
  profile: KernelProfile = kernelProfile(),
  opts: FromPlatformOptions = {},
): HostView {
  const model = buildPlatform(desc, profile);
  const scratch = buildPlatform(desc, profile);
  const core = model.iommu;
  const deviceView = (d: Device): HostDeviceView => {
    const pd = model.topology.get(d.bdf);
    const name = opts.names?.(d.vendor, d.deviceId) ?? pd?.desc.name;
    const parent = pd?.upstream?.bdf;
    return {
      bdf: d.bdf,
      vendor: d.vendor,
      device: d.deviceId,
      class: d.class,
      driver: d.driver,
      ...(name !== undefined ? { name } : {}),
      ...(parent !== undefined ? { parent } : {}),
    };
  };
  const apertures = new Set<string>();
  let aperture: HostView['aperture'];
  const groups: HostGroupView[] = core.groups().map((g) => {
    const regions: HostRegionView[] = core.groupResvRegions(g).map((r) => ({
      start: r.start,
      end: resvEnd(r),
      typeString: resvTypeString(r.type),
      type: r.type,
      ...(r.origin !== undefined ? { origin: r.origin } : {}),
    }));
    const first = g.devices[0];
    const ap = first !== undefined ? core.aperture(first) : undefined;
    if (ap) {
      apertures.add(`${ap.start}-${ap.end}`);
      aperture = ap;
    }
    return {
      id: g.id,
      type: domainTypeSysfs(g.defaultDomainType),
      devices: g.devices.map(deviceView),
      regions,
      usable: ap ? usableRanges(ap, regions) : [],
      interruptSafety: interruptSafety(model, g),
      assignable: probeAssignable(scratch, g.id),
      quirks: groupQuirks(model, g),
    };
  });
  const ungrouped = core
    .devices()
    .filter((d) => d.groupId === undefined)
    .map(deviceView);
  const notes: string[] = [];
  if (groups.length === 0)
    notes.push(
      desc.iommus.some((m) => m.driver === 'virtio-iommu')
        ? `no IOMMU groups under kernel ${profile.version}: that kernel build has no virtio-iommu driver (Debian bookworm 6.1 lacks CONFIG_VIRTIO_IOMMU), so no device is translated`
        : `no IOMMU groups: no device of this platform is translated by an IOMMU under kernel ${profile.version}`,
    );
  if (ungrouped.length > 0 && desc.firmware === 'devicetree')
    notes.push('on device tree a PCI function joins an IOMMU group only when a driver probes it');
  return {
    source: `platform:${desc.name}`,
    arch: desc.arch,
    kernel: profile.version,
    pageSize: desc.pageSize,
    ...(aperture !== undefined && apertures.size === 1 ? { aperture } : {}),
    groups,
    ungrouped,
    notes,
  };
}

/**
 * The kernel quirks that shaped a group: those of its members and of every bridge above them (a root
 * port's ACS quirk is what keeps the devices below it apart from the rest).
 */
function groupQuirks(model: PlatformModel, g: IommuGroup): string[] {
  const topo = model.topology;
  const seen = new Set<string>();
  const out: string[] = [];
  for (const d of g.devices) {
    for (let p = topo.get(d.bdf); p !== undefined; p = p.upstream) {
      if (seen.has(p.bdf)) continue;
      seen.add(p.bdf);
      for (const r of topo.quirkReasons(p)) out.push(`${p.bdf} ${r}`);
    }
  }
  return out;
}

function controllerWords(
  ic: InterruptControllerDescription,
  desc: PlatformDescription,
): { isolates: boolean; words: string } {
  switch (ic.kind) {
    case 'gicv3-its':
      return ic.isolationQuirk === true
        ? { isolates: false, words: `the GICv3 ITS at ${hex(ic.base)} has a quirk that clears MSI isolation` }
        : {
            isolates: true,
            words: `MSIs go to the GICv3 ITS at ${hex(ic.base)}, which isolates devices by DeviceID`,
          };
    case 'gicv2m':
      return {
        isolates: false,
        words: `MSIs go to the GICv2m frame at ${hex(ic.base)}, which cannot tell devices apart`,
      };
    case 'host-bridge-msi':
      return {
        isolates: false,
        words: "MSIs go to the host bridge's own MSI controller, which does not isolate devices",
      };
    case 'x86-apic': {
      const unit = desc.iommus.find((m) => m.id === ic.remappedBy);
      return unit?.interruptRemapping === true
        ? {
            isolates: true,
            words: `interrupt remapping (${unit.id}, ${unit.driver}) checks which device sent each MSI`,
          }
        : { isolates: false, words: 'no interrupt remapping: any device can write any vector at 0xfee00000' };
    }
  }
}

/** vfio_iommu_type1_attach_group's isolation test, explained. */
function interruptSafety(model: PlatformModel, g: IommuGroup): InterruptSafety {
  const safe = model.iommu.groupHasIsolatedMsi(g);
  const seen = new Set<string>();
  const words: string[] = [];
  for (const d of g.devices) {
    const ic = model.msiParent(d);
    if (ic === undefined || seen.has(ic.id)) continue;
    seen.add(ic.id);
    const w = controllerWords(ic, model.description);
    if (w.isolates === safe) words.push(w.words);
  }
  if (words.length === 0)
    words.push(
      safe
        ? 'the kernel reports isolated MSIs for this group'
        : model.profile.isolatedMsiPerDevice
          ? 'a device of the group has no isolating MSI controller'
          : 'the system has an MSI domain without remapping and the IOMMU has no interrupt remapping',
    );
  const tail = safe
    ? 'VFIO accepts the group with default parameters'
    : 'VFIO_SET_IOMMU fails with EPERM unless vfio_iommu_type1.allow_unsafe_interrupts=1 (the check is made for the group at attach, whatever interrupts its devices will use: a device used with INTx only is refused too)';
  const why = `${words.join('; ')}, so ${tail}`;
  return safe ? { safe, why } : { safe, why, ioctl: 'VFIO_SET_IOMMU', errno: 'EPERM' };
}

/**
 * Runs what VFIO does to a group on a scratch model: drivers unbound, VFIO_GROUP_SET_CONTAINER
 * (iommu_group_claim_dma_owner), VFIO_SET_IOMMU (a paging domain attached), then undoes it.
 */
function probeAssignable(scratch: PlatformModel, groupId: number): Assignability {
  const core = scratch.iommu;
  const g = core.group(groupId);
  if (g === undefined) return { ok: false, why: 'no such group' };
  const advice = vfioBindAdvice(g.devices);
  const unbound: string[] = [];
  for (const d of g.devices) {
    if (d.driver !== 'none' && d.driver !== 'vfio-pci') {
      // Bridges keep pcieport in the kernel (driver_managed_dma); the model is only asked about ownership.
      if (!isPciBridgeClass(d.class)) unbound.push(`${d.bdf} (${d.driver})`);
      core.unbindDriver(d);
    }
  }
  const direct = g.devices.flatMap((d) =>
    core
      .deviceResvRegions(d)
      .filter((r) => r.type === ResvType.Direct)
      .map((r) => ({ bdf: d.bdf, r })),
  );
  const directWords = direct.length
    ? `${direct[0]!.bdf} needs a 1:1 mapping of ${hex(direct[0]!.r.start)}-${hex(resvEnd(direct[0]!.r))} (${direct[0]!.r.origin ?? 'direct region'})`
    : '';
  const owner = {};
  const rc = core.claimDmaOwner(g, owner);
  if (rc !== 0) {
    const why =
      rc === -ERRNO.EINVAL && direct.length
        ? `VFIO_GROUP_SET_CONTAINER fails with EINVAL: ${directWords}; the kernel logs "Firmware has requested this device have a 1:1 IOMMU mapping, rejecting configuring the device without a 1:1 mapping. Contact your platform vendor."`
        : rc === -ERRNO.EPERM && direct.length
          ? `VFIO_GROUP_SET_CONTAINER fails with EPERM: ${directWords}; intel-iommu logs "Device is ineligible for IOMMU domain attach due to platform RMRR requirement. Contact your platform vendor."`
          : `VFIO_GROUP_SET_CONTAINER fails: claiming DMA ownership returns ${errnoName(-rc)}`;
    return { ok: false, why, ioctl: 'VFIO_GROUP_SET_CONTAINER', errno: errnoName(-rc) };
  }
  const dom = core.allocPagingDomain(g.devices[0]!);
  let rc2 = 0;
  if (dom.ok) {
    rc2 = core.attachGroup(dom.value, g);
    if (rc2 === 0) core.detachGroup(dom.value, g);
    core.freeDomain(dom.value);
  } else {
    rc2 = dom.errno;
  }
  core.releaseDmaOwner(g);
  if (rc2 !== 0) {
    const why =
      rc2 === -ERRNO.EPERM && direct.length
        ? `VFIO_SET_IOMMU fails with EPERM: ${directWords}; intel-iommu logs "Device is ineligible for IOMMU domain attach due to platform RMRR requirement. Contact your platform vendor."`
        : `VFIO_SET_IOMMU fails: attaching the VFIO domain returns ${errnoName(-rc2)}`;
    return { ok: false, why, ioctl: 'VFIO_SET_IOMMU', errno: errnoName(-rc2) };
  }
  if (!advice.ok) return advice;
  const steps = unbound.length ? `unbind ${unbound.join(', ')}, ` : '';
  return { ok: true, why: `${steps}${advice.why}: the group can join a VFIO container` };
}
