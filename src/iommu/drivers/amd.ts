/**
 * amd-iommu (drivers/iommu/amd/iommu.c, init.c): IVMD unity maps, the MSI window and the HyperTransport
 * hole; v1 page table sizes per kernel profile; the aperture covers the whole 64-bit space.
 */
import { IOMMU_READ, IOMMU_WRITE, ResvType, type ResvRegion, resvRegion } from '../resv-region.js';
import { U64_MAX, hex } from '../../base/u64.js';
import type { IvmdDescription } from '../../platform/types.js';
import type { PciDev } from '../../pci/topology.js';
import { pciDeviceGroup } from '../../pci/group.js';
import type { DriverContext, IommuCap, IommuDriverOps } from './ops.js';
import { FULL_APERTURE, X86_MSI_END, X86_MSI_START, x86IommuCapable, translatesPci } from './common.js';

export const HT_RANGE_START = 0xfd00000000n;
export const HT_RANGE_END = 0xffffffffffn;

/** IVMD flag bits. */
const IVMD_FLAG_EXCL_RANGE = 0x08;
const IVMD_FLAG_IW = 0x04;
const IVMD_FLAG_IR = 0x02;
/** IOMMU_PROT_IR / IOMMU_PROT_IW of the stored unity entry. */
const PROT_IR = 0x01;
const PROT_IW = 0x02;

export interface UnityMapEntry {
  readonly devidStart: number;
  readonly devidEnd: number;
  readonly addressStart: bigint;
  /** Exclusive. */
  readonly addressEnd: bigint;
  readonly prot: number;
  readonly index: number;
}

function pageAlign(v: bigint, page: bigint): bigint {
  return (v + page - 1n) & ~(page - 1n);
}

/**
 * init_unity_map_range: page-aligned start, page-aligned length, prot = flags >> 1; an exclusion range
 * is turned into a read/write unity map (since 5.7, so in both 6.1 and 6.12).
 */
export function unityMapOf(m: IvmdDescription, index: number, pageSize: number): UnityMapEntry {
  const page = BigInt(pageSize);
  const addressStart = pageAlign(m.start, page);
  const addressEnd = addressStart + pageAlign(m.length, page);
  let prot = m.flags >> 1;
  if ((m.flags & IVMD_FLAG_EXCL_RANGE) !== 0) prot = (IVMD_FLAG_IW | IVMD_FLAG_IR) >> 1;
  const all = m.kind === 'all';
  return {
    devidStart: all ? 0 : m.devidStart,
    devidEnd: all ? 0xffff : m.kind === 'device' ? m.devidStart : m.devidEnd,
    addressStart,
    addressEnd,
    prot,
    index,
  };
}

export function amdIommu(ctx: DriverContext): IommuDriverOps {
  const { iommu, platform, profile } = ctx;
  const unity = platform.firmwareTables.ivmd.map((m, i) => unityMapOf(m, i, platform.pageSize));
  return {
    name: 'amd-iommu',
    iommuId: iommu.id,
    probeMode: 'at-registration',
    translates: (dev) => translatesPci(iommu, dev),
    deviceGroup: (dev, groupOf) => pciDeviceGroup(ctx.topology, dev, groupOf),
    pgsizeBitmap: () => iommu.pgsizeBitmap ?? profile.amdPgsizeBitmap,
    geometry: () => FULL_APERTURE,
    // amd_iommu_get_resv_regions
    getResvRegions(dev: PciDev): ResvRegion[] {
      const out: ResvRegion[] = [];
      const devid = dev.rid;
      for (const e of unity) {
        if (devid < e.devidStart || devid > e.devidEnd) continue;
        let prot = 0;
        if ((e.prot & PROT_IR) !== 0) prot |= IOMMU_READ;
        if ((e.prot & PROT_IW) !== 0) prot |= IOMMU_WRITE;
        const type = (e.prot & IVMD_FLAG_EXCL_RANGE) !== 0 ? ResvType.Reserved : ResvType.Direct;
        out.push(
          resvRegion(
            e.addressStart,
            e.addressEnd - e.addressStart,
            prot,
            type,
            `amd: IVRS IVMD #${e.index} unity map (${hex(e.addressStart)}, devid ${hex(e.devidStart)}-${hex(e.devidEnd)})`,
          ),
        );
      }
      out.push(
        resvRegion(X86_MSI_START, X86_MSI_END - X86_MSI_START + 1n, 0, ResvType.Msi, 'amd: MSI window'),
      );
      if (!(profile.amdHtRangeIgnore && iommu.htRangeIgnore === true)) {
        out.push(
          resvRegion(
            HT_RANGE_START,
            HT_RANGE_END - HT_RANGE_START + 1n,
            0,
            ResvType.Reserved,
            'amd: HyperTransport hole',
          ),
        );
      }
      return out;
    },
    enforceCacheCoherency: () => true,
    capable: (cap: IommuCap): boolean => x86IommuCapable(iommu, cap),
    // "AMD-Vi: Using strict mode due to virtualization" (NpCache)
    msiWindowReadsFault: true,
    domainAllocUser: true,
    sharesDomainsAcrossInstances: true,
    forcesStrict: iommu.cachingMode === true,
    maxOutputAddress: U64_MAX,
    mapRangeCheck: () => 0,
    attachCheck: () => 0,
  };
}
