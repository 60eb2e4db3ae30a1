/**
 * Scenario steps for /dev/iommu (src/iommufd) and the VFIO device cdev (src/vfio/device-cdev.ts), with
 * the lines of the conformance executor's iommufd operations (conformance/executor/iommufd-ops.inc.c):
 * open_iommufd, ioas_alloc, iommu_destroy, ioas_iova_ranges, ioas_map, ioas_unmap, ioas_allow_iovas,
 * iommu_option, open_device_cdev, bind_iommufd, attach_pt, detach_pt, hwpt_alloc, get_hw_info, ioas_copy. Each builds the uapi bytes and
 * goes through VfioSystem.ioctl; ids the kernel hands out can be saved in variables (`var`).
 */
import { U64_MAX, hex, hex16 } from '../base/u64.js';
import { iommufdScratch } from '../iommufd/typed.js';
import {
  IOMMU_DESTROY,
  IOMMU_GET_HW_INFO,
  IOMMU_HWPT_ALLOC,
  IOMMU_IOAS_ALLOC,
  IOMMU_IOAS_ALLOW_IOVAS,
  IOMMU_IOAS_COPY,
  IOMMU_IOAS_IOVA_RANGES,
  IOMMU_IOAS_MAP,
  IOMMU_IOAS_MAP_FIXED_IOVA,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
  IOMMU_IOAS_UNMAP,
  IOMMU_OPTION,
  IOMMU_VFIO_IOAS,
  VFIO_DEVICE_ATTACH_IOMMUFD_PT,
  VFIO_DEVICE_BIND_IOMMUFD,
  VFIO_DEVICE_DETACH_IOMMUFD_PT,
} from '../uapi/iommufd.js';
import { getU32, getU64, putU32, putU64 } from '../uapi/vfio-type1.js';
import type { RunContext } from './context.js';
import { CASE_NAME_FIELD, type ScenarioStep, registerOpenStep, registerStep } from './registry.js';

const name = CASE_NAME_FIELD;
const iommufdFd = { kind: 'string', help: 'handle of the /dev/iommu fd (default "iommufd")' } as const;
const deviceFd = { kind: 'string', help: 'handle of the device cdev fd (default "device")' } as const;
const sizeField = { kind: 'expr', help: "the struct's size word (default: the struct's size)" } as const;

/** Where the steps keep the arrays the kernel reads or writes by pointer (the typed layer's region). */
const scratch = (ctx: RunContext): bigint => iommufdScratch(ctx.sys);

/** The struct in a zeroed buffer of max(size, struct) bytes, size word first. */
function arg(ctx: RunContext, s: ScenarioStep, size: number): Uint8Array {
  const want = ctx.u32(s, 'size', size);
  const b = new Uint8Array(Math.max(want, size));
  putU32(b, 0, want);
  return b;
}

function saveVar(ctx: RunContext, s: ScenarioStep, dflt: string | undefined, v: bigint): void {
  const n = ctx.str(s, 'var', dflt);
  if (n !== undefined) ctx.vars.set(n, v);
}

registerOpenStep('open_iommufd', '/dev/iommu', 'iommufd');

registerStep({
  op: 'ioas_alloc',
  summary: 'IOMMU_IOAS_ALLOC: CASE <name> rc errno op=IOAS_ALLOC out_ioas_id (saved in var, default "ioas")',
  fields: {
    name,
    flags: { kind: 'expr', help: 'default 0' },
    size: sizeField,
    var: { kind: 'string', help: 'variable for the id' },
    fd: iommufdFd,
  },
  run(ctx, s) {
    const b = arg(ctx, s, 12);
    putU32(b, 4, ctx.u32(s, 'flags', 0));
    const rc = ctx.sys.ioctl(ctx.fd(s, 'fd', 'iommufd'), IOMMU_IOAS_ALLOC, b);
    // what the kernel wrote back (0 when it refused), so later steps still run and report
    saveVar(ctx, s, 'ioas', rc === 0 ? BigInt(getU32(b, 8)) : 0n);
    ctx.caseLine(ctx.text(s, 'name'), rc, ` op=IOAS_ALLOC out_ioas_id=${getU32(b, 8)}`);
    return rc;
  },
});

