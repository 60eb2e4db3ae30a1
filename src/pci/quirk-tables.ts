/**
 * The vendor/device tables of drivers/pci/quirks.c that change how IOMMU groups form: device-specific
 * ACS answers (pci_dev_acs_enabled[], consulted by pci_dev_specific_acs_enabled) and DMA-alias header
 * fixups (DECLARE_PCI_FIXUP_HEADER entries that call pci_add_dma_alias or set a dev_flags bit); and the
 * fixups that forbid a bus reset (PCI_DEV_FLAGS_NO_BUS_RESET), which decide what VFIO can reset.
 *
 * Data only: the rules that interpret each quirk live in `quirks.ts`. Entries are named by the kernel
 * function that implements them, so a reason printed to the user is the function to read. Compared in
 * the Debian 6.1.y and 6.12.y stable trees: both tables hold the same entries (the stable series
 * backported the later additions: QCOM SA8775P, Broadcom BCM5760X, Wangxun AML, Glenfly), so there is
 * no per-profile switch. None of these entries matches on the class code (they are plain
 * vendor/device fixups, not DECLARE_PCI_FIXUP_CLASS_*), so no class field is needed.
 */

/** PCI_ANY_ID as the tables compare it ((u16)PCI_ANY_ID). */
export const PCI_ANY_ID = 0xffff;

/** The ACS quirk functions of pci_dev_acs_enabled[]. */
export type AcsQuirkFn =
  | 'pci_quirk_amd_sb_acs'
  | 'pci_quirk_mf_endpoint_acs'
  | 'pci_quirk_rciep_acs'
  | 'pci_quirk_qcom_rp_acs'
  | 'pci_quirk_intel_pch_acs'
  | 'pci_quirk_intel_spt_pch_acs'
  | 'pci_quirk_cavium_acs'
  | 'pci_quirk_xgene_acs'
  | 'pci_quirk_brcm_acs'
  | 'pci_quirk_al_acs'
  | 'pci_quirk_nxp_rp_acs'
  | 'pci_quirk_zhaoxin_pcie_ports_acs'
  | 'pci_quirk_wangxun_nic_acs';

export interface AcsQuirkEntry {
  readonly vendor: number;
  /** A device ID or PCI_ANY_ID. */
  readonly device: number;
  readonly fn: AcsQuirkFn;
}

const VID = {
  ATI: 0x1002,
  AMD: 0x1022,
  SOLARFLARE: 0x1924,
  INTEL: 0x8086,
  QCOM: 0x17cb,
  HXT: 0x1dbf,
  EMULEX_BE: 0x19a2,
  EMULEX: 0x10df,
  CAVIUM: 0x177d,
  AMCC: 0x10e8,
  AMPERE: 0x1def,
  BROADCOM: 0x14e4,
  ANNAPURNA: 0x1c36,
  ZHAOXIN: 0x1d17,
  NXP: 0x1957,
  WANGXUN: 0x8088,
  RICOH: 0x1180,
  GLENFLY: 0x6766,
  MARVELL_EXT: 0x1b4b,
  TTI: 0x1103,
  JMICRON: 0x197b,
  LITEON: 0x1c28,
  ADAPTEC2: 0x9005,
  ASMEDIA: 0x1b21,
  TUNDRA: 0x10e3,
  ITE: 0x1283,
  PLX: 0x10b5,
} as const;

const rows = (vendor: number, fn: AcsQuirkFn, devices: readonly number[]): AcsQuirkEntry[] =>
  devices.map((device) => ({ vendor, device, fn }));

/**
 * pci_dev_acs_enabled[], in the kernel's order: pci_dev_specific_acs_enabled takes the first matching
 * entry whose function answers (>= 0), so order matters for the several Intel PCI_ANY_ID rows.
 */
