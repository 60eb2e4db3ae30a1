/**
 * One process using VFIO on one booted platform: its file descriptors (`/dev/vfio/vfio`,
 * `/dev/vfio/<group>`, device fds), its address space, and the vfio_iommu_type1 module parameters.
 * This is the byte layer: `ioctl(fd, cmd, arg)` takes the kernel's bytes and answers rc / -errno.
 */
import { ERRNO } from '../base/errno.js';
import { msiCookieFor } from '../irq/fabric.js';
import type { Device, IommuCore, IommuDomain, IommuGroup } from '../iommu/api.js';
import { type KernelProfile, kernelProfile } from '../kernel/profile.js';
import { AddressSpace } from '../mm/address-space.js';
import { TaskCreds } from '../kernel/task.js';
import {
  VFIO_GROUP_GET_DEVICE_FD,
  VFIO_GROUP_GET_STATUS,
  VFIO_GROUP_SET_CONTAINER,
  VFIO_GROUP_UNSET_CONTAINER,
  getCString,
  getI32,
} from '../uapi/vfio-type1.js';
import { IommufdCtx, type IommufdParams } from '../iommufd/main.js';
import { UserLockedVm } from '../iommufd/pages.js';
import { VfioContainer, VfioGroup } from './container.js';
import { VfioCdevFile } from './device-cdev.js';
import { FdTable, type OpenFile } from './pci/eventfd.js';
import {
  VFIO_PCI_DRIVER,
  type VfioDeviceFile,
  type VfioPciContext,
  openVfioPciDevice,
} from './pci/vfio-pci.js';
import { type Type1Design, type Type1Env, type Type1Params, defaultType1Params } from './type1/type1.js';

export type VfioFile =
  | { readonly kind: 'container'; readonly container: VfioContainer }
  | { readonly kind: 'group'; readonly group: VfioGroup }
  | { readonly kind: 'device'; readonly device: VfioDeviceFile; readonly group: VfioGroup }
  | { readonly kind: 'iommufd'; readonly ctx: IommufdCtx }
  | { readonly kind: 'cdev'; readonly cdev: VfioCdevFile };

export interface VfioSystemOptions {
  readonly core: IommuCore;
  readonly profile?: KernelProfile;
  readonly params?: Partial<Type1Params>;
  readonly mm?: AddressSpace;
  /** The process's RLIMIT_MEMLOCK and capabilities (default: root's, see TaskCreds). */
  readonly task?: TaskCreds;
  /** iommu_get_msi_cookie (default: src/dma-iommu, the MSI-only cookie the doorbell mapping uses). */
  readonly getMsiCookie?: (domain: IommuDomain, base: bigint) => number;
  /** Opens a vfio-pci device file (default: src/vfio/pci). */
  readonly openDevice?: (ctx: VfioPciContext) => VfioDeviceFile;
  /** A historical MSI design for every container (src/designs); default: today's kernel. */
  readonly design?: Type1Design;
  /** Type1Env.shareDomainStore (default true: vfio_dma records live in the only domain's runs). */
  readonly shareDomainStore?: boolean;
  /** The process's descriptor table, shared with its eventfds (default: a new one). */
  readonly fds?: FdTable;
  /**
   * The kernel is built with CONFIG_IOMMUFD and CONFIG_VFIO_DEVICE_CDEV (/dev/iommu and
   * /dev/vfio/devices/vfioN exist). Default: the profile's iommufdCdev (6.12 yes, 6.1 no); Debian's own
   * kernels are built without them.
   */
  readonly iommufd?: boolean;
  /** iommufd.allow_unsafe_interrupts (default false). */
  readonly iommufdParams?: Partial<IommufdParams>;
  /** The largest alignment iommufd gives an allocated IOVA: 2 MiB with transparent huge pages (default), else 4 KiB. */
  readonly iommufdAutoIovaMaxAlign?: bigint;
}

