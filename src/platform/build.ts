/**
 * Boots a platform description into live model objects: the PCI topology, one IOMMU driver instance per
 * described IOMMU, and the IOMMU core with its groups and default domains. The single entry point the
 * upper layers (VFIO, MSI, host views, CLI, web) call.
 */
import type { Device } from '../iommu/api.js';
import { IommuCoreImpl } from '../iommu/core.js';
import { createDriver } from '../iommu/drivers/index.js';
import { msiParentOf } from '../iommu/drivers/ops.js';
import { type KernelProfile, kernelProfile } from '../kernel/profile.js';
import { type MsiFabric, attachMsiFabric } from '../irq/fabric.js';
import { PciTopology } from '../pci/topology.js';
import type { InterruptControllerDescription, IommuDescription, PlatformDescription } from './types.js';

export interface PlatformModel {
  readonly description: PlatformDescription;
  readonly profile: KernelProfile;
  readonly topology: PciTopology;
  /** The IOMMU core (implements `IommuCore` from src/iommu/api.ts). */
  readonly iommu: IommuCoreImpl;
  /** Interrupt controllers, irq table and per-function MSI state (also `msiFabricOf(iommu)`). */
  readonly msi: MsiFabric;
  interruptController(id: string): InterruptControllerDescription | undefined;
  iommuDescription(id: string): IommuDescription | undefined;
  /** The interrupt controller receiving a device's MSIs (its host bridge's msiParent). */
  msiParent(dev: Device | string): InterruptControllerDescription | undefined;
}

export function buildPlatform(
  desc: PlatformDescription,
  profile: KernelProfile = kernelProfile(),
): PlatformModel {
  // A driver the kernel was built without never probes its IOMMU (Debian 6.1: no virtio-iommu).
  const built = desc.iommus.filter((iommu) => iommu.driver !== 'virtio-iommu' || profile.virtioIommuBuilt);
  // PCI quirks read two machine facts: whether an IOMMU driver asked for ACS (pci_request_acs), and
  // whether ACPI has an IVRS table (pci_quirk_amd_sb_acs).
  const topology = new PciTopology(desc.devices, desc.hostBridges, {
    acsRequested: built.length > 0,
    ivrs: desc.firmware === 'acpi' && desc.iommus.some((m) => m.driver === 'amd-iommu'),
  });
  const drivers = built.map((iommu) => createDriver({ platform: desc, iommu, profile, topology }));
  const core = new IommuCoreImpl(desc, profile, topology, drivers);
  core.boot();
  const msi = attachMsiFabric(core, desc);
  // msi_device_has_isolated_msi answers from the interrupt controllers the fabric built.
  core.setMsiIsolation((dev) => msi.deviceHasIsolatedMsi(dev.bdf));
  return {
    description: desc,
    profile,
    topology,
    iommu: core,
    msi,
    interruptController: (id) => desc.interruptControllers.find((c) => c.id === id),
    iommuDescription: (id) => desc.iommus.find((i) => i.id === id),
    msiParent(dev: Device | string) {
      const p = topology.get(typeof dev === 'string' ? dev : dev.bdf);
      return p === undefined ? undefined : msiParentOf(desc, p);
    },
  };
}
