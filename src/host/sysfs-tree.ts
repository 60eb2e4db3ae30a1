/**
 * The sysfs files a kernel shows for IOMMU groups and PCI devices, both ways, without file IO (the Node
 * layer, ./sysfs-fs.ts, writes and reads real directories; tests and the browser use in-memory trees):
 *
 *   kernel/iommu_groups/N/type                 "DMA\n"            (iommu_group_show_type)
 *   kernel/iommu_groups/N/reserved_regions     "0x%016llx 0x%016llx %s\n" per region
 *   kernel/iommu_groups/N/devices/BDF       -> ../../../../devices/pci0000:00/BDF
 *   devices/pciSSSS:BB/[bridge/]BDF/{vendor,device,class}   "0x8086\n", "0x10d3\n", "0x020000\n"
 *   devices/.../BDF/iommu_group             -> ../../../kernel/iommu_groups/N (depth-adjusted)
 *   devices/.../BDF/driver                  -> ../../../bus/pci/drivers/NAME (depth-adjusted)
 *   bus/pci/devices/BDF                     -> ../../../devices/pciSSSS:BB/.../BDF
 *   bus/pci/drivers/NAME/BDF                -> ../../../../devices/.../BDF
 */
import { InputError } from '../base/errors.js';
import { hex16 } from '../base/u64.js';
import { normalizeBdf } from '../platform/validate.js';
import type { Range } from '../base/range.js';
import { U64_MAX } from '../base/u64.js';
import { HPAGE_PMD_SIZE_FILE, pageSizeOfPmd, pmdSizeOf } from './page-size.js';
import { intelApertureFromCap } from './raw.js';
import type { RawDevice, RawGroup, RawHost } from './raw.js';
import type { HostDeviceView, HostView } from './view.js';

export type SysfsNode =
  | { readonly kind: 'dir' }
  | { readonly kind: 'file'; readonly content: string }
  | { readonly kind: 'symlink'; readonly target: string };

/** Paths relative to the sysfs root, `/`-separated, no leading slash. */
export type SysfsTree = Map<string, SysfsNode>;

const GROUPS = 'kernel/iommu_groups';

const hexN = (n: number, digits: number) => '0x' + n.toString(16).padStart(digits, '0');

/** The device directory of every PCI function, nested under its bridges like /sys/devices/pci0000:00/... */
function devicePaths(devs: readonly HostDeviceView[]): Map<string, string> {
  const byBdf = new Map(devs.map((d) => [d.bdf, d]));
  const out = new Map<string, string>();
  const pathOf = (d: HostDeviceView, depth: number): string => {
    const known = out.get(d.bdf);
    if (known) return known;
    const parent = d.parent !== undefined && depth < 32 ? byBdf.get(d.parent) : undefined;
    const p = parent
      ? `${pathOf(parent, depth + 1)}/${d.bdf}`
      : `devices/pci${d.bdf.slice(0, d.bdf.lastIndexOf(':'))}/${d.bdf}`;
    out.set(d.bdf, p);
    return p;
  };
  for (const d of devs) pathOf(d, 0);
  return out;
}

const up = (fromDir: string) => '../'.repeat(fromDir.split('/').length);

