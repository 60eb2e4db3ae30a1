/**
 * The schema of a platform file (presets/*.yaml or a user's YAML/JSON): one entry per field of
 * PlatformDescription (./types.ts), with its type, default and one line of documentation.
 * docs/platform-format.md describes the same fields; a test checks that every field here is documented.
 */
import type { FieldDef, Spec } from './validate.js';

const ID: Spec = {
  t: 'string',
  pattern: /^[A-Za-z][A-Za-z0-9_.-]*$/,
  what: 'an id (letters, digits, _ . -)',
};
const u8: Spec = { t: 'int', min: 0, max: 0xff };
const u16: Spec = { t: 'int', min: 0, max: 0xffff };

const f = (spec: Spec, doc: string, extra: { required?: boolean; default?: unknown } = {}): FieldDef => ({
  spec,
  doc,
  ...extra,
});
const req = (spec: Spec, doc: string): FieldDef => f(spec, doc, { required: true });

export const VIRTIO_RESV_MEM: Spec = {
  t: 'object',
  name: 'a virtio-iommu RESV_MEM property',
  fields: {
    subtype: req(
      { t: 'enumOrInt', values: ['reserved', 'msi'], min: 0, max: 0xff },
      'VIRTIO_IOMMU_RESV_MEM_T_*: reserved (0), msi (1) or another number',
    ),
    start: req({ t: 'u64' }, 'first byte'),
    end: req({ t: 'u64' }, 'last byte (inclusive, as on the wire)'),
    endpoints: f(
      { t: 'array', of: { t: 'bdf' } },
      'endpoints the property is returned for (all when absent)',
    ),
  },
};

export const IOMMU: Spec = {
  t: 'object',
  name: 'an IOMMU',
  fields: {
    id: req(ID, 'name used to refer to this IOMMU (dmar0, smmu0, ...)'),
    driver: req(
      { t: 'enum', values: ['intel-iommu', 'amd-iommu', 'arm-smmu', 'arm-smmu-v3', 'virtio-iommu'] },
      'kernel driver',
    ),
    hostBridges: req({ t: 'array', of: ID }, 'ids of the host bridges whose devices it translates'),
    addressBits: req({ t: 'int', min: 32, max: 64 }, 'input address bits (Intel aw, SMMU ias, 64 for AMD)'),
    pgsizeBitmap: f({ t: 'u64' }, "page sizes the driver advertises (the driver's default when absent)"),
    interruptRemapping: f({ t: 'bool' }, 'Intel/AMD interrupt remapping enabled'),
    model: f({ t: 'enum', values: ['generic', 'hisilicon-hi161x'] }, 'SMMUv3 implementation quirk'),
    htRangeIgnore: f({ t: 'bool' }, 'AMD: HyperTransport range not reserved (HT-range-ignore feature)'),
    virtioProbeResvMem: f(
      { t: 'array', of: VIRTIO_RESV_MEM },
      'virtio-iommu: RESV_MEM properties from PROBE',
    ),
    virtioInputRange: f({ t: 'range' }, 'virtio-iommu: config input_range (domain aperture)'),
    coherent: f({ t: 'bool' }, 'DMA-coherent (cache coherency enforcement)'),
    pciFunction: f(
      { t: 'bdf' },
      'the IOMMU is itself this PCI function (AMD-Vi, virtio-iommu-pci): never grouped',
    ),
    cachingMode: f(
      { t: 'bool' },
      'virtual IOMMU with Intel caching mode / AMD NpCache: the driver forces strict mode',
    ),
    vtdRegisters: f(
      {
        t: 'object',
        name: 'VT-d registers',
        fields: {
          cap: req({ t: 'u64' }, 'CAP register'),
          ecap: req({ t: 'u64' }, 'ECAP register'),
        },
      },
      "Intel: the unit's CAP and ECAP as dmesg prints them (IOMMU_GET_HW_INFO; composed from QEMU's when absent)",
    ),
  },
};

export const INTERRUPT_CONTROLLER: Spec = {
  t: 'object',
  name: 'an interrupt controller',
  fields: {
    id: req(ID, 'name used by hostBridges[].msiParent'),
    kind: req(
      { t: 'enum', values: ['x86-apic', 'gicv2m', 'gicv3-its', 'host-bridge-msi'] },
      'kind of MSI target',
    ),
    base: req({ t: 'u64' }, 'physical base of the frame (ITS, v2m) or of the x86 window (0xfee00000)'),
    spiBase: f({ t: 'int', min: 32, max: 1019 }, 'GICv2m: first SPI of the frame'),
    spiCount: f({ t: 'int', min: 1, max: 988 }, 'GICv2m: number of SPIs'),
    isolationQuirk: f({ t: 'bool' }, 'GICv3 ITS: a quirk clears the MSI isolation flag'),
    remappedBy: f(ID, 'x86: id of the IOMMU whose interrupt remapping isolates MSIs'),
  },
};

