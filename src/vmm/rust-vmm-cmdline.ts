/**
 * cloud-hypervisor and crosvm command lines read back into what `iovamap check` and `plan` need (the
 * same GuestDescription a QEMU command line gives): the guest's RAM, the layout options that move it,
 * and the host PCI devices given to VFIO, in order. Words come from base/shell-words (a script, a
 * shell command, or /proc/PID/cmdline).
 *
 * Pure and browser-safe. A malformed value of an option that matters is an InputError naming the
 * option, its argument and the line; options that do not move guest memory are skipped.
 */
import { InputError } from '../base/errors.js';
import { commandName, type Word } from '../base/shell-words.js';
import { formatSize, parseU64 } from '../base/u64.js';
import { normalizeBdf } from '../platform/validate.js';
import type { GuestDescription } from './types.js';

const MiB = 1n << 20n;

/** Where a word came from, for messages: `vm.sh:3: --memory size=4Q`. */
type Where = (w: Word, arg?: string) => string;

function whereIn(source: string, lines: boolean): Where {
  return (w, arg) => {
    const text = arg === undefined ? w.text : `${w.text} ${arg}`;
    return `${source}${lines ? `:${w.line}` : ''}: ${text.length > 70 ? text.slice(0, 67) + '...' : text}`;
  };
}

/**
 * `k=v,k2=v2` with brackets and double quotes kept whole (`mem=[start=1,size=2]`), as both VMMs'
 * option parsers split their arguments (cloud-hypervisor option_parser, crosvm serde_keyvalue). A part
 * without `=` is stored under `implied` when it comes first (crosvm: `--mem 4096`), else as a flag.
 */
export function keyValues(arg: string, implied?: string): Map<string, string> {
  const parts: string[] = [];
  let cur = '';
  let depth = 0;
  let quoted = false;
  for (const ch of arg) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && ch === '[') depth++;
    else if (!quoted && ch === ']') depth = Math.max(0, depth - 1);
    if (ch === ',' && depth === 0 && !quoted) {
      parts.push(cur);
      cur = '';
      continue;
    }
    cur += ch;
  }
  parts.push(cur);
  const out = new Map<string, string>();
  parts.forEach((p, i) => {
    const eq = p.indexOf('=');
    if (eq >= 0) out.set(p.slice(0, eq).trim(), p.slice(eq + 1).trim());
    else if (p.trim() === '') return;
    else if (i === 0 && implied !== undefined) out.set(implied, p.trim());
    else out.set(p.trim(), '');
  });
  return out;
}

/** `--opt value`, `--opt=value`, or for options that take several values `--opt v1 v2 ...`. */
interface OptionUse {
  readonly name: string;
  readonly word: Word;
  readonly values: readonly string[];
}

/**
 * The uses of the options in `wanted` among `words` (from index `from`): each takes the words up to the
 * next one starting with `-` (`many`), or exactly the next word. Other words are skipped, so an unknown
 * switch never swallows a value that matters.
 */
function optionUses(
  words: readonly Word[],
  from: number,
  wanted: Readonly<Record<string, { many: boolean; short?: string }>>,
  where: Where,
): OptionUse[] {
  const byFlag = new Map<string, string>();
  for (const [name, spec] of Object.entries(wanted)) {
    byFlag.set(`--${name}`, name);
    if (spec.short !== undefined) byFlag.set(`-${spec.short}`, name);
  }
  const uses: OptionUse[] = [];
  for (let i = from; i < words.length; i++) {
    const w = words[i]!;
    const eq = w.text.startsWith('--') ? w.text.indexOf('=') : -1;
    const flag = eq > 0 ? w.text.slice(0, eq) : w.text;
    const name = byFlag.get(flag);
    if (name === undefined) continue;
    if (eq > 0) {
      uses.push({ name, word: w, values: [w.text.slice(eq + 1)] });
      continue;
    }
    const values: string[] = [];
    while (i + 1 < words.length && !words[i + 1]!.text.startsWith('-')) {
      values.push(words[++i]!.text);
      if (!wanted[name]!.many) break;
    }
    if (values.length === 0) throw new InputError(`${where(w)}: the option has no value`);
    uses.push({ name, word: w, values });
  }
  return uses;
}

