/**
 * A QEMU command line read back into what `iovamap check` and `plan` need: the machine and its version,
 * the guest's RAM, the options that move it (max-ram-below-4g, highmem, pci-hole64-size, phys-bits, the
 * vCPU vendor), the host devices given to vfio-pci, whether they sit behind a vIOMMU, and
 * -overcommit mem-lock. It accepts the forms users have at hand: a shell command or script (quotes,
 * backslash-newline), a libvirt log (/var/log/libvirt/qemu/NAME.log: environment, then the command, and a
 * "qemu version:" header), the NUL-separated /proc/PID/cmdline of a running QEMU, QemuOpts
 * `key=value,...` arguments (",," for a comma) and the JSON arguments libvirt passes to -device/-object.
 *
 * Pure and browser-safe. A malformed value of an option that matters is an InputError naming the
 * option, its argument and the line; options that do not move guest memory are skipped.
 */
import { InputError } from '../base/errors.js';
import { commandName, commandWords, type Word } from '../base/shell-words.js';
import { formatSize, parseSize } from '../base/u64.js';
import { normalizeBdf } from '../platform/validate.js';
import { cpuModelVendor, upstreamMachine } from './registry.js';
import type { GuestArch, GuestDescription, RefusingViommu } from './types.js';

export interface QemuCommandLine extends GuestDescription {
  /** The QEMU binary as written. */
  readonly binary: string;
  /**
   * The vfio-pci devices plugged into a conventional PCI bridge (pcie-pci-bridge, pci-bridge), by the
   * bridge's id: behind a vIOMMU, the devices of one bridge share an address space.
   */
  readonly bridges: Readonly<Record<string, string>>;
  /** -overcommit mem-lock=on|on-fault (or -realtime mlock=on): QEMU mlock()s its memory. */
  readonly memLock?: string;
}

/** QEMU options that take no argument (qemu-options.hx: no HAS_ARG); every other option takes one. */
const NO_ARG = new Set([
  'nodefaults',
  'no-user-config',
  'nodefconfig',
  'no-shutdown',
  'no-reboot',
  'enable-kvm',
  'no-kvm',
  'nographic',
  'S',
  's',
  'daemonize',
  'no-hpet',
  'no-acpi',
  'snapshot',
  'full-screen',
  'usb',
  'no-fd-bootchk',
  'no-quit',
  'only-migratable',
  'enable-fips',
  'preconfig',
  'version',
  'h',
  'help',
  'alt-grab',
  'ctrl-grab',
  'win2k-hack',
  'no-frame',
  'semihosting',
  'xen-attach',
  'perfmap',
  'jitdump',
  'curses',
  'portrait',
  'localtime',
]);

const MiB = 1n << 20n;

/**
 * The words of the last QEMU command in `text`: a shell command line or script, a libvirt log, or
 * /proc/PID/cmdline (NUL-separated, taken as is). Throws InputError when there is none.
 */
export function qemuWords(text: string, source: string): { words: readonly Word[]; header?: string } {
  const commands = commandWords(text, source);
  let found: Word[] | undefined;
  for (const c of commands) {
    const i = c.findIndex((w) => isQemuBinary(w.text));
    if (i >= 0) found = c.slice(i);
  }
  if (!found)
    throw new InputError(
      `${source}: no QEMU command found (qemu-system-x86_64, qemu-system-aarch64, qemu-kvm)`,
      {
        hint: 'give the command line QEMU was started with: a script, a libvirt log (/var/log/libvirt/qemu/NAME.log), or pid:N',
      },
    );
  const header = logQemuRelease(text);
  return { words: found, ...(header !== undefined ? { header } : {}) };
}

/** libvirt logs each start with a header naming the QEMU release: the last one's `X.Y`. */
export function logQemuRelease(text: string): string | undefined {
  const versions = [...text.matchAll(/qemu version: ([0-9]+)\.([0-9]+)/g)];
  const last = versions[versions.length - 1];
  return last ? `${last[1]}.${last[2]}` : undefined;
}

