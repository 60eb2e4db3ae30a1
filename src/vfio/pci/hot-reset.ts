/**
 * vfio-pci's bus/slot reset ioctls (drivers/vfio/pci/vfio_pci_core.c):
 * VFIO_DEVICE_GET_PCI_HOT_RESET_INFO lists every device a reset of this device's slot or bus would
 * also reset (with its IOMMU group), and VFIO_DEVICE_PCI_HOT_RESET does that reset when the caller
 * proves, with group fds, that it owns all of them.
 *
 * A device on a root bus (every QEMU machine of conformance/, whose e1000e sits on pcie.0) has no
 * bridge above it to reset a bus with: both answer -ENODEV after the header checks, and 6.12 first
 * refuses an empty group list from a group-opened device (count 0 is the iommufd/cdev form). Those are
 * checked in conformance/golden (`common/hot-reset.iovx`), and so is a device behind a root port
 * (machine x86-intel-rp: the list, ENOSPC, the group checks, and the reset that fails with ENOTTY
 * because QEMU's port never reports its link back). Behind a bridge the model does a bus reset:
 * a PCIe port's secondary bus holds one slot, so a slot reset (pciehp) would list the same devices; on
 * a conventional bus with several slots the kernel may reset one slot where the model names the bus.
 * The PCI_DEV_FLAGS_NO_BUS_RESET quirks (devices known to break on a bus reset: the bridge, or any
 * device on or below its bus) make both probes fail too (pci_bus_resettable), so ENODEV as well.
 * Not modelled: the cdev/iommufd form of both ioctls.
 */
import type { IommuCore } from '../../iommu/api.js';
import type { KernelProfile } from '../../kernel/profile.js';
import { busResetBlocker } from '../../pci/reset.js';
import type { PciDev } from '../../pci/topology.js';
import { ERRNO } from '../../base/errno.js';
import {
  VFIO_PCI_DEPENDENT_DEVICE_SIZE,
  VFIO_PCI_HOT_RESET_HEADER_SIZE as VFIO_PCI_HOT_RESET_MINSZ,
  fits,
  rdS32,
  rdU32,
  wrU16,
  wrU32,
} from '../../uapi/vfio-device.js';

/** What an fd in the group list is: a VFIO group (its IOMMU group), another file, or no file. */
export type GroupFdAnswer = { readonly group: number } | 'not-a-group' | 'closed';

export interface HotResetContext {
  readonly core: IommuCore;
  readonly profile: KernelProfile;
  readonly bdf: string;
  /** fget + vfio_file_is_group on an fd of the caller's table. */
  groupOfFd(fd: number): GroupFdAnswer;
  /** The device is bound to vfio-pci (a member of the reset's vfio device set). */
  isVfioPci(bdf: string): boolean;
}

/**
 * The devices a reset of `dev`'s bus reaches, in the kernel's order (vfio_pci_for_each_slot_or_bus):
 * each device of the bus in order, each followed by everything below it if it is a bridge. Undefined
 * when no reset can be done (pci_probe_reset_slot and pci_probe_reset_bus both fail): a root bus has
 * no bridge (bus->self) to reset it, and a NO_BUS_RESET quirk forbids it.
 */
export function resetScope(dev: PciDev): PciDev[] | undefined {
  const up = dev.upstream;
  // pci_probe_reset_slot / pci_probe_reset_bus: a root bus, or a device marked NO_BUS_RESET on the way
  if (up === undefined || busResetBlocker(up) !== undefined) return undefined;
  const out: PciDev[] = [];
  const walk = (d: PciDev): void => {
    out.push(d);
    for (const c of [...d.children].sort((a, b) => a.devfn - b.devfn)) walk(c);
  };
  for (const d of [...up.children].sort((a, b) => a.devfn - b.devfn)) walk(d);
  return out;
}

