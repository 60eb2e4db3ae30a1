/**
 * QEMU guest memory maps: x86 `q35` and `pc` (i440fx) with their below-4G split rules, the AMD 1 TiB
 * relocation of machine types >= 7.1 and `max-ram-below-4g`; arm `virt` with RAM at 1 GiB.
 * QEMU's VFIO memory listener DMA-maps every RAM section (ROM included, read-only) with IOVA = guest
 * physical address and never compares it with the host's usable IOVA ranges first
 * (hw/vfio/listener.c vfio_container_region_add).
 */
import type { Range } from '../base/range.js';
import {
  cliHex,
  cliSize,
  compareVersions,
  fail,
  maxBig,
  minBig,
  resolveOptions,
  roundDown,
  roundUp,
  sizeOpt,
  span,
  strerror,
  checkedLayout,
  type OptionValues,
} from './common.js';
import type {
  FailedMapping,
  GuestLayout,
  GuestRange,
  Knob,
  LayoutRequest,
  LayoutResult,
  SourcedConstant,
  VmmFailure,
  VmmModel,
  VmmOption,
  RefusedGroup,
} from './types.js';
import { GiB, KiB, MiB } from './types.js';

const FOUR_G = 4n * GiB;

/** hw/i386/pc.c: the HyperTransport window AMD IOMMUs reserve just below 1 TiB. */
export const AMD_HT_START = 0xfd_0000_0000n;
export const AMD_HT_END = 0xff_ffff_ffffn;
export const AMD_ABOVE_1TB_START = AMD_HT_END + 1n;

const Q35_LOWMEM_THRESHOLD = 0xb000_0000n;
const Q35_LOWMEM_SMALL = 0xb000_0000n;
const Q35_LOWMEM_LARGE = 0x8000_0000n;
const PC_MAX_RAM_BELOW_4G_DEFAULT = 0xe000_0000n;
const PC_GIGABYTE_ALIGN_LOWMEM = 0xc000_0000n;
const Q35_HOLE64_DEFAULT = 1n << 35n;
const I440FX_HOLE64_DEFAULT = 1n << 31n;
const Q35_MMCONFIG_BASE = 0xb000_0000n;
const Q35_MMCONFIG_SIZE = 256n * MiB;
const IOAPIC_BASE = 0xfec0_0000n;
const BIOS_256K = 256n * KiB;
const VGA_START = 0xa_0000n;
const ROM_START = 0xc_0000n;
const ISA_BIOS_START = 0xe_0000n;
const ONE_MIB = 0x10_0000n;

const X86_CONSTANTS: readonly SourcedConstant[] = [
  {
    name: 'q35 lowmem when RAM < 0xb0000000',
    value: Q35_LOWMEM_SMALL,
    source: 'qemu: hw/i386/pc_q35.c pc_q35_init',
  },
  {
    name: 'q35 lowmem when RAM >= 0xb0000000',
    value: Q35_LOWMEM_LARGE,
    source: 'qemu: hw/i386/pc_q35.c pc_q35_init',
  },
  {
    name: 'q35 max-ram-below-4g default (4 GiB)',
    value: FOUR_G,
    source: 'qemu: hw/i386/pc_q35.c pc_q35_init',
  },
  {
    name: 'pc max-ram-below-4g default (3.5 GiB)',
    value: PC_MAX_RAM_BELOW_4G_DEFAULT,
    source: 'qemu: hw/i386/pc_piix.c pc_init1',
  },
  {
    name: 'pc gigabyte_align lowmem clamp (3 GiB)',
    value: PC_GIGABYTE_ALIGN_LOWMEM,
    source: 'qemu: hw/i386/pc_piix.c pc_init1',
  },
  {
    name: 'RAM above 4 GiB start',
    value: FOUR_G,
    source: 'qemu: hw/i386/pc.c pc_memory_init (above_4g_mem_start)',
  },
  { name: 'AMD_HT_START', value: AMD_HT_START, source: 'qemu: hw/i386/pc.c' },
  { name: 'AMD_HT_END', value: AMD_HT_END, source: 'qemu: hw/i386/pc.c' },
  { name: 'AMD_ABOVE_1TB_START', value: AMD_ABOVE_1TB_START, source: 'qemu: hw/i386/pc.c pc_memory_init' },
  {
    name: 'Q35_PCI_HOST_HOLE64_SIZE_DEFAULT',
    value: Q35_HOLE64_DEFAULT,
    source: 'qemu: hw/pci-host/q35.c',
  },
  {
    name: 'I440FX_PCI_HOST_HOLE64_SIZE_DEFAULT',
    value: I440FX_HOLE64_DEFAULT,
    source: 'qemu: hw/pci-host/i440fx.c',
  },
  {
    name: 'MCH_HOST_BRIDGE_PCIEXBAR_DEFAULT (MMCONFIG)',
    value: Q35_MMCONFIG_BASE,
    source: 'qemu: include/hw/pci-host/q35.h',
  },
  { name: 'IO_APIC_DEFAULT_ADDRESS', value: IOAPIC_BASE, source: 'qemu: include/hw/i386/apic.h' },
  { name: 'PC_ROM_MIN_VGA (pc.rom)', value: ROM_START, source: 'qemu: hw/i386/pc.c' },
  { name: 'bios-256k.bin size (pc.bios below 4 GiB)', value: BIOS_256K, source: 'qemu: hw/i386/pc_sysfw.c' },
];

