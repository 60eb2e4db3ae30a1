/**
 * Guest memory maps of the Rust VMMs: cloud-hypervisor, Firecracker, crosvm (x86_64 and aarch64) and
 * OpenVMM (aarch64). Constants were read in these snapshots: cloud-hypervisor@ae44c297 (2026-08-22),
 * firecracker@81b38b9d (2026-08-21), crosvm@f1e797a6 (2026-08-21); OpenVMM from its pull requests.
 * None of these VMMs compares guest RAM with the host's usable IOVA ranges before mapping it
 * (crosvm reads the ranges, but only to allocate IOVAs for virtio-iommu/coiommu devices).
 */
import type { Range } from '../base/range.js';
import {
  checkedLayout,
  cliHex,
  cliSize,
  fail,
  minBig,
  resolveOptions,
  roundDown,
  sizeOpt,
  span,
  strerror,
} from './common.js';
import type {
  FailedMapping,
  GuestArch,
  GuestLayout,
  GuestRange,
  Knob,
  LayoutRequest,
  LayoutResult,
  SourcedConstant,
  VmmFailure,
  VmmFamily,
  VmmModel,
  VmmOption,
} from './types.js';
import { GiB, KiB, MiB } from './types.js';

const FOUR_G = 4n * GiB;

/** A RAM bank: guest RAM fills the banks in address order, each up to its capacity (undefined = no end). */
interface Bank {
  readonly start: bigint;
  readonly capacity?: bigint;
  readonly name: string;
  readonly what: string;
}

/** Lays `memory` bytes out over `banks` in order (the common arch_memory_regions shape). */
function fillBanks(memory: bigint, banks: readonly Bank[]): GuestRange[] {
  const out: GuestRange[] = [];
  let left = memory;
  for (const b of banks) {
    if (left <= 0n) break;
    const n = b.capacity === undefined ? left : minBig(left, b.capacity);
    if (n > 0n) out.push(span(b.start, n, 'ram', b.name, b.what));
    left -= n;
  }
  return out;
}

function sorted(ranges: GuestRange[]): GuestRange[] {
  return ranges.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
}

interface RustVmmSpec {
  readonly id: string;
  readonly family: VmmFamily;
  readonly arch: GuestArch;
  readonly label: string;
  readonly options: readonly VmmOption[];
  readonly constants: readonly SourcedConstant[];
  readonly vfioSupport: string;
  readonly minMemory: bigint;
  readonly maxMemory?: { readonly bytes: bigint; readonly why: string };
  ranges(
    memory: bigint,
    o: Readonly<Record<string, string>>,
  ): GuestRange[] | { error: string; option?: string };
  notes(o: Readonly<Record<string, string>>): string[];
  knobs?(req: LayoutRequest, trouble: readonly Range[]): Knob[];
  commandLine(layout: GuestLayout): string;
  failure(m: FailedMapping, layout: GuestLayout): VmmFailure;
}

function makeModel(spec: RustVmmSpec): VmmModel {
  const model: VmmModel = {
    id: spec.id,
    family: spec.family,
    arch: spec.arch,
    label: spec.label,
    options: spec.options,
    constants: spec.constants,
    vfioSupport: spec.vfioSupport,
    supportsVfio: !spec.vfioSupport.startsWith('none'),
    memoryGranule: MiB,
    layout(req: LayoutRequest): LayoutResult {
      const r = resolveOptions(spec.options, req.options);
      if (!r.ok) return fail(r.reason, r.option);
      if (req.memory < spec.minMemory)
        return fail(`${spec.label} needs at least ${cliSize(spec.minMemory)} of RAM`);
      if (spec.maxMemory && req.memory > spec.maxMemory.bytes) return fail(spec.maxMemory.why);
      const ranges = spec.ranges(req.memory, r.values);
      if (!Array.isArray(ranges)) return fail(ranges.error, ranges.option);
      return checkedLayout({
        vmm: spec.id,
        family: spec.family,
        arch: spec.arch,
        memory: req.memory,
        options: r.values,
        ranges: sorted(ranges),
        notes: spec.notes(r.values),
      });
    },
    breakpoints: () => [],
    knobs: (req, trouble) => (spec.knobs ? spec.knobs(req, trouble) : []),
    commandLine: (layout) => spec.commandLine(layout),
    failure: (m, layout) => spec.failure(m, layout),
    // These VMMs print the failing ioctl's errno inside their own error chains; the step is what matters.
    refusal: (r) => [
      `${r.ioctl} for group ${r.group} (${r.device}) = ${-Math.abs(r.errno)} (${strerror(r.errno)})`,
    ],
  };
  return model;
}