export { VFIO_PCI_DRIVER } from './pci/vfio-pci.js';

export class VfioSystem {
  readonly core: IommuCore;
  readonly profile: KernelProfile;
  readonly params: Type1Params;
  readonly mm: AddressSpace;
  /** The process's RLIMIT_MEMLOCK and CAP_IPC_LOCK: what MAP_DMA's pinning is charged against. */
  readonly task: TaskCreds;
  /** Kernel log lines (pr_warn). */
  readonly klog: string[] = [];
  /** The process's one descriptor table: VFIO files and eventfds share its numbers. */
  readonly fds: FdTable;
  private readonly mine = new WeakSet<VfioFile>();
  /** The last open file `file()` resolved to a VFIO file, and that file. */
  private lastOpen: OpenFile | undefined;
  private lastFile: VfioFile | undefined;
  private readonly vgroups = new Map<number, VfioGroup>();
  private readonly env: Type1Env;
  private readonly openDevice: (ctx: VfioPciContext) => VfioDeviceFile;
  /** /dev/iommu and the VFIO device cdevs exist. */
  readonly hasIommufd: boolean;
  readonly iommufdParams: IommufdParams;
  /** user_struct->locked_vm of the process's user (iommufd's default accounting). */
  readonly userLocked = new UserLockedVm();
  private readonly iommufdMaxAlign: bigint;

  constructor(o: VfioSystemOptions) {
    this.core = o.core;
    this.profile = o.profile ?? o.core.profile ?? kernelProfile();
    this.params = { ...defaultType1Params(), ...o.params };
    this.mm = o.mm ?? new AddressSpace();
    this.task = o.task ?? new TaskCreds();
    this.fds = o.fds ?? new FdTable();
    this.openDevice = o.openDevice ?? openVfioPciDevice;
    this.hasIommufd = o.iommufd ?? this.profile.iommufdCdev;
    this.iommufdParams = { allowUnsafeInterrupts: false, ...o.iommufdParams };
    this.iommufdMaxAlign = o.iommufdAutoIovaMaxAlign ?? 0x200000n;
    this.env = {
      core: this.core,
      profile: this.profile,
      params: this.params,
      mm: this.mm,
      task: this.task,
      getMsiCookie: o.getMsiCookie ?? msiCookieFor(o.core),
      log: (l) => this.klog.push(l),
      design: o.design,
      shareDomainStore: o.shareDomainStore,
    };
  }

  /** The VFIO file behind `fd` (undefined for a closed fd or another kind of file, e.g. an eventfd). */
  file(fd: number): VfioFile | undefined {
    const f = this.fds.get(fd);
    // The same open file always gives the same answer: skip the WeakSet on repeated ioctls.
    if (f !== undefined && f === this.lastOpen) return this.lastFile;
    const v =
      f?.kind === 'file' && this.mine.has(f.payload as VfioFile) ? (f.payload as VfioFile) : undefined;
    if (v !== undefined) {
      this.lastOpen = f;
      this.lastFile = v;
    }
    return v;
  }

  private *vfioFiles(): Generator<VfioFile> {
    for (const [fd] of this.fds.entries()) {
      const f = this.file(fd);
      if (f) yield f;
    }
  }

  /** The container behind an fd (container fd, or a group fd's container). */
  container(fd: number): VfioContainer | undefined {
    const f = this.file(fd);
    if (!f) return undefined;
    return f.kind === 'container'
      ? f.container
      : f.kind === 'group' || f.kind === 'device'
        ? f.group.container
        : undefined;
  }

  /** The iommufd context behind an fd (/dev/iommu), if it is one. */
  iommufd(fd: number): IommufdCtx | undefined {
    const f = this.file(fd);
    return f?.kind === 'iommufd' ? f.ctx : undefined;
  }

