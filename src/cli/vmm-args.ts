/**
 * What `iovamap check` and `iovamap plan` share: the VMM and host options, turning them into a model,
 * a layout request and a HostView, and the text helpers for layouts. Node-only (reads files).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { parseProcMemlock, parseProcPinned } from '../host/proc-memlock.js';
import { InputError, NotFoundError } from '../base/errors.js';
import { formatSize, isFractionalSize, parseSize } from '../base/u64.js';
import { parseMemlockLimit, type MemlockLimit } from '../vmm/memlock.js';
import { parseQemuCommandLine } from '../vmm/qemu-cmdline.js';
import { parseVmmCommandLine } from '../vmm/vmm-cmdline.js';
import { parseLibvirtDomain } from '../vmm/libvirt-xml.js';
import { rangeText } from '../vmm/explain.js';
import type { HostView } from '../host/view.js';
import { resolveHostView } from '../host/resolve.js';
import { HOST_SOURCE_OPTIONS, hostSource } from './host-options.js';
import type { OptionSpec, ParsedArgs } from './args.js';
import { big, bool, int, list, str } from './args.js';
import { readFailure } from './output.js';
import { findVmm, machineVersion, VMM_NAMES } from '../vmm/registry.js';
import { hostDefaults } from '../vmm/host-defaults.js';
import { cloudHypervisorViommuReport } from '../vmm/rust-vmms.js';
import { hostViewFromRegions } from '../vmm/regions-host.js';
import { type CheckOptions, type SelectedGroup, selectGroups } from '../vmm/check.js';
import type {
  GuestArch,
  GuestDescription,
  GuestLayout,
  IommufdAccounting,
  LayoutRequest,
  RefusingViommu,
  VfioBackend,
  VmmModel,
} from '../vmm/types.js';

export const VMM_OPTIONS: readonly OptionSpec[] = [
  { name: 'vmm', type: 'string', metavar: 'NAME', help: `VMM: ${VMM_NAMES.join(', ')}` },
  {
    name: 'cmdline',
    type: 'string',
    metavar: 'FILE',
    help: 'instead of --vmm/--machine/--memory/--device: the command line of a QEMU, cloud-hypervisor or crosvm (a script, a libvirt log, - for standard input, or pid:N of a running VMM, with its RLIMIT_MEMLOCK); options given as well win',
  },
  {
    name: 'qemu-cmdline',
    type: 'string',
    metavar: 'FILE',
    help: 'instead of --vmm/--machine/--memory/--device: a QEMU command line, from a script, a libvirt log (/var/log/libvirt/qemu/NAME.log), - (standard input) or pid:N (a running QEMU, with its RLIMIT_MEMLOCK); options given as well win',
  },
  {
    name: 'libvirt-xml',
    type: 'string',
    metavar: 'FILE',
    help: 'instead of --vmm/--machine/--memory/--device: a libvirt domain (virsh dumpxml NAME, or - for standard input), with the RLIMIT_MEMLOCK libvirt gives QEMU; options given as well win',
  },
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
  { name: 'memory', short: 'm', type: 'size', metavar: 'SIZE', help: 'guest RAM, e.g. 4G, 3054M, 1022.75G' },
  {
    name: 'opt',
    short: 'o',
    type: 'list',
    metavar: 'KEY=VALUE',
    help: 'VMM option (repeatable); see "Options per VMM" below',
  },
];

export const HOST_OPTIONS: readonly OptionSpec[] = [
  ...HOST_SOURCE_OPTIONS,
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

/** Reads the host from --regions dumps, or --platform/--sysfs/--snapshot (default /sys) via resolveHostView. */
export function loadHost(a: ParsedArgs): HostView {
  const regions = list(a, 'regions');
  if (regions.length === 0) {
    for (const o of ['aperture-bits', 'host-arch']) {
      if (a.values[o] !== undefined) throw new InputError(`--${o} applies to --regions only`);
    }
    return resolveHostView(hostSource(a));
  }
  const others = ['platform', 'sysfs', 'snapshot', 'kernel'].filter((o) => a.values[o] !== undefined);
  if (others.length > 0) {
    throw new InputError(`give one host source: --regions or --${others[0]}`);
  }
  const devices = list(a, 'device');
  const files = regions.map((entry) => {
    // GROUP=FILE names the group the dump belongs to.
    const m = /^([0-9]+)=(.+)$/.exec(entry);
    const name = m ? m[2]! : entry;
    let text: string;
    try {
      text = readFileSync(name, 'utf8');
    } catch (e) {
      throw new InputError(`--regions ${name}: ${readFailure(e)}`, {
        hint: 'give a copy of /sys/kernel/iommu_groups/N/reserved_regions from the host (or GROUP=FILE)',
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

export interface VmmRequest {
  readonly model: VmmModel;
  readonly request: LayoutRequest;
  readonly notes: readonly string[];
}

/** --vmm/--machine/--arch/--memory/--opt into a model and a layout request (host defaults filled in). */
export function vmmRequest(
  a: ParsedArgs,
  host: HostView,
  /** Options read from a command line or domain: dropped, with a note, when the model does not take them. */
  described: ReadonlySet<string> = new Set(),
): VmmRequest {
  const name = str(a, 'vmm');
  if (name === undefined)
    throw new InputError('--vmm is required', {
      hint: `choose one of: ${VMM_NAMES.join(', ')}; or give --cmdline FILE|pid:N or --libvirt-xml FILE`,
    });
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
  const dropped: string[] = [];
  for (const k of described) {
    if (options[k] !== undefined && !model.options.some((o) => o.name === k)) {
      dropped.push(
        `${k}=${options[k]} (from the ${model.family} configuration) does not apply to ${model.label}`,
      );
      delete options[k];
    }
  }
  const d = hostDefaults(model, host, options);
  const request = { memory, options: { ...d.options, ...options } };
  const probe = model.layout(request);
  if (!probe.ok) {
    throw new InputError(`${model.label}, ${formatSize(memory)}: ${probe.reason}`, {
      ...(probe.option !== undefined ? { field: `--opt ${probe.option}` } : {}),
    });
  }
  return { model, request, notes: [...dropped, ...d.notes] };
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
  const sel = selectGroups(host, {
    groups,
    devices: list(a, 'device'),
    p2p: bool(a, 'p2p'),
    viommu: bool(a, 'viommu'),
    ...(str(a, 'backend') === 'iommufd' ? { backend: 'iommufd' as const } : {}),
  });
  if (!sel.ok) throw new NotFoundError(sel.reason, sel.hint !== undefined ? { hint: sel.hint } : {});
  return { groups: sel.groups, notes: sel.notes };
}

export { exactSize, rangeText } from '../vmm/explain.js';

export function layoutLines(layout: GuestLayout, p2p: boolean): string[] {
  return layout.ranges
    .filter((r) => p2p || r.kind !== 'pci-window')
    .map((r) => `  ${rangeText(r.start, r.end).padEnd(52)} ${r.what} [${r.name}]`);
}

export function optionsText(o: Readonly<Record<string, string>>): string {
  const e = Object.entries(o);
  return e.length ? e.map(([k, v]) => `${k}=${v}`).join(' ') : 'none';
}

export const MEMLOCK_OPTION: OptionSpec = {
  name: 'memlock',
  type: 'string',
  metavar: 'SIZE',
  help: "the VMM's RLIMIT_MEMLOCK (64M, 65536K, unlimited, or pid:N of a running VMM): what VFIO pins must fit in",
};

export const BACKEND_OPTIONS: readonly OptionSpec[] = [
  {
    name: 'backend',
    type: 'string',
    metavar: 'B',
    help: 'how the VMM drives VFIO: type1 (the legacy container, default) or iommufd (QEMU 9.0+ -object iommufd, cloud-hypervisor --platform iommufd=on; Linux 6.6+)',
    choices: ['type1', 'iommufd'],
  },
  {
    name: 'iommufd-accounting',
    type: 'string',
    metavar: 'A',
    help: "with --backend iommufd: whose locked memory its pins are charged to: user (the default: all of the user's processes together) or process (IOMMU_OPTION_RLIMIT_MODE=1, as libvirt sets)",
    choices: ['user', 'process'],
  },
  {
    name: 'user-locked',
    type: 'string',
    metavar: 'SIZE',
    help: "with iommufd's per-user accounting: what the user's other processes have charged already (e.g. the other VMs of the same user): a size, or user:NAME / uid:N to add up their VmPin on this host",
  },
];

/** What --backend, --iommufd-accounting and --user-locked ask for (CheckOptions fields). */
export function backendArgs(
  a: ParsedArgs,
  model: VmmModel,
  /** A running VMM being checked (pid:N): left out of user:NAME's count. */
  exclude?: string,
): Pick<CheckOptions, 'backend' | 'iommufdAccounting' | 'userLocked'> & { note?: string } {
  const backend = str(a, 'backend') as VfioBackend | undefined;
  const accounting = str(a, 'iommufd-accounting') as IommufdAccounting | undefined;
  const userText = str(a, 'user-locked');
  if (backend !== 'iommufd') {
    for (const o of ['iommufd-accounting', 'user-locked'])
      if (a.values[o] !== undefined)
        throw new InputError(`--${o} applies to --backend iommufd only`, {
          hint: 'the type1 container charges the VMM process alone (its VmLck)',
        });
    return backend === 'type1' ? { backend } : {};
  }
  if (model.family !== 'qemu' && model.family !== 'cloud-hypervisor')
    throw new InputError(`--backend iommufd: ${model.label} has no iommufd backend`, {
      hint: 'QEMU (9.0 and later) and cloud-hypervisor (--platform iommufd=on) have one',
    });
  if (userText !== undefined && accounting === 'process')
    throw new InputError(
      '--user-locked counts with per-user accounting, not with --iommufd-accounting process',
      {
        hint: "with process accounting only the VMM's own locked memory counts",
      },
    );
  const held = userText === undefined ? undefined : userLockedArg(userText, exclude);
  return {
    backend,
    ...(accounting !== undefined ? { iommufdAccounting: accounting } : {}),
    ...(held !== undefined ? { userLocked: held.bytes } : {}),
    ...(held?.note !== undefined ? { note: held.note } : {}),
  };
}

/**
 * --user-locked: a size, or `user:NAME` / `uid:N`: the VmPin of that user's processes on this host
 * (/proc/PID/status), leaving out `exclude` (the VMM being checked, when it is running).
 */
function userLockedArg(text: string, exclude: string | undefined): { bytes: bigint; note?: string } {
  const who = /^\s*(user|uid):(.+)$/.exec(text);
  if (!who) {
    const v = parseSize(text);
    if (v === undefined)
      throw new InputError(`--user-locked ${JSON.stringify(text)}: not a size, user:NAME or uid:N`, {
        hint: '--user-locked 16G, --user-locked user:libvirt-qemu',
      });
    return { bytes: v };
  }
  const uid = who[1] === 'uid' ? (/^[0-9]+$/.test(who[2]!) ? Number(who[2]) : undefined) : uidOf(who[2]!);
  if (uid === undefined)
    throw new InputError(
      `--user-locked ${text}: ${who[1] === 'uid' ? 'not a number' : 'no such user in /etc/passwd'}`,
    );
  let bytes = 0n;
  let n = 0;
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^[0-9]+$/.test(p) && p !== exclude);
  } catch (e) {
    throw new InputError(`--user-locked ${text}: /proc: ${readFailure(e)}`);
  }
  for (const pid of pids) {
    let status: string;
    try {
      status = readFileSync(`/proc/${pid}/status`, 'utf8');
    } catch {
      continue; // gone since the listing
    }
    const p = parseProcPinned(status);
    if (p === undefined || p.uid !== uid || p.pinned === 0n) continue;
    bytes += p.pinned;
    n++;
  }
  return {
    bytes,
    note:
      `--user-locked ${text}: ${n} process${n === 1 ? '' : 'es'} of uid ${uid} pin ${formatSize(bytes)} (VmPin in ` +
      `/proc/PID/status${exclude !== undefined ? `, process ${exclude} left out` : ''}), counted first`,
  };
}

/** The uid of a user name in /etc/passwd. */
function uidOf(name: string): number | undefined {
  let text: string;
  try {
    text = readFileSync('/etc/passwd', 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f[0] === name && /^[0-9]+$/.test(f[2] ?? '')) return Number(f[2]);
  }
  return undefined;
}

/**
 * What check and plan hold the layout to besides the reserved regions: --memlock, --viommu (with the
 * bridges and refusing vIOMMU a configuration gave), --backend and its accounting; and the notes on what
 * was read for them.
 */
export function vfioConstraints(
  a: ParsedArgs,
  model: VmmModel,
  guest: {
    readonly bridges?: Readonly<Record<string, string>>;
    readonly viommuWithoutMap?: RefusingViommu;
    readonly pid?: string;
    readonly guestMapped?: readonly string[];
  },
): { readonly options: Omit<CheckOptions, 'p2p'>; readonly notes: readonly string[] } {
  const ml = memlockArg(a);
  const viommu = viommuArg(a, model);
  const { note, ...backend } = backendArgs(a, model, guest.pid);
  // --device given as well replaces the command line's devices: only those named stay behind it
  const behind = (guest.guestMapped ?? []).filter((d) => list(a, 'device').includes(d));
  const report = model.family === 'cloud-hypervisor' ? cloudHypervisorViommuReport(model.arch) : undefined;
  return {
    options: {
      ...(behind.length && report
        ? {
            guestMapped: {
              devices: behind,
              viommu: "cloud-hypervisor's virtio-iommu (--device ...,iommu=on)",
              ...(report.ranges ? { reported: report.ranges } : {}),
              reportedText: report.text,
            },
          }
        : {}),
      ...(ml !== undefined ? { memlock: ml.limit } : {}),
      ...(viommu ? { viommu } : {}),
      ...(viommu && guest.bridges ? { viommuBridges: guest.bridges } : {}),
      ...(guest.viommuWithoutMap !== undefined ? { viommuWithoutMap: guest.viommuWithoutMap } : {}),
      ...backend,
    },
    notes: [...(ml?.note ? [ml.note] : []), ...(note ? [note] : [])],
  };
}

export const VIOMMU_OPTION: OptionSpec = {
  name: 'viommu',
  type: 'boolean',
  help: 'the guest has a vIOMMU (QEMU intel-iommu or virtio-iommu): a container per group, each pins all the RAM',
};

/** --viommu: modelled for QEMU, whose vIOMMUs let a device bypass translation until the guest turns it on. */
export function viommuArg(a: ParsedArgs, model: VmmModel): boolean {
  if (!bool(a, 'viommu')) return false;
  if (model.family !== 'qemu')
    throw new InputError(`--viommu: modelled for QEMU only, not for ${model.id}`, {
      hint:
        "QEMU gives each device behind a vIOMMU a container of its own and maps all of the guest's RAM into " +
        'each until the guest turns translation on; how other VMMs map behind a vIOMMU is not modelled',
    });
  return true;
}

/**
 * --memlock: a size in bytes (units allowed), unlimited / infinity / -1, or `pid:N` for a running VMM's
 * own allowance (/proc/N/limits and /proc/N/status: with CAP_IPC_LOCK no limit applies), with a note
 * saying what was read.
 */
export function memlockArg(a: ParsedArgs): { limit: MemlockLimit; note?: string } | undefined {
  const text = str(a, 'memlock');
  if (text === undefined) return undefined;
  const pid = /^\s*pid:([0-9]+)\s*$/.exec(text);
  if (pid) return memlockOfProcess(pid[1]!);
  const v = parseMemlockLimit(text);
  if (v === undefined)
    throw new InputError(
      isFractionalSize(text)
        ? `--memlock ${text}: not a whole number of bytes`
        : `--memlock ${JSON.stringify(text)}: not a size or "unlimited"`,
      {
        hint: '--memlock 64M, --memlock 65536K ("ulimit -l" prints KiB), --memlock 8388608 (bytes, as /proc/PID/limits shows), --memlock pid:1234',
      },
    );
  return { limit: v };
}

function memlockOfProcess(pid: string): { limit: MemlockLimit; note: string } {
  const dir = `/proc/${pid}`;
  if (!existsSync(`${dir}/limits`))
    throw new InputError(`--memlock pid:${pid}: no such process (or /proc is not mounted)`, {
      hint: "the VMM's process id, e.g. pgrep -f qemu-system",
    });
  const read = (f: string) => {
    try {
      return { text: readFileSync(f, 'utf8'), file: f };
    } catch (e) {
      throw new InputError(`--memlock pid:${pid}: ${readFailure(e)}`, { file: f });
    }
  };
  const p = parseProcMemlock(read(`${dir}/limits`), read(`${dir}/status`));
  const who = `process ${pid}${p.name ? ` (${p.name})` : ''}`;
  const soft = p.soft === 'unlimited' ? 'unlimited' : `${p.soft} bytes`;
  if (p.capIpcLock)
    return {
      limit: 'unlimited',
      note: `${who} has CAP_IPC_LOCK: its RLIMIT_MEMLOCK (${soft}) does not apply to what VFIO pins`,
    };
  return { limit: p.soft, note: `RLIMIT_MEMLOCK of ${who}: ${soft} (the soft limit in ${dir}/limits)` };
}

/** A guest description, with the RLIMIT_MEMLOCK its configuration implies (a libvirt domain's). */
type GuestSource = GuestDescription & { readonly memlock?: MemlockLimit };

/** A file, standard input (-) or, when `pid` is allowed, /proc/N/cmdline; with the name messages use. */
function readSource(
  option: string,
  spec: string,
  allowPid: boolean,
): { text: string; source: string; pid?: string } {
  const pid = allowPid ? /^\s*pid:([0-9]+)\s*$/.exec(spec)?.[1] : undefined;
  const file = pid !== undefined ? `/proc/${pid}/cmdline` : spec;
  try {
    const text = readFileSync(spec === '-' ? 0 : file, 'utf8');
    return {
      text,
      source: spec === '-' ? 'standard input' : pid !== undefined ? `pid:${pid}` : spec,
      ...(pid ? { pid } : {}),
    };
  } catch (e) {
    throw new InputError(
      `--${option} ${spec}: ${pid !== undefined ? 'no such process (or /proc is not mounted)' : readFailure(e)}`,
      {
        hint: allowPid
          ? 'a file holding the command, - for standard input, or pid:N of a running VMM'
          : 'a file, or - for standard input',
      },
    );
  }
}

/**
 * --cmdline / --qemu-cmdline / --libvirt-xml: the VMM options a VMM's command line or a libvirt domain stands for
 * (vmm, machine, arch, memory, the layout options, the VFIO devices, a vIOMMU; for a domain also the
 * RLIMIT_MEMLOCK libvirt sets), merged under the options given explicitly, which win; and what was
 * read, as notes.
 */
export function withGuestDescription(a: ParsedArgs): {
  args: ParsedArgs;
  notes: readonly string[];
  /** vfio-pci devices behind a conventional PCI bridge in the guest (CheckOptions.viommuBridges). */
  bridges?: Readonly<Record<string, string>>;
  /** The RLIMIT_MEMLOCK came from a libvirt domain's <memtune> hard_limit. */
  hardLimit?: boolean;
  /** A vIOMMU that refuses VFIO devices (CheckOptions.viommuWithoutMap). */
  viommuWithoutMap?: RefusingViommu;
  /** The layout options the description set (for vmmRequest's `described`). */
  described?: ReadonlySet<string>;
  /** The running VMM the command line was read from (pid:N). */
  pid?: string;
  /** Devices behind the VMM's own virtio-iommu, mapped only as the guest maps (GuestDescription.guestMapped). */
  guestMapped?: readonly string[];
} {
  const sources = (['cmdline', 'qemu-cmdline', 'libvirt-xml'] as const).filter(
    (o) => str(a, o) !== undefined,
  );
  if (sources.length === 0) return { args: a, notes: [] };
  if (sources.length > 1) throw new InputError(`give --${sources[0]} or --${sources[1]}, not both`);
  const option = sources[0]!;
  const isXml = option === 'libvirt-xml';
  if (str(a, 'vmm') !== undefined)
    throw new InputError(`give --vmm or --${option}, not both`, {
      hint: `the ${isXml ? 'domain' : 'command line'} names the VMM${option === 'cmdline' ? '' : ' (QEMU)'} and its machine`,
    });
  const read = readSource(option, str(a, option)!, !isXml);
  let g: GuestSource;
  let bridges: Readonly<Record<string, string>> | undefined;
  let hardLimit = false;
  if (!isXml) {
    const q =
      option === 'cmdline'
        ? parseVmmCommandLine(read.text, read.source)
        : parseQemuCommandLine(read.text, read.source);
    g = q;
    bridges = q.bridges;
  } else {
    const d = parseLibvirtDomain(read.text, read.source);
    hardLimit = d.hardLimit && str(a, 'memlock') === undefined;
    g = {
      ...d,
      notes:
        d.memlockWhy !== undefined && str(a, 'memlock') === undefined ? [...d.notes, d.memlockWhy] : d.notes,
    };
  }
  const values: Record<string, unknown> = { ...a.values, vmm: g.vmm ?? 'qemu' };
  const notes = [...g.notes];
  if (values['machine'] === undefined && g.machine !== undefined) values['machine'] = g.machine;
  if (values['arch'] === undefined && g.arch !== undefined) values['arch'] = g.arch;
  if (values['memory'] === undefined) values['memory'] = g.memory;
  else
    notes.push(
      `--memory ${formatSize(values['memory'] as bigint)} instead of the ${isXml ? "domain's" : "command line's"}`,
    );
  const given = list(a, 'opt');
  const mine = new Set(given.map((kv) => kv.split('=')[0]));
  // a --machine given as well brings its own version (or the latest)
  if (str(a, 'machine') !== undefined) mine.add('version');
  values['opt'] = [
    ...Object.entries(g.options)
      .filter(([k]) => !mine.has(k))
      .map(([k, v]) => `${k}=${v}`),
    ...given,
  ];
  if (list(a, 'device').length === 0 && list(a, 'group').length === 0 && g.devices.length > 0)
    values['device'] = [...g.devices];
  if (g.viommu !== undefined) values['viommu'] = true;
  if (g.backend !== undefined && str(a, 'backend') === undefined) values['backend'] = g.backend;
  if (
    g.iommufdAccounting !== undefined &&
    str(a, 'iommufd-accounting') === undefined &&
    (values['backend'] ?? g.backend) === 'iommufd'
  )
    values['iommufd-accounting'] = g.iommufdAccounting;
  if (g.memlock !== undefined && str(a, 'memlock') === undefined)
    values['memlock'] = g.memlock === 'unlimited' ? 'unlimited' : String(g.memlock);
  // a running QEMU: its own RLIMIT_MEMLOCK is the one that applies (--memlock pid:N)
  if (read.pid !== undefined && str(a, 'memlock') === undefined) values['memlock'] = `pid:${read.pid}`;
  return {
    args: { ...a, values: values as ParsedArgs['values'] },
    notes,
    described: new Set(Object.keys(g.options).filter((k) => !mine.has(k))),
    ...(read.pid !== undefined ? { pid: read.pid } : {}),
    ...(g.guestMapped?.length ? { guestMapped: g.guestMapped } : {}),
    ...(bridges ? { bridges } : {}),
    ...(hardLimit ? { hardLimit } : {}),
    ...(g.viommuWithoutMap !== undefined ? { viommuWithoutMap: g.viommuWithoutMap } : {}),
  };
}
