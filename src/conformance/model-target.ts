/**
 * The model as a conformance target: the platform booted from its preset (IOMMU core, MSI fabric),
 * the devices handed to vfio-pci as the guest init does, a sysfs view (iommu_groups, module
 * parameters, device config space) and vfio's VfioSystem for the uAPI, in a process whose memory is
 * the executor's (EXEC_MEMORY). `modelSysfsTarget` alone is the sysfs part (it stops a scenario at
 * its first uAPI operation).
 */

import { ERRNO } from '../base/errno.js';
import type { Device } from '../iommu/api.js';
import { domainTypeSysfs } from '../iommu/api.js';
import { kernelProfile, type KernelVersion } from '../kernel/profile.js';
import { buildPlatform, type PlatformModel } from '../platform/build.js';
import { loadPreset } from '../platform/presets.js';
import { attachMsiFabric, msiFabricOf } from '../irq/fabric.js';
import { AddressSpace, PROT_READ, PROT_WRITE } from '../mm/address-space.js';
import { RLIM_INFINITY } from '../kernel/task.js';
import { cString } from '../uapi/vfio-type1.js';
import { isType1ParamName, kstrtobool, readType1Param, writeType1Param } from '../vfio/params.js';
import { type VfioDeviceFile, pciPowerStateName } from '../vfio/pci/vfio-pci.js';
import { VfioSystem } from '../vfio/system.js';
import { defaultType1Params, type Type1Params } from '../vfio/type1/type1.js';
import type { OpName } from './compiled.js';
import { EXEC_BUF_FILL, EXEC_MEMORY, type ConformanceTarget, type ExecArgs } from './exec.js';
import { MACHINES } from './machines.js';
import type { TargetFactory } from './runner.js';

const SYSFS_OPS: ReadonlySet<OpName> = new Set<OpName>([
  'groups',
  'resv',
  'param_get',
  'param_set',
  'group_type',
]);
const NIC = { vendor: 0x8086, device: 0x10d3 };
/** iommufd's module parameter (a kernel with CONFIG_IOMMUFD=y has it under /sys/module/iommufd). */
const IOMMUFD_UNSAFE = '/sys/module/iommufd/parameters/allow_unsafe_interrupts';

const hex4 = (n: number): string => '0x' + n.toString(16).padStart(4, '0');
const hex6 = (n: number): string => '0x' + n.toString(16).padStart(6, '0');

/** The guest init: driver_override=vfio-pci, unbind, drivers_probe (really_probe with driver_managed_dma). */
function handToVfio(m: PlatformModel, dev: Device): void {
  if (dev.driver !== 'none') m.iommu.unbindDriver(dev);
  m.iommu.bindDriver(dev, 'vfio-pci', true);
}

