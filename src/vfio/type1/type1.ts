/**
 * The VFIO type1 IOMMU backend (drivers/vfio/vfio_iommu_type1.c): one instance per container after
 * VFIO_SET_IOMMU. Holds the domains, the DMA mappings, the usable IOVA list, the page-size bitmap and
 * the `dma_avail` budget, and answers the backend ioctls on the user's bytes.
 *
 * Kernel-modelling code: never throws for bad input, answers 0 / -errno like the kernel.
 */
import { ERRNO } from '../../base/errno.js';
import { U64_MAX } from '../../base/u64.js';
import { KernelDmaOrder } from './dma-rbtree.js';
import type { IommuCore, IommuDomain, IommuGroup } from '../../iommu/api.js';
import {
  IOMMU_CACHE,
  IOMMU_READ,
  IOMMU_WRITE,
  type ResvRegion,
  insertResvRegion,
} from '../../iommu/resv-region.js';
import type { KernelProfile } from '../../kernel/profile.js';
import { type AddressSpace, PAGE_SHIFT } from '../../mm/address-space.js';
import type { TaskCreds } from '../../kernel/task.js';
import {
  CAP_DMA_AVAIL_SIZE,
  CAP_IOVA_RANGE_SIZE,
  CAP_MIGRATION_SIZE,
  DIRTY_BITMAP_GET_SIZE,
  DIRTY_BITMAP_SIZE,
  DIRTY_BITMAP_SIZE_MAX,
  DMA_MAP_SIZE,
  DMA_MAP_VALID_FLAGS,
  DMA_UNMAP_SIZE,
  DMA_UNMAP_VALID_FLAGS,
  TYPE1_INFO_CAPSZ,
  TYPE1_INFO_MINSZ,
  TYPE1_INFO_SIZE,
  VFIO_BITMAP_SIZE,
  VFIO_CHECK_EXTENSION,
  VFIO_DMA_CC_IOMMU,
  VFIO_DMA_MAP_FLAG_READ,
  VFIO_DMA_MAP_FLAG_VADDR,
  VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_DMA_UNMAP_FLAG_ALL,
  VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP,
  VFIO_DMA_UNMAP_FLAG_VADDR,
  VFIO_IOMMU_DIRTY_PAGES,
  VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP,
  VFIO_IOMMU_DIRTY_PAGES_FLAG_START,
  VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP,
  VFIO_IOMMU_GET_INFO,
  VFIO_IOMMU_INFO_CAPS,
  VFIO_IOMMU_INFO_PGSIZES,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE,
  VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION,
  VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL,
  VFIO_IOMMU_UNMAP_DMA,
  VFIO_TYPE1_IOMMU,
  VFIO_TYPE1_NESTING_IOMMU,
  VFIO_TYPE1v2_IOMMU,
  VFIO_UNMAP_ALL,
  VFIO_UPDATE_VADDR,
  getU32,
  getU64,
  putU32,
  putU64,
} from '../../uapi/vfio-type1.js';
import { CapChain } from '../caps.js';
import { CoreDomain, MAP_NOT_HANDLED } from '../../iommu/domain.js';
import { accessOk, taskSizeMax } from '../../mm/uaccess.js';
import { DirtyBitmaps } from './dirty-bitmap.js';
import { DMA_NIL, DMA_READ, DMA_VADDR_INVALID, DMA_WRITE, DmaTree, SharedDmaIndex } from './dma-tree.js';
import {
  type IovaList,
  aperConflict,
  aperResize,
  copyIovaList,
  hasSwMsi,
  iovaDmaValid,
  refreshAfterDetach,
  resvConflict,
  resvExclude,
} from './iova-list.js';

/** Module parameters of vfio_iommu_type1 (writable at runtime through sysfs, like the kernel's 0644). */
export interface Type1Params {
  allowUnsafeInterrupts: boolean;
  /** Copied into `dma_avail` when a backend instance is created. Default U16_MAX. */
  dmaEntryLimit: number;
  /** Pins page by page; no effect on any answer in this model. */
  disableHugepages: boolean;
}

export const defaultType1Params = (): Type1Params => ({
  allowUnsafeInterrupts: false,
  dmaEntryLimit: 65535,
  disableHugepages: false,
});

/** What the backend needs from the rest of the system. */
export interface Type1Env {
  readonly core: IommuCore;
  readonly profile: KernelProfile;
  readonly params: Type1Params;
  readonly mm: AddressSpace;
  /** The calling process's RLIMIT_MEMLOCK and CAP_IPC_LOCK (undefined: never refused, as root). */
  readonly task?: TaskCreds;
  /** iommu_get_msi_cookie (dma-iommu): 0 or -errno. */
  readonly getMsiCookie: (domain: IommuDomain, base: bigint) => number;
  /** Kernel log (pr_warn and friends). */
  readonly log: (line: string) => void;
  /** A historical design (src/designs) replacing parts of today's rules; undefined = today's kernel. */
  readonly design?: Type1Design;
  /**
   * Keep the vfio_dma records inside the only domain's runs (one index; default true). false keeps
   * a separate DmaTree as the kernel does: same answers, for comparisons and tests.
   */
  readonly shareDomainStore?: boolean;
}

/**
 * Hook points a historical MSI design (src/designs) plugs into one backend instance. Every hook is
 * optional; a missing hook keeps today's behaviour byte for byte.
 */
export interface Type1DesignHooks {
  /** Aperture / reserved-region checks at attach and the usable IOVA list (false: 4.11 and earlier). */
  readonly enforceReserved?: boolean;
  /** GET_INFO's capability chain, replacing today's. */
  buildCaps?(): CapChain;
  /** MAP_DMA before today's checks: a number answers the ioctl, undefined falls through to today's path. */
  mapDma?(arg: Uint8Array): number | undefined;
  /** Replaces today's MSI-cookie step for a new domain (after replay); 0 or -errno. */
  newDomain?(domain: IommuDomain, regions: readonly ResvRegion[]): number;
}

/** A design: makes the hooks of one backend instance. */
export interface Type1Design {
  readonly name: string;
  instance(iommu: VfioIommuType1, env: Type1Env): Type1DesignHooks;
}

/** A domain with the frame-number fast path (the core's domains always have it). */
type FrameDomain = IommuDomain & Required<Pick<IommuDomain, 'mapFrames' | 'unmapFrames'>>;

/** struct vfio_domain */
export interface VfioDomain {
  readonly domain: IommuDomain;
  readonly groups: IommuGroup[];
  readonly enforceCacheCoherency: boolean;
}

const PAGE_SIZE_BIG = 1n << BigInt(PAGE_SHIFT);
const PAGE_MASK = U64_MAX & ~(PAGE_SIZE_BIG - 1n);
const TWO32 = 4294967296;
/** Frames in 2^64 bytes. */
const FRAMES_U64 = 2 ** 52;

const bigOfFrame = (f: number): bigint => (f < 2 ** 41 ? BigInt(f * 4096) : BigInt(f) << 12n);

