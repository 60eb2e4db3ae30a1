/**
 * One IOAS's IO page table (drivers/iommu/iommufd/io_pagetable.c, 6.12): its areas (mappings of user
 * memory), reserved IOVA (owned by a device's reserved regions or by a domain's aperture; entries may
 * overlap), the optional allowed ranges of IOMMU_IOAS_ALLOW_IOVAS, the paging domains it fills, and the
 * IOVA alignment those impose. Addresses are u64 bigints, inclusive `[start, last]` as in the kernel.
 *
 * Areas are kept in IOVA order in sorted chunks (./area-list.ts: O(log n) lookups, an insert or removal
 * moves one chunk); the kernel uses interval trees. The allocator walks the free holes from its starting
 * point without rebuilding anything.
 */
import { ERRNO } from '../base/errno.js';
import { U64_MAX } from '../base/u64.js';
import type { IommuDomain } from '../iommu/api.js';
import { IOMMU_READ, IOMMU_WRITE } from '../iommu/resv-region.js';
import { AreaList, type Span64 } from './area-list.js';
import type { IoptPages } from './pages.js';

const PAGE = 4096n;

/** An `iopt_area`: IOVA [start, last] onto bytes of an `iopt_pages` (one per IOAS_MAP, shared by COPY). */
export interface IoptArea {
  readonly start: bigint;
  readonly last: bigint;
  readonly pages: IoptPages;
  /** Offset of `start` in the pages (iopt_area_start_byte): its low 12 bits are the page offset. */
  readonly startByte: bigint;
  /** IOMMU_READ / IOMMU_WRITE of the mapping. */
  readonly writable: boolean;
  readonly readable: boolean;
  /** The pages are held pinned for this area (its IOAS has a domain). */
  pinned: boolean;
}

/** One piece of an IOAS_MAP or IOAS_COPY (struct iopt_pages_list): bytes of some pages. */
export interface PagesSlice {
  readonly pages: IoptPages;
  readonly startByte: bigint;
  readonly length: bigint;
}

/** Page indexes of an area within its pages. */
const pageSpan = (a: IoptArea): [number, number] => [
  Number(a.startByte >> 12n),
  Number((a.startByte + (a.last - a.start)) >> 12n),
];

/** Pins the area's pages for it (charged once per page across the areas sharing them). */
function pinArea(a: IoptArea): number {
  const [f, l] = pageSpan(a);
  const rc = a.pages.acquire(a, f, l);
  if (rc === 0) a.pinned = true;
  return rc;
}

function unpinArea(a: IoptArea): void {
  a.pages.release(a);
  a.pinned = false;
}

export interface ReservedIova {
  readonly start: bigint;
  readonly last: bigint;
  /** A device (its reserved regions) or a domain (outside its aperture). */
  readonly owner: unknown;
}

/** An inclusive IOVA span (the area list's own type). */
export type Span = Span64;

const overlaps = (a: Span, s: bigint, l: bigint): boolean => a.start <= l && s <= a.last;

/** The union of `spans` as sorted maximal spans (overlapping and adjacent ones merge). */
export function unionSpans(spans: readonly Span[]): Span[] {
  const sorted = [...spans].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const out: { start: bigint; last: bigint }[] = [];
  for (const s of sorted) {
    const top = out[out.length - 1];
    if (top && (top.last === U64_MAX || s.start <= top.last + 1n)) {
      if (s.last > top.last) top.last = s.last;
    } else out.push({ start: s.start, last: s.last });
  }
  return out;
}

/** The gaps of a sorted union inside `[lo, hi]`, ascending. */
export function holesOf(union: readonly Span[], lo: bigint, hi: bigint): Span[] {
  const out: Span[] = [];
  let cur = lo;
  let done = false;
  for (const u of union) {
    if (u.last < cur) continue;
    if (u.start > hi) break;
    if (u.start > cur) out.push({ start: cur, last: u.start - 1n });
    if (u.last >= hi) {
      done = true;
      break;
    }
    cur = u.last + 1n;
  }
  if (!done && cur <= hi) out.push({ start: cur, last: hi });
  return out;
}

/** roundup_pow_of_two for 0 < x < 2^63. */
function roundupPow2(x: bigint): bigint {
  let p = 1n;
  while (p < x) p <<= 1n;
  return p;
}

/** 1 << __ffs64(x) for x != 0: the lowest set bit. */
const lowestBit = (x: bigint): bigint => x & -x;

