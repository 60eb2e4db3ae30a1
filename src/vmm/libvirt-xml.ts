/**
 * A libvirt domain (`virsh dumpxml NAME`) read back into what `iovamap check` and `plan` need: the
 * QEMU machine, the guest's memory, the options that move it, the PCI host devices (VFIO), a vIOMMU,
 * and the RLIMIT_MEMLOCK libvirt gives the QEMU process (qemuDomainGetMemLockLimitBytes): the
 * <memtune> hard_limit when set; none with <memoryBacking><locked/>; with VFIO devices, the guest's
 * memory + 1 GiB, times the number of VFIO devices when the domain has a vIOMMU (libvirt 8.7 and later).
 *
 * Pure and browser-safe (src/base/xml.ts reads the document); a malformed document or value is an
 * InputError naming the element and the line.
 */
import { InputError } from '../base/errors.js';
import { formatSize } from '../base/u64.js';
import { child, children, parseXml, type XmlElement } from '../base/xml.js';
import { cpuModelVendor, upstreamMachine } from './registry.js';
import type { MemlockLimit } from './memlock.js';
import type { GuestArch, GuestDescription, RefusingViommu } from './types.js';

/** libvirt's scaled integers (virScaleInteger): unit b/bytes, KB (1000) / k/KiB (1024), ... E/EiB. */
const UNITS: Readonly<Record<string, bigint>> = {
  b: 1n,
  bytes: 1n,
  kb: 1000n,
  k: 1024n,
  kib: 1024n,
  mb: 1000n ** 2n,
  m: 1024n ** 2n,
  mib: 1024n ** 2n,
  gb: 1000n ** 3n,
  g: 1024n ** 3n,
  gib: 1024n ** 3n,
  tb: 1000n ** 4n,
  t: 1024n ** 4n,
  tib: 1024n ** 4n,
  pb: 1000n ** 5n,
  p: 1024n ** 5n,
  pib: 1024n ** 5n,
  eb: 1000n ** 6n,
  e: 1024n ** 6n,
  eib: 1024n ** 6n,
};

function scaled(e: XmlElement, source: string, defaultUnit = 'KiB'): bigint {
  const t = e.text.trim();
  const unit = (e.attrs['unit'] ?? defaultUnit).toLowerCase();
  const mul = UNITS[unit];
  if (!/^[0-9]+$/.test(t) || mul === undefined)
    throw new InputError(
      `${source}:${e.line}: <${e.name}> ${JSON.stringify(t)}${e.attrs['unit'] ? ` ${e.attrs['unit']}` : ''}: not a size`,
      {
        hint: `<${e.name} unit='KiB'>16777216</${e.name}>`,
      },
    );
  return BigInt(t) * mul;
}

function hexNum(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const t = v.trim();
  if (/^0x[0-9a-f]+$/i.test(t)) return parseInt(t.slice(2), 16);
  if (/^[0-9]+$/.test(t)) return parseInt(t, 10);
  return undefined;
}

export interface LibvirtDomain extends GuestDescription {
  readonly name?: string;
  /** The RLIMIT_MEMLOCK libvirt sets for the QEMU process, when it sets one. */
  readonly memlock?: MemlockLimit;
  /** How libvirt arrives at that limit. */
  readonly memlockWhy?: string;
  /** The limit is the <memtune> hard_limit. */
  readonly hardLimit: boolean;
  /** <memoryBacking><locked/>: QEMU runs with -overcommit mem-lock=on. */
  readonly locked: boolean;
}

const DUMPXML = 'give the output of "virsh dumpxml DOMAIN"';

