/**
 * Built-in scenario steps: the VFIO container/group/type1 calls, printed in the oracle probe's line
 * formats (../shared/oracle/vfio_probe.c), plus control flow (block, for_each, exit) and platform
 * set-up (bind_driver, set_param). Each step builds the uapi bytes and goes through VfioSystem.ioctl.
 */
import { errnoName } from '../base/errno.js';
import { hex16 } from '../base/u64.js';
import {
  DMA_MAP_SIZE,
  DMA_UNMAP_SIZE,
  TYPE1_INFO_SIZE,
  VFIO_BITMAP_SIZE,
  VFIO_IOMMU_DIRTY_PAGES,
  VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP,
  VFIO_CHECK_EXTENSION,
  VFIO_GET_API_VERSION,
  VFIO_API_VERSION,
  VFIO_GROUP_UNSET_CONTAINER,
  VFIO_IOMMU_GET_INFO,
  VFIO_IOMMU_INFO_CAPS,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_UNMAP_DMA,
  VFIO_SET_IOMMU,
  CONTAINER_IOCTL_NAMES,
  getU32,
  getU64,
  putU32,
} from '../uapi/vfio-type1.js';
import {
  decodeDmaMap,
  decodeDmaUnmap,
  decodeType1Caps,
  encodeDmaMap,
  encodeDirtyPages,
  encodeDmaUnmap,
  getDeviceFd,
  groupStatus,
  setContainer,
  type VfioBitmap,
} from '../vfio/typed.js';
import { DMA_MANAGED_DRIVERS } from '../vfio/container.js';
import { isType1ParamName, readType1Param } from '../vfio/params.js';
import { evalExpr, truthy } from './expr.js';
import type { RunContext } from './context.js';
import {
  CASE_NAME_FIELD,
  type ScenarioStep,
  type StepSpec,
  registerOpenStep,
  registerStep,
  stepSpec,
} from './registry.js';

const hex = (v: bigint | number): string => '0x' + v.toString(16);

/**
 * An `unsigned long` ioctl argument (CHECK_EXTENSION, SET_IOMMU) for the byte layer, which takes a JS
 * number: exact up to 2^53; anything larger is no extension or IOMMU type, like every unknown value.
 */
const ulongArg = (v: bigint): number =>
  v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : Number.MAX_SAFE_INTEGER;

/** Ioctl names the `ioctl` step knows: container/group/type1, and the vfio-pci device ioctls. */
export const IOCTL_NAMES: Record<string, number> = {
  ...CONTAINER_IOCTL_NAMES,
  VFIO_DEVICE_GET_INFO: 0x3b00 | 107,
  VFIO_DEVICE_GET_REGION_INFO: 0x3b00 | 108,
  VFIO_DEVICE_GET_IRQ_INFO: 0x3b00 | 109,
  VFIO_DEVICE_SET_IRQS: 0x3b00 | 110,
  VFIO_DEVICE_RESET: 0x3b00 | 111,
};

/** Thrown by `exit` to end the run (like the probe's `return 1`). */
export class StopRun {
  constructor(readonly code: number) {}
}

/** Runs a list of steps with `if` / `then` / `else`. Exported for plug-in steps with nested lists. */
export function runSteps(ctx: RunContext, steps: readonly ScenarioStep[]): void {
  for (const s of steps) runStep(ctx, s);
}

export function runStep(ctx: RunContext, s: ScenarioStep): void {
  if (s.cond) {
    let v;
    try {
      v = evalExpr(s.cond, ctx.scope);
    } catch (e) {
      throw ctx.err(s, (e as Error).message, 'if');
    }
    if (!truthy(v)) return;
  }
  // The op was checked at load time.
  const spec = stepSpec(s.op);
  if (!spec) throw ctx.err(s, `unknown step "${s.op}"`);
  const before = ctx.out.length;
  const rc = spec.run(ctx, s);
  if (s.fields['expect']) checkExpectation(ctx, s, before);
  if (typeof rc === 'number') {
    if (rc >= 0 && s.then) runSteps(ctx, s.then);
    if (rc < 0 && s.otherwise) runSteps(ctx, s.otherwise);
  }
}