export const ACS_QUIRKS: readonly AcsQuirkEntry[] = [
  // AMD/ATI southbridge functions without peer-to-peer when an AMD IOMMU (IVRS) is present.
  ...rows(VID.ATI, 'pci_quirk_amd_sb_acs', [0x4385, 0x439c, 0x4383, 0x439d, 0x4384, 0x4399]),
  ...rows(VID.AMD, 'pci_quirk_amd_sb_acs', [0x780f, 0x7809]),
  ...rows(VID.SOLARFLARE, 'pci_quirk_mf_endpoint_acs', [0x0903, 0x0923, 0x0a03]),
  // Intel multifunction NICs verified not to do peer-to-peer between functions:
  // 82598/82599/X540/X550 family, 82580, 82576, 82575, I350, 82571, I219.
  ...rows(
    VID.INTEL,
    'pci_quirk_mf_endpoint_acs',
    [
      0x10c6, 0x10db, 0x10dd, 0x10e1, 0x10f1, 0x10f7, 0x10f8, 0x10f9, 0x10fa, 0x10fb, 0x10fc, 0x1507, 0x1514,
      0x151c, 0x1529, 0x152a, 0x154d, 0x154f, 0x1551, 0x1558, 0x1509, 0x150e, 0x150f, 0x1510, 0x1511, 0x1516,
      0x1527, 0x10c9, 0x10e6, 0x10e7, 0x10e8, 0x150a, 0x150d, 0x1518, 0x1526, 0x10a7, 0x10a9, 0x10d6, 0x1521,
      0x1522, 0x1523, 0x1524, 0x105e, 0x105f, 0x1060, 0x10d9, 0x15b7, 0x15b8,
    ],
  ),
  { vendor: VID.INTEL, device: PCI_ANY_ID, fn: 'pci_quirk_rciep_acs' },
  ...rows(VID.QCOM, 'pci_quirk_qcom_rp_acs', [0x0400, 0x0401, 0x0115]),
  { vendor: VID.HXT, device: 0x0401, fn: 'pci_quirk_qcom_rp_acs' },
  { vendor: VID.INTEL, device: PCI_ANY_ID, fn: 'pci_quirk_intel_pch_acs' },
  { vendor: VID.INTEL, device: PCI_ANY_ID, fn: 'pci_quirk_intel_spt_pch_acs' },
  { vendor: VID.EMULEX_BE, device: 0x0710, fn: 'pci_quirk_mf_endpoint_acs' },
  { vendor: VID.EMULEX, device: 0x0720, fn: 'pci_quirk_mf_endpoint_acs' },
  { vendor: VID.CAVIUM, device: PCI_ANY_ID, fn: 'pci_quirk_cavium_acs' },
  ...rows(VID.CAVIUM, 'pci_quirk_mf_endpoint_acs', [0xa026, 0xa059, 0xa060]),
  { vendor: VID.AMCC, device: 0xe004, fn: 'pci_quirk_xgene_acs' },
  ...rows(
    VID.AMPERE,
    'pci_quirk_xgene_acs',
    [0xe005, 0xe006, 0xe007, 0xe008, 0xe009, 0xe00a, 0xe00b, 0xe00c],
  ),
  ...rows(
    VID.BROADCOM,
    'pci_quirk_mf_endpoint_acs',
    [0x16d7, 0x1750, 0x1751, 0x1752, 0x1760, 0x1761, 0x1762, 0x1763],
  ),
  { vendor: VID.BROADCOM, device: 0xd714, fn: 'pci_quirk_brcm_acs' },
  { vendor: VID.ANNAPURNA, device: 0x0031, fn: 'pci_quirk_al_acs' },
  ...rows(VID.ZHAOXIN, 'pci_quirk_mf_endpoint_acs', [0x3038, 0x3104, 0x9083]),
  // NXP LX2160A family root ports (each in its own segment).
  ...rows(
    VID.NXP,
    'pci_quirk_nxp_rp_acs',
    [
      0x8d81, 0x8da1, 0x8d83, 0x8d80, 0x8da0, 0x8d82, 0x8d90, 0x8db0, 0x8d92, 0x8d91, 0x8db1, 0x8d93, 0x8d89,
      0x8da9, 0x8d8b, 0x8d88, 0x8da8, 0x8d8a, 0x8d98, 0x8db8, 0x8d9a, 0x8d99, 0x8db9, 0x8d9b,
    ],
  ),
  { vendor: VID.ZHAOXIN, device: PCI_ANY_ID, fn: 'pci_quirk_zhaoxin_pcie_ports_acs' },
  { vendor: VID.WANGXUN, device: PCI_ANY_ID, fn: 'pci_quirk_wangxun_nic_acs' },
];