export function isQemuBinary(word: string): boolean {
  const base = commandName(word);
  return /^qemu-system-[a-z0-9_]+$/.test(base) || base === 'qemu-kvm';
}

/** A QemuOpts argument (`a,k=v,k2=v2`, ",," for a literal comma) or a JSON object, as key/value strings. */
function optionArgs(arg: string, implied: string, where: string): Map<string, string> {
  const out = new Map<string, string>();
  if (arg.trimStart().startsWith('{')) {
    let v: unknown;
    try {
      v = JSON.parse(arg);
    } catch {
      throw new InputError(`${where}: not valid JSON`);
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v))
      throw new InputError(`${where}: not a JSON object`);
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean') out.set(k, String(x));
    }
    return out;
  }
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < arg.length; i++) {
    if (arg[i] === ',') {
      if (arg[i + 1] === ',') {
        cur += ',';
        i++;
        continue;
      }
      parts.push(cur);
      cur = '';
      continue;
    }
    cur += arg[i];
  }
  parts.push(cur);
  parts.forEach((p, i) => {
    const eq = p.indexOf('=');
    if (eq < 0) {
      if (i === 0 && p !== '') out.set(implied, p);
      else if (p !== '') out.set(p, 'on');
    } else out.set(p.slice(0, eq), p.slice(eq + 1));
  });
  return out;
}

/** -m's size: a plain number is MiB (qemu_strtosz_MiB), suffixes K/M/G/T in any case. */
function ramSize(text: string): bigint | undefined {
  const t = text.trim();
  if (/^[0-9]+$/.test(t)) return BigInt(t) * MiB;
  const v = parseSize(t);
  return v;
}

/** A size property (-global, -object, -machine): a plain number is bytes. */
function propertySize(text: string): bigint | undefined {
  return parseSize(text.trim());
}

/** What the options read so far say; each QEMU option that matters adds to it. */
class Reading {
  readonly notes: string[] = [];
  readonly options: Record<string, string> = {};
  readonly devices: string[] = [];
  /** vfio-pci device -> its bus= id; and the ids of conventional PCI bridges. */
  readonly busOf = new Map<string, string>();
  readonly conventional = new Set<string>();
  readonly backendSizes = new Map<string, bigint>();
  machine: string | undefined;
  memory: bigint | undefined;
  backend: string | undefined;
  viommu: string | undefined;
  withoutMap: RefusingViommu | undefined;
  iommufd = false;
  /** -object iommufd ids, and whether each was handed a file descriptor (fd=). */
  readonly iommufdObjects = new Map<string, boolean>();
  /** The iommufd= object of each vfio-pci device that names one. */
  readonly iommufdOf = new Map<string, string>();
  memLock: string | undefined;

  machineArgs(kv: Map<string, string>): void {
    const type = kv.get('type');
    if (type !== undefined) this.machine = type;
    for (const k of ['max-ram-below-4g', 'highmem']) {
      const v = kv.get(k);
      if (v !== undefined) this.options[k] = v;
    }
    if (kv.get('memory-backend') !== undefined) this.backend = kv.get('memory-backend');
    const iommu = kv.get('iommu');
    if (iommu === 'smmuv3') this.withoutMap = 'smmuv3';
    else if (iommu !== undefined && iommu !== 'none')
      this.notes.push(`-machine iommu=${iommu}: not modelled; checked as if without a vIOMMU`);
  }

  memoryArgs(kv: Map<string, string>, at: string): void {
    const size = kv.get('size');
    if (size !== undefined) {
      const v = ramSize(size);
      if (v === undefined || v === 0n)
        throw new InputError(`${at}: not a memory size`, {
          hint: '-m 16G, -m 16384 (MiB), -m size=16777216k',
        });
      this.memory = v;
    }
    if (kv.get('maxmem') !== undefined)
      this.notes.push(
        `-m maxmem=${kv.get('maxmem')}: the memory-hotplug area is not modelled (it moves the 64-bit PCI window up, not the RAM)`,
      );
  }