registerStep({
  op: 'iommu_destroy',
  summary: 'IOMMU_DESTROY(id): CASE <name> rc errno op=DESTROY id',
  fields: { name, id: { kind: 'expr', required: true, help: 'object id' }, size: sizeField, fd: iommufdFd },
  run(ctx, s) {
    const b = arg(ctx, s, 8);
    const id = ctx.u32(s, 'id', 0);
    putU32(b, 4, id);
    const rc = ctx.sys.ioctl(ctx.fd(s, 'fd', 'iommufd'), IOMMU_DESTROY, b);
    ctx.caseLine(ctx.text(s, 'name'), rc, ` op=DESTROY id=${id}`);
    return rc;
  },
});

registerStep({
  op: 'ioas_iova_ranges',
  summary:
    'IOMMU_IOAS_IOVA_RANGES: CASE <name> rc errno op=IOAS_IOVA_RANGES ioas num_in num_out align, RANGE lines',
  fields: {
    name,
    ioas: { kind: 'expr', help: 'IOAS id (default: the variable ioas)' },
    num: { kind: 'expr', help: 'room for this many ranges (default 16, at most 4096)' },
    size: sizeField,
    fd: iommufdFd,
  },
  run(ctx, s) {
    const b = arg(ctx, s, 32);
    const ioas = ctx.u32(s, 'ioas', Number(ctx.vars.get('ioas') ?? 0n));
    const num = ctx.u32(s, 'num', 16);
    if (num > 4096) throw ctx.err(s, 'at most 4096 ranges', 'num');
    const at = scratch(ctx);
    putU32(b, 4, ioas);
    putU32(b, 8, num);
    putU64(b, 16, at);
    const rc = ctx.sys.ioctl(ctx.fd(s, 'fd', 'iommufd'), IOMMU_IOAS_IOVA_RANGES, b);
    const out = getU32(b, 8);
    ctx.caseLine(
      ctx.text(s, 'name'),
      rc,
      ` op=IOAS_IOVA_RANGES ioas=${ioas} num_in=${num} num_out=${out} align=${hex(getU64(b, 24))}`,
    );
    const shown = rc === 0 || out > num ? Math.min(num, out) : 0;
    const arr = new Uint8Array(16 * shown);
    ctx.sys.mm.copyFromUser(arr, at);
    for (let i = 0; i < shown; i++)
      ctx.emit(`RANGE idx=${i} start=${hex16(getU64(arr, i * 16))} end=${hex16(getU64(arr, i * 16 + 8))}`);
    return rc;
  },
});

registerStep({
  op: 'ioas_map',
  summary:
    'IOMMU_IOAS_MAP: CASE <name> rc errno op=IOAS_MAP ioas flags iova length vaddr_off out_iova (saved in var)',
  fields: {
    name,
    ioas: { kind: 'expr', help: 'IOAS id (default: the variable ioas)' },
    length: { kind: 'expr', required: true, help: 'bytes' },
    iova: { kind: 'expr', help: 'a fixed IOVA (FIXED_IOVA); absent: the kernel chooses' },
    vaddr: { kind: 'expr', help: 'user address (default: the vaddr_base region)' },
    flags: { kind: 'expr', help: 'default READABLE|WRITEABLE (6), plus FIXED_IOVA (1) with iova' },
    size: sizeField,
    var: { kind: 'string', help: 'variable for the IOVA' },
    fd: iommufdFd,
  },
  run(ctx, s) {
    const b = arg(ctx, s, 40);
    const fixed = s.fields['iova'] !== undefined;
    const flags = ctx.u32(
      s,
      'flags',
      IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE | (fixed ? IOMMU_IOAS_MAP_FIXED_IOVA : 0),
    );
    const ioas = ctx.u32(s, 'ioas', Number(ctx.vars.get('ioas') ?? 0n));
    const vaddr = s.fields['vaddr'] ? ctx.num(s, 'vaddr') : (ctx.vaddrBaseStart() ?? 0n);
    const length = ctx.num(s, 'length');
    const iova = fixed ? ctx.num(s, 'iova') : 0n;
    putU32(b, 4, flags);
    putU32(b, 8, ioas);
    putU64(b, 16, vaddr);
    putU64(b, 24, length);
    putU64(b, 32, iova);
    const rc = ctx.sys.ioctl(ctx.fd(s, 'fd', 'iommufd'), IOMMU_IOAS_MAP, b);
    saveVar(ctx, s, undefined, rc === 0 ? getU64(b, 32) : 0n);
    const base = ctx.vaddrBaseStart();
    const off = base !== undefined && vaddr >= base ? vaddr - base : vaddr;
    ctx.caseLine(
      ctx.text(s, 'name'),
      rc,
      ` op=IOAS_MAP ioas=${ioas} flags=${hex(flags)} iova=${hex(iova)} length=${hex(length)} vaddr_off=${hex(off)} out_iova=${hex(getU64(b, 32))}`,
    );
    return rc;
  },
});

