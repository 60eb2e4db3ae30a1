/**
 * Interrupt isolation ("safe interrupts", spec 4.5), per kernel profile:
 * - 6.12: iommu_group_has_isolated_msi — every device's MSI parent domain isolates
 *   (msi_device_has_isolated_msi: IRQ_DOMAIN_FLAG_ISOLATED_MSI on the ITS, Intel/AMD IR domains).
 * - 6.1: irq_domain_check_msi_remap() (system-wide: every MSI domain remaps) ||
 *   IOMMU_CAP_INTR_REMAP of a device's IOMMU (vfio_iommu_type1_attach_group).
 */
import type { InterruptControllerDescription, PlatformDescription } from '../platform/types.js';
import type { CoreDevice } from './device.js';
import { msiParentOf } from './drivers/ops.js';

/** Does this controller's MSI domain carry the isolation flag, for a device translated by `dev.ops`? */
function controllerIsolates(
  platform: PlatformDescription,
  ic: InterruptControllerDescription,
  dev: CoreDevice,
): boolean {
  switch (ic.kind) {
    case 'gicv3-its':
      return ic.isolationQuirk !== true;
    case 'gicv2m':
    case 'host-bridge-msi':
      return false;
    case 'x86-apic': {
      // The device's MSIs go through an interrupt-remapping domain (IR-PCI-MSI) when its remapping
      // unit (remappedBy, else its own Intel/AMD IOMMU) has interrupt remapping enabled.
      const id = ic.remappedBy ?? dev.iommuId;
      const u = platform.iommus.find((i) => i.id === id);
      return (
        u !== undefined &&
        (u.driver === 'intel-iommu' || u.driver === 'amd-iommu') &&
        u.interruptRemapping === true
      );
    }
  }
}

/** msi_device_has_isolated_msi (>= 6.3). A device without an MSI parent has nothing to isolate: false. */
export function deviceHasIsolatedMsi(platform: PlatformDescription, dev: CoreDevice): boolean {
  const ic = msiParentOf(platform, dev.pci);
  return ic !== undefined && controllerIsolates(platform, ic, dev);
}

/**
 * irq_domain_check_msi_remap (6.1): false when any MSI domain in the system lacks MSI_REMAP. On x86 the
 * vector domain's own PCI-MSI domain is always registered next to the IR domains, so x86 answers false
 * and isolation comes from IOMMU_CAP_INTR_REMAP.
 */
export function systemMsiRemap(platform: PlatformDescription): boolean {
  return platform.interruptControllers.every((ic) => {
    switch (ic.kind) {
      case 'gicv3-its':
        return ic.isolationQuirk !== true;
      default:
        return false;
    }
  });
}
