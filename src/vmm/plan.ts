/**
 * The planner: the largest guest that fits a host, the VMM options that make an asked size fit, and other
 * VMM layouts that take it as asked. Every candidate is verified by laying it out and checking it again
 * (checkLayout); nothing is assumed about a VMM beyond its model.
 */
import { type Range } from '../base/range.js';
import type { HostView } from '../host/view.js';
import {
  type Blocker,
  type CheckOptions,
  type CheckReport,
  type SelectedGroup,
  checkLayout,
} from './check.js';
import { hex } from '../base/u64.js';
import { roundDown } from './common.js';
import { exactSize } from './explain.js';
import { memlockExcess, type MemlockLimit } from './memlock.js';
import type { GuestLayout, LayoutRequest, LayoutResult, RefusingViommu, VmmModel } from './types.js';

export interface Evaluation {
  readonly model: VmmModel;
  readonly request: LayoutRequest;
  readonly result: LayoutResult;
  readonly report?: CheckReport;
  readonly fits: boolean;
}

export interface Suggestion {
  readonly kind: 'as-asked' | 'less-memory' | 'options' | 'other-vmm';
  readonly model: VmmModel;
  readonly layout: GuestLayout;
  /** Options that differ from the asked ones (for `options`), all effective ones otherwise. */
  readonly changed: Readonly<Record<string, string>>;
  /** The VMM's own command line for it. */
  readonly commandLine: string;
  readonly why: string;
}

export interface Plan {
  readonly asked: Evaluation;
  readonly fitsAsAsked: boolean;
  /** The largest size that fits with the asked options (absent when none does). */
  readonly largest?: Suggestion;
  readonly options: readonly Suggestion[];
  readonly others: readonly Suggestion[];
  /** Group problems no layout can fix. */
  readonly blockers: readonly Blocker[];
  readonly notes: readonly string[];
}

export function evaluate(
  model: VmmModel,
  request: LayoutRequest,
  host: HostView,
  groups: readonly SelectedGroup[],
  check: CheckOptions = {},
): Evaluation {
  const result = model.layout(request);
  if (!result.ok) return { model, request, result, fits: false };
  const report = checkLayout(model, result.layout, host, groups, check);
  const fits = report.conflicts.length === 0 && report.memlock?.failure === undefined;
  return { model, request, result, report, fits };
}

/** The fatal bytes of an evaluation: what a size or an option must avoid. */
function trouble(e: Evaluation): Range[] {
  return (e.report?.conflicts ?? []).filter((c) => c.fatal).flatMap((c) => [...c.outside]);
}

/**
 * Largest size <= limit that fits. Within one interval between the model's breakpoints the layout is a
 * prefix of the larger one, so the RAM laid out below the first refused byte is the next candidate; each
 * candidate is verified, and the walk stays inside the interval.
 */
export function largestFit(
  model: VmmModel,
  request: LayoutRequest,
  host: HostView,
  groups: readonly SelectedGroup[],
  limit: bigint = request.memory,
  check: CheckOptions = {},
): Evaluation | undefined {
  const g = model.memoryGranule;
  const top = roundDown(limit, g);
  const cuts = [...new Set(model.breakpoints({ ...request, memory: top }).map((b) => roundDown(b, g)))]
    .filter((b) => b > 0n && b <= top)
    .sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
  const segments: [bigint, bigint][] = [];
  let hi = top;
  for (const c of cuts) {
    if (c <= hi) {
      segments.push([c, hi]);
      hi = c - g;
    }
  }
  if (hi >= g) segments.push([g, hi]);
  for (const [lo, segHi] of segments) {
    let s = segHi;
    for (let step = 0; step < 64 && s >= lo; step++) {
      const e = evaluate(model, { ...request, memory: s }, host, groups, check);
      if (!e.result.ok) break;
      if (e.fits) return e;
      const bad = trouble(e);
      if (bad.length === 0) {
        // Only RLIMIT_MEMLOCK: RAM is pinned byte for byte in each container, so the excess shared
        // among the containers is what must go.
        const m = e.report?.memlock;
        const excess = m ? memlockExcess(m) : 0n;
        if (excess === 0n) break;
        const n = BigInt(m!.containers);
        const over = (excess + n - 1n) / n;
        const next = roundDown(s - over < s - g ? s - over : s - g, g);
        if (next < g) break;
        s = next;
        continue;
      }
      const firstBad = bad.reduce((m, r) => (r.start < m ? r.start : m), bad[0]!.start);
      const layout = e.result.layout;
      if (layout.ranges.some((r) => r.kind !== 'ram' && r.start <= firstBad && firstBad <= r.end)) {
        break; // a fixed range (firmware) conflicts: no RAM size helps in this interval
      }
      // RAM at or above the first refused byte is what must go (counting from the top keeps RAM the
      // VMM hides under ROM or holes below it, like QEMU's 640 KiB-1 MiB, in the size).
      let above = 0n;
      for (const r of layout.ranges) {
        if (r.kind !== 'ram' || r.end < firstBad) continue;
        above += r.end - (r.start > firstBad ? r.start : firstBad) + 1n;
      }
      const cut = s - above;
      const next = roundDown(cut < s - g ? cut : s - g, g);
      if (next >= s) break;
      s = next;
    }
  }
  return undefined;
}

