/**
 * Devices bound to an iommufd and the paging HW page tables they attach to (drivers/iommu/iommufd/
 * device.c and hw_pagetable.c, 6.12): bind (cache coherency, MSI isolation, DMA ownership), attach to an
 * IOAS through an automatic domain (reused when compatible) or to a HWPT by id, replace, detach. An
 * attach takes the device's reserved regions (all but DIRECT_RELAXABLE) as reserved IOVA of the IOAS,
 * and a new domain reserves everything outside its aperture.
 */
import { ERRNO } from '../base/errno.js';
import type { Device, IommuDomain, IommuGroup } from '../iommu/api.js';
import { ResvType } from '../iommu/resv-region.js';
import type { IoasObject } from './ioas.js';
import type { IommufdCtx } from './main.js';

/** A paging HWPT (iommufd_hwpt_paging): one domain filled from one IOAS. */
export class HwptPaging {
  readonly kind = 'hwpt-paging';
  readonly devices = new Set<IommufdDevice>();

  constructor(
    readonly id: number,
    readonly ioas: IoasObject,
    readonly domain: IommuDomain,
    /** Made by an attach to the IOAS itself; destroyed when its last device leaves. */
    readonly auto: boolean,
    private readonly ctx: IommufdCtx,
  ) {}

  /** iommufd_hwpt_paging_destroy: the domain leaves the IOAS (aperture, pins) and is freed. */
  destroy(): void {
    this.ioas.iopt.removeDomain(this.domain);
    const i = this.ioas.hwpts.indexOf(this);
    if (i >= 0) this.ioas.hwpts.splice(i, 1);
    this.ctx.env.core.freeDomain(this.domain);
  }
}

/** A device bound to the context (iommufd_device). */
export class IommufdDevice {
  readonly kind = 'device';
  hwpt: HwptPaging | undefined;

  constructor(
    readonly id: number,
    readonly ctx: IommufdCtx,
    readonly dev: Device,
    readonly group: IommuGroup,
  ) {}
}

/** The devices of each group attached through this context, and the HWPT they share. */
const groupAttach = new WeakMap<IommuGroup, { hwpt: HwptPaging; devices: Set<IommufdDevice> }>();

/** iommufd_device_bind: the device object, or -errno. `warn` receives the kernel's dev_warn. */
export function bindDevice(
  ctx: IommufdCtx,
  dev: Device,
  warn: (line: string) => void,
): IommufdDevice | number {
  const { core } = ctx.env;
  if (!core.capable(dev, 'cache-coherency')) return -ERRNO.EINVAL;
  const group = core.groupOf(dev);
  if (!group) return -ERRNO.ENODEV;
  if (!core.groupHasIsolatedMsi(group)) {
    if (!ctx.env.params.allowUnsafeInterrupts) return -ERRNO.EPERM;
    warn(
      `${dev.bdf}: MSI interrupts are not secure, they cannot be isolated by the platform. Check that platform features like interrupt remapping are enabled. Use the "allow_unsafe_interrupts" module parameter to override`,
    );
  }
  // iommu_device_claim_dma_owner: another device of the group bound to this context shares the claim
  if (!ctx.ownsGroup(group)) {
    const rc = core.claimDmaOwner(group, ctx);
    if (rc !== 0) return rc;
  }
  const d = ctx.publish(new IommufdDevice(ctx.allocId(), ctx, dev, group));
  ctx.refs++;
  return d;
}

/** iommufd_device_unbind (the cdev file's release): detach, drop the object and the group claim. */
export function unbindDevice(d: IommufdDevice): void {
  detachDevice(d);
  const { ctx } = d;
  ctx.remove(d.id);
  if (!ctx.ownsGroup(d.group)) ctx.env.core.releaseDmaOwner(d.group);
  ctx.put();
}

/** iopt_table_enforce_dev_resv_regions: the device's regions as reserved IOVA of the IOAS. */
function reserveDeviceRegions(d: IommufdDevice, ioas: IoasObject): number | { swMsi: bigint | undefined } {
  let swMsi: bigint | undefined;
  for (const r of d.ctx.env.core.deviceResvRegions(d.dev)) {
    if (r.type === ResvType.DirectRelaxable) continue;
    if (r.type === ResvType.SwMsi) swMsi = r.start;
    const rc = ioas.iopt.reserve(r.start, r.start + r.length - 1n, d);
    if (rc !== 0) {
      ioas.iopt.removeReserved(d);
      return rc;
    }
  }
  return { swMsi };
}

/** iommufd_hw_pagetable_attach: the device joins an existing HWPT (not a replace). */
function attachToHwpt(d: IommufdDevice, hwpt: HwptPaging): number {
  const ga = groupAttach.get(d.group);
  if (ga && ga.hwpt !== hwpt) return -ERRNO.EINVAL;
  const res = reserveDeviceRegions(d, hwpt.ioas);
  if (typeof res === 'number') return res;
  if (!ga) {
    if (res.swMsi !== undefined) d.ctx.msiCookie(hwpt.domain, res.swMsi);
    const rc = d.ctx.env.core.attachGroup(hwpt.domain, d.group);
    if (rc !== 0) {
      hwpt.ioas.iopt.removeReserved(d);
      return rc;
    }
    groupAttach.set(d.group, { hwpt, devices: new Set([d]) });
  } else ga.devices.add(d);
  hwpt.devices.add(d);
  d.hwpt = hwpt;
  return 0;
}

