/**
 * A HostView from pasted `reserved_regions` files (the text of /sys/kernel/iommu_groups/N/reserved_regions),
 * so a user can check a VM layout against a dump from a bug report without the whole sysfs tree.
 * Usable IOVA ranges follow vfio_iommu_resv_exclude: the aperture minus every region except
 * direct-relaxable ones.
 */
import { IntervalSet } from '../base/interval-set.js';
import type { Range } from '../base/range.js';
import { parseReservedRegions } from '../iommu/resv-region.js';
import type { Arch } from '../platform/types.js';
import type { HostGroupView, HostRegionView, HostView } from '../host/view.js';

export interface RegionsFile {
  /** Path or name, used in messages and to find the group number (`.../iommu_groups/19/reserved_regions`). */
  readonly name: string;
  readonly text: string;
  /** Group number; defaults to the one in the path, else the file's position (1-based). */
  readonly group?: number;
  /** Devices of the group, when known. */
  readonly devices?: readonly string[];
}

export interface RegionsHostOptions {
  /** IOMMU input address width in bits (the aperture is [0, 2^bits - 1]); 48 unless told. */
  readonly apertureBits?: number;
  readonly arch?: Arch;
}

/** Group number from a sysfs-like path, if there is one. */
export function groupFromPath(path: string): number | undefined {
  const m = /iommu_groups\/([0-9]+)\/reserved_regions$/.exec(path.replace(/\\/g, '/'));
  return m ? Number(m[1]) : undefined;
}

/** Throws InputError (file, line) for a malformed file, as parseReservedRegions does. */
export function hostViewFromRegions(files: readonly RegionsFile[], opts: RegionsHostOptions = {}): HostView {
  const bits = opts.apertureBits ?? 48;
  const aperture: Range = { start: 0n, end: (1n << BigInt(bits)) - 1n };
  const groups: HostGroupView[] = files.map((f, i) => {
    const lines = parseReservedRegions(f.text, f.name);
    const regions: HostRegionView[] = lines.map((l) => ({
      start: l.start,
      end: l.end,
      typeString: l.typeString,
    }));
    let usable = IntervalSet.of([aperture]);
    for (const r of regions) if (r.typeString !== 'direct-relaxable') usable = usable.subtract(r);
    const id = f.group ?? groupFromPath(f.name) ?? i + 1;
    return {
      id,
      type: 'DMA',
      devices: (f.devices ?? []).map((bdf) => ({ bdf, vendor: 0, device: 0, class: 0, driver: 'vfio-pci' })),
      regions,
      usable: usable.ranges,
    };
  });
  const notes = [
    `IOMMU input range assumed [0, 2^${bits}-1]${opts.apertureBits === undefined ? ' (pass --aperture-bits to change)' : ''}`,
  ];
  const view: HostView = {
    source: `regions:${files.map((f) => f.name).join(',')}`,
    aperture,
    groups,
    notes,
    ...(opts.arch !== undefined ? { arch: opts.arch } : {}),
  };
  return view;
}
