/**
 * The state of one scenario run: the VFIO system (byte layer), named file descriptors, variables for
 * expressions (memory regions, the ranges of the last GET_INFO, loop variables), and the output lines.
 * Helpers turn a step's fields into values and raise InputErrors that name the file, line and field.
 */
import { errnoName } from '../base/errno.js';
import { InputError } from '../base/errors.js';
import type { Device } from '../iommu/api.js';
import type { VfioDeviceFile } from '../vfio/pci/vfio-pci.js';
import type { VfioSystem } from '../vfio/system.js';
import { ExprError, evalExpr, renderTemplate, type Scope, type Value } from './expr.js';
import type { Scenario } from './parse.js';
import type { ScenarioStep } from './registry.js';

export interface InfoState {
  /** Ranges of the last verbose GET_INFO (the probe keeps those for its derived IOVAs). */
  ranges: { start: bigint; end: bigint }[];
  pgsizes: bigint;
  dmaAvail: number | undefined;
}

export class RunContext {
  readonly out: string[] = [];
  readonly handles = new Map<string, number>();
  readonly vars = new Map<string, Value>();
  readonly info: InfoState = { ranges: [], pgsizes: 0n, dmaAvail: undefined };
  /** Failed `expect:` checks: `file:line: case: wanted ..., got ...`. */
  readonly failures: string[] = [];
  /** Extension point for plug-in steps (e.g. MSI state): keyed by module. */
  readonly ext = new Map<string, unknown>();

  constructor(
    readonly sys: VfioSystem,
    readonly scenario: Scenario,
  ) {}

  emit(line: string): void {
    this.out.push(line);
  }

  /** `CASE <name> rc=<rc> errno=<NAME|0>[ extra]` from a kernel-style result (negative = -errno). */
  caseLine(name: string, ret: number, extra = '', rcOnSuccess: number = 0): void {
    const rc = ret < 0 ? -1 : rcOnSuccess;
    const e = ret < 0 ? errnoName(ret) : '0';
    this.emit(`CASE ${name} rc=${rc} errno=${e}${extra}`);
  }

  err(step: ScenarioStep, msg: string, field?: string, line?: number): InputError {
    return new InputError(msg, {
      file: this.scenario.file,
      line: line ?? step.line,
      column: line === undefined ? step.column : undefined,
      field: field === undefined ? step.op : `${step.op}.${field}`,
    } as ConstructorParameters<typeof InputError>[1]);
  }

  get scope(): Scope {
    return {
      lookup: (n) => this.lookup(n),
      call: (fn, args) => this.call(fn, args),
    };
  }

  private lookup(n: string): Value | undefined {
    const v = this.vars.get(n);
    if (v !== undefined) return v;
    const r = this.sys.mm.region(n);
    if (r) return r.start;
    const ranges = this.info.ranges;
    switch (n) {
      case 'ranges':
        return ranges.map((x) => ({ start: x.start, end: x.end }));
      case 'nr_ranges':
        return BigInt(ranges.length);
      case 'holes':
        return ranges.slice(1).map((x, i) => ({ start: ranges[i]!.end + 1n, end: x.start - 1n }));
      case 'top':
        return ranges.length ? ranges[ranges.length - 1]!.end : undefined;
      case 'pgsizes':
        return this.info.pgsizes;
      case 'dma_avail':
        return this.info.dmaAvail === undefined ? undefined : BigInt(this.info.dmaAvail);
      case 'page_size':
        return BigInt(this.sys.core.pageSize);
      case 'kernel':
        return this.sys.profile.version;
      default:
        return undefined;
    }
  }

  private call(fn: string, args: Value[]): Value | undefined {
    if (fn === 'group_of' && typeof args[0] === 'string') {
      const d = this.findDevice(args[0]);
      if (!d || d.groupId === undefined)
        throw new ExprError(`no device with an IOMMU group matches "${args[0]}"`);
      return BigInt(d.groupId);
    }
    if (fn === 'bdf_of' && typeof args[0] === 'string') {
      const d = this.findDevice(args[0]);
      if (!d) throw new ExprError(`no device matches "${args[0]}"`);
      return d.bdf;
    }
    /** fit(min, bytes, align): first usable range with `bytes` from max(start, min), aligned up (probe fill base). */
    if (fn === 'fit' && args.length === 3) {
      const [min, bytes, align] = args as bigint[];
      for (const r of this.info.ranges) {
        const s = r.start < min! ? min! : r.start;
        if (s <= r.end && r.end - s + 1n >= bytes!) return (s + align! - 1n) & ~(align! - 1n);
      }
      return min!;
    }
    return undefined;
  }

  /** A device by `ssss:bb:dd.f` or `vvvv:dddd` (first match in bus order). */
  findDevice(sel: string): Device | undefined {
    const devs = this.sys.core.devices();
    const s = sel.toLowerCase();
    if (/^[0-9a-f]{4}:[0-9a-f]{4}$/.test(s)) {
      const [v, d] = s.split(':').map((x) => parseInt(x, 16));
      return devs.find((x) => x.vendor === v && x.deviceId === d);
    }
    return devs.find((x) => x.bdf === s);
  }

