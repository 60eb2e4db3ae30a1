/**
 * A libvirt domain (`virsh dumpxml NAME`) read back into what `iovamap check` and `plan` need: the
 * QEMU machine, the guest's memory, the options that move it, the PCI host devices (VFIO), a vIOMMU,
 * and the RLIMIT_MEMLOCK libvirt gives the QEMU process (qemuDomainGetMemLockLimitBytes): the
 * <memtune> hard_limit when set; none with <memoryBacking><locked/>; with VFIO devices, the guest's
 * memory + 1 GiB, times the number of VFIO devices when the domain has a vIOMMU (libvirt 8.7 and later).
 *
 * Pure and browser-safe, with its own small XML reader (elements, attributes, text, comments, CDATA,
 * the five predefined entities and character references); a malformed document or value is an
 * InputError naming the element and the line.
 */
import { InputError } from '../base/errors.js';
import { formatSize } from '../base/u64.js';
import type { MemlockLimit } from './memlock.js';
import type { GuestArch, GuestDescription, RefusingViommu } from './types.js';

/** One element of the document. */
interface XmlElement {
  readonly name: string;
  readonly attrs: Readonly<Record<string, string>>;
  readonly children: XmlElement[];
  text: string;
  readonly line: number;
}

const ENTITIES: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decode(s: string, source: string, line: number): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (m, e: string) => {
    if (e.startsWith('#')) {
      const cp = e.startsWith('#x') ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      if (!(cp <= 0x10ffff)) throw new InputError(`${source}:${line}: ${m} is not a character`);
      return String.fromCodePoint(cp);
    }
    const v = ENTITIES[e];
    if (v === undefined) throw new InputError(`${source}:${line}: unknown entity ${m}`);
    return v;
  });
}

