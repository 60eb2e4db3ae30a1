/**
 * Interrupt controllers as objects with doorbells. Each controller is the parent irqchip of a device's
 * PCI/MSI irq domain (kernel/irq/msi.c, drivers/pci/msi): it allocates per-vector hardware state,
 * composes the MSI message (physical form; dma-iommu rewrites the address afterwards when the IOMMU
 * translates the doorbell), and decodes the writes that reach its doorbell into a delivered interrupt
 * or a drop.
 */
import type { Device } from '../iommu/api.js';
import type { InterruptControllerKind } from '../platform/types.js';
import type { KernelProfile } from '../kernel/profile.js';
import type { MsiMsg } from '../dma-iommu/msi.js';
import type { IrqDesc } from './irq-core.js';

export type { MsiMsg } from '../dma-iommu/msi.js';

/** One MSI/MSI-X vector's controller state (the hardware half of an irq_data / msi_desc). */
export interface HwVector {
  /** Controller's hardware irq number (SPI, LPI, IRTE index, CPU vector...). */
  readonly hwirq: number;
  /** Doorbell physical address of this vector (what iommu_dma_prepare_msi is called with). */
  readonly doorbell: bigint;
  /** The Linux irq descriptor of this vector. */
  readonly irq: IrqDesc;
  /** Controller-private state. */
  readonly state: unknown;
}

/** An MSI write as it arrives at a controller: physical address after the IOMMU, and the requester. */
export interface InboundMsi {
  readonly requesterId: number;
  readonly source: Device;
  readonly addr: bigint;
  readonly data: number;
}

export type Delivery =
  | { readonly kind: 'delivered'; readonly irq: IrqDesc; readonly how: string }
  | { readonly kind: 'dropped'; readonly why: string };

export type AllocResult =
  { readonly ok: true; readonly vectors: HwVector[] } | { readonly ok: false; readonly errno: number };

/** Hook the controller calls at allocation for a doorbell its IOMMU translates (iommu_dma_prepare_msi). */
export type PrepareHook = (doorbell: bigint) => number;

export interface MsiController {
  readonly id: string;
  readonly kind: InterruptControllerKind;
  /** Short label in /proc/interrupts style: `ITS`, `GICv2m`, `IR`, `APIC`, `PCIe MSI`. */
  readonly label: string;
  /** IRQ_DOMAIN_FLAG_ISOLATED_MSI (MSI_REMAP before 6.3) somewhere on the device's MSI domain chain. */
  readonly isolatedMsi: boolean;
  /** The irqchip calls iommu_dma_prepare_msi: its doorbell is translated by the IOMMU (GICv2m, ITS). */
  readonly translatedByIommu: boolean;
  /** Writes to the doorbell are caught before the IOMMU (an MSI controller inside the host bridge). */
  readonly interceptsBeforeIommu: boolean;
  /** MSI_FLAG_MULTI_PCI_MSI: a multi-message MSI block (nvec > 1) can be allocated. */
  readonly multiMsi: boolean;
  /** MSI_FLAG_PCI_MSIX_ALLOC_DYN: the device can grow an enabled MSI-X block (vfio has_dyn_msix). */
  dynamicMsix(profile: KernelProfile): boolean;
  /** Whether a physical (or, when intercepting, bus) address is one of this controller's doorbells. */
  claims(addr: bigint): boolean;
  /** msi_domain_prepare_irqs (ITS: create the device table entry sized for `nvec`). 0 or -errno. */
  msiPrepare?(dev: Device, nvec: number): number;
  /**
   * irq_domain_alloc_irqs for `count` vectors of `dev` (a whole multi-MSI block when !msix and count > 1).
   * `prepare` is called for each vector when the doorbell is translated; its error aborts the allocation.
   */
  alloc(dev: Device, count: number, msix: boolean, prepare: PrepareHook, chip: string): AllocResult;
  free(dev: Device, vectors: readonly HwVector[]): void;
  /** irq_domain_activate_irq at startup (x86: assign a CPU vector). 0 or -errno. */
  activate(v: HwVector): number;
  /** irq_domain_deactivate_irq (x86: release the CPU vector). */
  deactivate(v: HwVector): void;
  /** irq_chip_compose_msi_msg, before the IOMMU rewrite. `index` = sub-vector of a multi-MSI block. */
  compose(v: HwVector): MsiMsg;
  /** A write reached the doorbell: deliver, or drop (and say why). */
  receive(w: InboundMsi): Delivery;
}
