/**
 * The default platform resolver for scenario runs: a preset name (presets/*.yaml) booted with
 * buildPlatform for the run's kernel profile.
 */
import { buildPlatform } from '../platform/build.js';
import { loadPreset } from '../platform/presets.js';
import { setPlatformResolver } from './runner.js';

setPlatformResolver((name, profile) => buildPlatform(loadPreset(name), profile).iommu);