// ---------------------------------------------------------------------------------------------
// cloud-hypervisor

const CH = 'cloud-hypervisor@ae44c297';
const CH_X86_RESERVED_32 = 0xc000_0000n;
const CH_X86_DEVICES_32 = 640n * MiB;
const CH_ARM_RAM_START = 0x4000_0000n;
const CH_ARM_RESERVED_32 = 0xfc00_0000n;
const CH_ARM_DEVICES_32 = { start: 0x1000_0000n, size: 0x2000_0000n };

/**
 * vmm/src/device_manager.rs maps every memory zone region with vfio_dma_map and turns a failure into
 * DeviceManagerError::VfioDmaMap(VfioError::IommuDmaMap(..)); the Debug form is what users report
 * (docs/vfio.md "Known issues").
 */
function chFailure(m: FailedMapping): VmmFailure {
  if (m.backend === 'iommufd' && m.range.kind !== 'pci-window') {
    return {
      lines: [`failed to map an IOVA range to the IOAS: ${m.strerror} (os error ${Math.abs(m.errno)})`],
      effect: 'fatal: the VFIO device is not created and the VM does not boot',
      source:
        'vfio-ioctls 0.6.0 VfioIommufd::vfio_dma_map (--platform iommufd=on, cloud-hypervisor v52): the innermost ' +
        'error of the chain cloud-hypervisor reports (read from the code, not from a report)',
    };
  }
  if (m.range.kind === 'pci-window') {
    return {
      lines: [`Failed to map VFIO MMIO region: ... (os error ${Math.abs(m.errno)})`],
      effect: 'warning only since PR #7030: peer-to-peer DMA to a BAR placed there fails',
      source: `${CH} vmm/src/device_manager.rs (VfioMapRegion), pull request #7030`,
    };
  }
  return {
    lines: [`Error booting VM: VmBoot(DeviceManager(VfioDmaMap(IommuDmaMap(Error(${Math.abs(m.errno)})))))`],
    effect: 'fatal: the VM does not boot; the message names no address (PR #8902 proposes to add it)',
    source: `${CH} vmm/src/device_manager.rs (DeviceManagerError::VfioDmaMap), docs/vfio.md`,
  };
}

/**
 * What cloud-hypervisor's virtio-iommu tells the guest is reserved (its PROBE answer holds only the MSI
 * range, VIRTIO_IOMMU_RESV_MEM_T_MSI; vmm/src/device_manager.rs get_msi_iova_space): on x86_64 the
 * APIC MSI window, on aarch64 the vGIC's MSI doorbell region (placed by vCPU count, not modelled).
 */
export function cloudHypervisorViommuReport(arch: GuestArch): { ranges?: readonly Range[]; text: string } {
  return arch === 'x86_64'
    ? {
        ranges: [{ start: 0xfee0_0000n, end: 0xfeef_ffffn }],
        text: 'the MSI window [0xfee00000, 0xfeefffff] (its PROBE answer, device_manager.rs get_msi_iova_space)',
      }
    : { text: "the vGIC's MSI doorbell region (its PROBE answer, device_manager.rs get_msi_iova_space)" };
}

