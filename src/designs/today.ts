/** today: the 5.4+ design, per kernel profile (IOVA_RANGE capability, MAP_DMA enforcement). */
import type { DesignDef } from './types.js';

export const TODAY: DesignDef = {
  design: undefined,
  info: {
    name: 'today',
    title: 'today (5.4+): IOVA_RANGE capability and enforcement',
    origin: 'spec §4.3, §4.9 (verified against the oracle, 6.1 and 6.12)',
    summary:
      'GET_INFO reports the usable IOVA ranges (aperture minus every reserved region); MAP_DMA outside them -> EINVAL; the kernel picks the SW_MSI window',
    verified: ['everything: the default VFIO type1 model, byte-exact against the oracle'],
    reconstructed: [],
  },
};