/** A sysfs path of a PCI device (`/sys/bus/pci/devices/0000:01:00.0/`) as its BDF. */
function sysfsBdf(path: string): string | undefined {
  const p = path.replace(/\/+$/, '');
  return normalizeBdf(p.slice(p.lastIndexOf('/') + 1));
}

function description(
  vmm: 'cloud-hypervisor' | 'crosvm',
  source: string,
  memory: bigint,
  devices: readonly string[],
  options: Record<string, string>,
  notes: string[],
): GuestDescription {
  const what = [
    `${formatSize(memory)} of RAM`,
    devices.length ? `VFIO ${devices.join(', ')}` : 'no VFIO device',
    ...Object.entries(options).map(([k, v]) => `${k}=${v}`),
  ];
  return {
    vmm,
    memory,
    options,
    devices,
    notes: [`read from the ${vmm} command line (${source}): ${what.join(', ')}`, ...notes],
  };
}

// ---------------------------------------------------------------------------------------------
// cloud-hypervisor (cloud-hypervisor/src/main.rs, vmm/src/config.rs)

/** option_parser ByteSized: a number of bytes with an optional K, M or G (upper case only). */
function byteSized(text: string): bigint | undefined {
  const m = /^\s*([0-9]+)([KMG]?)\s*$/.exec(text);
  if (!m) return undefined;
  const shift = { '': 0n, K: 10n, M: 20n, G: 30n }[m[2]!]!;
  const v = BigInt(m[1]!) << shift;
  return v < 1n << 64n ? v : undefined;
}

/** DEFAULT_MEMORY_MB (vmm/src/vm_config.rs): --memory and each --memory-zone default to 512 MiB. */
const CH_DEFAULT_MEMORY = 512n * MiB;