const VERSION_OPT: VmmOption = {
  name: 'version',
  kind: 'version',
  help: 'machine type version (pc-q35-X.Y / pc-i440fx-X.Y / virt-X.Y); also picks the message wording',
  default: 'latest',
};

/** QEMU >= 8.2 names the function vfio_container_dma_map ("vfio/container: Switch to dma_map|unmap API"). */
function dmaMapName(version: string): string {
  return compareVersions(version, '8.2') >= 0 ? 'vfio_container_dma_map' : 'vfio_dma_map';
}

/**
 * The line vfio_dma_map itself printed before the listener's: "VFIO_MAP_DMA: -22" until QEMU 5.0
 * ("Report stringified errno in VFIO related errors", Feb 2020), "VFIO_MAP_DMA failed: <strerror>" until
 * 10.0 ("vfio: Remove reports of DMA mapping errors in backends", Jan 2025), nothing since.
 */
function mapDmaLine(version: string, m: FailedMapping): string | undefined {
  if (compareVersions(version, '5.0') < 0) return `VFIO_MAP_DMA: ${-Math.abs(m.errno)}`;
  if (compareVersions(version, '10.0') < 0) return `VFIO_MAP_DMA failed: ${m.strerror}`;
  return undefined;
}

/**
 * backends/iommufd.c iommufd_backend_map_dma: "IOMMU_IOAS_MAP failed: <strerror>" from the backend's first
 * release (9.0) until 10.0 removed it ("vfio: Remove reports of DMA mapping errors in backends"); only the
 * EFAULT warning ("..., PCI BAR?") stays, which a reserved range or RLIMIT_MEMLOCK never gives.
 */
function ioasMapLine(version: string, m: FailedMapping): string | undefined {
  return compareVersions(version, '10.0') < 0 ? `IOMMU_IOAS_MAP failed: ${m.strerror}` : undefined;
}

/**
 * hw/vfio/listener.c vfio_container_region_add: the first failing RAM section is stored with
 * "Region <name>: " in front and reported by vfio_get_group/vfio_connect_container when the device is
 * realized; the section's whole IOVA and size are printed, not only the overlapping part.
 */
