/**
 * A VMM's guest memory layout drawn over the lanes of the groups being assigned, with every range VFIO
 * would refuse marked as a conflict and explained in the same terms as `iovamap check` (the causes, what
 * VFIO answers, what the VMM prints and does). The checking itself is src/vmm's: this only turns its
 * report into scene items and text.
 *
 * Browser-safe: no Node APIs.
 */
import type { HostView } from '../host/view.js';
import {
  type CheckOptions,
  type CheckReport,
  type Conflict,
  checkLayout,
  selectGroups,
} from '../vmm/check.js';
import type { MemlockLimit } from '../vmm/memlock.js';
import { conflictLines as explainConflict } from '../vmm/explain.js';
import { hostDefaults } from '../vmm/host-defaults.js';
import type { GuestRange, RefusingViommu, VmmModel } from '../vmm/types.js';
import type { Overlay, SceneItem } from './scene.js';

export interface VmmRequest {
  readonly model: VmmModel;
  readonly memory: bigint;
  readonly options?: Readonly<Record<string, string>>;
  /** Groups to assign; all assignable groups when empty. */
  readonly groups?: readonly number[];
  /**
   * Devices to assign (their groups are assigned, in this order), as a VMM's configuration names them;
   * with a vIOMMU, two of one group are a refused group (see CheckOptions).
   */
  readonly devices?: readonly string[];
  /** With a vIOMMU: the conventional PCI bridge each device sits behind (CheckOptions.viommuBridges). */
  readonly viommuBridges?: Readonly<Record<string, string>>;
  /** A vIOMMU that refuses VFIO devices (CheckOptions.viommuWithoutMap). */
  readonly viommuWithoutMap?: RefusingViommu;
  /** Also check the PCI windows (VMMs that DMA-map BARs for peer-to-peer). */
  readonly p2p?: boolean;
  /** The VMM's RLIMIT_MEMLOCK, to check what VFIO pins against (unchecked when absent). */
  readonly memlock?: MemlockLimit;
  /** The guest has a vIOMMU: a container per assigned group (QEMU; see CheckOptions). */
  readonly viommu?: boolean;
  /** The VFIO backend and iommufd's accounting (see CheckOptions). */
  readonly backend?: CheckOptions['backend'];
  readonly iommufdAccounting?: CheckOptions['iommufdAccounting'];
  readonly userLocked?: bigint;
}

export type VmmOverlayResult =
  | {
      readonly ok: true;
      readonly report: CheckReport;
      readonly overlay: Overlay;
      readonly notes: readonly string[];
    }
  | { readonly ok: false; readonly reason: string };

/**
 * The explanation of one conflict as `iovamap check` words it (src/vmm/explain.ts), nested lines indented
 * by two spaces. A range that overlaps hundreds of regions lists the first `maxCauses` and counts the rest.
 */
export function conflictLines(c: Conflict, vmmName: string, maxCauses = 6): string[] {
  const capped = c.causes.length > maxCauses;
  const shown = capped ? { ...c, causes: c.causes.slice(0, maxCauses) } : c;
  const lines = explainConflict(shown, vmmName).map((l) => `${'  '.repeat(l.depth)}${l.text}`);
  if (capped) {
    const at = lines.findIndex((l) => l.startsWith('VFIO: '));
    lines.splice(at, 0, `… and ${c.causes.length - maxCauses} more overlapping regions`);
  }
  return lines;
}

function kindClass(r: GuestRange): string {
  return r.kind === 'ram' ? 'ram' : r.kind === 'firmware' ? 'firmware' : 'pci-window';
}

/** Lays the guest out, checks it against the host and returns the overlay for the assigned groups. */
export function vmmOverlay(host: HostView, req: VmmRequest): VmmOverlayResult {
  const defaults = hostDefaults(req.model, host, req.options ?? {});
  const options = { ...defaults.options, ...(req.options ?? {}) };
  const laid = req.model.layout({ memory: req.memory, options });
  if (!laid.ok) return { ok: false, reason: laid.reason };
  const sel = selectGroups(host, {
    groups: req.groups ?? [],
    devices: req.devices ?? [],
    ...(req.backend !== undefined ? { backend: req.backend } : {}),
  });
  if (!sel.ok) return { ok: false, reason: sel.reason };
  const report = checkLayout(req.model, laid.layout, host, sel.groups, {
    p2p: req.p2p ?? false,
    ...(req.memlock !== undefined ? { memlock: req.memlock } : {}),
    ...(req.viommu ? { viommu: true } : {}),
    ...(req.viommu && req.viommuBridges ? { viommuBridges: req.viommuBridges } : {}),
    ...(req.viommuWithoutMap !== undefined ? { viommuWithoutMap: req.viommuWithoutMap } : {}),
    ...(req.backend !== undefined ? { backend: req.backend } : {}),
    ...(req.iommufdAccounting !== undefined ? { iommufdAccounting: req.iommufdAccounting } : {}),
    ...(req.userLocked !== undefined ? { userLocked: req.userLocked } : {}),
  });
  const refused = report.memlock?.failure?.range;
  const conflictOf = new Map<GuestRange, Conflict>(report.conflicts.map((c) => [c.range, c]));
  const items: SceneItem[] = [];
  for (const r of laid.layout.ranges) {
    const c = conflictOf.get(r);
    const checked = r.kind !== 'pci-window' || req.p2p === true;
    items.push({
      start: r.start,
      end: r.end,
      layer: 'guest',
      cls: kindClass(r),
      label: `${req.model.label}: ${r.what}`,
      notes: [
        `${r.name}: ${checked ? 'DMA-mapped for VFIO (IOVA = guest physical address)' : 'BAR window, not DMA-mapped unless peer-to-peer is checked'}`,
        ...(c ? conflictLines(c, req.model.family) : []),
      ],
      ...(c ? { conflict: true } : {}),
    });
    if (r === refused) {
      items.push({
        start: r.start,
        end: r.end,
        layer: 'conflict',
        cls: 'conflict',
        label:
          `locked memory: ${r.what} is refused with ENOMEM (RLIMIT_MEMLOCK)` +
          (report.memlock!.containers > 1
            ? ` in container ${report.memlock!.failure!.container} of ${report.memlock!.containers}`
            : ''),
        notes: [
          report.memlock!.failure!.vfio,
          ...(report.memlock!.failure!.kernelLog !== undefined
            ? [`kernel log: ${report.memlock!.failure!.kernelLog}`]
            : []),
        ],
        conflict: true,
      });
    }
    if (c) {
      for (const o of c.outside) {
        items.push({
          start: o.start,
          end: o.end,
          layer: 'conflict',
          cls: 'conflict',
          label: `conflict: ${r.what} cannot be mapped here`,
          notes: conflictLines(c, req.model.family),
          conflict: true,
        });
      }
    }
  }
  return {
    ok: true,
    report,
    overlay: { groups: report.groups.map((g) => g.id), items },
    notes: [...defaults.notes, ...sel.notes, ...laid.layout.notes, ...report.notes],
  };
}