export const CLOUD_HYPERVISOR_X86_64: VmmModel = makeModel({
  id: 'cloud-hypervisor-x86_64',
  family: 'cloud-hypervisor',
  arch: 'x86_64',
  label: 'cloud-hypervisor (x86_64)',
  options: [],
  constants: [
    { name: 'LOW_RAM_START', value: 0n, source: `${CH} arch/src/x86_64/layout.rs` },
    {
      name: 'MEM_32BIT_RESERVED_START',
      value: CH_X86_RESERVED_32,
      source: `${CH} arch/src/x86_64/layout.rs`,
    },
    { name: 'MEM_32BIT_DEVICES_SIZE', value: CH_X86_DEVICES_32, source: `${CH} arch/src/x86_64/layout.rs` },
    { name: 'PCI_MMCONFIG_START', value: 0xe800_0000n, source: `${CH} arch/src/x86_64/layout.rs` },
    { name: 'RAM_64BIT_START', value: FOUR_G, source: `${CH} arch/src/x86_64/layout.rs` },
  ],
  vfioSupport: 'maps every guest memory region when the first VFIO device is added (device_manager.rs)',
  minMemory: MiB,
  ranges: (memory) => [
    ...fillBanks(memory, [
      { start: 0n, capacity: CH_X86_RESERVED_32, name: 'ram', what: 'RAM below 3 GiB' },
      { start: FOUR_G, name: 'ram', what: 'RAM above 4 GiB' },
    ]),
    span(CH_X86_RESERVED_32, CH_X86_DEVICES_32, 'pci-window', 'mmio32', '32-bit PCI device window'),
  ],
  notes: () => [
    'cloud-hypervisor fills RAM from 0 to 3 GiB, then from 4 GiB up (arch/src/x86_64/mod.rs arch_memory_regions)',
    'cloud-hypervisor has no option that moves RAM; the AMD HyperTransport gap is the open PR #8902',
  ],
  commandLine: (l) => `--memory size=${cliSize(l.memory)}`,
  failure: (m) => chFailure(m),
});

export const CLOUD_HYPERVISOR_AARCH64: VmmModel = makeModel({
  id: 'cloud-hypervisor-aarch64',
  family: 'cloud-hypervisor',
  arch: 'aarch64',
  label: 'cloud-hypervisor (aarch64)',
  options: [],
  constants: [
    { name: 'RAM_START', value: CH_ARM_RAM_START, source: `${CH} arch/src/aarch64/layout.rs` },
    {
      name: 'MEM_32BIT_RESERVED_START',
      value: CH_ARM_RESERVED_32,
      source: `${CH} arch/src/aarch64/layout.rs`,
    },
    {
      name: 'MEM_32BIT_DEVICES_START',
      value: CH_ARM_DEVICES_32.start,
      source: `${CH} arch/src/aarch64/layout.rs`,
    },
    { name: 'PCI_MMCONFIG_START', value: 0x3000_0000n, source: `${CH} arch/src/aarch64/layout.rs` },
    { name: 'RAM_64BIT_START', value: FOUR_G, source: `${CH} arch/src/aarch64/layout.rs` },
    { name: 'GIC_V3_DIST_START', value: 0x08ff_0000n, source: `${CH} arch/src/aarch64/layout.rs` },
  ],
  vfioSupport: 'maps every guest memory region when the first VFIO device is added (device_manager.rs)',
  minMemory: MiB,
  ranges: (memory) => [
    ...fillBanks(memory, [
      {
        start: CH_ARM_RAM_START,
        capacity: CH_ARM_RESERVED_32 - CH_ARM_RAM_START,
        name: 'ram',
        what: 'RAM from 1 GiB to 4 GiB - 64 MiB',
      },
      { start: FOUR_G, name: 'ram', what: 'RAM above 4 GiB' },
    ]),
    span(CH_ARM_DEVICES_32.start, CH_ARM_DEVICES_32.size, 'pci-window', 'mmio32', '32-bit PCI device window'),
  ],
  notes: () => [
    'cloud-hypervisor fills RAM from 1 GiB to 0xfc000000, then from 4 GiB up (arch/src/aarch64/mod.rs arch_memory_regions)',
  ],
  commandLine: (l) => `--memory size=${cliSize(l.memory)}`,
  failure: (m) => chFailure(m),
});

// ---------------------------------------------------------------------------------------------
// Firecracker

const FC = 'firecracker@81b38b9d';
const FC_MMIO32_START = 0xc000_0000n;
const FC_MMIO64 = { start: 256n * GiB, size: 256n * GiB };
const FC_ARM_DRAM_START = 0x8000_0000n;
const FC_ARM_DRAM_MAX = 0x00ff_8000_0000n;
const FC_PCI_MMCONFIG_X86 = 0xeec0_0000n;

