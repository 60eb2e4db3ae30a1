/**
 * The MSI path of one device given to a VM with VFIO, hop by hop, computed by running the model: bind
 * vfio-pci, attach the group to a fresh VFIO domain (with the MSI cookie when the group has a software
 * MSI window, as vfio_iommu_type1_attach_group does), enable MSI-X vector 0 with an eventfd through the
 * vfio-pci device file, let the device raise it, and follow the write through the IOMMU, the doorbell,
 * the interrupt controller, the Linux irq and the eventfd. The first step that goes wrong is marked.
 *
 * Browser-safe: no Node APIs.
 */
import { errnoName } from '../base/errno.js';
import { formatSize, hex16 } from '../base/u64.js';
import { iommuGetMsiCookie } from '../dma-iommu/cookie.js';
import { attachMsiFabric } from '../irq/fabric.js';
import { ResvType, resvEnd } from '../iommu/resv-region.js';
import type { KernelProfile } from '../kernel/profile.js';
import { buildPlatform } from '../platform/build.js';
import type { PlatformDescription } from '../platform/types.js';
import {
  VFIO_DEVICE_SET_IRQS,
  VFIO_IRQ_SET_ACTION_TRIGGER,
  VFIO_IRQ_SET_DATA_EVENTFD,
  VFIO_PCI_CONFIG_REGION_INDEX,
  VFIO_PCI_MSIX_IRQ_INDEX,
  VFIO_PCI_MSI_IRQ_INDEX,
  encodeIrqSet,
  vfioPciIndexToOffset,
} from '../uapi/vfio-device.js';
import { FdTable } from '../vfio/pci/eventfd.js';
import { openVfioPciDevice } from '../vfio/pci/vfio-pci.js';

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

const EVT = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;

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
  const fabric = attachMsiFabric(core, desc);
  const dev = core.device(bdf);
  const pd = desc.devices.find((d) => d.bdf === bdf);
  if (!dev || !pd) return finish(`${bdf}: no such device on ${desc.name}`, false);
  const group = core.groupOf(dev);
  if (!group) {
    put('vfio', 'fail', `${bdf} is in no IOMMU group: VFIO cannot take it (no IOMMU translates it).`);
    return finish(`VFIO cannot take ${bdf}: it has no IOMMU group`, false);
  }
  const ctl = fabric.controllerOf(bdf);

  // vfio_iommu_type1_attach_group: claim the group, new UNMANAGED domain, interrupt isolation, MSI cookie.
  core.unbindDriver(dev);
  core.bindDriver(dev, 'vfio-pci', true);
  const claim = core.claimDmaOwner(group, { web: bdf });
  if (claim !== 0) {
    put('vfio', 'fail', `claiming DMA ownership of group ${group.id} failed: ${errnoName(-claim)}`);
    return finish(`VFIO refuses group ${group.id}: ${errnoName(-claim)}`, false, { groupId: group.id });
  }
  const isolated = core.groupHasIsolatedMsi(group);
  if (!isolated && !opts.allowUnsafeInterrupts) {
    put(
      'vfio',
      'fail',
      `VFIO_SET_IOMMU fails with EPERM: ${ctl?.label ?? 'the MSI controller'} cannot tell which device wrote an MSI, so an assigned device could forge interrupts of others.`,
      'Only with vfio_iommu_type1.allow_unsafe_interrupts=1 does VFIO accept this group.',
    );
    return finish(
      `unsafe platform: VFIO refuses group ${group.id} because ${ctl?.label ?? 'its MSI controller'} does not isolate MSIs (EPERM)`,
      false,
      { groupId: group.id },
    );
  }
  const alloc = core.allocPagingDomain(dev);
  if (!alloc.ok) {
    put('vfio', 'fail', `allocating a VFIO domain failed: ${errnoName(alloc.errno)}`);
    return finish(`no VFIO domain for ${bdf}: ${errnoName(alloc.errno)}`, false, { groupId: group.id });
  }
  const domain = alloc.value;
  const at = core.attachGroup(domain, group);
  if (at !== 0) {
    put('vfio', 'fail', `attaching group ${group.id} to the VFIO domain failed: ${errnoName(-at)}`);
    return finish(`VFIO cannot attach group ${group.id}: ${errnoName(-at)}`, false, { groupId: group.id });
  }
  const regions = core.groupResvRegions(group);
  const hwMsi = regions.find((r) => r.type === ResvType.Msi);
  const swMsi = regions.find((r) => r.type === ResvType.SwMsi);
  const vfioLines: string[] = [];
  if (swMsi && !hwMsi) {
    if (opts.noCookie) {
      vfioLines.push(
        `No MSI cookie: nothing will map the doorbell in the window ${hex16(swMsi.start)}–${hex16(resvEnd(swMsi))}.`,
      );
    } else {
      const rc = iommuGetMsiCookie(domain, swMsi.start, desc.pageSize);
      vfioLines.push(
        rc === 0
          ? `iommu_get_msi_cookie: the kernel will map the doorbell inside the software MSI window ${hex16(swMsi.start)} (${formatSize(swMsi.length)}).`
          : `iommu_get_msi_cookie failed: ${errnoName(-rc)}`,
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

  // Userspace: open the device, enable bus mastering, VFIO_DEVICE_SET_IRQS MSI-X (or MSI) vector 0 -> eventfd.
  const fds = new FdTable();
  const file = openVfioPciDevice({ core, device: dev, profile, fabric, fds });
  const config = vfioPciIndexToOffset(VFIO_PCI_CONFIG_REGION_INDEX);
  const cmd = new Uint8Array(2);
  file.pread(config + 4n, cmd);
  cmd[0] = cmd[0]! | 0x4;
  file.pwrite(config + 4n, cmd);
  const efd = fds.eventfd();
  const index = pd.msix !== undefined ? VFIO_PCI_MSIX_IRQ_INDEX : VFIO_PCI_MSI_IRQ_INDEX;
  const kind = index === VFIO_PCI_MSIX_IRQ_INDEX ? 'MSI-X' : 'MSI';
  const set = file.ioctl(
    VFIO_DEVICE_SET_IRQS,
    encodeIrqSet({ flags: EVT, index, start: 0, count: 1, fds: [efd] }),
  );
  if (set < 0) {
    put('device', 'fail', `VFIO_DEVICE_SET_IRQS (${kind}, 1 vector, eventfd) failed: ${errnoName(-set)}`);
    return finish(`enabling ${kind} on ${bdf} failed: ${errnoName(-set)}`, false, { groupId: group.id });
  }
  const mapping = [...domain.mappings()].find(
    (m) => swMsi && m.iova >= swMsi.start && m.iova <= resvEnd(swMsi),
  );
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
  const count = fds.eventFd(efd)?.count ?? 0n;
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
