/**
 * The compiled scenario format (`.iovx`): what the kernel executor (conformance/executor/iovaexec.c)
 * and the model both run. One operation per line: `<op> <case-name> key=value ...`; `#` starts a
 * comment line; the directives `format full|compact`, `section NAME` and `scenario NAME` take one word.
 * The grammar and every operation's fields are documented in conformance/README.md; this module is the
 * single TypeScript definition of it (parse, validate, print).
 */

import { InputError } from '../base/errors.js';

/** Operations and the fields each accepts (the executor rejects any other field). */
export const OPS = {
  open_container: ['c'],
  close_container: ['c'],
  api_version: ['c'],
  check_ext: ['c', 'ext'],
  open_group: ['g'],
  close_group: ['g'],
  group_status: ['g', 'argsz'],
  set_container: ['g', 'c'],
  unset_container: ['g'],
  set_iommu: ['c', 'type'],
  get_info: ['c', 'argsz', 'fill', 'dump'],
  map: ['c', 'argsz', 'flags', 'iova', 'size', 'vaddr'],
  unmap: ['c', 'argsz', 'flags', 'iova', 'size', 'bitmap', 'pgsize', 'bsize', 'fill', 'dump'],
  dirty: ['c', 'argsz', 'flags'],
  dirty_get: ['c', 'argsz', 'iova', 'size', 'bitmap', 'pgsize', 'bsize', 'fill', 'dump'],
  fill: ['c', 'base', 'max', 'vaddr'],
  param_get: ['p'],
  param_set: ['p', 'value'],
  device_fd: ['g', 'd'],
  device_info: ['d'],
  region_info: ['d', 'index', 'argsz', 'fill', 'dump'],
  device_feature: ['d', 'flags', 'argsz'],
  raw_ioctl: ['c', 'g', 'd', 'i', 'cmd', 'len'],
  hot_reset_info: ['d', 'argsz', 'fill', 'dump'],
  hot_reset: ['d', 'fds', 'count', 'flags', 'argsz'],
  ioeventfd: ['d', 'flags', 'index', 'pos', 'data', 'fd', 'argsz'],
  ioeventfd_fill: ['d', 'flags', 'index', 'pos', 'data', 'fd', 'max'],
  efd_write: ['e', 'value'],
  region_read: ['d', 'index', 'pos', 'len', 'wait_ms'],
  region_write: ['d', 'index', 'pos', 'len', 'value'],
  close_device: ['d'],
  irq_info: ['d', 'index'],
  set_irqs: ['d', 'index', 'start', 'count', 'flags', 'data', 'argsz'],
  efd_read: ['e', 'wait_ms'],
  msi_read: ['d'],
  msi_fire: ['d', 'cause'],
  groups: [],
  group_type: ['g', 'nr', 'value'],
  resv: ['g'],
  rlimit_memlock: ['value'],
  cap_ipc_lock: ['value'],
  vmlck: [],
  mlock: ['vaddr', 'size'],
  munlock: ['vaddr', 'size'],
  // iommufd (/dev/iommu, slot i) and the VFIO device cdev (slot d); size= overrides the struct's size
  // word, tail= fills the bytes past the struct when size is larger
  open_iommufd: ['i'],
  close_iommufd: ['i'],
  ioas_alloc: ['i', 'flags', 'size', 'tail'],
  destroy: ['i', 'id', 'size', 'tail'],
  ioas_ranges: ['i', 'ioas', 'num', 'fill', 'reserved', 'size', 'tail'],
  ioas_map: ['i', 'ioas', 'flags', 'iova', 'length', 'vaddr', 'reserved', 'size', 'tail'],
  ioas_unmap: ['i', 'ioas', 'iova', 'length', 'size', 'tail'],
  ioas_allow: ['i', 'ioas', 'ranges', 'num', 'reserved', 'size', 'tail'],
  option: ['i', 'option_id', 'op', 'object', 'val', 'reserved', 'size', 'tail'],
  open_cdev: ['d'],
  bind_iommufd: ['d', 'fd', 'flags', 'size', 'tail'],
  attach_pt: ['d', 'pt', 'flags', 'size', 'tail'],
  detach_pt: ['d', 'flags', 'size', 'tail'],
  hwpt_alloc: ['i', 'dev', 'pt', 'flags', 'data_type', 'data_len', 'reserved', 'size', 'tail'],
  hw_info: ['i', 'dev', 'data_len', 'flags', 'reserved', 'fill', 'size', 'tail'],
  vfio_ioas: ['i', 'vop', 'ioas', 'reserved', 'size', 'tail'],
  compat_container: ['c', 'i'],
  pci_attr: ['d', 'attr', 'wait_ms'],
  ioas_copy: ['i', 'dst', 'src', 'flags', 'length', 'dst_iova', 'src_iova', 'size', 'tail'],
} as const satisfies Record<string, readonly string[]>;

export type OpName = keyof typeof OPS;

/** Fields every operation requires. */
const REQUIRED: Partial<Record<OpName, readonly string[]>> = {
  check_ext: ['ext'],
  map: ['iova', 'size'],
  dirty: ['flags'],
  group_type: ['value'],
  dirty_get: ['iova', 'size', 'bitmap'],
  fill: ['base'],
  param_get: ['p'],
  param_set: ['p', 'value'],
  irq_info: ['index'],
  region_info: ['index'],
  device_feature: ['flags'],
  raw_ioctl: ['cmd'],
  ioeventfd: ['flags', 'fd'],
  ioeventfd_fill: ['flags', 'fd', 'max'],
  efd_write: ['e'],
  set_irqs: ['index', 'flags'],
  efd_read: ['e'],
  rlimit_memlock: ['value'],
  mlock: ['vaddr'],
  munlock: ['vaddr'],
  destroy: ['id'],
  ioas_ranges: ['ioas'],
  ioas_map: ['ioas', 'length'],
  ioas_unmap: ['ioas'],
  ioas_allow: ['ioas', 'ranges'],
  attach_pt: ['pt'],
  hwpt_alloc: ['dev', 'pt'],
  hw_info: ['dev'],
  ioas_copy: ['dst', 'src', 'length', 'src_iova'],
};

