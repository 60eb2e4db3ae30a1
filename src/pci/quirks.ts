/**
 * The PCI quirks that change IOMMU group formation (drivers/pci/quirks.c), applied to a device as the
 * topology is built:
 *  - pci_dev_specific_acs_enabled: a device-specific answer to "does this function/port provide the ACS
 *    controls asked for", consulted by pci_acs_enabled BEFORE the ACS capability. When a quirk answers,
 *    the capability (a description's `acs`) is not looked at: the quirk wins.
 *  - DMA-alias header fixups: extra requester IDs a device uses (pci_add_dma_alias -> dma_alias_mask),
 *    a conventional bridge that is really a PCIe-to-PCI bridge (PCI_DEV_FLAG_PCIE_BRIDGE_ALIAS), and a
 *    bridge where the alias walk stops (PCI_DEV_FLAGS_BRIDGE_XLATE_ROOT).
 * The tables are in `quirk-tables.ts`; this module holds the rules of each quirk function.
 */
import { devfn, devfnSlot, devfnFunc } from './bdf.js';
import {
  ACS_QUIRKS,
  type AcsQuirkFn,
  CAVIUM_RP_RANGES,
  DMA_ALIAS_QUIRKS,
  type DmaAliasQuirkFn,
  INTEL_PCH_ACS_IDS,
  INTEL_SPT_PCH_RANGES,
  PCI_ANY_ID,
  WANGXUN_NIC_RANGES,
  ZHAOXIN_PORT_RANGES,
  inRanges,
} from './quirk-tables.js';

/** PCI_ACS_* control bits (include/uapi/linux/pci_regs.h). */
export const PCI_ACS = { SV: 0x01, TB: 0x02, RR: 0x04, CR: 0x08, UF: 0x10, EC: 0x20, DT: 0x40 } as const;

/** REQ_ACS_FLAGS (drivers/iommu/iommu.c): the controls pci_device_group asks for. */
export const REQ_ACS_FLAGS = PCI_ACS.SV | PCI_ACS.RR | PCI_ACS.CR | PCI_ACS.UF;

/** pci_pcie_type, as the model derives it from the hierarchy. `rc-end` is a PCIe endpoint on a root bus. */
export type PcieType = 'endpoint' | 'rc-end' | 'root' | 'upstream' | 'downstream' | 'pcie-to-pci';

/** What a quirk function reads of a device. */
export interface QuirkSubject {
  readonly vendor: number;
  readonly device: number;
  readonly subsystemVendor?: number;
  readonly subsystemDevice?: number;
  readonly devfn: number;
  /** pci_is_pcie: has a PCIe capability. */
  readonly pcie: boolean;
  /** pci_pcie_type when `pcie`; a conventional device reads as a plain endpoint (flags register 0). */
  readonly type: PcieType;
  /** Type 1 header. */
  readonly isBridge: boolean;
  readonly multifunction: boolean;
  readonly onRootBus: boolean;
  /** dev->acs_cap: the device has an ACS capability (a description's `acs: true`). */
  readonly acsCap: boolean;
  /** bus->self: the bridge above, when there is one. */
  readonly upstream?: { readonly pcie: boolean; readonly type: PcieType };
}

/** Machine facts some quirks depend on. */
export interface QuirkEnv {
  /**
   * pci_request_acs() was called before the devices were added, so pci_enable_acs ran the
   * device-specific enable hooks (pci_quirk_enable_intel_pch_acs). IOMMU firmware detection calls it
   * early (detect_intel_iommu for DMAR, detect_ivrs for IVRS, acpi_viot_early_init, IORT, a DT host
   * bridge with iommu-map): the model takes it as "an IOMMU driver of this kernel handles the machine".
   */
  readonly acsRequested: boolean;
  /** An ACPI IVRS table exists (AMD IOMMU), checked by pci_quirk_amd_sb_acs. */
  readonly ivrs: boolean;
}

export const DEFAULT_QUIRK_ENV: QuirkEnv = { acsRequested: true, ivrs: false };

export interface AcsQuirkAnswer {
  readonly enabled: boolean;
  readonly fn: AcsQuirkFn;
}

