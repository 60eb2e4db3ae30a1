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
import { getU32, getU64, putU32, putU64 } from '../uapi/vfio-type1.js';
import type { IoasObject } from './ioas.js';
import type { IommufdCtx } from './main.js';

/** struct iommu_hwpt_alloc flags. */
const HWPT_NEST_PARENT = 1 << 0;
const HWPT_DIRTY_TRACKING = 1 << 1;
const HWPT_FAULT_ID_VALID = 1 << 2;

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

/**
 * IOMMU_HWPT_ALLOC (iommufd_hwpt_alloc): a paging HWPT on an IOAS for a bound device, kept (with its
 * aperture reserved and the IOAS's mappings pinned into it) until IOMMU_DESTROY. No modelled IOMMU has
 * dirty tracking or nesting, so those flags, user data and nested HWPTs are refused as the kernel does
 * on such hardware.
 */
export function hwptAlloc(ctx: IommufdCtx, k: Uint8Array, respond: () => number): number {
  if (getU32(k, 20) !== 0) return -ERRNO.EOPNOTSUPP;
  const dataType = getU32(k, 24);
  const dataLen = getU32(k, 28);
  if ((dataType === 0 && dataLen !== 0) || (dataType !== 0 && dataLen === 0)) return -ERRNO.EINVAL;
  const idev = ctx.get(getU32(k, 8), 'device');
  if (!idev) return -ERRNO.ENOENT;
  const pt = ctx.any(getU32(k, 12));
  if (!pt) return -ERRNO.EINVAL;
  const flags = getU32(k, 4);
  const { core } = ctx.env;
  if (pt.kind === 'ioas') {
    // iommufd_hwpt_paging_alloc
    if ((flags !== 0 || dataLen !== 0) && !core.domainAllocUser(idev.dev)) return -ERRNO.EOPNOTSUPP;
    if ((flags & ~(HWPT_NEST_PARENT | HWPT_DIRTY_TRACKING)) !== 0) return -ERRNO.EOPNOTSUPP;
    // device_iommu_capable(IOMMU_CAP_DIRTY_TRACKING): none of the modelled IOMMUs
    if (flags & HWPT_DIRTY_TRACKING) return -ERRNO.EOPNOTSUPP;
    // domain_alloc_user: a nesting parent needs nesting support, user data a parent (neither here)
    if (flags & HWPT_NEST_PARENT || dataLen !== 0) return -ERRNO.EOPNOTSUPP;
    const id = ctx.allocId();
    const dom = core.allocPagingDomain(idev.dev);
    if (!dom.ok) return -dom.errno;
    ctx.reserveId(id);
    const rc = pt.iopt.addDomain(dom.value);
    if (rc !== 0) {
      ctx.remove(id);
      core.freeDomain(dom.value);
      return rc;
    }
    const hwpt = new HwptPaging(id, pt, dom.value, false, ctx);
    pt.hwpts.push(hwpt);
    putU32(k, 16, id);
    respond();
    ctx.publish(hwpt);
    return 0;
  }
  if (pt.kind === 'hwpt-paging') {
    // iommufd_hwpt_nested_alloc: needs user data, then a NEST_PARENT parent (none can exist here)
    if ((flags & ~HWPT_FAULT_ID_VALID) !== 0 || dataLen === 0 || !core.domainAllocUser(idev.dev))
      return -ERRNO.EOPNOTSUPP;
    return -ERRNO.EINVAL;
  }
  return -ERRNO.EINVAL;
}

/** IOMMU_GET_HW_INFO (iommufd_get_hw_info): the driver's data into the user's buffer, zero-padded. */
export function getHwInfo(ctx: IommufdCtx, k: Uint8Array, respond: () => number): number {
  if (getU32(k, 4) !== 0 || k[29] !== 0 || k[30] !== 0 || k[31] !== 0) return -ERRNO.EOPNOTSUPP;
  const idev = ctx.get(getU32(k, 8), 'device');
  if (!idev) return -ERRNO.ENOENT;
  const info = ctx.env.core.hwInfo(idev.dev);
  const data = info?.data ?? new Uint8Array(0);
  putU32(k, 24, info?.type ?? 0);
  const want = getU32(k, 12);
  const user = getU64(k, 16);
  const copy = Math.min(want, data.length);
  const { mm } = ctx.env;
  if (copy > 0 && mm.copyToUser(user, data.subarray(0, copy)) !== 0) return -ERRNO.EFAULT;
  // clear_user of the rest, a page at a time (it stops at the first page it cannot write)
  for (let off = copy; off < want;) {
    const n = Math.min(want - off, 4096);
    if (mm.copyToUser(BigInt.asUintN(64, user + BigInt(off)), new Uint8Array(n)) !== 0) return -ERRNO.EFAULT;
    off += n;
  }
  putU32(k, 12, data.length);
  k[28] = 0; // out_max_pasid_log2: no PASID on the modelled devices
  putU64(k, 32, 0n); // out_capabilities: no dirty tracking
  return respond();
}
