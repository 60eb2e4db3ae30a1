/**
 * The stories `iovamap demo` tells, each run on the model:
 *  - assignStory: a host assigns a device to a guest: reserved regions, attach, usable IOVA ranges,
 *    guest RAM mapped, MSI-X enabled, the doorbell mapped behind userspace's back (ARM SMMU) or the
 *    window bypassed (x86), one interrupt followed from the device to the eventfd.
 *  - forgingStory: on an MSI controller without isolation (GICv2m) VFIO refuses the group unless
 *    allow_unsafe_interrupts is set; then one assigned device raises another device's interrupt, which
 *    the GICv3 ITS (DeviceID) would have dropped.
 */
import { errnoName } from '../base/errno.js';
import { formatSize, hex, hex16 } from '../base/u64.js';
import { msiFabricOf, type MsiFabric, type MsiTrace } from '../irq/fabric.js';
import type { Device, IommuCore } from '../iommu/api.js';
import { ResvType, resvEnd, resvTypeName } from '../iommu/resv-region.js';
import { type KernelVersion, kernelProfile } from '../kernel/profile.js';
import { loadPreset } from '../platform/presets.js';
import type { PlatformDescription } from '../platform/types.js';
import { bootPreset } from '../scenario/platforms.js';
import { findVmm } from '../vmm/registry.js';
import { type Story, StoryBuilder } from './story.js';
import {
  attachDevice,
  enableInterrupts,
  mapGuestRange,
  queryInfo,
  rcText,
  readEventfd,
} from './vfio-session.js';

export interface AssignOptions {
  readonly preset: string;
  readonly kernel: KernelVersion;
  /** Device to assign; default: the first MSI-capable endpoint with an IOMMU group. */
  readonly bdf?: string;
  /** VMM whose guest layout is mapped (`qemu-virt`, `qemu-q35`, ...). */
  readonly vmm: string;
  readonly memory: bigint;
  /** MSI-X vectors to enable. */
  readonly vectors: number;
  readonly allowUnsafeInterrupts?: boolean;
}

/** MSI-capable endpoints (no bridges) that sit in an IOMMU group, in BDF order. */
export function assignableMsiDevices(desc: PlatformDescription, core: IommuCore): Device[] {
  return desc.devices
    .filter((d) => (d.msix !== undefined || d.msi !== undefined) && d.bridge === undefined)
    .map((d) => core.device(d.bdf))
    .filter((d): d is Device => d !== undefined && core.groupOf(d) !== undefined);
}

function controllerLine(desc: PlatformDescription): string {
  const c = desc.interruptControllers[0];
  if (c === undefined) return 'no MSI controller';
  const names: Record<string, string> = {
    'x86-apic': 'x86 local APIC MSI window',
    gicv2m: 'GICv2m frame',
    'gicv3-its': 'GICv3 ITS',
    'host-bridge-msi': 'MSI controller inside the host bridge',
  };
  return `${names[c.kind] ?? c.kind} at ${hex(c.base)}`;
}

function traceLines(t: MsiTrace): string[] {
  const out = [`device ${t.bdf} writes data ${hex(t.data)} to bus address ${hex(t.addr)}`];
  const io = t.iommu;
  if (io.kind === 'translated') out.push(`IOMMU translates IOVA ${hex(t.addr)} -> PA ${hex(io.paddr)}`);
  else if (io.kind === 'bypass') out.push(`IOMMU lets it through untranslated: ${io.why}`);
  else if (io.kind === 'fault') out.push(`IOMMU fault: ${io.why}`);
  else out.push(`caught by ${io.by} before the IOMMU`);
  out.push(`${t.outcome}: ${t.why}`);
  return out;
}