/** Compares `expect:` with the first CASE line the step printed; records a failure when they differ. */
function checkExpectation(ctx: RunContext, s: ScenarioStep, from: number): void {
  const want = ctx.text(s, 'expect').trim();
  const line = ctx.out.slice(from).find((l) => l.startsWith('CASE '));
  const where = `${ctx.scenario.file}:${s.fields['expect']!.line}`;
  if (!line) {
    ctx.failures.push(`${where}: ${s.op}: expected "${want}" but the step printed no CASE line`);
    return;
  }
  const got = new Map<string, string>();
  for (const tok of line.split(' ').slice(2)) {
    const i = tok.indexOf('=');
    if (i > 0) got.set(tok.slice(0, i), tok.slice(i + 1));
  }
  const caseName = line.split(' ')[1];
  const bad: string[] = [];
  for (const tok of want.split(/\s+/)) {
    const i = tok.indexOf('=');
    const [k, v] = i > 0 ? [tok.slice(0, i), tok.slice(i + 1)] : ['errno', tok === 'ok' ? '0' : tok];
    if (got.get(k) !== v) bad.push(`${k}=${v} (got ${got.get(k) ?? 'nothing'})`);
  }
  if (bad.length) ctx.failures.push(`${where}: ${caseName}: expected ${bad.join(', ')}`);
}

const name = CASE_NAME_FIELD;
const containerFd = { kind: 'string', help: 'handle of the container fd (default "container")' } as const;
const groupFd = { kind: 'string', help: 'handle of the group fd (default "group")' } as const;

function def(spec: StepSpec): void {
  registerStep(spec);
}

// ---------------------------------------------------------------- files

registerOpenStep('open_container', '/dev/vfio/vfio', 'container');

def({
  op: 'open_group',
  summary: 'open("/dev/vfio/<n>"): CASE <name> rc errno path=/dev/vfio/<n>',
  fields: {
    name,
    group: { kind: 'expr', help: 'group number' },
    device: { kind: 'string', help: 'or: a device (bdf or vendor:device) whose group to open' },
    as: { kind: 'string', help: 'handle (default "group")' },
  },
  run(ctx, s) {
    let n: bigint;
    if (s.fields['group']) n = ctx.num(s, 'group');
    else if (s.fields['device']) {
      const d = ctx.device(s, 'device');
      if (d.groupId === undefined) throw ctx.err(s, `device ${d.bdf} has no IOMMU group`, 'device');
      n = BigInt(d.groupId);
    } else throw ctx.err(s, 'needs "group" or "device"');
    const path = `/dev/vfio/${n}`;
    const fd = ctx.sys.open(path);
    ctx.handles.set(ctx.str(s, 'as', 'group')!, fd);
    ctx.caseLine(ctx.text(s, 'name'), fd, ` path=${path}`);
    return fd < 0 ? fd : 0;
  },
});

def({
  op: 'close',
  summary: 'close(fd): no output',
  shorthand: 'fd',
  fields: { fd: { kind: 'string', required: true, help: 'handle to close' } },
  run(ctx, s) {
    const fd = ctx.fd(s, 'fd', '');
    return ctx.sys.close(fd);
  },
});

// ---------------------------------------------------------------- container

def({
  op: 'get_api_version',
  summary: 'VFIO_GET_API_VERSION: CASE <name> rc errno expected=0',
  fields: { name, fd: containerFd },
  run(ctx, s) {
    const rc = ctx.sys.ioctl(ctx.fd(s, 'fd', 'container'), VFIO_GET_API_VERSION);
    ctx.caseLine(ctx.text(s, 'name'), rc, ` expected=${VFIO_API_VERSION}`, rc);
    return rc;
  },
});

def({
  op: 'check_extension',
  summary: 'VFIO_CHECK_EXTENSION(ext): CASE <name> rc=<answer> errno ext=<n>',
  fields: {
    name,
    ext: {
      kind: 'expr',
      required: true,
      help: 'extension number (1 TYPE1, 3 TYPE1v2, 4 DMA_CC, 9 UNMAP_ALL, 10 UPDATE_VADDR ...)',
    },
    fd: containerFd,
  },
  run(ctx, s) {
    const ext = ctx.num(s, 'ext');
    const rc = ctx.sys.ioctl(ctx.fd(s, 'fd', 'container'), VFIO_CHECK_EXTENSION, ulongArg(ext));
    ctx.caseLine(ctx.text(s, 'name'), rc, ` ext=${ext}`, rc);
    return rc;
  },
});

def({
  op: 'set_iommu',
  summary: 'VFIO_SET_IOMMU(type): CASE <name> rc errno',
  fields: { name, type: { kind: 'expr', required: true, help: '1 TYPE1, 3 TYPE1v2' }, fd: containerFd },
  run(ctx, s) {
    const rc = ctx.sys.ioctl(ctx.fd(s, 'fd', 'container'), VFIO_SET_IOMMU, ulongArg(ctx.num(s, 'type')));
    ctx.caseLine(ctx.text(s, 'name'), rc);
    return rc;
  },
});

// ---------------------------------------------------------------- group

