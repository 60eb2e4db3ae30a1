/** The IOVA allocator (drivers/iommu/iova.c): public API used by dma-iommu and the tools. */
export { IovaDomain, initIovaDomain, iovaPfn, pfnAddr } from './domain.js';
export type { IovaDomainInit, IovaImpl } from './domain.js';
export type { IovaDomainOptions, IovaTree } from './types.js';
export { FastIovaTree } from './fast-tree.js';
export { RefIovaTree } from './ref-tree.js';
export { IovaRcaches } from './rcache.js';
export type { RcacheParams, RcacheTree } from './rcache.js';
export {
  IOVA_ANCHOR,
  IOVA_RANGE_CACHE_MAX_SIZE,
  MAX_MODEL_PFN,
  allocAlignment,
  flsLong,
  isModelPfn,
  orderBase2,
  roundupPowOfTwo,
} from './util.js';