/** The whole assignment of one device, told step by step. */
export function assignStory(o: AssignOptions): Story {
  const profile = kernelProfile(o.kernel);
  const desc = loadPreset(o.preset);
  const core = bootPreset(o.preset, profile);
  const fabric = msiFabricOf(core) as MsiFabric;
  const s = new StoryBuilder(`${desc.description} — Linux ${profile.version}`);
  const dev = o.bdf !== undefined ? core.device(o.bdf) : assignableMsiDevices(desc, core)[0];
  if (dev === undefined) {
    s.step('Pick a device', 'fail', [`no MSI-capable device with an IOMMU group on ${o.preset}`]);
    return s.done(false, 'nothing to assign');
  }
  const iommuDrivers = [...new Set(desc.iommus.map((i) => i.driver))].join(', ');
  s.step('The host', 'info', [
    `${desc.arch} host, IOMMU: ${iommuDrivers}; MSIs go to the ${controllerLine(desc)}.`,
    `Assigning ${dev.bdf} (${desc.devices.find((d) => d.bdf === dev.bdf)?.name ?? 'PCI device'}), driver ${dev.driver}.`,
  ]);

  // 1. What the IOMMU core shows in sysfs for the device's group.
  const group = core.groupOf(dev)!;
  const regions = core.groupResvRegions(group);
  s.step(`Reserved regions of IOMMU group ${group.id}`, 'info', [
    `/sys/kernel/iommu_groups/${group.id}/reserved_regions:`,
    ...core
      .reservedRegionsText(group)
      .trimEnd()
      .split('\n')
      .map((line, i) => {
        const r = regions[i];
        return `  ${line}${r ? `    <- ${resvTypeName(r.type)}${r.origin ? `: ${r.origin}` : ''}` : ''}`;
      }),
  ]);

  // 2. VFIO attach: the kernel's order of checks, the isolation check last.
  const params = o.allowUnsafeInterrupts ? { allowUnsafeInterrupts: true } : {};
  const att = attachDevice(core, profile, dev, params);
  if (typeof att === 'string') {
    s.step('Attach to VFIO', 'fail', [att]);
    return s.done(false, att);
  }
  const callLines = att.calls.map((c) => `${c.call} = ${rcText(c.rc)}`);
  if (att.rc < 0) {
    s.step('Attach the group to a VFIO container', 'refused', [
      ...callLines,
      ...att.klog.map((l) => `kernel: ${l}`),
      `${controllerLine(desc)} cannot tell which device wrote an MSI, so VFIO refuses (${errnoName(-att.rc)}).`,
    ]);
    return s.done(true, `VFIO refused group ${group.id}: its interrupts are not isolated`);
  }
  const isolated = core.groupHasIsolatedMsi(group);
  s.step('Attach the group to a VFIO container', 'ok', [
    ...callLines,
    isolated
      ? 'MSIs are isolated on this platform, so no module parameter is needed.'
      : 'MSIs are NOT isolated: accepted only because allow_unsafe_interrupts=1.',
  ]);

  // 3. What userspace learns: the usable IOVA ranges.
  const info = queryInfo(att.sys, att.containerFd);
  s.step('VFIO_IOMMU_GET_INFO: where the VMM may map', info.rc === 0 ? 'ok' : 'fail', [
    `iova_pgsizes ${hex(info.pgsizes)}; the capability chain needs argsz ${info.argszNeeded}`,
    ...info.ranges.map(
      (r) => `usable IOVA ${hex16(r.start)}-${hex16(r.end)} (${formatSize(r.end - r.start + 1n)})`,
    ),
  ]);

  // 4. The VMM maps guest RAM at IOVA = guest-physical address.
  const found = findVmm(o.vmm, { arch: desc.arch });
  const mapLines: string[] = [];
  let mapped = 0;
  if (found.ok) {
    const lay = found.model.layout({ memory: o.memory, options: {} });
    if (lay.ok) {
      mapLines.push(
        `${found.model.label} with ${formatSize(o.memory)}: ${found.model.commandLine(lay.layout)}`,
      );
      for (const r of lay.layout.ranges.filter((x) => x.kind === 'ram')) {
        const m = mapGuestRange(att.sys, att.containerFd, r.name, r.start, r.end - r.start + 1n);
        mapLines.push(`MAP_DMA ${r.name} iova ${hex(m.iova)} size ${formatSize(m.size)} = ${rcText(m.rc)}`);
        if (m.rc === 0) mapped++;
      }
    } else mapLines.push(`no layout: ${lay.reason}`);
  } else mapLines.push(found.reason);
  // What a VMM that put RAM on the MSI window would get (OpenVMM puts RAM at 0 on arm64).
  const win = regions.find((r) => r.type === ResvType.SwMsi || r.type === ResvType.Msi);
  if (win !== undefined) {
    const m = mapGuestRange(att.sys, att.containerFd, 'ram-on-msi-window', win.start, 0x1000n);
    mapLines.push(
      `MAP_DMA at the MSI window ${hex(win.start)} = ${rcText(m.rc)}: the window is not in the usable ranges`,
    );
  }
  s.step('Map guest RAM', mapped > 0 ? 'ok' : 'fail', mapLines);

  // 5. MSI-X: the kernel maps the doorbell behind userspace's back (software MSI window) or not at all.
  const ses = enableInterrupts(att.sys, att.groupFd, dev, o.vectors);
  if (typeof ses === 'string' || ses.rc !== 0) {
    s.step('Enable interrupts', 'fail', [
      typeof ses === 'string' ? ses : `VFIO_DEVICE_SET_IRQS = ${rcText(ses.rc)}`,
    ]);
    return s.done(false, 'interrupts could not be enabled');
  }
  const pci = fabric.pci(dev.bdf)!;
  const entries = Array.from({ length: o.vectors }, (_, i) =>
    ses.kind === 'MSI-X' ? pci.model.msixEntry(i) : { ...pci.model.msiMessage(), ctrl: 0 },
  );
  const domain = group.domain;
  const doorbellMaps = domain
    ? [...domain.mappings()].filter((m) => win !== undefined && m.iova >= win.start && m.iova <= resvEnd(win))
    : [];
  const msiLines = [
    `VFIO_DEVICE_SET_IRQS ${ses.kind} ${o.vectors} vector(s) with eventfds = ${rcText(ses.rc)}`,
    ...entries.map(
      (e, i) => `vector ${i}: the device was programmed with address ${hex(e.addr)} data ${hex(e.data)}`,
    ),
  ];
  if (doorbellMaps.length > 0) {
    for (const m of doorbellMaps) {
      msiLines.push(
        `the kernel mapped IOVA ${hex(m.iova)} -> doorbell PA ${hex(m.paddr)} (${formatSize(m.size)}, prot ${hex(m.prot)} = WRITE|NOEXEC|MMIO) in the VFIO domain: userspace never asked for it`,
      );
    }
    msiLines.push('every vector shares that page: the address is the window base plus the doorbell offset');
  } else if (win?.type === ResvType.Msi) {
    msiLines.push(
      `no mapping was needed: ${hex(win.start)}-${hex(resvEnd(win))} is a hardware MSI window the IOMMU does not translate`,
    );
  }
  s.step(`Enable ${ses.kind}`, 'ok', msiLines);

  // 6. The device raises vector 0.
  const t = fabric.raise(dev.bdf, 0);
  const got = readEventfd(ses.file, ses.eventfds[0]!);
  s.step('The device raises vector 0', t.outcome === 'delivered' && got > 0n ? 'ok' : 'fail', [
    ...traceLines(t),
    `eventfd ${ses.eventfds[0]} read: ${got}`,
  ]);
  const ok = t.outcome === 'delivered' && got > 0n;
  return s.done(
    ok,
    ok
      ? doorbellMaps.length > 0
        ? `the interrupt reached the eventfd through the doorbell page the kernel mapped at ${hex(doorbellMaps[0]!.iova)}`
        : 'the interrupt reached the eventfd without any IOMMU mapping (hardware MSI window)'
      : `the interrupt did not arrive: ${t.why}`,
  );
}