export function parseCloudHypervisorWords(
  words: readonly Word[],
  source: string,
  lines: boolean,
): GuestDescription {
  const where = whereIn(source, lines);
  const notes: string[] = [];
  const devices: string[] = [];
  let memory: bigint | undefined;
  let zones: bigint | undefined;
  let backend: 'iommufd' | undefined;
  const guestMapped: string[] = [];
  const size = (kv: Map<string, string>, use: OptionUse, value: string): bigint => {
    const text = kv.get('size');
    if (text === undefined) return CH_DEFAULT_MEMORY;
    const v = byteSized(text);
    if (v === undefined)
      throw new InputError(`${where(use.word, value)}: size=${text} is not a size`, {
        hint: 'cloud-hypervisor takes bytes or a K, M or G suffix (upper case): size=16G',
      });
    return v;
  };
  const uses = optionUses(
    words,
    1,
    {
      memory: { many: false },
      'memory-zone': { many: true },
      device: { many: true },
      platform: { many: false },
    },
    where,
  );
  for (const use of uses) {
    for (const value of use.values) {
      const kv = keyValues(value);
      if (use.name === 'memory') {
        memory = size(kv, use, value);
        for (const k of ['hotplug_size', 'hotplugged_size'])
          if (kv.get(k) !== undefined)
            notes.push(
              `--memory ${k}=${kv.get(k)}: hotplugged memory is not modelled (it is mapped when plugged)`,
            );
      } else if (use.name === 'memory-zone') {
        zones = (zones ?? 0n) + size(kv, use, value);
      } else if (use.name === 'device') {
        const path = kv.get('path');
        if (path === undefined) {
          notes.push(
            `--device ${value}: a device passed by file descriptor (fd=) is not named; give it with --device BDF`,
          );
          continue;
        }
        const bdf = sysfsBdf(path);
        if (bdf === undefined) {
          if (path.includes('/mdev/'))
            notes.push(`--device path=${path}: a mediated device (mdev) is not modelled`);
          else
            throw new InputError(
              `${where(use.word, value)}: path=${path} is not a PCI device's sysfs directory`,
              {
                hint: 'path=/sys/bus/pci/devices/0000:01:00.0/',
              },
            );
          continue;
        }
        // device_manager.rs add_vfio_device: a device behind the virtio-iommu gets a container of its own
        // that maps nothing at boot, only what the guest maps through the virtio-iommu
        if (/^(on|true)$/.test(kv.get('iommu') ?? '') && !guestMapped.includes(bdf)) guestMapped.push(bdf);
        if (!devices.includes(bdf)) devices.push(bdf);
      } else if (use.name === 'platform') {
        if (/^(on|true)$/.test(kv.get('iommufd') ?? '')) {
          backend = 'iommufd';
          notes.push(
            kv.get('iommufd_fd') !== undefined
              ? '--platform iommufd_fd=: a manager opened /dev/iommu and chose its accounting; counted per user, the default'
              : "--platform iommufd=on: cloud-hypervisor opens /dev/iommu itself, so pins count against the user's " +
                  "locked memory, shared with the user's other processes (--user-locked SIZE for what they hold)",
          );
        }
      }
    }
  }
  // the RAM is the zones' when --memory says size=0 (vmm/src/config.rs MemoryConfig)
  if (memory === 0n) {
    if (zones === undefined || zones === 0n)
      throw new InputError(
        `${source}: --memory size=0 ${zones === undefined ? 'without a --memory-zone' : 'and memory zones of size 0'}: the guest has no RAM`,
      );
    memory = zones;
    notes.push(`RAM is the sum of the --memory-zone sizes, laid out one after the other`);
  } else if (zones !== undefined) {
    notes.push(
      '--memory-zone given with a --memory size other than 0: cloud-hypervisor refuses that; zones ignored',
    );
  }
  if (memory === undefined) {
    memory = CH_DEFAULT_MEMORY;
    notes.push('no --memory: cloud-hypervisor gives the guest its default 512 MiB');
  }
  const d = description('cloud-hypervisor', source, memory, devices, {}, notes);
  return {
    ...d,
    ...(backend ? { backend, iommufdAccounting: 'user' as const } : {}),
    ...(guestMapped.length ? { guestMapped } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// crosvm (src/crosvm/cmdline.rs RunCommand, src/crosvm/sys/linux/config.rs VfioOption)

/** serde_keyvalue integers: decimal, 0x hex, 0o octal, 0b binary. */
function crosvmInt(text: string): bigint | undefined {
  const t = text.trim();
  if (/^0[oO][0-7]+$/.test(t)) return BigInt(t);
  if (/^0[bB][01]+$/.test(t)) return BigInt(t);
  return /^([0-9]+|0[xX][0-9a-fA-F]+)$/.test(t) ? parseU64(t) : undefined;
}

/** crosvm's IOMMU kinds for --vfio iommu= (IommuDevType), in words. */
const CV_IOMMUS: Readonly<Record<string, string>> = {
  viommu: 'virtio-iommu',
  coiommu: 'CoIOMMU',
  'pkvm-iommu': 'pKVM IOMMU',
};

/** crosvm's default guest RAM (RunCommand --mem: 256 MiB). */
const CV_DEFAULT_MEMORY = 256n * MiB;
/** create_arch_memory_layout: low PCI memory starts at min(ECAM start, 4 GiB - 768 MiB). */
const CV_LOW_PCI_DEFAULT = (1n << 32n) - 768n * MiB;

export function parseCrosvmWords(words: readonly Word[], source: string, lines: boolean): GuestDescription {
  const where = whereIn(source, lines);
  const run = words.findIndex((w, i) => i > 0 && w.text === 'run');
  if (run < 0)
    throw new InputError(`${source}: no "crosvm run" command found`, {
      hint: 'give the command that starts the VM: crosvm run --mem 4096 --vfio /sys/bus/pci/devices/... KERNEL',
    });
  const notes: string[] = [];
  const devices: string[] = [];
  const options: Record<string, string> = {};
  let memory: bigint | undefined;
  let ecamStart: bigint | undefined;
  const uses = optionUses(
    words,
    run + 1,
    {
      mem: { many: false, short: 'm' },
      vfio: { many: false },
      'vfio-platform': { many: false },
      pci: { many: false },
      'pci-start': { many: false },
      cfg: { many: false },
    },
    where,
  );
  const int = (use: OptionUse, key: string, text: string): bigint => {
    const v = crosvmInt(text);
    if (v === undefined)
      throw new InputError(`${where(use.word, use.values[0])}: ${key}=${text} is not a number`, {
        hint: 'a decimal or 0x hexadecimal number',
      });
    return v;
  };
  for (const use of uses) {
    const value = use.values[0]!;
    if (use.name === 'mem') {
      const kv = keyValues(value, 'size');
      const text = kv.get('size');
      if (text === undefined) continue;
      const mib = int(use, 'size', text);
      if (mib === 0n) throw new InputError(`${where(use.word, value)}: the guest needs some RAM`);
      memory = mib * MiB;
    } else if (use.name === 'vfio') {
      const kv = keyValues(value, 'path');
      const path = kv.get('path') ?? '';
      const bdf = sysfsBdf(path);
      if (bdf === undefined) {
        if (path.includes('/platform/')) notes.push(`--vfio ${path}: a platform device is not modelled`);
        else
          throw new InputError(`${where(use.word, value)}: ${path} is not a PCI device's sysfs directory`, {
            hint: '--vfio /sys/bus/pci/devices/0000:01:00.0',
          });
        continue;
      }
      const iommu = kv.get('iommu');
      if (iommu !== undefined && iommu !== 'off')
        notes.push(
          `--vfio ${bdf} iommu=${iommu}: behind crosvm's ${CV_IOMMUS[iommu] ?? iommu} only what the guest maps is mapped; ` +
            'not modelled, checked as if mapped at boot',
        );
      if (!devices.includes(bdf)) devices.push(bdf);
    } else if (use.name === 'vfio-platform') {
      notes.push(`--vfio-platform ${value}: a platform device is not modelled`);
    } else if (use.name === 'pci') {
      const kv = keyValues(value);
      const sub = (key: string) => {
        const v = kv.get(key);
        return v === undefined ? undefined : keyValues(v.replace(/^\[|\]$/g, ''));
      };
      const start = sub('mem')?.get('start');
      if (start !== undefined) options['pci-mem-start'] = `0x${int(use, 'mem start', start).toString(16)}`;
      const ecam = sub('ecam')?.get('start');
      if (ecam !== undefined) ecamStart = int(use, 'ecam start', ecam);
    } else if (use.name === 'pci-start') {
      options['pci-mem-start'] = `0x${int(use, '--pci-start', value).toString(16)}`;
    } else if (use.name === 'cfg') {
      notes.push(`--cfg ${value}: options in a configuration file are not read`);
    }
  }
  // without mem=[start=...], low PCI memory starts at the ECAM's start when that is lower
  if (options['pci-mem-start'] === undefined && ecamStart !== undefined && ecamStart < CV_LOW_PCI_DEFAULT)
    options['pci-mem-start'] = `0x${ecamStart.toString(16)}`;
  if (memory === undefined) {
    memory = CV_DEFAULT_MEMORY;
    notes.push('no --mem: crosvm gives the guest its default 256 MiB');
  }
  return description('crosvm', source, memory, devices, options, notes);
}

/** Is this word a cloud-hypervisor or crosvm binary? */
export function rustVmmOf(word: string): 'cloud-hypervisor' | 'crosvm' | undefined {
  const base = commandName(word);
  if (base === 'cloud-hypervisor') return 'cloud-hypervisor';
  if (base === 'crosvm') return 'crosvm';
  return undefined;
}
