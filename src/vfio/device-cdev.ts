/**
 * A VFIO device's character device, /dev/vfio/devices/vfioN (drivers/vfio/device_cdev.c, 6.12): until
 * VFIO_DEVICE_BIND_IOMMUFD succeeds every ioctl is -EINVAL; bind blocks the legacy group file (and
 * fails while it is open), opens the device through iommufd, then ATTACH/DETACH_IOMMUFD_PT place it in an
 * IOAS and the other ioctls are the vfio-pci device's.
 */
import { ERRNO } from '../base/errno.js';
import type { Device } from '../iommu/api.js';
import {
  type IommufdDevice,
  attachDevice,
  bindDevice,
  detachDevice,
  unbindDevice,
} from '../iommufd/device.js';
import type { IommufdCtx } from '../iommufd/main.js';
import {
  ATTACH_PT_SIZE,
  BIND_IOMMUFD_SIZE,
  DETACH_PT_SIZE,
  VFIO_DEVICE_ATTACH_IOMMUFD_PT,
  VFIO_DEVICE_BIND_IOMMUFD,
  VFIO_DEVICE_DETACH_IOMMUFD_PT,
} from '../uapi/iommufd.js';
import { getI32, getU32, putU32 } from '../uapi/vfio-type1.js';
import type { VfioGroup } from './container.js';
import type { VfioDeviceFile } from './pci/vfio-pci.js';

/** What the cdev needs from the process: its iommufd files and the vfio-pci open. */
export interface CdevHost {
  /** The iommufd behind an fd, 'closed' for no open file, 'other' for another kind of file. */
  iommufdOf(fd: number): IommufdCtx | 'closed' | 'other';
  /** vfio_df_open: the vfio-pci device file. */
  openDevice(dev: Device): VfioDeviceFile;
  /** dev_warn lines. */
  log(line: string): void;
}

export class VfioCdevFile {
  private bound: { idev: IommufdDevice; file: VfioDeviceFile } | undefined;

  constructor(
    readonly dev: Device,
    readonly group: VfioGroup,
    private readonly host: CdevHost,
  ) {}

  get isBound(): boolean {
    return this.bound !== undefined;
  }

  /** The vfio-pci device file once bound. */
  get deviceFile(): VfioDeviceFile | undefined {
    return this.bound?.file;
  }

  get bdf(): string {
    return this.dev.bdf;
  }

  /** read(2) of a region: the device's once bound, -EINVAL before (vfio_device_fops_read). */
  pread(offset: bigint, buf: Uint8Array): number {
    return this.bound ? this.bound.file.pread(offset, buf) : -ERRNO.EINVAL;
  }

  /** write(2) of a region: the device's once bound, -EINVAL before. */
  pwrite(offset: bigint, buf: Uint8Array): number {
    return this.bound ? this.bound.file.pwrite(offset, buf) : -ERRNO.EINVAL;
  }

  /** vfio_device_fops_unl_ioctl for a cdev file. */
  ioctl(cmd: number, arg: Uint8Array): number {
    if (cmd === VFIO_DEVICE_BIND_IOMMUFD) return this.bind(arg);
    if (!this.bound) return -ERRNO.EINVAL;
    if (cmd === VFIO_DEVICE_ATTACH_IOMMUFD_PT) return this.attach(arg);
    if (cmd === VFIO_DEVICE_DETACH_IOMMUFD_PT) return this.detach(arg);
    return this.bound.file.ioctl(cmd, arg);
  }

  /** vfio_df_ioctl_bind_iommufd */
  private bind(arg: Uint8Array): number {
    if (arg.length < BIND_IOMMUFD_SIZE) return -ERRNO.EFAULT;
    if (getU32(arg, 0) < BIND_IOMMUFD_SIZE || getU32(arg, 4) !== 0 || getI32(arg, 8) < 0)
      return -ERRNO.EINVAL;
    // vfio_device_block_group: not while /dev/vfio/<group> is open
    if (this.group.opened) return -ERRNO.EBUSY;
    if (this.bound) return -ERRNO.EINVAL;
    const ctx = this.host.iommufdOf(getI32(arg, 8));
    if (ctx === 'closed') return -ERRNO.EBADF;
    if (ctx === 'other') return -ERRNO.EBADFD;
    const idev = bindDevice(ctx, this.dev, this.host.log);
    if (typeof idev === 'number') return idev;
    this.bound = { idev, file: this.host.openDevice(this.dev) };
    this.group.cdevOpenCount++;
    putU32(arg, 12, idev.id);
    return 0;
  }

  /** vfio_df_ioctl_attach_pt */
  private attach(arg: Uint8Array): number {
    if (arg.length < ATTACH_PT_SIZE) return -ERRNO.EFAULT;
    if (getU32(arg, 0) < ATTACH_PT_SIZE || getU32(arg, 4) !== 0) return -ERRNO.EINVAL;
    const r = attachDevice(this.bound!.idev, getU32(arg, 8));
    if (r < 0) return r;
    putU32(arg, 8, r);
    return 0;
  }

  /** vfio_df_ioctl_detach_pt */
  private detach(arg: Uint8Array): number {
    if (arg.length < DETACH_PT_SIZE) return -ERRNO.EFAULT;
    if (getU32(arg, 0) < DETACH_PT_SIZE || getU32(arg, 4) !== 0) return -ERRNO.EINVAL;
    detachDevice(this.bound!.idev);
    return 0;
  }

  /** vfio_device_fops_release: closes the device, unbinds it from its iommufd, unblocks the group. */
  close(): void {
    if (!this.bound) return;
    this.bound.file.close();
    unbindDevice(this.bound.idev);
    this.group.cdevOpenCount--;
    this.bound = undefined;
  }
}
