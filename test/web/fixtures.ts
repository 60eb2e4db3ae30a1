/**
 * Host views of two of the oracle's QEMU machines, computed by the model from the built-in presets (not
 * transcribed): QEMU virt + SMMUv3 + GICv3 ITS (one group, the software MSI window) and QEMU q35 +
 * AMD-Vi (four groups, the APIC MSI window and the HyperTransport hole).
 */
import { hostViewFromPlatform } from '../../src/host/from-platform.js';
import type { HostView } from '../../src/host/view.js';
import { kernelProfile } from '../../src/kernel/profile.js';
import { loadPreset } from '../../src/platform/presets.js';

export const ARM_PRESET = 'qemu-virt-smmuv3-gicv3';
export const AMD_PRESET = 'qemu-q35-amd-iommu';

export const ARM_SMMUV3: HostView = hostViewFromPlatform(loadPreset(ARM_PRESET), kernelProfile('6.1'));
export const X86_AMD: HostView = hostViewFromPlatform(loadPreset(AMD_PRESET), kernelProfile('6.1'));
