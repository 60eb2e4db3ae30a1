/**
 * The PCI MSI core for one function (drivers/pci/msi/*, kernel/irq/msi.c), reduced to what vfio-pci
 * drives: pci_alloc_irq_vectors / pci_free_irq_vectors, pci_msix_alloc_irq_at (dynamic MSI-X),
 * pci_irq_vector, request_irq / free_irq (startup = activate + compose + write + unmask; shutdown =
 * mask + deactivate, which writes a zeroed message), and the cached message vfio rewrites.
 *
 * Composition: controller message (physical doorbell) -> iommu_dma_compose_msi_msg with the page that
 * iommu_dma_prepare_msi picked at allocation for the device's domain at that time.
 */
import type { Device, IommuDomain } from '../iommu/api.js';
import type { KernelProfile } from '../kernel/profile.js';
import { ERRNO } from '../base/errno.js';
import {
  type MsiDescIommu,
  type MsiMsg,
  iommuDmaComposeMsiMsg,
  iommuDmaPrepareMsi,
  msiMsgAddress,
} from '../dma-iommu/msi.js';
import type { HwVector, MsiController } from '../irq/types.js';
import type { IrqAction } from '../irq/irq-core.js';
import {
  type MsiDeviceModel,
  PCI_MSIX_FLAGS_ENABLE,
  PCI_MSIX_FLAGS_MASKALL,
  PCI_MSI_FLAGS_ENABLE,
} from './msi-device.js';

export interface MsiEnv {
  /** Parent irqchip of the device's MSI domain (undefined: no MSI controller reachable). */
  readonly controller: MsiController | undefined;
  readonly profile: KernelProfile;
  /** iommu_get_domain_for_dev, at prepare time. */
  domainOf(dev: Device): IommuDomain | undefined;
  /** iommu_setup_dma_ops -> iommu_dma_init_domain for a DMA-API domain not yet given its cookie. */
  ensureDmaCookie?(dev: Device, domain: IommuDomain): void;
}

/** struct msi_desc + the irq it got. */
export interface MsiDescModel {
  readonly index: number;
  readonly hw: HwVector;
  readonly iommu: MsiDescIommu | undefined;
  started: boolean;
  /** Last message written to the device (get_cached_msi_msg). */
  cached: MsiMsg;
}

const ZERO_MSG: MsiMsg = { addressLo: 0, addressHi: 0, data: 0 };

export class PciMsiCore {
  mode: 'none' | 'msi' | 'msix' = 'none';
  private readonly descs = new Map<number, MsiDescModel>();

  constructor(
    readonly dev: Device,
    readonly model: MsiDeviceModel,
    readonly env: MsiEnv,
  ) {}

  get controller(): MsiController | undefined {
    return this.env.controller;
  }

  /** Descriptors, by index. */
  vectors(): MsiDescModel[] {
    return [...this.descs.values()].sort((a, b) => a.index - b.index);
  }

  desc(index: number): MsiDescModel | undefined {
    return this.descs.get(index);
  }

  /** Domain name as /proc/interrupts shows it. */
  chipName(msix: boolean): string {
    const c = this.controller;
    if (c === undefined) return 'none';
    const prefix =
      c.kind === 'x86-apic'
        ? c.isolatedMsi
          ? 'IR-'
          : ''
        : c.kind === 'gicv3-its'
          ? 'ITS-'
          : c.kind === 'gicv2m'
            ? 'GICv2m-'
            : '';
    if (this.env.profile.perDeviceMsiDomains) return `${prefix}PCI-${msix ? 'MSIX' : 'MSI'}-${this.dev.bdf}`;
    if (c.kind === 'gicv3-its') return 'ITS-MSI';
    if (c.kind === 'gicv2m') return 'MSI';
    return `${prefix}PCI-MSI`;
  }

  /** Allocates controller state for `count` vectors starting at `first` (one block for MSI). */
  private allocDescs(first: number, count: number, msix: boolean): number {
    const c = this.controller;
    if (c === undefined) return -ERRNO.EINVAL;
    const cookies = new Map<bigint, MsiDescIommu | undefined>();
    const prepare = (doorbell: bigint): number => {
      const dom = this.env.domainOf(this.dev);
      if (dom !== undefined && dom.cookieKind === 'dma') this.env.ensureDmaCookie?.(this.dev, dom);
      const r = iommuDmaPrepareMsi(dom, doorbell, this.env.profile);
      if (!r.ok) return r.errno;
      cookies.set(doorbell, r.cookie);
      return 0;
    };
    const res = c.alloc(this.dev, count, msix, c.translatedByIommu ? prepare : () => 0, this.chipName(msix));
    if (!res.ok) return res.errno;
    res.vectors.forEach((hw, i) => {
      const d: MsiDescModel = {
        index: first + i,
        hw,
        iommu: cookies.get(hw.doorbell),
        started: false,
        cached: ZERO_MSG,
      };
      this.descs.set(d.index, d);
      // Early activation (MSI_FLAG_ACTIVATE_EARLY): compose and write, the vector stays masked.
      this.writeMsg(d, this.compose(d));
    });
    return 0;
  }