/** __alloc_iova_check_range: the aligned start inside [start, last] that fits `length`, or undefined. */
function fitIn(
  start: bigint,
  last: bigint,
  length: bigint,
  align: bigint,
  pageOffset: bigint,
): bigint | undefined {
  const up = start + align - 1n;
  if (up > U64_MAX) return undefined; // check_add_overflow
  const a = (up & ~(align - 1n)) | pageOffset;
  if (a >= last || last - a < length - 1n) return undefined;
  return a;
}

export interface IoPagetableEnv {
  /** Largest alignment an allocated IOVA gets: HPAGE_SIZE with CONFIG_TRANSPARENT_HUGEPAGE, else PAGE_SIZE. */
  readonly autoIovaMaxAlign: bigint;
}

export class IoPagetable {
  /** Sorted by start, disjoint. */
  readonly areas = new AreaList<IoptArea>();
  readonly reserved: ReservedIova[] = [];
  /** IOMMU_IOAS_ALLOW_IOVAS's list as given (disjoint); empty: everything allowed. */
  allowed: Span[] = [];
  /** Paging domains filled from this IOAS, in the order they were added. */
  readonly domains: IommuDomain[] = [];
  iovaAlignment = 1n;
  disableLargePages = false;

  constructor(private readonly env: IoPagetableEnv) {}

  // ------------------------------------------------------------------ lookups

  /** The first area intersecting [start, last], or undefined. */
  areaIn(start: bigint, last: bigint): IoptArea | undefined {
    const a = this.areas.ceil(start);
    return a && a.start <= last ? a : undefined;
  }

  reservedIn(start: bigint, last: bigint): boolean {
    return this.reserved.some((r) => overlaps(r, start, last));
  }

  private allowedIn(start: bigint, last: bigint): boolean {
    return this.allowed.some((r) => overlaps(r, start, last));
  }

  /** IOMMU_IOAS_IOVA_RANGES: the holes of the reserved IOVA over [0, U64_MAX]. */
  usableRanges(): Span[] {
    return holesOf(this.reservedUnion(), 0n, U64_MAX);
  }

  // ------------------------------------------------------------------ reservations

  /** iopt_reserve_iova: -EADDRINUSE over an area or an allowed range. */
  reserve(start: bigint, last: bigint, owner: unknown): number {
    if (this.areaIn(start, last) || this.allowedIn(start, last)) return -ERRNO.EADDRINUSE;
    this.reserved.push({ start, last, owner });
    this.reservedUnionCache = undefined;
    return 0;
  }

  /** iopt_remove_reserved_iova: every reservation of `owner`. */
  removeReserved(owner: unknown): void {
    for (let i = this.reserved.length - 1; i >= 0; i--)
      if (this.reserved[i]!.owner === owner) this.reserved.splice(i, 1);
    this.reservedUnionCache = undefined;
  }

  /** iopt_set_allow_iova: replaces the list; -EADDRINUSE (list unchanged) when a range meets reserved IOVA. */
  setAllowed(list: readonly Span[]): number {
    const sorted = [...list].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    for (const r of sorted) if (this.reservedIn(r.start, r.last)) return -ERRNO.EADDRINUSE;
    this.allowed = sorted;
    return 0;
  }

  // ------------------------------------------------------------------ IOVA choice

  /** iopt_check_iova (FIXED_IOVA). */
  checkIova(iova: bigint, length: bigint): number {
    if (iova % this.iovaAlignment !== 0n) return -ERRNO.EINVAL;
    const last = iova + length - 1n;
    if (last > U64_MAX) return -ERRNO.EOVERFLOW;
    if (this.reservedIn(iova, last)) return -ERRNO.EINVAL;
    if (this.areaIn(iova, last)) return -ERRNO.EEXIST;
    return 0;
  }