export const PCI_WINDOW: Spec = {
  t: 'object',
  name: 'a host bridge window',
  fields: {
    kind: req({ t: 'enum', values: ['mem', 'mem64', 'io'] }, 'resource type'),
    cpu: req({ t: 'range' }, 'CPU physical range'),
    offset: f({ t: 'u64' }, 'CPU address minus bus address', { default: 0n }),
  },
};

export const HOST_BRIDGE: Spec = {
  t: 'object',
  name: 'a host bridge',
  fields: {
    id: req(ID, 'name used by iommus[].hostBridges'),
    segment: f(u16, 'PCI segment (domain)', { default: 0 }),
    buses: req({ t: 'pair', min: 0, max: 0xff }, '[first, last] bus numbers'),
    windows: f({ t: 'array', of: PCI_WINDOW }, 'MMIO and I/O windows', { default: [] }),
    dmaRanges: f({ t: 'array', of: { t: 'range' } }, 'bus addresses forwarded to memory (all when empty)', {
      default: [],
    }),
    msiParent: req(ID, 'id of the interrupt controller that receives its MSIs'),
    acs: f({ t: 'bool' }, 'root ports enforce ACS (isolation between ports)', { default: false }),
  },
};

export const PCI_DEVICE: Spec = {
  t: 'object',
  name: 'a PCI device',
  fields: {
    bdf: req({ t: 'bdf' }, 'PCI address ssss:bb:dd.f (bb:dd.f means segment 0000)'),
    vendor: req(u16, 'vendor ID'),
    device: req(u16, 'device ID'),
    class: req({ t: 'int', min: 0, max: 0xffffff }, '24-bit class code (0x020000 = Ethernet)'),
    subsystemVendor: f(u16, 'subsystem vendor ID'),
    subsystemDevice: f(u16, 'subsystem device ID'),
    driver: f({ t: 'string' }, 'kernel driver bound at boot (none when no driver binds)', {
      default: 'none',
    }),
    bootProbe: f(
      { t: 'string' },
      'a driver that probed it at boot without staying bound (enough to join a group)',
    ),
    pcie: f({ t: 'bool' }, 'PCI Express (false: conventional PCI)', { default: true }),
    bridge: f(
      {
        t: 'object',
        name: 'a bridge',
        fields: {
          secondary: req(u8, 'secondary bus'),
          subordinate: req(u8, 'subordinate bus'),
          pcieToPci: f({ t: 'bool' }, 'PCIe-to-PCI bridge (aliases the requester ID)'),
          linkUpAfterReset: f(
            { t: 'bool' },
            'the link below comes back after a secondary bus reset (false: the kernel fails the reset, ENOTTY)',
            { default: true },
          ),
        },
      },
      'PCI bridge or PCIe port: its bus range',
    ),
    acs: f({ t: 'bool' }, 'has an ACS capability that isolates it'),
    msi: f(
      {
        t: 'object',
        name: 'an MSI capability',
        fields: {
          vectors: req({ t: 'int', min: 1, max: 32 }, 'vectors the capability offers'),
          addr64: f({ t: 'bool' }, '64-bit address', { default: true }),
          perVectorMask: f({ t: 'bool' }, 'per-vector masking', { default: false }),
        },
      },
      'MSI capability',
    ),
    msix: f(
      {
        t: 'object',
        name: 'an MSI-X capability',
        fields: {
          tableSize: req({ t: 'int', min: 1, max: 2048 }, 'number of table entries'),
          tableBar: req({ t: 'int', min: 0, max: 5 }, 'BAR holding the table'),
          tableOffset: f({ t: 'int', min: 0, max: 0xffffffff }, 'offset of the table in that BAR', {
            default: 0,
          }),
        },
      },
      'MSI-X capability',
    ),
    bars: f(
      {
        t: 'array',
        of: {
          t: 'object',
          name: 'a BAR',
          fields: {
            index: req({ t: 'int', min: 0, max: 5 }, 'BAR number'),
            size: req({ t: 'size' }, 'size in bytes (4K, 128K, 0x20000)'),
            addr: f({ t: 'u64' }, 'assigned CPU address'),
          },
        },
      },
      "BARs (memory; an I/O BAR's addr is its port), written into the device's config space",
    ),
    interruptPin: f({ t: 'int', min: 0, max: 4 }, 'INTx pin (1 = INTA)'),
    interruptLine: f(
      { t: 'int', min: 0, max: 255 },
      'the Interrupt Line register the firmware wrote (x86: the legacy IRQ)',
    ),
    mac: f(
      {
        t: 'string',
        pattern: /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/,
        what: 'a MAC address like 52:54:00:12:34:56',
      },
      "a NIC's MAC address (QEMU's e1000e builds its Device Serial Number from it)",
    ),
    name: f({ t: 'string' }, 'human name (otherwise looked up in pci.ids)'),
  },
};

