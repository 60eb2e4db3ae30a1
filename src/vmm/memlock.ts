/**
 * Locked memory: VFIO type1 pins every page of RAM it maps and charges it to the VMM process's locked
 * memory (mm->locked_vm, VmLck). Without CAP_IPC_LOCK, a page that would take the charge past
 * RLIMIT_MEMLOCK makes VFIO_IOMMU_MAP_DMA fail with -ENOMEM, the kernel logs
 * "vfio_pin_pages_remote: RLIMIT_MEMLOCK (<bytes>) exceeded", and nothing of that mapping stays
 * (vfio_pin_pages_remote, vfio_pin_map_dma). The VMM maps its ranges in address order and stops at the
 * first refused one. Pins are counted per container (vfio_lock_acct charges each vfio_dma's pages to the
 * mm, with no sharing between containers): a VMM that gives several devices containers of their own, as
 * QEMU does for devices behind a vIOMMU, pins and charges the same RAM once per container, against one
 * limit. Pure: the same rules as src/vfio/type1 (checked against the kernels), applied to a VMM's layout.
 *
 * iommufd charges the same pages (one IOAS per guest address space, each IOMMU_IOAS_MAP pinned and
 * charged on its own, iopt_alloc_pages / do_update_pinned) but, by default, to the user's locked_vm
 * (incr_user_locked_vm): every process of the VMM's user adds to that one count, which is checked
 * against the mapping process's RLIMIT_MEMLOCK, so other VMs of the same user take room from this one.
 * It logs nothing. With IOMMU_OPTION_RLIMIT_MODE=1 (process accounting, which libvirt sets when it
 * opens /dev/iommu) the count is the process's own locked_vm, as for type1.
 */
import { ERRNO } from '../base/errno.js';
import { hex, parseSize } from '../base/u64.js';
import { exactBytes, kernelAt, strerror } from './common.js';
import type {
  GuestLayout,
  GuestRange,
  IommufdAccounting,
  VfioBackend,
  VmmFailure,
  VmmModel,
} from './types.js';

/** The VMM process's RLIMIT_MEMLOCK (soft limit, bytes) or `unlimited` (RLIM_INFINITY, or CAP_IPC_LOCK). */
export type MemlockLimit = bigint | 'unlimited';

/** The device a container is set up for (named in the VMM's messages) and its IOMMU group. */
export interface ContainerOwner {
  readonly device?: string;
  readonly group?: number;
}

export interface MemlockFailure {
  readonly range: GuestRange;
  /** Which container's mapping is refused (1 = the first one the VMM sets up). */
  readonly container: number;
  readonly owner: ContainerOwner;
  /** Bytes the mappings before it had charged (earlier containers' included). */
  readonly chargedBefore: bigint;
  /** What the kernel logs (pr_warn in vfio_pin_pages_remote; iommufd logs nothing). */
  readonly kernelLog?: string;
  /** What VFIO answers for this mapping. */
  readonly vfio: string;
  /** What the VMM prints and does. */
  readonly failure: VmmFailure;
}

export interface MemlockReport {
  readonly limit: MemlockLimit;
  /** PAGE_SIZE the charge and the limit are counted in. */
  readonly pageSize: number;
  /** Whether pageSize was assumed (4 KiB) rather than known from the host. */
  readonly pageSizeAssumed: boolean;
  /** Bytes VFIO pins for every range it accepts, in all containers: the limit the VMM needs at least. */
  readonly pinned: bigint;
  /** Containers that each map (and pin) the whole layout. */
  readonly containers: number;
  /** What one container pins. */
  readonly perContainer: bigint;
  /** Of those, the firmware's (ROM and flash, which the VMM maps read-only), in all containers. */
  readonly firmware: bigint;
  /** The first mapping refused with ENOMEM, when the limit is too small. */
  readonly failure?: MemlockFailure;
  readonly backend: VfioBackend;
  /** With iommufd: whose locked_vm is charged. */
  readonly accounting?: IommufdAccounting;
  /**
   * Bytes already on the count before the VMM maps anything: with iommufd's per-user accounting, what the
   * user's other processes pinned (0 otherwise).
   */
  readonly userLocked: bigint;
}

/** How pins are counted: the backend and, for iommufd, its accounting and the user's other pins. */
export interface MemlockAccounting {
  readonly backend?: VfioBackend;
  readonly accounting?: IommufdAccounting;
  /** With iommufd's per-user accounting: bytes the user's other processes have charged already. */
  readonly userLocked?: bigint;
}

/**
 * A limit as users write it: bytes (units allowed, `64M`, `65536K`), or `unlimited` / `infinity` / `-1`
 * (RLIM_INFINITY, as prlimit, systemd and docker spell it). Undefined when it is neither.
 */
export function parseMemlockLimit(text: string): MemlockLimit | undefined {
  if (/^\s*(unlimited|infinity|-1)\s*$/i.test(text)) return 'unlimited';
  return parseSize(text);
}

