/**
 * Host snapshot files (docs/snapshot-format.md): one JSON file with what sysfs shows about a host's
 * IOMMU groups, reserved regions and PCI devices, plus kernel release and architecture, so a user can
 * send us their host and `inspect` / `check --snapshot FILE` can read it on another machine.
 * Reading validates every field; errors name the file, line and field.
 */
import { InputError } from '../base/errors.js';
import { hex } from '../base/u64.js';
import { parseReservedRegions } from '../iommu/resv-region.js';
import { parseLocated } from '../platform/source.js';
import { validate } from '../platform/validate.js';
import type { LineMap, Spec } from '../platform/validate.js';
import type { Arch } from '../platform/types.js';
import { PAGE_SIZES } from './page-size.js';
import { hostViewFromRaw, isDerivedNote } from './raw.js';
import type { RawDevice, RawHost } from './raw.js';
import type { HostDeviceView, HostView } from './view.js';

export const SNAPSHOT_FORMAT = 'iovamap-host-snapshot';
export const SNAPSHOT_VERSION = 1;

const DEVICE: Spec = {
  t: 'object',
  name: 'a PCI device',
  fields: {
    bdf: { spec: { t: 'bdf' }, required: true, doc: 'PCI address' },
    vendor: { spec: { t: 'int', min: 0, max: 0xffff }, required: true, doc: 'vendor ID' },
    device: { spec: { t: 'int', min: 0, max: 0xffff }, required: true, doc: 'device ID' },
    class: { spec: { t: 'int', min: 0, max: 0xffffff }, required: true, doc: 'class code' },
    driver: { spec: { t: 'string' }, default: 'none', doc: 'bound driver' },
    name: { spec: { t: 'string' }, doc: 'lspci name' },
    parent: { spec: { t: 'bdf' }, doc: 'upstream bridge' },
  },
};

const SNAPSHOT: Spec = {
  t: 'object',
  name: 'a host snapshot',
  fields: {
    format: { spec: { t: 'enum', values: [SNAPSHOT_FORMAT] }, required: true, doc: 'file kind' },
    version: { spec: { t: 'int', min: 1, max: 1000 }, required: true, doc: 'format version' },
    source: { spec: { t: 'string' }, required: true, doc: 'where it was captured' },
    capturedBy: { spec: { t: 'string' }, doc: 'iovamap version' },
    kernelRelease: { spec: { t: 'string' }, doc: 'uname -r' },
    arch: { spec: { t: 'enum', values: ['x86_64', 'aarch64'] }, doc: 'uname -m' },
    aperture: { spec: { t: 'range' }, doc: 'IOMMU aperture when known' },
    pageSize: { spec: { t: 'int', min: 4096, max: 65536 }, doc: 'getconf PAGESIZE' },
    iommufd: {
      spec: {
        t: 'object',
        name: 'the iommufd files',
        fields: {
          dev: { spec: { t: 'bool' }, required: true, doc: '/dev/iommu exists' },
          deviceFiles: { spec: { t: 'bool' }, required: true, doc: '/dev/vfio/devices exists' },
        },
      },
      doc: 'what the host offers the iommufd backend',
    },
    groups: {
      spec: {
        t: 'array',
        of: {
          t: 'object',
          name: 'an IOMMU group',
          fields: {
            id: { spec: { t: 'int', min: 0, max: 0x7fffffff }, required: true, doc: 'group number' },
            type: { spec: { t: 'string' }, doc: 'sysfs type' },
            reservedRegions: {
              spec: { t: 'array', of: { t: 'string' } },
              required: true,
              doc: 'reserved_regions lines',
            },
            devices: { spec: { t: 'array', of: DEVICE }, required: true, doc: 'members' },
            otherDevices: { spec: { t: 'array', of: { t: 'string' } }, doc: 'non-PCI members' },
          },
        },
      },
      required: true,
      doc: 'IOMMU groups',
    },
    pciDevices: { spec: { t: 'array', of: DEVICE }, default: [], doc: 'PCI functions without a group' },
    notes: { spec: { t: 'array', of: { t: 'string' } }, default: [], doc: 'notes' },
  },
};

interface SnapDevice {
  bdf: string;
  vendor: number;
  device: number;
  class: number;
  driver: string;
  name?: string;
  parent?: string;
}
interface SnapGroup {
  id: number;
  type?: string;
  reservedRegions: string[];
  devices: SnapDevice[];
  otherDevices?: string[];
}
interface Snap {
  format: string;
  version: number;
  source: string;
  capturedBy?: string;
  kernelRelease?: string;
  arch?: Arch;
  aperture?: { start: bigint; end: bigint };
  pageSize?: number;
  iommufd?: { dev: boolean; deviceFiles: boolean };
  groups: SnapGroup[];
  pciDevices: SnapDevice[];
  notes: string[];
}

const hx = (n: number, digits: number) => '0x' + n.toString(16).padStart(digits, '0');

function deviceJson(d: HostDeviceView): Record<string, string> {
  return {
    bdf: d.bdf,
    vendor: hx(d.vendor, 4),
    device: hx(d.device, 4),
    class: hx(d.class, 6),
    driver: d.driver,
    ...(d.name !== undefined ? { name: d.name } : {}),
    ...(d.parent !== undefined ? { parent: d.parent } : {}),
  };
}

