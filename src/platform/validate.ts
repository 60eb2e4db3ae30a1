/**
 * A small declarative schema language for located YAML/JSON trees (./source.ts). A schema states each
 * field once (type, whether it is required, its default, one line of documentation); validation turns
 * the tree into plain values and every problem into an InputError naming file, line and field path.
 * Unknown fields are rejected with a "did you mean" hint.
 */
import { InputError } from '../base/errors.js';
import { parseSize, parseU64 } from '../base/u64.js';
import type { LNode } from './source.js';

export type Spec =
  | { readonly t: 'string'; readonly pattern?: RegExp; readonly what?: string }
  | { readonly t: 'enum'; readonly values: readonly string[] }
  | { readonly t: 'int'; readonly min: number; readonly max: number }
  | { readonly t: 'u64' }
  | { readonly t: 'size' }
  | { readonly t: 'bool' }
  | { readonly t: 'bdf' }
  | { readonly t: 'array'; readonly of: Spec; readonly minItems?: number }
  | { readonly t: 'object'; readonly name: string; readonly fields: Readonly<Record<string, FieldDef>> }
  | { readonly t: 'range' }
  | { readonly t: 'pair'; readonly min: number; readonly max: number }
  | {
      readonly t: 'enumOrInt';
      readonly values: readonly string[];
      readonly min: number;
      readonly max: number;
    };

export interface FieldDef {
  readonly spec: Spec;
  readonly required?: boolean;
  /** Value used when the field is absent (already in output form). */
  readonly default?: unknown;
  /** One line for docs/platform-format.md. */
  readonly doc: string;
}

/** Where each validated field path was written, for cross-reference errors after validation. */
export type LineMap = Map<string, number>;

export interface ValidateContext {
  readonly file: string;
  readonly lines: LineMap;
}