/** The tree a kernel would show for `view` (groups, their regions and devices, PCI devices). */
export function sysfsTreeFromHostView(view: HostView): SysfsTree {
  const tree: SysfsTree = new Map();
  const dir = (p: string) => {
    const parts = p.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const q = parts.slice(0, i).join('/');
      if (!tree.has(q)) tree.set(q, { kind: 'dir' });
    }
  };
  const file = (p: string, content: string) => tree.set(p, { kind: 'file', content });
  const link = (p: string, target: string) => tree.set(p, { kind: 'symlink', target });

  const all: { dev: HostDeviceView; group?: number }[] = [
    ...view.groups.flatMap((g) => g.devices.map((dev) => ({ dev, group: g.id }))),
    ...(view.ungrouped ?? []).map((dev) => ({ dev })),
  ];
  const paths = devicePaths(all.map((x) => x.dev));
  dir(GROUPS);
  dir('bus/pci/devices');
  dir('bus/pci/drivers');
  for (const g of view.groups) {
    const gd = `${GROUPS}/${g.id}`;
    dir(`${gd}/devices`);
    file(`${gd}/type`, `${g.type}\n`);
    file(
      `${gd}/reserved_regions`,
      g.regions.map((r) => `${hex16(r.start)} ${hex16(r.end)} ${r.typeString}\n`).join(''),
    );
    for (const d of g.devices) link(`${gd}/devices/${d.bdf}`, up(`${gd}/devices`) + paths.get(d.bdf)!);
    for (const name of g.otherDevices ?? []) {
      const p = `devices/platform/${name}`;
      dir(p);
      link(`${gd}/devices/${name}`, up(`${gd}/devices`) + p);
      link(`${p}/iommu_group`, `${up(p)}${GROUPS}/${g.id}`);
    }
  }
  for (const { dev, group } of all) {
    const p = paths.get(dev.bdf)!;
    dir(p);
    file(`${p}/vendor`, `${hexN(dev.vendor, 4)}\n`);
    file(`${p}/device`, `${hexN(dev.device, 4)}\n`);
    file(`${p}/class`, `${hexN(dev.class, 6)}\n`);
    if (group !== undefined) link(`${p}/iommu_group`, `${up(p)}${GROUPS}/${group}`);
    if (dev.driver !== 'none') {
      dir(`bus/pci/drivers/${dev.driver}`);
      link(`${p}/driver`, `${up(p)}bus/pci/drivers/${dev.driver}`);
      link(`bus/pci/drivers/${dev.driver}/${dev.bdf}`, `${up(`bus/pci/drivers/${dev.driver}`)}${p}`);
    }
    link(`bus/pci/devices/${dev.bdf}`, `${up('bus/pci/devices')}${p}`);
  }
  if (view.pageSize !== undefined) {
    dir(HPAGE_PMD_SIZE_FILE.slice(0, HPAGE_PMD_SIZE_FILE.lastIndexOf('/')));
    file(HPAGE_PMD_SIZE_FILE, `${pmdSizeOf(view.pageSize)}\n`);
  }
  return tree;
}

/** Read access to a sysfs-like tree. Paths are relative to the root, `/`-separated. */
export interface SysfsReader {
  /** Display form of a path for messages (e.g. `/sys/kernel/iommu_groups/3/type`). */
  show(path: string): string;
  /** File text; undefined when missing (or not a file). */
  readText(path: string): string | undefined;
  /** Entry names of a directory (following symlinks); undefined when not a directory. */
  list(path: string): string[] | undefined;
  /** Target of a symlink; undefined when not a symlink. */
  readlink(path: string): string | undefined;
}

/** A reader over an in-memory tree (tests, browser). */
export function memoryReader(tree: SysfsTree, rootLabel = 'sysfs'): SysfsReader {
  const resolve = (path: string, depth = 0): string => {
    if (depth > 40) return path;
    const parts = path.split('/').filter((s) => s !== '');
    for (let i = 1; i <= parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      const n = tree.get(prefix);
      if (n?.kind === 'symlink') {
        const base = parts.slice(0, i - 1);
        for (const seg of n.target.split('/')) {
          if (seg === '..') base.pop();
          else if (seg !== '.' && seg !== '') base.push(seg);
        }
        return resolve([...base, ...parts.slice(i)].join('/'), depth + 1);
      }
    }
    return parts.join('/');
  };
  return {
    show: (p) => `${rootLabel}/${p}`,
    readText(p) {
      const n = tree.get(resolve(p));
      return n?.kind === 'file' ? n.content : undefined;
    },
    list(p) {
      const r = resolve(p);
      if (tree.get(r)?.kind !== 'dir') return undefined;
      const prefix = r === '' ? '' : `${r}/`;
      const names = new Set<string>();
      for (const k of tree.keys()) {
        if (k.startsWith(prefix) && k.length > prefix.length && !k.slice(prefix.length).includes('/'))
          names.add(k.slice(prefix.length));
      }
      return [...names].sort();
    },
    readlink(p) {
      const cut = p.lastIndexOf('/');
      const at = cut < 0 ? p : `${resolve(p.slice(0, cut))}/${p.slice(cut + 1)}`;
      const n = tree.get(at);
      return n?.kind === 'symlink' ? n.target : undefined;
    },
  };
}