function firstCauseText(e: Evaluation): string {
  const c = e.report?.conflicts.find((x) => x.fatal);
  if (!c) return '';
  const cause = c.causes[0];
  if (!cause) return '';
  const what =
    cause.kind === 'region'
      ? `${cause.name} [${hex(cause.region.start)}, ${hex(cause.region.end)}]`
      : cause.why;
  return `${c.range.what} would reach the ${what}`;
}

function suggestion(
  kind: Suggestion['kind'],
  e: Evaluation,
  changed: Record<string, string>,
  why: string,
): Suggestion | undefined {
  if (!e.result.ok) return undefined;
  return {
    kind,
    model: e.model,
    layout: e.result.layout,
    changed,
    commandLine: e.model.commandLine(e.result.layout),
    why,
  };
}

/** Option sets to try: each knob value alone, then pairs across two knobs. Larger sizes first. */
function optionCandidates(
  model: VmmModel,
  request: LayoutRequest,
  bad: readonly Range[],
): Record<string, string>[] {
  const knobs = model.knobs(request, bad);
  const out: Record<string, string>[] = [];
  for (const k of knobs) for (const v of k.values) out.push({ [k.option]: v });
  for (let i = 0; i < knobs.length; i++) {
    for (let j = i + 1; j < knobs.length; j++) {
      for (const a of knobs[i]!.values)
        for (const b of knobs[j]!.values) {
          out.push({ [knobs[i]!.option]: a, [knobs[j]!.option]: b });
        }
    }
  }
  return out;
}

export interface PlanOptions {
  /** Other VMM models to try at the asked size. */
  readonly others?: readonly VmmModel[];
  /** Host-derived default options per model (e.g. cpu-vendor=amd on an AMD host). */
  readonly defaultsFor?: (m: VmmModel) => Record<string, string>;
  /** The VMM's RLIMIT_MEMLOCK: a layout fits only when what VFIO pins stays within it. */
  readonly memlock?: MemlockLimit;
  /** The guest has a vIOMMU: one container per group (see CheckOptions). */
  readonly viommu?: boolean;
  /** With a vIOMMU: the conventional PCI bridge of each device, when known (see CheckOptions). */
  readonly viommuBridges?: Readonly<Record<string, string>>;
  /** A vIOMMU that refuses VFIO devices (see CheckOptions). */
  readonly viommuWithoutMap?: RefusingViommu;
  /** The VFIO backend and, for iommufd, how pins are counted (see CheckOptions). */
  readonly backend?: CheckOptions['backend'];
  readonly iommufdAccounting?: CheckOptions['iommufdAccounting'];
  readonly userLocked?: bigint;
  /** Devices behind the VMM's own virtio-iommu (see CheckOptions). */
  readonly guestMapped?: CheckOptions['guestMapped'];
}

