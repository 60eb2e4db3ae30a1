/**
 * The default platform resolver for scenario runs: a preset name (presets/*.yaml) booted with
 * buildPlatform for the run's kernel profile, with its MSI fabric attached (vfio-pci devices, doorbells).
 */
import { attachMsiFabric, msiFabricOf } from '../irq/fabric.js';
import { buildPlatform } from '../platform/build.js';
import { loadPreset } from '../platform/presets.js';
import type { PlatformDescription } from '../platform/types.js';
import { setPlatformResolver } from './runner.js';
import type { IommuCore } from '../iommu/api.js';
import { type KernelProfile, kernelProfile } from '../kernel/profile.js';

/** Boots a platform description for a kernel profile, with its MSI fabric: the IommuCore a VfioSystem runs on. */
export function bootPlatform(desc: PlatformDescription, profile: KernelProfile = kernelProfile()): IommuCore {
  const core = buildPlatform(desc, profile).iommu;
  if (!msiFabricOf(core)) attachMsiFabric(core, desc);
  return core;
}

/** Boots a preset for a kernel profile, with its MSI fabric: the IommuCore a VfioSystem runs on. */
export function bootPreset(name: string, profile: KernelProfile = kernelProfile()): IommuCore {
  return bootPlatform(loadPreset(name), profile);
}

setPlatformResolver(bootPreset);