/** Inclusive device-ID ranges. */
export type IdRanges = readonly (readonly [number, number])[];

const span = (from: number, to: number): number[] =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

/**
 * pci_quirk_intel_pch_acs_ids: PCH root ports (Ibex Peak, Cougar Point, Panther Point, Lynx Point H/LP,
 * Wildcat Point, Patsburg X79 (even IDs only), Wellsburg X99 (0x8d10..0x8d1e), 9 series) that isolate
 * like ACS once pci_quirk_enable_intel_pch_acs has programmed them, without an ACS capability.
 */
export const INTEL_PCH_ACS_IDS: ReadonlySet<number> = new Set([
  ...span(0x3b42, 0x3b51),
  ...span(0x1c10, 0x1c1f),
  ...span(0x1e10, 0x1e1f),
  ...span(0x8c10, 0x8c1f),
  ...span(0x9c10, 0x9c1b),
  ...span(0x9c90, 0x9c9b),
  0x1d10,
  0x1d12,
  0x1d14,
  0x1d16,
  0x1d18,
  0x1d1a,
  0x1d1c,
  0x1d1e,
  ...span(0x8d10, 0x8d1e),
  0x8c90,
  0x8c92,
  0x8c94,
  0x8c96,
  0x8c98,
  0x8c9a,
  0x8c9c,
  0x8c9e,
]);

/** pci_quirk_intel_spt_pch_acs_match: Sunrise Point, Union Point, 7th/8th gen mobile root ports. */
export const INTEL_SPT_PCH_RANGES: IdRanges = [
  [0xa110, 0xa11f],
  [0xa167, 0xa16a],
  [0xa290, 0xa29f],
  [0xa2e7, 0xa2ee],
  [0x9d10, 0x9d1b],
];

/** pci_quirk_cavium_acs_match: ThunderX1 (0xa000..0xa7ff), ThunderX2 0xaf84, ThunderX3 0xb884 root ports. */
export const CAVIUM_RP_RANGES: IdRanges = [
  [0xa000, 0xa7ff],
  [0xaf84, 0xaf84],
  [0xb884, 0xb884],
];

/** pci_quirk_zhaoxin_pcie_ports_acs: root/downstream ports with ACS-like isolation. */
export const ZHAOXIN_PORT_RANGES: IdRanges = [
  [0x0710, 0x071e],
  [0x0721, 0x0721],
  [0x0723, 0x0752],
];

/** pci_quirk_wangxun_nic_acs: EM (SFxxx), SP (RP1000/RP2000) and AML (FF5xxx) NICs. */
export const WANGXUN_NIC_RANGES: IdRanges = [
  [0x0100, 0x010f],
  [0x1001, 0x1001],
  [0x2001, 0x2001],
  [0x5010, 0x5010],
  [0x5025, 0x5025],
  [0x5040, 0x5040],
  [0x5110, 0x5110],
  [0x5125, 0x5125],
  [0x5140, 0x5140],
];

export function inRanges(id: number, ranges: IdRanges): boolean {
  return ranges.some(([a, b]) => a <= id && id <= b);
}

/** The DMA-alias header fixups. */
export type DmaAliasQuirkFn =
  | 'quirk_dma_func0_alias'
  | 'quirk_dma_func1_alias'
  | 'quirk_fixed_dma_alias'
  | 'quirk_use_pcie_bridge_dma_alias'
  | 'quirk_mic_x200_dma_alias'
  | 'quirk_pex_vca_alias'
  | 'quirk_plx_ntb_dma_alias'
  | 'quirk_bridge_cavm_thrx2_pcie_root';