/** vfio_pci_ioctl_get_pci_hot_reset_info (a group-opened device: group ids, flags 0). */
export function getPciHotResetInfo(ctx: HotResetContext, arg: Uint8Array): number {
  if (!fits(arg, 0, VFIO_PCI_HOT_RESET_MINSZ)) return -ERRNO.EFAULT;
  const argsz = rdU32(arg, 0);
  if (argsz < VFIO_PCI_HOT_RESET_MINSZ) return -ERRNO.EINVAL;
  const dev = ctx.core.topology.get(ctx.bdf);
  const scope = dev === undefined ? undefined : resetScope(dev);
  if (scope === undefined) return -ERRNO.ENODEV;
  const need = VFIO_PCI_HOT_RESET_MINSZ + scope.length * VFIO_PCI_DEPENDENT_DEVICE_SIZE;
  if (argsz < need) {
    // the header goes back (argsz as given) with the count the caller must make room for
    wrU32(arg, 4, 0);
    wrU32(arg, 8, scope.length);
    return -ERRNO.ENOSPC;
  }
  const out = new Uint8Array(scope.length * VFIO_PCI_DEPENDENT_DEVICE_SIZE);
  for (let i = 0; i < scope.length; i++) {
    const d = scope[i]!;
    // vfio_pci_fill_devs: a device without an IOMMU group cannot be owned by anyone
    const group = ctx.core.device(d.bdf)?.groupId;
    if (group === undefined) {
      // 6.1 still writes the header back (flags 0, the caller's count); 6.12 writes nothing
      if (ctx.profile.hotResetInfoHeaderOnError) wrU32(arg, 4, 0);
      return -ERRNO.EPERM;
    }
    const o = i * VFIO_PCI_DEPENDENT_DEVICE_SIZE;
    wrU32(out, o, group);
    wrU16(out, o + 4, d.addr.segment);
    out[o + 6] = d.addr.bus;
    out[o + 7] = d.devfn;
  }
  if (!fits(arg, VFIO_PCI_HOT_RESET_MINSZ, out.length)) return -ERRNO.EFAULT;
  arg.set(out, VFIO_PCI_HOT_RESET_MINSZ);
  wrU32(arg, 4, 0);
  wrU32(arg, 8, scope.length);
  return 0;
}

/** vfio_pci_ioctl_pci_hot_reset with a group list (vfio_pci_ioctl_pci_hot_reset_groups). */
export function pciHotReset(ctx: HotResetContext, arg: Uint8Array): number {
  if (!fits(arg, 0, VFIO_PCI_HOT_RESET_MINSZ)) return -ERRNO.EFAULT;
  const argsz = rdU32(arg, 0);
  const flags = rdU32(arg, 4);
  const count = rdU32(arg, 8);
  if (argsz < VFIO_PCI_HOT_RESET_MINSZ || flags !== 0) return -ERRNO.EINVAL;
  // 6.12: an empty list is the cdev (iommufd) form; a group-opened device must pass groups
  if (ctx.profile.hotResetNeedsGroupList && count === 0) return -ERRNO.EINVAL;
  const dev = ctx.core.topology.get(ctx.bdf);
  const scope = dev === undefined ? undefined : resetScope(dev);
  if (scope === undefined) return -ERRNO.ENODEV;
  // somewhere between 1 and one group per affected device
  if (count === 0 || count > scope.length) return -ERRNO.EINVAL;
  if (!fits(arg, VFIO_PCI_HOT_RESET_MINSZ, count * 4)) return -ERRNO.EFAULT;
  const groups = new Set<number>();
  for (let i = 0; i < count; i++) {
    const g = ctx.groupOfFd(rdS32(arg, VFIO_PCI_HOT_RESET_MINSZ + 4 * i));
    if (g === 'closed') return -ERRNO.EBADF;
    if (g === 'not-a-group') return -ERRNO.EINVAL;
    groups.add(g.group);
  }
  // vfio_pci_dev_set_resettable: every device the reset reaches is a vfio-pci device of the set;
  // vfio_dev_in_groups: and each is in one of the groups given
  for (const d of scope) {
    const cd = ctx.core.device(d.bdf);
    if (cd === undefined || !ctx.isVfioPci(d.bdf)) return -ERRNO.EINVAL;
    if (cd.groupId === undefined || !groups.has(cd.groupId)) return -ERRNO.EINVAL;
  }
  // pci_reset_bus saves and restores every function's config state around the reset; the bridge
  // then waits for the link below (pci_bridge_wait_for_secondary_bus): -ENOTTY if it stays down
  if (dev?.upstream?.desc.bridge?.linkUpAfterReset === false) return -ERRNO.ENOTTY;
  return 0;
}