export function qemuFailure(m: FailedMapping, layout: GuestLayout, binary: string): VmmFailure {
  const iommufd = m.backend === 'iommufd';
  const machine = layout.options['version'] ?? 'latest';
  // the release runs an older machine type too; the iommufd backend means 9.0 or later
  const version = iommufd && compareVersions(machine, '9.0') < 0 ? '9.0' : machine;
  const dev = m.device ?? '<bdf>';
  const prefix = `${binary}: -device vfio-pci,host=${dev}${iommufd ? ',iommufd=iommufd0' : ''}`;
  const size = m.range.end - m.range.start + 1n;
  const call = `${dmaMapName(version)}(0x..., ${cliHex(m.range.start)}, ${cliHex(size)}, 0x...) = ${-Math.abs(m.errno)} (${m.strerror})`;
  const first = iommufd ? ioasMapLine(version, m) : mapDmaLine(version, m);
  const group = m.group === undefined ? 'N' : String(m.group);
  if (m.range.kind === 'pci-window') {
    return {
      lines: [
        ...(first ? [`${prefix}: ${first}`] : []),
        `${binary}: warning: ${call}`,
        `${dev}: PCI peer-to-peer transactions on BARs are not supported.`,
      ],
      effect: 'warning only: the VM starts, but peer-to-peer DMA to a BAR placed there fails',
      source: 'qemu: hw/vfio/listener.c vfio_container_region_add (ram_device sections are not fatal)',
    };
  }
  // iommufd_cdev_attach: no group container, the listener's error goes straight behind "vfio <dev>: "
  const where = iommufd ? `vfio ${dev}` : `vfio ${dev}: failed to setup container for group ${group}`;
  return {
    lines: [
      ...(first ? [`${prefix}: ${first}`] : []),
      `${prefix}: ${where}: memory listener initialization failed: Region ${m.range.name}: ${call}`,
    ],
    effect: 'fatal: the device is not realized and QEMU exits before the guest starts',
    source: 'qemu: hw/vfio/listener.c vfio_container_region_add, hw/vfio/container*.c (group setup)',
  };
}

/**
 * vfio_set_iommu (hw/vfio/container*.c): "Failed to set group container" for VFIO_GROUP_SET_CONTAINER,
 * "Failed to set iommu for container" for VFIO_SET_IOMMU, behind vfio_get_group's
 * "failed to setup container for group N: ".
 */
export function qemuRefusal(r: RefusedGroup, binary: string): string[] {
  if (r.ioctl === 'VFIO_DEVICE_BIND_IOMMUFD') {
    // hw/vfio/iommufd.c iommufd_cdev_connect_and_bind: the file descriptors are not known here
    return [
      `${binary}: -device vfio-pci,host=${r.device},iommufd=iommufd0: vfio ${r.device}: error bind device ` +
        `fd=<fd> to iommufd=<fd>: ${strerror(r.errno)}`,
    ];
  }
  if (r.ioctl === 'VFIO_DEVICE_ATTACH_IOMMUFD_PT') {
    // hw/vfio/iommufd.c iommufd_cdev_attach_ioas_hwpt: descriptor and object ids are not known here
    return [
      `${binary}: -device vfio-pci,host=${r.device},iommufd=iommufd0: vfio ${r.device}: [iommufd=<fd>] error ` +
        `attach ${r.device} (<fd>) to id=<id>: ${strerror(r.errno)}`,
    ];
  }
  if (r.ioctl === 'open /dev/iommu') {
    // backends/iommufd.c iommufd_backend_connect (9.1 and later wording)
    return [
      `${binary}: -device vfio-pci,host=${r.device},iommufd=iommufd0: vfio ${r.device}: Could not open ` +
        `'/dev/iommu': No such file or directory`,
    ];
  }
  if (r.ioctl === 'open vfio-dev') {
    // hw/vfio/iommufd.c iommufd_cdev_getfd: a kernel without VFIO device files (before 6.6)
    const dir = `/sys/bus/pci/devices/${r.device}/vfio-dev`;
    return [
      `${binary}: -device vfio-pci,host=${r.device},iommufd=iommufd0: vfio ${r.device}: vfio ${dir}: ` +
        `couldn't open directory ${dir}: No such file or directory`,
    ];
  }
  const step =
    r.ioctl === 'VFIO_GROUP_SET_CONTAINER'
      ? 'Failed to set group container'
      : 'Failed to set iommu for container';
  return [
    `${binary}: -device vfio-pci,host=${r.device}: vfio ${r.device}: failed to setup container for group ${r.group}: ${step}: ${strerror(r.errno)}`,
  ];
}

/**
 * vfio_get_group (hw/vfio/container*.c): the group is already in a container of another address space,
 * as two devices of one group behind a vIOMMU are unless one conventional PCI bridge aliases them.
 */
export function qemuSplitGroup(device: string, group: number, binary: string): string[] {
  return [
    `${binary}: -device vfio-pci,host=${device}: vfio ${device}: group ${group} used in multiple address spaces`,
  ];
}

