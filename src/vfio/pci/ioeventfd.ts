/**
 * VFIO_DEVICE_IOEVENTFD (drivers/vfio/pci/vfio_pci_core.c vfio_pci_ioctl_ioeventfd,
 * drivers/vfio/pci/vfio_pci_rdwr.c vfio_pci_ioeventfd): userspace names a BAR write (offset, size,
 * value) and an eventfd; each signal of the eventfd makes the kernel do that write to the device
 * (vfio_pci_ioeventfd_handler), so a VMM can forward a guest's doorbell write without a round trip.
 * Checked in conformance/golden (`common/ioeventfd.iovx`) on 6.1 and 6.12, x86_64 and arm64.
 */
import { ERRNO } from '../../base/errno.js';
import {
  VFIO_DEVICE_IOEVENTFD_MINSZ,
  VFIO_DEVICE_IOEVENTFD_SIZE_MASK,
  fits,
  rdS32,
  rdU32,
  rdU64,
} from '../../uapi/vfio-device.js';
import type { EventFd, FdTable } from './eventfd.js';
/** VFIO_PCI_IOEVENTFD_MAX: registered ioeventfds per device. */
export const VFIO_PCI_IOEVENTFD_MAX = 1000;

/** What the ioeventfds need of the device. */
export interface IoeventfdDevice {
  /** pci_resource_len of BAR 0..5 (0 for a BAR the device does not have). */
  barLength(bar: number): bigint;
  /** vdev->msix_bar / msix_offset / msix_size, when the device has MSI-X. */
  readonly msix: { readonly bar: number; readonly offset: number; readonly size: number } | undefined;
  /** The write the handler does (vfio_pci_ioeventfd_do_write), `data` cut to `size` bytes. */
  write(bar: number, pos: number, size: number, data: bigint): void;
}

interface Registered {
  readonly bar: number;
  readonly pos: number;
  readonly data: bigint;
  readonly count: number;
  readonly remove: () => void;
}

/** A device's registered ioeventfds (vdev->ioeventfds_list). */
export class VfioPciIoeventfds {
  private list: Registered[] = [];

  constructor(
    private readonly dev: IoeventfdDevice,
    private readonly fds: FdTable,
  ) {}

  get size(): number {
    return this.list.length;
  }

  /** vfio_pci_ioctl_ioeventfd: 0 or -errno. */
  ioctl(arg: Uint8Array): number {
    const minsz = VFIO_DEVICE_IOEVENTFD_MINSZ;
    if (!fits(arg, 0, minsz)) return -ERRNO.EFAULT;
    if (rdU32(arg, 0) < minsz) return -ERRNO.EINVAL;
    const flags = rdU32(arg, 4);
    if ((flags & ~VFIO_DEVICE_IOEVENTFD_SIZE_MASK) !== 0) return -ERRNO.EINVAL;
    const count = flags & VFIO_DEVICE_IOEVENTFD_SIZE_MASK;
    const fd = rdS32(arg, 24);
    // hweight8(count) != 1: the size is one of the four bits
    if ((count & (count - 1)) !== 0 || count === 0 || fd < -1) return -ERRNO.EINVAL;
    return this.register(rdU64(arg, 8), rdU64(arg, 16), count, fd);
  }

  /** vfio_pci_ioeventfd */
  private register(offset: bigint, data: bigint, count: number, fd: number): number {
    const pos = Number(offset & 0xffffffffffn);
    // VFIO_PCI_OFFSET_TO_INDEX on a signed loff_t, kept in an int: offsets with bit 63 set give a
    // negative BAR index, which the "bar > BAR5" check lets through.
    const bar = Number(BigInt.asIntN(32, BigInt.asIntN(64, offset) >> 40n));
    if (bar > 5) return -ERRNO.EINVAL;
    if (bar < 0) {
      // The kernel then reads pci_dev.resource[bar] and vdev->barmap[bar] outside their arrays. For
      // bar -1 (offset index 0xffffff) those are the struct fields just before the arrays: every
      // machine and kernel checked accepted the registration (barmap[-1] is vdev->pdev, never NULL).
      // The model accepts it too and never performs such a write; other negative indexes read far
      // outside the structures and have no answer the model could know: EINVAL.
      if (bar !== -1) return -ERRNO.EINVAL;
    } else {
      if (BigInt(pos + count) > this.dev.barLength(bar)) return -ERRNO.EINVAL;
      // Disallow ioeventfds working around MSI-X table writes: no byte of the table.
      const x = this.dev.msix;
      if (x !== undefined && bar === x.bar && !(pos + count <= x.offset || pos >= x.offset + x.size))
        return -ERRNO.EINVAL;
    }
    // (64-bit kernels have iowrite64, so 8-byte writes are allowed; vfio_pci_setup_barmap maps any BAR
    // with a resource.)
    const i = this.list.findIndex(
      (r) => r.pos === pos && r.bar === bar && r.data === data && r.count === count,
    );
    if (i >= 0) {
      if (fd !== -1) return -ERRNO.EEXIST;
      this.list[i]!.remove();
      this.list.splice(i, 1);
      return 0;
    }
    if (fd < 0) return -ERRNO.ENODEV;
    if (this.list.length >= VFIO_PCI_IOEVENTFD_MAX) return -ERRNO.ENOSPC;
    // vfio_virqfd_enable: fdget, then eventfd_ctx_fileget
    const e: EventFd | number = this.fds.eventfdCtxFdget(fd);
    if (typeof e === 'number') return e;
    const remove = e.addWaiter(() => {
      if (bar >= 0) this.dev.write(bar, pos, count, data);
    });
    this.list.push({ bar, pos, data, count, remove });
    return 0;
  }

  /** vfio_pci_core_close_device: every ioeventfd goes with the device file. */
  releaseAll(): void {
    for (const r of this.list) r.remove();
    this.list = [];
  }
}