export interface ForgingOptions {
  readonly preset: string;
  readonly kernel: KernelVersion;
}

/**
 * Two devices of an unsafe platform assigned with allow_unsafe_interrupts=1: the attacker writes the
 * victim's MSI message from its own requester ID.
 */
export function forgingStory(o: ForgingOptions): Story {
  const profile = kernelProfile(o.kernel);
  const desc = loadPreset(o.preset);
  const core = bootPreset(o.preset, profile);
  const fabric = msiFabricOf(core) as MsiFabric;
  const s = new StoryBuilder(`Forging an interrupt: ${desc.description} — Linux ${profile.version}`);
  const devs = assignableMsiDevices(desc, core).filter(
    (d, i, all) => all.findIndex((x) => core.groupOf(x) === core.groupOf(d)) === i,
  );
  if (devs.length < 2) {
    s.step('Pick two devices', 'fail', [
      `${o.preset} has fewer than two MSI-capable devices in separate groups`,
    ]);
    return s.done(false, 'needs two devices');
  }
  const [victim, attacker] = [devs[0]!, devs[1]!];
  const safe = attachDevice(core, profile, victim);
  if (typeof safe === 'string') {
    s.step('Attach', 'fail', [safe]);
    return s.done(false, safe);
  }
  const refused = safe.rc < 0;
  s.step('Attach with default module parameters', refused ? 'refused' : 'ok', [
    ...safe.calls.map((c) => `${c.call} = ${rcText(c.rc)}`),
    ...safe.klog.map((l) => `kernel: ${l}`),
  ]);
  // The VMM exits (its fds close); where VFIO refused, the operator sets allow_unsafe_interrupts=1.
  safe.sys.close(safe.groupFd);
  safe.sys.close(safe.containerFd);
  const params = refused ? { allowUnsafeInterrupts: true } : {};
  const how = refused ? 'with allow_unsafe_interrupts=1' : 'with default module parameters';
  const v = attachDevice(core, profile, victim, params);
  const a = attachDevice(core, profile, attacker, params);
  if (typeof v === 'string' || typeof a === 'string' || v.rc < 0 || a.rc < 0) {
    s.step(`Attach both devices ${how}`, 'fail', [
      typeof v === 'string' ? v : `victim: SET_IOMMU = ${rcText(v.rc)}`,
      typeof a === 'string' ? a : `attacker: SET_IOMMU = ${rcText(a.rc)}`,
    ]);
    return s.done(false, 'could not assign both devices');
  }
  const vs = enableInterrupts(v.sys, v.groupFd, victim, 1);
  const as = enableInterrupts(a.sys, a.groupFd, attacker, 1);
  if (typeof vs === 'string' || typeof as === 'string' || vs.rc !== 0 || as.rc !== 0) {
    s.step('Enable MSI-X', 'fail', ['VFIO_DEVICE_SET_IRQS failed']);
    return s.done(false, 'interrupts could not be enabled');
  }
  const vmsg =
    vs.kind === 'MSI-X'
      ? fabric.pci(victim.bdf)!.model.msixEntry(0)
      : fabric.pci(victim.bdf)!.model.msiMessage();
  s.step(`Two devices assigned ${how}`, 'ok', [
    `victim ${victim.bdf} (group ${v.group.id}) vector 0: address ${hex(vmsg.addr)} data ${hex(vmsg.data)}`,
    `attacker ${attacker.bdf} (group ${a.group.id}) has its own MSI-X vector 0 and the same doorbell page mapped`,
  ]);
  const t = fabric.dmaWrite(attacker.bdf, vmsg.addr, vmsg.data);
  const victimGot = readEventfd(vs.file, vs.eventfds[0]!);
  const attackerGot = readEventfd(as.file, as.eventfds[0]!);
  const forged = victimGot > 0n;
  s.step(`${attacker.bdf} writes the victim's message (data ${hex(vmsg.data)})`, forged ? 'fail' : 'ok', [
    ...traceLines(t),
    `victim's eventfd: ${victimGot}; attacker's eventfd: ${attackerGot}`,
    forged
      ? `forged: the controller cannot see who wrote, so one guest can raise another guest's interrupt`
      : `not forged: the controller identifies the writer and ignores what it does not own`,
  ]);
  return s.done(
    true,
    forged
      ? 'this is why VFIO refuses such platforms unless allow_unsafe_interrupts=1'
      : 'this platform isolates MSIs, which is why VFIO accepts it by default',
  );
}