/** <os><type arch machine>: the guest architecture and machine type (libvirt's default when absent). */
function domainMachine(
  dom: XmlElement,
  source: string,
  notes: string[],
): { arch?: GuestArch; machine: string } {
  const type = child(child(dom, 'os'), 'type');
  const archAttr = type?.attrs['arch'];
  const arch: GuestArch | undefined =
    archAttr === 'x86_64' || archAttr === 'i686' ? 'x86_64' : archAttr === 'aarch64' ? 'aarch64' : undefined;
  if (archAttr !== undefined && arch === undefined)
    throw new InputError(
      `${source}:${type!.line}: <type arch='${archAttr}'>: only x86_64 and aarch64 guests are modelled`,
    );
  let machine = type?.attrs['machine'];
  if (machine === undefined) {
    machine = arch === 'aarch64' ? 'virt' : 'pc';
    notes.push(`no <type machine=...>: libvirt's default for ${arch ?? 'x86_64'}, ${machine}`);
  }
  const up = upstreamMachine(machine);
  if (up.note) notes.push(up.note);
  return { ...(arch !== undefined ? { arch } : {}), machine: up.machine };
}

/**
 * <memory>, which counts the memory devices too (formatdomain: "includes possible additional memory
 * devices"): the total libvirt's limit is computed from, and the boot RAM (QEMU's -m, the rest).
 */
function domainMemory(dom: XmlElement, source: string, notes: string[]): { total: bigint; ram: bigint } {
  const memEl = child(dom, 'memory');
  if (!memEl) throw new InputError(`${source}: the domain has no <memory>`, { hint: DUMPXML });
  const total = scaled(memEl, source);
  if (total === 0n) throw new InputError(`${source}:${memEl.line}: <memory> 0: a guest needs some RAM`);
  const dimms = children(child(dom, 'devices'), 'memory')
    .map((m) => child(child(m, 'target'), 'size'))
    .filter((s): s is XmlElement => s !== undefined)
    .reduce((t, s) => t + scaled(s, source), 0n);
  const ram = total - dimms;
  if (ram <= 0n)
    throw new InputError(`${source}:${memEl.line}: <memory> is not more than its memory devices`);
  if (dimms > 0n)
    notes.push(
      `${formatSize(dimms)} of <memory> devices (DIMMs, virtio-mem) sit in the hotplug area, which is not modelled`,
    );
  if (child(dom, 'maxMemory'))
    notes.push(
      '<maxMemory>: the memory-hotplug area is not modelled (it moves the 64-bit PCI window up, not the RAM)',
    );
  return { total, ram };
}

/** The layout options the domain sets: the vCPU vendor, phys-bits, the 64-bit PCI hole. */
function domainOptions(dom: XmlElement, source: string, notes: string[]): Record<string, string> {
  const options: Record<string, string> = {};
  const cpu = child(dom, 'cpu');
  const mode = cpu?.attrs['mode'];
  const vendor = child(cpu, 'vendor')?.text.trim();
  const model = child(cpu, 'model')?.text.trim();
  const v =
    vendor === 'AMD'
      ? 'amd'
      : vendor === 'Intel'
        ? 'intel'
        : mode !== 'host-passthrough' && mode !== 'host-model' && model !== undefined
          ? cpuModelVendor(model)
          : undefined;
  if (v !== undefined) options['cpu-vendor'] = v;
  const phys = child(cpu, 'maxphysaddr');
  if (phys?.attrs['mode'] === 'emulate' && phys.attrs['bits'] !== undefined) {
    if (!/^[0-9]+$/.test(phys.attrs['bits']))
      throw new InputError(
        `${source}:${phys.line}: <maxphysaddr bits='${phys.attrs['bits']}'>: not a number`,
      );
    options['phys-bits'] = phys.attrs['bits'];
  } else if (phys?.attrs['mode'] === 'passthrough') {
    notes.push(
      "<maxphysaddr mode='passthrough'>: the guest's phys-bits are the host's, which the model does not know",
    );
  }
  for (const c of children(child(dom, 'devices'), 'controller')) {
    const hole = child(c, 'pcihole64');
    const root = c.attrs['model'] === 'pcie-root' || c.attrs['model'] === 'pci-root';
    if (c.attrs['type'] === 'pci' && root && hole) options['pci-hole64-size'] = String(scaled(hole, source));
  }
  return options;
}

