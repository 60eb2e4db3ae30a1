/**
 * Turning what a user drops or pastes into a HostView: a host snapshot (`iovamap snapshot`), the JSON
 * the web server sends, or the text of one `/sys/kernel/iommu_groups/N/reserved_regions` file. All of it
 * goes through the library's own readers (hostViewFromSnapshot, hostViewFromRaw, parseReservedRegions),
 * so the browser accepts and rejects exactly what the CLI does.
 *
 * Browser-safe: no Node APIs.
 */
import { InputError } from '../base/errors.js';
import type { Range } from '../base/range.js';
import { U64_MAX } from '../base/u64.js';
import { hostViewFromRaw } from '../host/raw.js';
import { SNAPSHOT_FORMAT, hostViewFromSnapshot } from '../host/snapshot.js';
import type { HostView } from '../host/view.js';
import type { Arch } from '../platform/types.js';
import { HOSTVIEW_FORMAT, hostViewFromJson } from './hostview-json.js';

export interface PasteOptions {
  /** The machine the text came from; decides whether `msi` is the ARM software window. */
  readonly arch?: Arch;
  /** IOMMU input address bits (aperture top); 48 by default (SMMUv3, 4-level VT-d). */
  readonly apertureBits?: number;
  readonly file?: string;
}

/**
 * One group from a pasted reserved_regions file. Usable ranges follow vfio_iommu_type1_attach_group:
 * the aperture minus every reserved region except direct-relaxable ones (vfio_iommu_resv_exclude).
 */
export function hostViewFromReservedRegions(text: string, opts: PasteOptions = {}): HostView {
  const file = opts.file ?? 'reserved_regions';
  if (text.trim() === '') {
    throw new InputError('no reserved regions in the text', {
      file,
      hint: 'paste the content of /sys/kernel/iommu_groups/<N>/reserved_regions',
    });
  }
  const bits = opts.apertureBits ?? 48;
  const aperture: Range = { start: 0n, end: bits >= 64 ? U64_MAX : (1n << BigInt(bits)) - 1n };
  const view = hostViewFromRaw({
    source: `pasted:${file}`,
    ...(opts.arch !== undefined ? { arch: opts.arch } : {}),
    aperture,
    groups: [{ id: 0, type: 'DMA', reservedRegions: text, reservedRegionsFile: file, devices: [] }],
    ungrouped: [],
  });
  const arch = view.arch;
  return {
    ...view,
    notes: [
      `Parsed ${view.groups[0]!.regions.length} region(s) from ${file}. Assumed a ${bits}-bit IOMMU aperture and ${
        arch === 'aarch64'
          ? 'an ARM host (msi = software MSI window)'
          : arch === 'x86_64'
            ? 'an x86 host (msi = hardware MSI window)'
            : 'an unknown architecture'
      }.`,
      ...view.notes,
    ],
  };
}

/** A dropped or pasted text: a snapshot or HostView JSON when it looks like JSON, else reserved_regions. */
export function hostViewFromText(text: string, opts: PasteOptions = {}): HostView {
  const t = text.trimStart();
  if (t.startsWith('{')) {
    const file = opts.file ?? 'snapshot.json';
    if (t.includes(SNAPSHOT_FORMAT)) return hostViewFromSnapshot(text, file);
    if (t.includes(HOSTVIEW_FORMAT) || t.includes('"groups"')) return hostViewFromJson(text, file);
    throw new InputError('this JSON is not an iovamap snapshot', {
      file,
      hint: 'create one on the host with "iovamap snapshot --out host.json"',
    });
  }
  return hostViewFromReservedRegions(text, opts);
}