/**
 * A vIOMMU that refuses VFIO devices. SMMUv3 (smmuv3_notify_flag_changed, hw/arm/smmuv3.c): the legacy
 * container registers a MAP notifier on the device's IOMMU region, which QEMU's SMMUv3 does not support,
 * so the memory listener fails (the guest bus and devfn in the region name are not known here).
 * intel-iommu without caching-mode (hw/i386/intel_iommu.c): QEMU exits when the machine is done
 * (vtd_panic_require_caching_mode); from 10.2 the device's realize fails instead (vtd_dev_set_iommu_device).
 */
export function qemuNoMapNotifier(
  device: string,
  group: number,
  viommu: string,
  binary: string,
  layout: GuestLayout,
): string[] {
  if (viommu === 'intel-iommu') {
    return compareVersions(layout.options['version'] ?? 'latest', '10.2') >= 0
      ? [
          `${binary}: -device vfio-pci,host=${device}: vfio ${device}: Failed to set vIOMMU: Device assignment ` +
            'is not allowed without enabling caching-mode=on for Intel IOMMU.',
        ]
      : [
          `${binary}: We need to set caching-mode=on for intel-iommu to enable device assignment with IOMMU protection.`,
        ];
  }
  return [
    `${binary}: -device vfio-pci,host=${device}: vfio ${device}: failed to setup container for group ${group}: ` +
      `memory listener initialization failed: Region ${viommu}-iommu-memory-region-<bus>-<devfn>: device ` +
      '<bus>.<slot>.<fn> requires iommu MAP notifier which is not currently supported',
  ];
}

function qemuCommandLine(layout: GuestLayout, machine: string, versionPrefix: string): string {
  const o = layout.options;
  const version = o['version'] ?? 'latest';
  const parts: string[] = [version === 'latest' ? machine : `${versionPrefix}-${version}`];
  if (o['max-ram-below-4g'] !== undefined) parts.push(`max-ram-below-4g=${o['max-ram-below-4g']}`);
  if (o['highmem'] === 'off') parts.push('highmem=off');
  const cpu = o['phys-bits'] !== undefined ? ` -cpu host,phys-bits=${o['phys-bits']}` : '';
  // A bare number is MiB to -m; sizes that are not whole KiB need the B suffix (qemu_strtosz).
  const m = layout.memory % 1024n === 0n ? cliSize(layout.memory) : `${layout.memory}B`;
  return `-machine ${parts.join(',')} -m ${m}${cpu}`;
}

// ---------------------------------------------------------------------------------------------
// x86: q35 and pc

type X86Machine = 'q35' | 'pc';

const X86_OPTIONS: readonly VmmOption[] = [
  VERSION_OPT,
  {
    name: 'max-ram-below-4g',
    kind: 'size',
    help: 'machine property: upper limit for RAM below 4 GiB (at most 4G)',
  },
  {
    name: 'cpu-vendor',
    kind: 'enum',
    choices: ['amd', 'intel'],
    default: 'intel',
    help:
      'vendor of the guest vCPU: amd for -cpu host on an AMD host, EPYC models and the default qemu64; ' +
      'AMD vCPUs get the 1 TiB relocation',
  },
  { name: 'phys-bits', kind: 'int', help: 'guest phys-bits; QEMU refuses a map whose top is beyond it' },
  { name: 'pci-hole64-size', kind: 'size', help: 'pci-host property pci-hole64-size (q35 32G, pc 2G)' },
];

interface X86Split {
  below: bigint;
  above: bigint;
  lowmemLimit: bigint;
}

/** pc_q35_init / pc_init1: how much RAM goes below 4 GiB. */
function x86Split(machine: X86Machine, ram: bigint, o: OptionValues): X86Split {
  const mrb4g = sizeOpt(o, 'max-ram-below-4g');
  let lowmem: bigint;
  if (machine === 'q35') {
    lowmem = ram >= Q35_LOWMEM_THRESHOLD ? Q35_LOWMEM_LARGE : Q35_LOWMEM_SMALL;
    const limit = mrb4g ?? FOUR_G;
    if (lowmem > limit) lowmem = limit;
  } else {
    const limit = mrb4g ?? PC_MAX_RAM_BELOW_4G_DEFAULT;
    lowmem = limit;
    // pc-i440fx >= 1.8 sets gigabyte_align (pc_i440fx_1_7 clears it).
    const gigabyteAlign = compareVersions(o['version'] ?? 'latest', '1.8') >= 0;
    if (ram >= limit && gigabyteAlign && lowmem > PC_GIGABYTE_ALIGN_LOWMEM) lowmem = PC_GIGABYTE_ALIGN_LOWMEM;
  }
  const below = ram >= lowmem ? lowmem : ram;
  return { below, above: ram - below, lowmemLimit: lowmem };
}

