/**
 * VFIO containers and groups (drivers/vfio/container.c, drivers/vfio/group.c): the `/dev/vfio/vfio`
 * and `/dev/vfio/<n>` files, their ioctls on the user's bytes, and the lifecycle that ties groups to a
 * container and the container to its type1 backend.
 */
import { ERRNO } from '../base/errno.js';
import type { IommuCore, IommuGroup } from '../iommu/api.js';
import {
  GROUP_STATUS_SIZE,
  VFIO_API_VERSION,
  VFIO_CHECK_EXTENSION,
  VFIO_GET_API_VERSION,
  VFIO_GROUP_FLAGS_CONTAINER_SET,
  VFIO_GROUP_FLAGS_VIABLE,
  VFIO_SET_IOMMU,
  getU32,
  putU32,
} from '../uapi/vfio-type1.js';
import { type Type1Env, VfioIommuType1, type1CheckExtension } from './type1/type1.js';

/** Drivers that manage DMA themselves (driver_managed_dma): binding them does not claim the group. */
export const DMA_MANAGED_DRIVERS: readonly string[] = ['vfio-pci', 'pci-stub', 'pcieport'];

/** A container (`struct vfio_container`). */
export class VfioContainer {
  /** Newest first, like the kernel's list_add. */
  readonly groups: VfioGroup[] = [];
  iommu: VfioIommuType1 | undefined;

  constructor(readonly env: Type1Env) {}

  /** vfio_fops_unl_ioctl */
  ioctl(cmd: number, arg: Uint8Array | number | undefined): number {
    switch (cmd) {
      case VFIO_GET_API_VERSION:
        return VFIO_API_VERSION;
      case VFIO_CHECK_EXTENSION:
        return type1CheckExtension(this.iommu, typeof arg === 'number' ? arg : -1, this.env.profile);
      case VFIO_SET_IOMMU:
        return this.setIommu(typeof arg === 'number' ? arg : -1);
      default:
        if (!this.iommu) return -ERRNO.EINVAL;
        return this.iommu.ioctl(cmd, arg);
    }
  }

  /** vfio_ioctl_set_iommu: only type1 is registered. */
  private setIommu(type: number): number {
    if (this.groups.length === 0 || this.iommu) return -ERRNO.EINVAL;
    if (type1CheckExtension(undefined, type, this.env.profile) <= 0) return -ERRNO.ENODEV;
    const data = VfioIommuType1.open(this.env, type);
    if (typeof data === 'number') return data;
    // __vfio_container_attach_groups: in list order; undo in reverse on failure.
    for (let i = 0; i < this.groups.length; i++) {
      const rc = data.attachGroup(this.groups[i]!.iommuGroup);
      if (rc !== 0) {
        for (let j = i - 1; j >= 0; j--) data.detachGroup(this.groups[j]!.iommuGroup);
        data.release();
        return rc;
      }
    }
    this.iommu = data;
    return 0;
  }

  /** vfio_container_attach_group */
  attachGroup(g: VfioGroup): number {
    const { core } = this.env;
    // iommu_group_claim_dma_owner: -EPERM when a kernel driver bound in the group holds owner_cnt.
    let rc = core.claimDmaOwner(g.iommuGroup, g);
    if (rc !== 0) return rc;
    if (this.iommu) {
      rc = this.iommu.attachGroup(g.iommuGroup);
      if (rc !== 0) {
        core.releaseDmaOwner(g.iommuGroup);
        return rc;
      }
    }
    g.container = this;
    g.containerUsers = 1;
    this.groups.unshift(g);
    return 0;
  }

  /** vfio_group_detach_container: detaching the last group releases the backend. */
  detachGroup(g: VfioGroup): void {
    if (this.iommu) this.iommu.detachGroup(g.iommuGroup);
    this.env.core.releaseDmaOwner(g.iommuGroup);
    g.container = undefined;
    g.containerUsers = 0;
    const i = this.groups.indexOf(g);
    if (i >= 0) this.groups.splice(i, 1);
    if (this.iommu && this.groups.length === 0) {
      this.iommu.release();
      this.iommu = undefined;
    }
  }
}

/** A VFIO group (`struct vfio_group`), one per IOMMU group with a device bound to vfio-pci. */
export class VfioGroup {
  container: VfioContainer | undefined;
  /** 1 while attached, +1 per open device fd. */
  containerUsers = 0;
  /** The group file is open (only one opener at a time). */
  opened = false;
  /** Devices of the group bound through their cdev (cdev_device_open_cnt): the group file cannot open. */
  cdevOpenCount = 0;

  constructor(readonly iommuGroup: IommuGroup) {}

  /** vfio_group_ioctl_get_status */
  getStatus(arg: Uint8Array | number | undefined, core: IommuCore): number {
    if (!(arg instanceof Uint8Array) || arg.length < GROUP_STATUS_SIZE) return -ERRNO.EFAULT;
    if (getU32(arg, 0) < GROUP_STATUS_SIZE) return -ERRNO.EINVAL;
    let flags = 0;
    if (this.container) flags |= VFIO_GROUP_FLAGS_CONTAINER_SET | VFIO_GROUP_FLAGS_VIABLE;
    else if (!core.dmaOwnerClaimed(this.iommuGroup)) flags |= VFIO_GROUP_FLAGS_VIABLE;
    putU32(arg, 4, flags);
    return 0;
  }

  /** vfio_group_ioctl_unset_container */
  unsetContainer(): number {
    if (!this.container) return -ERRNO.EINVAL;
    if (this.containerUsers !== 1) return -ERRNO.EBUSY;
    this.container.detachGroup(this);
    return 0;
  }
}