def({
  op: 'group_status',
  summary: 'VFIO_GROUP_GET_STATUS: CASE <name> rc errno flags viable container_set',
  fields: { name, group: groupFd, brief: { kind: 'bool', help: 'print only flags=' } },
  run(ctx, s) {
    const r = groupStatus(ctx.sys, ctx.fd(s, 'group', 'group'));
    const f = r.rc < 0 ? 0 : r.out.flags;
    const extra = ctx.bool(s, 'brief', false)
      ? ` flags=${hex(f)}`
      : ` flags=${hex(f)} viable=${f & 1 ? 1 : 0} container_set=${f & 2 ? 1 : 0}`;
    ctx.caseLine(ctx.text(s, 'name'), r.rc, extra);
    return r.rc;
  },
});

def({
  op: 'set_container',
  summary: 'VFIO_GROUP_SET_CONTAINER(&fd): CASE <name> rc errno',
  fields: { name, group: groupFd, container: containerFd },
  run(ctx, s) {
    const rc = setContainer(ctx.sys, ctx.fd(s, 'group', 'group'), ctx.fd(s, 'container', 'container'));
    ctx.caseLine(ctx.text(s, 'name'), rc);
    return rc;
  },
});

def({
  op: 'unset_container',
  summary: 'VFIO_GROUP_UNSET_CONTAINER: CASE <name> rc errno',
  fields: { name, group: groupFd },
  run(ctx, s) {
    const rc = ctx.sys.ioctl(ctx.fd(s, 'group', 'group'), VFIO_GROUP_UNSET_CONTAINER);
    ctx.caseLine(ctx.text(s, 'name'), rc);
    return rc;
  },
});

def({
  op: 'get_device_fd',
  summary: 'VFIO_GROUP_GET_DEVICE_FD(bdf): CASE <name> rc errno bdf=<bdf>',
  fields: {
    name,
    group: groupFd,
    device: { kind: 'string', required: true, help: 'bdf or vendor:device' },
    as: { kind: 'string', help: 'handle (default "device")' },
  },
  run(ctx, s) {
    const bdf = ctx.device(s, 'device').bdf;
    const fd = getDeviceFd(ctx.sys, ctx.fd(s, 'group', 'group'), bdf);
    ctx.handles.set(ctx.str(s, 'as', 'device')!, fd);
    ctx.caseLine(ctx.text(s, 'name'), fd, ` bdf=${bdf}`);
    return fd < 0 ? fd : 0;
  },
});

def({
  op: 'device_get_info',
  summary: 'VFIO_DEVICE_GET_INFO: CASE <name> rc errno flags num_regions num_irqs',
  fields: { name, device: { kind: 'string', help: 'handle of the device fd (default "device")' } },
  run(ctx, s) {
    // struct vfio_device_info { argsz, flags, num_regions, num_irqs, cap_offset, pad } = 24 bytes.
    const b = new Uint8Array(24);
    putU32(b, 0, 24);
    const rc = ctx.sys.ioctl(ctx.fd(s, 'device', 'device'), IOCTL_NAMES['VFIO_DEVICE_GET_INFO']!, b);
    ctx.caseLine(
      ctx.text(s, 'name'),
      rc,
      ` flags=${hex(getU32(b, 4))} num_regions=${getU32(b, 8)} num_irqs=${getU32(b, 12)}`,
    );
    return rc;
  },
});

// ---------------------------------------------------------------- type1