/** The PCI <hostdev>s given to VFIO, as 0000:bb:dd.f, in order. */
function domainHostdevs(devs: XmlElement | undefined, source: string): string[] {
  const devices: string[] = [];
  for (const h of children(devs, 'hostdev')) {
    if (h.attrs['mode'] !== 'subsystem' || h.attrs['type'] !== 'pci') continue;
    const driver = child(h, 'driver')?.attrs['name'];
    if (driver !== undefined && driver !== 'vfio') continue;
    const a = child(child(h, 'source'), 'address');
    const [d, b, s, f] = ['domain', 'bus', 'slot', 'function'].map((k) => hexNum(a?.attrs[k]));
    if (
      a === undefined ||
      b === undefined ||
      s === undefined ||
      f === undefined ||
      f > 7 ||
      s > 31 ||
      b > 255
    )
      throw new InputError(
        `${source}:${(a ?? h).line}: <hostdev>: its <source><address> is not a PCI address`,
        {
          hint: "<address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>",
        },
      );
    const hex = (n: number, w: number) => n.toString(16).padStart(w, '0');
    const bdf = `${hex(d ?? 0, 4)}:${hex(b, 2)}:${hex(s, 2)}.${f}`;
    if (!devices.includes(bdf)) devices.push(bdf);
  }
  return devices;
}

/**
 * The iommufd backend (libvirt 12.1: <hostdev><driver iommufd='yes'/>; 12.2: <iommufd enabled='yes'/> for
 * the whole domain, which a hostdev's iommufd='no' overrides) and its accounting: libvirt opens
 * /dev/iommu and sets per-process accounting (virIOMMUFDOpenDevice); with fdgroup= a manager passes the
 * file, and whoever opened it chose.
 */
function domainIommufd(
  dom: XmlElement,
  devs: XmlElement | undefined,
  notes: string[],
): Pick<GuestDescription, 'backend' | 'iommufdAccounting'> {
  const whole = child(dom, 'iommufd');
  const wholeOn = whole?.attrs['enabled'] === 'yes';
  const vfio = children(devs, 'hostdev').filter(
    (h) => h.attrs['mode'] === 'subsystem' && h.attrs['type'] === 'pci',
  );
  const on = vfio.filter((h) => {
    const v = child(h, 'driver')?.attrs['iommufd'];
    return v === 'yes' || (v !== 'no' && wholeOn);
  });
  if (on.length === 0) return {};
  if (on.length < vfio.length)
    notes.push('some host devices use the legacy container, others iommufd: checked as if all used iommufd');
  if (wholeOn && whole?.attrs['fdgroup'] !== undefined) {
    notes.push(
      `<iommufd fdgroup='${whole.attrs['fdgroup']}'>: a manager opened /dev/iommu and chose its accounting; ` +
        'counted per user, the default (--iommufd-accounting process if it set per-process accounting, as ' +
        "libvirt and KubeVirt's device plugin do)",
    );
    return { backend: 'iommufd', iommufdAccounting: 'user' };
  }
  notes.push(
    'iommufd backend: libvirt opens /dev/iommu and sets per-process accounting (IOMMU_OPTION_RLIMIT_MODE), ' +
      "so other VMs of the user do not count against this one's RLIMIT_MEMLOCK",
  );
  return { backend: 'iommufd', iommufdAccounting: 'process' };
}

/** <iommu model=...>: a vIOMMU the check models, or one QEMU refuses VFIO devices behind. */
function domainViommu(
  devs: XmlElement | undefined,
  devices: readonly string[],
  notes: string[],
): { viommu?: string; withoutMap?: RefusingViommu; present: boolean } {
  const el = child(devs, 'iommu');
  const model = el?.attrs['model'];
  if (model === undefined) return { present: false };
  const iommufd = children(devs, 'hostdev').some((h) => child(h, 'driver')?.attrs['iommufd'] === 'yes');
  const cachingMode = child(el, 'driver')?.attrs['caching_mode'] === 'on';
  if (model === 'intel' && !cachingMode && devices.length > 0)
    return { withoutMap: 'intel-iommu', present: true };
  if (model === 'intel' || model === 'virtio')
    return { viommu: model === 'intel' ? 'intel-iommu' : 'virtio-iommu-pci', present: true };
  if (model === 'smmuv3' && !iommufd) return { withoutMap: 'smmuv3', present: true };
  notes.push(
    `<iommu model='${model}'>: VFIO devices behind it are not modelled; checked as if without a vIOMMU`,
  );
  return { present: true };
}