function hole64Size(machine: X86Machine, o: OptionValues): bigint {
  return sizeOpt(o, 'pci-hole64-size') ?? (machine === 'q35' ? Q35_HOLE64_DEFAULT : I440FX_HOLE64_DEFAULT);
}

/** pc_pci_hole64_start (no memory hotplug, no CXL): after RAM above 4 GiB, 1 GiB aligned. */
function hole64Start(aboveStart: bigint, above: bigint): bigint {
  return roundUp(aboveStart + above, GiB);
}

/** pc_memory_init: does an AMD vCPU on this machine version get RAM above 4 GiB moved to 1 TiB? */
function amdRelocates(machine: X86Machine, ram: bigint, o: OptionValues): boolean {
  if (o['cpu-vendor'] !== 'amd') return false;
  if (compareVersions(o['version'] ?? 'latest', '7.1') < 0) return false; // enforce_amd_1tb_hole
  const { above } = x86Split(machine, ram, o);
  const maxUsed = hole64Start(FOUR_G, above) + hole64Size(machine, o) - 1n; // pc_max_used_gpa
  return maxUsed >= AMD_HT_START;
}

function x86Layout(model: VmmModel, machine: X86Machine, req: LayoutRequest): LayoutResult {
  const r = resolveOptions(model.options, req.options);
  if (!r.ok) return fail(r.reason, r.option);
  const o = r.values;
  const mrb4g = sizeOpt(o, 'max-ram-below-4g');
  if (mrb4g !== undefined && mrb4g > FOUR_G) {
    // pc_machine_set_max_ram_below_4g
    return fail(
      `max-ram-below-4g=${o['max-ram-below-4g']}: QEMU expects a size less than or equal to 4 GiB`,
      'max-ram-below-4g',
    );
  }
  if (req.memory < 2n * MiB) return fail('QEMU x86 machines need at least a few MiB of RAM');
  const ram = req.memory;
  const notes: string[] = [];
  const split = x86Split(machine, ram, o);
  if (machine === 'q35') {
    notes.push(
      ram >= Q35_LOWMEM_THRESHOLD
        ? `q35 with RAM >= 2.75 GiB puts at most 2 GiB below 4 GiB (pc_q35_init)`
        : `q35 with RAM < 2.75 GiB keeps up to 2.75 GiB below 4 GiB (pc_q35_init)`,
    );
  } else {
    notes.push(
      `pc (i440fx) puts up to ${cliSize(split.lowmemLimit)} below 4 GiB (pc_init1, max-ram-below-4g)`,
    );
  }
  if (mrb4g !== undefined) notes.push(`max-ram-below-4g=${o['max-ram-below-4g']} limits RAM below 4 GiB`);
  let aboveStart = FOUR_G;
  if (amdRelocates(machine, ram, o)) {
    aboveStart = AMD_ABOVE_1TB_START;
    notes.push(
      'RAM above 4 GiB starts at 1 TiB: an AMD vCPU on machine type >= 7.1 whose highest used address ' +
        '(RAM plus the 64-bit PCI hole) would reach the HyperTransport window 0xfd00000000 (pc_memory_init)',
    );
  } else if (o['cpu-vendor'] === 'amd' && compareVersions(o['version']!, '7.1') < 0) {
    notes.push('machine types before 7.1 never move RAM away from the AMD HyperTransport window');
  }
  const hole64 = hole64Start(aboveStart, split.above);
  const maxUsed = hole64 + hole64Size(machine, o) - 1n;
  if (o['phys-bits'] !== undefined) {
    const bits = BigInt(o['phys-bits']);
    const maxPhys = (1n << bits) - 1n;
    if (maxPhys < maxUsed) {
      return fail(
        `QEMU refuses to start: "Address space limit ${cliHex(maxPhys)} < ${cliHex(maxUsed)} phys-bits too low (${bits})"`,
        'phys-bits',
      );
    }
  }
  const ranges: GuestRange[] = [];
  ranges.push(span(0n, minBig(split.below, VGA_START), 'ram', 'pc.ram', 'RAM below 640 KiB'));
  ranges.push(
    span(ROM_START, ISA_BIOS_START - ROM_START, 'firmware', 'pc.rom', 'option ROM area (read-only)'),
  );
  ranges.push(
    // The isa-bios alias shows the last 128 KiB of the BIOS image; QEMU names the section by the aliased
    // region, pc.bios (memory_region_name of the flat view's target).
    span(
      ISA_BIOS_START,
      ONE_MIB - ISA_BIOS_START,
      'firmware',
      'pc.bios',
      'BIOS shadow below 1 MiB (isa-bios)',
    ),
  );
  if (split.below > ONE_MIB) {
    ranges.push(span(ONE_MIB, split.below - ONE_MIB, 'ram', 'pc.ram', 'RAM below 4 GiB'));
  }
  if (split.above > 0n) {
    ranges.push(
      span(
        aboveStart,
        split.above,
        'ram',
        'pc.ram',
        aboveStart === FOUR_G ? 'RAM above 4 GiB' : 'RAM above 4 GiB, relocated to 1 TiB',
      ),
    );
  }
  ranges.push(
    span(FOUR_G - BIOS_256K, BIOS_256K, 'firmware', 'pc.bios', 'BIOS flash below 4 GiB (bios-256k.bin)'),
  );
  // PCI windows where BARs land (DMA-mapped for peer-to-peer): the 32-bit hole runs from the end of low
  // RAM to the IOAPIC (q35_host_realize: "mmconfig will be excluded by the dsdt builder"), then pci-hole64.
  const holes: [bigint, bigint][] = [[split.below, IOAPIC_BASE - 1n]];
  if (machine === 'q35') {
    const mmcfgEnd = Q35_MMCONFIG_BASE + Q35_MMCONFIG_SIZE - 1n;
    const [hs, he] = holes.pop()!;
    if (hs < Q35_MMCONFIG_BASE) holes.push([hs, Q35_MMCONFIG_BASE - 1n]);
    holes.push([maxBig(hs, mmcfgEnd + 1n), he]);
  }
  for (const [hs, he] of holes) {
    if (hs <= he)
      ranges.push({ start: hs, end: he, kind: 'pci-window', name: 'pci', what: '32-bit PCI MMIO window' });
  }
  ranges.push(
    span(hole64, hole64Size(machine, o), 'pci-window', 'pci', '64-bit PCI MMIO window (pci-hole64)'),
  );
  ranges.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  return checkedLayout({
    vmm: model.id,
    family: 'qemu',
    arch: 'x86_64',
    memory: ram,
    options: o,
    ranges,
    notes,
  });
}

