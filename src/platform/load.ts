/**
 * Loading a platform description from YAML or JSON text: structure and types from ./schema.ts, then
 * the cross-references a schema cannot express (ids that must exist, BDFs inside a host bridge, firmware
 * table scopes naming real devices, drivers that fit the architecture). Every problem is an InputError
 * naming file, line and field, e.g. `presets/x.yaml:14: devices[2].bdf: "00:1g.0" is not a BDF`.
 */
import { InputError } from '../base/errors.js';
import { hex } from '../base/u64.js';
import { PLATFORM } from './schema.js';
import { parseLocated } from './source.js';
import type { Arch, IommuDriverName, InterruptControllerKind, PlatformDescription } from './types.js';
import { validate } from './validate.js';
import type { LineMap } from './validate.js';

/** Parses and validates a platform file's text. `file` is used in messages only. */
export function loadPlatformText(text: string, file: string): PlatformDescription {
  const root = parseLocated(text, file);
  const lines: LineMap = new Map();
  const desc = validate(root, PLATFORM, '', { file, lines }) as PlatformDescription;
  crossCheck(desc, file, lines);
  return desc;
}

const DRIVER_ARCH: Record<IommuDriverName, readonly Arch[]> = {
  'intel-iommu': ['x86_64'],
  'amd-iommu': ['x86_64'],
  'arm-smmu': ['aarch64'],
  'arm-smmu-v3': ['aarch64'],
  'virtio-iommu': ['x86_64', 'aarch64'],
};

const IC_ARCH: Record<InterruptControllerKind, readonly Arch[]> = {
  'x86-apic': ['x86_64'],
  gicv2m: ['aarch64'],
  'gicv3-its': ['aarch64'],
  'host-bridge-msi': ['x86_64', 'aarch64'],
};

