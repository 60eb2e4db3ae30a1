/**
 * Reserved IOVA regions: the five types, the group merge of iommu_insert_resv_region (>= 5.3), and the
 * sysfs `reserved_regions` text (iommu_group_show_resv_regions).
 */
import { U64_MAX, hex16, parseU64 } from '../base/u64.js';
import { InputError } from '../base/errors.js';

/** enum iommu_resv_type, >= 5.3 numbering (the numeric order is the sort tie-breaker). */
export enum ResvType {
  Direct = 0,
  DirectRelaxable = 1,
  Reserved = 2,
  Msi = 3,
  SwMsi = 4,
}

/** IOMMU_* protection bits (include/linux/iommu.h). */
export const IOMMU_READ = 1 << 0;
export const IOMMU_WRITE = 1 << 1;
export const IOMMU_CACHE = 1 << 2;
export const IOMMU_NOEXEC = 1 << 3;
export const IOMMU_MMIO = 1 << 4;
export const IOMMU_PRIV = 1 << 5;

/** iommu_group_resv_type_string: hardware and software MSI both print `msi`. */
export function resvTypeString(t: ResvType): string {
  switch (t) {
    case ResvType.Direct:
      return 'direct';
    case ResvType.DirectRelaxable:
      return 'direct-relaxable';
    case ResvType.Reserved:
      return 'reserved';
    case ResvType.Msi:
    case ResvType.SwMsi:
      return 'msi';
  }
}

/** Names used by iovamap itself (JSON, CLI), which unlike sysfs tell the two MSI kinds apart. */
export function resvTypeName(t: ResvType): string {
  return t === ResvType.SwMsi ? 'sw-msi' : resvTypeString(t);
}

export function parseResvTypeName(s: string): ResvType | undefined {
  switch (s) {
    case 'direct':
      return ResvType.Direct;
    case 'direct-relaxable':
      return ResvType.DirectRelaxable;
    case 'reserved':
      return ResvType.Reserved;
    case 'msi':
      return ResvType.Msi;
    case 'sw-msi':
      return ResvType.SwMsi;
    default:
      return undefined;
  }
}

/** struct iommu_resv_region, plus where the model got it from. */
export interface ResvRegion {
  readonly start: bigint;
  /** Bytes; the last byte is start + length - 1. */
  readonly length: bigint;
  readonly prot: number;
  readonly type: ResvType;
  /** Which driver rule or firmware table produced it, e.g. `intel: IOAPIC window` (not shown in sysfs). */
  readonly origin?: string;
}

export function resvEnd(r: ResvRegion): bigint {
  return r.start + r.length - 1n;
}

export function resvRegion(
  start: bigint,
  length: bigint,
  prot: number,
  type: ResvType,
  origin?: string,
): ResvRegion {
  return origin === undefined ? { start, length, prot, type } : { start, length, prot, type, origin };
}

/**
 * iommu_insert_resv_region (>= 5.3): insert a copy of `nr` into the sorted list `list` and re-merge the
 * regions of `nr`'s type. Returns a new array; `list` is not modified.
 *
 * Placement: before the first element with a greater start, or the same start and a type >= nr.type.
 * Merge: only regions of nr.type, when they overlap or touch (start <= previous end + 1); the survivor is
 * the first in list order and keeps its own prot. End arithmetic wraps at 2^64 like the kernel's u64.
 */
