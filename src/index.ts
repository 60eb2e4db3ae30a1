/** iovamap library entry point. */
export * from './base/u64.js';
export * from './base/range.js';
export * from './base/interval-set.js';
export * from './base/errno.js';
export * from './base/errors.js';
export * from './kernel/profile.js';
export * from './iommu/resv-region.js';
export type * from './iommu/api.js';
export type * from './platform/types.js';
export { VERSION } from './version.js';
export * from './vmm/index.js';
export { loadPlatformText } from './platform/load.js';
export { loadPreset, presetNames, presetText, isPresetName } from './platform/presets.js';
export { buildPlatform, type PlatformModel } from './platform/build.js';
export type * from './host/view.js';
export { hostViewFromPlatform } from './host/from-platform.js';
export { hostViewFromRaw, inferRegion, usableRanges } from './host/raw.js';
export { sysfsTreeFromHostView, memoryReader, readSysfs } from './host/sysfs-tree.js';
export { snapshotText, parseSnapshot, hostViewFromSnapshot } from './host/snapshot.js';
export { parsePciIds, lspciDeviceName, lspciClassName } from './host/pci-ids.js';
export * from './uapi/vfio-type1.js';
export { VfioSystem, type VfioSystemOptions, type VfioFile } from './vfio/system.js';
export * from './vfio/typed.js';
export * as iommufdUapi from './uapi/iommufd.js';
export * from './iommufd/typed.js';
export {
  usableIovaList,
  usableIovaForGroups,
  type AttachStep,
  type UsableResult,
} from './vfio/type1/iova-list.js';
export { type Type1Params, defaultType1Params } from './vfio/type1/type1.js';
export { AddressSpace } from './mm/address-space.js';
export { TaskCreds, RLIM_INFINITY, MLOCK_LIMIT } from './kernel/task.js';
export { parseScenario, type Scenario } from './scenario/parse.js';
export {
  runScenario,
  runScenarioFull,
  setPlatformResolver,
  builtinScenarios,
  builtinScenarioText,
  type RunOptions,
} from './scenario/runner.js';
export { registerStep, type StepSpec } from './scenario/registry.js';
// Also installs the preset loader runScenario uses for a platform name.
export { bootPreset, bootPlatform } from './scenario/platforms.js';
export { attachMsiFabric, msiFabricOf, msiCookieFor, MsiFabric, type MsiTrace } from './irq/fabric.js';
export type { IntxLine } from './irq/intx.js';
export { summarizeMsiPath, formatMsiTrace, type MsiPathSummary } from './irq/explain.js';
export {
  iommuGetMsiCookie,
  iommuGetDmaCookie,
  iommuDmaGetMsiPage,
  MSI_PAGE_PROT,
} from './dma-iommu/cookie.js';
export { iommuDmaPrepareMsi, iommuDmaComposeMsiMsg, type MsiMsg } from './dma-iommu/msi.js';
export { openVfioPciDevice, type VfioDeviceFile, type VfioPciContext } from './vfio/pci/vfio-pci.js';
export { FdTable, EventFd } from './vfio/pci/eventfd.js';
export { runMsiProbe } from './vfio/pci/msi-probe.js';
export * as vfioDeviceUapi from './uapi/vfio-device.js';
export * from './iova/index.js';
