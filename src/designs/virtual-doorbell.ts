/**
 * virtual-doorbell: the 2015 RFC "VFIO: Add virtual MSI doorbell support" (seed 003, spec §8.1).
 * Userspace chooses, per MSI vector, the IOVA at which the doorbell is mapped; VFIO maps IOVA -> doorbell PA
 * in the container's domains, and the device is programmed with that IOVA. The uapi is RECONSTRUCTED: a
 * MAP_DMA flag (MSI_DOORBELL) whose vaddr is ignored and whose size is one page.
 */
import { ERRNO } from '../base/errno.js';
import { MSI_PAGE_PROT, domainCookie, iommuGetMsiCookie } from '../dma-iommu/cookie.js';
import type { IommuDomain } from '../iommu/api.js';
import { msiFabricOf } from '../irq/fabric.js';
import { CapChain } from '../vfio/caps.js';
import type { Type1Design, Type1Env, VfioIommuType1 } from '../vfio/type1/type1.js';
import type { DesignDef } from './types.js';
import { VFIO_DMA_MAP_FLAG_MSI_DOORBELL } from './uapi.js';
import { readMapArgs } from './window.js';

/** The physical doorbell address of the MSI controller serving the container's devices. */
export function containerDoorbell(iommu: VfioIommuType1, env: Type1Env): bigint | undefined {
  const fabric = msiFabricOf(env.core);
  for (const g of iommu.groups()) {
    for (const d of g.devices) {
      const c = fabric?.controllerOf(d.bdf) as { translater?: bigint; doorbell?: bigint } | undefined;
      const a = c?.translater ?? c?.doorbell;
      if (a !== undefined) return a;
    }
  }
  return undefined;
}

function install(domain: IommuDomain, iova: bigint, page: bigint, size: bigint): number {
  if (!domainCookie(domain)) {
    const rc = iommuGetMsiCookie(domain, iova, size);
    if (rc !== 0) return rc;
  }
  const cookie = domainCookie(domain)!;
  if (cookie.pages.some((p) => p.phys === page)) return -ERRNO.EEXIST;
  const rc = domain.map(iova, page, size, MSI_PAGE_PROT);
  if (rc !== 0) return rc;
  cookie.pages.unshift({ phys: page, iova });
  return 0;
}

const design: Type1Design = {
  name: 'virtual-doorbell',
  instance(iommu, env) {
    const size = BigInt(msiFabricOf(env.core)?.desc.pageSize ?? 4096);
    const mapped: { iova: bigint; page: bigint }[] = [];
    return {
      enforceReserved: false,
      buildCaps: () => new CapChain(env.profile),
      newDomain(domain) {
        for (const m of mapped) {
          const rc = install(domain, m.iova, m.page, size);
          if (rc !== 0) return rc;
        }
        return 0;
      },
      mapDma(arg) {
        const a = readMapArgs(arg);
        if ((a.flags & VFIO_DMA_MAP_FLAG_MSI_DOORBELL) === 0) return undefined;
        if (a.iova % size !== 0n || a.size !== size) return -ERRNO.EINVAL;
        if (iommu.overlapsDma(a.iova, a.iova + size - 1n)) return -ERRNO.EEXIST;
        const db = containerDoorbell(iommu, env);
        if (db === undefined || iommu.domains.length === 0) return -ERRNO.ENODEV;
        const page = db & ~(size - 1n);
        for (const d of iommu.domains) {
          const rc = install(d.domain, a.iova, page, size);
          if (rc !== 0) return rc;
        }
        mapped.push({ iova: a.iova, page });
        return 0;
      },
    };
  },
};

export const VIRTUAL_DOORBELL: DesignDef = {
  design,
  info: {
    name: 'virtual-doorbell',
    title: '2015 RFC: userspace-chosen virtual MSI doorbell IOVA',
    origin: 'seed 003 (RFC cover letter), spec §8.1',
    summary:
      'userspace picks the IOVA of the doorbell (per vector); VFIO maps it to the doorbell PA and programs the device with it',
    verified: [
      'the idea: userspace provides the IOVA, VFIO creates IOVA -> doorbell PA and programs it (seed 003)',
    ],
    reconstructed: [
      "the uapi: a MAP_DMA flag MSI_DOORBELL = 1<<2, vaddr ignored, size = one page, mapping the doorbell page of the container's MSI controller",
      'one mapping per doorbell page shared by all vectors that target it (the RFC mapped per vector)',
      'no capability: the design has no way to report anything to userspace',
    ],
  },
};
