/**
 * `iovamap inspect`: a host's IOMMU groups, their devices (named as lspci names them), reserved
 * regions with type and origin, the usable IOVA ranges VFIO will report, and whether assigning each
 * group is interrupt-safe and possible, and why. Human tables by default, `--json` documented in
 * docs/inspect-json.md.
 */
import { InputError } from '../base/errors.js';
import { formatSize, hex16 } from '../base/u64.js';
import { resvTypeName } from '../iommu/resv-region.js';
import { lspciClassName } from '../host/pci-ids.js';
import { busResetLines, busResetLookup } from '../host/reset-scope.js';
import { resolveHostView } from '../host/resolve.js';
import { systemPciIds } from '../host/sysfs-fs.js';
import type { HostDeviceView, HostView } from '../host/view.js';
import { loadPreset, presetNames } from '../platform/presets.js';
import { bool, defineCommand, int } from './args.js';
import { HOST_SOURCE_OPTIONS, hostSource } from './host-options.js';
import { rangeWithSize, styleFor, table, toJson } from './output.js';
import type { Style } from './output.js';

const hex4 = (n: number) => n.toString(16).padStart(4, '0');
const hexN = (n: number, d: number) => '0x' + n.toString(16).padStart(d, '0');

function deviceName(d: HostDeviceView): string {
  return d.name ?? `Device ${hex4(d.vendor)}:${hex4(d.device)}`;
}

/** The JSON document of docs/inspect-json.md. */
export function inspectJson(view: HostView): unknown {
  const { ids } = systemPciIds();
  const dev = (d: HostDeviceView) => ({
    bdf: d.bdf,
    vendor: hexN(d.vendor, 4),
    device: hexN(d.device, 4),
    class: hexN(d.class, 6),
    className: lspciClassName(ids, d.class),
    driver: d.driver,
    name: deviceName(d),
    parent: d.parent ?? null,
  });
  const scopeOf = busResetLookup(view);
  return {
    schema: 'iovamap-inspect/1',
    source: view.source,
    arch: view.arch ?? null,
    kernel: view.kernel ?? null,
    pageSize: view.pageSize ?? null,
    aperture: view.aperture ?? null,
    iommufd: view.iommufd ?? null,
    groups: view.groups.map((g) => ({
      id: g.id,
      type: g.type,
      devices: g.devices.map(dev),
      otherDevices: g.otherDevices ?? [],
      reservedRegions: g.regions.map((r) => ({
        start: r.start,
        end: r.end,
        size: r.end - r.start + 1n,
        sysfsType: r.typeString,
        type: r.type !== undefined ? resvTypeName(r.type) : null,
        origin: r.origin ?? null,
      })),
      usable: g.usable.map((u) => ({ start: u.start, end: u.end, size: u.end - u.start + 1n })),
      interruptSafety: g.interruptSafety ?? null,
      assignable: g.assignable ?? null,
      quirks: g.quirks ?? null,
      busResets: g.devices.map((d) => {
        const r = scopeOf(d.bdf);
        return {
          bdf: d.bdf,
          bridge: r?.bridge ?? null,
          devices: r?.devices.map((x) => ({ bdf: x.bdf, group: x.group ?? null })) ?? [],
          noBusReset: r?.forbiddenBy ?? null,
        };
      }),
    })),
    ungrouped: (view.ungrouped ?? []).map(dev),
    notes: view.notes,
  };
}

/**
 * Where a view came from, for people: `platform:NAME` reads "platform NAME", `sysfs:/sys` "sysfs /sys",
 * `snapshot:-` "snapshot from standard input".
 */
export function sourceText(source: string): string {
  const colon = source.indexOf(':');
  if (colon < 0) return source;
  const kind = source.slice(0, colon);
  const what = source.slice(colon + 1);
  return kind === 'snapshot' && what === '-' ? 'snapshot from standard input' : `${kind} ${what}`;
}