function fcFailure(m: FailedMapping): VmmFailure {
  return {
    lines: [],
    effect:
      `Firecracker has no VFIO passthrough in this version (pull request #6114 adds it); a passthrough of this ` +
      `${m.range.what} would get ${-Math.abs(m.errno)} (${m.strerror}) from VFIO_IOMMU_MAP_DMA`,
    source: `${FC} src/vmm/src/arch/*/mod.rs (no VFIO device yet)`,
  };
}

export const FIRECRACKER_X86_64: VmmModel = makeModel({
  id: 'firecracker-x86_64',
  family: 'firecracker',
  arch: 'x86_64',
  label: 'Firecracker (x86_64)',
  options: [],
  constants: [
    {
      name: 'MMIO32_MEM_START (4 GiB - 1 GiB)',
      value: FC_MMIO32_START,
      source: `${FC} src/vmm/src/arch/x86_64/layout.rs`,
    },
    {
      name: 'PCI_MMCONFIG_START',
      value: FC_PCI_MMCONFIG_X86,
      source: `${FC} src/vmm/src/arch/x86_64/layout.rs`,
    },
    { name: 'MMIO64_MEM_START', value: FC_MMIO64.start, source: `${FC} src/vmm/src/arch/x86_64/layout.rs` },
    { name: 'MMIO64_MEM_SIZE', value: FC_MMIO64.size, source: `${FC} src/vmm/src/arch/x86_64/layout.rs` },
    { name: 'FIRST_ADDR_PAST_32BITS', value: FOUR_G, source: `${FC} src/vmm/src/arch/x86_64/layout.rs` },
  ],
  vfioSupport: 'none yet (pull request #6114)',
  minMemory: MiB,
  ranges: (memory) => [
    ...fillBanks(memory, [
      { start: 0n, capacity: FC_MMIO32_START, name: 'ram', what: 'RAM below 3 GiB' },
      { start: FOUR_G, capacity: FC_MMIO64.start - FOUR_G, name: 'ram', what: 'RAM from 4 GiB to 256 GiB' },
      { start: FC_MMIO64.start + FC_MMIO64.size, name: 'ram', what: 'RAM above 512 GiB' },
    ]),
    span(
      FC_MMIO32_START,
      FC_PCI_MMCONFIG_X86 - FC_MMIO32_START,
      'pci-window',
      'mmio32',
      '32-bit MMIO window',
    ),
    span(FC_MMIO64.start, FC_MMIO64.size, 'pci-window', 'mmio64', '64-bit MMIO window'),
  ],
  notes: () => [
    'Firecracker lays RAM out as [0, 3 GiB) + [4 GiB, 256 GiB) + [512 GiB, ...) (arch/x86_64/mod.rs arch_memory_regions)',
  ],
  commandLine: (l) => `"machine-config": {"mem_size_mib": ${l.memory / MiB}}`,
  failure: (m) => fcFailure(m),
});