  device(step: ScenarioStep, field: string): Device {
    const sel = this.str(step, field);
    if (sel === undefined) throw this.err(step, `missing field "${field}"`, field);
    const d = this.findDevice(sel);
    if (!d)
      throw this.err(step, `no device matches "${sel}" on this platform`, field, step.fields[field]?.line);
    return d;
  }

  num(step: ScenarioStep, field: string, dflt?: bigint): bigint {
    const f = step.fields[field];
    if (!f) {
      if (dflt === undefined) throw this.err(step, `missing field "${field}"`, field);
      return dflt;
    }
    if (f.kind !== 'expr') throw this.err(step, 'expected an expression', field, f.line);
    try {
      const v = evalExpr(f.expr, this.scope);
      if (typeof v === 'boolean') return v ? 1n : 0n;
      if (typeof v !== 'bigint') throw new ExprError(`"${f.text}" is not a number`);
      return v;
    } catch (e) {
      if (e instanceof ExprError) throw this.err(step, e.message, field, f.line);
      throw e;
    }
  }

  /** The eventfds the `eventfds` step opened (the probe's efd[]), in order; [] before it. */
  eventfdPool(): number[] {
    const p = this.ext.get('msi.efd');
    return Array.isArray(p) ? (p as number[]) : [];
  }

  /** A list-of-expressions field (`[a, b]`) as numbers; [] when absent. */
  nums(step: ScenarioStep, field: string): bigint[] {
    const f = step.fields[field];
    if (!f) return [];
    if (f.kind !== 'exprs') throw this.err(step, 'expected a list of expressions', field, f.line);
    return f.exprs.map((e) => {
      let x;
      try {
        x = evalExpr(e, this.scope);
      } catch (err) {
        if (err instanceof ExprError) throw this.err(step, err.message, field, f.line);
        throw err;
      }
      if (typeof x !== 'bigint') throw this.err(step, 'expected numbers', field, f.line);
      return x;
    });
  }

  /** A u32 field (argsz, flags): larger values are a scenario mistake. */
  /** Start of the scenario's `vaddr_base` region: the default user address of maps (undefined: none). */
  vaddrBaseStart(): bigint | undefined {
    const base = this.scenario.vaddrBase;
    return base === undefined ? undefined : this.sys.mm.region(base)?.start;
  }

  /** A field that the kernel takes as an unsigned 64-bit value: a negative or wider one is a mistake. */
  u64(step: ScenarioStep, field: string, dflt?: bigint): bigint {
    const v = this.num(step, field, dflt);
    if (v < 0n || v > 0xffffffffffffffffn)
      throw this.err(step, `${v} is not an unsigned 64-bit value`, field, step.fields[field]?.line);
    return v;
  }

  u32(step: ScenarioStep, field: string, dflt?: number): number {
    const v = this.num(step, field, dflt === undefined ? undefined : BigInt(dflt));
    if (v > 0xffffffffn)
      throw this.err(step, `${v} does not fit in 32 bits`, field, step.fields[field]?.line);
    return Number(v);
  }

  value(step: ScenarioStep, field: string): Value {
    const f = step.fields[field];
    if (!f || f.kind !== 'expr') throw this.err(step, `missing field "${field}"`, field);
    try {
      return evalExpr(f.expr, this.scope);
    } catch (e) {
      if (e instanceof ExprError) throw this.err(step, e.message, field, f.line);
      throw e;
    }
  }

  text(step: ScenarioStep, field: string, dflt?: string): string {
    const f = step.fields[field];
    if (!f) {
      if (dflt === undefined) throw this.err(step, `missing field "${field}"`, field);
      return dflt;
    }
    if (f.kind === 'string') return f.value;
    if (f.kind !== 'template') throw this.err(step, 'expected text', field, f.line);
    try {
      return renderTemplate(f.template, this.scope);
    } catch (e) {
      if (e instanceof ExprError) throw this.err(step, e.message, field, f.line);
      throw e;
    }
  }

  str(step: ScenarioStep, field: string, dflt?: string): string | undefined {
    const f = step.fields[field];
    if (!f) return dflt;
    if (f.kind === 'string') return f.value;
    if (f.kind === 'template') return this.text(step, field);
    throw this.err(step, 'expected text', field, f.line);
  }

  bool(step: ScenarioStep, field: string, dflt: boolean): boolean {
    const f = step.fields[field];
    if (!f) return dflt;
    if (f.kind !== 'bool') throw this.err(step, 'expected true or false', field, f.line);
    return f.value;
  }

  /** The vfio device file behind the `device` handle (default "device"); a scenario mistake otherwise. */
  deviceFile(step: ScenarioStep): VfioDeviceFile {
    const f = this.sys.file(this.fd(step, 'device', 'device'));
    // a device cdev bound to an iommufd is a device file too
    if (f?.kind === 'cdev' && f.cdev.deviceFile) return f.cdev.deviceFile;
    if (f?.kind !== 'device')
      throw this.err(step, `handle "${this.str(step, 'device', 'device')}" is not a device fd`, 'device');
    return f.device;
  }

  /** The fd saved under a handle name (a scenario mistake when never opened). */
  fd(step: ScenarioStep, field: string, dflt: string): number {
    const h = this.str(step, field, dflt)!;
    const fd = this.handles.get(h);
    if (fd === undefined) {
      throw this.err(step, `no open file named "${h}"`, field, step.fields[field]?.line);
    }
    return fd;
  }
}