  /** Devices bound to vfio-pci in the core's order: device n is /dev/vfio/devices/vfio<n>. */
  cdevDevices(): Device[] {
    return this.core.devices().filter((d) => d.driver === VFIO_PCI_DRIVER && d.groupId !== undefined);
  }

  private vfioGroup(ig: IommuGroup): VfioGroup {
    let g = this.vgroups.get(ig.id);
    if (!g) {
      g = new VfioGroup(ig);
      this.vgroups.set(ig.id, g);
    }
    return g;
  }

  /** Which `/dev/vfio/<n>` nodes exist: groups with a device bound to vfio-pci. */
  groupNodes(): number[] {
    return this.core
      .groups()
      .filter((g) => g.devices.some((d) => d.driver === VFIO_PCI_DRIVER))
      .map((g) => g.id);
  }

  /** open(2): an fd, or -errno (-ENOENT for a node that does not exist, -EBUSY for a group already open). */
  open(path: string): number {
    if (path === '/dev/vfio/vfio') {
      return this.install({ kind: 'container', container: new VfioContainer(this.env) });
    }
    if (path === '/dev/iommu') {
      if (!this.hasIommufd) return -ERRNO.ENOENT;
      const ctx = new IommufdCtx({
        core: this.core,
        mm: this.mm,
        task: this.task,
        user: this.userLocked,
        params: this.iommufdParams,
        autoIovaMaxAlign: this.iommufdMaxAlign,
        getMsiCookie: this.env.getMsiCookie,
      });
      return this.install({ kind: 'iommufd', ctx });
    }
    const cd = /^\/dev\/vfio\/devices\/vfio(\d+)$/.exec(path);
    if (cd) {
      const dev = this.hasIommufd ? this.cdevDevices()[Number(cd[1])] : undefined;
      const ig = dev && this.core.groupOf(dev);
      if (!dev || !ig) return -ERRNO.ENOENT;
      const cdev = new VfioCdevFile(dev, this.vfioGroup(ig), {
        iommufdOf: (fd) => (this.fds.get(fd) === undefined ? 'closed' : (this.iommufd(fd) ?? 'other')),
        openDevice: (d) => this.openPciDevice(d),
        log: (l) => this.klog.push(l),
      });
      return this.install({ kind: 'cdev', cdev });
    }
    const m = /^\/dev\/vfio\/(\d+)$/.exec(path);
    if (!m) return -ERRNO.ENOENT;
    const id = Number(m[1]);
    const ig = this.core.group(id);
    if (!ig || !ig.devices.some((d) => d.driver === VFIO_PCI_DRIVER)) return -ERRNO.ENOENT;
    const g = this.vfioGroup(ig);
    // vfio_group_fops_open: a device of the group bound through its cdev blocks the group file
    if (g.cdevOpenCount > 0) return -ERRNO.EBUSY;
    if (g.opened) return -ERRNO.EBUSY;
    g.opened = true;
    return this.install({ kind: 'group', group: g });
  }

  private install(f: VfioFile): number {
    this.mine.add(f);
    const name =
      f.kind === 'container'
        ? '/dev/vfio/vfio'
        : f.kind === 'group'
          ? `/dev/vfio/${f.group.iommuGroup.id}`
          : f.kind === 'iommufd'
            ? '/dev/iommu'
            : f.kind === 'cdev'
              ? `/dev/vfio/devices/vfio${this.cdevDevices().indexOf(f.cdev.dev)}`
              : '[vfio-device]';
    return this.fds.openFile(name, f);
  }

  /** close(2). Closing a group fd detaches it from its container once no device fd holds it. */
  close(fd: number): number {
    const f = this.file(fd);
    if (!f) return this.fds.close(fd);
    this.fds.close(fd);
    if (f.kind === 'device') {
      f.device.close();
      f.group.containerUsers--;
      this.maybeReleaseGroup(f.group);
    } else if (f.kind === 'group') {
      this.maybeReleaseGroup(f.group);
    } else if (f.kind === 'cdev') {
      f.cdev.close();
    } else if (f.kind === 'iommufd') {
      f.ctx.put();
    }
    return 0;
  }