/** pci_acs_ctrl_enabled: all requested controls are among those provided. */
function ctrlEnabled(req: number, provided: number): boolean {
  return (req & provided) === req;
}

const ISOLATING = PCI_ACS.SV | PCI_ACS.RR | PCI_ACS.CR | PCI_ACS.UF;

/** One quirk function: true/false when it answers, undefined for -ENOTTY/-ENODEV (not mine). */
function runAcsQuirk(fn: AcsQuirkFn, dev: QuirkSubject, flags: number, env: QuirkEnv): boolean | undefined {
  const type = dev.pcie ? dev.type : 'endpoint';
  switch (fn) {
    case 'pci_quirk_amd_sb_acs':
      // Southbridge multifunction devices on the root bus, only with an AMD IOMMU described by IVRS.
      if (!dev.multifunction || !dev.onRootBus || !env.ivrs) return undefined;
      return ctrlEnabled(
        flags & (PCI_ACS.RR | PCI_ACS.CR | PCI_ACS.EC | PCI_ACS.DT),
        PCI_ACS.RR | PCI_ACS.CR,
      );
    case 'pci_quirk_mf_endpoint_acs':
      return ctrlEnabled(flags, PCI_ACS.SV | PCI_ACS.TB | PCI_ACS.RR | PCI_ACS.CR | PCI_ACS.UF | PCI_ACS.DT);
    case 'pci_quirk_rciep_acs':
      if (type !== 'rc-end') return undefined;
      return ctrlEnabled(flags, ISOLATING);
    case 'pci_quirk_qcom_rp_acs':
    case 'pci_quirk_xgene_acs':
    case 'pci_quirk_nxp_rp_acs':
    case 'pci_quirk_brcm_acs':
      return ctrlEnabled(flags, ISOLATING);
    case 'pci_quirk_intel_pch_acs':
      if (!dev.pcie || type !== 'root' || !INTEL_PCH_ACS_IDS.has(dev.device)) return undefined;
      // PCI_DEV_FLAGS_ACS_ENABLED_QUIRK is set by pci_quirk_enable_intel_pch_acs when ACS was requested;
      // without it the quirk still answers, and the answer is "no".
      return ctrlEnabled(flags, env.acsRequested ? ISOLATING : 0);
    case 'pci_quirk_intel_spt_pch_acs': {
      if (!dev.pcie || type !== 'root' || !inRanges(dev.device, INTEL_SPT_PCH_RANGES)) return undefined;
      if (!dev.acsCap) return undefined;
      // The control register sits at a dword offset; pci_quirk_enable_intel_spt_pch_acs set there every
      // control the capability offers (modelled as the four isolating ones) when ACS was requested.
      const cap = ISOLATING;
      const ctrl = env.acsRequested ? cap : 0;
      return ctrlEnabled(flags & (cap | PCI_ACS.EC), ctrl);
    }
    case 'pci_quirk_cavium_acs':
      if (!dev.pcie || type !== 'root' || !inRanges(dev.device, CAVIUM_RP_RANGES)) return undefined;
      return ctrlEnabled(flags, ISOLATING);
    case 'pci_quirk_al_acs':
      if (type !== 'root') return undefined;
      return (flags & ~ISOLATING) === 0;
    case 'pci_quirk_zhaoxin_pcie_ports_acs':
      if (!dev.pcie || (type !== 'root' && type !== 'downstream')) return undefined;
      return inRanges(dev.device, ZHAOXIN_PORT_RANGES) ? ctrlEnabled(flags, ISOLATING) : false;
    case 'pci_quirk_wangxun_nic_acs':
      return inRanges(dev.device, WANGXUN_NIC_RANGES) ? ctrlEnabled(flags, ISOLATING) : false;
  }
}

/**
 * pci_dev_specific_acs_enabled: the first table entry matching vendor and device whose function answers
 * decides; undefined when no quirk answers (-ENOTTY), and pci_acs_enabled goes on to the capability.
 */
