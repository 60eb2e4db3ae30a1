/**
 * The MSI path of one device given to a VM with VFIO, hop by hop, computed by running the model through
 * the VFIO byte layer: bind vfio-pci, open the container and the group, VFIO_GROUP_SET_CONTAINER,
 * VFIO_SET_IOMMU(TYPE1v2) (vfio_iommu_type1_attach_group claims the group, allocates the domain, checks
 * interrupt isolation and takes the MSI cookie), open the device, VFIO_DEVICE_SET_IRQS vector 0 with an
 * eventfd, let the device raise it, and follow the write through the IOMMU, the doorbell, the interrupt
 * controller, the Linux irq and the eventfd. Every errno comes from the VFIO model; the first step that
 * goes wrong is marked.
 *
 * Browser-safe: no Node APIs.
 */
import { ERRNO, errnoName } from '../base/errno.js';
import { formatSize, hex16 } from '../base/u64.js';
import { attachMsiFabric, msiCookieFor, msiFabricOf } from '../irq/fabric.js';
import { ResvType, resvEnd } from '../iommu/resv-region.js';
import type { KernelProfile } from '../kernel/profile.js';
import { AddressSpace } from '../mm/address-space.js';
import { buildPlatform } from '../platform/build.js';
import type { PlatformDescription } from '../platform/types.js';
import { VfioSystem } from '../vfio/system.js';
import { attachDevice, enableInterrupts, readEventfd } from './vfio-session.js';

export type MsiStepId = 'device' | 'vfio' | 'iommu' | 'doorbell' | 'controller' | 'vector' | 'eventfd';
export type MsiStepStatus = 'ok' | 'warn' | 'fail' | 'skipped';

export interface MsiStep {
  readonly id: MsiStepId;
  readonly title: string;
  readonly status: MsiStepStatus;
  /** Plain-language lines, first one shown in the box. */
  readonly detail: readonly string[];
}

export interface MsiPathOptions {
  /** vfio_iommu_type1 allow_unsafe_interrupts. */
  readonly allowUnsafeInterrupts?: boolean;
  /** Leave out the MSI cookie (what happens when nobody maps the doorbell, e.g. iommufd before 6.14). */
  readonly noCookie?: boolean;
}

export interface MsiPath {
  readonly bdf: string;
  readonly steps: readonly MsiStep[];
  /** One sentence: delivered, or where and why it failed. */
  readonly verdict: string;
  readonly ok: boolean;
  /** The doorbell mapping the kernel made in the VFIO domain, for drawing on the lane. */
  readonly doorbellMapping?: { readonly iova: bigint; readonly paddr: bigint; readonly size: bigint };
  readonly groupId?: number;
  /** Kernel log lines printed while VFIO attached the group (e.g. the allow_unsafe_interrupts hint). */
  readonly klog?: readonly string[];
}

const STEP_TITLES: Record<MsiStepId, string> = {
  device: 'device writes',
  vfio: 'VFIO attach',
  iommu: 'IOMMU',
  doorbell: 'doorbell',
  controller: 'interrupt controller',
  vector: 'Linux irq',
  eventfd: 'eventfd',
};
const ORDER: readonly MsiStepId[] = [
  'vfio',
  'device',
  'iommu',
  'doorbell',
  'controller',
  'vector',
  'eventfd',
];

/** Devices of a platform that can raise MSIs and sit in an IOMMU group (candidates for the diagram). */
export function msiCapableDevices(desc: PlatformDescription): string[] {
  return desc.devices
    .filter((d) => (d.msix !== undefined || d.msi !== undefined) && !d.bridge)
    .map((d) => d.bdf);
}