// Linux prints the domain with %04x: VMD domains (0x10000+) have five digits.
const BDF_RE = /^(?:([0-9a-fA-F]{1,8}):)?([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\.([0-7])$/;

/** Normalises `bb:dd.f` or `ssss:bb:dd.f` to lower-case `ssss:bb:dd.f`; undefined when not a BDF. */
export function normalizeBdf(s: string): string | undefined {
  const m = BDF_RE.exec(s.trim());
  if (!m) return undefined;
  const dev = parseInt(m[3]!, 16);
  if (dev > 0x1f) return undefined;
  const seg = (m[1] ?? '0000').toLowerCase().padStart(4, '0');
  return `${seg}:${m[2]!.toLowerCase().padStart(2, '0')}:${m[3]!.toLowerCase().padStart(2, '0')}.${m[4]}`;
}

function editDistance(a: string, b: string): number {
  const d: number[] = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return d[b.length]!;
}

/** The closest known name, when one is close enough to be a likely typo. */
export function closest(name: string, known: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  const partial = known.filter((k) => lower.length >= 3 && k.toLowerCase().includes(lower));
  if (partial.length === 1) return partial[0];
  // several names contain it: the shortest, when only one is that short ("qemu-q35-intel" is most
  // likely qemu-q35-intel-iommu, not qemu-q35-intel-iommu-rootport)
  const byLength = [...partial].sort((a, b) => a.length - b.length);
  if (byLength.length > 1 && byLength[0]!.length < byLength[1]!.length) return byLength[0];
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const dist = k.toLowerCase() === name.toLowerCase() ? 0 : editDistance(name, k);
    if (dist < bestD) {
      bestD = dist;
      best = k;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

function describe(n: LNode): string {
  if (n.kind === 'map') return 'a mapping';
  if (n.kind === 'seq') return 'a list';
  if (n.value === null) return 'empty';
  if (typeof n.value === 'string') return JSON.stringify(n.value);
  return String(n.value);
}

function scalarText(n: LNode): string | undefined {
  if (n.kind !== 'scalar' || n.value === null) return undefined;
  return typeof n.value === 'string' ? n.value : String(n.value);
}

function toBig(n: LNode): bigint | undefined {
  if (n.kind !== 'scalar') return undefined;
  const v = n.value;
  if (typeof v === 'bigint') return v >= 0n && v < 1n << 64n ? v : undefined;
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? BigInt(v) : undefined;
  if (typeof v === 'string') return parseU64(v);
  return undefined;
}

/** Validates `node` against `spec`; `path` is the dotted field path used in messages. */
export function validate(node: LNode, spec: Spec, path: string, ctx: ValidateContext): unknown {
  const fail = (msg: string, hint?: string): never => {
    throw new InputError(msg, { file: ctx.file, line: node.line, field: path || undefined, hint });
  };
  ctx.lines.set(path, node.line);
  switch (spec.t) {
    case 'string': {
      if (node.kind !== 'scalar' || typeof node.value !== 'string')
        fail(
          `${describe(node)} is not a string`,
          node.kind === 'map' ? 'quote the text: YAML reads "a: b" as a mapping' : undefined,
        );
      const s = node.kind === 'scalar' ? String(node.value) : '';
      if (spec.pattern && !spec.pattern.test(s)) fail(`${JSON.stringify(s)} is not ${spec.what ?? 'valid'}`);
      return s;
    }
    case 'enum': {
      const s = scalarText(node);
      if (
        s === undefined ||
        node.kind !== 'scalar' ||
        typeof node.value !== 'string' ||
        !spec.values.includes(s)
      )
        fail(`${describe(node)} is not one of ${spec.values.join(', ')}`);
      return s;
    }
    case 'enumOrInt': {
      if (node.kind === 'scalar' && typeof node.value === 'string' && spec.values.includes(node.value))
        return node.value;
      const v = toBig(node);
      if (v === undefined || v < BigInt(spec.min) || v > BigInt(spec.max))
        fail(
          `${describe(node)} is not one of ${spec.values.join(', ')} or a number ${spec.min}..${spec.max}`,
        );
      return Number(v);
    }
    case 'int': {
      const v = toBig(node);
      if (v === undefined) fail(`${describe(node)} is not a whole number (decimal or 0x hex)`);
      if (v! < BigInt(spec.min) || v! > BigInt(spec.max))
        fail(`${describe(node)} is out of range ${spec.min}..${spec.max} (0x${spec.max.toString(16)})`);
      return Number(v);
    }
    case 'u64': {
      const v = toBig(node);
      if (v === undefined) fail(`${describe(node)} is not an unsigned 64-bit number (decimal or 0x hex)`);
      return v;
    }
    case 'size': {
      const s = scalarText(node);
      const v =
        toBig(node) ??
        (s !== undefined && node.kind === 'scalar' && typeof node.value === 'string'
          ? parseSize(s)
          : undefined);
      if (v === undefined) fail(`${describe(node)} is not a size (bytes, 0x hex, or 4K/2M/1G)`);
      return v;
    }
    case 'bool': {
      if (node.kind !== 'scalar' || typeof node.value !== 'boolean')
        fail(`${describe(node)} is not true or false`);
      return node.kind === 'scalar' ? node.value : false;
    }
    case 'bdf': {
      const s =
        node.kind === 'scalar' && typeof node.value === 'string' ? normalizeBdf(node.value) : undefined;
      if (s === undefined)
        fail(
          `${describe(node)} is not a BDF`,
          'write a PCI address as ssss:bb:dd.f or bb:dd.f (hex, device <= 1f)',
        );
      return s;
    }
    case 'array': {
      if (node.kind !== 'seq') return fail(`${describe(node)} is not a list`);
      if (spec.minItems !== undefined && node.items.length < spec.minItems)
        fail(`needs at least ${spec.minItems} item${spec.minItems === 1 ? '' : 's'}`);
      return node.items.map((it, i) => validate(it, spec.of, `${path}[${i}]`, ctx));
    }
    case 'pair': {
      if (node.kind !== 'seq' || node.items.length !== 2)
        return fail(`${describe(node)} is not a [first, last] pair`);
      const a = validate(
        node.items[0]!,
        { t: 'int', min: spec.min, max: spec.max },
        `${path}[0]`,
        ctx,
      ) as number;
      const b = validate(
        node.items[1]!,
        { t: 'int', min: spec.min, max: spec.max },
        `${path}[1]`,
        ctx,
      ) as number;
      if (b < a) fail(`[${a}, ${b}]: last is below first`);
      return [a, b];
    }
    case 'range': {
      if (node.kind !== 'map')
        return fail(
          `${describe(node)} is not a range`,
          'write {start: 0x..., end: 0x...} or {start: 0x..., size: 1M}',
        );
      const keys = node.entries.map((e) => e.key);
      for (const e of node.entries) {
        if (!['start', 'end', 'size'].includes(e.key)) {
          throw new InputError(`unknown field "${e.key}" in a range`, {
            file: ctx.file,
            line: e.keyLine,
            field: path,
            hint: 'a range has start and end (inclusive), or start and size',
          });
        }
      }
      const get = (k: string) => node.entries.find((e) => e.key === k)?.value;
      const startN = get('start');
      if (!startN) return fail('range needs "start"');
      const start = validate(startN, { t: 'u64' }, `${path}.start`, ctx) as bigint;
      const endN = get('end');
      const sizeN = get('size');
      if ((endN === undefined) === (sizeN === undefined))
        fail(`range needs exactly one of "end" or "size" (has ${keys.join(', ')})`);
      let end: bigint;
      if (endN) {
        end = validate(endN, { t: 'u64' }, `${path}.end`, ctx) as bigint;
        if (end < start)
          fail(`impossible range: end 0x${end.toString(16)} is below start 0x${start.toString(16)}`);
      } else {
        const size = validate(sizeN!, { t: 'size' }, `${path}.size`, ctx) as bigint;
        if (size === 0n) fail('range size is 0');
        end = start + size - 1n;
        if (end >= 1n << 64n) fail('range passes the end of the 64-bit address space');
      }
      return { start, end };
    }
    case 'object': {
      if (node.kind !== 'map') return fail(`${describe(node)} is not a mapping (${spec.name})`);
      const out: Record<string, unknown> = {};
      const known = Object.keys(spec.fields);
      for (const e of node.entries) {
        if (!(e.key in spec.fields)) {
          const near = closest(e.key, known);
          throw new InputError(`unknown field "${e.key}" in ${spec.name}`, {
            file: ctx.file,
            line: e.keyLine,
            field: path ? `${path}.${e.key}` : e.key,
            hint: near !== undefined ? `did you mean "${near}"?` : `known fields: ${known.join(', ')}`,
          });
        }
      }
      for (const [name, def] of Object.entries(spec.fields)) {
        const entry = node.entries.find((e) => e.key === name);
        const fpath = path ? `${path}.${name}` : name;
        if (!entry || (entry.value.kind === 'scalar' && entry.value.value === null)) {
          if (def.required) {
            throw new InputError(`missing required field "${name}" (${def.doc})`, {
              file: ctx.file,
              line: entry?.keyLine ?? node.line,
              field: fpath,
            });
          }
          if (def.default !== undefined) out[name] = structuredClone(def.default);
          continue;
        }
        out[name] = validate(entry.value, def.spec, fpath, ctx);
      }
      return out;
    }
  }
}