export const RMRR: Spec = {
  t: 'object',
  name: 'an RMRR',
  fields: {
    base: req({ t: 'u64' }, 'first byte'),
    end: req({ t: 'u64' }, 'last byte (inclusive, as in the DMAR table)'),
    devices: req({ t: 'array', of: { t: 'bdf' }, minItems: 1 }, 'device scope: endpoints or bridges'),
  },
};

export const IVMD: Spec = {
  t: 'object',
  name: 'an IVMD',
  fields: {
    kind: req({ t: 'enum', values: ['device', 'all', 'range'] }, 'IVMD type: one device, all, a devid range'),
    devidStart: f(u16, 'first device ID (bus << 8 | devfn)', { default: 0 }),
    devidEnd: f(u16, 'last device ID', { default: 0xffff }),
    start: req({ t: 'u64' }, 'start address'),
    length: req({ t: 'size' }, 'length in bytes'),
    flags: f(u8, 'IVMD flags: bit1 IR, bit2 IW, bit3 exclusion range', { default: 6 }),
  },
};

export const IORT_RMR: Spec = {
  t: 'object',
  name: 'an IORT RMR',
  fields: {
    base: req({ t: 'u64' }, 'first byte'),
    length: req({ t: 'size' }, 'length in bytes'),
    remapPermitted: f({ t: 'bool' }, 'remap permitted flag (direct-relaxable)', { default: false }),
    privileged: f({ t: 'bool' }, 'access privilege flag', { default: false }),
    attribute: f({ t: 'enum', values: ['device', 'normal'] }, 'memory access attribute', {
      default: 'normal',
    }),
    devices: req({ t: 'array', of: { t: 'bdf' }, minItems: 1 }, 'devices (stream IDs) it applies to'),
  },
};

export const FIRMWARE_TABLES: Spec = {
  t: 'object',
  name: 'firmware tables',
  fields: {
    rmrr: f({ t: 'array', of: RMRR }, 'Intel DMAR RMRR entries', { default: [] }),
    ivmd: f({ t: 'array', of: IVMD }, 'AMD IVRS IVMD entries', { default: [] }),
    iortRmr: f({ t: 'array', of: IORT_RMR }, 'ARM IORT RMR nodes', { default: [] }),
  },
};

export const PLATFORM: Spec = {
  t: 'object',
  name: 'a platform',
  fields: {
    name: req(
      { t: 'string', pattern: /^[a-z0-9][a-z0-9.-]*$/, what: 'a name (lower-case letters, digits, - .)' },
      'platform name',
    ),
    description: req({ t: 'string' }, 'one line for people'),
    arch: req({ t: 'enum', values: ['x86_64', 'aarch64'] }, 'CPU architecture'),
    pageSize: f({ t: 'int', min: 4096, max: 65536 }, 'CPU page size: 4096, 16384 or 65536', {
      default: 4096,
    }),
    sources: req({ t: 'array', of: { t: 'string' }, minItems: 1 }, 'where the facts come from'),
    firmware: req({ t: 'enum', values: ['acpi', 'devicetree'] }, 'how firmware describes the topology'),
    iommus: req({ t: 'array', of: IOMMU }, 'IOMMUs'),
    interruptControllers: req({ t: 'array', of: INTERRUPT_CONTROLLER }, 'MSI targets'),
    hostBridges: req({ t: 'array', of: HOST_BRIDGE, minItems: 1 }, 'PCI host bridges'),
    devices: req({ t: 'array', of: PCI_DEVICE }, 'PCI functions'),
    defaultDomain: f(
      { t: 'enum', values: ['translated', 'passthrough'] },
      'default domain: translated (DMA; iommu=nopt) or passthrough (identity; iommu=pt)',
    ),
    dmaStrict: f({ t: 'bool' }, 'iommu.strict: DMA (strict) or DMA-FQ (lazy); default by arch'),
    la57: f({ t: 'bool' }, 'x86_64: 5-level paging (LA57), user space up to 2^56; default false'),
    firmwareTables: f(FIRMWARE_TABLES, 'RMRR / IVMD / IORT RMR', {
      default: { rmrr: [], ivmd: [], iortRmr: [] },
    }),
  },
};

/** Every field path of the schema (`devices[].bdf`), for documentation checks. */
export function schemaFieldPaths(spec: Spec = PLATFORM, prefix = ''): string[] {
  if (spec.t === 'array') return schemaFieldPaths(spec.of, `${prefix}[]`);
  if (spec.t !== 'object') return [];
  const out: string[] = [];
  for (const [name, def] of Object.entries(spec.fields)) {
    const p = prefix ? `${prefix}.${name}` : name;
    out.push(p, ...schemaFieldPaths(def.spec, p));
  }
  return out;
}