function x86Breakpoints(machine: X86Machine, req: LayoutRequest): bigint[] {
  const r = resolveOptions(X86_OPTIONS, req.options);
  if (!r.ok) return [];
  const o = r.values;
  const out: bigint[] = [];
  if (machine === 'q35') out.push(Q35_LOWMEM_THRESHOLD);
  const mrb4g =
    sizeOpt(o, 'max-ram-below-4g') ?? (machine === 'pc' ? PC_MAX_RAM_BELOW_4G_DEFAULT : undefined);
  if (mrb4g !== undefined) out.push(mrb4g);
  // Smallest size (in MiB) at which the AMD relocation switches on: monotonic in the RAM size.
  if (amdRelocates(machine, req.memory, o)) {
    let lo = 0n;
    let hi = req.memory / MiB;
    while (lo < hi) {
      const mid = (lo + hi) / 2n;
      if (amdRelocates(machine, mid * MiB, o)) hi = mid;
      else lo = mid + 1n;
    }
    out.push(lo * MiB);
  }
  return out;
}

function x86Knobs(machine: X86Machine, req: LayoutRequest, trouble: readonly Range[]): Knob[] {
  const knobs: Knob[] = [];
  const low = trouble.filter((t) => t.start < FOUR_G && t.start >= GiB / 4n);
  if (low.length > 0) {
    const values = new Set<string>();
    for (const t of low) {
      for (const align of [GiB, 256n * MiB, 2n * MiB]) {
        const v = roundDown(t.start, align);
        if (v >= 256n * MiB) values.add(cliSize(v));
      }
    }
    knobs.push({
      option: 'max-ram-below-4g',
      values: [...values],
      why: 'keep RAM below 4 GiB under the start of the reserved region, the rest moves above 4 GiB',
    });
  }
  const high = trouble.some((t) => t.end >= AMD_HT_START && t.start <= AMD_HT_END);
  if (high) {
    const version = req.options['version'] ?? 'latest';
    if (compareVersions(version, '7.1') < 0) {
      knobs.push({
        option: 'version',
        values: ['latest', '7.1'],
        why: `machine types >= 7.1 move RAM above 4 GiB to 1 TiB for AMD vCPUs (${machine})`,
      });
    }
    if (req.options['cpu-vendor'] !== 'amd') {
      knobs.push({
        option: 'cpu-vendor',
        values: ['amd'],
        why: 'the 1 TiB relocation only applies to AMD vCPUs (for example -cpu host on this AMD host)',
      });
    }
  }
  return knobs;
}