export interface DmaAliasQuirkEntry {
  readonly vendor: number;
  readonly device: number;
  /** Subsystem IDs the fixup's own match table requires (quirk_fixed_dma_alias's PCI_DEVICE_SUB). */
  readonly subsystemVendor?: number;
  readonly subsystemDevice?: number;
  readonly fn: DmaAliasQuirkFn;
  /** quirk_fixed_dma_alias: the devfn the device really uses. */
  readonly devfn?: number;
}

const aliasRows = (vendor: number, fn: DmaAliasQuirkFn, devices: readonly number[]): DmaAliasQuirkEntry[] =>
  devices.map((device) => ({ vendor, device, fn }));

/** DECLARE_PCI_FIXUP_HEADER entries that add DMA aliases or change how aliases are walked. */
export const DMA_ALIAS_QUIRKS: readonly DmaAliasQuirkEntry[] = [
  // Ricoh card readers and Glenfly GPUs DMA with function 0's requester ID.
  ...aliasRows(VID.RICOH, 'quirk_dma_func0_alias', [0xe832, 0xe476]),
  ...aliasRows(VID.GLENFLY, 'quirk_dma_func0_alias', [0x3d40, 0x3d41]),
  // Marvell SATA controllers (88SE9123 and kin) DMA with function 1's requester ID, even when function
  // 1 does not exist (a "ghost" requester); also TTI RocketRAID, JMicron JMB388 ESD, Plextor M6E.
  ...aliasRows(
    VID.MARVELL_EXT,
    'quirk_dma_func1_alias',
    [
      0x9120, 0x9123, 0x9125, 0x9128, 0x9130, 0x9170, 0x9172, 0x917a, 0x9182, 0x9183, 0x91a0, 0x9215, 0x9220,
      0x9230, 0x9235,
    ],
  ),
  ...aliasRows(VID.TTI, 'quirk_dma_func1_alias', [0x0642, 0x0645]),
  { vendor: VID.JMICRON, device: 0x2392, fn: 'quirk_dma_func1_alias' },
  { vendor: VID.LITEON, device: 0x0122, fn: 'quirk_dma_func1_alias' },
  // Adaptec 3405 / 3805: the DMA engine is a hidden device at 01.0 behind the exposed ATU.
  {
    vendor: VID.ADAPTEC2,
    device: 0x0285,
    subsystemVendor: VID.ADAPTEC2,
    subsystemDevice: 0x02bb,
    fn: 'quirk_fixed_dma_alias',
    devfn: 0x08,
  },
  {
    vendor: VID.ADAPTEC2,
    device: 0x0285,
    subsystemVendor: VID.ADAPTEC2,
    subsystemDevice: 0x02bc,
    fn: 'quirk_fixed_dma_alias',
    devfn: 0x08,
  },
  // PCIe-to-PCI bridges without a PCIe capability (ASM1083/1085, Tundra 8113, ITE 8892/8893, Intel 82801).
  { vendor: VID.ASMEDIA, device: 0x1080, fn: 'quirk_use_pcie_bridge_dma_alias' },
  { vendor: VID.TUNDRA, device: 0x8113, fn: 'quirk_use_pcie_bridge_dma_alias' },
  ...aliasRows(VID.ITE, 'quirk_use_pcie_bridge_dma_alias', [0x8892, 0x8893]),
  { vendor: VID.INTEL, device: 0x244e, fn: 'quirk_use_pcie_bridge_dma_alias' },
  // Intel MIC x200 NTB and Visual Compute Accelerator: requester IDs from the other side of the NTB.
  ...aliasRows(VID.INTEL, 'quirk_mic_x200_dma_alias', [0x2260, 0x2264]),
  ...aliasRows(VID.INTEL, 'quirk_pex_vca_alias', [0x2954, 0x2955, 0x2956, 0x2958, 0x2959, 0x295a]),
  // PLX NTB: proxy requester IDs may be any of the 256 devfns of its bus.
  ...aliasRows(VID.PLX, 'quirk_plx_ntb_dma_alias', [0x87b0, 0x87b1]),
  // Broadcom Vulcan / Cavium ThunderX2: the IOMMU sits below these root bridges; stop the alias walk.
  ...aliasRows(VID.BROADCOM, 'quirk_bridge_cavm_thrx2_pcie_root', [0x9000, 0x9084]),
];