  /** iopt_alloc_iova: lowest fit inside the allowed spans, outside reserved IOVA and areas. */
  allocIova(uva: bigint, length: bigint): bigint | number {
    if (length === 0n || length >= U64_MAX / 2n) return -ERRNO.EOVERFLOW;
    let align = roundupPow2(length);
    if (uva !== 0n && lowestBit(uva) < align) align = lowestBit(uva);
    if (align >= this.env.autoIovaMaxAlign) align = this.env.autoIovaMaxAlign;
    if (align < this.iovaAlignment) return -ERRNO.EINVAL;
    const pageOffset = uva % PAGE;
    const lo = PAGE;
    const hi = U64_MAX - PAGE;
    const spans: Span[] =
      this.allowed.length === 0
        ? [{ start: lo, last: hi }]
        : unionSpans(this.allowed)
            .filter((s) => s.last >= lo && s.start <= hi)
            .map((s) => ({ start: s.start < lo ? lo : s.start, last: s.last > hi ? hi : s.last }));
    for (const s of spans) {
      const start = fitIn(s.start, s.last, length, align, pageOffset);
      if (start === undefined) continue;
      for (const h of this.freeHoles(start, s.last, length)) {
        const a = fitIn(h.start, h.last, length, align, pageOffset);
        if (a !== undefined) return a;
      }
    }
    return -ERRNO.ENOSPC;
  }

  /** The reserved IOVA as sorted maximal spans, rebuilt only after a reservation changes. */
  private reservedUnionCache: Span[] | undefined;
  private reservedUnion(): Span[] {
    return (this.reservedUnionCache ??= unionSpans(this.reserved));
  }

  /**
   * The holes of (reserved IOVA ∪ areas) inside [lo, hi], ascending (interval_tree_double_span_iter),
   * leaving out holes shorter than `minLen` where whole chunks of areas have none that long: a merge of
   * the two sorted lists from their first spans at or after `lo`.
   */
  private *freeHoles(lo: bigint, hi: bigint, minLen: bigint): Generator<Span> {
    const res = this.reservedUnion();
    let i = 0;
    for (let b = res.length; i < b;) {
      const m = (i + b) >> 1;
      if (res[m]!.last < lo) i = m + 1;
      else b = m;
    }
    // runs of mappings with no hole of minLen bytes come as one span
    const it = this.areas.fromSkipping(lo, minLen);
    let a = it.next().value;
    let cur = lo;
    for (;;) {
      const r = res[i];
      const next = r && (!a || r.start <= a.start) ? r : a;
      if (!next || next.start > hi) break;
      if (next === r) i++;
      else a = it.next().value;
      if (next.start > cur) yield { start: cur, last: next.start - 1n };
      if (next.last >= hi) return;
      if (next.last + 1n > cur) cur = next.last + 1n;
    }
    if (cur <= hi) yield { start: cur, last: hi };
  }

  // ------------------------------------------------------------------ areas

  /**
   * iopt_map_pages: the slices become areas at consecutive IOVAs from `iova` (fixed) or from an IOVA the
   * allocator picks for the first slice's user address, then fill the domains. The IOVA used, or -errno
   * (nothing left behind).
   */
  mapPages(
    slices: readonly PagesSlice[],
    length: bigint,
    iova: bigint | undefined,
    prot: { readable: boolean; writable: boolean },
  ): bigint | number {
    // iopt_alloc_area_pages
    if (length % this.iovaAlignment !== 0n || length === 0n) return -ERRNO.EINVAL;
    let at: bigint;
    if (iova === undefined) {
      const first = slices[0]!;
      const r = this.allocIova(first.pages.base + first.startByte, length);
      if (typeof r === 'number') return r;
      at = r;
    } else {
      const rc = this.checkIova(iova, length);
      if (rc !== 0) return rc;
      at = iova;
    }
    const made: IoptArea[] = [];
    const undo = (rc: number): number => {
      for (const a of made) {
        if (a.pinned) {
          for (const d of this.domains) d.unmap(a.start, a.last - a.start + 1n);
          unpinArea(a);
        }
        this.areas.remove(a);
      }
      return rc;
    };
    let cur = at;
    for (const sl of slices) {
      // iopt_insert_area
      if (prot.writable && !sl.pages.writable) return undo(-ERRNO.EPERM);
      if ((sl.startByte % PAGE) % this.iovaAlignment !== 0n) return undo(-ERRNO.EINVAL);
      if (cur + sl.length - 1n > U64_MAX) return undo(-ERRNO.EOVERFLOW);
      const area: IoptArea = {
        start: cur,
        last: cur + sl.length - 1n,
        pages: sl.pages,
        startByte: sl.startByte,
        writable: prot.writable,
        readable: prot.readable,
        pinned: false,
      };
      this.areas.insert(area);
      made.push(area);
      cur += sl.length;
    }
    // iopt_fill_domains_pages
    for (const a of made) {
      const rc = this.fillArea(a);
      if (rc !== 0) return undo(rc);
    }
    return at;
  }

