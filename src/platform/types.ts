/**
 * The declarative description of a machine (a "platform"): what a preset file or a user's YAML/JSON
 * describes, after validation. Addresses are bigint; BDFs are strings `ssss:bb:dd.f`.
 *
 * This is data only. `src/platform/` validates files into it; `src/platform/build.ts` turns it into live
 * model objects (IOMMU core, drivers, interrupt controllers, PCI devices).
 */
import type { Range } from '../base/range.js';

export type Arch = 'x86_64' | 'aarch64';

export type IommuDriverName = 'intel-iommu' | 'amd-iommu' | 'arm-smmu' | 'arm-smmu-v3' | 'virtio-iommu';

export interface PlatformDescription {
  readonly name: string;
  readonly description: string;
  readonly arch: Arch;
  /** CPU page size (PAGE_SIZE): 4096 unless an arm64 kernel uses 16K/64K pages. */
  readonly pageSize: number;
  /** Where the facts came from (oracle file, user report in peers.md, vendor doc). */
  readonly sources: readonly string[];
  /** How device tree vs ACPI firmware describes the IOMMU topology (affects IORT/OF reserved regions). */
  readonly firmware: 'acpi' | 'devicetree';
  readonly iommus: readonly IommuDescription[];
  readonly interruptControllers: readonly InterruptControllerDescription[];
  readonly hostBridges: readonly HostBridgeDescription[];
  readonly devices: readonly PciDeviceDescription[];
  readonly firmwareTables: FirmwareTables;
  /**
   * Default domain for translated devices: `translated` (DMA, the Debian default; `iommu=nopt`,
   * `iommu.passthrough=0`) or `passthrough` (identity; `iommu=pt`, `iommu.passthrough=1`).
   * Absent: `translated`.
   */
  readonly defaultDomain?: 'translated' | 'passthrough';
  /**
   * `iommu.strict`: strict TLB invalidation gives DMA default domains, lazy gives DMA-FQ. Absent: the
   * Debian kernel config default of the architecture (x86_64 lazy, aarch64 strict). A driver can still
   * force strict (IommuDescription.cachingMode).
   */
  readonly dmaStrict?: boolean;
  /**
   * x86_64: the CPU has LA57 and the kernel runs 5-level paging, so user space reaches 2^56 instead of
   * 2^47 (access_ok limits, e.g. for dirty bitmaps). QEMU's `-cpu max` has it. Absent: false.
   */
  readonly la57?: boolean;
}

export interface IommuDescription {
  /** Name used to refer to this IOMMU, e.g. `dmar0`, `smmu0`. */
  readonly id: string;
  readonly driver: IommuDriverName;
  /** Host bridges (by id) whose devices this IOMMU translates. */
  readonly hostBridges: readonly string[];
  /** Input address bits: Intel `aw` (39/48/57), SMMU `ias`/`oas` derived, AMD 64. */
  readonly addressBits: number;
  /** Page sizes bitmap the driver advertises (ops->pgsize_bitmap); when absent the driver's default. */
  readonly pgsizeBitmap?: bigint;
  /** Intel/AMD interrupt remapping enabled (intremap=on). */
  readonly interruptRemapping?: boolean;
  /** SMMUv3 implementation quirk that adds the ITS page as a hardware MSI region (HiSilicon Hi161x). */
  readonly model?: 'generic' | 'hisilicon-hi161x';
  /** AMD: the IOMMU advertises HT-range-ignore, so the HyperTransport hole is not reserved. */
  readonly htRangeIgnore?: boolean;
  /** virtio-iommu: RESV_MEM properties the device returns on PROBE, per endpoint (all endpoints if absent). */
  readonly virtioProbeResvMem?: readonly VirtioResvMem[];
  /** virtio-iommu config `input_range` (domain aperture). */
  readonly virtioInputRange?: Range;
  /** DMA-coherent walks and accesses (IOMMU_CAP_CACHE_COHERENCY); absent: true. */
  readonly coherent?: boolean;
  /**
   * Intel VT-d snoop control (ecap.SC): lets intel-iommu force snooping, so enforce_cache_coherency
   * succeeds (VFIO_DMA_CC_IOMMU = 1). QEMU's VT-d has none; most server VT-d units have it. Absent: false.
   */
  readonly snoopControl?: boolean;
  /**
   * The IOMMU is itself a PCI function (AMD-Vi capability, virtio-iommu-pci): that function is never
   * translated and gets no group.
   */
  readonly pciFunction?: string;
  /**
   * A virtual IOMMU that asks for invalidation on every map (Intel caching mode CM=1, AMD NpCache): the
   * driver forces strict mode ("IOMMU batching disallowed due to virtualization"), so no DMA-FQ.
   */
  readonly cachingMode?: boolean;
  /**
   * Intel VT-d: the unit's CAP and ECAP registers as Linux prints them (`DMAR: dmar0: ... cap X ecap Y`),
   * reported by IOMMU_GET_HW_INFO. Absent: composed from QEMU's with this description's fields.
   */
  readonly vtdRegisters?: { readonly cap: bigint; readonly ecap: bigint };
}

export interface VirtioResvMem {
  readonly subtype: 'reserved' | 'msi' | number;
  readonly start: bigint;
  /** Inclusive, as on the wire. */
  readonly end: bigint;
  /** Endpoint BDFs this property is returned for; all when absent. */
  readonly endpoints?: readonly string[];
}

export type InterruptControllerKind =
  /** x86 local APIC MSI window 0xfee00000; isolation only with interrupt remapping. */
  | 'x86-apic'
  /** ARM GICv2m frame: MSI_SETSPI_NS doorbell at base + 0x40; no isolation. */
  | 'gicv2m'
  /** ARM GICv3 ITS: GITS_TRANSLATER at base + 0x10040; isolates by DeviceID. */
  | 'gicv3-its'
  /** An MSI controller inside the PCI host bridge (doorbell in the bridge's window); no isolation. */
  | 'host-bridge-msi';