export function insertResvRegion(list: readonly ResvRegion[], nr: ResvRegion): ResvRegion[] {
  let at = list.length;
  for (let i = 0; i < list.length; i++) {
    const it = list[i]!;
    if (nr.start < it.start || (nr.start === it.start && nr.type <= it.type)) {
      at = i;
      break;
    }
  }
  const placed = [...list.slice(0, at), nr, ...list.slice(at)];
  const out: ResvRegion[] = [];
  let lastSameType = -1;
  for (const x of placed) {
    if (x.type !== nr.type) {
      out.push(x);
      continue;
    }
    if (lastSameType < 0) {
      lastSameType = out.length;
      out.push(x);
      continue;
    }
    const t = out[lastSameType]!;
    const tEnd = BigInt.asUintN(64, t.start + t.length - 1n);
    const xEnd = BigInt.asUintN(64, x.start + x.length - 1n);
    if (x.start > BigInt.asUintN(64, tEnd + 1n)) {
      lastSameType = out.length;
      out.push(x);
    } else {
      const end = xEnd > tEnd ? xEnd : tEnd;
      // Model metadata only: a region that grew by a merge names every region that grew it.
      const origin = xEnd > tEnd ? joinOrigins(t.origin, x.origin) : t.origin;
      out[lastSameType] =
        origin === undefined
          ? { ...t, length: end - t.start + 1n }
          : { ...t, length: end - t.start + 1n, origin };
    }
  }
  return out;
}

/**
 * The origins of two merged regions, each named once: `a + b`. Parts are compared by their label
 * before any " (" detail, so one firmware entry seen through two devices of a group is named once.
 */
function joinOrigins(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined || b === undefined) return a ?? b;
  const parts = a.split(' + ');
  const label = (p: string): string => p.split(' (')[0]!;
  for (const p of b.split(' + ')) if (!parts.some((q) => label(q) === label(p))) parts.push(p);
  return parts.join(' + ');
}

/** Merge a sequence of regions in arrival order, as iommu_get_group_resv_regions does per device. */
export function mergeResvRegions(
  regions: Iterable<ResvRegion>,
  into: readonly ResvRegion[] = [],
): ResvRegion[] {
  let list: ResvRegion[] = into.slice();
  for (const r of regions) list = insertResvRegion(list, r);
  return list;
}

/** One sysfs line: `0x%016llx 0x%016llx %s\n`. */
export function formatResvLine(r: ResvRegion): string {
  return `${hex16(r.start)} ${hex16(resvEnd(r))} ${resvTypeString(r.type)}\n`;
}

/** The whole `reserved_regions` file for a normalised group list. */
export function formatReservedRegions(list: readonly ResvRegion[]): string {
  return list.map(formatResvLine).join('');
}

/** A parsed sysfs line. `msi` cannot be told apart (hardware or software): see `guessMsiKind`. */
export interface ParsedResvLine {
  readonly start: bigint;
  readonly end: bigint;
  readonly typeString: string;
  readonly line: number;
}

/**
 * Parses a `reserved_regions` file. Every problem names the file and the line. The file is accepted
 * as the kernel writes it; an impossible range (end < start) or an unknown type is an error.
 */
export function parseReservedRegions(text: string, file = 'reserved_regions'): ParsedResvLine[] {
  const out: ParsedResvLine[] = [];
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  lines.forEach((raw, i) => {
    const line = i + 1;
    const t = raw.trim();
    if (t === '') return;
    const m = /^(0x[0-9a-fA-F]+)\s+(0x[0-9a-fA-F]+)\s+(\S+)$/.exec(t);
    if (!m) {
      throw new InputError(`cannot parse reserved region line: ${JSON.stringify(raw)}`, {
        file,
        line,
        hint: 'expected "0x<start> 0x<end> <type>" as in /sys/kernel/iommu_groups/N/reserved_regions',
      });
    }
    const start = parseU64(m[1]!);
    const end = parseU64(m[2]!);
    if (start === undefined || end === undefined || end > U64_MAX) {
      throw new InputError('address does not fit in 64 bits', { file, line });
    }
    if (end < start) {
      throw new InputError(`impossible range: end ${m[2]} is below start ${m[1]}`, { file, line });
    }
    const typeString = m[3]!;
    if (!['direct', 'direct-relaxable', 'reserved', 'msi'].includes(typeString)) {
      throw new InputError(`unknown reserved region type "${typeString}"`, {
        file,
        line,
        hint: 'the kernel prints direct, direct-relaxable, reserved or msi',
      });
    }
    out.push({ start, end, typeString, line });
  });
  return out;
}
