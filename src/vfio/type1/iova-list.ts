/**
 * The usable-IOVA list of a type1 container (`iommu->iova_list`): sorted, disjoint, inclusive u64
 * ranges. An empty list means "no restriction" (MAP accepts anything, GET_INFO has no IOVA_RANGE cap).
 *
 * These functions follow drivers/vfio/vfio_iommu_type1.c step by step, including its quirks: the
 * aperture resize compares strictly on one side, so a node touching the new aperture edge on exactly
 * one byte is deleted rather than shrunk to one byte. Lists are small (tens of nodes): arrays are fine.
 */
import { ERRNO } from '../../base/errno.js';
import { U64_MAX } from '../../base/u64.js';
import type { Range } from '../../base/range.js';
import { ResvType, type ResvRegion } from '../../iommu/resv-region.js';
import type { IommuCore, IommuGroup } from '../../iommu/api.js';

export interface IovaNode {
  start: bigint;
  end: bigint;
}

export type IovaList = IovaNode[];

export const copyIovaList = (l: readonly IovaNode[]): IovaList =>
  l.map((n) => ({ start: n.start, end: n.end }));

/** vfio_iommu_aper_resize: narrow `list` (in place) to the aperture `[start, end]`. Always 0. */
export function aperResize(list: IovaList, start: bigint, end: bigint): number {
  if (list.length === 0) {
    list.push({ start, end });
    return 0;
  }
  // Front: delete nodes below the new start; clip the node that contains it (strictly before its end).
  let i = 0;
  while (i < list.length) {
    const n = list[i]!;
    if (start < n.start) break;
    if (start >= n.start && start < n.end) {
      n.start = start;
      break;
    }
    list.splice(i, 1);
  }
  // Back: keep nodes that end below `end`; clip the one with start < end <= node.end; delete the rest.
  i = 0;
  while (i < list.length) {
    const n = list[i]!;
    if (end > n.end) {
      i++;
      continue;
    }
    if (end > n.start && end <= n.end) {
      n.end = end;
      i++;
      continue;
    }
    list.splice(i, 1);
  }
  return 0;
}

/** vfio_iommu_resv_exclude: cut every non-relaxable region out of `list` (in place); -EINVAL if empty. */
export function resvExclude(list: IovaList, regions: readonly ResvRegion[]): number {
  for (const r of regions) {
    if (r.type === ResvType.DirectRelaxable) continue;
    const a = r.start;
    const b = BigInt.asUintN(64, r.start + r.length - 1n);
    for (let i = 0; i < list.length;) {
      const n = list[i]!;
      if (a > n.end || b < n.start) {
        i++;
        continue;
      }
      const repl: IovaNode[] = [];
      if (a > n.start) repl.push({ start: n.start, end: a - 1n });
      if (b < n.end) repl.push({ start: b + 1n, end: n.end });
      list.splice(i, 1, ...repl);
      i += repl.length;
    }
  }
  return list.length === 0 ? -ERRNO.EINVAL : 0;
}

/** Asks "does any DMA mapping intersect [start, end]?" (vfio_find_dma with a length). */
export type DmaIntersects = (start: bigint, end: bigint) => boolean;

/** vfio_iommu_aper_conflict: would the aperture `[start, end]` orphan existing mappings? */
export function aperConflict(
  list: readonly IovaNode[],
  start: bigint,
  end: bigint,
  dma: DmaIntersects,
): boolean {
  if (list.length === 0) return false;
  const first = list[0]!;
  const last = list[list.length - 1]!;
  if (start > last.end || end < first.start) return true;
  if (start > first.start && dma(first.start, start - 1n)) return true;
  if (end < last.end && dma(end + 1n, last.end)) return true;
  return false;
}

