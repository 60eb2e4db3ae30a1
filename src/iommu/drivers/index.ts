/** Driver registry: IommuDescription.driver → ops constructor. */
import type { DriverContext, IommuDriverOps } from './ops.js';
import { intelIommu } from './intel.js';
import { amdIommu } from './amd.js';
import { armSmmu, armSmmuV3 } from './arm-smmu.js';
import { virtioIommu } from './virtio-iommu.js';

export function createDriver(ctx: DriverContext): IommuDriverOps {
  switch (ctx.iommu.driver) {
    case 'intel-iommu':
      return intelIommu(ctx);
    case 'amd-iommu':
      return amdIommu(ctx);
    case 'arm-smmu':
      return armSmmu(ctx);
    case 'arm-smmu-v3':
      return armSmmuV3(ctx);
    case 'virtio-iommu':
      return virtioIommu(ctx);
  }
}

export type { DriverContext, IommuDriverOps, IommuCap, ProbeMode } from './ops.js';