  /**
   * iopt_get_pages: the slices of pages behind [iova, iova + length), which contiguous areas must cover
   * from the one holding `iova` (-ENOENT at a gap).
   */
  slicesOf(iova: bigint, length: bigint): PagesSlice[] | number {
    if (length === 0n) return -ERRNO.EINVAL;
    const lastIova = iova + length - 1n;
    if (lastIova > U64_MAX) return -ERRNO.EOVERFLOW;
    const out: PagesSlice[] = [];
    let cur = iova;
    let area = this.areaIn(cur, cur);
    while (area) {
      const last = lastIova < area.last ? lastIova : area.last;
      out.push({
        pages: area.pages,
        startByte: area.startByte + (cur - area.start),
        length: last - cur + 1n,
      });
      if (lastIova <= area.last) return out;
      cur = area.last + 1n;
      const next = this.areaIn(cur, lastIova);
      area = next && next.start === cur ? next : undefined;
    }
    return -ERRNO.ENOENT;
  }

  /** iopt_area_fill_domains: pin (charged once per page) and map into every domain; nothing without a domain. */
  private fillArea(area: IoptArea): number {
    if (this.domains.length === 0) return 0;
    const rc = pinArea(area);
    if (rc !== 0) return rc;
    for (let k = 0; k < this.domains.length; k++) {
      const m = mapInto(this.domains[k]!, area);
      if (m !== 0) {
        for (let j = k - 1; j >= 0; j--) this.domains[j]!.unmap(area.start, area.last - area.start + 1n);
        unpinArea(area);
        return m;
      }
    }
    return 0;
  }

  /** Removes an area: unmapped from every domain, unpinned, uncharged. Returns its length. */
  removeArea(area: IoptArea): bigint {
    const len = area.last - area.start + 1n;
    if (area.pinned) {
      for (const d of this.domains) d.unmap(area.start, len);
      unpinArea(area);
    }
    this.areas.remove(area);
    return len;
  }

  /**
   * iopt_unmap_iova_range: removes the areas inside [iova, last] in IOVA order and stops with -ENOENT at
   * one that is only partly inside (those before it stay removed). rc 0 when nothing was there; the bytes
   * removed either way.
   */
  unmapIovaRange(iova: bigint, last: bigint): { rc: number; unmapped: bigint } {
    let unmapped = 0n;
    for (;;) {
      const a = this.areaIn(iova, last);
      if (!a) break;
      if (a.start < iova || a.last > last) return { rc: -ERRNO.ENOENT, unmapped };
      unmapped += this.removeArea(a);
    }
    return { rc: 0, unmapped };
  }

  /** IOMMU_IOAS_UNMAP's use of it: whole areas inside [iova, last]; -ENOENT at a partly covered one or when none. */
  unmapRange(iova: bigint, last: bigint): bigint | number {
    const r = this.unmapIovaRange(iova, last);
    if (r.rc !== 0) return r.rc;
    return r.unmapped === 0n ? -ERRNO.ENOENT : r.unmapped;
  }

  /**
   * iopt_cut_iova for one IOVA: the area holding `iova` becomes two, split after `iova` (iopt_area_split).
   * Nothing to do at an area's first or last IOVA or outside any area; -EINVAL when the new start breaks
   * the IOVA alignment, or when a domain holds the area and large pages are allowed (a huge IOPTE could
   * not be split). The pages stay pinned, charged once.
   */
  cutAfter(iova: bigint): number {
    const area = this.areaIn(iova, iova);
    if (!area || iova === area.start || iova === area.last) return 0;
    const newStart = iova + 1n;
    const align = this.iovaAlignment;
    const rhsByte = area.startByte + (newStart - area.start);
    if (newStart % align !== 0n || rhsByte % align !== 0n) return -ERRNO.EINVAL;
    if (area.pinned && !this.disableLargePages) return -ERRNO.EINVAL;
    const lhs: IoptArea = { ...area, last: iova, pinned: false };
    const rhs: IoptArea = { ...area, start: newStart, startByte: rhsByte, pinned: false };
    this.areas.remove(area);
    this.areas.insert(lhs);
    this.areas.insert(rhs);
    if (area.pinned) {
      // both halves take over the hold on their pages before the whole lets go: nothing is re-pinned
      pinArea(lhs);
      pinArea(rhs);
      unpinArea(area);
    }
    return 0;
  }

  /** iopt_unmap_all. */
  unmapAll(): bigint {
    let unmapped = 0n;
    for (let a = this.areas.first(); a; a = this.areas.first()) unmapped += this.removeArea(a);
    return unmapped;
  }

