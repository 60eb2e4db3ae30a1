/**
 * Loads a scenario file (YAML, see docs/scenario-format.md) into a checked `Scenario`. Every mistake is
 * an InputError naming the file, line, column and field: unknown step or field, bad number or
 * expression, missing field, wrong type.
 */
import { LineCounter, isMap, isScalar, isSeq, parseDocument, visit, type Node, type YAMLMap } from 'yaml';
import { InputError, assertTextInput } from '../base/errors.js';
import { isKernelVersion, type KernelVersion } from '../kernel/profile.js';
import { parseProt } from '../mm/address-space.js';
import type { Type1Params } from '../vfio/type1/type1.js';
import { ExprError, parseExpr, parseTemplate, type Expr } from './expr.js';
import {
  COMMON_FIELDS,
  type FieldSpec,
  type FieldValue,
  type ScenarioStep,
  stepOps,
  stepSpec,
} from './registry.js';
import './steps-index.js';

export interface MemorySpec {
  readonly name: string;
  readonly start: bigint;
  readonly size: bigint;
  readonly prot: number;
  readonly phys?: bigint;
  readonly line: number;
}

export interface Scenario {
  readonly file: string;
  readonly name: string;
  readonly description: string;
  readonly platform?: string;
  readonly kernel?: KernelVersion;
  readonly params: Partial<Type1Params>;
  readonly memory: readonly MemorySpec[];
  /** Region whose start MAP lines print `vaddr_off` relative to (like the probe's `buf`). */
  readonly vaddrBase?: string;
  /** Variables with default values (run options may override them). */
  readonly vars: Readonly<Record<string, { readonly expr: Expr; readonly line: number }>>;
  readonly steps: readonly ScenarioStep[];
}

const TOP_KEYS = [
  'name',
  'description',
  'platform',
  'kernel',
  'params',
  'memory',
  'vaddr_base',
  'vars',
  'steps',
];
const PARAM_KEYS: Record<string, 'bool' | 'int'> = {
  allow_unsafe_interrupts: 'bool',
  dma_entry_limit: 'int',
  disable_hugepages: 'bool',
};

class Loader {
  readonly lc = new LineCounter();
  constructor(readonly file: string) {}

  pos(node: Node | null | undefined): { line: number; column: number } {
    const off = node?.range?.[0] ?? 0;
    const p = this.lc.linePos(off);
    return { line: p.line, column: p.col };
  }

  err(msg: string, node: Node | null | undefined, field?: string, hint?: string): InputError {
    const { line, column } = this.pos(node);
    return new InputError(msg, {
      file: this.file,
      line,
      column,
      ...(field !== undefined ? { field } : {}),
      ...(hint !== undefined ? { hint } : {}),
    });
  }

  scalarText(node: unknown, field: string): string {
    if (!isScalar(node)) throw this.err('expected a single value', node as Node, field);
    const src = (node as { source?: unknown }).source;
    return String(typeof node.value === 'string' ? node.value : (src ?? node.value));
  }

  expr(node: unknown, field: string): { expr: Expr; text: string } {
    const text = this.scalarText(node, field);
    try {
      return { expr: parseExpr(text), text };
    } catch (e) {
      if (e instanceof ExprError)
        throw this.err(`bad number or expression: ${e.message}`, node as Node, field);
      throw e;
    }
  }

  u64(node: unknown, field: string): bigint {
    const { expr, text } = this.expr(node, field);
    if (expr.k !== 'num') throw this.err(`expected a number, got "${text}"`, node as Node, field);
    if (expr.v >= 1n << 64n) throw this.err(`number ${text} does not fit in 64 bits`, node as Node, field);
    return expr.v;
  }

  str(node: unknown, field: string): string {
    if (!isScalar(node) || typeof node.value !== 'string') {
      if (isScalar(node) && node.value !== null && typeof node.value !== 'object') return String(node.value);
      throw this.err('expected text', node as Node, field);
    }
    return node.value;
  }

  bool(node: unknown, field: string): boolean {
    if (isScalar(node)) {
      const v = node.value;
      if (typeof v === 'boolean') return v;
      if (v === 1 || v === 0) return v === 1;
      if (typeof v === 'string' && /^(y|yes|n|no|true|false|1|0)$/i.test(v))
        return /^(y|yes|true|1)$/i.test(v);
    }
    throw this.err('expected true or false', node as Node, field);
  }

  map(node: unknown, field: string): YAMLMap {
    if (!isMap(node)) throw this.err('expected a mapping (key: value)', node as Node, field);
    return node as YAMLMap;
  }