function makeX86(machine: X86Machine): VmmModel {
  const model: VmmModel = {
    id: `qemu-${machine}`,
    family: 'qemu',
    arch: 'x86_64',
    machine,
    label: machine === 'q35' ? 'QEMU q35 (x86_64)' : 'QEMU pc / i440fx (x86_64)',
    options: X86_OPTIONS,
    constants: X86_CONSTANTS,
    vfioSupport: 'maps all guest RAM and ROM at device realize (hw/vfio/listener.c)',
    supportsVfio: true,
    memoryGranule: MiB,
    layout: (req) => x86Layout(model, machine, req),
    breakpoints: (req) => x86Breakpoints(machine, req),
    knobs: (req, trouble) => x86Knobs(machine, req, trouble),
    commandLine: (layout) => qemuCommandLine(layout, machine, machine === 'q35' ? 'pc-q35' : 'pc-i440fx'),
    failure: (m, layout) => qemuFailure(m, layout, 'qemu-system-x86_64'),
    refusal: (r) => qemuRefusal(r, 'qemu-system-x86_64'),
    splitGroup: (d, g) => qemuSplitGroup(d, g, 'qemu-system-x86_64'),
    viommuRefusal: (d, g, v, layout) => qemuNoMapNotifier(d, g, v, 'qemu-system-x86_64', layout),
  };
  return model;
}

export const QEMU_Q35: VmmModel = makeX86('q35');
export const QEMU_PC: VmmModel = makeX86('pc');

// ---------------------------------------------------------------------------------------------
// arm: virt

const VIRT_MEM_BASE = GiB;
const VIRT_PCIE_MMIO = { start: 0x1000_0000n, size: 0x2eff_0000n };
const LEGACY_RAMLIMIT_BYTES = 255n * GiB;
const VIRT_HIGH_REDIST2_SIZE = 64n * MiB;
const VIRT_HIGH_ECAM_SIZE = 256n * MiB;
const VIRT_HIGH_MMIO_SIZE = 512n * GiB;

const VIRT_CONSTANTS: readonly SourcedConstant[] = [
  { name: 'VIRT_MEM base (RAM at 1 GiB)', value: VIRT_MEM_BASE, source: 'qemu: hw/arm/virt.c base_memmap' },
  { name: 'VIRT_FLASH', value: 0n, source: 'qemu: hw/arm/virt.c base_memmap' },
  { name: 'VIRT_GIC_DIST', value: 0x0800_0000n, source: 'qemu: hw/arm/virt.c base_memmap' },
  { name: 'VIRT_GIC_V2M', value: 0x0802_0000n, source: 'qemu: hw/arm/virt.c base_memmap' },
  { name: 'VIRT_GIC_ITS', value: 0x0808_0000n, source: 'qemu: hw/arm/virt.c base_memmap' },
  { name: 'VIRT_PCIE_MMIO', value: VIRT_PCIE_MMIO.start, source: 'qemu: hw/arm/virt.c base_memmap' },
  { name: 'VIRT_PCIE_ECAM', value: 0x3f00_0000n, source: 'qemu: hw/arm/virt.c base_memmap' },
  {
    name: 'LEGACY_RAMLIMIT_BYTES (high IO not below 256 GiB, machine types <= 10.0)',
    value: LEGACY_RAMLIMIT_BYTES,
    source: 'qemu: hw/arm/virt.c virt_set_memmap',
  },
  {
    name: 'VIRT_HIGH_PCIE_MMIO size',
    value: VIRT_HIGH_MMIO_SIZE,
    source: 'qemu: hw/arm/virt.c extended_memmap',
  },
];