/** Prints the probe's verbose GET_INFO: negotiation rounds, buffer length, HEX, CAP and RANGE lines. */
function getInfoNegotiated(ctx: RunContext, fd: number, tag: string, verbose: boolean): number {
  let argsz = TYPE1_INFO_SIZE;
  let buf = new Uint8Array(argsz);
  let rc = 0;
  for (let round = 0; ; round++) {
    buf = new Uint8Array(argsz);
    putU32(buf, 0, argsz);
    rc = ctx.sys.ioctl(fd, VFIO_IOMMU_GET_INFO, buf);
    const out = getU32(buf, 0);
    if (verbose) {
      ctx.caseLine(
        `${tag}_round${round}`,
        rc,
        ` argsz_in=${argsz} argsz_out=${out} flags=${hex(getU32(buf, 4))} iova_pgsizes=${hex(getU64(buf, 8))} cap_offset=${getU32(buf, 16)}`,
      );
    }
    if (rc < 0) break;
    if (out > argsz && round < 4) {
      argsz = out;
      continue;
    }
    break;
  }
  if (rc < 0) return rc;
  ctx.info.pgsizes = getU64(buf, 8);
  if (verbose) {
    ctx.emit(`INFO ${tag}_buffer_len=${argsz}`);
    for (let off = 0; off < argsz; off += 16) {
      const bytes = [...buf.subarray(off, Math.min(off + 16, argsz))].map((x) =>
        x.toString(16).padStart(2, '0'),
      );
      ctx.emit(`HEX ${off.toString(16).padStart(4, '0')} ${bytes.join(' ')}`);
    }
  }
  ctx.info.dmaAvail = undefined;
  const flags = getU32(buf, 4);
  const capOff = getU32(buf, 16);
  if (flags & VFIO_IOMMU_INFO_CAPS && capOff !== 0) {
    if (verbose) ctx.info.ranges = [];
    for (const c of decodeType1Caps(buf, argsz, capOff)) {
      if ('error' in c) {
        if (verbose) ctx.emit(`CAP off=${c.off} error=beyond_buffer len=${c.len}`);
        break;
      }
      const head = `CAP off=${c.off} id=${c.id} version=${c.version} next=${c.next}`;
      if (c.name === 'IOVA_RANGE') {
        if (verbose) ctx.emit(`${head} name=IOVA_RANGE nr_iovas=${c.nrIovas} reserved=${c.reserved}`);
        c.ranges.forEach((r, i) => {
          if (verbose) {
            ctx.emit(`RANGE idx=${i} start=${hex16(r.start)} end=${hex16(r.end)}`);
            ctx.info.ranges.push(r);
          }
        });
      } else if (c.name === 'MIGRATION') {
        if (verbose) {
          ctx.emit(
            `${head} name=MIGRATION flags=${hex(c.flags)} pgsize_bitmap=${hex(c.pgsizeBitmap)} max_dirty_bitmap_size=${hex(c.maxDirtyBitmapSize)}`,
          );
        }
      } else if (c.name === 'DMA_AVAIL') {
        if (verbose) ctx.emit(`${head} name=DMA_AVAIL avail=${c.avail}`);
        ctx.info.dmaAvail = c.avail;
      } else if (verbose) ctx.emit(`${head} name=UNKNOWN`);
    }
  }
  return 0;
}

def({
  op: 'get_info',
  summary: 'VFIO_IOMMU_GET_INFO with argsz negotiation: CASE <tag>_roundN, INFO, HEX, CAP, RANGE lines',
  shorthand: 'tag',
  fields: {
    tag: { kind: 'template', required: true, help: 'prefix of the CASE/INFO names' },
    quiet: { kind: 'bool', help: 'print nothing (only refresh dma_avail)' },
    fd: containerFd,
  },
  run(ctx, s) {
    return getInfoNegotiated(
      ctx,
      ctx.fd(s, 'fd', 'container'),
      ctx.text(s, 'tag'),
      !ctx.bool(s, 'quiet', false),
    );
  },
});

def({
  op: 'dma_avail',
  summary: 'quiet GET_INFO, then INFO dma_avail_<tag>=<n|none>',
  shorthand: 'tag',
  fields: { tag: { kind: 'template', required: true, help: 'suffix of the INFO key' }, fd: containerFd },
  run(ctx, s) {
    getInfoNegotiated(ctx, ctx.fd(s, 'fd', 'container'), 'quiet', false);
    const a = ctx.info.dmaAvail;
    ctx.emit(`INFO dma_avail_${ctx.text(s, 'tag')}=${a === undefined ? 'none' : a}`);
  },
});

const INFO_FIELDS: Record<string, (b: Uint8Array) => string> = {
  argsz_out: (b) => String(getU32(b, 0)),
  flags: (b) => hex(getU32(b, 4)),
  iova_pgsizes: (b) => hex(getU64(b, 8)),
  cap_offset: (b) => String(getU32(b, 16)),
  cap_offset_untouched: (b) => hex(getU32(b, 16)),
};

def({
  op: 'get_info_raw',
  summary: 'one VFIO_IOMMU_GET_INFO with a chosen argsz and buffer fill: CASE <name> rc errno [fields]',
  fields: {
    name,
    argsz: { kind: 'expr', required: true, help: 'argsz written into the buffer' },
    buf_len: { kind: 'expr', help: 'buffer length (default max(argsz, 24))' },
    fill: { kind: 'expr', help: 'byte the buffer is filled with before argsz is written (default 0)' },
    print: { kind: 'string', help: `space-separated fields to print: ${Object.keys(INFO_FIELDS).join(' ')}` },
    fd: containerFd,
  },
  run(ctx, s) {
    const argsz = ctx.u32(s, 'argsz');
    const len = Number(ctx.num(s, 'buf_len', BigInt(Math.max(argsz, TYPE1_INFO_SIZE))));
    if (len > 1 << 20) throw ctx.err(s, 'buf_len larger than 1 MiB', 'buf_len');
    const b = new Uint8Array(len).fill(Number(ctx.num(s, 'fill', 0n) & 0xffn));
    if (len >= 4) putU32(b, 0, argsz);
    const rc = ctx.sys.ioctl(ctx.fd(s, 'fd', 'container'), VFIO_IOMMU_GET_INFO, b);
    const keys = (ctx.str(s, 'print', '') ?? '').split(/\s+/).filter(Boolean);
    let extra = '';
    for (const k of keys) {
      const f = INFO_FIELDS[k];
      if (!f) throw ctx.err(s, `unknown field "${k}" to print`, 'print', s.fields['print']?.line);
      extra += ` ${k}=${f(b)}`;
    }
    ctx.caseLine(ctx.text(s, 'name'), rc, extra);
    return rc;
  },
});

