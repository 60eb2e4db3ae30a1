/**
 * Runs a scenario on the model: builds the platform (or takes a given IommuCore), sets up the process
 * memory and module parameters, runs the steps and returns the oracle-format lines.
 *
 *   runScenario(text | Scenario, { platform?, kernel?, params?, core? }) -> string[]
 */
import { InputError } from '../base/errors.js';
import type { IommuCore } from '../iommu/api.js';
import { type KernelProfile, type KernelVersion, DEFAULT_KERNEL, kernelProfile } from '../kernel/profile.js';
import { AddressSpace } from '../mm/address-space.js';
import { embeddedFile, embeddedFiles } from '../presets/embedded.js';
import { VfioSystem, type VfioSystemOptions } from '../vfio/system.js';
import type { Type1Params } from '../vfio/type1/type1.js';
import { RunContext } from './context.js';
import { ExprError, evalExpr } from './expr.js';
import { type Scenario, parseScenario } from './parse.js';
import { StopRun, runStep, runSteps } from './steps.js';

/** Builds the IommuCore of a named platform preset for a kernel profile. */
export type PlatformResolver = (name: string, profile: KernelProfile) => IommuCore;

let resolver: PlatformResolver | undefined;

/** The resolver installed by ./platforms.ts (imported by the package entry and the CLI). */

/** Installs the preset loader (src/platform) used when a run is given a platform name. */
export function setPlatformResolver(r: PlatformResolver): void {
  resolver = r;
}

export interface RunOptions {
  /** Called after each top-level step with its index (for tools that show a run step by step). */
  readonly onStep?: (index: number, ctx: RunContext) => void;
  /** File name for error messages (when `input` is text). */
  readonly file?: string;
  /** Overrides the scenario's `platform`. */
  readonly platform?: string;
  /** Overrides the scenario's `kernel`. */
  readonly kernel?: KernelVersion;
  /** Overrides module parameters (after the scenario's `params`). */
  readonly params?: Partial<Type1Params>;
  /** Overrides scenario variables (`vars:`). */
  readonly vars?: Readonly<Record<string, bigint>>;
  /** Runs on this core instead of building the platform. */
  readonly core?: IommuCore;
  /** Extra VfioSystem options (dma-iommu cookie, device file). */
  readonly system?: Partial<Omit<VfioSystemOptions, 'core' | 'profile' | 'params' | 'mm'>>;
}

export interface RunResult {
  readonly lines: string[];
  /** 0, or the code of an `exit` step. */
  readonly exitCode: number;
  /** Failed `expect:` checks (file:line: case: what differed). */
  readonly failures: readonly string[];
  readonly system: VfioSystem;
  readonly context: RunContext;
}

/** Runs a scenario and returns its full result. Throws InputError for a scenario mistake. */
export function runScenarioFull(input: string | Scenario, opts: RunOptions = {}): RunResult {
  const sc = typeof input === 'string' ? parseScenario(input, opts.file) : input;
  const version = opts.kernel ?? sc.kernel ?? DEFAULT_KERNEL;
  const profile = kernelProfile(version);
  let core = opts.core;
  if (!core) {
    const name = opts.platform ?? sc.platform;
    if (!name)
      throw new InputError('no platform: give "platform:" in the scenario or --platform', { file: sc.file });
    if (!resolver)
      throw new InputError(`cannot build platform "${name}": no platform loader is installed`, {
        file: sc.file,
      });
    core = resolver(name, profile);
  }
  const mm = new AddressSpace();
  for (const m of sc.memory) {
    const r = mm.map(m.name, m.start, m.size, m.prot, m.phys);
    if (typeof r === 'string')
      throw new InputError(`memory region "${m.name}": ${r}`, {
        file: sc.file,
        line: m.line,
        field: 'memory',
      });
  }
  const sys = new VfioSystem({
    ...opts.system,
    core,
    profile,
    params: { ...sc.params, ...opts.params },
    mm,
  });
  const ctx = new RunContext(sys, sc);
  for (const [k, v] of Object.entries(sc.vars)) {
    const o = opts.vars?.[k];
    if (o !== undefined) ctx.vars.set(k, o);
    else {
      try {
        ctx.vars.set(k, evalExpr(v.expr, ctx.scope));
      } catch (e) {
        if (e instanceof ExprError)
          throw new InputError(e.message, { file: sc.file, line: v.line, field: `vars.${k}` });
        throw e;
      }
    }
  }
  for (const [k, v] of Object.entries(opts.vars ?? {})) {
    if (!(k in sc.vars))
      throw new InputError(
        `unknown variable "${k}" (the scenario declares: ${Object.keys(sc.vars).join(', ') || 'none'})`,
        { file: sc.file },
      );
    ctx.vars.set(k, v);
  }
  let exitCode = 0;
  try {
    if (opts.onStep === undefined) runSteps(ctx, sc.steps);
    else {
      // Same as runSteps, with a look at the state after each top-level step (the web view steps through).
      for (let i = 0; i < sc.steps.length; i++) {
        runStep(ctx, sc.steps[i]!);
        opts.onStep(i, ctx);
      }
    }
  } catch (e) {
    if (e instanceof StopRun) exitCode = e.code;
    else throw e;
  }
  return { lines: ctx.out, exitCode, failures: ctx.failures, system: sys, context: ctx };
}

/** Runs a scenario and returns its output lines. */
export function runScenario(input: string | Scenario, opts: RunOptions = {}): string[] {
  return runScenarioFull(input, opts).lines;
}

/** Scenarios shipped with iovamap (scenarios/*.yaml), by name without extension. */
export function builtinScenarios(): string[] {
  return embeddedFiles('scenarios/').map((p) => p.replace(/^scenarios\//, '').replace(/\.yaml$/, ''));
}

export function builtinScenarioText(name: string): string | undefined {
  return embeddedFile(`scenarios/${name}.yaml`);
}