  /** pci_alloc_irq_vectors(dev, 1, nvec, MSI|MSIX): the number of vectors obtained (<= nvec) or -errno. */
  allocIrqVectors(nvec: number, msix: boolean): number {
    // maxvec < minvec (1) is -ERANGE: __pci_enable_msix_range tests it first of all; __pci_enable_msi_range
    // after pci_msi_supported and its "MSI-X already enabled" test. (vfio_msi_enable with nvec 0 gets this.)
    if (msix && nvec < 1) return -ERRNO.ERANGE;
    if (!msix && (this.model.layout.caps.msi === undefined || this.mode === 'msix')) return -ERRNO.EINVAL;
    if (nvec < 1) return -ERRNO.ERANGE;
    if (this.mode !== 'none') return -ERRNO.EINVAL;
    const max = msix ? this.model.msixTableSize : 1 << ((this.model.msiCtrl >> 1) & 7);
    if (nvec > max) return -ERRNO.EINVAL;
    const c = this.controller;
    if (c === undefined) return -ERRNO.EINVAL;
    const prep = c.msiPrepare?.(this.dev, nvec) ?? 0;
    if (prep !== 0) return prep;
    if (msix) {
      this.model.msixCtrl = this.model.msixCtrl | PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL;
      for (let i = 0; i < this.model.msixTableSize; i++) this.model.maskMsixEntry(i, true);
      this.mode = 'msix';
      const rc = this.allocDescs(0, nvec, true);
      if (rc !== 0) {
        this.freeIrqVectors();
        return rc;
      }
      this.model.msixCtrl = this.model.msixCtrl & ~PCI_MSIX_FLAGS_MASKALL;
      return nvec;
    }
    // pci_msi_domain_check_cap: without MSI_FLAG_MULTI_PCI_MSI only one vector can be had, and
    // __pci_enable_msi_range retries with that: the caller gets 1 vector, a positive "short" answer.
    if (nvec > 1 && !c.multiMsi) nvec = 1;
    this.mode = 'msi';
    const rc = this.allocDescs(0, nvec, false);
    if (rc !== 0) {
      this.freeIrqVectors();
      return rc;
    }
    const mme = Math.ceil(Math.log2(nvec));
    this.model.msiCtrl = (this.model.msiCtrl & ~0x70) | (mme << 4) | PCI_MSI_FLAGS_ENABLE;
    return nvec;
  }

  /** pci_msix_alloc_irq_at(dev, index): a new vector on an enabled MSI-X block (dynamic MSI-X only). */
  msixAllocIrqAt(index: number): number {
    const c = this.controller;
    if (this.mode !== 'msix' || c === undefined || !c.dynamicMsix(this.env.profile)) return -ERRNO.EOPNOTSUPP;
    if (index < 0 || index >= this.model.msixTableSize || this.descs.has(index)) return -ERRNO.EINVAL;
    const rc = this.allocDescs(index, 1, true);
    return rc !== 0 ? rc : this.descs.get(index)!.hw.irq.virq;
  }

  /** pci_irq_vector: the Linux irq of vector `index`, or -EINVAL. */
  irqVector(index: number): number {
    const d = this.descs.get(index);
    return d === undefined ? -ERRNO.EINVAL : d.hw.irq.virq;
  }

  private compose(d: MsiDescModel): MsiMsg {
    return iommuDmaComposeMsiMsg(d.iommu, this.controller!.compose(d.hw));
  }

  /** pci_write_msi_msg: MSI-X entry, or the MSI registers (first vector of the block). */
  writeMsg(d: MsiDescModel, msg: MsiMsg): void {
    d.cached = msg;
    if (this.mode === 'msix') this.model.setMsixEntry(d.index, msiMsgAddress(msg), msg.data);
    else if (this.mode === 'msi' && d.index === 0) this.model.setMsiMessage(msiMsgAddress(msg), msg.data);
  }

  /** get_cached_msi_msg + pci_write_msi_msg (vfio refreshes MSI-X entries before request_irq). */
  rewriteCached(index: number): void {
    const d = this.descs.get(index);
    if (d !== undefined) this.writeMsg(d, d.cached);
  }

  /** request_irq: startup = activate (x86 vector) + compose + write + unmask. 0 or -errno. */
  requestIrq(index: number, action: IrqAction): number {
    const d = this.descs.get(index);
    if (d === undefined) return -ERRNO.EINVAL;
    if (d.hw.irq.action !== undefined) return -ERRNO.EBUSY;
    const rc = this.controller!.activate(d.hw);
    if (rc !== 0) return rc;
    this.writeMsg(d, this.compose(d));
    d.hw.irq.action = action;
    d.started = true;
    if (this.mode === 'msix') this.model.maskMsixEntry(index, false);
    return 0;
  }

  /** free_irq: shutdown = mask + deactivate; msi_domain_deactivate writes a zeroed message. */
  freeIrq(index: number): void {
    const d = this.descs.get(index);
    if (d === undefined) return;
    d.hw.irq.action = undefined;
    if (this.mode === 'msix') this.model.maskMsixEntry(index, true);
    if (d.started) {
      this.controller!.deactivate(d.hw);
      d.started = false;
    }
    this.writeMsg(d, ZERO_MSG);
  }

  /** pci_free_irq_vectors: free every vector, disable MSI/MSI-X. */
  freeIrqVectors(): void {
    const all = this.vectors();
    for (const d of all) this.freeIrq(d.index);
    this.controller?.free(
      this.dev,
      all.map((d) => d.hw),
    );
    this.descs.clear();
    if (this.mode === 'msix') {
      this.model.msixCtrl = this.model.msixCtrl & ~(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
    } else if (this.mode === 'msi') {
      this.model.msiCtrl = this.model.msiCtrl & ~(PCI_MSI_FLAGS_ENABLE | 0x70);
    }
    this.mode = 'none';
  }
}