export function vaddrOff(ctx: RunContext, vaddr: bigint): bigint {
  const base = ctx.scenario.vaddrBase;
  const r = base === undefined ? undefined : ctx.sys.mm.region(base);
  if (r && vaddr >= r.start && vaddr < r.start + r.size) return vaddr - r.start;
  return vaddr;
}

def({
  op: 'map_dma',
  summary: 'VFIO_IOMMU_MAP_DMA: CASE <name> rc errno op=MAP flags iova size vaddr_off out_*',
  fields: {
    name,
    iova: { kind: 'expr', required: true, help: 'IOVA' },
    size: { kind: 'expr', required: true, help: 'bytes' },
    vaddr: { kind: 'expr', help: 'user address (default: the vaddr_base region)' },
    flags: { kind: 'expr', help: 'default 3 (READ|WRITE); 4 = VADDR' },
    argsz: { kind: 'expr', help: 'default 32' },
    fd: containerFd,
  },
  run(ctx, s) {
    const base = ctx.vaddrBaseStart();
    const f = {
      argsz: ctx.u32(s, 'argsz', DMA_MAP_SIZE),
      flags: ctx.u32(s, 'flags', 3),
      vaddr: s.fields['vaddr'] ? ctx.num(s, 'vaddr') : (base ?? 0n),
      iova: ctx.num(s, 'iova'),
      size: ctx.num(s, 'size'),
    };
    const buf = encodeDmaMap(f);
    const rc = ctx.sys.ioctl(ctx.fd(s, 'fd', 'container'), VFIO_IOMMU_MAP_DMA, buf);
    const o = decodeDmaMap(buf);
    ctx.caseLine(
      ctx.text(s, 'name'),
      rc,
      ` op=MAP flags=${hex(f.flags)} iova=${hex(f.iova)} size=${hex(f.size)} vaddr_off=${hex(vaddrOff(ctx, f.vaddr))}` +
        ` out_argsz=${o.argsz} out_flags=${hex(o.flags)} out_iova=${hex(o.iova)} out_size=${hex(o.size)}`,
    );
    return rc;
  },
});

/** Fields of a struct vfio_bitmap (UNMAP with GET_DIRTY_BITMAP, DIRTY_PAGES with GET_BITMAP). */
const bitmapFields = {
  bitmap: { kind: 'expr', help: 'user address of the dirty bitmap (a memory region name works)' },
  bitmap_size: {
    kind: 'expr',
    help: 'bytes of the bitmap (default: one bit per page of size, whole u64 words)',
  },
  pgsize: { kind: 'expr', help: 'bytes per bit (default page_size, the platform page size)' },
} as const;

function readBitmap(ctx: RunContext, s: ScenarioStep, size: bigint): VfioBitmap {
  const pgsize = ctx.num(s, 'pgsize', BigInt(ctx.sys.core.pageSize));
  const pages = pgsize > 0n ? size / pgsize : 0n;
  return { pgsize, size: ctx.num(s, 'bitmap_size', ((pages + 63n) / 64n) * 8n), data: ctx.num(s, 'bitmap') };
}

/**
 * ` bitmap=w0,w1,...`: the user's bitmap as hex u64 words read back from the process's memory, up to
 * the last non-zero word (at most 64 words, then `...`).
 */
function bitmapText(ctx: RunContext, m: VfioBitmap): string {
  const n = Number(m.size < 512n ? m.size : 512n) >> 3;
  const b = new Uint8Array(n * 8);
  if (ctx.sys.mm.copyFromUser(b, m.data) !== 0) return ' bitmap=unreadable';
  const v = new DataView(b.buffer);
  const w = Array.from({ length: n }, (_, i) => v.getBigUint64(i * 8, true));
  let last = w.length;
  while (last > 1 && w[last - 1] === 0n) last--;
  const more = m.size > BigInt(n * 8) ? ',...' : '';
  return ` bitmap=${w.slice(0, last).map(hex).join(',')}${more}`;
}