/** The host pages a guest range spans (RAM is backed page-aligned as the range is). */
function pagesOf(r: GuestRange, page: bigint): bigint {
  return r.end / page - r.start / page + 1n;
}

/**
 * Charges the ranges VFIO pins (`pinnedRanges`: RAM and firmware it accepts, in any order) as the VMM
 * maps them, lowest address first, against `limit`: once for one container (`owners` one owner), or
 * once per container in the order given (the VMM sets each up, and maps the whole layout into it,
 * before the next).
 */
export function checkMemlock(
  model: VmmModel,
  layout: GuestLayout,
  pinnedRanges: readonly GuestRange[],
  limit: MemlockLimit,
  host: { readonly pageSize?: number },
  owners: ContainerOwner | readonly ContainerOwner[],
  acct: MemlockAccounting = {},
): MemlockReport {
  const backend = acct.backend ?? 'type1';
  const accounting = backend === 'iommufd' ? (acct.accounting ?? 'user') : undefined;
  const list: readonly ContainerOwner[] = Array.isArray(owners) ? owners : [owners as ContainerOwner];
  const containers = Math.max(1, list.length);
  const pageSize = host.pageSize ?? 4096;
  const page = BigInt(pageSize);
  const ranges = [...pinnedRanges].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  let perContainer = 0n;
  let firmware = 0n;
  for (const r of ranges) {
    perContainer += pagesOf(r, page) * page;
    if (r.kind === 'firmware') firmware += pagesOf(r, page) * page;
  }
  const n = BigInt(containers);
  const base = {
    limit,
    pageSize,
    pageSizeAssumed: host.pageSize === undefined,
    pinned: perContainer * n,
    containers,
    perContainer,
    firmware: firmware * n,
    backend,
    ...(accounting !== undefined ? { accounting } : {}),
    // the user's count is kept in pages (user->locked_vm)
    userLocked: accounting === 'user' ? (((acct.userLocked ?? 0n) + page - 1n) / page) * page : 0n,
  };
  if (limit === 'unlimited') return base;
  // rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT: the limit counts whole pages
  const limitPages = limit / page;
  const others = base.userLocked / page;
  const charging: Charging = { model, layout, ranges, limitPages, page, others, how: base };
  let charged = others;
  for (let k = 0; k < containers; k++) {
    const after = chargeContainer(charging, charged, list[k] ?? {}, k + 1);
    if (typeof after !== 'bigint') return { ...base, failure: after };
    charged = after;
  }
  return base;
}

/**
 * One container's maps on top of `charged` pages: the pages charged after it, or the refused mapping.
 */
/** What every container's maps are charged against: the layout, the limit and page, the count before. */
interface Charging {
  readonly model: VmmModel;
  readonly layout: GuestLayout;
  /** The pinned ranges, lowest first. */
  readonly ranges: readonly GuestRange[];
  readonly limitPages: bigint;
  readonly page: bigint;
  /** Pages the user's other processes hold (iommufd's per-user count), 0 otherwise. */
  readonly others: bigint;
  readonly how: Pick<MemlockReport, 'backend' | 'accounting'>;
}

function chargeContainer(
  { model, layout, ranges, limitPages, page, others, how }: Charging,
  charged: bigint,
  who: ContainerOwner,
  container: number,
): bigint | MemlockFailure {
  const before = charged - others;
  for (const r of ranges) {
    const pages = pagesOf(r, page);
    if (charged + pages <= limitPages) {
      charged += pages;
      continue;
    }
    const size = r.end - r.start + 1n;
    const failure = model.failure(
      {
        range: r,
        errno: ERRNO.ENOMEM,
        errnoName: 'ENOMEM',
        strerror: strerror(ERRNO.ENOMEM),
        device: who.device ?? '<bdf>',
        group: who.group,
        ...(how.backend === 'iommufd' ? { backend: 'iommufd' as const } : {}),
      },
      layout,
    );
    const iommufd = how.backend === 'iommufd';
    const space = iommufd ? 'IOAS' : 'container';
    const earlier = [
      ...(container > 1
        ? [
            `${exactBytes(before * page)} of it by the ${container === 2 ? space : `${container - 1} ${space}s`} set up before`,
          ]
        : []),
      ...(others > 0n
        ? [`${exactBytes(others * page)}${container > 1 ? '' : ' of it'} by the user's other processes`]
        : []),
    ];
    const pinned = charged - others;
    const onTop =
      charged > 0n
        ? ` on top of the ${exactBytes(charged * page)} already ${
            how.accounting === 'user' ? "charged to the user's locked memory" : 'pinned'
          }${earlier.length && (pinned > 0n || others > 0n) ? ` (${earlier.join(', ')})` : ''}`
        : '';
    const call = iommufd
      ? `IOMMU_IOAS_MAP(iova=${hex(r.start)}, length=${hex(size)})`
      : `VFIO_IOMMU_MAP_DMA(iova=${hex(r.start)}, size=${hex(size)})`;
    return {
      range: r,
      container,
      owner: who,
      chargedBefore: charged * page,
      ...(iommufd
        ? {}
        : { kernelLog: `vfio_pin_pages_remote: RLIMIT_MEMLOCK (${limitPages * page}) exceeded` }),
      vfio:
        `${call} = -ENOMEM: its ${exactBytes(pages * page)}${onTop}` +
        ` pass RLIMIT_MEMLOCK (${exactBytes(limitPages * page)}); the pages it pinned are released`,
      failure,
    };
  }
  return charged;
}

