/**
 * HostView as JSON: u64 values written as `0x…` strings (JSON numbers lose bits above 2^53). The server
 * sends a real host's view this way, and the web app saves and re-opens snapshots in this form.
 * Decoding validates every field and names it in the error.
 *
 * Browser-safe: no Node APIs.
 */
import { InputError } from '../base/errors.js';
import type { Range } from '../base/range.js';
import { parseU64 } from '../base/u64.js';
import type { HostDeviceView, HostGroupView, HostRegionView, HostView } from '../host/view.js';
import { parseResvTypeName } from '../iommu/resv-region.js';
import { PAGE_SIZES } from '../host/page-size.js';

/** Marks a HostView JSON document (so a dropped file can be recognised). */
export const HOSTVIEW_FORMAT = 'iovamap-hostview/1';

export function hostViewToJson(view: HostView): string {
  return JSON.stringify(
    { format: HOSTVIEW_FORMAT, ...view },
    (_k, v: unknown) => (typeof v === 'bigint' ? '0x' + v.toString(16) : v),
    1,
  );
}

type Obj = Record<string, unknown>;

class Reader {
  constructor(private readonly file: string) {}

  fail(field: string, what: string): never {
    throw new InputError(what, { file: this.file, field });
  }
  obj(v: unknown, field: string): Obj {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(field, 'expected an object');
    return v as Obj;
  }
  arr(v: unknown, field: string): unknown[] {
    if (!Array.isArray(v)) this.fail(field, 'expected a list');
    return v as unknown[];
  }
  str(v: unknown, field: string): string {
    if (typeof v !== 'string') this.fail(field, 'expected a string');
    return v as string;
  }
  num(v: unknown, field: string): number {
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(field, 'expected a number');
    return v as number;
  }
  u64(v: unknown, field: string): bigint {
    const s =
      typeof v === 'number' && Number.isSafeInteger(v) ? String(v) : typeof v === 'string' ? v : undefined;
    const r = s === undefined ? undefined : parseU64(s);
    if (r === undefined) this.fail(field, 'expected an unsigned 64-bit number written as "0x…"');
    return r!;
  }
  range(v: unknown, field: string): Range {
    const o = this.obj(v, field);
    const start = this.u64(o['start'], `${field}.start`);
    const end = this.u64(o['end'], `${field}.end`);
    if (end < start) this.fail(`${field}.end`, 'end is below start');
    return { start, end };
  }
}

function device(r: Reader, dv: unknown, df: string): HostDeviceView {
  const d = r.obj(dv, df);
  let dev: HostDeviceView = {
    bdf: r.str(d['bdf'], `${df}.bdf`),
    vendor: d['vendor'] === undefined ? 0 : r.num(d['vendor'], `${df}.vendor`),
    device: d['device'] === undefined ? 0 : r.num(d['device'], `${df}.device`),
    class: d['class'] === undefined ? 0 : r.num(d['class'], `${df}.class`),
    driver: d['driver'] === undefined ? 'none' : r.str(d['driver'], `${df}.driver`),
  };
  if (d['name'] !== undefined) dev = { ...dev, name: r.str(d['name'], `${df}.name`) };
  if (d['parent'] !== undefined) dev = { ...dev, parent: r.str(d['parent'], `${df}.parent`) };
  return dev;
}

/** Parses a HostView JSON document; `file` names it in errors. */
export function hostViewFromJson(text: string, file = 'snapshot.json'): HostView {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new InputError(`not valid JSON: ${e instanceof Error ? e.message : String(e)}`, { file });
  }
  return hostViewFromObject(doc, file);
}

export function hostViewFromObject(doc: unknown, file = 'snapshot.json'): HostView {
  const r = new Reader(file);
  const o = r.obj(doc, '(top)');
  const groups: HostGroupView[] = r.arr(o['groups'], 'groups').map((gv, gi) => {
    const f = `groups[${gi}]`;
    const g = r.obj(gv, f);
    const devices = r
      .arr(g['devices'] ?? [], `${f}.devices`)
      .map((dv, di) => device(r, dv, `${f}.devices[${di}]`));
    const regions: HostRegionView[] = r.arr(g['regions'] ?? [], `${f}.regions`).map((rv, ri) => {
      const rf = `${f}.regions[${ri}]`;
      const x = r.obj(rv, rf);
      const { start, end } = r.range(x, rf);
      const typeString = r.str(x['typeString'], `${rf}.typeString`);
      if (!['direct', 'direct-relaxable', 'reserved', 'msi'].includes(typeString))
        r.fail(`${rf}.typeString`, `unknown type "${typeString}"`);
      let region: HostRegionView = { start, end, typeString };
      if (x['type'] !== undefined) {
        const t =
          typeof x['type'] === 'number'
            ? (x['type'] as number)
            : parseResvTypeName(r.str(x['type'], `${rf}.type`));
        if (t === undefined || t < 0 || t > 4) r.fail(`${rf}.type`, 'unknown region type');
        region = { ...region, type: t };
      }
      if (x['origin'] !== undefined) region = { ...region, origin: r.str(x['origin'], `${rf}.origin`) };
      return region;
    });
    const usable = r.arr(g['usable'] ?? [], `${f}.usable`).map((u, ui) => r.range(u, `${f}.usable[${ui}]`));
    let group: HostGroupView = {
      id: r.num(g['id'], `${f}.id`),
      type: g['type'] === undefined ? 'DMA' : r.str(g['type'], `${f}.type`),
      devices,
      regions,
      usable,
    };
    if (g['interruptSafety'] !== undefined) {
      const s = r.obj(g['interruptSafety'], `${f}.interruptSafety`);
      group = {
        ...group,
        interruptSafety: { safe: s['safe'] === true, why: r.str(s['why'] ?? '', `${f}.interruptSafety.why`) },
      };
    }
    if (g['assignable'] !== undefined) {
      const s = r.obj(g['assignable'], `${f}.assignable`);
      group = {
        ...group,
        assignable: { ok: s['ok'] === true, why: r.str(s['why'] ?? '', `${f}.assignable.why`) },
      };
    }
    if (g['quirks'] !== undefined && g['quirks'] !== null)
      group = {
        ...group,
        quirks: r.arr(g['quirks'], `${f}.quirks`).map((q, qi) => r.str(q, `${f}.quirks[${qi}]`)),
      };
    return group;
  });
  let view: HostView = {
    source: o['source'] === undefined ? `snapshot:${file}` : r.str(o['source'], 'source'),
    groups,
    notes: r.arr(o['notes'] ?? [], 'notes').map((n, i) => r.str(n, `notes[${i}]`)),
  };
  if (o['ungrouped'] !== undefined)
    view = {
      ...view,
      ungrouped: r.arr(o['ungrouped'], 'ungrouped').map((dv, i) => device(r, dv, `ungrouped[${i}]`)),
    };
  if (o['arch'] !== undefined) {
    const a = r.str(o['arch'], 'arch');
    if (a !== 'x86_64' && a !== 'aarch64') r.fail('arch', 'expected x86_64 or aarch64');
    view = { ...view, arch: a as 'x86_64' | 'aarch64' };
  }
  if (o['kernel'] !== undefined) view = { ...view, kernel: r.str(o['kernel'], 'kernel') };
  if (o['aperture'] !== undefined) view = { ...view, aperture: r.range(o['aperture'], 'aperture') };
  if (o['pageSize'] !== undefined) {
    const p = r.num(o['pageSize'], 'pageSize');
    if (!PAGE_SIZES.includes(p)) r.fail('pageSize', 'expected 4096, 16384 or 65536');
    view = { ...view, pageSize: p };
  }
  return view;
}