  cpuArgs(kv: Map<string, string>, at: string): void {
    const explicit = kv.get('vendor') ?? '';
    const vendor = /^Authentic ?AMD$/i.test(explicit)
      ? 'amd'
      : /^GenuineIntel$/i.test(explicit)
        ? 'intel'
        : cpuModelVendor(kv.get('model') ?? '');
    if (vendor !== undefined) this.options['cpu-vendor'] = vendor;
    const pb = kv.get('phys-bits');
    if (pb !== undefined) {
      if (!/^[0-9]+$/.test(pb)) throw new InputError(`${at}: phys-bits=${pb} is not a number`);
      this.options['phys-bits'] = pb;
    } else if (kv.get('host-phys-bits') === 'on') {
      this.notes.push(
        "-cpu host-phys-bits=on: the guest's phys-bits are the host's, which the model does not know",
      );
    }
  }

  /** -global driver.property=value, or -global driver=D,property=P,value=V. */
  globalArgs(kv: Map<string, string>, at: string): void {
    const [prop, value] =
      kv.get('driver') !== undefined && kv.get('property') !== undefined
        ? [`${kv.get('driver')}.${kv.get('property')}`, kv.get('value')]
        : ([...kv.entries()][0] ?? []);
    if (prop === undefined || !/^(q35-pcihost|i440FX-pcihost)\.pci-hole64-size$/i.test(prop)) return;
    const v = value === undefined ? undefined : propertySize(value);
    if (v === undefined) throw new InputError(`${at}: pci-hole64-size is not a size`);
    this.options['pci-hole64-size'] = String(v);
  }

  objectArgs(kv: Map<string, string>, at: string): void {
    const id = kv.get('id');
    if (kv.get('qom-type') === 'iommufd' && id !== undefined) {
      // fd=: /dev/iommu opened by a manager (libvirt sets per-process accounting on the file it opens)
      this.iommufdObjects.set(id, kv.get('fd') !== undefined);
      return;
    }
    const size = kv.get('size');
    if (!(kv.get('qom-type') ?? '').startsWith('memory-backend') || id === undefined || size === undefined)
      return;
    const v = propertySize(size);
    if (v === undefined) throw new InputError(`${at}: size=${size} is not a size`);
    this.backendSizes.set(id, v);
  }

  deviceArgs(kv: Map<string, string>, at: string): void {
    const driver = kv.get('driver') ?? '';
    if (driver === 'vfio-pci' || driver === 'vfio-pci-nohotplug') this.vfioDevice(driver, kv, at);
    else if (driver === 'pcie-pci-bridge' || driver === 'pci-bridge' || driver === 'i82801b11-bridge') {
      const id = kv.get('id');
      if (id !== undefined) this.conventional.add(id);
    } else if (driver === 'intel-iommu' && !/^(on|true|yes)$/i.test(kv.get('caching-mode') ?? 'off')) {
      this.withoutMap = 'intel-iommu';
    } else if (driver === 'intel-iommu' || driver === 'virtio-iommu-pci' || driver === 'virtio-iommu') {
      this.viommu = driver;
      if (driver !== 'intel-iommu' && /^(off|false|no)$/i.test(kv.get('boot-bypass') ?? ''))
        this.notes.push(
          `-device ${driver},boot-bypass=off: the containers map nothing at boot, only what the guest maps ` +
            'later; the check counts all of the RAM per container, as a guest with a passthrough domain maps it',
        );
    } else if (driver === 'arm-smmuv3' && kv.get('accel') !== 'on') {
      this.withoutMap = 'smmuv3';
    } else if (driver === 'amd-iommu' || driver === 'AMDVI-PCI' || driver === 'arm-smmuv3') {
      this.notes.push(
        `-device ${driver}: VFIO devices behind this vIOMMU are not modelled; checked as if without one`,
      );
    }
  }