/** vfio_iommu_type1_check_extension; `iommu` is undefined when asked without a backend instance. */
export function type1CheckExtension(
  iommu: VfioIommuType1 | undefined,
  ext: number,
  profile: KernelProfile,
): number {
  switch (ext) {
    case VFIO_TYPE1_IOMMU:
    case VFIO_TYPE1v2_IOMMU:
    case VFIO_UNMAP_ALL:
      return 1;
    case VFIO_TYPE1_NESTING_IOMMU:
      return profile.checkExtNesting;
    case VFIO_UPDATE_VADDR:
      // No emulated (mdev) groups exist in this model, so any instance qualifies.
      return iommu ? 1 : 0;
    case VFIO_DMA_CC_IOMMU:
      if (!iommu) return 0;
      return iommu.domains.every((d) => d.enforceCacheCoherency) ? 1 : 0;
    default:
      return 0;
  }
}

/**
 * The kernel's range checks of UNMAP (v2) and GET_BITMAP on its own tree: vfio_find_dma(iova, 1) finds a
 * mapping that starts before the range, or vfio_find_dma(iova + size - 1, 0) one that ends after it.
 */
function cutsAMapping(order: KernelDmaOrder, first: number, endEx: number): boolean {
  const a = order.findPoint(first);
  if (a !== null && a.iova !== first) return true;
  const b = order.findPoint(endEx - 1);
  return b !== null && b.end !== endEx % FRAMES_U64;
}

export class VfioIommuType1 {
  readonly v2: boolean;
  readonly nesting: boolean;
  readonly domains: VfioDomain[] = [];
  /**
   * The vfio_dma list: kept inside the only domain's runs while there is exactly one (SharedDmaIndex,
   * one tree for MAP/UNMAP to search), in a DmaTree of its own otherwise.
   */
  dma: DmaTree | SharedDmaIndex = new DmaTree();
  iovaList: IovaList = [];
  pgsizeBitmap: bigint = PAGE_MASK;
  dmaAvail: number;
  vaddrInvalidCount = 0;
  dirtyTracking = false;
  /** The mappings' dirty bitmaps while tracking is on (vfio_dma->bitmap). */
  private readonly dirty = new DirtyBitmaps();
  /** TASK_SIZE_MAX of the process (access_ok on user bitmap pointers). */
  private readonly taskSizeMax: bigint;
  /** The last findDma skipped a mapping or a range at 2^64-1 (<= 6.17 wrap): an overlap is possible. */
  private topSkipped = false;
  /**
   * The kernel's shape of the vfio_dma rb-tree, kept (<= 6.17) while the usable IOVA reaches 2^64-1: once
   * a mapping ends there, the kernel's searches depend on that shape (see KernelDmaOrder). Decided when
   * the list is empty; undefined otherwise.
   */
  private order: KernelDmaOrder | undefined;
  /**
   * Mappings (by first IOVA frame) whose frames were not all charged to mm->locked_vm: shared zero pages
   * pinned read-only (6.1), or no domain to pin for. Every other mapping charged all its frames.
   */
  private readonly uncharged = new Map<number, number>();
  /** Frames this backend charged to the process's mm->locked_vm (AddressSpace.lockedVmBytes sums them). */
  lockedFrames = 0;
  /** uncharged.size, as a plain field for the UNMAP hot path. */
  private unchargedCount = 0;
  /** dma_entry_limit when the instance was created. */
  readonly entryLimit: number;
  /** Smallest page size in frames and bytes (cached from pgsizeBitmap). */
  private minPageFrames = 1;
  private minPageBytes = 4096;
  /** Usable list in frames: [loFrame, hiFrame] per node (cache for the MAP hot path). */
  private framesLo: number[] = [];
  private framesHi: number[] = [];
  /** Hooks of the selected historical design (none for today's kernel). */
  readonly hooks: Type1DesignHooks | undefined;
  /** The only domain when there is exactly one and it has the frame-number fast path (hot path cache). */
  private oneDomain: FrameDomain | undefined;
  /** Profile answers the hot paths read (cached: the profile is fixed per instance). */
  private readonly wrapErrno: number;
  private readonly wrapsAtTop: boolean;

  /** vfio_iommu_type1_open: v1 (TYPE1), v2 (TYPE1v2 and the nesting value); -EINVAL otherwise. */
  static open(env: Type1Env, type: number): VfioIommuType1 | number {
    if (type === VFIO_TYPE1_IOMMU) return new VfioIommuType1(env, false, false);
    if (type === VFIO_TYPE1v2_IOMMU) return new VfioIommuType1(env, true, false);
    if (type === VFIO_TYPE1_NESTING_IOMMU) return new VfioIommuType1(env, true, true);
    return -ERRNO.EINVAL;
  }

  private constructor(
    private readonly env: Type1Env,
    v2: boolean,
    nesting: boolean,
  ) {
    this.v2 = v2;
    this.nesting = nesting;
    this.entryLimit = env.params.dmaEntryLimit >>> 0;
    this.dmaAvail = this.entryLimit;
    this.wrapErrno = -ERRNO[env.profile.mapOverflowErrno];
    this.wrapsAtTop = env.profile.type1EndWrapsAtTop;
    this.taskSizeMax = taskSizeMax(env.core, env.profile);
    this.domainsChanged();
    this.hooks = env.design?.instance(this, env);
    env.mm.addLocker(this);
  }

  /** Some vfio_dma intersects [start, end] (inclusive byte addresses). */
  overlapsDma(start: bigint, end: bigint): boolean {
    return this.dmaIntersects(start, end);
  }

  /** All attached groups, in domain order. */
  groups(): IommuGroup[] {
    return this.domains.flatMap((d) => d.groups);
  }

  hasGroup(g: IommuGroup): boolean {
    return this.domains.some((d) => d.groups.includes(g));
  }

  /** The usable ranges as inclusive bigint pairs. */
  usableRanges(): { start: bigint; end: bigint }[] {
    return this.iovaList.map((n) => ({ start: n.start, end: n.end }));
  }

  /** Smallest supported page size in bytes. */
  get minPageSize(): bigint {
    return BigInt(this.minPageBytes);
  }

  // ---------------------------------------------------------------- attach / detach

  private dmaIntersects = (start: bigint, end: bigint): boolean => {
    // vfio_find_dma(start, end - start + 1): <= 6.17 a range that ends at 2^64-1 has `start + size`
    // 0, so the descent goes left at every node and finds nothing
    if (this.wrapsAtTop && end === U64_MAX) return false;
    const s = Number(start >> 12n);
    const e = Number(end >> 12n);
    const order = this.order;
    if (order !== undefined && order.wrapped > 0) return order.findRange(s, e - s + 1) !== null;
    return this.dma.findIntersecting(s, e) !== DMA_NIL;
  };