export const FIRECRACKER_AARCH64: VmmModel = makeModel({
  id: 'firecracker-aarch64',
  family: 'firecracker',
  arch: 'aarch64',
  label: 'Firecracker (aarch64)',
  options: [],
  constants: [
    { name: 'DRAM_MEM_START', value: FC_ARM_DRAM_START, source: `${FC} src/vmm/src/arch/aarch64/layout.rs` },
    { name: 'DRAM_MEM_MAX_SIZE', value: FC_ARM_DRAM_MAX, source: `${FC} src/vmm/src/arch/aarch64/layout.rs` },
    { name: 'MMIO32_MEM_START', value: GiB, source: `${FC} src/vmm/src/arch/aarch64/layout.rs` },
    { name: 'MMIO64_MEM_START', value: FC_MMIO64.start, source: `${FC} src/vmm/src/arch/aarch64/layout.rs` },
    { name: 'MMIO64_MEM_SIZE', value: FC_MMIO64.size, source: `${FC} src/vmm/src/arch/aarch64/layout.rs` },
  ],
  vfioSupport: 'none yet (pull request #6114)',
  minMemory: MiB,
  maxMemory: {
    bytes: FC_ARM_DRAM_MAX,
    why: 'Firecracker on aarch64 truncates guest memory to DRAM_MEM_MAX_SIZE (1022 GiB)',
  },
  ranges: (memory) => [
    ...fillBanks(memory, [
      {
        start: FC_ARM_DRAM_START,
        capacity: FC_MMIO64.start - FC_ARM_DRAM_START,
        name: 'ram',
        what: 'RAM from 2 GiB to 256 GiB',
      },
      { start: FC_MMIO64.start + FC_MMIO64.size, name: 'ram', what: 'RAM above 512 GiB' },
    ]),
    span(GiB, FC_ARM_DRAM_START - 256n * MiB - GiB, 'pci-window', 'mmio32', '32-bit MMIO window'),
    span(FC_MMIO64.start, FC_MMIO64.size, 'pci-window', 'mmio64', '64-bit MMIO window'),
  ],
  notes: () => ['Firecracker places RAM at 2 GiB, with a gap from 256 GiB to 512 GiB (arch/aarch64/mod.rs)'],
  commandLine: (l) => `"machine-config": {"mem_size_mib": ${l.memory / MiB}}`,
  failure: (m) => fcFailure(m),
});

// ---------------------------------------------------------------------------------------------
// crosvm

const CV = 'crosvm@f1e797a6';
const CV_MEM_32BIT_GAP = 768n * MiB;
const CV_RESERVED_MEM = 0x800_0000n;
const CV_PCIE_ECAM_SIZE = 0x400_0000n;
const CV_PCI_MEM_END = FOUR_G - CV_RESERVED_MEM - 1n;
const CV_PCIE_ECAM_START = CV_PCI_MEM_END - CV_PCIE_ECAM_SIZE + 1n;
const CV_ARM_PHYS_MEM_START = 0x8000_0000n;
const CV_ARM_PCI_MEM = { start: 0x200_0000n, size: 0x200_0000n };

function cvFailure(m: FailedMapping): VmmFailure {
  return {
    lines: [`failed to add guest memory map into iommu table: ${m.strerror} (os error ${Math.abs(m.errno)})`],
    effect: 'fatal: the VFIO device is not created and crosvm exits',
    source: `${CV} devices/src/vfio.rs (VfioError::IommuDmaMap, VfioContainer::get_group_with_vm)`,
  };
}

/** create_arch_memory_layout: PCI memory below 4 GiB starts at min(ECAM start, 4 GiB - 768 MiB). */
function crosvmPciStart(o: Readonly<Record<string, string>>): bigint {
  return sizeOpt(o, 'pci-mem-start') ?? minBig(CV_PCIE_ECAM_START, FOUR_G - CV_MEM_32BIT_GAP);
}