  private vfioDevice(driver: string, kv: Map<string, string>, at: string): void {
    const host = kv.get('host');
    const sysfs = kv.get('sysfsdev')?.replace(/\/+$/, '');
    const bdf =
      host !== undefined
        ? normalizeBdf(host)
        : sysfs !== undefined
          ? normalizeBdf(sysfs.slice(sysfs.lastIndexOf('/') + 1))
          : undefined;
    if (bdf === undefined) {
      if (host !== undefined || sysfs !== undefined)
        throw new InputError(
          `${at}: ${host !== undefined ? `host=${host}` : `sysfsdev=${kv.get('sysfsdev')}`} is not a PCI address`,
        );
      this.notes.push(
        `-device ${driver} without host= or sysfsdev= (a device passed by file descriptor): name it with --device BDF`,
      );
      return;
    }
    if (this.devices.includes(bdf)) return;
    this.devices.push(bdf);
    const ifd = kv.get('iommufd');
    if (ifd !== undefined) {
      this.iommufd = true;
      this.iommufdOf.set(bdf, ifd);
    }
    const bus = kv.get('bus');
    if (bus !== undefined) this.busOf.set(bdf, bus);
  }

  memLockArgs(kv: Map<string, string>, key: 'mem-lock' | 'mlock'): void {
    const v = kv.get(key);
    if (v !== undefined && v !== 'off') this.memLock = v;
  }
}

/** The options that matter, the key a bare first value stands for, and how each is read. */
const READERS: Readonly<
  Record<string, { implied: string; read(r: Reading, kv: Map<string, string>, at: string): void }>
> = {
  machine: { implied: 'type', read: (r, kv) => r.machineArgs(kv) },
  M: { implied: 'type', read: (r, kv) => r.machineArgs(kv) },
  m: { implied: 'size', read: (r, kv, at) => r.memoryArgs(kv, at) },
  cpu: { implied: 'model', read: (r, kv, at) => r.cpuArgs(kv, at) },
  global: { implied: 'global', read: (r, kv, at) => r.globalArgs(kv, at) },
  object: { implied: 'qom-type', read: (r, kv, at) => r.objectArgs(kv, at) },
  device: { implied: 'driver', read: (r, kv, at) => r.deviceArgs(kv, at) },
  overcommit: { implied: 'overcommit', read: (r, kv) => r.memLockArgs(kv, 'mem-lock') },
  realtime: { implied: 'realtime', read: (r, kv) => r.memLockArgs(kv, 'mlock') },
};

/** The guest arch of a QEMU binary's name; undefined for qemu-kvm (the host's). */
function binaryArch(base: string): GuestArch | undefined {
  if (/^qemu-system-(x86_64|i386)$/.test(base)) return 'x86_64';
  if (/^qemu-system-(aarch64|arm)$/.test(base)) return 'aarch64';
  return undefined;
}

/**
 * Reads a QEMU command: its words from `qemuWords`. `source` names the input in messages.
 */
export function parseQemuCommandLine(text: string, source: string): QemuCommandLine {
  const { words, header } = qemuWords(text, source);
  return parseQemuWords(words, source, !text.includes('\0'), header);
}

/**
 * Reads one QEMU command's words (the binary first); `lines`: the words carry line numbers (not
 * /proc/PID/cmdline); `header`: the release a libvirt log names.
 */