/** A sysfs view over the model: /sys/kernel/iommu_groups and the module parameters. */
export function modelSysfsTarget(
  m: PlatformModel,
  params: Type1Params = defaultType1Params(),
): ConformanceTarget {
  const core = m.iommu;
  const groupOf = (path: string): [number, string[]] | undefined => {
    const r = /^\/sys\/kernel\/iommu_groups\/(\d+)(\/.*)?$/.exec(path);
    if (!r) return undefined;
    return [Number(r[1]), (r[2] ?? '').split('/').filter((x) => x !== '')];
  };
  const notModelled = (): number => -ERRNO.ENOTTY;
  return {
    supports: (op) => SYSFS_OPS.has(op),
    open: notModelled,
    close: notModelled,
    ioctl: notModelled,
    eventfd: notModelled,
    readEventfd: notModelled,
    readFile(path) {
      const pm = /^\/sys\/module\/vfio_iommu_type1\/parameters\/([a-z_]+)$/.exec(path);
      if (pm) return isType1ParamName(pm[1]!) ? readType1Param(params, pm[1]) : -ERRNO.ENOENT;
      const gp = groupOf(path);
      const g = gp && core.group(gp[0]);
      if (!gp || !g) return -ERRNO.ENOENT;
      const rest = gp[1];
      if (rest.length === 1 && rest[0] === 'type') return domainTypeSysfs(g.defaultDomainType) + '\n';
      if (rest.length === 1 && rest[0] === 'reserved_regions') return core.reservedRegionsText(g);
      if (rest.length === 3 && rest[0] === 'devices') {
        const d = g.devices.find((x) => x.bdf === rest[1]);
        if (!d) return -ERRNO.ENOENT;
        if (rest[2] === 'vendor') return hex4(d.vendor) + '\n';
        if (rest[2] === 'device') return hex4(d.deviceId) + '\n';
        if (rest[2] === 'class') return hex6(d.class) + '\n';
      }
      return -ERRNO.ENOENT;
    },
    writeFile(path, text) {
      const pm = /^\/sys\/module\/vfio_iommu_type1\/parameters\/([a-z_]+)$/.exec(path);
      if (pm) return isType1ParamName(pm[1]!) ? writeType1Param(params, pm[1], text) : -ERRNO.ENOENT;
      const gp = groupOf(path);
      const g = gp && core.group(gp[0]);
      if (!gp || !g) return -ERRNO.ENOENT;
      // iommu_group_store_type
      if (gp[1].length === 1 && gp[1][0] === 'type') return core.storeGroupType(g, text);
      return -ERRNO.EACCES;
    },
    listDir(path) {
      if (path === '/sys/kernel/iommu_groups') return core.groups().map((g) => String(g.id));
      const gp = groupOf(path);
      const g = gp && core.group(gp[0]);
      if (gp && g && gp[1].length === 1 && gp[1][0] === 'devices') return g.devices.map((d) => d.bdf);
      return -ERRNO.ENOENT;
    },
    readLink(path) {
      const gp = groupOf(path);
      const g = gp && core.group(gp[0]);
      const rest = gp?.[1] ?? [];
      const d =
        g && rest.length === 3 && rest[0] === 'devices' && rest[2] === 'driver'
          ? g.devices.find((x) => x.bdf === rest[1])
          : undefined;
      if (!d || d.driver === 'none') return -ERRNO.ENOENT;
      return `../../../../bus/pci/drivers/${d.driver}`;
    },
  };
}

/** Boots the machine's preset on the kernel profile and binds the devices as the guest init does. */
export function bootMachine(
  machine: string,
  kernel: KernelVersion,
): { model: PlatformModel; args: ExecArgs } | undefined {
  const mc = MACHINES.find((x) => x.name === machine);
  if (!mc) return undefined;
  const desc = loadPreset(mc.preset);
  const model = buildPlatform(desc, kernelProfile(kernel));
  if (!msiFabricOf(model.iommu)) attachMsiFabric(model.iommu, desc);
  for (const [bdf, driver] of Object.entries(mc.builtinDrivers ?? {})) {
    const dev = model.iommu.device(bdf);
    if (dev && dev.driver === 'none') model.iommu.bindDriver(dev, driver);
  }
  const groups: (number | undefined)[] = [];
  const devices: (string | undefined)[] = [];
  const nic = model.iommu.devices().find((d) => d.vendor === NIC.vendor && d.deviceId === NIC.device);
  if (nic) {
    handToVfio(model, nic);
    groups[0] = model.iommu.groupOf(nic)?.id;
    devices[0] = nic.bdf;
  }
  const second = mc.secondDevice !== undefined ? model.iommu.device(mc.secondDevice) : undefined;
  if (second) {
    handToVfio(model, second);
    groups[1] = model.iommu.groupOf(second)?.id;
    devices[1] = second.bdf;
  }
  return { model, args: { groups, devices } };
}

/**
 * The whole model: the sysfs view plus vfio's VfioSystem (container/group/device fds on uapi bytes)
 * in a process whose address space has the executor's buffers, the device eventfds, the devices'
 * config space as sysfs shows it.
 */
