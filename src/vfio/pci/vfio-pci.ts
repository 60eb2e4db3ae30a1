/**
 * The vfio-pci device file (drivers/vfio/pci/vfio_pci_core.c): what VFIO_GROUP_GET_DEVICE_FD returns.
 * The container/group code (src/vfio/) creates it; the device ioctls (GET_INFO, GET_REGION_INFO,
 * GET_IRQ_INFO, SET_IRQS, RESET) and the MSI/MSI-X state live here and in this folder.
 */
import type { Device, IommuCore } from '../../iommu/api.js';
import type { KernelProfile } from '../../kernel/profile.js';
import { ERRNO } from '../../base/errno.js';

export interface VfioDeviceFile {
  readonly bdf: string;
  /** ioctl on the device fd: >= 0 or -errno; `arg` is the user buffer, read and written in place. */
  ioctl(cmd: number, arg: Uint8Array): number;
  close(): void;
}

export interface VfioPciContext {
  readonly core: IommuCore;
  readonly device: Device;
  readonly profile: KernelProfile;
}

/** Opens the vfio-pci device file for a device bound to vfio-pci. Completed by the MSI-path work. */
export function openVfioPciDevice(ctx: VfioPciContext): VfioDeviceFile {
  return {
    bdf: ctx.device.bdf,
    ioctl: () => -ERRNO.ENOTTY,
    close: () => undefined,
  };
}