export function parseQemuWords(
  words: readonly Word[],
  source: string,
  lines: boolean,
  header: string | undefined,
): QemuCommandLine {
  const binary = words[0]!.text;
  const base = commandName(binary);
  const arch = binaryArch(base);
  const r = new Reading();
  const where = (w: Word, opt: string, arg: string) =>
    `${source}${lines ? `:${w.line}` : ''}: -${opt} ${arg.length > 60 ? arg.slice(0, 57) + '...' : arg}`;
  for (let i = 1; i < words.length; i++) {
    const w = words[i]!;
    if (!w.text.startsWith('-') || w.text === '-') continue;
    const opt = w.text.replace(/^--?/, '');
    if (NO_ARG.has(opt)) continue;
    const reader = READERS[opt];
    const argWord = words[i + 1];
    if (argWord === undefined) {
      if (reader) throw new InputError(`${source}: -${opt} has no argument`);
      break;
    }
    i++;
    if (!reader) continue;
    const at = where(w, opt, argWord.text);
    reader.read(r, optionArgs(argWord.text, reader.implied, at), at);
  }
  let { machine, memory, withoutMap } = r;
  const notes = r.notes;
  if (memory === undefined && r.backend !== undefined) memory = r.backendSizes.get(r.backend);
  if (machine === undefined) {
    if (arch === 'aarch64')
      throw new InputError(`${source}: ${base} needs a -machine (virt)`, { hint: 'add -machine virt' });
    if (arch === 'x86_64') {
      machine = 'pc';
      notes.push('no -machine: QEMU x86_64 starts the pc (i440fx) machine');
    }
  }
  if (machine !== undefined) {
    const up = upstreamMachine(machine);
    if (up.note) notes.push(up.note);
    machine = up.machine;
  }
  if (memory === undefined) {
    memory = 128n * MiB;
    notes.push('no -m: QEMU gives the guest its default 128 MiB');
  }
  // the machine type's version sets the layout; a libvirt log's header names the QEMU release
  if (machine !== undefined && !/-[0-9]+\.[0-9]+$/.test(machine) && header !== undefined)
    r.options['version'] = header;
  if (withoutMap !== undefined && r.iommufd) {
    notes.push(
      `VFIO devices on the iommufd backend behind the ${withoutMap}: not modelled; checked as if without a vIOMMU`,
    );
    withoutMap = undefined;
  }
  let backend: GuestDescription['backend'];
  let iommufdAccounting: GuestDescription['iommufdAccounting'];
  if (r.iommufd && withoutMap === undefined) {
    backend = 'iommufd';
    const legacy = r.devices.filter((d) => !r.iommufdOf.has(d));
    if (legacy.length)
      notes.push(
        `${legacy.join(', ')} use${legacy.length === 1 ? 's' : ''} the legacy container while the other devices use iommufd: ` +
          'checked as if all used iommufd',
      );
    const passed = [...r.iommufdOf.values()].some((id) => r.iommufdObjects.get(id) === true);
    iommufdAccounting = passed ? 'process' : 'user';
    notes.push(
      passed
        ? '-object iommufd,fd=...: /dev/iommu was opened by a manager; libvirt (12.2 and later) switches the file it ' +
            'opens to per-process accounting, which is assumed (--iommufd-accounting user if the manager did not)'
        : "-object iommufd without fd=: QEMU opens /dev/iommu itself, so pins count against the user's locked memory, " +
            "shared with the user's other processes (--user-locked SIZE for what they hold)",
    );
  }
  if (r.memLock !== undefined)
    notes.push(
      `-overcommit mem-lock=${r.memLock}: QEMU mlock()s its memory, which counts against RLIMIT_MEMLOCK as well: ` +
        "the guest's RAM once more on top of what VFIO pins, and QEMU's own memory",
    );
  const what = [
    base,
    ...(machine !== undefined ? [`-machine ${machine}`] : []),
    `${formatSize(memory)} of RAM`,
    r.devices.length ? `vfio-pci ${r.devices.join(', ')}` : 'no vfio-pci device',
    ...(r.viommu ? [`behind ${r.viommu}`] : []),
    ...(withoutMap ? [`behind QEMU's ${withoutMap}`] : []),
    ...(backend === 'iommufd' ? ['through iommufd'] : []),
  ];
  notes.unshift(`read from the QEMU command line (${source}): ${what.join(', ')}`);
  const bridges: Record<string, string> = {};
  for (const [bdf, bus] of r.busOf) if (r.conventional.has(bus)) bridges[bdf] = bus;
  return {
    binary,
    bridges,
    ...(arch !== undefined ? { arch } : {}),
    ...(machine !== undefined ? { machine } : {}),
    memory,
    options: r.options,
    devices: r.devices,
    ...(r.viommu !== undefined ? { viommu: r.viommu } : {}),
    ...(withoutMap !== undefined ? { viommuWithoutMap: withoutMap } : {}),
    ...(r.memLock !== undefined ? { memLock: r.memLock } : {}),
    ...(backend !== undefined ? { backend } : {}),
    ...(iommufdAccounting !== undefined ? { iommufdAccounting } : {}),
    notes,
  };
}