def({
  op: 'unmap_dma',
  summary:
    'VFIO_IOMMU_UNMAP_DMA: CASE <name> rc errno op=UNMAP flags iova size out_* (out_size = bytes unmapped); ' +
    'with `bitmap` (flags 1 = GET_DIRTY_BITMAP) the struct vfio_bitmap follows and the line ends with bitmap=',
  fields: {
    name,
    iova: { kind: 'expr', help: 'default 0' },
    size: { kind: 'expr', help: 'default 0' },
    flags: { kind: 'expr', help: 'default 0; 2 = ALL, 4 = VADDR, 1 = GET_DIRTY_BITMAP' },
    argsz: { kind: 'expr', help: 'default 24 (48 with a bitmap)' },
    ...bitmapFields,
    fd: containerFd,
  },
  run(ctx, s) {
    const size = ctx.num(s, 'size', 0n);
    const bitmap = s.fields['bitmap'] ? readBitmap(ctx, s, size) : undefined;
    const f = {
      argsz: ctx.u32(s, 'argsz', DMA_UNMAP_SIZE + (bitmap ? VFIO_BITMAP_SIZE : 0)),
      flags: ctx.u32(s, 'flags', 0),
      iova: ctx.num(s, 'iova', 0n),
      size,
      ...(bitmap ? { bitmap } : {}),
    };
    const buf = encodeDmaUnmap(f);
    const rc = ctx.sys.ioctl(ctx.fd(s, 'fd', 'container'), VFIO_IOMMU_UNMAP_DMA, buf);
    const o = decodeDmaUnmap(buf);
    ctx.caseLine(
      ctx.text(s, 'name'),
      rc,
      ` op=UNMAP flags=${hex(f.flags)} iova=${hex(f.iova)} size=${hex(f.size)}` +
        ` out_argsz=${o.argsz} out_flags=${hex(o.flags)} out_iova=${hex(o.iova)} out_size=${hex(o.size)}` +
        (bitmap ? bitmapText(ctx, bitmap) : ''),
    );
    return rc;
  },
});

def({
  op: 'dirty_pages',
  summary:
    'VFIO_IOMMU_DIRTY_PAGES: CASE <name> rc errno op=DIRTY flags; GET_BITMAP adds iova size and, on ' +
    'success, bitmap= (the user bitmap read back as u64 words)',
  fields: {
    name,
    flags: { kind: 'expr', required: true, help: '1 = START, 2 = STOP, 4 = GET_BITMAP' },
    iova: { kind: 'expr', help: 'GET_BITMAP: first IOVA (default 0)' },
    size: { kind: 'expr', help: 'GET_BITMAP: bytes (default 0)' },
    ...bitmapFields,
    argsz: { kind: 'expr', help: 'default 8 (48 with GET_BITMAP)' },
    fd: containerFd,
  },
  run(ctx, s) {
    const flags = ctx.u32(s, 'flags');
    const fd = ctx.fd(s, 'fd', 'container');
    const get = (flags & VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP) !== 0;
    const iova = ctx.num(s, 'iova', 0n);
    const size = ctx.num(s, 'size', 0n);
    const bitmap = get ? readBitmap(ctx, s, size) : undefined;
    const b = encodeDirtyPages(
      flags,
      bitmap ? { iova, size, bitmap } : undefined,
      s.fields['argsz'] ? ctx.u32(s, 'argsz') : undefined,
    );
    const rc = ctx.sys.ioctl(fd, VFIO_IOMMU_DIRTY_PAGES, b);
    const range = bitmap ? ` iova=${hex(iova)} size=${hex(size)}` : '';
    const bits = bitmap && rc === 0 ? bitmapText(ctx, bitmap) : '';
    ctx.caseLine(ctx.text(s, 'name'), rc, ` op=DIRTY flags=${hex(flags)}${range}${bits}`);
    return rc;
  },
});

def({
  op: 'map_fill',
  summary: 'MAP_DMA one page at consecutive IOVAs until failure or `max`: CASE <tag>_fill ... op=MAP_FILL',
  fields: {
    tag: { kind: 'template', required: true, help: 'prefix of the CASE name' },
    base: { kind: 'expr', required: true, help: 'first IOVA' },
    max: { kind: 'expr', help: 'stop after this many successful maps (default 2^32)' },
    vaddr: { kind: 'expr', help: 'user address mapped at every IOVA (default: the vaddr_base region)' },
    fd: containerFd,
  },
  run(ctx, s) {
    const fd = ctx.fd(s, 'fd', 'container');
    const base = ctx.num(s, 'base');
    const max = ctx.num(s, 'max', 1n << 32n);
    const vb = ctx.vaddrBaseStart();
    const vaddr = s.fields['vaddr'] ? ctx.num(s, 'vaddr') : (vb ?? 0n);
    const buf = encodeDmaMap({ argsz: DMA_MAP_SIZE, flags: 3, vaddr, iova: base, size: 0x1000n });
    let n = 0n;
    let rc = 0;
    while (n < max) {
      const b = encodeDmaMap(
        { argsz: DMA_MAP_SIZE, flags: 3, vaddr, iova: base + n * 0x1000n, size: 0x1000n },
        DMA_MAP_SIZE,
      );
      buf.set(b);
      rc = ctx.sys.ioctl(fd, VFIO_IOMMU_MAP_DMA, buf);
      if (rc < 0) break;
      n++;
    }
    ctx.vars.set('fill_n', n);
    ctx.vars.set('fill_base', base);
    ctx.vars.set('fill_failed', rc < 0);
    const tag = ctx.text(s, 'tag');
    if (rc < 0) {
      ctx.emit(
        `CASE ${tag}_fill rc=-1 errno=${errnoName(rc)} op=MAP_FILL base=${hex(base)} mapped_ok=${n} failed_at_index=${n}`,
      );
    } else {
      ctx.emit(`CASE ${tag}_fill rc=0 errno=0 op=MAP_FILL base=${hex(base)} mapped_ok=${n} stopped=max`);
    }
    return rc;
  },
});