/** Bytes of pins over the limit (0 when it suffices or is unlimited). */
export function memlockExcess(m: MemlockReport): bigint {
  if (m.limit === 'unlimited') return 0n;
  const page = BigInt(m.pageSize);
  const room = (m.limit / page) * page;
  const need = m.pinned + m.userLocked;
  return need > room ? need - room : 0n;
}

/** The note for a limit that suffices, or the fix for one that does not. */
export function memlockAdvice(m: MemlockReport): string {
  const total = m.pinned + m.userLocked;
  const need = exactBytes(total);
  const assumed = m.pageSizeAssumed
    ? ` (counted in ${m.pageSize / 1024} KiB pages: the host's page size is not known)`
    : '';
  const space = m.backend === 'iommufd' ? 'IOAS' : 'container';
  const per =
    m.containers > 1
      ? ` (${m.containers} ${space}s x ${exactBytes(m.perContainer)}: behind a vIOMMU each assigned device ` +
        `has ${m.backend === 'iommufd' ? 'an IOAS' : 'a container'} of its own, and each pins the guest's memory again; libvirt 8.7 and later sets ` +
        "N x the guest's memory + 1 GiB for a domain with a vIOMMU and N VFIO devices)"
      : '';
  const others =
    m.userLocked > 0n ? ` plus the ${exactBytes(m.userLocked)} the user's other processes have charged` : '';
  const userWide =
    m.accounting === 'user'
      ? "; iommufd counts the pins of all of the user's processes together (user->locked_vm) against this " +
        "process's limit, so other VMs of the same user take room from this one"
      : '';
  const pinsText = `the ${exactBytes(m.pinned)} VFIO pins${per}`;
  if (m.limit === 'unlimited')
    return `RLIMIT_MEMLOCK unlimited: ${pinsText} are charged to the ${m.accounting === 'user' ? "user's" : "VMM's"} locked memory but never refused${assumed}`;
  if (!m.failure)
    return `RLIMIT_MEMLOCK ${exactBytes(m.limit)} covers ${pinsText}${others}${userWide}${assumed}`;
  const process =
    m.accounting === 'user'
      ? '; or switch /dev/iommu to per-process accounting (IOMMU_OPTION_RLIMIT_MODE=1, which needs ' +
        "CAP_SYS_RESOURCE: libvirt 12.2 and later does it when it opens /dev/iommu), so the user's other " +
        'processes stop counting'
      : '';
  return (
    `raise the VMM's RLIMIT_MEMLOCK to at least ${need}${per}` +
    (m.userLocked > 0n ? ` (the ${exactBytes(m.pinned)} VFIO pins${others})` : '') +
    ` (prlimit --pid PID ` +
    `--memlock=${total}:${total}, systemd LimitMEMLOCK=${total}, docker/podman --ulimit ` +
    `memlock=${total}:${total}), or start it with CAP_IPC_LOCK; ` +
    (m.accounting === 'user'
      ? "the user's io_uring buffers and perf mappings count in the same per-user sum"
      : 'memory the VMM also mlock()s (e.g. QEMU -overcommit mem-lock=on) counts once more') +
    (m.containers > 1
      ? `; without the vIOMMU the devices share one ${space}, which pins ${exactBytes(m.perContainer)}`
      : '') +
    process +
    userWide +
    assumed
  );
}

/**
 * The one way the charge differs between the modelled kernels for a VMM's maps (profile field
 * roPinUnsharesZeroPage): a read-only pin of a page never written pins the shared zero page on 6.1,
 * which is not charged, and a page of its own on 6.12. Firmware is mapped read-only, and the parts of a
 * ROM region the VMM never filled are such pages. Undefined when nothing is read-only or the host's
 * kernel is known to charge them.
 */
export function zeroPageNote(m: MemlockReport, kernel: string | undefined): string | undefined {
  if (m.firmware === 0n) return undefined;
  const at = kernelAt(kernel);
  if (at !== undefined && at >= 6012) return undefined;
  const what =
    `firmware is mapped read-only, and the pages of it the VMM never wrote pin the shared zero page, ` +
    `which is not charged: up to ${exactBytes(m.firmware)} of the ${exactBytes(m.pinned)} counted here may ` +
    'not count';
  return at !== undefined && at <= 6001
    ? `on this kernel (${kernel}), ${what} (6.12 charges them)`
    : `on 6.1 kernels, ${what}; 6.12 charges them`;
}