/** The snapshot text of a host view (deterministic: no timestamps). */
export function snapshotText(view: HostView, capturedBy?: string): string {
  const hex16 = (v: bigint) => '0x' + v.toString(16).padStart(16, '0');
  const obj = {
    format: SNAPSHOT_FORMAT,
    version: SNAPSHOT_VERSION,
    source: view.source,
    ...(capturedBy !== undefined ? { capturedBy } : {}),
    ...(view.kernel !== undefined ? { kernelRelease: view.kernel } : {}),
    ...(view.arch !== undefined ? { arch: view.arch } : {}),
    ...(view.pageSize !== undefined ? { pageSize: view.pageSize } : {}),
    ...(view.iommufd !== undefined ? { iommufd: view.iommufd } : {}),
    ...(view.aperture !== undefined
      ? { aperture: { start: hex(view.aperture.start), end: hex(view.aperture.end) } }
      : {}),
    groups: view.groups.map((g) => ({
      id: g.id,
      type: g.type,
      reservedRegions: g.regions.map((r) => `${hex16(r.start)} ${hex16(r.end)} ${r.typeString}`),
      devices: g.devices.map(deviceJson),
      ...(g.otherDevices?.length ? { otherDevices: g.otherDevices } : {}),
    })),
    pciDevices: (view.ungrouped ?? []).map(deviceJson),
    notes: view.notes.filter((n) => !isDerivedNote(n)),
  };
  return JSON.stringify(obj, null, 2) + '\n';
}

/** Reads a snapshot file into the raw host data (validating every field). */
export function parseSnapshot(text: string, file: string): RawHost {
  const root = parseLocated(text, file);
  const lines: LineMap = new Map();
  if (root.kind !== 'map')
    throw new InputError('not a host snapshot (expected a JSON object)', { file, line: root.line });
  const fmt = root.entries.find((e) => e.key === 'format');
  if (!fmt || fmt.value.kind !== 'scalar' || fmt.value.value !== SNAPSHOT_FORMAT)
    throw new InputError(`not a host snapshot: "format" must be "${SNAPSHOT_FORMAT}"`, {
      file,
      line: fmt?.keyLine ?? root.line,
      field: 'format',
      hint: 'create one with "iovamap snapshot --out FILE" on the host',
    });
  const snap = validate(root, SNAPSHOT, '', { file, lines }) as Snap;
  if (snap.version !== SNAPSHOT_VERSION)
    throw new InputError(
      `snapshot version ${snap.version} is not understood (this iovamap reads version ${SNAPSHOT_VERSION})`,
      {
        file,
        line: lines.get('version'),
        field: 'version',
      },
    );
  if (snap.pageSize !== undefined && !PAGE_SIZES.includes(snap.pageSize))
    throw new InputError(`${snap.pageSize} is not a kernel page size (4096, 16384 or 65536)`, {
      file,
      line: lines.get('pageSize'),
      field: 'pageSize',
    });
  const seen = new Set<number>();
  const groups = snap.groups.map((g, i) => {
    if (seen.has(g.id))
      throw new InputError(`duplicate group ${g.id}`, {
        file,
        line: lines.get(`groups[${i}].id`),
        field: `groups[${i}].id`,
      });
    seen.add(g.id);
    g.reservedRegions.forEach((l, j) => {
      const field = `groups[${i}].reservedRegions[${j}]`;
      try {
        parseReservedRegions(l + '\n', file);
      } catch (e) {
        if (e instanceof InputError)
          throw new InputError(e.shortMessage, { file, line: lines.get(field), field, hint: e.hint });
        throw e;
      }
    });
    return {
      id: g.id,
      type: g.type,
      reservedRegions: g.reservedRegions.map((l) => l + '\n').join(''),
      reservedRegionsFile: `${file} groups[${i}].reservedRegions`,
      devices: g.devices.map(rawDevice),
      ...(g.otherDevices?.length ? { otherDevices: g.otherDevices } : {}),
    };
  });
  return {
    source: `snapshot:${file}`,
    groups,
    ungrouped: snap.pciDevices.map(rawDevice),
    notes: [
      `captured from ${snap.source}${snap.capturedBy !== undefined ? ` by ${snap.capturedBy}` : ''}`,
      ...snap.notes,
    ],
    ...(snap.arch !== undefined ? { arch: snap.arch } : {}),
    ...(snap.kernelRelease !== undefined ? { kernel: snap.kernelRelease } : {}),
    ...(snap.pageSize !== undefined ? { pageSize: snap.pageSize } : {}),
    ...(snap.iommufd !== undefined ? { iommufd: snap.iommufd } : {}),
    ...(snap.aperture !== undefined ? { aperture: snap.aperture } : {}),
  };
}

function rawDevice(d: SnapDevice): RawDevice {
  return { ...d };
}

/** Reads a snapshot file into a HostView. */
export function hostViewFromSnapshot(text: string, file: string): HostView {
  return hostViewFromRaw(parseSnapshot(text, file));
}