/** Parses an XML document into its root element. */
export function parseXml(text: string, source: string): XmlElement {
  let i = 0;
  let line = 1;
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  const fail = (what: string): never => {
    throw new InputError(`${source}:${line}: ${what}`, { hint: 'give the output of "virsh dumpxml DOMAIN"' });
  };
  const advance = (to: number) => {
    for (let k = i; k < to; k++) if (text.charCodeAt(k) === 10) line++;
    i = to;
  };
  while (i < text.length) {
    const lt = text.indexOf('<', i);
    if (lt < 0) {
      if (text.slice(i).trim() !== '' && stack.length === 0) fail('text after the document');
      if (stack.length) stack[stack.length - 1]!.text += decode(text.slice(i), source, line);
      advance(text.length);
      break;
    }
    if (lt > i) {
      const t = text.slice(i, lt);
      if (stack.length) stack[stack.length - 1]!.text += decode(t, source, line);
      else if (t.trim() !== '') fail('text outside the root element');
      advance(lt);
    }
    if (text.startsWith('<!--', i)) {
      const end = text.indexOf('-->', i + 4);
      if (end < 0) fail('a comment is not closed');
      advance(end + 3);
      continue;
    }
    if (text.startsWith('<![CDATA[', i)) {
      const end = text.indexOf(']]>', i + 9);
      if (end < 0) fail('a CDATA section is not closed');
      if (stack.length) stack[stack.length - 1]!.text += text.slice(i + 9, end);
      advance(end + 3);
      continue;
    }
    if (text.startsWith('<?', i) || text.startsWith('<!', i)) {
      const end = text.indexOf('>', i);
      if (end < 0) fail('a declaration is not closed');
      advance(end + 1);
      continue;
    }
    if (text.startsWith('</', i)) {
      const m = /^<\/([A-Za-z_][\w.:-]*)\s*>/.exec(text.slice(i, i + 300));
      if (!m) fail('a malformed closing tag');
      const open = stack.pop();
      if (!open || open.name !== m![1])
        fail(`</${m![1]}> closes ${open ? `<${open.name}> (line ${open.line})` : 'nothing'}`);
      advance(i + m![0].length);
      continue;
    }
    const m = /^<([A-Za-z_][\w.:-]*)((?:\s+[A-Za-z_][\w.:-]*\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/.exec(
      text.slice(i, i + 20000),
    );
    if (!m) fail('a malformed tag');
    const attrs: Record<string, string> = {};
    for (const a of m![2]!.matchAll(/([A-Za-z_][\w.:-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')/g))
      attrs[a[1]!] = decode(a[2] ?? a[3] ?? '', source, line);
    const el: XmlElement = { name: m![1]!, attrs, children: [], text: '', line };
    if (stack.length) stack[stack.length - 1]!.children.push(el);
    else if (root) fail('a second root element');
    else root = el;
    if (m![3] !== '/') stack.push(el);
    advance(i + m![0].length);
  }
  if (stack.length)
    throw new InputError(
      `${source}: <${stack[stack.length - 1]!.name}> (line ${stack[stack.length - 1]!.line}) is not closed`,
    );
  if (!root)
    throw new InputError(`${source}: empty document`, { hint: 'give the output of "virsh dumpxml DOMAIN"' });
  return root;
}

function child(e: XmlElement | undefined, name: string): XmlElement | undefined {
  return e?.children.find((c) => c.name === name);
}

function children(e: XmlElement | undefined, name: string): XmlElement[] {
  return e?.children.filter((c) => c.name === name) ?? [];
}

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

/** Reads `virsh dumpxml` output. */
export function parseLibvirtDomain(text: string, source: string): LibvirtDomain {
  const dom = parseXml(text, source);
  if (dom.name !== 'domain')
    throw new InputError(`${source}:${dom.line}: the root element is <${dom.name}>, not <domain>`, {
      hint: 'give the output of "virsh dumpxml DOMAIN"',
    });
  const notes: string[] = [];
  const os = child(dom, 'os');
  const type = child(os, 'type');
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
  const rhel = /^(pc-q35|pc-i440fx|virt)-rhel[0-9.]+$/.exec(machine);
  if (rhel) {
    notes.push(
      `machine ${machine} is a downstream (RHEL) type: laid out as the upstream machine of the latest version`,
    );
    machine = rhel[1] === 'pc-q35' ? 'q35' : rhel[1] === 'pc-i440fx' ? 'pc' : 'virt';
  }
  const memEl = child(dom, 'memory');
  if (!memEl) throw new InputError(`${source}: the domain has no <memory>`);
  const memory = scaled(memEl, source);
  if (memory === 0n) throw new InputError(`${source}:${memEl.line}: <memory> 0: a guest needs some RAM`);
  const devs = child(dom, 'devices');
  // pc-dimm / virtio-mem devices add RAM the guest gets later; libvirt's total counts them
  const dimms = children(devs, 'memory')
    .map((m) => child(child(m, 'target'), 'size'))
    .filter((s): s is XmlElement => s !== undefined)
    .reduce((t, s) => t + scaled(s, source), 0n);
  // <memory> counts the memory devices too (formatdomain: "includes possible additional memory
  // devices"); QEMU's -m is the rest, and the devices land in the hotplug area
  const ram = memory - dimms;
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
  const options: Record<string, string> = {};
  const cpu = child(dom, 'cpu');
  const mode = cpu?.attrs['mode'];
  const model = child(cpu, 'model')?.text.trim();
  const vendor = child(cpu, 'vendor')?.text.trim();
  if (vendor === 'AMD') options['cpu-vendor'] = 'amd';
  else if (vendor === 'Intel') options['cpu-vendor'] = 'intel';
  else if (mode !== 'host-passthrough' && mode !== 'host-model' && model !== undefined) {
    if (/^(epyc|opteron|phenom|athlon|dhyana)/i.test(model)) options['cpu-vendor'] = 'amd';
    else if (!/^(qemu64|max)$/i.test(model)) options['cpu-vendor'] = 'intel';
  }
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
  for (const c of children(devs, 'controller')) {
    const hole = child(c, 'pcihole64');
    if (
      c.attrs['type'] === 'pci' &&
      (c.attrs['model'] === 'pcie-root' || c.attrs['model'] === 'pci-root') &&
      hole
    )
      options['pci-hole64-size'] = String(scaled(hole, source));
  }
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
  const iommu = child(devs, 'iommu')?.attrs['model'];
  let viommu: string | undefined;
  let withoutMap: RefusingViommu | undefined;
  const iommufd = children(devs, 'hostdev').some((h) => child(h, 'driver')?.attrs['iommufd'] === 'yes');
  const cachingMode = child(child(devs, 'iommu'), 'driver')?.attrs['caching_mode'] === 'on';
  if (iommu === 'intel' && !cachingMode && devices.length > 0) withoutMap = 'intel-iommu';
  else if (iommu === 'intel' || iommu === 'virtio')
    viommu = iommu === 'intel' ? 'intel-iommu' : 'virtio-iommu-pci';
  else if (iommu === 'smmuv3' && !iommufd) withoutMap = 'smmuv3';
  else if (iommu !== undefined)
    notes.push(
      `<iommu model='${iommu}'>: VFIO devices behind it are not modelled; checked as if without a vIOMMU`,
    );
  const locked = child(child(dom, 'memoryBacking'), 'locked') !== undefined;
  const hard = child(child(dom, 'memtune'), 'hard_limit');
  // qemuDomainGetMemLockLimitBytes: the hard limit wins, then <locked/>, then VFIO's rule
  let memlock: MemlockLimit | undefined;
  let memlockWhy: string | undefined;
  const total = memory;
  if (hard) {
    memlock = scaled(hard, source);
    memlockWhy = `libvirt sets RLIMIT_MEMLOCK to the <memtune> hard_limit, ${formatSize(memlock)}`;
  } else if (locked) {
    memlock = 'unlimited';
    memlockWhy = 'libvirt lifts RLIMIT_MEMLOCK for <memoryBacking><locked/>';
  } else if (devices.length > 0) {
    const n = viommu !== undefined ? BigInt(devices.length) : 1n;
    memlock = n * total + (1n << 30n);
    memlockWhy =
      `libvirt sets RLIMIT_MEMLOCK to ${n > 1n ? `${n} x ` : ''}the guest's memory + 1 GiB, ${formatSize(memlock)}` +
      (n > 1n ? ' (8.7 and later: one guest memory per VFIO device behind a vIOMMU)' : '');
  }
  if (locked)
    notes.push(
      '<memoryBacking><locked/>: QEMU runs with -overcommit mem-lock=on and mlock()s its memory, which counts ' +
        'against RLIMIT_MEMLOCK as well (libvirt lifts the limit for it)',
    );
  const name = child(dom, 'name')?.text.trim();
  notes.unshift(
    `read from the libvirt domain${name ? ` ${name}` : ''} (${source}): machine ${machine}, ${formatSize(ram)} of RAM, ` +
      (devices.length ? `VFIO ${devices.join(', ')}` : 'no VFIO host device') +
      (viommu ? `, behind ${viommu}` : '') +
      (withoutMap ? `, behind QEMU's ${withoutMap}` : ''),
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
    ...(memlock !== undefined ? { memlock } : {}),
    ...(memlockWhy !== undefined ? { memlockWhy } : {}),
    locked,
    hardLimit: hard !== undefined,
    notes,
  };
}
