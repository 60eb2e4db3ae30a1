/**
 * The step registry: every scenario operation (`- map_dma: {...}`) is a registered step with a field
 * schema (checked when the file is loaded, with line numbers) and a `run` that drives the model through
 * the byte layer and prints oracle-format lines. Other modules add steps with `registerStep` (the MSI
 * work adds SET_IRQS and interrupt firing; conformance can drive the same steps on a real kernel).
 */
import type { Expr, Template, Value } from './expr.js';
import type { RunContext } from './context.js';

export type FieldKind =
  /** A u64 expression (`0x1000`, `16MiB`, `h.end + 1`). */
  | 'expr'
  /** Text with `${expr}` parts (case names, INFO text). */
  | 'template'
  /** Plain text (handles, device selectors, parameter names). */
  | 'string'
  | 'bool'
  /** A nested list of steps. */
  | 'steps'
  /** A list of expressions. */
  | 'exprs';

export interface FieldSpec {
  readonly kind: FieldKind;
  readonly required?: boolean;
  readonly help: string;
}

/** A field as loaded from the file (with its line for run-time errors). */
export type FieldValue =
  | { readonly kind: 'expr'; readonly expr: Expr; readonly text: string; readonly line: number }
  | { readonly kind: 'template'; readonly template: Template; readonly text: string; readonly line: number }
  | { readonly kind: 'string'; readonly value: string; readonly line: number }
  | { readonly kind: 'bool'; readonly value: boolean; readonly line: number }
  | { readonly kind: 'steps'; readonly steps: readonly ScenarioStep[]; readonly line: number }
  | { readonly kind: 'exprs'; readonly exprs: readonly Expr[]; readonly line: number };

export interface ScenarioStep {
  readonly op: string;
  readonly line: number;
  readonly column: number;
  readonly fields: Readonly<Record<string, FieldValue>>;
  /** `if:` — the step runs only when this is true. */
  readonly cond?: Expr;
  /** `then:` / `else:` — run after the step, on rc == 0 / rc != 0. */
  readonly then?: readonly ScenarioStep[];
  readonly otherwise?: readonly ScenarioStep[];
}

/** What a step returns: its rc (for then/else), or nothing. */
export type StepResult = number | void;

export interface StepSpec {
  readonly op: string;
  readonly summary: string;
  readonly fields: Readonly<Record<string, FieldSpec>>;
  /** `- op: value` is shorthand for this field. */
  readonly shorthand?: string;
  run(ctx: RunContext, step: ScenarioStep): StepResult;
  /** Load-time checks beyond the schema: a problem with one field, or undefined. */
  validate?(step: ScenarioStep): { readonly field: string; readonly message: string } | undefined;
}

const REGISTRY = new Map<string, StepSpec>();

/** The `name` field of every step that prints a CASE line. */
export const CASE_NAME_FIELD = {
  kind: 'template',
  required: true,
  help: 'case name printed after CASE',
} as const;

/** Registers a step; registering the same op twice is a programming error. */
export function registerStep(spec: StepSpec): void {
  if (REGISTRY.has(spec.op)) throw new Error(`scenario step "${spec.op}" registered twice`);
  REGISTRY.set(spec.op, spec);
}

/** A step that opens a fixed device file and keeps its fd under a handle (`as`, default `handle`). */
export function registerOpenStep(op: string, path: string, handle: string): void {
  registerStep({
    op,
    summary: `open("${path}"): CASE <name> rc errno`,
    fields: {
      name: CASE_NAME_FIELD,
      as: { kind: 'string', help: `handle to save the fd under (default "${handle}")` },
    },
    run(ctx, s) {
      const fd = ctx.sys.open(path);
      ctx.handles.set(ctx.str(s, 'as', handle)!, fd);
      ctx.caseLine(ctx.text(s, 'name'), fd);
      return fd < 0 ? fd : 0;
    },
  });
}

export function stepSpec(op: string): StepSpec | undefined {
  return REGISTRY.get(op);
}

export function stepOps(): string[] {
  return [...REGISTRY.keys()].sort();
}

/** Fields every step accepts. */
export const COMMON_FIELDS: Readonly<Record<string, FieldSpec>> = {
  if: { kind: 'expr', help: 'run the step only when this expression is non-zero' },
  then: { kind: 'steps', help: 'steps to run when the step returned rc == 0' },
  else: { kind: 'steps', help: 'steps to run when the step returned rc != 0' },
  expect: {
    kind: 'template',
    help: 'expected outcome, checked against the CASE line: an errno name (EINVAL), 0, or key=value pairs (rc=0 out_size=0x4000)',
  },
};

export type { Value };