  /** vfio_iommu_type1_attach_group, in the kernel's order; 0 or -errno (nothing changed on failure). */
  attachGroup(group: IommuGroup): number {
    const { core } = this.env;
    if (this.vaddrInvalidCount > 0) return -ERRNO.EBUSY;
    if (this.hasGroup(group)) return -ERRNO.EINVAL;
    const dev = group.devices[0];
    if (!dev) return -ERRNO.ENODEV;
    const alloc = core.allocPagingDomain(dev);
    if (!alloc.ok) return -alloc.errno;
    const domain = alloc.value;
    if (this.nesting) {
      // iommu_enable_nesting: only the SMMU drivers implement enable_nesting.
      if (domain.driverName !== 'arm-smmu' && domain.driverName !== 'arm-smmu-v3') {
        core.freeDomain(domain);
        return -ERRNO.EINVAL;
      }
    }
    let rc = core.attachGroup(domain, group);
    if (rc !== 0) {
      core.freeDomain(domain);
      return rc;
    }
    const fail = (err: number): number => {
      core.detachGroup(domain, group);
      core.freeDomain(domain);
      return err;
    };
    const geo = domain.geometry;
    const enforce = this.hooks?.enforceReserved ?? true;
    if (enforce && aperConflict(this.iovaList, geo.apertureStart, geo.apertureEnd, this.dmaIntersects)) {
      return fail(-ERRNO.EINVAL);
    }
    const regions = core.groupResvRegions(group);
    if (enforce && resvConflict(regions, this.dmaIntersects)) return fail(-ERRNO.EINVAL);
    const copy = copyIovaList(this.iovaList);
    if (enforce) {
      aperResize(copy, geo.apertureStart, geo.apertureEnd);
      rc = resvExclude(copy, regions);
      if (rc !== 0) return fail(rc);
    }
    const swMsi = hasSwMsi(regions);
    if (!this.env.params.allowUnsafeInterrupts && !core.groupHasIsolatedMsi(group)) {
      this.env.log(
        'vfio_iommu_type1_attach_group: No interrupt remapping support.  Use the module param ' +
          '"allow_unsafe_interrupts" to enable VFIO IOMMU support on this platform',
      );
      return fail(-ERRNO.EPERM);
    }
    const enforceCacheCoherency = domain.enforceCacheCoherency;
    // Join an existing domain of the same driver and coherency: no replay, no new cookie.
    for (const d of this.domains) {
      if (d.domain.driverName !== domain.driverName || d.enforceCacheCoherency !== enforceCacheCoherency)
        continue;
      core.detachGroup(domain, group);
      if (core.attachGroup(d.domain, group) === 0) {
        d.groups.push(group);
        core.freeDomain(domain);
        this.commitIovaList(copy);
        return 0;
      }
      rc = core.attachGroup(domain, group);
      if (rc !== 0) {
        core.freeDomain(domain);
        return rc;
      }
    }
    rc = this.replay(domain);
    if (rc !== 0) return fail(rc);
    if (this.hooks?.newDomain) {
      rc = this.hooks.newDomain(domain, regions);
      if (rc !== 0) {
        this.unmapAllFrom(domain);
        return fail(rc);
      }
    } else if (swMsi.found) {
      rc = this.env.getMsiCookie(domain, swMsi.base);
      if (rc !== 0 && rc !== -ERRNO.ENODEV) {
        this.unmapAllFrom(domain);
        return fail(rc);
      }
    }
    this.domains.push({ domain, groups: [group], enforceCacheCoherency });
    this.domainsChanged();
    this.commitIovaList(copy);
    return 0;
  }

  /** vfio_iommu_type1_detach_group. */
  detachGroup(group: IommuGroup): void {
    const { core } = this.env;
    const idx = this.domains.findIndex((d) => d.groups.includes(group));
    let expand: { start: bigint; end: bigint } | undefined;
    if (idx >= 0) {
      const d = this.domains[idx]!;
      core.detachGroup(d.domain, group);
      d.groups.splice(d.groups.indexOf(group), 1);
      if (d.groups.length === 0) {
        if (this.domains.length === 1) this.removeAllDma();
        core.freeDomain(d.domain);
        this.domains.splice(idx, 1);
        // vfio_iommu_aper_expand: tightest aperture of the remaining domains.
        let s = 0n;
        let e = U64_MAX;
        for (const o of this.domains) {
          if (o.domain.geometry.apertureStart > s) s = o.domain.geometry.apertureStart;
          if (o.domain.geometry.apertureEnd < e) e = o.domain.geometry.apertureEnd;
        }
        expand = { start: s, end: e };
        this.domainsChanged();
      }
    }
    // vfio_iommu_resv_refresh: regions of every remaining group, merged into one list.
    let regions: ResvRegion[] = [];
    for (const g of this.groups()) {
      for (const r of core.groupResvRegions(g)) regions = insertResvRegion(regions, r);
    }
    const fresh = refreshAfterDetach(this.iovaList, expand, regions);
    // On failure the kernel keeps the old list (the expansion only touched its copy).
    if (fresh) this.commitIovaList(fresh);
  }

  /** vfio_iommu_type1_release: unmap everything, detach and free every domain. */
  release(): void {
    this.removeAllDma();
    this.env.mm.removeLocker(this);
    for (const d of this.domains) {
      for (const g of d.groups) this.env.core.detachGroup(d.domain, g);
      this.env.core.freeDomain(d.domain);
    }
    this.domains.length = 0;
    this.oneDomain = undefined;
  }

  private commitIovaList(list: IovaList): void {
    this.iovaList = list;
    this.framesLo = [];
    this.framesHi = [];
    for (const n of list) {
      // Page-aligned requests fit [start, end] iff their frames fit [ceil(start), floor(end+1) - 1].
      this.framesLo.push(Number((n.start + PAGE_SIZE_BIG - 1n) >> 12n));
      this.framesHi.push(Number((n.end + 1n) >> 12n) - 1);
    }
  }

  /** vfio_update_pgsize_bitmap */
  private recomputePgsize(): void {
    let bm = U64_MAX;
    for (const d of this.domains) bm &= d.domain.pgsizeBitmap;
    if ((bm & ~PAGE_MASK) !== 0n) bm = (bm & PAGE_MASK) | PAGE_SIZE_BIG;
    this.pgsizeBitmap = bm;
    // __ffs of an empty bitmap is undefined in the kernel; the model keeps PAGE_SIZE then.
    const low = bm === 0n ? PAGE_SIZE_BIG : bm & -bm;
    this.minPageBytes = Number(low);
    this.minPageFrames = Number(low >> 12n);
  }

  /** The domain list changed: page sizes, the one-domain hot path, and where the vfio_dma list lives. */
  private domainsChanged(): void {
    this.recomputePgsize();
    const only = this.domains.length === 1 ? this.domains[0]!.domain : undefined;
    this.oneDomain = only?.mapFrames && only.unmapFrames ? (only as FrameDomain) : undefined;
    if (only === undefined) this.leaveShared();
    else if (
      this.env.shareDomainStore !== false &&
      this.dma instanceof DmaTree &&
      this.dma.size === 0 &&
      only instanceof CoreDomain
    ) {
      // A container's first domain, before any mapping: keep the vfio_dma records in its runs.
      const tree = only.shareStore({ release: () => this.leaveShared() });
      if (tree) this.dma = new SharedDmaIndex(tree, only);
    }
  }

  /** Moves the vfio_dma records out of the domain's runs into a DmaTree of their own. */
  private leaveShared(): DmaTree {
    const sh = this.dma;
    if (sh instanceof DmaTree) return sh;
    const tree = new DmaTree();
    for (const e of sh.entries()) tree.insert(e.iova, e.pages, e.vaddr, e.flags);
    this.dma = tree;
    sh.domain.unshareStore();
    return tree;
  }

