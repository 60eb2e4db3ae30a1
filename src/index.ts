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
export * from './iova/index.js';