  load(text: string): Scenario {
    assertTextInput(text, this.file);
    const doc = parseDocument(text, { lineCounter: this.lc, prettyErrors: false, uniqueKeys: true });
    if (doc.errors.length > 0) {
      const e = doc.errors[0]!;
      const p = this.lc.linePos(e.pos[0]);
      throw new InputError(`YAML syntax: ${e.message.split('\n')[0]}`, {
        file: this.file,
        line: p.line,
        column: p.col,
      });
    }
    // Anchors and aliases (&x / *x) would make a value's line ambiguous and are not part of the format:
    // say so where one is used, instead of a type error about the alias node.
    visit(doc, {
      Alias: (_, node) => {
        throw this.err(
          `YAML alias *${node.source} is not supported in scenario files`,
          node as Node,
          undefined,
          'write the value out, or name it once under "vars:" and use the name in expressions',
        );
      },
    });
    const root = doc.contents;
    if (!isMap(root))
      throw this.err('a scenario is a mapping with at least "name" and "steps"', root as Node);
    const get = (k: string): unknown => root.get(k, true);
    for (const pair of root.items) {
      const k = isScalar(pair.key) ? String(pair.key.value) : '?';
      if (!TOP_KEYS.includes(k)) {
        throw this.err(
          `unknown top-level key "${k}"`,
          pair.key as Node,
          k,
          `known keys: ${TOP_KEYS.join(', ')}`,
        );
      }
    }
    const nameNode = get('name');
    if (nameNode === undefined) throw this.err('missing "name"', root, 'name');
    const stepsNode = get('steps');
    if (stepsNode === undefined) throw this.err('missing "steps"', root, 'steps');
    let kernel: KernelVersion | undefined;
    const kn = get('kernel');
    if (kn !== undefined) {
      const k = this.str(kn, 'kernel');
      if (!isKernelVersion(k))
        throw this.err(`unknown kernel "${k}"`, kn as Node, 'kernel', 'use 6.1 or 6.12');
      kernel = k;
    }
    const params: Partial<Type1Params> = {};
    const pn = get('params');
    if (pn !== undefined) {
      for (const pair of this.map(pn, 'params').items) {
        const k = isScalar(pair.key) ? String(pair.key.value) : '?';
        const kind = PARAM_KEYS[k];
        const f = `params.${k}`;
        if (!kind)
          throw this.err(
            `unknown module parameter "${k}"`,
            pair.key as Node,
            f,
            `known: ${Object.keys(PARAM_KEYS).join(', ')}`,
          );
        if (k === 'dma_entry_limit') {
          const v = this.u64(pair.value, f);
          if (v > 0xffffffffn) throw this.err('dma_entry_limit is a u32', pair.value as Node, f);
          params.dmaEntryLimit = Number(v);
        } else if (k === 'allow_unsafe_interrupts') params.allowUnsafeInterrupts = this.bool(pair.value, f);
        else params.disableHugepages = this.bool(pair.value, f);
      }
    }
    const memory: MemorySpec[] = [];
    const mn = get('memory');
    if (mn !== undefined) {
      if (!isSeq(mn)) throw this.err('expected a list of regions', mn as Node, 'memory');
      mn.items.forEach((it, i) => {
        const f = `memory[${i}]`;
        const m = this.map(it, f);
        for (const pair of m.items) {
          const k = isScalar(pair.key) ? String(pair.key.value) : '?';
          if (!['name', 'start', 'size', 'prot', 'phys'].includes(k))
            throw this.err(`unknown field "${k}"`, pair.key as Node, `${f}.${k}`);
        }
        const need = (k: string): unknown => {
          const v = m.get(k, true);
          if (v === undefined) throw this.err(`missing "${k}"`, m, `${f}.${k}`);
          return v;
        };
        const protText = this.str(need('prot'), `${f}.prot`);
        const prot = parseProt(protText);
        if (prot === undefined)
          throw this.err(
            `bad protection "${protText}"`,
            m.get('prot', true) as Node,
            `${f}.prot`,
            'use r, rw or none',
          );
        const phys = m.get('phys', true);
        const name = this.str(need('name'), `${f}.name`);
        // the name is a variable holding the region's start: two regions cannot share it
        if (memory.some((x) => x.name === name))
          throw this.err(`duplicate memory region "${name}"`, need('name') as Node, `${f}.name`);
        memory.push({
          name,
          start: this.u64(need('start'), `${f}.start`),
          size: this.u64(need('size'), `${f}.size`),
          prot,
          ...(phys !== undefined ? { phys: this.u64(phys, `${f}.phys`) } : {}),
          line: this.pos(m).line,
        });
      });
    }
    const vb = get('vaddr_base');
    const vaddrBase = vb === undefined ? undefined : this.str(vb, 'vaddr_base');
    if (vaddrBase !== undefined && !memory.some((m) => m.name === vaddrBase)) {
      throw this.err(`vaddr_base "${vaddrBase}" is not a memory region`, vb as Node, 'vaddr_base');
    }
    const vars: Record<string, { expr: Expr; line: number }> = {};
    const vn = get('vars');
    if (vn !== undefined) {
      for (const pair of this.map(vn, 'vars').items) {
        const k = isScalar(pair.key) ? String(pair.key.value) : '?';
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k))
          throw this.err(`bad variable name "${k}"`, pair.key as Node, `vars.${k}`);
        vars[k] = { expr: this.expr(pair.value, `vars.${k}`).expr, line: this.pos(pair.value as Node).line };
      }
    }
    const platform = get('platform');
    const desc = get('description');
    return {
      file: this.file,
      name: this.str(nameNode, 'name'),
      description: desc === undefined ? '' : this.str(desc, 'description'),
      ...(platform !== undefined ? { platform: this.str(platform, 'platform') } : {}),
      ...(kernel !== undefined ? { kernel } : {}),
      params,
      memory,
      ...(vaddrBase !== undefined ? { vaddrBase } : {}),
      vars,
      steps: this.steps(stepsNode, 'steps'),
    };
  }

  steps(node: unknown, field: string): ScenarioStep[] {
    if (!isSeq(node)) throw this.err('expected a list of steps', node as Node, field);
    return node.items.map((it, i) => this.step(it, `${field}[${i}]`));
  }

  step(node: unknown, field: string): ScenarioStep {
    if (!isMap(node) || node.items.length !== 1) {
      throw this.err(
        'a step is one "op: {fields}" entry',
        node as Node,
        field,
        'e.g. "- map_dma: { name: a, iova: 0x100000, size: 0x1000 }"',
      );
    }
    const pair = node.items[0]!;
    const op = isScalar(pair.key) ? String(pair.key.value) : '?';
    const spec = stepSpec(op);
    const { line, column } = this.pos(pair.key as Node);
    if (!spec) {
      const ops = stepOps();
      const near = ops.filter((o) => o.includes(op.slice(0, 4)) || op.includes(o.slice(0, 4)));
      throw this.err(
        `unknown step "${op}"`,
        pair.key as Node,
        field,
        near.length ? `did you mean ${near.slice(0, 4).join(', ')}?` : `known steps: ${ops.join(', ')}`,
      );
    }
    const fields: Record<string, FieldValue> = {};
    let cond: Expr | undefined;
    let then: ScenarioStep[] | undefined;
    let otherwise: ScenarioStep[] | undefined;
    const v = pair.value;
    if (v !== null && v !== undefined && !isMap(v)) {
      if (!spec.shorthand) throw this.err(`"${op}" needs a mapping of fields`, v as Node, field);
      fields[spec.shorthand] = this.field(
        v,
        spec.fields[spec.shorthand]!,
        `${field}.${op}.${spec.shorthand}`,
      );
    } else if (isMap(v)) {
      for (const fp of v.items) {
        const k = isScalar(fp.key) ? String(fp.key.value) : '?';
        const fpath = `${field}.${op}.${k}`;
        const fs = spec.fields[k] ?? COMMON_FIELDS[k];
        if (!fs) {
          throw this.err(
            `unknown field "${k}" for step "${op}"`,
            fp.key as Node,
            fpath,
            `fields: ${[...Object.keys(spec.fields), ...Object.keys(COMMON_FIELDS)].join(', ')}`,
          );
        }
        const fv = this.field(fp.value, fs, fpath);
        if (k === 'if' && fv.kind === 'expr' && !spec.fields[k]) cond = fv.expr;
        else if (k === 'then' && fv.kind === 'steps' && !spec.fields[k]) then = [...fv.steps];
        else if (k === 'else' && fv.kind === 'steps' && !spec.fields[k]) otherwise = [...fv.steps];
        else fields[k] = fv;
      }
    }
    for (const [k, fs] of Object.entries(spec.fields)) {
      if (fs.required && fields[k] === undefined)
        throw this.err(
          `missing field "${k}" for step "${op}" (${fs.help})`,
          (v ?? pair.key) as Node,
          `${field}.${op}.${k}`,
        );
    }
    const bad = spec.validate?.({ op, line, column, fields });
    if (bad) {
      const fl = fields[bad.field]?.line ?? line;
      throw new InputError(bad.message, { file: this.file, line: fl, field: `${field}.${op}.${bad.field}` });
    }
    return {
      op,
      line,
      column,
      fields,
      ...(cond !== undefined ? { cond } : {}),
      ...(then !== undefined ? { then } : {}),
      ...(otherwise !== undefined ? { otherwise } : {}),
    };
  }

  field(node: unknown, fs: FieldSpec, path: string): FieldValue {
    const line = this.pos(node as Node).line;
    switch (fs.kind) {
      case 'expr': {
        const { expr, text } = this.expr(node, path);
        return { kind: 'expr', expr, text, line };
      }
      case 'template': {
        const text = this.str(node, path);
        try {
          return { kind: 'template', template: parseTemplate(text), text, line };
        } catch (e) {
          if (e instanceof ExprError) throw this.err(e.message, node as Node, path);
          throw e;
        }
      }
      case 'string':
        return { kind: 'string', value: this.str(node, path), line };
      case 'bool':
        return { kind: 'bool', value: this.bool(node, path), line };
      case 'steps':
        return { kind: 'steps', steps: this.steps(node, path), line };
      case 'exprs': {
        if (!isSeq(node)) throw this.err('expected a list', node as Node, path);
        return { kind: 'exprs', exprs: node.items.map((it, i) => this.expr(it, `${path}[${i}]`).expr), line };
      }
    }
  }
}

/** Parses and checks a scenario. Throws InputError (file:line:col field: message). */
export function parseScenario(text: string, file = '<scenario>'): Scenario {
  return new Loader(file).load(text);
}