  // ------------------------------------------------------------------ domains and alignment

  /** The alignment the domains and the huge-page option ask for (iopt_calculate_iova_alignment). */
  private alignmentFor(domains: readonly IommuDomain[], disableLarge: boolean): bigint {
    let a = disableLarge ? PAGE : 1n;
    for (const d of domains) {
      const min = lowestBit(d.pgsizeBitmap);
      if (min > a) a = min;
    }
    return a;
  }

  private areasAligned(align: bigint): boolean {
    return this.areas.every(
      (a) =>
        a.start % align === 0n &&
        (a.last - a.start + 1n) % align === 0n &&
        (a.startByte % PAGE) % align === 0n,
    );
  }

  /** iopt_table_add_domain: alignment, the aperture as reserved IOVA, then the existing areas. */
  addDomain(domain: IommuDomain): number {
    const min = lowestBit(domain.pgsizeBitmap);
    const newAlign = min > this.iovaAlignment ? min : this.iovaAlignment;
    if (newAlign > PAGE) return -ERRNO.EINVAL;
    if (newAlign !== this.iovaAlignment && !this.areasAligned(newAlign)) return -ERRNO.EADDRINUSE;
    const { apertureStart, apertureEnd } = domain.geometry;
    if (apertureStart !== 0n) {
      const rc = this.reserve(0n, apertureStart - 1n, domain);
      if (rc !== 0) return rc;
    }
    if (apertureEnd !== U64_MAX) {
      const rc = this.reserve(apertureEnd + 1n, U64_MAX, domain);
      if (rc !== 0) {
        this.removeReserved(domain);
        return rc;
      }
    }
    // iopt_fill_domain: the first domain pins the lazy areas, in IOVA order
    const filled: IoptArea[] = [];
    for (const a of this.areas) {
      let rc = a.pinned ? 0 : pinArea(a);
      if (rc === 0) rc = mapInto(domain, a);
      if (rc !== 0) {
        for (const f of filled) domain.unmap(f.start, f.last - f.start + 1n);
        if (this.domains.length === 0) for (const f of [...filled, a]) if (f.pinned) unpinArea(f);
        this.removeReserved(domain);
        return rc;
      }
      filled.push(a);
    }
    this.iovaAlignment = newAlign;
    this.domains.push(domain);
    return 0;
  }

  /** iopt_table_remove_domain: its reservations go, the last domain's removal unpins every area. */
  removeDomain(domain: IommuDomain): void {
    const i = this.domains.indexOf(domain);
    if (i < 0) return;
    for (const a of this.areas) if (a.pinned) domain.unmap(a.start, a.last - a.start + 1n);
    this.domains.splice(i, 1);
    if (this.domains.length === 0) for (const a of this.areas) if (a.pinned) unpinArea(a);
    this.removeReserved(domain);
    this.iovaAlignment = this.alignmentFor(this.domains, this.disableLargePages);
  }

  /** IOMMU_OPTION_HUGE_PAGES set: iopt_disable_large_pages / iopt_enable_large_pages. */
  setLargePages(enable: boolean): number {
    if (enable) {
      this.disableLargePages = false;
      this.iovaAlignment = this.alignmentFor(this.domains, false);
      return 0;
    }
    if (this.disableLargePages) return 0;
    if (this.domains.length > 0 && this.areas.size > 0) return -ERRNO.EINVAL;
    const a = this.alignmentFor(this.domains, true);
    if (!this.areasAligned(a)) return -ERRNO.EADDRINUSE;
    this.disableLargePages = true;
    this.iovaAlignment = a;
    return 0;
  }
}

/** Maps a pinned area into one domain, run by run: 0 or the domain's -errno (nothing left mapped). */
function mapInto(domain: IommuDomain, area: IoptArea): number {
  const prot = (area.readable ? IOMMU_READ : 0) | (area.writable ? IOMMU_WRITE : 0);
  const [first, last] = pageSpan(area);
  const base = area.start - (area.startByte % PAGE);
  let iova = base;
  for (const [physFrame, frames] of area.pages.physRuns(first, last)) {
    const size = BigInt(frames) * PAGE;
    const rc = domain.map(iova, BigInt(physFrame) * PAGE, size, prot);
    if (rc !== 0) {
      if (iova > base) domain.unmap(base, iova - base);
      return rc;
    }
    iova += size;
  }
  return 0;
}