registerStep({
  op: 'ioas_unmap',
  summary:
    'IOMMU_IOAS_UNMAP: CASE <name> rc errno op=IOAS_UNMAP ioas iova length out_length (all: iova 0, length 2^64-1)',
  fields: {
    name,
    ioas: { kind: 'expr', help: 'IOAS id (default: the variable ioas)' },
    iova: { kind: 'expr', help: 'default 0' },
    length: { kind: 'expr', help: 'bytes (default 2^64-1: with iova 0, everything)' },
    size: sizeField,
    fd: iommufdFd,
  },
  run(ctx, s) {
    const b = arg(ctx, s, 24);
    const ioas = ctx.u32(s, 'ioas', Number(ctx.vars.get('ioas') ?? 0n));
    const iova = ctx.num(s, 'iova', 0n);
    const length = ctx.num(s, 'length', U64_MAX);
    putU32(b, 4, ioas);
    putU64(b, 8, iova);
    putU64(b, 16, length);
    const rc = ctx.sys.ioctl(ctx.fd(s, 'fd', 'iommufd'), IOMMU_IOAS_UNMAP, b);
    ctx.caseLine(
      ctx.text(s, 'name'),
      rc,
      ` op=IOAS_UNMAP ioas=${ioas} iova=${hex(iova)} length=${hex(length)} out_length=${hex(getU64(b, 16))}`,
    );
    return rc;
  },
});

registerStep({
  op: 'ioas_allow_iovas',
  summary: 'IOMMU_IOAS_ALLOW_IOVAS: CASE <name> rc errno op=IOAS_ALLOW_IOVAS ioas ranges',
  fields: {
    name,
    ioas: { kind: 'expr', help: 'IOAS id (default: the variable ioas)' },
    ranges: { kind: 'exprs', required: true, help: '[start, last, start, last, ...] (inclusive); [] clears' },
    size: sizeField,
    fd: iommufdFd,
  },
  run(ctx, s) {
    const list = ctx.nums(s, 'ranges');
    if (list.length % 2 !== 0 || list.length > 2 * 4096)
      throw ctx.err(s, 'pairs of start, last (at most 4096)', 'ranges');
    const b = arg(ctx, s, 24);
    const ioas = ctx.u32(s, 'ioas', Number(ctx.vars.get('ioas') ?? 0n));
    const at = scratch(ctx);
    const arr = new Uint8Array(list.length * 8);
    list.forEach((v, i) => putU64(arr, i * 8, v));
    ctx.sys.mm.copyToUser(at, arr);
    putU32(b, 4, ioas);
    putU32(b, 8, list.length / 2);
    putU64(b, 16, at);
    const rc = ctx.sys.ioctl(ctx.fd(s, 'fd', 'iommufd'), IOMMU_IOAS_ALLOW_IOVAS, b);
    const text = list.length ? list.map((v, i) => (i % 2 ? '-' : i ? ',' : '') + hex(v)).join('') : 'none';
    ctx.caseLine(ctx.text(s, 'name'), rc, ` op=IOAS_ALLOW_IOVAS ioas=${ioas} ranges=${text}`);
    return rc;
  },
});

const OPTIONS: Record<string, number> = { rlimit_mode: 0, huge_pages: 1 };

