/**
 * The iommufd operations of the executor twin (conformance/executor/iommufd-ops.inc.c): /dev/iommu
 * (slot i) and the VFIO device cdev (slot d). Each builds the 6.12 uapi struct in a zeroed buffer of
 * max(size, struct) bytes exactly as iovaexec does and prints the same line.
 */

import { hex as hx, hex16 } from '../base/u64.js';
import {
  getU32 as get32,
  getU64 as get64,
  putU16,
  putU32 as put32,
  putU64 as put64,
} from '../uapi/vfio-type1.js';
import type { Operation } from './compiled.js';
import type { ConformanceTarget } from './exec.js';

export const IOMMUFD_IOCTL = {
  DESTROY: 0x3b80,
  IOAS_ALLOC: 0x3b81,
  IOAS_ALLOW_IOVAS: 0x3b82,
  IOAS_COPY: 0x3b83,
  IOAS_IOVA_RANGES: 0x3b84,
  IOAS_MAP: 0x3b85,
  IOAS_UNMAP: 0x3b86,
  OPTION: 0x3b87,
  HWPT_ALLOC: 0x3b89,
  GET_HW_INFO: 0x3b8a,
  VFIO_IOAS: 0x3b88,
  /** On a VFIO device cdev: _IO(';', 100 + 18..20). */
  VFIO_DEVICE_BIND_IOMMUFD: 0x3b76,
  VFIO_DEVICE_ATTACH_IOMMUFD_PT: 0x3b77,
  VFIO_DEVICE_DETACH_IOMMUFD_PT: 0x3b78,
} as const;

/** What the twin's main loop lends the iommufd operations. */
export interface IommufdExecContext {
  readonly target: ConformanceTarget;
  readonly iommufds: number[];
  readonly devices: number[];
  /** PCI address per device slot (the executor's dN arguments). */
  readonly bdfs: readonly (string | undefined)[];
  readonly out: string[];
  /** A field as a number (strtoull base 0, `-` negating mod 2^64), or the default. */
  u(k: string, def: bigint): bigint;
  /** A number inside a field's text, as strtoull reads it (a bad one stops the scenario). */
  parse(t: string): bigint;
  slot(k: string): number;
  /** `CASE name rc=.. errno=..` for a syscall answer (>= 0 or -errno). */
  caseOf(name: string, r: number): string;
  vaddrOf(spec: string): bigint;
  vaddrText(spec: string): string;
  fdSpec(t: string, k: string): number;
  fail(msg: string): never;
}

/** iovaexec's struct xarg: the size word (size=), the struct, the tail (tail=) past it. */
function xarg(c: IommufdExecContext, s: Operation, sz: number): Uint8Array {
  const size = Number(BigInt.asUintN(32, c.u('size', BigInt(sz))));
  const len = Math.max(size, sz);
  if (len > 512) c.fail('size: at most 512');
  const b = new Uint8Array(len);
  if (s.fields.has('tail') && size > sz) b.fill(Number(c.u('tail', 0n) & 0xffn), sz, size);
  put32(b, 0, size);
  return b;
}

/** The user arrays of IOVA_RANGES and ALLOW_IOVAS: the last 64 KiB of `buf`, as in iovaexec. */
const RANGES_ADDR = 0x7f0000000000n + (64n << 20n) - 0x10000n;

/** The operations runIommufdOp runs. */
export const IOMMUFD_OPS: ReadonlySet<string> = new Set([
  'open_iommufd',
  'close_iommufd',
  'ioas_alloc',
  'destroy',
  'ioas_ranges',
  'ioas_map',
  'ioas_unmap',
  'ioas_allow',
  'ioas_copy',
  'option',
  'open_cdev',
  'bind_iommufd',
  'attach_pt',
  'detach_pt',
  'hwpt_alloc',
  'hw_info',
  'vfio_ioas',
]);

