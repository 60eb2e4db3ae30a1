/**
 * The prepare/compose split of MSI doorbell remapping (drivers/iommu/dma-iommu.c, 5.2 - 6.13; the
 * profile selects the >= 6.14 "no cookie is an error" rule). The irqchips whose doorbell the IOMMU
 * translates (GICv2m, GICv3 ITS) call prepare at IRQ allocation and compose when writing the message.
 */
import type { IommuDomain } from '../iommu/api.js';
import type { KernelProfile } from '../kernel/profile.js';
import { ERRNO } from '../base/errno.js';
import { type MsiDeviceLimits, type MsiPage, domainCookie, iommuDmaGetMsiPage } from './cookie.js';

/** struct msi_msg */
export interface MsiMsg {
  readonly addressLo: number;
  readonly addressHi: number;
  readonly data: number;
}

export const msiMsgAddress = (m: MsiMsg): bigint =>
  (BigInt(m.addressHi >>> 0) << 32n) | BigInt(m.addressLo >>> 0);

export function msiMsg(address: bigint, data: number): MsiMsg {
  return {
    addressLo: Number(address & 0xffff_ffffn),
    addressHi: Number((address >> 32n) & 0xffff_ffffn),
    data,
  };
}

/** msi_desc->iommu_cookie: the doorbell page chosen at prepare time and the granule it was made with. */
export interface MsiDescIommu {
  readonly page: MsiPage;
  readonly granule: bigint;
}

/** Outcome of iommu_dma_prepare_msi: 0 with an optional page, or -errno. */
export type PrepareResult =
  | { readonly ok: true; readonly cookie: MsiDescIommu | undefined }
  | { readonly ok: false; readonly errno: number };

/**
 * iommu_dma_prepare_msi(desc, msi_addr) for the device's current domain.
 * <= 6.13: no domain or no cookie -> success, message keeps the physical doorbell.
 * >= 6.14 (profile.noCookieIsError): identity -> pass-through; a paging domain without cookie -> -EOPNOTSUPP.
 * Cookie present but the page cannot be had -> -ENOMEM.
 */
export function iommuDmaPrepareMsi(
  domain: IommuDomain | undefined,
  msiAddr: bigint,
  profile: KernelProfile,
  dev?: MsiDeviceLimits,
): PrepareResult {
  const cookie = domainCookie(domain);
  if (domain === undefined || cookie === undefined) {
    if (profile.noCookieIsError && domain !== undefined) {
      const paging = domain.type === 'unmanaged' || domain.type === 'dma' || domain.type === 'dma-fq';
      if (paging) return { ok: false, errno: -ERRNO.EOPNOTSUPP };
    }
    return { ok: true, cookie: undefined };
  }
  const page = iommuDmaGetMsiPage(domain, msiAddr, dev);
  if (page === undefined) return { ok: false, errno: -ERRNO.ENOMEM };
  return { ok: true, cookie: { page, granule: cookie.granule } };
}

/**
 * iommu_dma_compose_msi_msg: replace the doorbell address by the page IOVA plus the doorbell's offset in
 * the granule; data unchanged. Without a prepared page the message is left as composed by the irqchip.
 */
export function iommuDmaComposeMsiMsg(cookie: MsiDescIommu | undefined, msg: MsiMsg): MsiMsg {
  if (cookie === undefined) return msg;
  const iova = cookie.page.iova;
  const off = BigInt(msg.addressLo >>> 0) & (cookie.granule - 1n);
  const lo = (off + (iova & 0xffff_ffffn)) & 0xffff_ffffn;
  return { addressLo: Number(lo), addressHi: Number((iova >> 32n) & 0xffff_ffffn), data: msg.data };
}