export function planLayout(
  model: VmmModel,
  request: LayoutRequest,
  host: HostView,
  groups: readonly SelectedGroup[],
  opts: PlanOptions = {},
): Plan {
  const ml = opts.memlock;
  const check: CheckOptions = {
    ...(ml !== undefined ? { memlock: ml } : {}),
    ...(opts.viommu ? { viommu: true } : {}),
    ...(opts.viommuBridges ? { viommuBridges: opts.viommuBridges } : {}),
    ...(opts.viommuWithoutMap !== undefined ? { viommuWithoutMap: opts.viommuWithoutMap } : {}),
    ...(opts.backend !== undefined ? { backend: opts.backend } : {}),
    ...(opts.iommufdAccounting !== undefined ? { iommufdAccounting: opts.iommufdAccounting } : {}),
    ...(opts.userLocked !== undefined ? { userLocked: opts.userLocked } : {}),
    ...(opts.guestMapped !== undefined ? { guestMapped: opts.guestMapped } : {}),
  };
  const asked = evaluate(model, request, host, groups, check);
  const blockers = asked.report?.blockers ?? [];
  const notes: string[] = [];
  if (asked.fits) {
    return { asked, fitsAsAsked: true, options: [], others: [], blockers, notes };
  }
  const bad = trouble(asked);
  let largest: Suggestion | undefined;
  const best = largestFit(model, request, host, groups, request.memory, check);
  if (best) {
    const overLimit = asked.report?.memlock?.failure !== undefined && typeof ml === 'bigint';
    largest = suggestion(
      'less-memory',
      best,
      {},
      firstCauseText(asked)
        ? `the largest guest with these options; with more, the ${firstCauseText(asked)}`
        : overLimit
          ? `the largest guest whose pinned memory fits RLIMIT_MEMLOCK (${exactSize(ml)})`
          : 'the largest guest with these options',
    );
  } else {
    notes.push(`no memory size fits ${model.label} with these options on this host`);
  }
  if (
    check.backend === 'iommufd' &&
    (check.iommufdAccounting ?? 'user') === 'user' &&
    (check.userLocked ?? 0n) > 0n &&
    asked.report?.memlock?.failure !== undefined &&
    evaluate(model, request, host, groups, { ...check, iommufdAccounting: 'process' }).fits
  )
    notes.push(
      `with per-process accounting (IOMMU_OPTION_RLIMIT_MODE=1, which libvirt 12.2 and later sets) ` +
        `${exactSize(request.memory)} fits: the user's other processes then do not count against this limit`,
    );
  const options: Suggestion[] = [];
  const seen = new Set<string>();
  for (const cand of optionCandidates(model, request, bad)) {
    const key = Object.keys(cand).sort().join(',');
    if (seen.has(key)) continue;
    // A pair is only worth showing when neither of its options works alone.
    if (options.some((o) => Object.keys(o.changed).every((k) => k in cand))) continue;
    const merged = { ...request.options, ...cand };
    if (Object.entries(cand).every(([k, v]) => request.options[k] === v)) continue;
    const e = evaluate(model, { memory: request.memory, options: merged }, host, groups, check);
    if (!e.fits) continue;
    seen.add(key);
    const knobs = model.knobs(request, bad).filter((k) => k.option in cand);
    const s = suggestion('options', e, cand, knobs.map((k) => k.why).join('; '));
    if (s) options.push(s);
    if (options.length >= 3) break;
  }
  const others: Suggestion[] = [];
  for (const m of opts.others ?? []) {
    if (m.id === model.id || m.arch !== model.arch || !m.supportsVfio) continue;
    // a vIOMMU's containers are modelled for QEMU only; only QEMU and cloud-hypervisor have iommufd
    if (opts.viommu && m.family !== 'qemu') continue;
    if (check.backend === 'iommufd' && m.family !== 'qemu' && m.family !== 'cloud-hypervisor') continue;
    const base = opts.defaultsFor ? opts.defaultsFor(m) : {};
    const e = evaluate(m, { memory: request.memory, options: base }, host, groups, check);
    if (e.fits) {
      const s = suggestion(
        'other-vmm',
        e,
        base,
        `${m.label} lays ${exactSize(request.memory)} out around the reserved regions`,
      );
      if (s) others.push(s);
      continue;
    }
    for (const cand of optionCandidates(m, { memory: request.memory, options: base }, trouble(e))) {
      const e2 = evaluate(m, { memory: request.memory, options: { ...base, ...cand } }, host, groups, check);
      if (!e2.fits) continue;
      const s = suggestion(
        'other-vmm',
        e2,
        cand,
        `${m.label} with ${Object.entries(cand)
          .map(([k, v]) => `${k}=${v}`)
          .join(', ')}`,
      );
      if (s) others.push(s);
      break;
    }
  }
  return { asked, fitsAsAsked: false, largest, options, others, blockers, notes };
}
