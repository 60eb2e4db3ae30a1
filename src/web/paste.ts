/**
 * Turning what a user drops or pastes into a HostView: a HostView JSON snapshot, or the text of one
 * `/sys/kernel/iommu_groups/N/reserved_regions` file (parsed by the library's own parser, so the
 * browser accepts and rejects exactly what the CLI does).
 *
 * Browser-safe: no Node APIs.
 */
import { InputError } from '../base/errors.js';
import { IntervalSet } from '../base/interval-set.js';
import type { Range } from '../base/range.js';
import { U64_MAX } from '../base/u64.js';
import type { Arch } from '../platform/types.js';
import type { HostView } from '../host/view.js';
import { ResvType, parseReservedRegions } from '../iommu/resv-region.js';
import { HOSTVIEW_FORMAT, hostViewFromJson } from './hostview-json.js';

export interface PasteOptions {
  /** The machine the text came from; decides whether `msi` is the ARM software window. */
  readonly arch?: Arch;
  /** IOMMU input address bits (aperture top); 48 by default (SMMUv3, 4-level VT-d). */
  readonly apertureBits?: number;
  readonly file?: string;
}

/** Guess the architecture from the regions: x86 always reports the 0xfee00000 APIC window as msi. */
export function guessArch(regions: readonly { start: bigint; typeString: string }[]): Arch {
  return regions.some((r) => r.typeString === 'msi' && r.start === 0xfee00000n) ? 'x86_64' : 'aarch64';
}

/**
 * One group from a pasted reserved_regions file. Usable ranges follow vfio_iommu_type1_attach_group:
 * the aperture minus every reserved region except direct-relaxable ones (vfio_iommu_resv_exclude).
 */
export function hostViewFromReservedRegions(text: string, opts: PasteOptions = {}): HostView {
  const file = opts.file ?? 'reserved_regions';
  const lines = parseReservedRegions(text, file);
  if (lines.length === 0) {
    throw new InputError('no reserved regions in the text', {
      file,
      hint: 'paste the content of /sys/kernel/iommu_groups/<N>/reserved_regions',
    });
  }
  const arch = opts.arch ?? guessArch(lines);
  const bits = opts.apertureBits ?? 48;
  const aperture: Range = { start: 0n, end: bits >= 64 ? U64_MAX : (1n << BigInt(bits)) - 1n };
  let usable = IntervalSet.of([aperture]);
  for (const l of lines) {
    if (l.typeString !== 'direct-relaxable') usable = usable.subtract({ start: l.start, end: l.end });
  }
  const regions = lines.map((l) => {
    const base = { start: l.start, end: l.end, typeString: l.typeString, origin: `${file} line ${l.line}` };
    return l.typeString === 'msi'
      ? { ...base, type: arch === 'aarch64' ? ResvType.SwMsi : ResvType.Msi }
      : base;
  });
  return {
    source: `pasted:${file}`,
    arch,
    aperture,
    groups: [{ id: 0, type: 'DMA', devices: [], regions, usable: usable.ranges }],
    notes: [
      `Parsed ${lines.length} line(s) from ${file}. Assumed a ${bits}-bit IOMMU aperture and ${arch === 'aarch64' ? 'an ARM host (msi = software MSI window)' : 'an x86 host (msi = hardware MSI window)'}.`,
    ],
  };
}

/** A dropped or pasted text: HostView JSON when it looks like JSON, otherwise reserved_regions text. */
export function hostViewFromText(text: string, opts: PasteOptions = {}): HostView {
  const t = text.trimStart();
  if (t.startsWith('{')) {
    if (!t.includes(HOSTVIEW_FORMAT) && !t.includes('"groups"'))
      throw new InputError('this JSON is not an iovamap snapshot (no "groups")', {
        file: opts.file ?? 'snapshot.json',
      });
    return hostViewFromJson(text, opts.file ?? 'snapshot.json');
  }
  return hostViewFromReservedRegions(text, opts);
}
