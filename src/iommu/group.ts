/** struct iommu_group and the group number allocator (iommu_group_alloc: ida, lowest free number). */
import type { DomainType, IommuGroup } from './api.js';
import type { CoreDevice } from './device.js';
import type { CoreDomain } from './domain.js';

export class CoreGroup implements IommuGroup {
  readonly id: number;
  readonly devices: CoreDevice[] = [];
  defaultDomainType: DomainType;
  defaultDomain: CoreDomain | undefined = undefined;
  domain: CoreDomain | undefined = undefined;
  blockingDomain: CoreDomain | undefined = undefined;
  owner: unknown = undefined;

  /**
   * group->owner_cnt, derived rather than counted so that it follows `Device.driver` however it is
   * changed: 1 while an owner (VFIO) holds the group, else the number of devices whose bound kernel
   * driver uses the default domain (iommu_device_use_default_domain; not driver_managed_dma ones).
   */
  get ownerCount(): number {
    if (this.owner !== undefined) return 1;
    let n = 0;
    for (const d of this.devices) if (d.driver !== 'none' && !d.driverManagedDma) n++;
    return n;
  }

  constructor(id: number, defaultDomainType: DomainType) {
    this.id = id;
    this.defaultDomainType = defaultDomainType;
  }
}

/** ida_alloc: the lowest number not in use. */
export class Ida {
  private readonly used = new Set<number>();

  alloc(): number {
    let n = 0;
    while (this.used.has(n)) n++;
    this.used.add(n);
    return n;
  }

  free(n: number): void {
    this.used.delete(n);
  }
}