def({
  op: 'ioctl',
  summary: 'a raw ioctl by name or number with an integer argument or a byte buffer: CASE <name> rc errno',
  fields: {
    name,
    fd: { kind: 'string', required: true, help: 'handle' },
    cmd: {
      kind: 'string',
      required: true,
      help: 'ioctl name (VFIO_IOMMU_MAP_DMA, VFIO_DEVICE_GET_INFO, ...) or number',
    },
    arg: { kind: 'expr', help: 'integer argument' },
    bytes: { kind: 'string', help: 'hex bytes of the user buffer, e.g. "18 00 00 00 03 00 00 00"' },
  },
  validate(s) {
    const c = s.fields['cmd'];
    if (
      c?.kind === 'string' &&
      IOCTL_NAMES[c.value] === undefined &&
      !/^(0x[0-9a-f]+|[0-9]+)$/i.test(c.value)
    ) {
      return {
        field: 'cmd',
        message: `unknown ioctl "${c.value}" (known: ${Object.keys(IOCTL_NAMES).join(', ')})`,
      };
    }
    const b = s.fields['bytes'];
    if (
      b?.kind === 'string' &&
      !b.value
        .trim()
        .split(/\s+/)
        .every((p) => /^[0-9a-fA-F]{2}$/.test(p))
    ) {
      return { field: 'bytes', message: 'bytes must be two-digit hex values separated by spaces' };
    }
    return undefined;
  },
  run(ctx, s) {
    const cmdText = ctx.str(s, 'cmd')!;
    let cmd = IOCTL_NAMES[cmdText];
    if (cmd === undefined) {
      if (/^(0x[0-9a-f]+|[0-9]+)$/i.test(cmdText)) cmd = Number(cmdText);
      else throw ctx.err(s, `unknown ioctl "${cmdText}"`, 'cmd', s.fields['cmd']?.line);
    }
    let arg: Uint8Array | number | undefined;
    const bytes = ctx.str(s, 'bytes');
    if (bytes !== undefined) {
      const parts = bytes.trim().split(/\s+/).filter(Boolean);
      if (!parts.every((p) => /^[0-9a-fA-F]{2}$/.test(p)))
        throw ctx.err(
          s,
          'bytes must be two-digit hex values separated by spaces',
          'bytes',
          s.fields['bytes']?.line,
        );
      arg = Uint8Array.from(parts.map((p) => parseInt(p, 16)));
    } else if (s.fields['arg']) arg = ulongArg(ctx.num(s, 'arg'));
    const rc = ctx.sys.ioctl(ctx.fd(s, 'fd', ''), cmd, arg);
    const out =
      arg instanceof Uint8Array
        ? ` out=${[...arg].map((x) => x.toString(16).padStart(2, '0')).join('')}`
        : '';
    ctx.caseLine(ctx.text(s, 'name'), rc, out, rc);
    return rc;
  },
});

// ---------------------------------------------------------------- platform and module state

const PARAMS = ['allow_unsafe_interrupts', 'dma_entry_limit', 'disable_hugepages'];

function checkParam(s: ScenarioStep): { field: string; message: string } | undefined {
  const p = s.fields['param'];
  if (p?.kind === 'string' && !PARAMS.includes(p.value)) {
    return { field: 'param', message: `unknown module parameter "${p.value}" (known: ${PARAMS.join(', ')})` };
  }
  return undefined;
}

function paramText(ctx: RunContext, p: string): string {
  return isType1ParamName(p) ? readType1Param(ctx.sys.params, p).trimEnd() : 'unreadable';
}

