/**
 * Guest memory maps of virtual machine monitors, as data. A VMM model turns (machine, memory size,
 * options) into the guest-physical ranges the VMM hands to VFIO (`VFIO_IOMMU_MAP_DMA` with
 * IOVA = guest-physical address), each constant carrying the source file it was read from.
 * Pure and browser-safe: no Node APIs.
 */
import type { Range } from '../base/range.js';

export type GuestArch = 'x86_64' | 'aarch64';

export type VmmFamily = 'qemu' | 'cloud-hypervisor' | 'firecracker' | 'crosvm' | 'openvmm';

/**
 * What a guest range is: RAM and firmware ROM are DMA-mapped for every assigned device; a PCI window is
 * where the VMM places device BARs, which some VMMs also DMA-map for peer-to-peer.
 */
export type GuestRangeKind = 'ram' | 'firmware' | 'pci-window';

export interface GuestRange extends Range {
  readonly kind: GuestRangeKind;
  /** The VMM's own name for the memory behind it (QEMU prints it: `Region pc.ram: ...`). */
  readonly name: string;
  /** Plain words: "RAM above 4 GiB", "32-bit PCI MMIO window". */
  readonly what: string;
}

/** A number the layout depends on, with where it was read. */
export interface SourcedConstant {
  readonly name: string;
  readonly value: bigint;
  /** Repository path (and function) of the definition, e.g. `qemu: hw/i386/pc_q35.c pc_q35_init`. */
  readonly source: string;
}

/** One `--opt KEY=VALUE` a VMM model understands. */
export interface VmmOption {
  readonly name: string;
  readonly help: string;
  readonly kind: 'size' | 'enum' | 'int' | 'version';
  readonly choices?: readonly string[];
  /** Value used when the option is not given (as text), or undefined when it has no default. */
  readonly default?: string;
}

export interface LayoutRequest {
  /** Guest RAM in bytes. */
  readonly memory: bigint;
  /** VMM options as `name -> text` (validated by the model). */
  readonly options: Readonly<Record<string, string>>;
}

export interface GuestLayout {
  readonly vmm: string;
  readonly family: VmmFamily;
  readonly arch: GuestArch;
  readonly memory: bigint;
  /** Effective options (defaults filled in). */
  readonly options: Readonly<Record<string, string>>;
  /** Sorted by start, disjoint. */
  readonly ranges: readonly GuestRange[];
  /** How the layout was derived, in plain words (e.g. "RAM above 4 GiB moved to 1 TiB: AMD vCPU ..."). */
  readonly notes: readonly string[];
}

export type LayoutResult =
  | { readonly ok: true; readonly layout: GuestLayout }
  | { readonly ok: false; readonly reason: string; readonly option?: string };

/** The lines a VMM prints when one of its DMA mappings is refused, and how it reacts. */
export interface VmmFailure {
  readonly lines: readonly string[];
  /** "fatal: the device is not realized", "warning only: peer-to-peer DMA to this BAR will fail". */
  readonly effect: string;
  /** Where the text comes from. */
  readonly source: string;
}

/**
 * How the VMM drives VFIO: the legacy type1 container (`/dev/vfio/vfio`) or iommufd (`/dev/iommu`: an
 * IOAS per guest address space, VFIO device files bound to it; Linux 6.6 and later for QEMU).
 */
export type VfioBackend = 'type1' | 'iommufd';

/**
 * iommufd's locked-memory accounting (IOMMU_OPTION_RLIMIT_MODE): `user` (the default) charges pins to
 * the user's locked_vm, which every process of that user shares, against the mapping process's
 * RLIMIT_MEMLOCK; `process` charges the process's own locked_vm, as type1 does (libvirt sets it).
 */
export type IommufdAccounting = 'user' | 'process';

/** What a failed mapping looked like, for the VMM's message. */
export interface FailedMapping {
  readonly range: GuestRange;
  /** The VFIO backend that refused it (type1 when absent). */
  readonly backend?: VfioBackend;
  /** The errno the kernel answers (-22 for a range outside the usable IOVA ranges). */
  readonly errno: number;
  readonly errnoName: string;
  readonly strerror: string;
  /** A device of the group being assigned, for `-device vfio-pci,host=...`. */
  readonly device?: string;
  readonly group?: number;
}

export interface RefusedGroup {
  readonly ioctl: string;
  readonly errno: number;
  readonly device: string;
  readonly group: number;
}