/** The human report. */
export function inspectText(view: HostView, s: Style): string {
  const { ids } = systemPciIds();
  const out: string[] = [];
  const scopeOf = busResetLookup(view);
  const facts = [
    view.arch,
    view.kernel !== undefined ? `kernel ${view.kernel}` : undefined,
    view.pageSize !== undefined ? `${view.pageSize / 1024} KiB pages` : undefined,
  ].filter((x) => x !== undefined);
  out.push(`${s.bold('Host:')} ${sourceText(view.source)}${facts.length ? ` (${facts.join(', ')})` : ''}`);
  if (view.aperture) out.push(`IOMMU aperture ${rangeWithSize(view.aperture.start, view.aperture.end)}`);
  if (view.iommufd) {
    const f = view.iommufd;
    out.push(
      f.dev && f.deviceFiles
        ? 'VFIO backends: the legacy container and iommufd (/dev/iommu and /dev/vfio/devices are there)'
        : `VFIO backends: the legacy container only (no ${f.dev ? '/dev/vfio/devices: CONFIG_VFIO_DEVICE_CDEV off' : '/dev/iommu: CONFIG_IOMMUFD off or the iommufd module not loaded'})`,
    );
  }
  out.push(`${view.groups.length} IOMMU group${view.groups.length === 1 ? '' : 's'}`);
  const noGroups =
    view.groups.length === 0 ? view.notes.find((n) => n.startsWith('no IOMMU groups')) : undefined;
  if (noGroups !== undefined) out.push(s.yellow(noGroups));
  for (const g of view.groups) {
    const irq = g.interruptSafety
      ? g.interruptSafety.safe
        ? s.green('interrupt-safe')
        : s.red('interrupts NOT isolated')
      : s.dim('interrupt isolation unknown');
    // VFIO_SET_IOMMU refuses a group without isolated MSIs (EPERM) unless allow_unsafe_interrupts is set
    const vfio = g.assignable
      ? !g.assignable.ok
        ? s.red('NOT assignable')
        : g.interruptSafety && !g.interruptSafety.safe
          ? s.yellow('assignable only with allow_unsafe_interrupts')
          : s.green('assignable')
      : '';
    out.push('', `${s.bold(`IOMMU group ${g.id}`)}  type ${g.type}  ${irq}${vfio ? `  ${vfio}` : ''}`);
    out.push(
      indent(
        table(
          ['DEVICE', 'ID', 'CLASS', 'DRIVER', 'NAME'],
          g.devices
            .map((d) => [
              d.bdf,
              `${hex4(d.vendor)}:${hex4(d.device)}`,
              lspciClassName(ids, d.class),
              d.driver,
              deviceName(d),
            ])
            .concat((g.otherDevices ?? []).map((n) => [n, '-', 'non-PCI device', '-', ''])),
        ),
      ),
    );
    if (g.regions.length === 0) out.push('  reserved regions: none');
    else
      out.push(
        indent(
          table(
            ['RESERVED START', 'END', 'SIZE', 'TYPE', 'ORIGIN'],
            g.regions.map((r) => [
              hex16(r.start),
              hex16(r.end),
              formatSize(r.end - r.start + 1n),
              r.type !== undefined ? resvTypeName(r.type) : r.typeString,
              r.origin ?? '',
            ]),
            'llrll',
          ),
        ),
      );
    out.push('  usable IOVA ranges (VFIO type1 IOVA_RANGE):');
    if (g.usable.length === 0) out.push('    none');
    for (const u of g.usable) out.push(`    ${rangeWithSize(u.start, u.end)}`);
    if (g.interruptSafety) out.push(`  interrupts: ${g.interruptSafety.why}`);
    if (g.assignable) out.push(`  VFIO: ${g.assignable.why}`);
    if (g.assignable?.ok) for (const l of busResetLines(scopeOf, g.devices)) out.push(`  bus reset: ${l}`);
    for (const q of g.quirks ?? []) out.push(`  grouping: ${q}`);
  }
  const ung = view.ungrouped ?? [];
  if (ung.length) {
    out.push('', s.bold('PCI functions without an IOMMU group'));
    out.push(
      indent(
        table(
          ['DEVICE', 'ID', 'CLASS', 'DRIVER', 'NAME'],
          ung.map((d) => [
            d.bdf,
            `${hex4(d.vendor)}:${hex4(d.device)}`,
            lspciClassName(ids, d.class),
            d.driver,
            deviceName(d),
          ]),
        ),
      ),
    );
  }
  const notes = view.notes.filter((n) => n !== noGroups);
  if (notes.length) {
    out.push('', s.bold('Notes'));
    for (const n of notes) out.push(`  - ${n}`);
  }
  return out.join('\n').replace(/\n+$/, '') + '\n';
}

function indent(t: string): string {
  return t
    .replace(/\n$/, '')
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}

function listPresets(json: boolean): string {
  const rows = presetNames().map((n) => {
    const d = loadPreset(n);
    return { name: n, arch: d.arch, description: d.description };
  });
  if (json) return toJson(rows);
  return table(
    ['PLATFORM', 'ARCH', 'DESCRIPTION'],
    rows.map((r) => [r.name, r.arch, r.description]),
  );
}

export const inspectCommand = defineCommand(
  {
    name: 'inspect',
    summary: "show a host's IOMMU groups, reserved regions, usable IOVA ranges and VFIO safety",
    description:
      'The host is a built-in or user platform (--platform, modelled for --kernel), a sysfs tree (--sysfs: /sys\n' +
      'or an export), or a snapshot (--snapshot). Without a source it reads /sys. Device names come from the\n' +
      "system's pci.ids when present. An `msi` region read from sysfs may be a hardware doorbell or the software\n" +
      'window; iovamap infers which and marks the origin "inferred". JSON: docs/inspect-json.md.',
    options: [
      ...HOST_SOURCE_OPTIONS,
      { name: 'group', type: 'int', short: 'g', metavar: 'N', help: 'show only IOMMU group N' },
      { name: 'list', type: 'boolean', help: 'list the built-in platforms and exit' },
      { name: 'json', type: 'boolean', help: 'print JSON (schema iovamap-inspect/1, docs/inspect-json.md)' },
    ],
    examples: [
      ['iovamap inspect', "this machine's IOMMU groups (reads /sys)"],
      [
        'iovamap inspect --platform qemu-virt-smmuv3-gicv3 --kernel 6.1',
        'the QEMU arm64 SMMUv3 + ITS machine under Linux 6.1',
      ],
      ['iovamap inspect --platform ./my-host.yaml --group 3', 'one group of a platform file'],
      ['iovamap inspect --sysfs ./exported --json', 'a copied or exported sysfs tree, as JSON'],
      ['iovamap inspect --snapshot host.json', 'a snapshot a user sent'],
      ['iovamap inspect --list', 'the built-in platforms'],
    ],
  },
  (a) => {
    const json = bool(a, 'json');
    if (bool(a, 'list')) {
      process.stdout.write(listPresets(json));
      return 0;
    }
    let view = resolveHostView(hostSource(a));
    const only = int(a, 'group');
    if (only !== undefined) {
      const g = view.groups.find((x) => x.id === only);
      if (!g)
        throw new InputError(`--group ${only}: no such IOMMU group`, {
          hint: `groups: ${view.groups.map((x) => x.id).join(', ') || '(none)'}`,
        });
      view = { ...view, groups: [g], ungrouped: [] };
    }
    process.stdout.write(json ? toJson(inspectJson(view)) : inspectText(view, styleFor(process.stdout)));
    return 0;
  },
);
