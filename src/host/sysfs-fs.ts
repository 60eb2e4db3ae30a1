/**
 * NODE-ONLY: file-system side of ./sysfs-tree.ts (writing an export, reading /sys or an export) and
 * the system's pci.ids. Browser code must not import this module.
 */
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { release } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { InputError } from '../base/errors.js';
import type { Arch } from '../platform/types.js';
import { BUILTIN_PCI_IDS, lspciDeviceName, parsePciIds } from './pci-ids.js';
import type { PciIds } from './pci-ids.js';
import { hostViewFromRaw, noGroupsExplanation } from './raw.js';
import { readSysfs } from './sysfs-tree.js';
import type { SysfsReader, SysfsTree } from './sysfs-tree.js';
import type { HostView } from './view.js';

/** Where distributions install pci.ids (pciutils / hwdata). `IOVAMAP_PCI_IDS` overrides (tests). */
export const PCI_IDS_PATHS = ['/usr/share/misc/pci.ids', '/usr/share/hwdata/pci.ids', '/usr/share/pci.ids'];

let pciIdsCache: { key: string; ids: PciIds; found: boolean } | undefined;

/** The system's pci.ids, or class names only when there is none. */
export function systemPciIds(): { ids: PciIds; found: boolean } {
  const override = process.env['IOVAMAP_PCI_IDS'];
  const candidates = override !== undefined ? [override] : PCI_IDS_PATHS;
  const key = candidates.join(':');
  if (pciIdsCache?.key === key) return pciIdsCache;
  for (const p of candidates) {
    try {
      const ids = parsePciIds(readFileSync(p, 'utf8'));
      pciIdsCache = { key, ids, found: true };
      return pciIdsCache;
    } catch {
      // not installed here: try the next place
    }
  }
  pciIdsCache = { key, ids: BUILTIN_PCI_IDS, found: false };
  return pciIdsCache;
}

/** lspci device names from the system's pci.ids; undefined where it has none. */
export function systemDeviceNames(): ((v: number, d: number) => string | undefined) | undefined {
  const { ids, found } = systemPciIds();
  if (!found) return undefined;
  return (v, d) => (ids.vendorName(v) !== undefined ? lspciDeviceName(ids, v, d) : undefined);
}

/**
 * mkdir -p, one component at a time: Node's `mkdirSync(p, { recursive: true })` retries forever where
 * mkdir answers ENOENT under an existing parent (/proc), so `--out /proc/x` hung.
 */
function mkdirs(path: string): void {
  const missing: string[] = [];
  for (let p = resolve(path); !existsSync(p); p = dirname(p)) {
    missing.push(p);
    if (dirname(p) === p) break;
  }
  for (const p of missing.reverse()) mkdirSync(p);
}

/** Writes a sysfs tree under `dir`, which must not exist or be empty. */
export function writeSysfsTree(tree: SysfsTree, dir: string): void {
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new InputError('exists and is not a directory', { file: dir });
    if (readdirSync(dir).length > 0)
      throw new InputError('directory is not empty', {
        file: dir,
        hint: 'give a new or empty directory to --out',
      });
  }
  try {
    mkdirs(dir);
    const entries = [...tree.entries()].sort(([a], [b]) => a.localeCompare(b));
    for (const [p, n] of entries) if (n.kind === 'dir') mkdirs(join(dir, p));
    for (const [p, n] of entries) {
      if (n.kind === 'file') writeFileSync(join(dir, p), n.content);
      else if (n.kind === 'symlink') symlinkSync(n.target, join(dir, p));
    }
  } catch (e) {
    throw new InputError(`cannot write the tree: ${(e as Error).message}`, { file: dir });
  }
}

/** A reader over a real directory (/sys or an export). */
export function fsReader(root: string): SysfsReader {
  const abs = (p: string) => (p === '' ? root : join(root, p));
  return {
    show: (p) => abs(p),
    readText(p) {
      try {
        return readFileSync(abs(p), 'utf8');
      } catch {
        return undefined;
      }
    },
    list(p) {
      try {
        return readdirSync(abs(p)).sort();
      } catch {
        return undefined;
      }
    },
    readlink(p) {
      try {
        return readlinkSync(abs(p));
      } catch {
        return undefined;
      }
    },
  };
}

function hostArch(): Arch | undefined {
  return process.arch === 'x64' ? 'x86_64' : process.arch === 'arm64' ? 'aarch64' : undefined;
}

/** Reads a sysfs root into a HostView; the live /sys also gives the running kernel and architecture. */
export function hostViewFromSysfsDir(dir: string): HostView {
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new InputError('no such directory', {
      file: dir,
      hint: 'give /sys or a directory written by "iovamap sysfs export"',
    });
  const live = resolve(dir) === '/sys';
  const names = systemDeviceNames();
  const raw = readSysfs(fsReader(dir), {
    source: `sysfs:${dir}`,
    ...(live && hostArch() !== undefined ? { arch: hostArch()! } : {}),
    ...(live ? { kernel: release() } : {}),
    ...(names ? { names } : {}),
  });
  const view = hostViewFromRaw(
    live
      ? { ...raw, iommufd: { dev: existsSync('/dev/iommu'), deviceFiles: existsSync('/dev/vfio/devices') } }
      : raw,
  );
  if (view.groups.length === 0) {
    const why = noGroupsExplanation(view.arch, live ? undefined : join(dir, 'kernel/iommu_groups'));
    return { ...view, notes: [why, ...view.notes] };
  }
  return view;
}