registerStep({
  op: 'iommu_option',
  summary: 'IOMMU_OPTION: CASE <name> rc errno op=OPTION option_id op object val out_val',
  fields: {
    name,
    option: {
      kind: 'string',
      required: true,
      help: 'rlimit_mode (0 user, 1 process) or huge_pages (per IOAS)',
    },
    set: { kind: 'expr', help: 'the value to set; absent: get' },
    object: { kind: 'expr', help: 'the IOAS (huge_pages; default: the variable ioas)' },
    size: sizeField,
    fd: iommufdFd,
  },
  run(ctx, s) {
    const opt = ctx.str(s, 'option')!;
    const id = OPTIONS[opt];
    if (id === undefined) throw ctx.err(s, `"${opt}" is not rlimit_mode or huge_pages`, 'option');
    const b = arg(ctx, s, 24);
    const set = s.fields['set'] !== undefined;
    const object =
      id === 0 ? ctx.u32(s, 'object', 0) : ctx.u32(s, 'object', Number(ctx.vars.get('ioas') ?? 0n));
    const val = set ? ctx.num(s, 'set') : 0n;
    putU32(b, 4, id);
    b[8] = set ? 0 : 1;
    putU32(b, 12, object);
    putU64(b, 16, val);
    const rc = ctx.sys.ioctl(ctx.fd(s, 'fd', 'iommufd'), IOMMU_OPTION, b);
    ctx.caseLine(
      ctx.text(s, 'name'),
      rc,
      ` op=OPTION option_id=${id} op=${set ? 0 : 1} object=${object} val=${hex(val)} out_val=${hex(getU64(b, 16))}`,
    );
    return rc;
  },
});

const VFIO_IOAS_OPS: Record<string, number> = { get: 0, set: 1, clear: 2 };

registerStep({
  op: 'vfio_ioas',
  summary:
    'IOMMU_VFIO_IOAS: get, set or clear the compat IOAS that the VFIO container steps (check_extension, set_iommu, get_info, map_dma, unmap_dma with fd: iommufd) use on /dev/iommu: CASE <name> rc errno op=VFIO_IOAS vop ioas_id',
  fields: {
    name,
    action: { kind: 'string', required: true, help: 'get, set or clear' },
    ioas: { kind: 'expr', help: 'the IOAS to set (default: the variable ioas)' },
    size: sizeField,
    fd: iommufdFd,
  },
  run(ctx, s) {
    const action = ctx.str(s, 'action')!;
    const vop = VFIO_IOAS_OPS[action];
    if (vop === undefined) throw ctx.err(s, `"${action}" is not get, set or clear`, 'action');
    const b = arg(ctx, s, 12);
    if (vop === 1) putU32(b, 4, ctx.u32(s, 'ioas', Number(ctx.vars.get('ioas') ?? 0n)));
    b[8] = vop;
    const rc = ctx.sys.ioctl(ctx.fd(s, 'fd', 'iommufd'), IOMMU_VFIO_IOAS, b);
    ctx.caseLine(ctx.text(s, 'name'), rc, ` op=VFIO_IOAS vop=${vop} ioas_id=${getU32(b, 4)}`);
    return rc;
  },
});

registerStep({
  op: 'open_device_cdev',
  summary:
    'open("/dev/vfio/devices/vfioN") of a device bound to vfio-pci: CASE <name> rc errno op=OPEN_CDEV bdf cdev',
  fields: {
    name,
    device: { kind: 'string', required: true, help: 'the device (bdf or vendor:device)' },
    as: { kind: 'string', help: 'handle (default "device")' },
  },
  run(ctx, s) {
    const d = ctx.device(s, 'device');
    const i = ctx.sys.hasIommufd ? ctx.sys.cdevDevices().indexOf(d) : -1;
    const fd = i < 0 ? -2 : ctx.sys.open(`/dev/vfio/devices/vfio${i}`);
    ctx.handles.set(ctx.str(s, 'as', 'device')!, fd);
    ctx.caseLine(ctx.text(s, 'name'), fd, ` op=OPEN_CDEV bdf=${d.bdf} cdev=${i < 0 ? 'none' : `vfio${i}`}`);
    return fd < 0 ? fd : 0;
  },
});