  /** vfio_iommu_replay: map every existing mapping into a new domain (undone on failure). */
  private replay(domain: IommuDomain): number {
    const done: [number, number][] = [];
    for (const e of this.replayOrder()) {
      const rc = this.mapInto(domain, e.iova, e.pages, e.vaddr, e.flags);
      if (rc !== 0) {
        for (const [iova, pages] of done) domain.unmap(bigOfFrame(iova), bigOfFrame(pages));
        return rc;
      }
      done.push([e.iova, e.pages]);
    }
    return 0;
  }

  /** The mappings in rb_first/rb_next order: by IOVA, unless a mapping ending at 2^64-1 sits elsewhere. */
  private replayOrder(): Iterable<{ iova: number; pages: number; vaddr: number; flags: number }> {
    const order = this.order;
    if (order === undefined || order.wrapped === 0) return this.dma.entries();
    const byIova = new Map([...this.dma.entries()].map((e) => [e.iova, e]));
    return [...order.inOrder()].map((n) => byIova.get(n.iova)!);
  }

  private unmapAllFrom(domain: IommuDomain): void {
    for (const e of this.dma.entries()) domain.unmap(bigOfFrame(e.iova), bigOfFrame(e.pages));
  }

  /** Maps one vfio_dma into one domain, run by physically contiguous run. */
  private mapInto(domain: IommuDomain, iova: number, pages: number, vaddr: number, flags: number): number {
    const prot =
      ((flags & DMA_READ) !== 0 ? IOMMU_READ : 0) |
      ((flags & DMA_WRITE) !== 0 ? IOMMU_WRITE : 0) |
      IOMMU_CACHE;
    let off = 0;
    while (off < pages) {
      const run = this.env.mm.runAt(vaddr + off, pages - off);
      if (!run) {
        if (off > 0) domain.unmap(bigOfFrame(iova), bigOfFrame(off));
        return -ERRNO.EFAULT;
      }
      const rc = domain.map(bigOfFrame(iova + off), bigOfFrame(run[0]), bigOfFrame(run[1]), prot);
      if (rc !== 0) {
        if (off > 0) domain.unmap(bigOfFrame(iova), bigOfFrame(off));
        return rc;
      }
      off += run[1];
    }
    return 0;
  }

  private removeAt(i: number): void {
    const dma = this.dma;
    const order = this.order;
    if (order !== undefined) {
      order.erase(dma.iovaOf(i));
      // an empty list decides afresh at the next MAP
      if (order.size === 0) this.order = undefined;
    }
    if ((dma.flagsOf(i) & DMA_VADDR_INVALID) !== 0) this.vaddrInvalidCount--;
    if (this.dirtyTracking) this.dirty.forget(dma.iovaOf(i));
    // vfio_unmap_unpin gives the mapping's charge back (a plain field: this is the UNMAP hot path)
    const charge = this.unchargedCount === 0 ? dma.pagesOf(i) : this.chargeOf(dma.iovaOf(i), dma.pagesOf(i));
    this.lockedFrames -= charge;
    // <= 6.17: a mapping that ends at 2^64-1 has `iova + size == 0`, so vfio_unmap_unpin's loop never
    // runs: its pages stay pinned and charged to the process (checked on the kernels: gen-memlock)
    if (this.wrapsAtTop && dma.lastOf(i) === FRAMES_U64 - 1) this.env.mm.strand(charge);
    if (dma instanceof SharedDmaIndex) {
      // The run is the mapping: iommu_unmap of exactly its pages, and the record goes with it.
      dma.unmapRemove(i);
      this.dmaAvail++;
      return;
    }
    const iova = dma.iovaOf(i);
    const pages = dma.pagesOf(i);
    const one = this.oneDomain;
    if (one !== undefined) one.unmapFrames(iova, pages, PAGE_SHIFT);
    else {
      for (let k = 0; k < this.domains.length; k++) {
        const d = this.domains[k]!.domain;
        if (d.unmapFrames) d.unmapFrames(iova, pages, PAGE_SHIFT);
        else d.unmap(bigOfFrame(iova), bigOfFrame(pages));
      }
    }
    dma.remove(iova);
    this.dmaAvail++;
  }

  /**
   * vfio_pin_pages_remote's charge for pinning frames [vaddrF, vaddrF+pinned), the frames before the
   * first that does not pin: how many frames go to mm->locked_vm (on 6.1 a read-only pin of a page still
   * on the shared zero page pins that page, which is_invalid_reserved_pfn leaves uncharged), or -ENOMEM
   * when, without CAP_IPC_LOCK, one of them would take locked_vm past RLIMIT_MEMLOCK (with the kernel's
   * pr_warn; vfio_pin_map_dma then undoes the whole map). The caller adds the charge once the map is in.
   */
  private pinCharge(vaddrF: number, pinned: number, write: boolean): number {
    let charged = pinned;
    if (!write && pinned > 0 && !this.env.profile.roPinUnsharesZeroPage)
      charged -= this.env.mm.zeroPageFrames(vaddrF, pinned);
    const task = this.env.task;
    if (task === undefined || task.capIpcLock || charged === 0) return charged;
    const pg = this.env.core.pageSize;
    const limit = task.memlockPages(pg);
    if (this.env.mm.lockedVmBytes / pg + (charged * 4096) / pg > limit) {
      this.env.log(`vfio_pin_pages_remote: RLIMIT_MEMLOCK (${BigInt(limit) * BigInt(pg)}) exceeded`);
      return -ERRNO.ENOMEM;
    }
    return charged;
  }

  /** A new mapping of `frames` frames at iovaF charged `charged` of them (vfio_lock_acct). */
  private commitCharge(iovaF: number, frames: number, charged: number): void {
    this.lockedFrames += charged;
    if (charged !== frames) {
      this.uncharged.set(iovaF, frames - charged);
      this.unchargedCount = this.uncharged.size;
    }
  }

  /** What the mapping at iovaF (`frames` frames), now going, had charged; forgets its exception. */
  private chargeOf(iovaF: number, frames: number): number {
    const u = this.uncharged.get(iovaF);
    if (u === undefined) return frames;
    this.uncharged.delete(iovaF);
    this.unchargedCount = this.uncharged.size;
    return frames - u;
  }

  /** vfio_iommu_unmap_unpin_all */
  private removeAllDma(): void {
    for (let i = this.dma.firstFrom(0); i !== DMA_NIL; i = this.dma.firstFrom(0)) this.removeAt(i);
  }

  // ---------------------------------------------------------------- ioctls

  /** vfio_iommu_type1_ioctl */
  ioctl(cmd: number, arg: Uint8Array | number | undefined): number {
    switch (cmd) {
      case VFIO_CHECK_EXTENSION:
        return type1CheckExtension(this, typeof arg === 'number' ? arg : 0, this.env.profile);
      case VFIO_IOMMU_GET_INFO:
        return arg instanceof Uint8Array ? this.getInfo(arg) : -ERRNO.EFAULT;
      case VFIO_IOMMU_MAP_DMA:
        return arg instanceof Uint8Array ? this.mapDma(arg) : -ERRNO.EFAULT;
      case VFIO_IOMMU_UNMAP_DMA:
        return arg instanceof Uint8Array ? this.unmapDma(arg) : -ERRNO.EFAULT;
      case VFIO_IOMMU_DIRTY_PAGES:
        return arg instanceof Uint8Array ? this.dirtyPages(arg) : -ERRNO.EFAULT;
      default:
        return -ERRNO.ENOTTY;
    }
  }

