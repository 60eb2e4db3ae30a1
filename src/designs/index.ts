/** The designs, in the order `iovamap designs compare` prints them. */
import { MERGED_4_11 } from './merged-4-11.js';
import { MSI_GEOMETRY } from './msi-geometry.js';
import { MSI_RESV } from './msi-resv.js';
import { RESV_IOVA_RANGE } from './resv-iova-range.js';
import { TODAY } from './today.js';
import type { DesignDef, DesignName } from './types.js';
import { VIRTUAL_DOORBELL } from './virtual-doorbell.js';

export const DESIGNS: readonly DesignDef[] = [
  VIRTUAL_DOORBELL,
  MSI_GEOMETRY,
  MSI_RESV,
  RESV_IOVA_RANGE,
  MERGED_4_11,
  TODAY,
];
export const DESIGN_NAMES: readonly DesignName[] = DESIGNS.map((d) => d.info.name);

export function findDesign(name: string): DesignDef | undefined {
  return DESIGNS.find((d) => d.info.name === name);
}

export type { DesignDef, DesignInfo, DesignName } from './types.js';
