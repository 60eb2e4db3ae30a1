/**
 * A scenario run recorded step by step for the web view: after each top-level step, the lines it printed
 * and the DMA mappings of every group's attached domain (what VFIO_IOMMU_MAP_DMA put in the IOMMU, plus
 * the MSI doorbell page when a device enables MSI). The page then steps through the record, drawing the
 * mappings growing on the lanes. The run itself is src/scenario's runner, on a platform booted here.
 *
 * Browser-safe: no Node APIs.
 */
import { InputError } from '../base/errors.js';
import { formatSize, hex16 } from '../base/u64.js';
import type { IommuCore } from '../iommu/api.js';
import { attachMsiFabric } from '../irq/fabric.js';
import type { KernelProfile } from '../kernel/profile.js';
import { buildPlatform } from '../platform/build.js';
import type { PlatformDescription } from '../platform/types.js';
import { parseScenario } from '../scenario/parse.js';
import type { ScenarioStep } from '../scenario/registry.js';
import { runScenarioFull } from '../scenario/runner.js';
import type { Overlay, SceneItem } from './scene.js';

export interface TraceMapping {
  readonly iova: bigint;
  readonly paddr: bigint;
  readonly size: bigint;
}

export interface TraceStep {
  readonly index: number;
  /** `map_dma c_hole0_map_at_start` — the op and the case name when it has one. */
  readonly title: string;
  readonly line: number;
  /** Lines this step printed (CASE/INFO/RANGE/...). */
  readonly lines: readonly string[];
  /** A CASE line with rc < 0 among them. */
  readonly failed: boolean;
  /** Mappings per group id after the step (arrays are shared with the previous step when unchanged). */
  readonly mappings: ReadonlyMap<number, readonly TraceMapping[]>;
  readonly mappingCount: number;
}

export interface ScenarioTrace {
  readonly name: string;
  readonly description: string;
  readonly platform: string;
  readonly steps: readonly TraceStep[];
  readonly exitCode: number;
  /** Set when the run stopped on an error (shown instead of crashing the page). */
  readonly error?: string;
}

function stepTitle(s: ScenarioStep): string {
  const f = s.fields['name'] ?? s.fields['tag'] ?? s.fields['var'];
  const name = f === undefined ? undefined : f.kind === 'string' ? f.value : 'text' in f ? f.text : undefined;
  return name !== undefined ? `${s.op} ${name}` : s.op;
}

/** Mappings of each group's attached domain; reuses `prev` arrays when a domain did not change. */
function snapshot(
  core: IommuCore,
  prev: ReadonlyMap<number, readonly TraceMapping[]>,
): Map<number, readonly TraceMapping[]> {
  const out = new Map<number, readonly TraceMapping[]>();
  for (const g of core.groups()) {
    const d = g.domain;
    if (!d || d.mappingCount === 0) continue;
    const before = prev.get(g.id);
    if (before && before.length === d.mappingCount) {
      // Same count: compare the ends cheaply before copying (most steps touch nothing).
      const it = d.mappings()[Symbol.iterator]();
      const first = it.next();
      if (!first.done && first.value.iova === before[0]!.iova) {
        out.set(g.id, before);
        continue;
      }
    }
    out.set(
      g.id,
      [...d.mappings()].map((m) => ({ iova: m.iova, paddr: m.paddr, size: m.size })),
    );
  }
  return out;
}

/**
 * Runs `text` (a scenario file) on `desc` booted with `profile` and records every top-level step.
 * Scenario mistakes throw InputError (file, line, field), as `iovamap run` reports them.
 */
export function traceScenario(
  text: string,
  file: string,
  desc: PlatformDescription,
  profile: KernelProfile,
  opts: { vars?: Readonly<Record<string, bigint>> } = {},
): ScenarioTrace {
  const sc = parseScenario(text, file);
  // Only the variables the scenario declares (e.g. fill=0 to skip the 65535-mapping fill).
  const vars = Object.fromEntries(Object.entries(opts.vars ?? {}).filter(([k]) => k in sc.vars));
  const core = buildPlatform(desc, profile).iommu;
  attachMsiFabric(core, desc);
  const steps: TraceStep[] = [];
  let printed = 0;
  let prev: ReadonlyMap<number, readonly TraceMapping[]> = new Map();
  let exitCode = 0;
  let error: string | undefined;
  const record = (i: number, out: readonly string[]) => {
    const lines = out.slice(printed);
    printed = out.length;
    const mappings = snapshot(core, prev);
    prev = mappings;
    let count = 0;
    for (const m of mappings.values()) count += m.length;
    const s = sc.steps[i]!;
    steps.push({
      index: i,
      title: stepTitle(s),
      line: s.line,
      lines,
      failed: lines.some((l) => /\bCASE \S+ rc=-/.test(l)),
      mappings,
      mappingCount: count,
    });
  };
  try {
    const r = runScenarioFull(sc, {
      core,
      kernel: profile.version,
      vars,
      onStep: (i, ctx) => record(i, ctx.out),
    });
    exitCode = r.exitCode;
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    error = e.message;
  }
  return {
    name: sc.name,
    description: sc.description,
    platform: desc.name,
    steps,
    exitCode,
    ...(error !== undefined ? { error } : {}),
  };
}

/** The mappings after step `k` as lane items (the newest step's mappings highlighted). */
export function traceOverlays(trace: ScenarioTrace, k: number): Overlay[] {
  const step = trace.steps[k];
  if (!step) return [];
  const before = k > 0 ? trace.steps[k - 1]!.mappings : new Map<number, readonly TraceMapping[]>();
  const out: Overlay[] = [];
  for (const [gid, maps] of step.mappings) {
    const old = new Set((before.get(gid) ?? []).map((m) => `${m.iova}:${m.size}`));
    const items: SceneItem[] = maps.map((m) => {
      const fresh = !old.has(`${m.iova}:${m.size}`);
      return {
        start: m.iova,
        end: m.iova + m.size - 1n,
        layer: 'map',
        cls: fresh ? 'map-new' : 'map',
        label: fresh ? `mapped by step ${k + 1} (${step.title})` : 'DMA mapping',
        notes: [`IOVA ${hex16(m.iova)} → PA ${hex16(m.paddr)}, ${formatSize(m.size)}`],
      };
    });
    out.push({ groups: [gid], items });
  }
  return out;
}