  private maybeReleaseGroup(g: VfioGroup): void {
    for (const x of this.vfioFiles())
      if ((x.kind === 'group' || x.kind === 'device') && x.group === g) return;
    // vfio_group_fops_release
    if (g.container) g.container.detachGroup(g);
    g.opened = false;
  }

  /** ioctl(2) on the user's bytes (`arg` is the buffer for pointer arguments, a number otherwise). */
  ioctl(fd: number, cmd: number, arg?: Uint8Array | number): number {
    const f = this.file(fd);
    // vfs_ioctl: a file without unlocked_ioctl (an eventfd) answers -ENOTTY
    if (!f) return this.fds.get(fd) !== undefined ? -ERRNO.ENOTTY : -ERRNO.EBADF;
    switch (f.kind) {
      case 'container':
        return f.container.ioctl(cmd, arg);
      case 'device':
        return arg instanceof Uint8Array ? f.device.ioctl(cmd, arg) : f.device.ioctl(cmd, new Uint8Array(0));
      case 'group':
        return this.groupIoctl(f.group, cmd, arg);
      case 'iommufd':
        return f.ctx.ioctl(cmd, arg);
      case 'cdev':
        return f.cdev.ioctl(cmd, arg instanceof Uint8Array ? arg : new Uint8Array(0));
    }
  }

  /** vfio_group_fops_unl_ioctl */
  private groupIoctl(g: VfioGroup, cmd: number, arg: Uint8Array | number | undefined): number {
    switch (cmd) {
      case VFIO_GROUP_GET_STATUS:
        return g.getStatus(arg, this.core);
      case VFIO_GROUP_SET_CONTAINER: {
        if (!(arg instanceof Uint8Array) || arg.length < 4) return -ERRNO.EFAULT;
        const tfd = getI32(arg, 0);
        if (this.fds.get(tfd) === undefined) return -ERRNO.EBADF; // fdget
        if (g.container) return -ERRNO.EINVAL;
        // vfio_container_from_file: any other file (group/device fd, eventfd) is not a container
        const target = this.file(tfd);
        if (target?.kind !== 'container') return -ERRNO[this.profile.setContainerForeignFdErrno];
        return target.container.attachGroup(g);
      }
      case VFIO_GROUP_UNSET_CONTAINER:
        return g.unsetContainer();
      case VFIO_GROUP_GET_DEVICE_FD:
        return this.getDeviceFd(g, arg);
      default:
        return -ERRNO.ENOTTY;
    }
  }

  /** vfio_group_ioctl_get_device_fd */
  private getDeviceFd(g: VfioGroup, arg: Uint8Array | number | undefined): number {
    if (!(arg instanceof Uint8Array)) return -ERRNO.EFAULT;
    const name = getCString(arg);
    if (name === undefined) return -ERRNO.EFAULT;
    const dev = g.iommuGroup.devices.find((d) => d.bdf === name && d.driver === VFIO_PCI_DRIVER);
    if (!dev) return -ERRNO.ENODEV;
    // vfio_device_assign_container
    if (!g.container || !g.container.iommu || g.containerUsers === 0) return -ERRNO.EINVAL;
    const file = this.openPciDevice(dev);
    g.containerUsers++;
    return this.install({ kind: 'device', device: file, group: g });
  }

  /** vfio-pci's open_device for a device fd (group path or cdev). */
  private openPciDevice(dev: Device): VfioDeviceFile {
    return this.openDevice({
      core: this.core,
      device: dev,
      profile: this.profile,
      fds: this.fds,
      groupOfFd: (fd) => {
        if (this.fds.get(fd) === undefined) return 'closed';
        const f = this.file(fd);
        return f?.kind === 'group' ? { group: f.group.iommuGroup.id } : 'not-a-group';
      },
    });
  }
}