export type Directive =
  | { readonly kind: 'format'; readonly value: 'full' | 'compact'; readonly line: number }
  | { readonly kind: 'section'; readonly value: string; readonly line: number }
  | { readonly kind: 'scenario'; readonly value: string; readonly line: number };

export interface Operation {
  readonly kind: 'op';
  readonly op: OpName;
  readonly name: string;
  /** Field values exactly as written (numbers stay text: the executor parses them with strtoull base 0). */
  readonly fields: ReadonlyMap<string, string>;
  readonly line: number;
}

export type Statement = Directive | Operation;

const NAME_RE = /^[A-Za-z0-9_.:+-]+$/;
const NUM_RE = /^-?(0x[0-9a-fA-F]+|[0-9]+)$/;
/** Fields whose value is not a number. */
const TEXT_FIELDS = new Set([
  'vaddr',
  'bitmap',
  'data',
  'p',
  'value',
  'argsz',
  'fds',
  'fd',
  'ranges',
  'attr',
]);

function isOp(s: string): s is OpName {
  return Object.prototype.hasOwnProperty.call(OPS, s);
}

/** Parses a compiled scenario; InputError names file, line and field on any problem. */
export function parseCompiled(text: string, file: string): Statement[] {
  const out: Statement[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = i + 1;
    const raw = lines[i]!.trim();
    if (raw === '' || raw.startsWith('#')) continue;
    const toks = raw.split(/\s+/);
    const head = toks[0]!;
    if (head === 'format' || head === 'section' || head === 'scenario') {
      if (toks.length !== 2) throw new InputError(`${head} takes exactly one word`, { file, line });
      const value = toks[1]!;
      if (head === 'format') {
        if (value !== 'full' && value !== 'compact')
          throw new InputError(`format must be full or compact, not '${value}'`, {
            file,
            line,
            field: 'format',
          });
        out.push({ kind: 'format', value, line });
      } else {
        out.push({ kind: head, value, line });
      }
      continue;
    }
    if (!isOp(head))
      throw new InputError(`unknown operation '${head}'`, {
        file,
        line,
        hint: `one of ${Object.keys(OPS).join(', ')}`,
      });
    const name = toks[1];
    if (name === undefined || !NAME_RE.test(name) || name.includes('='))
      throw new InputError(`${head}: missing or bad case name`, { file, line });
    const fields = new Map<string, string>();
    const allowed: readonly string[] = OPS[head];
    for (const t of toks.slice(2)) {
      const eq = t.indexOf('=');
      if (eq <= 0) throw new InputError(`'${t}' is not key=value`, { file, line });
      const k = t.slice(0, eq);
      const v = t.slice(eq + 1);
      if (!allowed.includes(k))
        throw new InputError(`${head} has no field '${k}'`, {
          file,
          line,
          field: k,
          hint: `fields: ${allowed.join(', ') || '(none)'}`,
        });
      if (fields.has(k)) throw new InputError(`field '${k}' given twice`, { file, line, field: k });
      if (!TEXT_FIELDS.has(k) && !NUM_RE.test(v))
        throw new InputError(`field '${k}': '${v}' is not a number`, { file, line, field: k });
      fields.set(k, v);
    }
    for (const k of REQUIRED[head] ?? [])
      if (!fields.has(k)) throw new InputError(`${head} needs field '${k}'`, { file, line, field: k });
    out.push({ kind: 'op', op: head, name, fields, line });
  }
  return out;
}

/** Prints statements back in canonical form (one per line, trailing newline). */
export function formatCompiled(stmts: readonly Statement[]): string {
  return (
    stmts
      .map((s) =>
        s.kind === 'op'
          ? [s.op, s.name, ...[...s.fields].map(([k, v]) => `${k}=${v}`)].join(' ')
          : `${s.kind} ${s.value}`,
      )
      .join('\n') + '\n'
  );
}

/** Small builder used by the generators: keeps insertion order of fields, checks names as it goes. */
export class CompiledWriter {
  private readonly stmts: Statement[] = [];

  directive(kind: 'format' | 'section' | 'scenario', value: string): this {
    if (kind === 'format' && value !== 'full' && value !== 'compact')
      throw new RangeError(`bad format ${value}`);
    this.stmts.push({ kind, value, line: this.stmts.length + 1 } as Directive);
    return this;
  }

  op(op: OpName, name: string, fields: Record<string, string | number | bigint> = {}): this {
    const m = new Map<string, string>();
    for (const [k, v] of Object.entries(fields))
      m.set(k, typeof v === 'string' ? v : typeof v === 'bigint' ? '0x' + v.toString(16) : String(v));
    this.stmts.push({ kind: 'op', op, name, fields: m, line: this.stmts.length + 1 });
    return this;
  }

  get count(): number {
    return this.stmts.length;
  }

  statements(): Statement[] {
    return [...this.stmts];
  }

  text(): string {
    return formatCompiled(this.stmts);
  }
}