/** Runs the model and returns the hop-by-hop path of `bdf`'s first MSI(-X) vector. */
export function msiPath(
  desc: PlatformDescription,
  profile: KernelProfile,
  bdf: string,
  opts: MsiPathOptions = {},
): MsiPath {
  const steps = new Map<MsiStepId, MsiStep>();
  const put = (id: MsiStepId, status: MsiStepStatus, ...detail: string[]) =>
    steps.set(id, { id, title: STEP_TITLES[id], status, detail });
  const finish = (verdict: string, ok: boolean, extra: Partial<MsiPath> = {}): MsiPath => ({
    bdf,
    steps: ORDER.map(
      (id) => steps.get(id) ?? { id, title: STEP_TITLES[id], status: 'skipped', detail: ['not reached'] },
    ),
    verdict,
    ok,
    ...extra,
  });

  const model = buildPlatform(desc, profile);
  const core = model.iommu;
  attachMsiFabric(core, desc);
  const fabric = msiFabricOf(core)!;
  const dev = core.device(bdf);
  const pd = desc.devices.find((d) => d.bdf === bdf);
  if (!dev || !pd) return finish(`${bdf}: no such device on ${desc.name}`, false);
  if (!core.groupOf(dev)) {
    put('vfio', 'fail', `${bdf} is in no IOMMU group: VFIO cannot take it (no IOMMU translates it).`);
    return finish(`VFIO cannot take ${bdf}: it has no IOMMU group`, false);
  }
  const ctl = fabric.controllerOf(bdf);

  // vfio_iommu_type1_attach_group calls iommu_get_msi_cookie for a software MSI window; record what it
  // answered. noCookie: the call succeeds without creating a cookie, so nothing ever maps the doorbell.
  const realCookie = msiCookieFor(core);
  let cookie: { base: bigint; rc: number } | undefined;
  const sys = new VfioSystem({
    core,
    profile,
    params: { allowUnsafeInterrupts: opts.allowUnsafeInterrupts === true },
    mm: new AddressSpace(),
    getMsiCookie: (domain, base) => {
      const rc = opts.noCookie ? 0 : realCookie(domain, base);
      cookie = { base, rc };
      return rc;
    },
  });
  const att = attachDevice(core, profile, dev, {}, sys);
  if (typeof att === 'string') {
    put('vfio', 'fail', att);
    return finish(`VFIO cannot take ${bdf}: ${att}`, false);
  }
  const group = att.group;
  if (att.rc !== 0) {
    const failed = att.calls.find((c) => c.rc < 0) ?? att.calls[att.calls.length - 1]!;
    const err = errnoName(-att.rc);
    const unsafe = failed.call.startsWith('VFIO_SET_IOMMU') && att.rc === -ERRNO.EPERM;
    if (unsafe) {
      put(
        'vfio',
        'fail',
        `${failed.call} fails with ${err}: ${ctl?.label ?? 'the MSI controller'} cannot tell which device wrote an MSI, so an assigned device could forge interrupts of others.`,
        ...att.klog.map((l) => `kernel log: ${l}`),
        'Only with vfio_iommu_type1.allow_unsafe_interrupts=1 does VFIO accept this group.',
      );
      return finish(
        `unsafe platform: VFIO refuses group ${group.id} because ${ctl?.label ?? 'its MSI controller'} does not isolate MSIs (${err})`,
        false,
        { groupId: group.id, klog: att.klog },
      );
    }
    put('vfio', 'fail', `${failed.call} failed: ${err}`, ...att.klog.map((l) => `kernel log: ${l}`));
    return finish(`VFIO cannot attach group ${group.id}: ${failed.call} ${err}`, false, {
      groupId: group.id,
      klog: att.klog,
    });
  }
  const isolated = core.groupHasIsolatedMsi(group);
  const regions = core.groupResvRegions(group);
  const hwMsi = regions.find((r) => r.type === ResvType.Msi);
  const swMsi = regions.find((r) => r.type === ResvType.SwMsi);
  const vfioLines: string[] = [];
  if (swMsi && !hwMsi) {
    if (opts.noCookie) {
      vfioLines.push(
        `No MSI cookie: nothing will map the doorbell in the window ${hex16(swMsi.start)}–${hex16(resvEnd(swMsi))}.`,
      );
    } else if (cookie !== undefined) {
      vfioLines.push(
        cookie.rc === 0
          ? `iommu_get_msi_cookie: the kernel will map the doorbell inside the software MSI window ${hex16(cookie.base)} (${formatSize(swMsi.length)}).`
          : `iommu_get_msi_cookie failed: ${errnoName(-cookie.rc)}`,
      );
    }
  } else if (hwMsi) {
    vfioLines.push(
      `The hardware MSI window ${hex16(hwMsi.start)}–${hex16(resvEnd(hwMsi))} bypasses translation: no cookie needed.`,
    );
  }
  put(
    'vfio',
    isolated ? 'ok' : 'warn',
    `group ${group.id} attached to a new VFIO domain${isolated ? '; MSIs are isolated' : ' — allowed only by allow_unsafe_interrupts: MSIs are NOT isolated'}.`,
    ...vfioLines,
  );

  // Userspace: open the device, enable bus mastering, VFIO_DEVICE_SET_IRQS vector 0 -> eventfd.
  const ses = enableInterrupts(sys, att.groupFd, dev, 1);
  if (typeof ses === 'string') {
    put('device', 'fail', ses);
    return finish(`opening ${bdf} failed: ${ses}`, false, { groupId: group.id });
  }
  const kind = ses.kind;
  if (ses.rc < 0) {
    put('device', 'fail', `VFIO_DEVICE_SET_IRQS (${kind}, 1 vector, eventfd) failed: ${errnoName(-ses.rc)}`);
    return finish(`enabling ${kind} on ${bdf} failed: ${errnoName(-ses.rc)}`, false, { groupId: group.id });
  }
  const domain = group.domain;
  const mapping =
    domain && swMsi
      ? [...domain.mappings()].find((m) => m.iova >= swMsi.start && m.iova <= resvEnd(swMsi))
      : undefined;
  const trace = fabric.raise(bdf, 0);
  if (trace.outcome === 'no-write') {
    put('device', 'fail', trace.why);
    return finish(`${bdf} wrote nothing: ${trace.why}`, false, { groupId: group.id });
  }
  put(
    'device',
    'ok',
    `${bdf} raises ${kind} vector 0: writes 0x${trace.data.toString(16)} to IOVA ${hex16(trace.addr)}.`,
    `The address was programmed by the kernel (${kind} table entry), composed from the ${ctl?.label ?? 'controller'} doorbell${mapping ? ' as remapped by the IOMMU cookie' : ''}.`,
  );
  const extra: Partial<MsiPath> = {
    groupId: group.id,
    ...(mapping ? { doorbellMapping: { iova: mapping.iova, paddr: mapping.paddr, size: mapping.size } } : {}),
  };
  const t = trace.iommu;
  if (t.kind === 'fault') {
    put(
      'iommu',
      'fail',
      `IOMMU fault: ${t.why}`,
      swMsi && opts.noCookie
        ? 'No MSI cookie: the doorbell page was never mapped in the software MSI window, so the write has nowhere to go.'
        : '',
    );
    return finish(`the IOMMU faults on ${hex16(trace.addr)}: ${t.why}`, false, extra);
  }
  if (t.kind === 'intercepted') {
    put(
      'iommu',
      'skipped',
      `the write never reaches the IOMMU: ${t.by} inside the host bridge catches it first.`,
    );
  } else if (t.kind === 'bypass') {
    put(
      'iommu',
      'ok',
      `bypass: ${hex16(trace.addr)} is in the hardware MSI window, not translated (${t.why}).`,
    );
  } else {
    put(
      'iommu',
      'ok',
      `translates IOVA ${hex16(trace.addr)} → PA ${hex16(t.paddr)} (the doorbell page the kernel mapped).`,
    );
  }
  const pa = t.kind === 'translated' || t.kind === 'bypass' ? t.paddr : trace.addr;
  if (trace.outcome === 'memory-write') {
    put('doorbell', 'fail', trace.why);
    return finish(`no doorbell at ${hex16(pa)}: the MSI becomes an ordinary memory write`, false, extra);
  }
  put('doorbell', 'ok', `${hex16(pa)} is the doorbell of ${trace.controller ?? 'the controller'}.`);
  if (trace.outcome === 'dropped') {
    put('controller', 'fail', trace.why);
    return finish(`${trace.controller ?? 'the controller'} drops the MSI: ${trace.why}`, false, extra);
  }
  put('controller', isolated ? 'ok' : 'warn', trace.why);
  put('vector', 'ok', `Linux irq ${trace.virq ?? '?'} fires; vfio-pci's handler signals the eventfd.`);
  const efd = ses.eventfds[0]!;
  const count = readEventfd(ses.file, efd);
  if (count === 0n) {
    put('eventfd', 'fail', 'the eventfd was not signalled');
    return finish('the interrupt fired but the eventfd stayed at 0', false, extra);
  }
  put('eventfd', 'ok', `eventfd ${efd} counter = ${count}: the VMM (or KVM irqfd) sees the interrupt.`);
  return finish(
    `delivered: ${bdf} → ${t.kind === 'translated' ? `IOMMU (IOVA ${hex16(trace.addr)} → PA ${hex16(pa)})` : t.kind === 'bypass' ? 'IOMMU bypass' : 'host bridge'} → ${trace.controller} → irq ${trace.virq} → eventfd${isolated ? '' : ' (but MSIs are not isolated)'}`,
    true,
    extra,
  );
}