export function pciDevSpecificAcsEnabled(
  dev: QuirkSubject,
  flags: number = REQ_ACS_FLAGS,
  env: QuirkEnv = DEFAULT_QUIRK_ENV,
): AcsQuirkAnswer | undefined {
  for (const q of ACS_QUIRKS) {
    if (q.vendor !== dev.vendor && q.vendor !== PCI_ANY_ID) continue;
    if (q.device !== dev.device && q.device !== PCI_ANY_ID) continue;
    const r = runAcsQuirk(q.fn, dev, flags, env);
    if (r !== undefined) return { enabled: r, fn: q.fn };
  }
  return undefined;
}

/** What the DMA-alias header fixups did to one device. */
export interface DmaAliasFixups {
  /** dma_alias_mask: devfns on the device's own bus it also uses as requester ID, ascending. */
  readonly aliasDevfns: readonly number[];
  /** PCI_DEV_FLAG_PCIE_BRIDGE_ALIAS: forwards with (secondary bus, devfn 0) like a PCIe-to-PCI bridge. */
  readonly pcieBridgeAlias: boolean;
  /** PCI_DEV_FLAGS_BRIDGE_XLATE_ROOT: the IOMMU translates below this bridge; alias walks stop here. */
  readonly xlateRoot: boolean;
  /** The fixups that changed something, in table order. */
  readonly applied: readonly DmaAliasQuirkFn[];
}

/** Runs every matching DMA-alias header fixup (all of them apply, unlike the ACS table). */
export function dmaAliasFixups(dev: QuirkSubject): DmaAliasFixups {
  const mask = new Set<number>();
  // pci_add_dma_alias(dev, from, nr): devfns from .. from + nr - 1.
  const add = (from: number, nr: number) => {
    for (let d = from; d < from + nr && d < 256; d++) mask.add(d);
  };
  let pcieBridgeAlias = false;
  let xlateRoot = false;
  const applied: DmaAliasQuirkFn[] = [];
  for (const q of DMA_ALIAS_QUIRKS) {
    if (q.vendor !== dev.vendor || q.device !== dev.device) continue;
    let did = false;
    switch (q.fn) {
      case 'quirk_dma_func0_alias':
        if (devfnFunc(dev.devfn) !== 0) {
          add(devfn(devfnSlot(dev.devfn), 0), 1);
          did = true;
        }
        break;
      case 'quirk_dma_func1_alias':
        if (devfnFunc(dev.devfn) !== 1) {
          add(devfn(devfnSlot(dev.devfn), 1), 1);
          did = true;
        }
        break;
      case 'quirk_fixed_dma_alias':
        // pci_match_id on its own table: subsystem IDs must match too.
        if (
          q.devfn !== undefined &&
          dev.subsystemVendor === q.subsystemVendor &&
          dev.subsystemDevice === q.subsystemDevice
        ) {
          add(q.devfn, 1);
          did = true;
        }
        break;
      case 'quirk_use_pcie_bridge_dma_alias':
        // A non-root, conventional bridge below a PCIe port that is not itself a PCIe-to-PCI bridge.
        if (
          !dev.onRootBus &&
          dev.isBridge &&
          !dev.pcie &&
          dev.upstream !== undefined &&
          dev.upstream.pcie &&
          dev.upstream.type !== 'pcie-to-pci'
        ) {
          pcieBridgeAlias = true;
          did = true;
        }
        break;
      case 'quirk_mic_x200_dma_alias':
        add(devfn(0x10, 0), 1);
        add(devfn(0x11, 0), 1);
        add(devfn(0x12, 3), 1);
        did = true;
        break;
      case 'quirk_pex_vca_alias':
        for (let slot = 0; slot < 0x20; slot++) add(devfn(slot, 0), 5);
        did = true;
        break;
      case 'quirk_plx_ntb_dma_alias':
        add(0, 256);
        did = true;
        break;
      case 'quirk_bridge_cavm_thrx2_pcie_root':
        xlateRoot = true;
        did = true;
        break;
    }
    if (did && !applied.includes(q.fn)) applied.push(q.fn);
  }
  return { aliasDevfns: [...mask].sort((a, b) => a - b), pcieBridgeAlias, xlateRoot, applied };
}
