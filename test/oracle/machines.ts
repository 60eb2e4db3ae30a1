/**
 * The QEMU machines the oracle booted, loaded from the built-in presets (presets/*.yaml), keyed by
 * oracle scenario name. Test helper shared by the oracle tests.
 */
import type { PlatformDescription } from '../../src/platform/types.js';
import { loadPreset } from '../../src/platform/presets.js';

export const q35Intel = (): PlatformDescription => loadPreset('qemu-q35-intel-iommu');
export const q35Amd = (): PlatformDescription => loadPreset('qemu-q35-amd-iommu');
export const q35VirtioIommu = (): PlatformDescription => loadPreset('qemu-q35-virtio-iommu');
export const virtSmmuv3Gicv3 = (): PlatformDescription => loadPreset('qemu-virt-smmuv3-gicv3');
export const virtSmmuv3Gicv2 = (): PlatformDescription => loadPreset('qemu-virt-smmuv3-gicv2');
export const virtVirtioIommu = (): PlatformDescription => loadPreset('qemu-virt-virtio-iommu');

/** Oracle scenario name → preset. */
export const ORACLE_PRESETS: Readonly<Record<string, string>> = {
  'x86-intel': 'qemu-q35-intel-iommu',
  'x86-amd': 'qemu-q35-amd-iommu',
  'x86-virtio-iommu': 'qemu-q35-virtio-iommu',
  'arm64-smmuv3-gicv3': 'qemu-virt-smmuv3-gicv3',
  'arm64-smmuv3-gicv2': 'qemu-virt-smmuv3-gicv2',
  'arm64-smmuv3-gicv2-unsafe-param': 'qemu-virt-smmuv3-gicv2',
  'arm64-virtio-iommu': 'qemu-virt-virtio-iommu',
};

export const ORACLE_MACHINES: Readonly<Record<string, () => PlatformDescription>> = Object.fromEntries(
  Object.entries(ORACLE_PRESETS).map(([scenario, preset]) => [
    scenario,
    (): PlatformDescription => loadPreset(preset),
  ]),
);