export interface InterruptControllerDescription {
  readonly id: string;
  readonly kind: InterruptControllerKind;
  /** Physical base of the frame (ITS, v2m) or the x86 window (0xfee00000). */
  readonly base: bigint;
  /** GICv2m: first SPI and number of SPIs of the frame. */
  readonly spiBase?: number;
  readonly spiCount?: number;
  /** GICv3 ITS: quirk that clears the isolation flag. */
  readonly isolationQuirk?: boolean;
  /** x86: remapping done by this IOMMU id (Intel/AMD IR) when enabled. */
  readonly remappedBy?: string;
}

export interface PciWindow {
  readonly kind: 'mem' | 'mem64' | 'io';
  /** CPU physical range. */
  readonly cpu: Range;
  /** cpu address - bus address (resource offset). */
  readonly offset: bigint;
}

export interface HostBridgeDescription {
  readonly id: string;
  readonly segment: number;
  /** Bus numbers [first, last]. */
  readonly buses: readonly [number, number];
  readonly windows: readonly PciWindow[];
  /** dma-ranges (bus addresses the bridge forwards to memory); empty = everything. */
  readonly dmaRanges: readonly Range[];
  /** Interrupt controller (by id) that receives this bridge's MSIs. */
  readonly msiParent: string;
  /** Whether the root complex enforces ACS on its root ports (affects grouping). */
  readonly acs: boolean;
}

export interface PciDeviceDescription {
  /** `ssss:bb:dd.f` */
  readonly bdf: string;
  readonly vendor: number;
  readonly device: number;
  /** 24-bit class code, e.g. 0x020000 (Ethernet). */
  readonly class: number;
  readonly subsystemVendor?: number;
  readonly subsystemDevice?: number;
  /** Kernel driver bound at boot (`none` when no driver binds). */
  readonly driver: string;
  /**
   * A driver that probed the device at boot but did not stay bound (e.g. `agpgart-intel` on the q35
   * host bridge). Where devices reach their IOMMU only when a driver probes them (device tree, IORT,
   * VIOT), this attempt is enough to put the device in a group.
   */
  readonly bootProbe?: string;
  readonly pcie: boolean;
  /** PCIe port/bridge: secondary and subordinate bus numbers. */
  readonly bridge?: {
    readonly secondary: number;
    readonly subordinate: number;
    readonly pcieToPci?: boolean;
    /**
     * After a secondary bus reset the kernel waits for the link below to report Data Link Layer Link
     * Active (pci_bridge_wait_for_secondary_bus) and fails the reset with -ENOTTY when it does not.
     * Default true; QEMU's generic root port (7.2, TCG) never reports it back.
     */
    readonly linkUpAfterReset?: boolean;
  };
  /** Has an ACS capability that isolates it (for root ports and multifunction devices). */
  readonly acs?: boolean;
  readonly msi?: { readonly vectors: number; readonly addr64: boolean; readonly perVectorMask: boolean };
  readonly msix?: { readonly tableSize: number; readonly tableBar: number; readonly tableOffset: number };
  /** Memory BARs: index → size in bytes (for peer-to-peer checks and region info). */
  readonly bars?: readonly { readonly index: number; readonly size: bigint; readonly addr?: bigint }[];
  readonly interruptPin?: number;
  /** The Interrupt Line register as the firmware left it (config 0x3c). */
  readonly interruptLine?: number;
  /** A NIC's MAC address, `52:54:00:12:34:56` (QEMU's e1000e derives its Device Serial Number from it). */
  readonly mac?: string;
  /** Human name when known (otherwise looked up in pci.ids). */
  readonly name?: string;
}

export interface RmrrDescription {
  readonly base: bigint;
  /** Inclusive. */
  readonly end: bigint;
  /** Device scope: endpoints or bridges (BDFs). */
  readonly devices: readonly string[];
}

export interface IvmdDescription {
  readonly kind: 'device' | 'all' | 'range';
  readonly devidStart: number;
  readonly devidEnd: number;
  readonly start: bigint;
  readonly length: bigint;
  /** IVMD flags byte: bit1 IR, bit2 IW, bit3 exclusion range. */
  readonly flags: number;
}

export interface IortRmrDescription {
  readonly base: bigint;
  readonly length: bigint;
  readonly remapPermitted: boolean;
  readonly privileged: boolean;
  readonly attribute: 'device' | 'normal';
  readonly devices: readonly string[];
}

export interface FirmwareTables {
  readonly rmrr: readonly RmrrDescription[];
  readonly ivmd: readonly IvmdDescription[];
  readonly iortRmr: readonly IortRmrDescription[];
  /** Device tree `reserved-memory` nodes with `iommu-addresses` (of_iommu_get_resv_regions, >= 6.3). */
  readonly ofReservedMemory?: readonly OfReservedMemoryDescription[];
}

/**
 * A device-tree reserved-memory node that devices reference through `memory-region`, with the IOVA
 * each of them uses for it (`iommu-addresses`).
 */
export interface OfReservedMemoryDescription {
  /** The node's `reg` (physical range); absent for a pure IOVA reservation. */
  readonly reg?: Range;
  readonly iommuAddresses: readonly {
    /** BDF of the device whose node lists this region. */
    readonly device: string;
    readonly iova: bigint;
    /** Bytes; 0 is refused with a warning. */
    readonly length: bigint;
    /** The device node is `dma-coherent` (adds IOMMU_CACHE). */
    readonly coherent?: boolean;
  }[];
}