function readHexFile(r: SysfsReader, path: string, digits: number, what: string): number {
  const text = r.readText(path);
  if (text === undefined) throw new InputError(`missing file (${what})`, { file: r.show(path) });
  const first = text.split('\n')[0]!.trim();
  const re = new RegExp(`^0x[0-9a-fA-F]{1,${digits}}$`);
  if (!re.test(first))
    throw new InputError(`cannot parse ${what}: ${JSON.stringify(first)}`, {
      file: r.show(path),
      line: 1,
      hint: `the kernel writes 0x and ${digits} hex digits, e.g. ${what === 'class' ? '0x020000' : '0x8086'}`,
    });
  return parseInt(first, 16);
}

/** PAGE_SIZE from hpage_pmd_size, when the tree has it (kernels with transparent huge pages). */
function readPageSize(r: SysfsReader): number | undefined {
  const text = r.readText(HPAGE_PMD_SIZE_FILE);
  if (text === undefined) return undefined;
  const first = text.split('\n')[0]!.trim();
  const size = /^[0-9]{1,12}$/.test(first) ? pageSizeOfPmd(Number(first)) : undefined;
  if (size === undefined)
    throw new InputError(`cannot parse hpage_pmd_size: ${JSON.stringify(first)}`, {
      file: r.show(HPAGE_PMD_SIZE_FILE),
      line: 1,
      hint: 'the kernel writes the PMD size in bytes: 2097152 (4 KiB pages), 33554432 (16 KiB), 536870912 (64 KiB)',
    });
  return size;
}

function basename(p: string): string {
  const parts = p.split('/').filter((s) => s !== '');
  return parts[parts.length - 1] ?? p;
}

/** Reads one PCI function directory (`bus/pci/devices/BDF` or a group's `devices/BDF`). */
function readDevice(
  r: SysfsReader,
  dirPath: string,
  bdf: string,
  names?: (v: number, d: number) => string | undefined,
): RawDevice {
  const vendor = readHexFile(r, `${dirPath}/vendor`, 4, 'vendor');
  const device = readHexFile(r, `${dirPath}/device`, 4, 'device');
  const cls = readHexFile(r, `${dirPath}/class`, 6, 'class');
  const drv = r.readlink(`${dirPath}/driver`);
  const real = r.readlink(`bus/pci/devices/${bdf}`) ?? r.readlink(dirPath);
  let parent: string | undefined;
  if (real !== undefined) {
    const parts = real.split('/').filter((s) => s !== '' && s !== '..');
    const up1 = parts[parts.length - 2];
    if (up1 !== undefined && normalizeBdf(up1) === up1) parent = up1;
  }
  const name = names?.(vendor, device);
  return {
    bdf,
    vendor,
    device,
    class: cls,
    driver: drv !== undefined ? basename(drv) : 'none',
    ...(name !== undefined ? { name } : {}),
    ...(parent !== undefined ? { parent } : {}),
  };
}

/**
 * The aperture of the IOMMU unit behind a device (its `iommu` link into /sys/class/iommu), where sysfs
 * tells: intel-iommu's `cap` register gives the address width; AMD-Vi domains span 64 bits.
 */