/**
 * qemuDomainGetMemLockLimitBytes (libvirt): the <memtune> hard limit wins, then <memoryBacking><locked/>
 * (no limit), then, with VFIO devices, the guest's memory + 1 GiB, times the number of VFIO devices when
 * the domain has a vIOMMU (8.7 and later).
 */
function libvirtMemlock(
  dom: XmlElement,
  source: string,
  total: bigint,
  vfioDevices: number,
  viommuPresent: boolean,
): { memlock?: MemlockLimit; why?: string; hard: boolean; locked: boolean } {
  const locked = child(child(dom, 'memoryBacking'), 'locked') !== undefined;
  const hard = child(child(dom, 'memtune'), 'hard_limit');
  if (hard) {
    const memlock = scaled(hard, source);
    return {
      memlock,
      why: `libvirt sets RLIMIT_MEMLOCK to the <memtune> hard_limit, ${formatSize(memlock)}`,
      hard: true,
      locked,
    };
  }
  if (locked)
    return {
      memlock: 'unlimited',
      why: 'libvirt lifts RLIMIT_MEMLOCK for <memoryBacking><locked/>',
      hard: false,
      locked,
    };
  if (vfioDevices === 0) return { hard: false, locked };
  const n = viommuPresent ? BigInt(vfioDevices) : 1n;
  const memlock = n * total + (1n << 30n);
  return {
    memlock,
    why:
      `libvirt sets RLIMIT_MEMLOCK to ${n > 1n ? `${n} x ` : ''}the guest's memory + 1 GiB, ${formatSize(memlock)}` +
      (n > 1n ? ' (8.7 and later: one guest memory per VFIO device behind a vIOMMU)' : ''),
    hard: false,
    locked,
  };
}

/** Reads `virsh dumpxml` output. */
export function parseLibvirtDomain(text: string, source: string): LibvirtDomain {
  const dom = parseXml(text, source, DUMPXML);
  if (dom.name !== 'domain')
    throw new InputError(`${source}:${dom.line}: the root element is <${dom.name}>, not <domain>`, {
      hint: DUMPXML,
    });
  const notes: string[] = [];
  const { arch, machine } = domainMachine(dom, source, notes);
  const { total, ram } = domainMemory(dom, source, notes);
  const options = domainOptions(dom, source, notes);
  const devs = child(dom, 'devices');
  const devices = domainHostdevs(devs, source);
  const { viommu, withoutMap, present } = domainViommu(devs, devices, notes);
  const backend = withoutMap === undefined ? domainIommufd(dom, devs, notes) : {};
  const lim = libvirtMemlock(dom, source, total, devices.length, present);
  if (lim.locked)
    notes.push(
      '<memoryBacking><locked/>: QEMU runs with -overcommit mem-lock=on and mlock()s its memory, which counts ' +
        'against RLIMIT_MEMLOCK as well (libvirt lifts the limit for it)',
    );
  const name = child(dom, 'name')?.text.trim();
  notes.unshift(
    `read from the libvirt domain${name ? ` ${name}` : ''} (${source}): machine ${machine}, ${formatSize(ram)} of RAM, ` +
      (devices.length ? `VFIO ${devices.join(', ')}` : 'no VFIO host device') +
      (viommu ? `, behind ${viommu}` : '') +
      (withoutMap ? `, behind QEMU's ${withoutMap}` : '') +
      (backend.backend === 'iommufd' ? ', through iommufd' : ''),
  );
  return {
    ...(name !== undefined ? { name } : {}),
    ...(arch !== undefined ? { arch } : {}),
    machine,
    memory: ram,
    options,
    devices,
    ...(viommu !== undefined ? { viommu } : {}),
    ...(withoutMap !== undefined ? { viommuWithoutMap: withoutMap } : {}),
    ...backend,
    ...(lim.memlock !== undefined ? { memlock: lim.memlock } : {}),
    ...(lim.why !== undefined ? { memlockWhy: lim.why } : {}),
    locked: lim.locked,
    hardLimit: lim.hard,
    notes,
  };
}