def({
  op: 'read_param',
  summary: 'INFO param_<p>=<value> (sysfs /sys/module/vfio_iommu_type1/parameters)',
  shorthand: 'param',
  fields: { param: { kind: 'string', required: true, help: PARAMS.join(', ') } },
  validate: (s) => checkParam(s),
  run(ctx, s) {
    const p = ctx.str(s, 'param')!;
    if (!PARAMS.includes(p))
      throw ctx.err(s, `unknown module parameter "${p}"`, 'param', s.fields['param']?.line);
    ctx.emit(`INFO param_${p}=${paramText(ctx, p)}`);
  },
});

def({
  op: 'set_param',
  summary: 'write a vfio_iommu_type1 module parameter (no output)',
  fields: {
    param: { kind: 'string', required: true, help: PARAMS.join(', ') },
    value: { kind: 'expr', required: true, help: 'number (1/0 for booleans)' },
  },
  validate: (s) => checkParam(s),
  run(ctx, s) {
    const p = ctx.str(s, 'param')!;
    const v = ctx.num(s, 'value');
    // param_set_uint: a value beyond u32 is refused (-ERANGE), never truncated
    if (p === 'dma_entry_limit') ctx.sys.params.dmaEntryLimit = ctx.u32(s, 'value');
    else if (p === 'allow_unsafe_interrupts') ctx.sys.params.allowUnsafeInterrupts = v !== 0n;
    else if (p === 'disable_hugepages') ctx.sys.params.disableHugepages = v !== 0n;
    else throw ctx.err(s, `unknown module parameter "${p}"`, 'param', s.fields['param']?.line);
  },
});

def({
  op: 'bind_driver',
  summary: 'bind a device to a driver (driver_override + drivers_probe; no output)',
  fields: {
    device: { kind: 'string', required: true, help: 'bdf or vendor:device' },
    driver: { kind: 'string', required: true, help: 'e.g. vfio-pci' },
  },
  run(ctx, s) {
    const d = ctx.device(s, 'device');
    const drv = ctx.str(s, 'driver')!;
    const core = ctx.sys.core;
    if (d.driver === drv) return 0;
    if (d.driver !== 'none') core.unbindDriver(d);
    if (drv === 'none') return 0;
    const rc = core.bindDriver(d, drv, DMA_MANAGED_DRIVERS.includes(drv));
    if (rc < 0) throw ctx.err(s, `binding ${d.bdf} to ${drv} failed: ${errnoName(rc)}`);
    return rc;
  },
});

def({
  op: 'info',
  summary: 'print INFO <text>',
  shorthand: 'text',
  fields: { text: { kind: 'template', required: true, help: 'text with ${expr} parts' } },
  run(ctx, s) {
    ctx.emit(`INFO ${ctx.text(s, 'text')}`);
  },
});

def({
  op: 'set',
  summary: 'set a variable: { var: name, value: expr }',
  fields: {
    var: { kind: 'string', required: true, help: 'variable name' },
    value: { kind: 'expr', required: true, help: 'value' },
  },
  run(ctx, s) {
    ctx.vars.set(ctx.str(s, 'var')!, ctx.value(s, 'value'));
  },
});

// ---------------------------------------------------------------- control flow

def({
  op: 'block',
  summary: 'a group of steps (use with if:)',
  shorthand: 'steps',
  fields: { steps: { kind: 'steps', required: true, help: 'the steps' } },
  run(ctx, s) {
    const f = s.fields['steps'];
    if (f?.kind === 'steps') runSteps(ctx, f.steps);
  },
});

def({
  op: 'for_each',
  summary: 'run steps for each element of a list (holes, ranges, ...)',
  fields: {
    in: { kind: 'expr', required: true, help: 'a list: holes, ranges' },
    as: { kind: 'string', required: true, help: 'variable for the element' },
    index: { kind: 'string', help: 'variable for the index (default "i")' },
    steps: { kind: 'steps', required: true, help: 'the steps' },
  },
  run(ctx, s) {
    const list = ctx.value(s, 'in');
    if (!Array.isArray(list)) throw ctx.err(s, '"in" is not a list', 'in', s.fields['in']?.line);
    const as = ctx.str(s, 'as')!;
    const ix = ctx.str(s, 'index', 'i')!;
    const f = s.fields['steps'];
    list.forEach((el, i) => {
      ctx.vars.set(as, el);
      ctx.vars.set(ix, BigInt(i));
      if (f?.kind === 'steps') runSteps(ctx, f.steps);
    });
  },
});

def({
  op: 'exit',
  summary: 'stop the scenario (like the probe returning early)',
  shorthand: 'code',
  fields: { code: { kind: 'expr', help: 'exit code (default 1)' } },
  run(ctx, s) {
    throw new StopRun(Number(ctx.num(s, 'code', 1n)));
  },
});
