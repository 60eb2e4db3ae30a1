/**
 * The picture's data: one lane per IOMMU group over the IOVA space, each lane holding layered items
 * (reserved regions, usable ranges, what lies outside the aperture, VFIO mappings, a VMM's guest
 * layout), plus the piecewise axis cut at all their boundaries. Pure data, shared by the browser app
 * and the tests; drawing lives in src/web/app/.
 *
 * Browser-safe: no Node APIs.
 */
import type { Range } from '../base/range.js';
import { U64_MAX } from '../base/u64.js';
import type { HostGroupView, HostRegionView, HostView } from '../host/view.js';
import { ResvType, resvTypeName } from '../iommu/resv-region.js';
import { PiecewiseAxis } from './axis.js';

export type Layer = 'outside' | 'usable' | 'resv' | 'guest' | 'map' | 'conflict';

/** Drawing order, bottom to top. */
export const LAYERS: readonly Layer[] = ['outside', 'usable', 'guest', 'resv', 'map', 'conflict'];

export interface SceneItem {
  readonly start: bigint;
  /** Inclusive. */
  readonly end: bigint;
  readonly layer: Layer;
  /** Colour key: msi, sw-msi, reserved, direct, direct-relaxable, usable, outside, ram, mmio, map, ... */
  readonly cls: string;
  /** Short name shown on hover ("MSI window (software)", "guest RAM", "mapping #3"). */
  readonly label: string;
  /** Plain-language lines shown on hover and in the details panel. */
  readonly notes: readonly string[];
  /** Drawn with a red outline: it collides with something the kernel will not allow. */
  readonly conflict?: boolean;
}

export interface Lane {
  readonly key: string;
  readonly groupId?: number;
  readonly title: string;
  readonly subtitle: string;
  /** Short status tags: "interrupts safe", "not assignable", "VM" ... */
  readonly badges: readonly { readonly text: string; readonly tone: 'ok' | 'bad' | 'info' }[];
  /** Items of each layer, sorted by start. */
  readonly layers: Readonly<Record<Layer, readonly SceneItem[]>>;
  /**
   * Axis positions of every item, per layer: [u(start), u(end + 1)] at 2i, 2i+1. Computed once per
   * scene so a frame at ordinary zoom needs only float arithmetic (see Projection.floatSafe).
   */
  readonly u?: Readonly<Record<Layer, Float64Array>>;
}

export interface Overlay {
  /** Group ids the overlay is drawn on; undefined = every lane. */
  readonly groups?: readonly number[];
  readonly items: readonly SceneItem[];
}

export interface Scene {
  readonly source: string;
  readonly lanes: readonly Lane[];
  readonly axis: PiecewiseAxis;
  readonly notes: readonly string[];
  /** Number of drawn items, for the status line. */
  readonly itemCount: number;
}

/** Plain-language meaning of a reserved region, for people who never read the kernel source. */
export function explainRegion(r: HostRegionView, arch?: string): string[] {
  const t = r.type;
  const notes: string[] = [];
  if (r.typeString === 'msi') {
    const sw = t === ResvType.SwMsi || (t === undefined && arch === 'aarch64');
    if (sw) {
      notes.push(
        'Software MSI window: the IOMMU translates device writes, so the kernel picks this IOVA range and maps the interrupt controller doorbell (GIC ITS / GICv2m frame) here when a device enables MSI.',
        'VFIO keeps it out of the usable IOVA ranges: a VM must not put RAM here (VFIO_IOMMU_MAP_DMA answers EINVAL).',
      );
    } else {
      notes.push(
        'Hardware MSI window: writes to this range are interrupt messages that the interrupt controller (or the IOMMU interrupt remapper) intercepts; they never reach memory.',
        'VFIO keeps it out of the usable IOVA ranges.',
      );
    }
  } else if (r.typeString === 'reserved') {
    notes.push(
      'Reserved: DMA to these addresses cannot work (e.g. a bridge window or the HyperTransport hole); VFIO excludes it from the usable ranges.',
    );
  } else if (r.typeString === 'direct') {
    notes.push(
      'Direct mapping required by firmware (RMRR/IVMD/RMR): the device keeps using it, so VFIO refuses to assign the group.',
    );
  } else if (r.typeString === 'direct-relaxable') {
    notes.push(
      'Relaxable direct mapping (e.g. USB or graphics RMRR): needed by the host driver only; VFIO allows assignment and leaves the range usable.',
    );
  }
  if (r.origin !== undefined) notes.push(`From: ${r.origin}`);
  return notes;
}

export function regionClass(r: HostRegionView, arch?: string): string {
  if (r.type !== undefined) return resvTypeName(r.type);
  if (r.typeString === 'msi' && arch === 'aarch64') return 'sw-msi';
  return r.typeString;
}

function regionLabel(cls: string): string {
  switch (cls) {
    case 'sw-msi':
      return 'MSI window (software, IOVA chosen by the kernel)';
    case 'msi':
      return 'MSI window (hardware doorbell)';
    case 'reserved':
      return 'reserved';
    case 'direct':
      return 'direct mapping (firmware)';
    case 'direct-relaxable':
      return 'direct mapping (relaxable)';
    default:
      return cls;
  }
}

const byStart = (a: SceneItem, b: SceneItem) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0);

function emptyLayers(): Record<Layer, SceneItem[]> {
  return { outside: [], usable: [], resv: [], guest: [], map: [], conflict: [] };
}

