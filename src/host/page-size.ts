/**
 * The kernel's page size (PAGE_SIZE) as sysfs shows it: not directly, but through
 * `kernel/mm/transparent_hugepage/hpage_pmd_size`, the size one page-table entry of the level above the
 * last maps (HPAGE_PMD_SIZE): PAGE_SIZE times the 8-byte entries a page holds. 4 KiB pages give 2 MiB,
 * 16 KiB give 32 MiB, 64 KiB give 512 MiB.
 */

/** Page sizes Linux builds with on x86_64 (4 KiB only) and arm64. */
export const PAGE_SIZES: readonly number[] = [4096, 16384, 65536];

/** Where sysfs shows the PMD size, relative to the sysfs root. */
export const HPAGE_PMD_SIZE_FILE = 'kernel/mm/transparent_hugepage/hpage_pmd_size';

/** HPAGE_PMD_SIZE of a page size. */
export function pmdSizeOf(pageSize: number): number {
  return pageSize * (pageSize / 8);
}

/** The page size whose PMD maps `bytes`, or undefined when none does. */
export function pageSizeOfPmd(bytes: number): number | undefined {
  return PAGE_SIZES.find((p) => pmdSizeOf(p) === bytes);
}
