/**
 * The default platform resolver for scenario runs: a preset name (presets/*.yaml) booted with
 * buildPlatform for the run's kernel profile, with its MSI fabric attached (vfio-pci devices, doorbells).
 */
import { attachMsiFabric, msiFabricOf } from '../irq/fabric.js';
import { buildPlatform } from '../platform/build.js';
import { loadPreset } from '../platform/presets.js';
import { setPlatformResolver } from './runner.js';
import type { IommuCore } from '../iommu/api.js';
import { type KernelProfile, kernelProfile } from '../kernel/profile.js';

/** Boots a preset for a kernel profile, with its MSI fabric: the IommuCore a VfioSystem runs on. */
export function bootPreset(name: string, profile: KernelProfile = kernelProfile()): IommuCore {
  const desc = loadPreset(name);
  const core = buildPlatform(desc, profile).iommu;
  if (!msiFabricOf(core)) attachMsiFabric(core, desc);
  return core;
}

setPlatformResolver(bootPreset);