export interface VmmModel {
  /** Registry name, e.g. `qemu-q35`, `cloud-hypervisor-aarch64`. */
  readonly id: string;
  readonly family: VmmFamily;
  readonly arch: GuestArch;
  /** One line: "QEMU q35 (x86_64)". */
  readonly label: string;
  /** QEMU machine name (`q35`, `pc`, `virt`) when the family has machines. */
  readonly machine?: string;
  readonly options: readonly VmmOption[];
  readonly constants: readonly SourcedConstant[];
  /** How the VMM maps guest memory for VFIO today, in plain words. */
  readonly vfioSupport: string;
  /** False when the VMM cannot assign devices yet (Firecracker): never suggested as an alternative. */
  readonly supportsVfio: boolean;
  layout(req: LayoutRequest): LayoutResult;
  /**
   * Memory sizes at which the layout changes shape (below-4G split thresholds, relocations), so a search
   * for the largest fitting size can treat each interval separately.
   */
  breakpoints(req: LayoutRequest): readonly bigint[];
  /** Option values worth trying when the asked size does not fit (the planner combines them). */
  knobs(req: LayoutRequest, trouble: readonly Range[]): readonly Knob[];
  /** The VMM's own command-line spelling of a layout's memory size and options. */
  commandLine(layout: GuestLayout): string;
  failure(m: FailedMapping, layout: GuestLayout): VmmFailure;
  /** What the VMM prints when VFIO refuses a group before any mapping (ioctl and errno from the host model). */
  refusal(r: RefusedGroup, layout: GuestLayout): string[];
  /**
   * What the VMM prints when a second device of one IOMMU group lands in another address space than the
   * first (behind a vIOMMU): VFIO cannot split a group between containers. Absent for VMMs whose vIOMMU
   * case is not modelled.
   */
  splitGroup?(device: string, group: number, layout: GuestLayout): string[];
  /** What the VMM prints when its vIOMMU `viommu` cannot notify VFIO of mappings (see GuestDescription). */
  viommuRefusal?(device: string, group: number, viommu: string, layout: GuestLayout): string[];
  /** Granularity the VMM accepts for the memory size (MiB for all modelled VMMs). */
  readonly memoryGranule: bigint;
}

export interface Knob {
  readonly option: string;
  readonly values: readonly string[];
  /** Why these values (plain words), e.g. "keep RAM below the RMRR at 0xbdf6e000". */
  readonly why: string;
}

export const KiB = 1n << 10n;
export const MiB = 1n << 20n;
export const GiB = 1n << 30n;
export const TiB = 1n << 40n;

/** A vIOMMU that cannot carry VFIO devices as configured (see GuestDescription.viommuWithoutMap). */
export type RefusingViommu = 'smmuv3' | 'intel-iommu';

/**
 * A guest as a VMM's own configuration describes it (a QEMU command line, a libvirt domain), in the
 * model's terms: what `check` and `plan` take instead of their options.
 */
export interface GuestDescription {
  /** The VMM the configuration starts (undefined: QEMU, the only one libvirt drives here). */
  readonly vmm?: VmmFamily;
  /** Undefined when the configuration does not say (qemu-kvm: the host's). */
  readonly arch?: GuestArch;
  /** The machine type as written (`pc-q35-8.2`, `q35`, `virt-9.2`), or the VMM's default. */
  readonly machine?: string;
  /** The guest's boot RAM. */
  readonly memory: bigint;
  /** Layout options in the model's names (version, max-ram-below-4g, cpu-vendor, phys-bits, ...). */
  readonly options: Readonly<Record<string, string>>;
  /** PCI host devices given to VFIO, as 0000:bb:dd.f, in the order the VMM sets them up. */
  readonly devices: readonly string[];
  /** The vIOMMU the devices sit behind, when it is one the model covers. */
  readonly viommu?: string;
  /**
   * A vIOMMU the VMM cannot put VFIO devices behind as configured: `smmuv3` (QEMU's emulation has no MAP
   * notifier for the legacy container) or `intel-iommu` (without caching-mode=on). Every group is refused.
   */
  readonly viommuWithoutMap?: RefusingViommu;
  /**
   * Devices the VMM puts behind its own virtio-iommu with a container that maps nothing at boot, only
   * what the guest maps (cloud-hypervisor `--device ...,iommu=on`).
   */
  readonly guestMapped?: readonly string[];
  /** The VFIO backend the devices use (type1 when absent). */
  readonly backend?: VfioBackend;
  /** With iommufd: the accounting its /dev/iommu file uses, when the configuration says. */
  readonly iommufdAccounting?: IommufdAccounting;
  /** What was read, and what was seen but is not modelled. */
  readonly notes: readonly string[];
}