function groupLane(g: HostGroupView, view: HostView): Lane {
  const layers = emptyLayers();
  for (const r of g.regions) {
    const cls = regionClass(r, view.arch);
    layers.resv.push({
      start: r.start,
      end: r.end,
      layer: 'resv',
      cls,
      label: regionLabel(cls),
      notes: explainRegion(r, view.arch),
    });
  }
  for (const u of g.usable) {
    layers.usable.push({
      start: u.start,
      end: u.end,
      layer: 'usable',
      cls: 'usable',
      label: 'usable IOVA range',
      notes: [
        'VFIO reports this range in VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE: a VM may map its memory here.',
      ],
    });
  }
  for (const o of outsideAperture(view.aperture)) {
    layers.outside.push({
      start: o.start,
      end: o.end,
      layer: 'outside',
      cls: 'outside',
      label: 'outside the IOMMU aperture',
      notes: [
        'The IOMMU cannot translate these addresses (beyond its input address size): not usable for DMA.',
      ],
    });
  }
  const badges: { text: string; tone: 'ok' | 'bad' | 'info' }[] = [{ text: g.type, tone: 'info' }];
  if (g.interruptSafety)
    badges.push({
      text: g.interruptSafety.safe ? 'interrupts isolated' : 'interrupts NOT isolated',
      tone: g.interruptSafety.safe ? 'ok' : 'bad',
    });
  if (g.assignable && !g.assignable.ok) badges.push({ text: 'not assignable', tone: 'bad' });
  const devs = g.devices.map((d) => `${d.bdf}${d.name ? ' ' + d.name : ''} (${d.driver})`);
  for (const k of Object.keys(layers) as Layer[]) layers[k].sort(byStart);
  return {
    key: `group-${g.id}`,
    groupId: g.id,
    title: `group ${g.id}`,
    subtitle: devs.join(', ') || 'no devices',
    badges,
    layers,
  };
}

/** What lies below the aperture start and above its end. */
export function outsideAperture(ap: Range | undefined): Range[] {
  if (!ap) return [];
  const out: Range[] = [];
  if (ap.start > 0n) out.push({ start: 0n, end: ap.start - 1n });
  if (ap.end < U64_MAX) out.push({ start: ap.end + 1n, end: U64_MAX });
  return out;
}

/** Builds the lanes and the axis. Overlays (VMM layout, VFIO mappings) land on their groups' lanes. */
export function buildScene(view: HostView, overlays: readonly Overlay[] = []): Scene {
  const lanes = view.groups.map((g) => groupLane(g, view));
  let itemCount = 0;
  for (const ov of overlays) {
    for (const lane of lanes) {
      if (ov.groups && (lane.groupId === undefined || !ov.groups.includes(lane.groupId))) continue;
      const layers = lane.layers as Record<Layer, SceneItem[]>;
      for (const it of ov.items) layers[it.layer].push(it);
    }
  }
  const marks: Range[] = [];
  const cuts: bigint[] = [];
  for (const lane of lanes) {
    const layers = lane.layers as Record<Layer, SceneItem[]>;
    for (const k of LAYERS) {
      if (overlays.length) layers[k].sort(byStart);
      for (const it of layers[k]) {
        itemCount++;
        if (k === 'usable' || k === 'outside') {
          cuts.push(it.start, it.end + 1n);
        } else {
          marks.push(it);
        }
      }
    }
  }
  const axis = PiecewiseAxis.build(marks, cuts);
  const withU = lanes.map((lane) => {
    const u = {} as Record<Layer, Float64Array>;
    for (const k of LAYERS) {
      const items = lane.layers[k];
      const a = new Float64Array(items.length * 2);
      items.forEach((it, i) => {
        a[2 * i] = axis.toU(it.start);
        a[2 * i + 1] = it.end >= U64_MAX ? 1 : axis.toU(it.end + 1n);
      });
      u[k] = a;
    }
    return { ...lane, u };
  });
  return { source: view.source, lanes: withU, axis, notes: view.notes, itemCount };
}

/** Items of a lane covering `addr`, top layer first. */
export function itemsAt(lane: Lane, addr: bigint): SceneItem[] {
  const out: SceneItem[] = [];
  for (let li = LAYERS.length - 1; li >= 0; li--) {
    const items = lane.layers[LAYERS[li]!];
    // Sorted by start: binary search the last item starting at or before addr, then walk back while
    // earlier items might still cover it (they may overlap within a layer).
    let lo = 0;
    let hi = items.length - 1;
    let at = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (items[mid]!.start <= addr) {
        at = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    for (let i = at, n = 0; i >= 0 && n < 64; i--, n++) {
      const it = items[i]!;
      if (it.end >= addr) out.push(it);
    }
  }
  return out;
}

/** Items of a lane overlapping [a, b], top layer first, at most `limit` per layer (for fuzzy hover). */
export function itemsIn(lane: Lane, a: bigint, b: bigint, limit = 4): SceneItem[] {
  const out: SceneItem[] = [];
  for (let li = LAYERS.length - 1; li >= 0; li--) {
    const items = lane.layers[LAYERS[li]!];
    let lo = 0;
    let hi = items.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (items[mid]!.start <= b) lo = mid + 1;
      else hi = mid;
    }
    // items[0..lo) start at or before b; walk back to those that reach a.
    let n = 0;
    for (let i = lo - 1; i >= 0 && n < limit && lo - i <= 256; i--) {
      const it = items[i]!;
      if (it.end >= a) {
        out.push(it);
        n++;
      }
    }
  }
  return out;
}
