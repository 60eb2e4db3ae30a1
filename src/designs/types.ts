/**
 * The MSI designs of the 2015-2016 debate (../shared/seeds, spec §8) as strategies the VFIO type1
 * backend consults (src/vfio/type1/type1.ts Type1DesignHooks). Each design says what it adds to the uapi
 * and which of its details are verified or reconstructed.
 */
import type { Type1Design } from '../vfio/type1/type1.js';

export type DesignName =
  'today' | 'merged-4.11' | 'msi-resv' | 'msi-geometry' | 'virtual-doorbell' | 'resv-iova-range';

/** What userspace learns from the design about reserved IOVA. */
export type ReportChannel =
  'get-info-iova-ranges' | 'get-info-resv-caps' | 'get-info-msi-geometry' | 'sysfs' | 'none';

export interface DesignInfo {
  readonly name: DesignName;
  readonly title: string;
  /** Seed file / series it comes from. */
  readonly origin: string;
  readonly summary: string;
  readonly verified: readonly string[];
  readonly reconstructed: readonly string[];
}

export interface DesignDef {
  readonly info: DesignInfo;
  /** undefined: today's kernel, untouched. */
  readonly design: Type1Design | undefined;
}
