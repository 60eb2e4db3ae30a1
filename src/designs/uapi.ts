/** uapi constants of the historical designs (spec §8). Values marked reconstructed are not verified. */

/** v14 (verified, eauger/linux@004990c7): MAP_DMA flag registering the donated MSI window. */
export const VFIO_DMA_MAP_FLAG_RESERVED_MSI_IOVA = 1 << 2;
/** v14 (verified): GET_INFO capability id and its struct (header, u64 size @8, u64 alignment @16). */
export const VFIO_IOMMU_TYPE1_INFO_CAP_MSI_RESV = 1;
export const CAP_MSI_RESV_SIZE = 24;

/** v9/v10 (reconstructed from changelogs, spec §8.3): MAP flag, bit 2 like its v14 successor. */
export const VFIO_DMA_MAP_FLAG_MSI_RESERVED_IOVA = 1 << 2;
/** v10 (reconstructed): id 1; {flags u32 @8, order u32 @12, size u64 @16, aperture_start @24, aperture_end @32}. */
export const VFIO_IOMMU_TYPE1_INFO_CAP_MSI_GEOMETRY = 1;
export const CAP_MSI_GEOMETRY_SIZE = 40;
/** bit 0 of the geometry flags (reconstructed): the aperture is fixed, userspace donates nothing. */
export const MSI_GEOMETRY_FLAG_FIXED = 1;
/** v9 "an arbitrary number of 16 page requirement" (seed 002). */
export const MSI_GEOMETRY_PAGES = 16;

/** RFC v2 (reconstructed, spec §8.5): one capability per reserved region, id 1. */
export const VFIO_IOMMU_TYPE1_INFO_CAP_RESV_IOVA_RANGE = 1;
/** header, u64 start @8, u64 end @16 (inclusive), u32 type @24 (IOMMU_RESV_*), u32 pad @28. */
export const CAP_RESV_IOVA_RANGE_SIZE = 32;

/**
 * 2015 RFC (reconstructed, spec §8.1; seed 003): userspace maps a doorbell at an IOVA it chooses. Modelled
 * as a MAP_DMA flag whose vaddr is ignored and whose size is one page: the kernel maps iova -> the MSI
 * doorbell page of the container's devices.
 */
export const VFIO_DMA_MAP_FLAG_MSI_DOORBELL = 1 << 2;