export function modelVfioTarget(m: PlatformModel): ConformanceTarget {
  const mm = new AddressSpace();
  for (const r of EXEC_MEMORY)
    mm.map(r.name, r.addr, r.size, r.prot === 'rw' ? PROT_READ | PROT_WRITE : PROT_READ);
  // iovaexec fills its read-write buffer with 0x5a at start
  mm.memsetRegion('buf', EXEC_BUF_FILL);
  // one descriptor table for the VFIO files and the eventfds, like the executor's process
  const sys = new VfioSystem({ core: m.iommu, profile: m.profile, mm });
  const fds = sys.fds;
  const sysfs = modelSysfsTarget(m, sys.params);
  const fabric = msiFabricOf(m.iommu);
  // the device behind a group-path device fd or a cdev (which answers EINVAL until bound)
  const device = (fd: number): Pick<VfioDeviceFile, 'bdf' | 'pread' | 'pwrite'> | undefined => {
    const f = sys.file(fd);
    return f?.kind === 'device' ? f.device : f?.kind === 'cdev' ? f.cdev : undefined;
  };
  return {
    ...sysfs,
    supports: undefined,
    readFile(path) {
      // the executor's own process: VmLck is mm->locked_vm (what VFIO charged for its pins), in kB
      if (path === '/proc/self/status') return `VmLck:\t${String(mm.lockedVmBytes / 1024).padStart(8)} kB\n`;
      if (path === IOMMUFD_UNSAFE && sys.hasIommufd)
        return sys.iommufdParams.allowUnsafeInterrupts ? 'Y\n' : 'N\n';
      const ps = /^\/sys\/bus\/pci\/devices\/([0-9a-f:.]+)\/power_state$/.exec(path);
      if (ps) return pciPowerStateName(m.iommu, ps[1]!)?.concat('\n') ?? -ERRNO.ENOENT;
      const c = /^\/sys\/bus\/pci\/devices\/([0-9a-f:.]+)\/config$/.exec(path);
      if (!c) return sysfs.readFile(path);
      const cfg = fabric?.pci(c[1]!)?.model.config;
      return cfg === undefined ? -ERRNO.ENOENT : String.fromCharCode(...cfg);
    },
    writeFile(path, text) {
      if (path !== IOMMUFD_UNSAFE || !sys.hasIommufd) return sysfs.writeFile(path, text);
      // param_set_bool (kstrtobool)
      const b = kstrtobool(text);
      if (b === undefined) return -ERRNO.EINVAL;
      sys.iommufdParams.allowUnsafeInterrupts = b;
      return text.length;
    },
    listDir(path) {
      // a vfio-pci device's cdev name (vfio_device_set_name / the vfio-dev class directory)
      const v = /^\/sys\/bus\/pci\/devices\/([0-9a-f:.]+)\/vfio-dev$/.exec(path);
      if (!v) return sysfs.listDir(path);
      const i = sys.hasIommufd ? sys.cdevDevices().findIndex((d) => d.bdf === v[1]) : -1;
      return i < 0 ? -ERRNO.ENOENT : [`vfio${i}`];
    },
    open: (path) => sys.open(path),
    close: (fd) => sys.close(fd),
    ioctl: (fd, cmd, arg) => sys.ioctl(fd, cmd, typeof arg === 'string' ? cString(arg) : arg),
    // the executor's own loads and stores (bitmaps it fills and reads back)
    readMemory: (addr, buf) => mm.copyFromUser(buf, addr),
    writeMemory: (addr, bytes) => mm.copyToUser(addr, bytes),
    // the executor runs as root: raising the hard limit is allowed (CAP_SYS_RESOURCE)
    setrlimitMemlock: (cur) => sys.task.setMemlock(cur, RLIM_INFINITY),
    mlock: (addr, len, lock) => mm.mlock(addr, len, lock, sys.task, m.iommu.pageSize),
    setCapIpcLock(on) {
      sys.task.capIpcLock = on;
      return 0;
    },
    eventfd: () => fds.eventfd(),
    readEventfd: (fd) => fds.eventFd(fd)?.read() ?? -11, // -EAGAIN
    writeEventfd: (fd, v) => fds.writeEventfd(fd, v),
    pread: (fd, buf, off) => device(fd)?.pread(off, buf) ?? -ERRNO.EBADF,
    // BAR accesses reach the device model, whose e1000e registers raise its interrupts
    // (src/pci/qemu-e1000e.ts)
    pwrite: (fd, buf, off) => device(fd)?.pwrite(off, buf) ?? -ERRNO.EBADF,
  };
}

export const modelTargetFactory: TargetFactory = (machine, kernel) => {
  const b = bootMachine(machine, kernel);
  return b && { target: modelVfioTarget(b.model), args: b.args };
};