/** The header fixups that set PCI_DEV_FLAGS_NO_BUS_RESET (devices that break on a secondary bus reset). */
export type NoBusResetQuirkFn = 'quirk_no_bus_reset' | 'quirk_nvidia_no_bus_reset';

export interface NoBusResetQuirkEntry {
  readonly vendor: number;
  /** A device ID, or PCI_ANY_ID with `mask`/`value` on the device ID (quirk_nvidia_no_bus_reset). */
  readonly device: number;
  readonly mask?: number;
  readonly value?: number;
  readonly fn: NoBusResetQuirkFn;
}

const VID_NO_BUS_RESET = { NVIDIA: 0x10de, ATHEROS: 0x168c, TI: 0x104c } as const;

/**
 * DECLARE_PCI_FIXUP_HEADER entries of quirk_no_bus_reset and quirk_nvidia_no_bus_reset. Both Debian
 * kernels (6.1.192 and 6.12.95; their changelogs list "PCI: Mark Nvidia GB10 to avoid bus reset" and
 * "PCI: Mark ASM1164 SATA controller to avoid bus reset" among the stable updates) have all of them.
 */
export const NO_BUS_RESET_QUIRKS: readonly NoBusResetQuirkEntry[] = [
  // NVIDIA GB10 root ports: the link may not retrain after a secondary bus reset below them.
  { vendor: VID_NO_BUS_RESET.NVIDIA, device: 0x22ce, fn: 'quirk_no_bus_reset' },
  { vendor: VID_NO_BUS_RESET.NVIDIA, device: 0x22d0, fn: 'quirk_no_bus_reset' },
  // NVIDIA GPUs 0x2340-0x237f (device & 0xffc0 == 0x2340).
  {
    vendor: VID_NO_BUS_RESET.NVIDIA,
    device: PCI_ANY_ID,
    mask: 0xffc0,
    value: 0x2340,
    fn: 'quirk_nvidia_no_bus_reset',
  },
  // Atheros AR9xxx / QCA988x: config space never comes back after a bus reset.
  ...[0x0030, 0x0032, 0x003c, 0x0033, 0x0034, 0x003e].map((device) => ({
    vendor: VID_NO_BUS_RESET.ATHEROS,
    device,
    fn: 'quirk_no_bus_reset' as const,
  })),
  // Cavium CN8xxx root port: config accesses to the child may fail after the reset.
  { vendor: VID.CAVIUM, device: 0xa100, fn: 'quirk_no_bus_reset' },
  // TI KeyStone C667X: the PCIe subsystem disables its link on a secondary bus reset.
  { vendor: VID_NO_BUS_RESET.TI, device: 0xb005, fn: 'quirk_no_bus_reset' },
  // ASMedia ASM1164 SATA controller: does not retrain after a bus reset (a PM reset still works).
  { vendor: VID.ASMEDIA, device: 0x1164, fn: 'quirk_no_bus_reset' },
];

/** The NO_BUS_RESET fixup that applies to a vendor/device pair, if any. */
export function noBusResetQuirk(vendor: number, device: number): NoBusResetQuirkFn | undefined {
  for (const q of NO_BUS_RESET_QUIRKS) {
    if (q.vendor !== vendor) continue;
    if (q.device === PCI_ANY_ID ? (device & q.mask!) === q.value : q.device === device) return q.fn;
  }
  return undefined;
}
