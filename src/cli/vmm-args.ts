/**
 * What `iovamap check` and `iovamap plan` share: the VMM and host options, turning them into a model,
 * a layout request and a HostView, and the text helpers for layouts. Node-only (reads files).
 */
import { readFileSync } from 'node:fs';
import { InputError, NotFoundError } from '../base/errors.js';
import { formatSize, hex16 } from '../base/u64.js';
import type { HostView } from '../host/view.js';
import type { OptionSpec, ParsedArgs } from './args.js';
import { big, bool, int, list, str } from './args.js';
import { findVmm, machineVersion, VMM_NAMES } from '../vmm/registry.js';
import { hostDefaults } from '../vmm/host-defaults.js';
import { hostViewFromRegions } from '../vmm/regions-host.js';
import { type SelectedGroup, selectGroups } from '../vmm/check.js';
import type { GuestArch, GuestLayout, LayoutRequest, VmmModel } from '../vmm/types.js';

export const VMM_OPTIONS: readonly OptionSpec[] = [
  { name: 'vmm', type: 'string', metavar: 'NAME', help: `VMM: ${VMM_NAMES.join(', ')}` },
  {
    name: 'machine',
    type: 'string',
    metavar: 'M',
    help: 'QEMU machine: q35, pc, virt (pc-q35-7.0 sets the version)',
  },
  {
    name: 'arch',
    type: 'string',
    metavar: 'ARCH',
    help: "guest architecture (default: the host's)",
    choices: ['x86_64', 'aarch64'],
  },
  { name: 'memory', short: 'm', type: 'size', metavar: 'SIZE', help: 'guest RAM, e.g. 4G, 3054M' },
  {
    name: 'opt',
    short: 'o',
    type: 'list',
    metavar: 'KEY=VALUE',
    help: 'VMM option (repeatable); see "Options per VMM" below',
  },
];

export const HOST_OPTIONS: readonly OptionSpec[] = [
  { name: 'platform', type: 'string', metavar: 'NAME', help: 'a built-in platform model as the host' },
  {
    name: 'sysfs',
    type: 'string',
    metavar: 'DIR',
    help: 'a sysfs tree (a real /sys or an export) as the host',
  },
  { name: 'snapshot', type: 'string', metavar: 'FILE', help: 'a host snapshot file' },
  { name: 'kernel', type: 'string', metavar: 'VER', help: 'kernel profile for --platform (6.1, 6.12)' },
  {
    name: 'regions',
    type: 'list',
    metavar: 'FILE',
    help: 'a reserved_regions dump, one per group: FILE or GROUP=FILE (repeatable)',
  },
  {
    name: 'aperture-bits',
    type: 'int',
    metavar: 'N',
    help: 'with --regions: IOMMU input address width (default 48)',
  },
  {
    name: 'host-arch',
    type: 'string',
    metavar: 'ARCH',
    help: 'with --regions: the host architecture',
    choices: ['x86_64', 'aarch64'],
  },
  {
    name: 'group',
    type: 'list',
    metavar: 'N',
    help: 'IOMMU group to assign (repeatable; default all assignable)',
  },
  { name: 'device', type: 'list', metavar: 'BDF', help: 'device whose group is assigned (repeatable)' },
];

export function vmmOptionsHelp(): string {
  return [
    'Options per VMM (--opt KEY=VALUE):',
    ...['qemu-q35', 'qemu-virt', 'crosvm-x86_64', 'openvmm-aarch64'].map((id) => {
      const m = findVmm(id);
      if (!m.ok) return '';
      return `  ${m.model.id}: ${m.model.options.map((o) => o.name + (o.choices ? `=${o.choices.join('|')}` : '')).join(', ')}`;
    }),
    '  (qemu-pc takes the options of qemu-q35; the other VMMs have none that move RAM)',
  ].join('\n');
}