  /** vfio_iommu_type1_get_info */
  getInfo(arg: Uint8Array): number {
    if (arg.length < TYPE1_INFO_MINSZ) return -ERRNO.EFAULT;
    const argsz = getU32(arg, 0);
    if (argsz < TYPE1_INFO_MINSZ) return -ERRNO.EINVAL;
    const copyLen = this.env.profile.type1InfoCopiesMin24
      ? Math.min(argsz, TYPE1_INFO_SIZE)
      : argsz >= TYPE1_INFO_CAPSZ
        ? TYPE1_INFO_CAPSZ
        : TYPE1_INFO_MINSZ;
    const info = new Uint8Array(TYPE1_INFO_SIZE);
    putU32(info, 0, argsz);
    let flags = VFIO_IOMMU_INFO_PGSIZES;
    putU64(info, 8, this.pgsizeBitmap);
    const caps = this.hooks?.buildCaps ? this.hooks.buildCaps() : this.buildCaps();
    if (caps.size > 0) {
      flags |= VFIO_IOMMU_INFO_CAPS;
      if (argsz < TYPE1_INFO_SIZE + caps.size) {
        putU32(info, 0, TYPE1_INFO_SIZE + caps.size);
      } else {
        caps.shift(TYPE1_INFO_SIZE);
        if (arg.length < TYPE1_INFO_SIZE + caps.size) return -ERRNO.EFAULT;
        arg.set(caps.bytes, TYPE1_INFO_SIZE);
        putU32(info, 16, TYPE1_INFO_SIZE);
      }
    }
    putU32(info, 4, flags);
    if (arg.length < copyLen) return -ERRNO.EFAULT;
    arg.set(info.subarray(0, copyLen), 0);
    return 0;
  }

  /** vfio_iommu_migration_build_caps, vfio_iommu_dma_avail_build_caps, vfio_iommu_iova_build_caps. */
  buildCaps(): CapChain {
    const caps = new CapChain(this.env.profile);
    let off = caps.add(CAP_MIGRATION_SIZE, VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION, 1);
    putU32(caps.raw, off + 8, 0);
    putU64(caps.raw, off + 16, BigInt(this.minPageBytes));
    putU64(caps.raw, off + 24, DIRTY_BITMAP_SIZE_MAX);
    off = caps.add(CAP_DMA_AVAIL_SIZE, VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, 1);
    putU32(caps.raw, off + 8, this.dmaAvail >>> 0);
    const n = this.iovaList.length;
    if (n > 0) {
      off = caps.add(CAP_IOVA_RANGE_SIZE + 16 * n, VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, 1);
      putU32(caps.raw, off + 8, n);
      putU32(caps.raw, off + 12, 0);
      for (let i = 0; i < n; i++) {
        putU64(caps.raw, off + 16 + 16 * i, this.iovaList[i]!.start);
        putU64(caps.raw, off + 24 + 16 * i, this.iovaList[i]!.end);
      }
    }
    return caps;
  }

  /**
   * A u64 field at `off` as a frame number when it is a multiple of the minimum page size, or -1 when
   * it is not. Frames are exact JS numbers (< 2^52).
   */
  private alignedFrame(b: Uint8Array, off: number): number {
    const lo = getU32(b, off);
    const hi = getU32(b, off + 4);
    const pg = this.minPageBytes;
    if (pg === 4096) return (lo & 0xfff) !== 0 ? -1 : hi * 1048576 + (lo >>> 12);
    if (pg <= TWO32) {
      if (pg === TWO32 ? lo !== 0 : (lo & (pg - 1)) !== 0) return -1;
    } else {
      if (lo !== 0 || (hi & (pg / TWO32 - 1)) !== 0) return -1;
    }
    return hi * 1048576 + (lo >>> 12);
  }

