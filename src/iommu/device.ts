/** struct device as the IOMMU core sees it: a PCI function, its IOMMU, its group. */
import type { Device } from './api.js';
import type { IommuDriverOps } from './drivers/ops.js';
import type { PciDev } from '../pci/topology.js';
import type { CoreGroup } from './group.js';

/**
 * Drivers that set driver_managed_dma (they never use the default domain for DMA, so they do not hold
 * owner_cnt): vfio-pci and its variant drivers (mlx5_vfio_pci, hisi_acc_vfio_pci, ...), and since 5.19
 * pcieport and pci-stub.
 */
export function isDriverManagedDma(driver: string): boolean {
  return driver === 'pcieport' || driver === 'pci-stub' || /vfio[-_]pci$/.test(driver);
}

export class CoreDevice implements Device {
  readonly pci: PciDev;
  readonly bdf: string;
  readonly vendor: number;
  readonly deviceId: number;
  readonly class: number;
  driver: string;
  /** Set by bindDriver when the caller says whether the driver manages DMA itself. */
  managedDmaOverride: boolean | undefined = undefined;
  /** dev->iommu->iommu_dev: the IOMMU driver instance, once probed. */
  ops: IommuDriverOps | undefined = undefined;
  group: CoreGroup | undefined = undefined;
  /** dev->iommu->require_direct: the driver reported a DIRECT region (iommu_create_device_direct_mappings). */
  requireDirect = false;
  readonly requesterId: number;

  constructor(pci: PciDev, requesterId: number) {
    this.pci = pci;
    this.bdf = pci.bdf;
    this.vendor = pci.desc.vendor;
    this.deviceId = pci.desc.device;
    this.class = pci.desc.class;
    this.driver = pci.desc.driver;
    this.requesterId = requesterId;
  }

  /** The bound driver manages DMA itself (driver_managed_dma: vfio-pci and the like). */
  get driverManagedDma(): boolean {
    return this.managedDmaOverride ?? isDriverManagedDma(this.driver);
  }

  get iommuId(): string | undefined {
    return this.ops?.iommuId;
  }

  get groupId(): number | undefined {
    return this.group?.id;
  }
}