/** Reads the host from --platform/--sysfs/--snapshot (src/host/resolve.ts) or --regions files. */
export async function loadHost(a: ParsedArgs): Promise<HostView> {
  const regions = list(a, 'regions');
  const platform = str(a, 'platform');
  const sysfs = str(a, 'sysfs');
  const snapshot = str(a, 'snapshot');
  const given = [
    regions.length > 0,
    platform !== undefined,
    sysfs !== undefined,
    snapshot !== undefined,
  ].filter(Boolean).length;
  if (given > 1) throw new InputError('give one host source: --platform, --sysfs, --snapshot or --regions');
  if (regions.length > 0) {
    const devices = list(a, 'device');
    const files = regions.map((entry) => {
      // GROUP=FILE names the group the dump belongs to.
      const m = /^([0-9]+)=(.+)$/.exec(entry);
      const name = m ? m[2]! : entry;
      let text: string;
      try {
        text = readFileSync(name, 'utf8');
      } catch (e) {
        throw new InputError(`cannot read ${name}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, {
          field: '--regions',
        });
      }
      return { name, text, ...(m ? { group: Number(m[1]) } : {}) };
    });
    // With one dump, --device names its device (for the VMM's message).
    const withDevices = files.length === 1 && devices.length > 0 ? [{ ...files[0]!, devices }] : files;
    const bits = int(a, 'aperture-bits');
    if (bits !== undefined && (bits < 12 || bits > 64)) {
      throw new InputError(`--aperture-bits ${bits}: expected 12 to 64`);
    }
    const arch = str(a, 'host-arch') as GuestArch | undefined;
    return hostViewFromRegions(withDevices, {
      ...(bits !== undefined ? { apertureBits: bits } : {}),
      ...(arch !== undefined ? { arch } : {}),
    });
  }
  if (platform === undefined && sysfs === undefined && snapshot === undefined) {
    throw new InputError('no host given', {
      hint: 'pass --platform NAME, --sysfs DIR, --snapshot FILE or --regions FILE (a reserved_regions dump)',
    });
  }
  // src/host/resolve.ts belongs to the platform work; it is looked up at run time so this command
  // works with --regions before it is merged.
  const spec = '../host/resolve.js';
  let mod: { resolveHostView?: (o: Record<string, string | undefined>) => HostView | Promise<HostView> };
  try {
    mod = (await import(spec)) as typeof mod;
  } catch {
    throw new InputError('this build cannot read --platform/--sysfs/--snapshot hosts yet', {
      hint: 'use --regions FILE with the reserved_regions text of each group',
    });
  }
  if (typeof mod.resolveHostView !== 'function') {
    throw new InputError('this build cannot read --platform/--sysfs/--snapshot hosts yet');
  }
  return await mod.resolveHostView({ platform, sysfs, snapshot, kernel: str(a, 'kernel') });
}

export interface VmmRequest {
  readonly model: VmmModel;
  readonly request: LayoutRequest;
  readonly notes: readonly string[];
}

/** --vmm/--machine/--arch/--memory/--opt into a model and a layout request (host defaults filled in). */
export function vmmRequest(a: ParsedArgs, host: HostView): VmmRequest {
  const name = str(a, 'vmm');
  if (name === undefined)
    throw new InputError('--vmm is required', { hint: `choose one of: ${VMM_NAMES.join(', ')}` });
  const memory = big(a, 'memory');
  if (memory === undefined) throw new InputError('--memory is required', { hint: '--memory 4G' });
  if (memory === 0n) throw new InputError('--memory 0: a guest needs some RAM');
  const machine = str(a, 'machine');
  const arch = (str(a, 'arch') as GuestArch | undefined) ?? (machine === undefined ? host.arch : undefined);
  const found = findVmm(name, {
    ...(machine !== undefined ? { machine } : {}),
    ...(arch !== undefined ? { arch } : {}),
  });
  if (!found.ok) throw new NotFoundError(found.reason, found.hint !== undefined ? { hint: found.hint } : {});
  const model = found.model;
  const options: Record<string, string> = {};
  for (const kv of list(a, 'opt')) {
    const m = /^([a-z0-9-]+)=(.+)$/.exec(kv);
    if (!m)
      throw new InputError(`--opt ${JSON.stringify(kv)}: expected KEY=VALUE`, {
        hint: '--opt max-ram-below-4g=2G',
      });
    options[m[1]!] = m[2]!;
  }
  const v = machine !== undefined ? machineVersion(machine) : undefined;
  if (v !== undefined) {
    if (options['version'] !== undefined && options['version'] !== v) {
      throw new InputError(`--machine ${machine} and --opt version=${options['version']} disagree`);
    }
    options['version'] = v;
  }
  const d = hostDefaults(model, host, options);
  const request = { memory, options: { ...d.options, ...options } };
  const probe = model.layout(request);
  if (!probe.ok) {
    throw new InputError(`${model.label}, ${formatSize(memory)}: ${probe.reason}`, {
      ...(probe.option !== undefined ? { field: `--opt ${probe.option}` } : {}),
    });
  }
  return { model, request, notes: d.notes };
}

export function hostGroups(
  a: ParsedArgs,
  host: HostView,
): { groups: readonly SelectedGroup[]; notes: readonly string[] } {
  const groups: number[] = [];
  for (const g of list(a, 'group')) {
    if (!/^[0-9]+$/.test(g)) throw new InputError(`--group ${JSON.stringify(g)}: not a group number`);
    groups.push(Number(g));
  }
  const sel = selectGroups(host, { groups, devices: list(a, 'device'), p2p: bool(a, 'p2p') });
  if (!sel.ok) throw new NotFoundError(sel.reason, sel.hint !== undefined ? { hint: sel.hint } : {});
  return { groups: sel.groups, notes: sel.notes };
}

export function rangeText(start: bigint, end: bigint): string {
  return `${hex16(start)}-${hex16(end)} (${exactSize(end - start + 1n)})`;
}

/** `4 GiB`, `3054 MiB`, `640 KiB`: exact when the size is a whole number of a unit (as VMM sizes are). */
export function exactSize(b: bigint): string {
  for (const [shift, unit] of [
    [40n, 'TiB'],
    [30n, 'GiB'],
    [20n, 'MiB'],
    [10n, 'KiB'],
  ] as const) {
    if (b >= 1n << shift && b % (1n << shift) === 0n) return `${b >> shift} ${unit}`;
  }
  return formatSize(b);
}

export function layoutLines(layout: GuestLayout, p2p: boolean): string[] {
  return layout.ranges
    .filter((r) => p2p || r.kind !== 'pci-window')
    .map((r) => `  ${rangeText(r.start, r.end).padEnd(52)} ${r.what} [${r.name}]`);
}

export function optionsText(o: Readonly<Record<string, string>>): string {
  const e = Object.entries(o);
  return e.length ? e.map(([k, v]) => `${k}=${v}`).join(' ') : 'none';
}