/** vfio_iommu_resv_conflict: a non-relaxable region of the group covers an existing mapping. */
export function resvConflict(regions: readonly ResvRegion[], dma: DmaIntersects): boolean {
  for (const r of regions) {
    if (r.type === ResvType.DirectRelaxable) continue;
    if (r.length === 0n) continue;
    const end = r.start + r.length - 1n;
    if (dma(r.start, end > U64_MAX ? U64_MAX : end)) return true;
  }
  return false;
}

/** vfio_iommu_iova_dma_valid: `[start, end]` lies inside one node (or the list is empty). */
export function iovaDmaValid(list: readonly IovaNode[], start: bigint, end: bigint): boolean {
  if (list.length === 0) return true;
  for (const n of list) if (start >= n.start && end <= n.end) return true;
  return false;
}

/** vfio_iommu_has_sw_msi: the last SW_MSI base, unless a hardware MSI region comes first. */
export function hasSwMsi(regions: readonly ResvRegion[]): { found: boolean; base: bigint } {
  let found = false;
  let base = 0n;
  for (const r of regions) {
    if (r.type === ResvType.Msi) return { found: false, base };
    if (r.type === ResvType.SwMsi) {
      base = r.start;
      found = true;
    }
  }
  return { found, base };
}

/** One group attached in turn: its domain aperture and its (merged, sorted) reserved regions. */
export interface AttachStep {
  readonly aperture: Range;
  readonly regions: readonly ResvRegion[];
}

export type UsableResult = { ok: true; ranges: Range[] } | { ok: false; errno: number; step: number };

/**
 * The usable IOVA list after attaching `steps` in order to a fresh container (no mappings), as
 * vfio_iommu_type1_attach_group computes it: resize to each aperture, then exclude each group's regions.
 * A step that leaves nothing fails with -EINVAL, like the kernel (and the list keeps its previous value).
 */
export function usableIovaList(steps: readonly AttachStep[]): UsableResult {
  let list: IovaList = [];
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i]!;
    const copy = copyIovaList(list);
    aperResize(copy, s.aperture.start, s.aperture.end);
    const rc = resvExclude(copy, s.regions);
    if (rc !== 0) return { ok: false, errno: -rc, step: i };
    list = copy;
  }
  return { ok: true, ranges: list.map((n) => ({ start: n.start, end: n.end })) };
}

/**
 * vfio_iommu_aper_expand + vfio_iommu_resv_refresh (detach): rebuild from `[first.start, last.end]`
 * widened to the tightest remaining aperture, minus the regions of every remaining group (collected into
 * one merged list by the caller). Returns the new list, or undefined when the rebuild fails (the kernel
 * then keeps the old list).
 */
export function refreshAfterDetach(
  list: readonly IovaNode[],
  expandTo: Range | undefined,
  regions: readonly ResvRegion[],
): IovaList | undefined {
  if (list.length === 0) return undefined;
  const copy = copyIovaList(list);
  if (expandTo) {
    copy[0]!.start = expandTo.start;
    copy[copy.length - 1]!.end = expandTo.end;
  }
  const start = copy[0]!.start;
  const end = copy[copy.length - 1]!.end;
  const fresh: IovaList = [];
  aperResize(fresh, start, end);
  if (resvExclude(fresh, regions) !== 0) return undefined;
  return fresh;
}

/**
 * The usable IOVA list a type1 container would report (IOVA_RANGE) after attaching `groups` in order,
 * computed from the platform without creating anything: each group's aperture (a fresh paging domain of
 * its first device) and its reserved regions. -EINVAL when a group leaves nothing; a group without an
 * IOMMU (no aperture) gives -ENODEV.
 */
export function usableIovaForGroups(core: IommuCore, groups: readonly IommuGroup[]): UsableResult {
  const steps: AttachStep[] = [];
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i]!;
    const dev = g.devices[0];
    const aperture = dev ? core.aperture(dev) : undefined;
    if (!aperture) return { ok: false, errno: ERRNO.ENODEV, step: i };
    steps.push({ aperture, regions: core.groupResvRegions(g) });
  }
  return usableIovaList(steps);
}