export const CROSVM_X86_64: VmmModel = makeModel({
  id: 'crosvm-x86_64',
  family: 'crosvm',
  arch: 'x86_64',
  label: 'crosvm (x86_64)',
  options: [
    {
      name: 'pci-mem-start',
      kind: 'size',
      help: 'start of PCI memory below 4 GiB (--pci mem=[start=...]); RAM below 4 GiB ends there',
    },
  ],
  constants: [
    { name: 'MEM_32BIT_GAP_SIZE', value: CV_MEM_32BIT_GAP, source: `${CV} x86_64/src/lib.rs` },
    { name: 'RESERVED_MEM_SIZE', value: CV_RESERVED_MEM, source: `${CV} x86_64/src/lib.rs` },
    { name: 'DEFAULT_PCI_MEM_END', value: CV_PCI_MEM_END, source: `${CV} x86_64/src/lib.rs` },
    { name: 'DEFAULT_PCIE_CFG_MMIO_START', value: CV_PCIE_ECAM_START, source: `${CV} x86_64/src/lib.rs` },
    { name: 'FIRST_ADDR_PAST_32BITS', value: FOUR_G, source: `${CV} x86_64/src/lib.rs` },
  ],
  vfioSupport: 'maps every guest memory region when the first group joins a container without a vIOMMU',
  minMemory: 2n * MiB,
  ranges: (memory, o) => {
    const pciStart = crosvmPciStart(o);
    if (pciStart <= 2n * MiB || pciStart > CV_PCI_MEM_END) {
      return {
        error: `pci-mem-start=${o['pci-mem-start']}: must be between 2 MiB and 4 GiB - 128 MiB`,
        option: 'pci-mem-start',
      };
    }
    // arch_memory_regions: [0, 640K) RAM, [640K, 1M) backed but reserved in e820, [1M, low) RAM, [4G, ...).
    const low = minBig(pciStart, memory);
    const out: GuestRange[] = [
      span(0n, 640n * KiB, 'ram', 'ram', 'RAM below 640 KiB'),
      span(640n * KiB, 384n * KiB, 'firmware', 'reserved', 'BIOS data area (backed, e820 reserved)'),
    ];
    if (low > MiB) out.push(span(MiB, low - MiB, 'ram', 'ram', 'RAM below 4 GiB'));
    if (memory > low) out.push(span(FOUR_G, memory - low, 'ram', 'ram', 'RAM above 4 GiB'));
    if (pciStart < CV_PCIE_ECAM_START) {
      out.push(
        span(pciStart, CV_PCIE_ECAM_START - pciStart, 'pci-window', 'pci-mem', 'PCI memory below 4 GiB'),
      );
    }
    return out;
  },
  notes: (o) => [
    `crosvm keeps RAM below 4 GiB under the PCI memory start ${cliHex(crosvmPciStart(o))} (x86_64/src/lib.rs create_arch_memory_layout)`,
  ],
  knobs: (_req, trouble) => {
    const values = new Set<string>();
    for (const t of trouble) {
      if (t.start >= FOUR_G || t.start < GiB / 4n) continue;
      for (const a of [GiB, 256n * MiB]) values.add(cliHex(roundDown(t.start, a)));
    }
    return values.size === 0
      ? []
      : [
          {
            option: 'pci-mem-start',
            values: [...values],
            why: 'end RAM below 4 GiB under the reserved region',
          },
        ];
  },
  commandLine: (l) => {
    const pci = l.options['pci-mem-start'];
    return `--mem ${l.memory / MiB}${pci !== undefined ? ` --pci mem=[start=${cliHex(sizeOpt(l.options, 'pci-mem-start')!)}]` : ''}`;
  },
  failure: (m) => cvFailure(m),
});

export const CROSVM_AARCH64: VmmModel = makeModel({
  id: 'crosvm-aarch64',
  family: 'crosvm',
  arch: 'aarch64',
  label: 'crosvm (aarch64)',
  options: [],
  constants: [
    { name: 'AARCH64_PHYS_MEM_START', value: CV_ARM_PHYS_MEM_START, source: `${CV} aarch64/src/lib.rs` },
    { name: 'AARCH64_GIC_ITS_BASE', value: 0x4000_0000n, source: `${CV} aarch64/src/lib.rs` },
    { name: 'AARCH64_PCI_MEM_BASE_DEFAULT', value: CV_ARM_PCI_MEM.start, source: `${CV} aarch64/src/lib.rs` },
    { name: 'AARCH64_PCI_CAM_BASE_DEFAULT', value: 0x1_0000n, source: `${CV} aarch64/src/lib.rs` },
  ],
  vfioSupport: 'maps every guest memory region when the first group joins a container without a vIOMMU',
  minMemory: MiB,
  ranges: (memory) => [
    span(CV_ARM_PHYS_MEM_START, memory, 'ram', 'ram', 'RAM'),
    span(CV_ARM_PCI_MEM.start, CV_ARM_PCI_MEM.size, 'pci-window', 'pci-mem', 'PCI memory window'),
  ],
  notes: () => ['crosvm places all RAM in one block at 2 GiB (aarch64/src/lib.rs AARCH64_PHYS_MEM_START)'],
  commandLine: (l) => `--mem ${l.memory / MiB}`,
  failure: (m) => cvFailure(m),
});

// ---------------------------------------------------------------------------------------------
// OpenVMM (aarch64)

const OPENVMM_MSI_RESERVED = { start: 0x0800_0000n, end: 0x080f_ffffn };