  /** vfio_iommu_type1_map_dma + vfio_dma_do_map (<= 6.17 order: prot, then size/alignment/wrap). */
  mapDma(arg: Uint8Array): number {
    if (arg.length < DMA_MAP_SIZE) return -ERRNO.EFAULT;
    const hooked = this.hooks?.mapDma?.(arg);
    if (hooked !== undefined) return hooked;
    const argsz = getU32(arg, 0);
    const flags = getU32(arg, 4);
    if (argsz < DMA_MAP_SIZE || (flags & ~DMA_MAP_VALID_FLAGS) !== 0) return -ERRNO.EINVAL;
    const setVaddr = (flags & VFIO_DMA_MAP_FLAG_VADDR) !== 0;
    const prot = flags & (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
    if ((prot !== 0 && setVaddr) || (prot === 0 && !setVaddr)) return -ERRNO.EINVAL;
    const sizeLo = getU32(arg, 24);
    const sizeHi = getU32(arg, 28);
    const iovaF = this.alignedFrame(arg, 16);
    const sizeF = this.alignedFrame(arg, 24);
    const vaddrF = this.alignedFrame(arg, 8);
    if ((sizeLo === 0 && sizeHi === 0) || iovaF < 0 || sizeF < 0 || vaddrF < 0) return -ERRNO.EINVAL;
    // Don't allow IOVA or virtual address wrap (EINVAL before 6.18).
    if (iovaF + sizeF > FRAMES_U64 || vaddrF + sizeF > FRAMES_U64) return this.wrapErrno;
    const last = iovaF + sizeF - 1;
    if (this.order === undefined && this.wrapsAtTop && this.dmaAvail === this.entryLimit && this.reachesTop())
      this.order = new KernelDmaOrder();
    const hit = this.findDma(iovaF, last);
    if (setVaddr) {
      if (hit === DMA_NIL) return -ERRNO.ENOENT;
      const f = this.dma.flagsOf(hit);
      if (
        (f & DMA_VADDR_INVALID) === 0 ||
        this.dma.iovaOf(hit) !== iovaF ||
        this.dma.pagesOf(hit) !== sizeF
      ) {
        return -ERRNO.EINVAL;
      }
      this.dma.setVaddr(hit, vaddrF);
      this.dma.setFlags(hit, f & ~DMA_VADDR_INVALID);
      this.vaddrInvalidCount--;
      return 0;
    }
    if (hit !== DMA_NIL) return -ERRNO.EEXIST;
    if (this.dmaAvail === 0) return -ERRNO.ENOSPC;
    if (!this.iovaFramesValid(iovaF, last)) return -ERRNO.EINVAL;
    const dflags =
      ((flags & VFIO_DMA_MAP_FLAG_READ) !== 0 ? DMA_READ : 0) |
      ((flags & VFIO_DMA_MAP_FLAG_WRITE) !== 0 ? DMA_WRITE : 0);
    const dom = this.oneDomain;
    if (dom !== undefined) {
      // Hot path: one domain and one user region behind the whole range.
      const write = (dflags & DMA_WRITE) !== 0;
      const phys = this.env.mm.pinSingle(vaddrF, sizeF, write);
      if (phys >= 0) {
        // pinCharge only matters without CAP_IPC_LOCK, or for a read-only pin (the 6.1 zero page)
        const task = this.env.task;
        const charged =
          write && (task === undefined || task.capIpcLock) ? sizeF : this.pinCharge(vaddrF, sizeF, write);
        if (charged < 0) return charged;
        const prot =
          ((dflags & DMA_READ) !== 0 ? IOMMU_READ : 0) |
          ((dflags & DMA_WRITE) !== 0 ? IOMMU_WRITE : 0) |
          IOMMU_CACHE;
        const sh = this.dma;
        if (sh instanceof SharedDmaIndex && !this.topSkipped) {
          // Map and link in one step: the domain's run carries the vfio_dma record.
          const rc = sh.mapInsert(iovaF, phys, sizeF, prot, vaddrF, dflags);
          if (rc !== MAP_NOT_HANDLED) {
            if (rc === 0) {
              this.dmaAvail--;
              this.commitCharge(iovaF, sizeF, charged);
              this.order?.link(iovaF, sizeF);
            }
            return rc;
          }
        }
        const tree = this.leaveShared();
        // The frame-number fast path (same rules and errnos as map).
        const mrc = dom.mapFrames(iovaF, phys, sizeF, prot, PAGE_SHIFT);
        if (mrc !== 0) return mrc;
        if (this.topSkipped && tree.findIntersecting(iovaF, last) !== DMA_NIL) {
          // Only reachable through the <= 6.17 top wrap with a domain that accepted an overlapping map.
          this.domains[0]!.domain.unmap(bigOfFrame(iovaF), bigOfFrame(sizeF));
          return -ERRNO.EEXIST;
        }
        tree.insert(iovaF, sizeF, vaddrF, dflags);
        this.dmaAvail--;
        this.commitCharge(iovaF, sizeF, charged);
        this.order?.link(iovaF, sizeF);
        return 0;
      }
    }
    // No domain: nothing is pinned, so nothing is charged (vfio_dma_do_map pins only with domains).
    let charged = 0;
    if (this.domains.length > 0) {
      // vfio_pin_map_dma: pin (FOLL_WRITE for device writes), then map into every domain. The charge
      // is checked page by page as they pin: a page past RLIMIT_MEMLOCK before the first bad address
      // is -ENOMEM, else that address is -EFAULT.
      const write = (dflags & DMA_WRITE) !== 0;
      const pinned = this.env.mm.pinnable(vaddrF, sizeF, write);
      charged = this.pinCharge(vaddrF, pinned, write);
      if (charged < 0) return charged;
      if (pinned < sizeF) return -ERRNO.EFAULT;
      // Several runs (or none of the fast path): the records need a tree of their own.
      this.leaveShared();
      for (let k = 0; k < this.domains.length; k++) {
        const mrc = this.mapInto(this.domains[k]!.domain, iovaF, sizeF, vaddrF, dflags);
        if (mrc !== 0) {
          for (let j = 0; j < k; j++) this.domains[j]!.domain.unmap(bigOfFrame(iovaF), bigOfFrame(sizeF));
          return mrc;
        }
      }
    }
    const tree = this.leaveShared();
    if (this.topSkipped && tree.findIntersecting(iovaF, last) !== DMA_NIL) {
      for (const d of this.domains) d.domain.unmap(bigOfFrame(iovaF), bigOfFrame(sizeF));
      return -ERRNO.EEXIST;
    }
    tree.insert(iovaF, sizeF, vaddrF, dflags);
    this.dmaAvail--;
    this.commitCharge(iovaF, sizeF, charged);
    this.order?.link(iovaF, sizeF);
    return 0;
  }

  /** The usable IOVA list reaches 2^64-1 (or there is none yet): a mapping may end there. */
  private reachesTop(): boolean {
    const hi = this.framesHi;
    return hi.length === 0 || hi[hi.length - 1] === FRAMES_U64 - 1;
  }

  /**
   * <= 6.17: a mapping that ends at 2^64-1 has `iova + size == 0` in the kernel's u64 arithmetic:
   * vfio_find_dma and vfio_find_dma_first_node never return it.
   */
  private hiddenAtTop(h: number): boolean {
    return h !== DMA_NIL && this.wrapsAtTop && this.dma.iovaOf(h) + this.dma.pagesOf(h) === FRAMES_U64;
  }

  /** vfio_find_dma(iova, size) for frames [first, last], with the <= 6.17 wrap at the top. */
  private findDma(first: number, last: number): number {
    this.topSkipped = false;
    if (this.order !== undefined) return this.findInKernelOrder(this.order, first, last);
    // A range ending at 2^64-1: `start + size` is 0, the search always goes left and finds nothing.
    if (this.wrapsAtTop && last === FRAMES_U64 - 1) {
      this.topSkipped = true;
      return DMA_NIL;
    }
    const h = this.dma.findIntersecting(first, last);
    if (!this.hiddenAtTop(h)) return h;
    this.topSkipped = true;
    // The top mapping is invisible; another one below it may still intersect.
    const top = this.dma.iovaOf(h);
    return top > first ? this.dma.findIntersecting(first, top - 1) : DMA_NIL;
  }

  /** findDma with the kernel's tree kept: its own descent once a mapping ends at 2^64-1. */
  private findInKernelOrder(order: KernelDmaOrder, first: number, last: number): number {
    if (order.wrapped === 0 && last !== FRAMES_U64 - 1) return this.dma.findIntersecting(first, last);
    // an overlap the kernel's descent misses is caught when the domain maps it
    this.topSkipped = true;
    const n = order.findRange(first, last - first + 1);
    return n === null ? DMA_NIL : this.dma.containing(n.iova);
  }

  private iovaFramesValid(first: number, last: number): boolean {
    const lo = this.framesLo;
    const n = lo.length;
    if (n === 0) return true;
    const hi = this.framesHi;
    // Binary search for the last node starting at or before `first`.
    let a = 0;
    let b = n - 1;
    let k = -1;
    while (a <= b) {
      const m = (a + b) >> 1;
      if (lo[m]! <= first) {
        k = m;
        a = m + 1;
      } else b = m - 1;
    }
    if (k >= 0 && last <= hi[k]!) return true;
    // Nodes too small for one page have lo > hi; fall back to the kernel's linear walk for exactness.
    return iovaDmaValid(this.iovaList, bigOfFrame(first), bigOfFrame(last + 1) - 1n);
  }

  /** vfio_iommu_type1_unmap_dma + vfio_dma_do_unmap (<= 6.17 errnos). */
  unmapDma(arg: Uint8Array): number {
    if (arg.length < DMA_UNMAP_SIZE) return -ERRNO.EFAULT;
    const argsz = getU32(arg, 0);
    const flags = getU32(arg, 4);
    if (argsz < DMA_UNMAP_SIZE || (flags & ~DMA_UNMAP_VALID_FLAGS) !== 0) return -ERRNO.EINVAL;
    const dirty = (flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) !== 0;
    const all = (flags & VFIO_DMA_UNMAP_FLAG_ALL) !== 0;
    const invalidate = (flags & VFIO_DMA_UNMAP_FLAG_VADDR) !== 0;
    if (dirty && (all || invalidate)) return -ERRNO.EINVAL;
    let bitmapPgsize = 0n;
    let bitmapData = 0n;
    if (dirty) {
      if (argsz < DMA_UNMAP_SIZE + VFIO_BITMAP_SIZE) return -ERRNO.EINVAL;
      if (arg.length < DMA_UNMAP_SIZE + VFIO_BITMAP_SIZE) return -ERRNO.EFAULT;
      bitmapPgsize = getU64(arg, 24);
      const bsize = getU64(arg, 32);
      bitmapData = getU64(arg, 40);
      if (!accessOk(this.taskSizeMax, bitmapData, bsize)) return -ERRNO.EINVAL;
      const npages = bitmapPgsize === 0n ? 0n : getU64(arg, 16) >> BigInt(lowBit(bitmapPgsize));
      if (verifyBitmapSize(npages, bsize) !== 0) return -ERRNO.EINVAL;
    }
    // --- vfio_dma_do_unmap (frames: every accepted iova/size is a multiple of the minimum page size)
    const first = this.alignedFrame(arg, 8);
    if (first < 0) return -ERRNO.EINVAL;
    const sizeLo = getU32(arg, 16);
    const sizeHi = getU32(arg, 20);
    let endEx: number;
    if (all) {
      if (first !== 0 || sizeLo !== 0 || sizeHi !== 0) return -ERRNO.EINVAL;
      // size = U64_MAX: the walk covers every frame.
      endEx = FRAMES_U64;
    } else {
      const sizeF = this.alignedFrame(arg, 16);
      if ((sizeLo === 0 && sizeHi === 0) || sizeF < 0) return -ERRNO.EINVAL;
      if (first + sizeF > FRAMES_U64) return this.wrapErrno;
      endEx = first + sizeF;
    }
    if (dirty && (!this.dirtyTracking || bitmapPgsize !== BigInt(this.minPageBytes))) return -ERRNO.EINVAL;
    const order = this.order;
    if (order !== undefined && order.wrapped > 0 && !all) {
      const n = this.unmapInKernelOrder(order, first, endEx, invalidate, dirty, bitmapData);
      if (n < 0) return n;
      return this.unmappedBack(arg, n);
    }
    // The first mapping whose last frame is >= first (vfio_find_dma_first_node); it contains `first`
    // when it starts at or below it.
    let i = this.dma.firstFrom(first);
    if (this.v2 && !all) {
      // Can't unmap in the middle of a mapping, at either end.
      if (i !== DMA_NIL && this.dma.iovaOf(i) < first && !this.hiddenAtTop(i)) return -ERRNO.EINVAL;
      let b = i;
      if (b === DMA_NIL || this.dma.iovaOf(b) + this.dma.pagesOf(b) < endEx)
        b = this.dma.containing(endEx - 1);
      else if (this.dma.iovaOf(b) > endEx - 1) b = DMA_NIL;
      if (b !== DMA_NIL && !this.hiddenAtTop(b) && this.dma.iovaOf(b) + this.dma.pagesOf(b) !== endEx) {
        return -ERRNO.EINVAL;
      }
    }
    // <= 6.17: a range ending at 2^64-1 has `iova + size == 0`: the walk stops before the first mapping.
    // (UNMAP_ALL uses size U64_MAX, which does not wrap: it removes a mapping at the top too, as the
    // kernel runs show.)
    if (this.wrapsAtTop && !all && endEx === FRAMES_U64) i = DMA_NIL;
    let unmapped = 0;
    if (invalidate) {
      const touched: number[] = [];
      while (i !== DMA_NIL) {
        const k = this.dma.iovaOf(i);
        if (k >= endEx) break;
        if (!this.v2 && first > k) break;
        if (!this.invalidateVaddr(i, k, touched)) return -ERRNO.EINVAL;
        const pages = this.dma.pagesOf(i);
        unmapped += pages;
        // A mapping reaching endEx ends the walk: the next one starts at or after its end.
        i = k + pages >= endEx ? DMA_NIL : this.dma.next(i);
      }
    } else {
      while (i !== DMA_NIL) {
        const k = this.dma.iovaOf(i);
        if (k >= endEx) break;
        if (!this.v2 && first > k) break;
        const pages = this.dma.pagesOf(i);
        if (dirty) {
          // the mapping's bits go to the user's bitmap before it goes; a fault stops the walk (what
          // was removed stays removed) and the ioctl fails without copying the size back
          const rc = this.reportDirty(k, pages, first, bitmapData, false);
          if (rc !== 0) return rc;
        }
        unmapped += pages;
        // The key of the next mapping, read before the removal shifts the leaf (none to read when this
        // one reaches endEx: the next starts at or after its end).
        const nx = k + pages >= endEx ? DMA_NIL : this.dma.next(i);
        const nk = nx === DMA_NIL || this.dma.iovaOf(nx) >= endEx ? -1 : this.dma.iovaOf(nx);
        this.removeAt(i);
        i = nk < 0 ? DMA_NIL : this.dma.floor(nk);
      }
    }
    return this.unmappedBack(arg, unmapped);
  }

  /**
   * UNMAP with FLAG_VADDR, one mapping (handle `i`, first frame `k`): marks its vaddr invalid and adds it
   * to `touched`; false when it already was, after the ones `touched` got their vaddr back (the kernel
   * then answers -EINVAL with nothing changed).
   */
  private invalidateVaddr(i: number, k: number, touched: number[]): boolean {
    const f = this.dma.flagsOf(i);
    if ((f & DMA_VADDR_INVALID) !== 0) {
      for (const t of touched) {
        const j = this.dma.containing(t);
        this.dma.setFlags(j, this.dma.flagsOf(j) & ~DMA_VADDR_INVALID);
        this.vaddrInvalidCount--;
      }
      return false;
    }
    this.dma.setFlags(i, f | DMA_VADDR_INVALID);
    this.vaddrInvalidCount++;
    touched.push(k);
    return true;
  }

  /** Only on success are the first 24 bytes copied back, with the unmapped total (frames) in `size`. */
  private unmappedBack(arg: Uint8Array, unmapped: number): number {
    // Frames to bytes without `%` on a double (a libc fmod call).
    const hiBytes = Math.floor(unmapped / 1048576);
    putU32(arg, 16, (unmapped - hiBytes * 1048576) * 4096);
    putU32(arg, 20, hiBytes);
    return 0;
  }

  /**
   * vfio_dma_do_unmap from its v2 checks on, searching and walking the kernel's own tree (needed while a
   * mapping ends at 2^64-1: its wrapped end misleads the descents, and a mapping linked below it comes
   * after it in rb_next order). Frames [first, endEx); the unmapped frames, or -errno.
   */
  private unmapInKernelOrder(
    order: KernelDmaOrder,
    first: number,
    endEx: number,
    invalidate: boolean,
    dirty: boolean,
    bitmapData: bigint,
  ): number {
    // `iova + size` in u64: 0 for a range that ends at 2^64-1
    const endU64 = endEx % FRAMES_U64;
    if (this.v2 && cutsAMapping(order, first, endEx)) return -ERRNO.EINVAL;
    let unmapped = 0;
    const touched: number[] = [];
    for (let n = order.firstNode(first, endEx); n !== null;) {
      if (n.iova >= endU64) break;
      if (!this.v2 && first > n.iova) break;
      const i = this.dma.containing(n.iova);
      if (invalidate) {
        if (!this.invalidateVaddr(i, n.iova, touched)) return -ERRNO.EINVAL;
        unmapped += n.pages;
        n = order.next(n);
        continue;
      }
      if (dirty) {
        const rc = this.reportDirty(n.iova, n.pages, first, bitmapData, false);
        if (rc !== 0) return rc;
      }
      unmapped += n.pages;
      const next = order.next(n);
      this.removeAt(i);
      n = this.order === undefined ? null : next;
    }
    return unmapped;
  }

  /** vfio_iommu_type1_dirty_pages: START / STOP tracking; GET_BITMAP argument checks. */
  dirtyPages(arg: Uint8Array): number {
    if (arg.length < DIRTY_BITMAP_SIZE) return -ERRNO.EFAULT;
    const argsz = getU32(arg, 0);
    const flags = getU32(arg, 4);
    const mask =
      VFIO_IOMMU_DIRTY_PAGES_FLAG_START |
      VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP |
      VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP;
    if (!this.v2) return -ERRNO.EACCES;
    if (argsz < DIRTY_BITMAP_SIZE || (flags & ~mask) !== 0) return -ERRNO.EINVAL;
    // Exactly one of the three bits.
    if (flags === 0 || (flags & (flags - 1)) !== 0) return -ERRNO.EINVAL;
    if (flags === VFIO_IOMMU_DIRTY_PAGES_FLAG_START) {
      // vfio_dma_bitmap_alloc_all: zero bitmaps (no page is pinned by an emulated device here)
      if (!this.dirtyTracking) this.dirty.reset();
      this.dirtyTracking = true;
      return 0;
    }
    if (flags === VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP) {
      if (this.dirtyTracking) this.dirty.reset();
      this.dirtyTracking = false;
      return 0;
    }
    // GET_BITMAP: struct vfio_iommu_type1_dirty_bitmap_get (40 bytes) follows the header.
    if (argsz < DIRTY_BITMAP_SIZE + DIRTY_BITMAP_GET_SIZE) return -ERRNO.EINVAL;
    if (arg.length < DIRTY_BITMAP_SIZE + DIRTY_BITMAP_GET_SIZE) return -ERRNO.EFAULT;
    const iova = getU64(arg, 8);
    const size = getU64(arg, 16);
    const pgsize = getU64(arg, 24);
    const bsize = getU64(arg, 32);
    const data = getU64(arg, 40);
    // `iova + size < iova` in u64: a range ending exactly at 2^64 wraps too
    if (iova + size > U64_MAX) return -ERRNO.EINVAL;
    if (!accessOk(this.taskSizeMax, data, bsize)) return -ERRNO.EINVAL;
    const npages = pgsize === 0n ? 0n : size >> BigInt(lowBit(pgsize));
    if (verifyBitmapSize(npages, bsize) !== 0) return -ERRNO.EINVAL;
    const pg = BigInt(this.minPageBytes);
    if (pgsize !== pg) return -ERRNO.EINVAL;
    if ((iova & (pg - 1n)) !== 0n || size === 0n || (size & (pg - 1n)) !== 0n) return -ERRNO.EINVAL;
    if (!this.dirtyTracking) return -ERRNO.EINVAL;
    return this.iovaDirtyBitmap(Number(iova >> 12n), Number((iova + size) >> 12n), data);
  }

  /**
   * vfio_iova_dirty_bitmap over frames [first, endEx): the range must not cut a mapping at either end
   * (-EINVAL), then every mapping starting inside it reports its pages, in ascending order.
   */
  private iovaDirtyBitmap(first: number, endEx: number, data: bigint): number {
    if (this.order !== undefined && this.order.wrapped > 0)
      return this.dirtyInKernelOrder(this.order, first, endEx, data);
    let i = this.dma.firstFrom(first);
    // vfio_find_dma(iova, 1) / vfio_find_dma(iova + size - 1, 0); a mapping ending at 2^64 is never
    // found by them (<= 6.17), as in UNMAP
    if (i !== DMA_NIL && this.dma.iovaOf(i) < first && !this.hiddenAtTop(i)) return -ERRNO.EINVAL;
    const b = this.dma.containing(endEx - 1);
    if (b !== DMA_NIL && !this.hiddenAtTop(b) && this.dma.iovaOf(b) + this.dma.pagesOf(b) !== endEx) {
      return -ERRNO.EINVAL;
    }
    for (; i !== DMA_NIL; i = this.dma.next(i)) {
      const k = this.dma.iovaOf(i);
      if (k < first) continue;
      if (k >= endEx) break;
      const rc = this.reportDirty(k, this.dma.pagesOf(i), first, data, true);
      if (rc !== 0) return rc;
    }
    return 0;
  }

  /**
   * vfio_iova_dirty_bitmap while a mapping ends at 2^64-1: the kernel's searches and its rb_first/rb_next
   * walk, which stops at the first mapping past the range in its tree order (the top mapping, linked as
   * the smallest, ends the walk early).
   */
  private dirtyInKernelOrder(order: KernelDmaOrder, first: number, endEx: number, data: bigint): number {
    if (cutsAMapping(order, first, endEx)) return -ERRNO.EINVAL;
    for (const n of order.inOrder()) {
      if (n.iova < first) continue;
      if (n.iova > endEx - 1) break;
      const rc = this.reportDirty(n.iova, n.pages, first, data, true);
      if (rc !== 0) return rc;
    }
    return 0;
  }

  /** update_user_bitmap for the mapping at frame `k` of `pages` frames, the user's bitmap based at frame `base`. */
  private reportDirty(k: number, pages: number, base: number, data: bigint, rearm: boolean): number {
    const f = this.minPageFrames;
    return this.dirty.report(this.env.mm, k, pages / f, (k - base) / f, data, rearm);
  }

  /** Invariants the fuzz tests check after every call. Returns a problem or undefined. */
  checkInvariants(): string | undefined {
    const t = this.dma.check();
    if (t) return t;
    if (this.dmaAvail < 0 || this.dmaAvail + this.dma.size !== this.entryLimit) {
      return `dma_avail ${this.dmaAvail} + ${this.dma.size} mappings != dma_entry_limit ${this.entryLimit}`;
    }
    let invalid = 0;
    for (const e of this.dma.entries()) {
      if ((e.flags & DMA_VADDR_INVALID) !== 0) invalid++;
      if (this.iovaList.length > 0) {
        const s = bigOfFrame(e.iova);
        const end = bigOfFrame(e.iova + e.pages) - 1n;
        if (!iovaDmaValid(this.iovaList, s, end)) return `mapping ${s.toString(16)} outside the usable list`;
      }
    }
    if (invalid !== this.vaddrInvalidCount)
      return `vaddr_invalid_count ${this.vaddrInvalidCount} != ${invalid}`;
    for (let i = 1; i < this.iovaList.length; i++) {
      if (this.iovaList[i]!.start <= this.iovaList[i - 1]!.end) return 'iova list not sorted/disjoint';
    }
    return undefined;
  }
}

function lowBit(v: bigint): number {
  let n = 0;
  while (((v >> BigInt(n)) & 1n) === 0n && n < 64) n++;
  return n;
}

/** verify_bitmap_size */
function verifyBitmapSize(npages: bigint, bitmapSize: bigint): number {
  if (npages === 0n || bitmapSize === 0n || bitmapSize > DIRTY_BITMAP_SIZE_MAX) return -ERRNO.EINVAL;
  const bytes = ((npages + 63n) / 64n) * 8n;
  return bitmapSize < bytes ? -ERRNO.EINVAL : 0;
}
