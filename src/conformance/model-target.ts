/**
 * The model as a conformance target. What is modelled today: the platform (presets + IOMMU core:
 * groups, default domain types, device membership and drivers, reserved_regions) and the
 * vfio_iommu_type1 module parameters, i.e. the sysfs evidence. The VFIO uAPI (vfio's `VfioSystem`:
 * open/ioctl/close on uapi bytes) plugs into `open/close/ioctl` below once it is on main; until then
 * `supports` stops each scenario before its first uAPI operation and the suite compares that prefix.
 */

import { ERRNO } from '../base/errno.js';
import type { Device } from '../iommu/api.js';
import { domainTypeSysfs } from '../iommu/api.js';
import { kernelProfile, type KernelVersion } from '../kernel/profile.js';
import { buildPlatform, type PlatformModel } from '../platform/build.js';
import { loadPreset } from '../platform/presets.js';
import type { OpName } from './compiled.js';
import type { ConformanceTarget, ExecArgs } from './exec.js';
import { MACHINES } from './machines.js';
import type { TargetFactory } from './runner.js';

const SYSFS_OPS: ReadonlySet<OpName> = new Set<OpName>(['groups', 'resv', 'param_get', 'param_set']);
const NIC = { vendor: 0x8086, device: 0x10d3 };

/** The vfio_iommu_type1 module parameters as the model holds them (vfio's Type1Params has this shape). */
export interface Type1ParamValues {
  allowUnsafeInterrupts: boolean;
  dmaEntryLimit: number;
  disableHugepages: boolean;
}

const PARAM_FIELD = {
  allow_unsafe_interrupts: 'allowUnsafeInterrupts',
  dma_entry_limit: 'dmaEntryLimit',
  disable_hugepages: 'disableHugepages',
} as const;

/** /sys/module/vfio_iommu_type1/parameters/<name>: bools print Y/N (param_get_bool), the limit as a uint. */
export function readParam(p: Type1ParamValues, name: string): string | number {
  const f = PARAM_FIELD[name as keyof typeof PARAM_FIELD];
  if (f === undefined) return -ERRNO.ENOENT;
  const v = p[f];
  return `${typeof v === 'boolean' ? (v ? 'Y' : 'N') : v}\n`;
}

/** Writing a parameter: param_set_bool (kstrtobool: 1/y/Y/0/n/N...) or param_set_uint (kstrtouint base 0). */
export function writeParam(p: Type1ParamValues, name: string, text: string): number {
  const f = PARAM_FIELD[name as keyof typeof PARAM_FIELD];
  if (f === undefined) return -ERRNO.ENOENT;
  const t = text.trim();
  if (f === 'dmaEntryLimit') {
    if (!/^(0x[0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.test(t)) return -ERRNO.EINVAL;
    const n = t.startsWith('0x')
      ? parseInt(t, 16)
      : t.length > 1 && t.startsWith('0')
        ? parseInt(t, 8)
        : Number(t);
    if (n > 0xffffffff) return -ERRNO.ERANGE;
    p.dmaEntryLimit = n;
  } else {
    const c = t[0];
    if (c === '1' || c === 'y' || c === 'Y') p[f] = true;
    else if (c === '0' || c === 'n' || c === 'N') p[f] = false;
    else return -ERRNO.EINVAL;
  }
  return text.length;
}

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
  params: Type1ParamValues = { allowUnsafeInterrupts: false, dmaEntryLimit: 65535, disableHugepages: false },
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
      if (pm) return readParam(params, pm[1]!);
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
      return pm ? writeParam(params, pm[1]!, text) : -ERRNO.EACCES;
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
  const model = buildPlatform(loadPreset(mc.preset), kernelProfile(kernel));
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

export const modelTargetFactory: TargetFactory = (machine, kernel) => {
  const b = bootMachine(machine, kernel);
  return b && { target: modelSysfsTarget(b.model), args: b.args };
};