function unitAperture(r: SysfsReader, devDir: string): Range | undefined {
  const link = r.readlink(`${devDir}/iommu`);
  if (link === undefined) return undefined;
  const unit = basename(link);
  const cap = r.readText(`class/iommu/${unit}/intel-iommu/cap`);
  if (cap !== undefined) return intelApertureFromCap(cap);
  if (r.list(`class/iommu/${unit}/amd-iommu`) !== undefined) return { start: 0n, end: U64_MAX };
  return undefined;
}

export interface ReadSysfsOptions {
  /** How to name the source in the view, e.g. `sysfs:/sys`. */
  readonly source: string;
  readonly arch?: RawHost['arch'];
  readonly kernel?: string;
  /** lspci-style name lookup. */
  readonly names?: (vendor: number, device: number) => string | undefined;
}

/**
 * Reads IOMMU groups and PCI devices from a sysfs tree. Missing or garbled files are InputErrors naming
 * the file (and line); a tree with no groups is not an error (the caller explains it).
 */
export function readSysfs(r: SysfsReader, opts: ReadSysfsOptions): RawHost {
  const groupNames = r.list(GROUPS);
  const pciNames = r.list('bus/pci/devices');
  if (groupNames === undefined && pciNames === undefined && r.list('kernel') === undefined)
    throw new InputError('not a sysfs tree: it has neither kernel/iommu_groups nor bus/pci/devices', {
      file: r.show(''),
      hint: 'give the sysfs root (/sys) or a directory written by "iovamap sysfs export"',
    });
  const groups: RawGroup[] = [];
  const grouped = new Set<string>();
  for (const name of groupNames ?? []) {
    const gd = `${GROUPS}/${name}`;
    if (!/^(0|[1-9][0-9]*)$/.test(name))
      throw new InputError(`unexpected entry "${name}": IOMMU group directories are numbers`, {
        file: r.show(gd),
      });
    const text = r.readText(`${gd}/reserved_regions`);
    if (text === undefined)
      throw new InputError('missing file: every IOMMU group has reserved_regions (since 4.11)', {
        file: r.show(`${gd}/reserved_regions`),
      });
    const typeText = r.readText(`${gd}/type`);
    const devNames = r.list(`${gd}/devices`);
    if (devNames === undefined)
      throw new InputError('missing directory: every IOMMU group has devices/', {
        file: r.show(`${gd}/devices`),
      });
    const devices: RawDevice[] = [];
    const otherDevices: string[] = [];
    let aperture: Range | undefined;
    for (const b of devNames) {
      if (normalizeBdf(b) !== b) {
        otherDevices.push(b); // a platform or ACPI device (e.g. e0300000.sata, AMDI0040:00)
        continue;
      }
      grouped.add(b);
      devices.push(readDevice(r, `${gd}/devices/${b}`, b, opts.names));
      aperture ??= unitAperture(r, `${gd}/devices/${b}`);
    }
    groups.push({
      id: Number(name),
      type: typeText === undefined ? undefined : typeText.split('\n')[0]!.trim(),
      reservedRegions: text,
      reservedRegionsFile: r.show(`${gd}/reserved_regions`),
      devices,
      ...(otherDevices.length ? { otherDevices } : {}),
      ...(aperture !== undefined ? { aperture } : {}),
    });
  }
  groups.sort((a, b) => a.id - b.id);
  const ungrouped: RawDevice[] = [];
  for (const b of pciNames ?? []) {
    if (grouped.has(b)) continue;
    if (normalizeBdf(b) !== b)
      throw new InputError(`"${b}" is not a PCI device name (ssss:bb:dd.f)`, {
        file: r.show(`bus/pci/devices/${b}`),
      });
    ungrouped.push(readDevice(r, `bus/pci/devices/${b}`, b, opts.names));
  }
  const pageSize = readPageSize(r);
  return {
    source: opts.source,
    groups,
    ungrouped,
    ...(pageSize !== undefined ? { pageSize } : {}),
    ...(opts.arch !== undefined ? { arch: opts.arch } : {}),
    ...(opts.kernel !== undefined ? { kernel: opts.kernel } : {}),
  };
}
