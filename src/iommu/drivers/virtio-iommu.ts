/**
 * virtio-iommu guest driver (drivers/iommu/virtio-iommu.c): reserved regions come from the device's
 * PROBE answer (RESV_MEM properties), with the software MSI window added when the device reported no
 * MSI region; page sizes and aperture from the config space.
 */
import { ResvType, type ResvRegion, resvRegion } from '../resv-region.js';
import { U64_MAX, hex } from '../../base/u64.js';
import { ERRNO } from '../../base/errno.js';
import { normalizeBdf } from '../../pci/bdf.js';
import type { VirtioResvMem } from '../../platform/types.js';
import type { PciDev } from '../../pci/topology.js';
import { pciDeviceGroup } from '../../pci/group.js';
import type { DomainGeometry } from '../api.js';
import type { DriverContext, IommuCap, IommuDriverOps } from './ops.js';
import { FULL_APERTURE, MSI_PROT, swMsiRegion, translatesPci } from './common.js';
import { iommuDmaGetResvRegions } from './dma-resv.js';

/** sizeof(struct virtio_iommu_probe_resv_mem) = 24 (header 4, subtype 1, reserved 3, start 8, end 8). */
export const VIRTIO_RESV_MEM_SIZE = 24;

/**
 * viommu_add_resv_mem: one RESV_MEM property to a region, or -errno. `len` is the property's length
 * field plus header (when known): shorter than the struct is -EINVAL. `size = end - start + 1` in u64;
 * only a size that wraps to 0 counts as overflow (-EOVERFLOW); `end < start` gives a huge region as in C.
 */
export function viommuAddResvMem(prop: VirtioResvMem, len = VIRTIO_RESV_MEM_SIZE): ResvRegion | number {
  if (len < VIRTIO_RESV_MEM_SIZE) return -ERRNO.EINVAL;
  const start = prop.start;
  const end = prop.end;
  const size = BigInt.asUintN(64, end - start + 1n);
  if (size < BigInt.asUintN(64, end - start)) return -ERRNO.EOVERFLOW;
  const origin = `virtio-iommu: PROBE RESV_MEM ${typeof prop.subtype === 'number' ? `subtype ${prop.subtype}` : prop.subtype} (${hex(start)}-${hex(end)})`;
  if (prop.subtype === 'msi' || prop.subtype === 1)
    return resvRegion(start, size, MSI_PROT, ResvType.Msi, origin);
  // VIRTIO_IOMMU_RESV_MEM_T_RESERVED, and any unknown subtype (warned about, treated as reserved)
  return resvRegion(start, size, 0, ResvType.Reserved, origin);
}

export function virtioIommu(ctx: DriverContext): IommuDriverOps {
  const { iommu, platform } = ctx;
  const geometry: DomainGeometry =
    iommu.virtioInputRange === undefined
      ? FULL_APERTURE
      : {
          apertureStart: iommu.virtioInputRange.start,
          apertureEnd: iommu.virtioInputRange.end,
          forceAperture: true,
        };
  return {
    name: 'virtio-iommu',
    iommuId: iommu.id,
    probeMode: 'at-driver-probe',
    translates: (dev) => translatesPci(iommu, dev),
    // config page_size_mask; QEMU offers every size from the host page size up.
    deviceGroup: (dev, groupOf) => pciDeviceGroup(ctx.topology, dev, groupOf),
    pgsizeBitmap: () => iommu.pgsizeBitmap ?? BigInt.asUintN(64, ~BigInt(platform.pageSize - 1)),
    geometry: () => geometry,
    // viommu_probe_endpoint + viommu_get_resv_regions
    getResvRegions(dev: PciDev): ResvRegion[] {
      const probed: ResvRegion[] = [];
      for (const p of iommu.virtioProbeResvMem ?? []) {
        if (p.endpoints !== undefined && !p.endpoints.some((e) => normalizeBdf(e) === dev.bdf)) continue;
        const r = viommuAddResvMem(p);
        if (typeof r !== 'number') probed.push(r);
      }
      // The per-endpoint list is kept sorted by start (the order does not change the merged group list).
      probed.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
      const out = [...probed];
      if (!probed.some((r) => r.type === ResvType.Msi))
        out.push(swMsiRegion('virtio-iommu: software MSI window (no MSI property)'));
      out.push(...iommuDmaGetResvRegions(ctx, dev));
      return out;
    },
    enforceCacheCoherency: () => false,
    capable(cap: IommuCap): boolean {
      return cap === 'cache-coherency' || cap === 'deferred-flush';
    },
    msiWindowReadsFault: false,
    domainAllocUser: false,
    sharesDomainsAcrossInstances: false,
    forcesStrict: false,
    // The device checks the request against input_range (VIRTIO_IOMMU_S_RANGE → -ERANGE).
    maxOutputAddress: U64_MAX,
    mapRangeCheck: (iova, size) =>
      iova < geometry.apertureStart || iova + size - 1n > geometry.apertureEnd || iova + size - 1n > U64_MAX
        ? -ERRNO.ERANGE
        : 0,
    attachCheck: () => 0,
  };
}
