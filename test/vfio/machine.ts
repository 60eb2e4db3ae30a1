/** Test helpers: a VFIO process on a booted preset, with the e1000e NIC handed to vfio-pci. */
import { attachMsiFabric } from '../../src/irq/fabric.js';
import type { Device, IommuCore } from '../../src/iommu/api.js';
import { type KernelVersion, kernelProfile } from '../../src/kernel/profile.js';
import { AddressSpace, PROT_READ, PROT_WRITE } from '../../src/mm/address-space.js';
import { buildPlatform } from '../../src/platform/build.js';
import { loadPreset } from '../../src/platform/presets.js';
import { VfioSystem } from '../../src/vfio/system.js';
import type { Type1Params } from '../../src/vfio/type1/type1.js';
import { VFIO_TYPE1v2_IOMMU, VFIO_SET_IOMMU } from '../../src/uapi/vfio-type1.js';
import { setContainer } from '../../src/vfio/typed.js';

export const BUF = 0x7f0000000000n;
export const RO = 0x7f0010000000n;

export function boot(preset: string, kernel: KernelVersion = '6.12'): IommuCore {
  const desc = loadPreset(preset);
  const core = buildPlatform(desc, kernelProfile(kernel)).iommu;
  attachMsiFabric(core, desc);
  return core;
}

export function toVfio(core: IommuCore, sel: (d: Device) => boolean): Device {
  const d = core.devices().find(sel)!;
  if (d.driver !== 'none') core.unbindDriver(d);
  const rc = core.bindDriver(d, 'vfio-pci', true);
  if (rc !== 0) throw new Error(`bind ${d.bdf}: ${rc}`);
  return d;
}

export const isNic = (d: Device): boolean => d.vendor === 0x8086 && d.deviceId === 0x10d3;

export interface Machine {
  core: IommuCore;
  sys: VfioSystem;
  nic: Device;
}

export function machine(
  preset: string,
  kernel: KernelVersion = '6.12',
  params: Partial<Type1Params> = {},
): Machine {
  const core = boot(preset, kernel);
  const nic = toVfio(core, isNic);
  const mm = new AddressSpace();
  mm.map('buf', BUF, 16n << 20n, PROT_READ | PROT_WRITE);
  mm.map('robuf', RO, 0x10000n, PROT_READ);
  const sys = new VfioSystem({ core, profile: kernelProfile(kernel), params, mm });
  return { core, sys, nic };
}

/** Container + NIC group attached with TYPE1v2; returns the fds. */
export function attached(
  m: Machine,
  type = VFIO_TYPE1v2_IOMMU,
): { container: number; group: number; rc: number } {
  const container = m.sys.open('/dev/vfio/vfio');
  const group = m.sys.open(`/dev/vfio/${m.nic.groupId}`);
  const a = setContainer(m.sys, group, container);
  if (a !== 0) return { container, group, rc: a };
  return { container, group, rc: m.sys.ioctl(container, VFIO_SET_IOMMU, type) };
}