/** A new automatic HWPT on `ioas` (iommufd_hwpt_paging_alloc); attached now unless `replace` does it. */
function newAutoHwpt(d: IommufdDevice, ioas: IoasObject, immediateAttach: boolean): HwptPaging | number {
  const { ctx } = d;
  const id = ctx.allocId();
  const dom = ctx.env.core.allocPagingDomain(d.dev);
  if (!dom.ok) return -dom.errno;
  const hwpt = new HwptPaging(id, ioas, dom.value, true, ctx);
  ctx.reserveId(id);
  const fail = (rc: number): number => {
    ctx.remove(id);
    ctx.env.core.freeDomain(dom.value);
    return rc;
  };
  if (immediateAttach) {
    const rc = attachToHwpt(d, hwpt);
    if (rc !== 0) return fail(rc);
  }
  const rc = ioas.iopt.addDomain(dom.value);
  if (rc !== 0) {
    if (immediateAttach) detachDevice(d, false);
    return fail(rc);
  }
  ioas.hwpts.push(hwpt);
  ctx.publish(hwpt);
  return hwpt;
}

/**
 * VFIO_DEVICE_ATTACH_IOMMUFD_PT: attach (or, when attached, replace) to `ptId`, an IOAS (an automatic
 * domain) or a paging HWPT. The HWPT id, or -errno.
 */
export function attachDevice(d: IommufdDevice, ptId: number): number {
  const { ctx } = d;
  const pt = ctx.any(ptId);
  if (!pt) return -ERRNO.ENOENT;
  if (pt.kind === 'hwpt-paging') {
    const rc = d.hwpt ? replaceHwpt(d, pt) : attachToHwpt(d, pt);
    return rc !== 0 ? rc : pt.id;
  }
  if (pt.kind !== 'ioas') return -ERRNO.EINVAL;
  // iommufd_device_auto_get_domain: the IOAS's automatic HWPTs in creation order, EINVAL = incompatible
  for (const h of [...pt.hwpts]) {
    if (!h.auto) continue;
    const rc = d.hwpt ? replaceHwpt(d, h) : attachToHwpt(d, h);
    if (rc === 0) return h.id;
    if (rc !== -ERRNO.EINVAL) return rc;
  }
  if (!d.hwpt) {
    const h = newAutoHwpt(d, pt, true);
    return typeof h === 'number' ? h : h.id;
  }
  const h = newAutoHwpt(d, pt, false);
  if (typeof h === 'number') return h;
  const rc = replaceHwpt(d, h);
  if (rc !== 0) {
    ctx.remove(h.id);
    h.destroy();
    return rc;
  }
  return h.id;
}

/** iommufd_device_do_replace: the group moves to `hwpt`; the old automatic HWPT goes when unused. */
function replaceHwpt(d: IommufdDevice, hwpt: HwptPaging): number {
  const old = d.hwpt!;
  if (old === hwpt) return 0;
  const { core } = d.ctx.env;
  const ga = groupAttach.get(d.group)!;
  if (hwpt.ioas !== old.ioas) {
    for (const x of ga.devices) {
      const res = reserveDeviceRegions(x, hwpt.ioas);
      if (typeof res === 'number') {
        for (const y of ga.devices) hwpt.ioas.iopt.removeReserved(y);
        return res;
      }
    }
  }
  core.detachGroup(old.domain, d.group);
  const rc = core.attachGroup(hwpt.domain, d.group);
  if (rc !== 0) {
    core.attachGroup(old.domain, d.group);
    if (hwpt.ioas !== old.ioas) for (const y of ga.devices) hwpt.ioas.iopt.removeReserved(y);
    return rc;
  }
  if (hwpt.ioas !== old.ioas) for (const y of ga.devices) old.ioas.iopt.removeReserved(y);
  for (const y of ga.devices) {
    old.devices.delete(y);
    hwpt.devices.add(y);
    y.hwpt = hwpt;
  }
  ga.hwpt = hwpt;
  if (old.auto && old.devices.size === 0) {
    d.ctx.remove(old.id);
    old.destroy();
  }
  return 0;
}

/** VFIO_DEVICE_DETACH_IOMMUFD_PT (and unbind): nothing when not attached. */
export function detachDevice(d: IommufdDevice, dropAuto = true): void {
  const hwpt = d.hwpt;
  if (!hwpt) return;
  const ga = groupAttach.get(d.group)!;
  ga.devices.delete(d);
  if (ga.devices.size === 0) {
    d.ctx.env.core.detachGroup(hwpt.domain, d.group);
    groupAttach.delete(d.group);
  }
  hwpt.ioas.iopt.removeReserved(d);
  hwpt.devices.delete(d);
  d.hwpt = undefined;
  if (dropAuto && hwpt.auto && hwpt.devices.size === 0) {
    d.ctx.remove(hwpt.id);
    hwpt.destroy();
  }
}