registerStep({
  op: 'bind_iommufd',
  summary: 'VFIO_DEVICE_BIND_IOMMUFD: CASE <name> rc errno op=BIND_IOMMUFD out_devid',
  fields: {
    name,
    device: deviceFd,
    iommufd: iommufdFd,
    flags: { kind: 'expr', help: 'default 0' },
    size: sizeField,
  },
  run(ctx, s) {
    const b = arg(ctx, s, 16);
    putU32(b, 4, ctx.u32(s, 'flags', 0));
    putU32(b, 8, ctx.fd(s, 'iommufd', 'iommufd'));
    const rc = ctx.sys.ioctl(ctx.fd(s, 'device', 'device'), VFIO_DEVICE_BIND_IOMMUFD, b);
    ctx.caseLine(ctx.text(s, 'name'), rc, ` op=BIND_IOMMUFD out_devid=${getU32(b, 12)}`);
    return rc;
  },
});

registerStep({
  op: 'attach_pt',
  summary:
    'VFIO_DEVICE_ATTACH_IOMMUFD_PT: CASE <name> rc errno op=ATTACH_PT pt out_pt (the HWPT id, saved in var)',
  fields: {
    name,
    pt: { kind: 'expr', help: 'an IOAS or HWPT id (default: the variable ioas)' },
    device: deviceFd,
    flags: { kind: 'expr', help: 'default 0' },
    size: sizeField,
    var: { kind: 'string', help: 'variable for the HWPT id' },
  },
  run(ctx, s) {
    const b = arg(ctx, s, 12);
    const pt = ctx.u32(s, 'pt', Number(ctx.vars.get('ioas') ?? 0n));
    putU32(b, 4, ctx.u32(s, 'flags', 0));
    putU32(b, 8, pt);
    const rc = ctx.sys.ioctl(ctx.fd(s, 'device', 'device'), VFIO_DEVICE_ATTACH_IOMMUFD_PT, b);
    saveVar(ctx, s, undefined, rc === 0 ? BigInt(getU32(b, 8)) : 0n);
    ctx.caseLine(ctx.text(s, 'name'), rc, ` op=ATTACH_PT pt=${pt} out_pt=${getU32(b, 8)}`);
    return rc;
  },
});

registerStep({
  op: 'detach_pt',
  summary: 'VFIO_DEVICE_DETACH_IOMMUFD_PT: CASE <name> rc errno op=DETACH_PT',
  fields: { name, device: deviceFd, flags: { kind: 'expr', help: 'default 0' }, size: sizeField },
  run(ctx, s) {
    const b = arg(ctx, s, 8);
    putU32(b, 4, ctx.u32(s, 'flags', 0));
    const rc = ctx.sys.ioctl(ctx.fd(s, 'device', 'device'), VFIO_DEVICE_DETACH_IOMMUFD_PT, b);
    ctx.caseLine(ctx.text(s, 'name'), rc, ' op=DETACH_PT');
    return rc;
  },
});

registerStep({
  op: 'hwpt_alloc',
  summary: 'IOMMU_HWPT_ALLOC: CASE <name> rc errno op=HWPT_ALLOC dev pt flags out_hwpt_id (saved in var)',
  fields: {
    name,
    dev: { kind: 'expr', required: true, help: "the bound device's id (bind_iommufd's out_devid)" },
    pt: { kind: 'expr', help: 'the IOAS (default: the variable ioas)' },
    flags: { kind: 'expr', help: '1 NEST_PARENT, 2 DIRTY_TRACKING (default 0)' },
    size: sizeField,
    var: { kind: 'string', help: 'variable for the HWPT id' },
    fd: iommufdFd,
  },
  run(ctx, s) {
    const b = arg(ctx, s, 48);
    const dev = ctx.u32(s, 'dev');
    const pt = ctx.u32(s, 'pt', Number(ctx.vars.get('ioas') ?? 0n));
    const flags = ctx.u32(s, 'flags', 0);
    putU32(b, 4, flags);
    putU32(b, 8, dev);
    putU32(b, 12, pt);
    const rc = ctx.sys.ioctl(ctx.fd(s, 'fd', 'iommufd'), IOMMU_HWPT_ALLOC, b);
    saveVar(ctx, s, undefined, rc === 0 ? BigInt(getU32(b, 16)) : 0n);
    ctx.caseLine(
      ctx.text(s, 'name'),
      rc,
      ` op=HWPT_ALLOC dev=${dev} pt=${pt} flags=${hex(flags)} out_hwpt_id=${getU32(b, 16)}`,
    );
    return rc;
  },
});