function crossCheck(d: PlatformDescription, file: string, lines: LineMap): void {
  const fail = (field: string, msg: string, hint?: string): never => {
    let p = field;
    let line = lines.get(p);
    // A defaulted field has no line of its own: use its closest written parent's.
    while (line === undefined && p !== '') {
      const up = p.replace(/(\.[^.[\]]+|\[\d+\])$/, '');
      if (up === p) break;
      p = up;
      line = lines.get(p);
    }
    throw new InputError(msg, { file, line, field, hint });
  };

  if (![4096, 16384, 65536].includes(d.pageSize))
    fail('pageSize', `${d.pageSize} is not 4096, 16384 or 65536`);

  const unique = (ids: readonly string[], what: string, path: (i: number) => string) => {
    const seen = new Map<string, number>();
    ids.forEach((id, i) => {
      const prev = seen.get(id);
      if (prev !== undefined) fail(path(i), `duplicate ${what} "${id}" (also ${path(prev)})`);
      seen.set(id, i);
    });
  };
  unique(
    d.iommus.map((x) => x.id),
    'IOMMU id',
    (i) => `iommus[${i}].id`,
  );
  unique(
    d.interruptControllers.map((x) => x.id),
    'interrupt controller id',
    (i) => `interruptControllers[${i}].id`,
  );
  unique(
    d.hostBridges.map((x) => x.id),
    'host bridge id',
    (i) => `hostBridges[${i}].id`,
  );
  unique(
    d.devices.map((x) => x.bdf),
    'device',
    (i) => `devices[${i}].bdf`,
  );

  const bridgeIds = d.hostBridges.map((b) => b.id);
  const icIds = d.interruptControllers.map((c) => c.id);
  const iommuIds = d.iommus.map((m) => m.id);
  const bdfs = new Set(d.devices.map((x) => x.bdf));
  const coveredBy = new Map<string, string>();

  d.iommus.forEach((m, i) => {
    if (!DRIVER_ARCH[m.driver].includes(d.arch))
      fail(`iommus[${i}].driver`, `${m.driver} does not exist on ${d.arch}`);
    m.hostBridges.forEach((hb, j) => {
      if (!bridgeIds.includes(hb))
        fail(
          `iommus[${i}].hostBridges[${j}]`,
          `no host bridge "${hb}"`,
          `host bridges: ${bridgeIds.join(', ')}`,
        );
      const other = coveredBy.get(hb);
      if (other !== undefined)
        fail(
          `iommus[${i}].hostBridges[${j}]`,
          `host bridge "${hb}" is already translated by IOMMU "${other}"`,
        );
      coveredBy.set(hb, m.id);
    });
    m.virtioProbeResvMem?.forEach((r, j) => {
      if (m.driver !== 'virtio-iommu')
        fail(`iommus[${i}].virtioProbeResvMem`, 'only a virtio-iommu answers PROBE with RESV_MEM properties');
      if (r.end < r.start)
        fail(
          `iommus[${i}].virtioProbeResvMem[${j}].end`,
          `impossible range: end ${hex(r.end)} is below start ${hex(r.start)}`,
        );
      r.endpoints?.forEach((e, k) => {
        if (!bdfs.has(e)) fail(`iommus[${i}].virtioProbeResvMem[${j}].endpoints[${k}]`, `no device ${e}`);
      });
    });
    if (m.pciFunction !== undefined && !bdfs.has(m.pciFunction))
      fail(`iommus[${i}].pciFunction`, `no device ${m.pciFunction} in devices`);
    if (m.virtioInputRange && m.driver !== 'virtio-iommu')
      fail(`iommus[${i}].virtioInputRange`, 'only a virtio-iommu has an input_range');
    if (m.htRangeIgnore !== undefined && m.driver !== 'amd-iommu')
      fail(`iommus[${i}].htRangeIgnore`, 'only amd-iommu has the HT-range-ignore feature');
    if (m.model !== undefined && m.model !== 'generic' && m.driver !== 'arm-smmu-v3')
      fail(`iommus[${i}].model`, `${m.model} is an SMMUv3 model`);
  });

  d.interruptControllers.forEach((c, i) => {
    if (!IC_ARCH[c.kind].includes(d.arch))
      fail(`interruptControllers[${i}].kind`, `${c.kind} does not exist on ${d.arch}`);
    if (c.remappedBy !== undefined) {
      if (c.kind !== 'x86-apic')
        fail(`interruptControllers[${i}].remappedBy`, 'only the x86 APIC window is remapped by an IOMMU');
      const m = d.iommus.find((x) => x.id === c.remappedBy);
      if (!m)
        fail(
          `interruptControllers[${i}].remappedBy`,
          `no IOMMU "${c.remappedBy}"`,
          `IOMMUs: ${iommuIds.join(', ') || '(none)'}`,
        );
      else if (m.driver !== 'intel-iommu' && m.driver !== 'amd-iommu')
        fail(`interruptControllers[${i}].remappedBy`, `${m.driver} does not remap interrupts`);
    }
    if ((c.spiBase !== undefined || c.spiCount !== undefined) && c.kind !== 'gicv2m')
      fail(`interruptControllers[${i}].spiBase`, 'only a GICv2m frame has an SPI range');
    if (c.kind === 'gicv2m' && (c.spiBase === undefined || c.spiCount === undefined))
      fail(`interruptControllers[${i}]`, 'a GICv2m frame needs spiBase and spiCount (MSI_TYPER)');
  });

  d.hostBridges.forEach((b, i) => {
    if (!icIds.includes(b.msiParent))
      fail(
        `hostBridges[${i}].msiParent`,
        `no interrupt controller "${b.msiParent}"`,
        `interrupt controllers: ${icIds.join(', ') || '(none)'}`,
      );
  });
  for (let i = 0; i < d.hostBridges.length; i++) {
    for (let j = 0; j < i; j++) {
      const a = d.hostBridges[i]!;
      const b = d.hostBridges[j]!;
      if (a.segment === b.segment && a.buses[0] <= b.buses[1] && b.buses[0] <= a.buses[1])
        fail(`hostBridges[${i}].buses`, `buses overlap host bridge "${b.id}" on segment ${a.segment}`);
    }
  }

  d.devices.forEach((dev, i) => {
    const [segText, busText] = dev.bdf.split(':');
    const seg = parseInt(segText!, 16);
    const bus = parseInt(busText!, 16);
    if (!d.hostBridges.some((b) => b.segment === seg && bus >= b.buses[0] && bus <= b.buses[1]))
      fail(
        `devices[${i}].bdf`,
        `${dev.bdf} is not below any host bridge`,
        'add a host bridge with this segment and bus range',
      );
    if (dev.bridge && dev.bridge.subordinate < dev.bridge.secondary)
      fail(
        `devices[${i}].bridge.subordinate`,
        `subordinate bus ${dev.bridge.subordinate} is below secondary ${dev.bridge.secondary}`,
      );
    if (dev.bridge && dev.bridge.secondary <= bus)
      fail(`devices[${i}].bridge.secondary`, `secondary bus ${dev.bridge.secondary} is not below bus ${bus}`);
  });

  const scope = (table: string, list: readonly { devices: readonly string[] }[]) =>
    list.forEach((e, i) =>
      e.devices.forEach((b, j) => {
        if (!bdfs.has(b)) fail(`firmwareTables.${table}[${i}].devices[${j}]`, `no device ${b} in devices`);
      }),
    );
  scope('rmrr', d.firmwareTables.rmrr);
  scope('iortRmr', d.firmwareTables.iortRmr);
  d.firmwareTables.rmrr.forEach((r, i) => {
    if (r.end < r.base)
      fail(
        `firmwareTables.rmrr[${i}].end`,
        `impossible range: end ${hex(r.end)} is below base ${hex(r.base)}`,
      );
  });
  if (d.firmwareTables.rmrr.length > 0 && !d.iommus.some((m) => m.driver === 'intel-iommu'))
    fail('firmwareTables.rmrr', 'RMRRs belong to an Intel DMAR table but there is no intel-iommu');
  if (d.firmwareTables.ivmd.length > 0 && !d.iommus.some((m) => m.driver === 'amd-iommu'))
    fail('firmwareTables.ivmd', 'IVMDs belong to an AMD IVRS table but there is no amd-iommu');
  d.firmwareTables.ivmd.forEach((v, i) => {
    if (v.devidEnd < v.devidStart) fail(`firmwareTables.ivmd[${i}].devidEnd`, 'devidEnd is below devidStart');
    if (v.length === 0n) fail(`firmwareTables.ivmd[${i}].length`, 'length is 0');
  });
  if (d.firmwareTables.iortRmr.length > 0 && d.firmware !== 'acpi')
    fail('firmwareTables.iortRmr', 'IORT RMR nodes need ACPI firmware');
}