/** Runs one iommufd operation; false when `s` is not one. */
export function runIommufdOp(c: IommufdExecContext, s: Operation): boolean {
  const { target, out } = c;
  const name = s.name;
  const ifd = (): number => c.iommufds[c.slot('i')]!;
  const u32 = (k: string, def: bigint): number => Number(BigInt.asUintN(32, c.u(k, def)));
  switch (s.op) {
    case 'open_iommufd': {
      const i = c.slot('i');
      if (c.iommufds[i]! >= 0) target.close(c.iommufds[i]!);
      const fd = target.open('/dev/iommu');
      c.iommufds[i] = fd < 0 ? -1 : fd;
      out.push(c.caseOf(name, fd < 0 ? fd : 0));
      return true;
    }
    case 'close_iommufd': {
      const i = c.slot('i');
      const r = c.iommufds[i]! >= 0 ? target.close(c.iommufds[i]!) : -9;
      c.iommufds[i] = -1;
      out.push(c.caseOf(name, r));
      return true;
    }
    case 'vfio_ioas': {
      const b = xarg(c, s, 12);
      const vop = u32('vop', 0n);
      put32(b, 4, u32('ioas', 0n));
      putU16(b, 8, vop & 0xffff);
      putU16(b, 10, Number(c.u('reserved', 0n) & 0xffffn));
      const r = target.ioctl(ifd(), IOMMUFD_IOCTL.VFIO_IOAS, b);
      out.push(`${c.caseOf(name, r)} op=VFIO_IOAS vop=${vop} ioas_id=${get32(b, 4)}`);
      return true;
    }
    case 'ioas_alloc': {
      const b = xarg(c, s, 12);
      put32(b, 4, u32('flags', 0n));
      const r = target.ioctl(ifd(), IOMMUFD_IOCTL.IOAS_ALLOC, b);
      out.push(`${c.caseOf(name, r)} op=IOAS_ALLOC out_ioas_id=${get32(b, 8)}`);
      return true;
    }
    case 'destroy': {
      const b = xarg(c, s, 8);
      const id = u32('id', 0n);
      put32(b, 4, id);
      const r = target.ioctl(ifd(), IOMMUFD_IOCTL.DESTROY, b);
      out.push(`${c.caseOf(name, r)} op=DESTROY id=${id}`);
      return true;
    }
    case 'ioas_ranges': {
      const b = xarg(c, s, 32);
      const ioas = u32('ioas', 0n);
      const n = u32('num', 8n);
      const fill = Number(c.u('fill', 0n) & 0xffn);
      put32(b, 4, ioas);
      put32(b, 8, n);
      put32(b, 12, u32('reserved', 0n));
      if (n > 16) c.fail('ioas_ranges: num at most 16');
      const arr = new Uint8Array(16 * 16).fill(fill);
      writeUser(c, RANGES_ADDR, arr);
      put64(b, 16, RANGES_ADDR);
      const r = target.ioctl(ifd(), IOMMUFD_IOCTL.IOAS_IOVA_RANGES, b);
      out.push(
        `${c.caseOf(name, r)} op=IOAS_IOVA_RANGES ioas=${ioas} num_in=${n} num_out=${get32(b, 8)} align=${hx(get64(b, 24))}`,
      );
      readUser(c, RANGES_ADDR, arr);
      for (let k = 0; k < n; k++)
        out.push(`RANGE idx=${k} start=${hex16(get64(arr, k * 16))} end=${hex16(get64(arr, k * 16 + 8))}`);
      return true;
    }
    case 'ioas_map': {
      const b = xarg(c, s, 40);
      const ioas = u32('ioas', 0n);
      const flags = u32('flags', 7n);
      const iova = BigInt.asUintN(64, c.u('iova', 0n));
      const length = BigInt.asUintN(64, c.u('length', 0n));
      const vs = s.fields.get('vaddr') ?? 'buf+0';
      put32(b, 4, flags);
      put32(b, 8, ioas);
      put32(b, 12, u32('reserved', 0n));
      put64(b, 16, c.vaddrOf(vs));
      put64(b, 24, length);
      put64(b, 32, iova);
      const r = target.ioctl(ifd(), IOMMUFD_IOCTL.IOAS_MAP, b);
      out.push(
        `${c.caseOf(name, r)} op=IOAS_MAP ioas=${ioas} flags=${hx(flags)} iova=${hx(iova)} length=${hx(length)} vaddr_off=${c.vaddrText(vs)} out_iova=${hx(get64(b, 32))}`,
      );
      return true;
    }
    case 'ioas_unmap': {
      const b = xarg(c, s, 24);
      const ioas = u32('ioas', 0n);
      const iova = BigInt.asUintN(64, c.u('iova', 0n));
      const length = BigInt.asUintN(64, c.u('length', 0n));
      put32(b, 4, ioas);
      put64(b, 8, iova);
      put64(b, 16, length);
      const r = target.ioctl(ifd(), IOMMUFD_IOCTL.IOAS_UNMAP, b);
      out.push(
        `${c.caseOf(name, r)} op=IOAS_UNMAP ioas=${ioas} iova=${hx(iova)} length=${hx(length)} out_length=${hx(get64(b, 16))}`,
      );
      return true;
    }
    case 'ioas_allow': {
      const b = xarg(c, s, 24);
      const ioas = u32('ioas', 0n);
      const spec = s.fields.get('ranges') ?? c.fail('missing field ranges');
      const list: [bigint, bigint][] = [];
      if (spec !== 'none')
        for (const tok of spec.split(',').filter((t) => t !== '')) {
          const dash = tok.indexOf('-', 1);
          if (dash < 0 || list.length >= 16) c.fail('ranges: START-LAST,... (at most 16)');
          list.push([c.parse(tok.slice(0, dash)), c.parse(tok.slice(dash + 1))]);
        }
      const arr = new Uint8Array(16 * 16);
      list.forEach(([a, z], k) => {
        put64(arr, k * 16, a);
        put64(arr, k * 16 + 8, z);
      });
      writeUser(c, RANGES_ADDR, arr);
      put32(b, 4, ioas);
      put32(b, 8, u32('num', BigInt(list.length)));
      put32(b, 12, u32('reserved', 0n));
      put64(b, 16, RANGES_ADDR);
      const r = target.ioctl(ifd(), IOMMUFD_IOCTL.IOAS_ALLOW_IOVAS, b);
      out.push(`${c.caseOf(name, r)} op=IOAS_ALLOW_IOVAS ioas=${ioas} ranges=${spec}`);
      return true;
    }
    case 'option': {
      const b = xarg(c, s, 24);
      const id = u32('option_id', 0n);
      const op = Number(c.u('op', 1n) & 0xffffn);
      const obj = u32('object', 0n);
      const val = BigInt.asUintN(64, c.u('val', 0n));
      put32(b, 4, id);
      putU16(b, 8, op);
      putU16(b, 10, Number(c.u('reserved', 0n) & 0xffffn));
      put32(b, 12, obj);
      put64(b, 16, val);
      const r = target.ioctl(ifd(), IOMMUFD_IOCTL.OPTION, b);
      out.push(
        `${c.caseOf(name, r)} op=OPTION option_id=${id} op=${op} object=${obj} val=${hx(val)} out_val=${hx(get64(b, 16))}`,
      );
      return true;
    }
    case 'open_cdev': {
      const d = c.slot('d');
      const bdf = c.bdfs[d];
      if (bdf === undefined) {
        // no device in that slot on this machine (iovaexec prints ENODEV)
        if (c.devices[d]! >= 0) target.close(c.devices[d]!);
        c.devices[d] = -1;
        out.push(`${c.caseOf(name, -19)} op=OPEN_CDEV bdf=none cdev=none`);
        return true;
      }
      const node = target.listDir(`/sys/bus/pci/devices/${bdf}/vfio-dev`);
      const cdev = typeof node === 'number' ? undefined : node.filter((x) => x.startsWith('vfio')).at(-1);
      if (c.devices[d]! >= 0) target.close(c.devices[d]!);
      const fd = cdev === undefined ? -2 : target.open(`/dev/vfio/devices/${cdev}`);
      c.devices[d] = fd < 0 ? -1 : fd;
      out.push(`${c.caseOf(name, fd < 0 ? fd : 0)} op=OPEN_CDEV bdf=${bdf} cdev=${cdev ?? 'none'}`);
      return true;
    }
    case 'bind_iommufd': {
      const d = c.slot('d');
      const b = xarg(c, s, 16);
      const fs = s.fields.get('fd') ?? 'i:0';
      put32(b, 4, u32('flags', 0n));
      put32(b, 8, c.fdSpec(fs, 'fd'));
      const r = target.ioctl(c.devices[d]!, IOMMUFD_IOCTL.VFIO_DEVICE_BIND_IOMMUFD, b);
      out.push(`${c.caseOf(name, r)} op=BIND_IOMMUFD fd=${fs} out_devid=${get32(b, 12)}`);
      return true;
    }
    case 'attach_pt': {
      const d = c.slot('d');
      const b = xarg(c, s, 12);
      const pt = u32('pt', 0n);
      put32(b, 4, u32('flags', 0n));
      put32(b, 8, pt);
      const r = target.ioctl(c.devices[d]!, IOMMUFD_IOCTL.VFIO_DEVICE_ATTACH_IOMMUFD_PT, b);
      out.push(`${c.caseOf(name, r)} op=ATTACH_PT pt=${pt} out_pt=${get32(b, 8)}`);
      return true;
    }
    case 'detach_pt': {
      const d = c.slot('d');
      const b = xarg(c, s, 8);
      put32(b, 4, u32('flags', 0n));
      const r = target.ioctl(c.devices[d]!, IOMMUFD_IOCTL.VFIO_DEVICE_DETACH_IOMMUFD_PT, b);
      out.push(`${c.caseOf(name, r)} op=DETACH_PT`);
      return true;
    }
    case 'hwpt_alloc': {
      const b = xarg(c, s, 48);
      const dev = u32('dev', 0n);
      const pt = u32('pt', 0n);
      const flags = u32('flags', 0n);
      put32(b, 4, flags);
      put32(b, 8, dev);
      put32(b, 12, pt);
      put32(b, 20, u32('reserved', 0n));
      put32(b, 24, u32('data_type', 0n));
      put32(b, 28, u32('data_len', 0n));
      put64(b, 32, RANGES_ADDR);
      const r = target.ioctl(ifd(), IOMMUFD_IOCTL.HWPT_ALLOC, b);
      out.push(
        `${c.caseOf(name, r)} op=HWPT_ALLOC dev=${dev} pt=${pt} flags=${hx(flags)} out_hwpt_id=${get32(b, 16)}`,
      );
      return true;
    }
    case 'hw_info': {
      const b = xarg(c, s, 40);
      const dev = u32('dev', 0n);
      const len = u32('data_len', 24n);
      const fill = Number(c.u('fill', 0n) & 0xffn);
      put32(b, 4, u32('flags', 0n));
      put32(b, 8, dev);
      put32(b, 12, len);
      put64(b, 16, RANGES_ADDR);
      b[29] = Number(c.u('reserved', 0n) & 0xffn);
      if (len > 4096) c.fail('hw_info: data_len at most 4096');
      const data = new Uint8Array(4096).fill(fill);
      writeUser(c, RANGES_ADDR, data);
      const r = target.ioctl(ifd(), IOMMUFD_IOCTL.GET_HW_INFO, b);
      readUser(c, RANGES_ADDR, data);
      const shown = Array.from(data.subarray(0, Math.min(len, 64)), (x) =>
        x.toString(16).padStart(2, '0'),
      ).join('');
      out.push(
        `${c.caseOf(name, r)} op=GET_HW_INFO dev=${dev} data_len_in=${len} data_len=${get32(b, 12)} type=${get32(b, 24)} pasid_log2=${b[28]} caps=${hx(get64(b, 32))} data=${shown}`,
      );
      return true;
    }
    case 'ioas_copy': {
      const b = xarg(c, s, 40);
      const dst = u32('dst', 0n);
      const src = u32('src', 0n);
      const flags = u32('flags', 7n);
      const length = BigInt.asUintN(64, c.u('length', 0n));
      const dva = BigInt.asUintN(64, c.u('dst_iova', 0n));
      const sva = BigInt.asUintN(64, c.u('src_iova', 0n));
      put32(b, 4, flags);
      put32(b, 8, dst);
      put32(b, 12, src);
      put64(b, 16, length);
      put64(b, 24, dva);
      put64(b, 32, sva);
      const r = target.ioctl(ifd(), IOMMUFD_IOCTL.IOAS_COPY, b);
      out.push(
        `${c.caseOf(name, r)} op=IOAS_COPY dst=${dst} src=${src} flags=${hx(flags)} length=${hx(length)} dst_iova=${hx(dva)} src_iova=${hx(sva)} out_dst_iova=${hx(get64(b, 24))}`,
      );
      return true;
    }
    default:
      return false;
  }
}

function writeUser(c: IommufdExecContext, addr: bigint, bytes: Uint8Array): void {
  if (!c.target.writeMemory) c.fail('this target has no process memory');
  c.target.writeMemory(addr, bytes);
}
function readUser(c: IommufdExecContext, addr: bigint, bytes: Uint8Array): void {
  if (!c.target.readMemory) c.fail('this target has no process memory');
  c.target.readMemory(addr, bytes);
}