registerStep({
  op: 'get_hw_info',
  summary:
    'IOMMU_GET_HW_INFO: CASE <name> rc errno op=GET_HW_INFO dev data_len type pasid_log2 caps data (hex; Intel: flags, CAP, ECAP)',
  fields: {
    name,
    dev: { kind: 'expr', required: true, help: "the bound device's id" },
    data_len: { kind: 'expr', help: 'bytes of the data buffer (default 24, at most 4096)' },
    size: sizeField,
    fd: iommufdFd,
  },
  run(ctx, s) {
    const b = arg(ctx, s, 40);
    const dev = ctx.u32(s, 'dev');
    const len = ctx.u32(s, 'data_len', 24);
    if (len > 4096) throw ctx.err(s, 'at most 4096 bytes', 'data_len');
    const at = scratch(ctx);
    ctx.sys.mm.copyToUser(at, new Uint8Array(len));
    putU32(b, 8, dev);
    putU32(b, 12, len);
    putU64(b, 16, at);
    const rc = ctx.sys.ioctl(ctx.fd(s, 'fd', 'iommufd'), IOMMU_GET_HW_INFO, b);
    const data = new Uint8Array(Math.min(len, 64));
    ctx.sys.mm.copyFromUser(data, at);
    const hexData = Array.from(data, (x) => x.toString(16).padStart(2, '0')).join('');
    ctx.caseLine(
      ctx.text(s, 'name'),
      rc,
      ` op=GET_HW_INFO dev=${dev} data_len=${getU32(b, 12)} type=${getU32(b, 24)} pasid_log2=${b[28]} caps=${hex(getU64(b, 32))} data=${hexData}`,
    );
    return rc;
  },
});

registerStep({
  op: 'ioas_copy',
  summary:
    'IOMMU_IOAS_COPY: CASE <name> rc errno op=IOAS_COPY dst src flags length dst_iova src_iova out_dst_iova (saved in var)',
  fields: {
    name,
    src: { kind: 'expr', help: 'source IOAS (default: the variable ioas)' },
    dst: { kind: 'expr', help: 'destination IOAS (default: the variable ioas)' },
    src_iova: { kind: 'expr', required: true, help: 'start of the mapped range to copy' },
    length: { kind: 'expr', required: true, help: 'bytes' },
    dst_iova: { kind: 'expr', help: 'a fixed destination IOVA; absent: the kernel chooses' },
    flags: { kind: 'expr', help: 'default READABLE|WRITEABLE (6), plus FIXED_IOVA (1) with dst_iova' },
    size: sizeField,
    var: { kind: 'string', help: 'variable for the destination IOVA' },
    fd: iommufdFd,
  },
  run(ctx, s) {
    const b = arg(ctx, s, 40);
    const ioas = Number(ctx.vars.get('ioas') ?? 0n);
    const fixed = s.fields['dst_iova'] !== undefined;
    const flags = ctx.u32(
      s,
      'flags',
      IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE | (fixed ? IOMMU_IOAS_MAP_FIXED_IOVA : 0),
    );
    const dst = ctx.u32(s, 'dst', ioas);
    const src = ctx.u32(s, 'src', ioas);
    const length = ctx.num(s, 'length');
    const dva = fixed ? ctx.num(s, 'dst_iova') : 0n;
    const sva = ctx.num(s, 'src_iova');
    putU32(b, 4, flags);
    putU32(b, 8, dst);
    putU32(b, 12, src);
    putU64(b, 16, length);
    putU64(b, 24, dva);
    putU64(b, 32, sva);
    const rc = ctx.sys.ioctl(ctx.fd(s, 'fd', 'iommufd'), IOMMU_IOAS_COPY, b);
    saveVar(ctx, s, undefined, rc === 0 ? getU64(b, 24) : 0n);
    ctx.caseLine(
      ctx.text(s, 'name'),
      rc,
      ` op=IOAS_COPY dst=${dst} src=${src} flags=${hex(flags)} length=${hex(length)} dst_iova=${hex(dva)} src_iova=${hex(sva)} out_dst_iova=${hex(getU64(b, 24))}`,
    );
    return rc;
  },
});
