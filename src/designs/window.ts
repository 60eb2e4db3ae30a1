/**
 * The donated MSI window of the v9/v10 and v14 series (spec §8.3, §8.4): registered with a flagged
 * MAP_DMA, not a user mapping (UNMAP never sees it), refused when it overlaps any mapping, replayed onto
 * domains attached later, and the only place doorbell IOVAs come from.
 */
import { ERRNO } from '../base/errno.js';
import { U64_MAX } from '../base/u64.js';
import type { IommuDomain } from '../iommu/api.js';
import { DMA_MAP_SIZE, getU32, getU64 } from '../uapi/vfio-type1.js';
import type { Type1DesignHooks, Type1Env, VfioIommuType1 } from '../vfio/type1/type1.js';

export interface MapArgs {
  readonly argsz: number;
  readonly flags: number;
  readonly vaddr: bigint;
  readonly iova: bigint;
  readonly size: bigint;
}

export function readMapArgs(arg: Uint8Array): MapArgs {
  return {
    argsz: getU32(arg, 0),
    flags: getU32(arg, 4),
    vaddr: getU64(arg, 8),
    iova: getU64(arg, 16),
    size: getU64(arg, 24),
  };
}

/** Makes the cookie of one domain for a registered window [start, end]; 0 or -errno. */
export type WindowCookie = (domain: IommuDomain, start: bigint, end: bigint, env: Type1Env) => number;

/** Hooks shared by msi-resv and msi-geometry: the window, its MAP flag and its replay. */
export class DonatedWindow {
  window: { start: bigint; end: bigint } | undefined;

  constructor(
    private readonly iommu: VfioIommuType1,
    private readonly env: Type1Env,
    private readonly flag: number,
    private readonly cookie: WindowCookie,
  ) {}

  hooks(buildCaps: Type1DesignHooks['buildCaps']): Type1DesignHooks {
    return {
      // Neither series checked reserved regions on MAP (that came in 5.4).
      enforceReserved: false,
      buildCaps,
      mapDma: (arg) => this.mapDma(arg),
      newDomain: (domain) =>
        this.window ? this.cookie(domain, this.window.start, this.window.end, this.env) : 0,
    };
  }

  /** vfio_register_msi_range (v14) for flagged maps; -EEXIST for user maps over the window. */
  private mapDma(arg: Uint8Array): number | undefined {
    const a = readMapArgs(arg);
    if (a.argsz < DMA_MAP_SIZE) return undefined;
    if ((a.flags & this.flag) === 0) {
      if (this.window === undefined || a.size === 0n) return undefined;
      const end = a.iova + a.size - 1n;
      if (end > U64_MAX) return undefined;
      return a.iova <= this.window.end && end >= this.window.start ? -ERRNO.EEXIST : undefined;
    }
    if ((a.flags & ~this.flag & ~3) !== 0) return -ERRNO.EINVAL;
    const pg = this.iommu.minPageSize;
    const end = a.iova + a.size - 1n;
    if (a.size === 0n || a.iova % pg !== 0n || a.size % pg !== 0n || end > U64_MAX) return -ERRNO.EINVAL;
    if (this.window !== undefined) return -ERRNO.EEXIST;
    if (this.iommu.overlapsDma(a.iova, end)) return -ERRNO.EEXIST;
    for (const d of this.iommu.domains) {
      const rc = this.cookie(d.domain, a.iova, end, this.env);
      if (rc !== 0) return rc;
    }
    this.window = { start: a.iova, end };
    return 0;
  }
}