export const OPENVMM_AARCH64: VmmModel = makeModel({
  id: 'openvmm-aarch64',
  family: 'openvmm',
  arch: 'aarch64',
  label: 'OpenVMM (aarch64)',
  options: [
    {
      name: 'boot',
      kind: 'enum',
      choices: ['linux', 'uefi'],
      default: 'linux',
      help: 'Linux direct boot (--kernel) or UEFI; UEFI guests still get RAM at 0',
    },
    {
      name: 'release',
      kind: 'enum',
      choices: ['current', 'before-3559'],
      default: 'current',
      help: 'before-3559: releases before PR #3559, which put direct-boot RAM at 0 as well',
    },
    {
      name: 'msi-carveout',
      kind: 'enum',
      choices: ['off', 'on'],
      default: 'off',
      help: 'on: the PR #3465 variant that cuts 0x08000000-0x080fffff out of guest RAM',
    },
  ],
  constants: [
    {
      name: 'ram_start_address for aarch64 Linux direct boot',
      value: GiB,
      source: 'openvmm: pull request #3559',
    },
    {
      name: 'IOMMU_MSI_RESERVED start',
      value: OPENVMM_MSI_RESERVED.start,
      source: 'openvmm: pull request #3465',
    },
    {
      name: 'IOMMU_MSI_RESERVED end',
      value: OPENVMM_MSI_RESERVED.end,
      source: 'openvmm: pull request #3465',
    },
  ],
  vfioSupport: 'identity-maps guest RAM through iommufd (VFIO cdev, pull request #3465)',
  minMemory: MiB,
  ranges: (memory, o) => {
    const start = o['boot'] === 'linux' && o['release'] === 'current' ? GiB : 0n;
    const end = start + memory - 1n;
    const carve =
      o['msi-carveout'] === 'on' && start <= OPENVMM_MSI_RESERVED.end && end >= OPENVMM_MSI_RESERVED.start;
    if (!carve) return [span(start, memory, 'ram', 'ram', start === 0n ? 'RAM from 0' : 'RAM from 1 GiB')];
    const below = OPENVMM_MSI_RESERVED.start - start;
    const out: GuestRange[] = [];
    if (below > 0n) out.push(span(start, below, 'ram', 'ram', 'RAM below the MSI carve-out'));
    const rest = memory - below;
    if (rest > 0n) {
      out.push(span(OPENVMM_MSI_RESERVED.end + 1n, rest, 'ram', 'ram', 'RAM above the MSI carve-out'));
    }
    return out;
  },
  notes: (o) => [
    o['boot'] === 'linux' && o['release'] === 'current'
      ? 'OpenVMM starts aarch64 Linux direct-boot RAM at 1 GiB (pull request #3559)'
      : 'OpenVMM puts aarch64 RAM at address 0 (UEFI boots, and direct boot before pull request #3559)',
    "only the start of RAM is modelled; OpenVMM's allocator-placed MMIO windows are not",
  ],
  knobs: (req) => {
    const out: Knob[] = [];
    if (req.options['boot'] === 'uefi') {
      out.push({ option: 'boot', values: ['linux'], why: 'Linux direct boot starts RAM at 1 GiB' });
    }
    if (req.options['release'] === 'before-3559') {
      out.push({
        option: 'release',
        values: ['current'],
        why: 'pull request #3559 moves direct-boot RAM to 1 GiB',
      });
    }
    out.push({
      option: 'msi-carveout',
      values: ['on'],
      why: 'the PR #3465 variant leaves the MSI window unbacked',
    });
    return out;
  },
  commandLine: (l) =>
    `${l.options['boot'] === 'uefi' ? '--uefi' : '--kernel Image'} --memory ${cliSize(l.memory)}`,
  failure: (m) => ({
    lines: [
      `IOMMU_IOAS_MAP(iova=${cliHex(m.range.start)}, length=${cliHex(m.range.end - m.range.start + 1n)}) = ${-Math.abs(m.errno)} (${m.strerror})`,
    ],
    effect: 'fatal for the assigned device: identity-mapped DMA cannot be set up (pull request #3559)',
    source:
      'kernel: drivers/iommu/iommufd/io_pagetable.c iopt_check_iova (fixed IOVA inside a reserved range)',
  }),
});