const VIRT_OPTIONS: readonly VmmOption[] = [
  VERSION_OPT,
  {
    name: 'highmem',
    kind: 'enum',
    choices: ['on', 'off'],
    default: 'on',
    help: 'machine property: off limits the guest to 32-bit addresses (RAM up to 3 GiB)',
  },
];

function virtLayout(model: VmmModel, req: LayoutRequest): LayoutResult {
  const r = resolveOptions(model.options, req.options);
  if (!r.ok) return fail(r.reason, r.option);
  const o = r.values;
  const ram = req.memory;
  if (ram < MiB) return fail('QEMU virt needs some RAM');
  // virt_set_memmap: device memory and the high IO region start after RAM, 1 GiB aligned.
  const memtop = roundUp(VIRT_MEM_BASE + ram, GiB);
  if (o['highmem'] === 'off' && memtop > FOUR_G) {
    return fail(
      `QEMU refuses to start: "Addressing limited to 32 bits, but memory exceeds it by ${memtop - FOUR_G} bytes"`,
      'highmem',
    );
  }
  const ranges: GuestRange[] = [
    span(VIRT_PCIE_MMIO.start, VIRT_PCIE_MMIO.size, 'pci-window', 'pcie-mmio', '32-bit PCIe MMIO window'),
    span(VIRT_MEM_BASE, ram, 'ram', 'mach-virt.ram', 'RAM'),
  ];
  const notes = ['QEMU virt places all RAM in one block at 1 GiB (hw/arm/virt.c base_memmap VIRT_MEM)'];
  if (o['highmem'] !== 'off') {
    let base = memtop;
    if (compareVersions(o['version']!, '10.0') <= 0 && base < VIRT_MEM_BASE + LEGACY_RAMLIMIT_BYTES) {
      base = VIRT_MEM_BASE + LEGACY_RAMLIMIT_BYTES;
    }
    // virt_set_high_memmap: each region aligned to its size, in order REDIST2, ECAM, MMIO.
    base = roundUp(base, VIRT_HIGH_REDIST2_SIZE) + VIRT_HIGH_REDIST2_SIZE;
    base = roundUp(base, VIRT_HIGH_ECAM_SIZE) + VIRT_HIGH_ECAM_SIZE;
    const mmio = roundUp(base, VIRT_HIGH_MMIO_SIZE);
    ranges.push(span(mmio, VIRT_HIGH_MMIO_SIZE, 'pci-window', 'pcie-mmio-high', '64-bit PCIe MMIO window'));
  }
  return checkedLayout({
    vmm: model.id,
    family: 'qemu',
    arch: 'aarch64',
    memory: ram,
    options: o,
    ranges,
    notes,
  });
}

export const QEMU_VIRT: VmmModel = (() => {
  const model: VmmModel = {
    id: 'qemu-virt',
    family: 'qemu',
    arch: 'aarch64',
    machine: 'virt',
    label: 'QEMU virt (aarch64)',
    options: VIRT_OPTIONS,
    constants: VIRT_CONSTANTS,
    vfioSupport: 'maps all guest RAM at device realize (hw/vfio/listener.c)',
    supportsVfio: true,
    memoryGranule: MiB,
    layout: (req) => virtLayout(model, req),
    breakpoints: () => [],
    knobs: () => [],
    commandLine: (layout) => qemuCommandLine(layout, 'virt', 'virt'),
    failure: (m, layout) => qemuFailure(m, layout, 'qemu-system-aarch64'),
    refusal: (r) => qemuRefusal(r, 'qemu-system-aarch64'),
    splitGroup: (d, g) => qemuSplitGroup(d, g, 'qemu-system-aarch64'),
    viommuRefusal: (d, g, v, layout) => qemuNoMapNotifier(d, g, v, 'qemu-system-aarch64', layout),
  };
  return model;
})();
