/**
 * The TypeScript twin of conformance/executor/iovaexec.c: runs a compiled scenario against a
 * `ConformanceTarget` (a uAPI-level view of a kernel: open/ioctl/close with uapi bytes, sysfs files,
 * eventfds) and prints exactly the lines iovaexec prints. The model plugs in by implementing the target
 * (see conformance/README.md); the kernel goldens are iovaexec's output, so any difference is the
 * model's (or a listed known difference).
 *
 * Struct layouts are those of the linux-libc-dev 6.1 headers iovaexec is compiled against
 * (little-endian, both x86_64 and arm64).
 */

import type { OpName, Operation, Statement } from './compiled.js';
import { IOMMUFD_OPS, runIommufdOp, type IommufdExecContext } from './exec-iommufd.js';
import { U64_MAX } from '../base/u64.js';

/** VFIO ioctl numbers: _IO(';', 100 + n). */
export const VFIO_IOCTL = {
  GET_API_VERSION: 0x3b64,
  CHECK_EXTENSION: 0x3b65,
  SET_IOMMU: 0x3b66,
  GROUP_GET_STATUS: 0x3b67,
  GROUP_SET_CONTAINER: 0x3b68,
  GROUP_UNSET_CONTAINER: 0x3b69,
  GROUP_GET_DEVICE_FD: 0x3b6a,
  DEVICE_GET_INFO: 0x3b6b,
  DEVICE_GET_REGION_INFO: 0x3b6c,
  DEVICE_GET_IRQ_INFO: 0x3b6d,
  DEVICE_SET_IRQS: 0x3b6e,
  IOMMU_GET_INFO: 0x3b70,
  IOMMU_MAP_DMA: 0x3b71,
  IOMMU_UNMAP_DMA: 0x3b72,
  IOMMU_DIRTY_PAGES: 0x3b75,
  /** On a device fd (the same numbers as IOMMU_GET_INFO, MAP_DMA and DISABLE on a container fd). */
  DEVICE_GET_PCI_HOT_RESET_INFO: 0x3b70,
  DEVICE_PCI_HOT_RESET: 0x3b71,
  DEVICE_IOEVENTFD: 0x3b74,
  /** On a device fd (the same number as IOMMU_DIRTY_PAGES on a container fd). */
  DEVICE_FEATURE: 0x3b75,
} as const;

/** The executor's process memory: `buf` (read-write) and `ro` (read-only) anonymous mappings. */
export interface ExecMemory {
  readonly name: 'buf' | 'ro';
  readonly addr: bigint;
  readonly size: bigint;
  readonly prot: 'rw' | 'r';
}
/** The byte iovaexec fills `buf` with before running anything. */
export const EXEC_BUF_FILL = 0x5a;
export const EXEC_MEMORY: readonly ExecMemory[] = [
  { name: 'buf', addr: 0x7f0000000000n, size: 64n << 20n, prot: 'rw' },
  { name: 'ro', addr: 0x7f1000000000n, size: 1n << 20n, prot: 'r' },
];

/**
 * What the executor needs from a kernel. Every call answers like the syscall: a value >= 0, or -errno.
 * Buffers are in/out: the target writes results into them as the kernel's copy_to_user would.
 */
export interface ConformanceTarget {
  /**
   * Operations this target models; the executor stops before the first other one (a partial model,
   * e.g. sysfs only, is compared on the prefix it can run). Absent: every operation.
   */
  supports?(op: OpName): boolean;
  /** open(2) of `/dev/vfio/vfio` or `/dev/vfio/<group>`. */
  open(path: string): number;
  close(fd: number): number;
  /** ioctl(2); `arg` is an integer, a uapi struct buffer, or (GROUP_GET_DEVICE_FD) the device name. */
  ioctl(fd: number, cmd: number, arg: number | Uint8Array | string): number;
  /** Text of a sysfs file (`/sys/kernel/iommu_groups/2/reserved_regions`, module parameters...) or -errno. */
  readFile(path: string): string | number;
  /** write(2) of a sysfs file (module parameters). */
  writeFile(path: string, text: string): number;
  /** Entries of a sysfs directory, or -errno. */
  listDir(path: string): string[] | number;
  /** readlink(2) of a sysfs symlink (a device's `driver`), or -errno. */
  readLink(path: string): string | number;
  /** A new eventfd (non-blocking). */
  eventfd(): number;
  /** Non-blocking read of an eventfd counter: the count, or -EAGAIN when zero. */
  readEventfd(fd: number): bigint | number;
  /** write(2) of a u64 to an eventfd (signals it): 8, or -errno. */
  writeEventfd?(fd: number, value: bigint): number;
  /** pread/pwrite on a device fd (config space, BARs), for the MSI operations. */
  pread?(fd: number, buf: Uint8Array, offset: bigint): number;
  pwrite?(fd: number, buf: Uint8Array, offset: bigint): number;
  /**
   * The executor's own loads and stores in its memory (EXEC_MEMORY), for the dirty bitmaps it fills
   * and reads back; the bytes a kernel copied there are visible.
   */
  readMemory?(addr: bigint, buf: Uint8Array): number;
  writeMemory?(addr: bigint, bytes: Uint8Array): number;
  /** Wall-clock wait (the kernel executor sleeps/polls here); the model may ignore it. */
  settle?(ms: number): void;
  /** setrlimit(RLIMIT_MEMLOCK, {cur, RLIM_INFINITY}): 0 or -errno. */
  setrlimitMemlock?(cur: bigint): number;
  /** mlock(2) (`lock`) or munlock(2) of the executor's own memory: 0 or -errno. */
  mlock?(addr: bigint, len: bigint, lock: boolean): number;
  /** CAP_IPC_LOCK into (true) or out of the effective capability set (capset): 0 or -errno. */
  setCapIpcLock?(on: boolean): number;
}

export interface ExecArgs {
  /** IOMMU group number per group slot (g0, g1). */
  readonly groups: readonly (number | undefined)[];
  /** PCI address per device slot (d0, d1). */
  readonly devices: readonly (string | undefined)[];
}

class ExecError extends Error {}

/** errno numbers (asm-generic) with the names iovaexec prints; others print as E<n>. */
const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  ENFILE: 23,
  EMFILE: 24,
  ENOTTY: 25,
  EFBIG: 27,
  ENOSPC: 28,
  ERANGE: 34,
  EDEADLK: 35,
  ENOSYS: 38,
  EOVERFLOW: 75,
  EBADFD: 77,
  EMSGSIZE: 90,
  EOPNOTSUPP: 95,
  EADDRINUSE: 98,
  EADDRNOTAVAIL: 99,
} as const;
const ERRNO_NAME = new Map<number, string>(Object.entries(ERRNO).map(([k, v]) => [v, k]));

const MAXSLOT = 4;
const MAXEFD = 16;

function le32(b: Uint8Array, off: number): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(off, true);
}
function le64(b: Uint8Array, off: number): bigint {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(off, true);
}
function put32(b: Uint8Array, off: number, v: number): void {
  new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(off, v >>> 0, true);
}
function put64(b: Uint8Array, off: number, v: bigint): void {
  new DataView(b.buffer, b.byteOffset, b.byteLength).setBigUint64(off, BigInt.asUintN(64, v), true);
}
const hx = (v: bigint | number): string => '0x' + v.toString(16);
const hex16 = (v: bigint): string => '0x' + v.toString(16).padStart(16, '0');

/** strtoull(s, 0) as iovaexec reads fields (decimal or 0x hex; a leading '-' negates modulo 2^64). */
function num(s: string): bigint {
  const neg = s.startsWith('-');
  const t = neg ? s.slice(1) : s;
  if (!/^(0x[0-9a-fA-F]+|[0-9]+)$/.test(t)) throw new ExecError(`bad number '${s}'`);
  const v = BigInt(t);
  if (v > (1n << 64n) - 1n) throw new ExecError(`bad number '${s}'`);
  return neg ? BigInt.asUintN(64, -v) : v;
}

/** Runs a compiled scenario on a target; returns the lines iovaexec would print. */
export function runCompiled(
  stmts: readonly Statement[],
  target: ConformanceTarget,
  args: ExecArgs,
): string[] {
  const out: string[] = [];
  const containers = new Array<number>(MAXSLOT).fill(-1);
  const groups = new Array<number>(MAXSLOT).fill(-1);
  const devices = new Array<number>(MAXSLOT).fill(-1);
  const iommufds = new Array<number>(MAXSLOT).fill(-1);
  const efds = new Array<number>(MAXEFD).fill(-1);
  let compact = false;
  let lastArgsz = 0;
  let lineNo = 0;

  const ename = (e: number): string => (e === 0 ? '0' : (ERRNO_NAME.get(e) ?? `E${e}`));
  const caseLine = (name: string, rc: number, e: number): string => `CASE ${name} rc=${rc} errno=${ename(e)}`;
  /** A syscall answer (>= 0 or -errno) as iovaexec prints it: rc=-1 and errno, or rc and 0. */
  const rcOf = (r: number): [number, number] => (r < 0 ? [-1, -r] : [r, 0]);

  const efd = (k: number): number => {
    if (k < 0 || k >= MAXEFD) throw new ExecError(`eventfd slot ${k} out of range`);
    if (efds[k]! < 0) efds[k] = target.eventfd();
    return efds[k]!;
  };
  /** A file descriptor field, as iovaexec's fdspec: e:K, c:N / g:N / d:N / i:N, bad (1000), or a number. */
  const fdSpec = (t: string, k: string): number => {
    if (t === 'bad') return 1000;
    if (t.length > 1 && t[1] === ':') {
      const n = Number(BigInt.asIntN(32, num(t.slice(2))));
      if (t[0] === 'e') return efd(n);
      if (n < 0 || n >= MAXSLOT) throw new ExecError(`${k}: slot ${n} out of range`);
      if (t[0] === 'c') return containers[n]!;
      if (t[0] === 'g') return groups[n]!;
      if (t[0] === 'd') return devices[n]!;
      if (t[0] === 'i') return iommufds[n]!;
      throw new ExecError(`${k}: unknown fd kind in '${t}'`);
    }
    return Number(BigInt.asIntN(32, num(t)));
  };
  const vaddrOf = (spec: string): bigint => {
    const plus = spec.indexOf('+');
    if (plus < 0) throw new ExecError(`vaddr: expected buf+OFF, ro+OFF or abs+ADDR, got '${spec}'`);
    const base = spec.slice(0, plus);
    const off = num(spec.slice(plus + 1));
    if (base === 'abs') return off;
    const m = EXEC_MEMORY.find((x) => x.name === base);
    if (!m) throw new ExecError(`vaddr: unknown base in '${spec}'`);
    return BigInt.asUintN(64, m.addr + off);
  };
  const vaddrText = (spec: string): string => {
    const plus = spec.indexOf('+');
    const off = num(spec.slice(plus + 1));
    return spec.startsWith('ro+') ? `ro+${hx(off)}` : hx(off);
  };
  const hexdump = (b: Uint8Array, n: number): void => {
    for (let off = 0; off < n; off += 16) {
      let l = `HEX ${off.toString(16).padStart(4, '0')}`;
      for (let i = off; i < off + 16 && i < n; i++) l += ' ' + b[i]!.toString(16).padStart(2, '0');
      out.push(l);
    }
  };
  /**
   * A user dirty bitmap (iovaexec's struct ubitmap): bitmap=buf+OFF|ro+OFF|abs+ADDR bsize pgsize(4096);
   * fill=BYTE sets the dumped words first (buf only), dump=WORDS reads them back after the call.
   */
  interface UBitmap {
    spec: string;
    addr: bigint;
    pgsize: bigint;
    size: bigint;
    dump: number;
  }
  const bitmapFields = (s: Operation): UBitmap => {
    const f = s.fields;
    const spec = f.get('bitmap');
    if (spec === undefined) throw new ExecError('missing field bitmap');
    const addr = vaddrOf(spec);
    const m: UBitmap = {
      spec,
      addr,
      pgsize: f.has('pgsize') ? num(f.get('pgsize')!) : 0x1000n,
      size: f.has('bsize') ? num(f.get('bsize')!) : 0n,
      dump: f.has('dump') ? Number(num(f.get('dump')!)) : 0,
    };
    const inBuf = spec.startsWith('buf+');
    const inRo = spec.startsWith('ro+');
    const fill = f.has('fill') ? Number(num(f.get('fill')!) & 0xffn) : -1;
    if ((m.dump || fill >= 0) && !inBuf && !inRo) throw new ExecError('bitmap: dump/fill need buf+ or ro+');
    if (fill >= 0 && !inBuf) throw new ExecError('bitmap: fill needs buf+');
    const mem = EXEC_MEMORY.find((x) => x.name === (inBuf ? 'buf' : 'ro'))!;
    if ((inBuf || inRo) && (m.dump > 64 || addr - mem.addr + BigInt(m.dump * 8) > mem.size))
      throw new ExecError('bitmap: dump beyond the buffer');
    if (fill >= 0) memory('write')(addr, new Uint8Array(m.dump * 8).fill(fill));
    return m;
  };
  const memory = (dir: 'read' | 'write'): ((addr: bigint, b: Uint8Array) => number) => {
    const fn = dir === 'read' ? target.readMemory : target.writeMemory;
    if (!fn) throw new ExecError('this target has no process memory (bitmaps)');
    return fn.bind(target);
  };
  const putBitmap = (b: Uint8Array, off: number, m: UBitmap): void => {
    put64(b, off, m.pgsize);
    put64(b, off + 8, m.size);
    put64(b, off + 16, m.addr);
  };
  const bitmapText = (m: UBitmap): string => {
    let t = ` bitmap=${vaddrText(m.spec)}`;
    if (m.dump) {
      const b = new Uint8Array(m.dump * 8);
      memory('read')(m.addr, b);
      t += ' words=' + Array.from({ length: m.dump }, (_, i) => hx(le64(b, i * 8))).join(',');
    }
    return t;
  };
  const caps = (b: Uint8Array, len: number, first: number): void => {
    let off = first;
    for (let guard = 0; off && guard < 32; guard++) {
      if (off + 8 > len) {
        out.push(`CAP off=${off} error=beyond_buffer len=${len}`);
        return;
      }
      const id = b[off]! | (b[off + 1]! << 8);
      const version = b[off + 2]! | (b[off + 3]! << 8);
      const next = le32(b, off + 4);
      const head = `CAP off=${off} id=${id} version=${version} next=${next}`;
      if (id === 1) {
        const nr = le32(b, off + 8);
        out.push(`${head} name=IOVA_RANGE nr_iovas=${nr} reserved=${le32(b, off + 12)}`);
        for (let i = 0; i < nr; i++) {
          const p = off + 16 + i * 16;
          if (p + 16 > len) break;
          out.push(`RANGE idx=${i} start=${hex16(le64(b, p))} end=${hex16(le64(b, p + 8))}`);
        }
      } else if (id === 2) {
        out.push(
          `${head} name=MIGRATION flags=${hx(le32(b, off + 8))} pgsize_bitmap=${hx(le64(b, off + 16))} max_dirty_bitmap_size=${hx(le64(b, off + 24))}`,
        );
      } else if (id === 3) {
        out.push(`${head} name=DMA_AVAIL avail=${le32(b, off + 8)}`);
      } else {
        out.push(`${head} name=UNKNOWN`);
      }
      off = next;
    }
  };

  const readSmall = (path: string): string => {
    const t = target.readFile(path);
    return typeof t === 'number' ? '?' : (t.split('\n')[0] ?? '');
  };
  const dumpGroup = (g: number, withDevices: boolean): void => {
    const base = `/sys/kernel/iommu_groups/${g}`;
    out.push(`GROUP ${g} type=${readSmall(`${base}/type`)}`);
    if (withDevices) {
      const ents = target.listDir(`${base}/devices`);
      if (typeof ents !== 'number') {
        for (const dn of [...ents].filter((x) => !x.startsWith('.')).sort()) {
          const d = `${base}/devices/${dn}`;
          const link = target.readLink(`${d}/driver`);
          const drv = typeof link === 'number' ? 'none' : link.slice(link.lastIndexOf('/') + 1);
          out.push(
            `GROUP ${g} device=${dn} vendor=${readSmall(`${d}/vendor`)} devid=${readSmall(`${d}/device`)} class=${readSmall(`${d}/class`)} driver=${drv}`,
          );
        }
      }
    }
    out.push(`RESV_BEGIN ${g}`);
    const t = target.readFile(`${base}/reserved_regions`);
    if (typeof t === 'number') out.push(`ERRFILE ${base}/reserved_regions errno=${ename(-t)}`);
    else for (const l of t.split('\n').filter((x, i, a) => x !== '' || i < a.length - 1)) out.push(l);
    out.push(`RESV_END ${g}`);
  };

  const run = (s: Operation): void => {
    const f = s.fields;
    const has = (k: string): boolean => f.has(k);
    const u = (k: string, def: bigint): bigint => (has(k) ? num(f.get(k)!) : def);
    const slot = (k: string): number => {
      const v = Number(u(k, 0n));
      if (v >= MAXSLOT) throw new ExecError(`field ${k}: slot out of range`);
      return v;
    };
    const name = s.name;
    if (IOMMUFD_OPS.has(s.op)) {
      const iommufdCtx: IommufdExecContext = {
        parse: num,
        target,
        iommufds,
        devices,
        bdfs: args.devices,
        out,
        u,
        slot,
        caseOf: (n, r) => caseLine(n, ...rcOf(r)),
        vaddrOf,
        vaddrText,
        fdSpec,
        fail: (msg) => {
          throw new ExecError(msg);
        },
      };
      if (!runIommufdOp(iommufdCtx, s)) throw new ExecError(`${s.op}: not an iommufd operation`);
      return;
    }
    switch (s.op) {
      case 'compat_container': {
        // the container slot names the iommufd's file (iovaexec's op_compat_container): no new descriptor
        const c = slot('c');
        containers[c] = has('i') ? iommufds[slot('i')]! : -1;
        out.push(`${caseLine(name, 0, 0)} op=COMPAT_CONTAINER`);
        return;
      }
      case 'open_container': {
        const c = slot('c');
        if (containers[c]! >= 0) target.close(containers[c]!);
        const fd = target.open('/dev/vfio/vfio');
        containers[c] = fd < 0 ? -1 : fd;
        out.push(caseLine(name, fd < 0 ? -1 : 0, fd < 0 ? -fd : 0));
        return;
      }
      case 'close_container':
      case 'close_group':
      case 'close_device': {
        const [arr, k] =
          s.op === 'close_container'
            ? [containers, 'c']
            : s.op === 'close_group'
              ? [groups, 'g']
              : [devices, 'd'];
        const i = slot(k);
        const r = arr[i]! >= 0 ? target.close(arr[i]!) : -ERRNO.EBADF;
        arr[i] = -1;
        const [rc, e] = rcOf(r);
        out.push(caseLine(name, rc, e));
        return;
      }
      case 'api_version': {
        const [rc, e] = rcOf(target.ioctl(containers[slot('c')]!, VFIO_IOCTL.GET_API_VERSION, 0));
        out.push(`${caseLine(name, rc, e)} expected=0`);
        return;
      }
      case 'check_ext': {
        const ext = Number(u('ext', 0n));
        const [rc, e] = rcOf(target.ioctl(containers[slot('c')]!, VFIO_IOCTL.CHECK_EXTENSION, ext));
        out.push(`${caseLine(name, rc, e)} ext=${ext}`);
        return;
      }
      case 'open_group': {
        const g = slot('g');
        const nr = args.groups[g];
        if (nr === undefined)
          throw new ExecError(`open_group: no group number for slot g${g} (pass g${g}=N)`);
        const path = `/dev/vfio/${nr}`;
        if (groups[g]! >= 0) target.close(groups[g]!);
        const fd = target.open(path);
        groups[g] = fd < 0 ? -1 : fd;
        out.push(`${caseLine(name, fd < 0 ? -1 : 0, fd < 0 ? -fd : 0)} path=${path}`);
        return;
      }
      case 'group_status': {
        const b = new Uint8Array(8);
        put32(b, 0, Number(u('argsz', 8n)));
        const [rc, e] = rcOf(target.ioctl(groups[slot('g')]!, VFIO_IOCTL.GROUP_GET_STATUS, b));
        const fl = le32(b, 4);
        out.push(
          `${caseLine(name, rc, e)} flags=${hx(fl)} viable=${fl & 1 ? 1 : 0} container_set=${fl & 2 ? 1 : 0}`,
        );
        return;
      }
      case 'set_container': {
        const g = slot('g');
        const c = slot('c');
        const b = new Uint8Array(4);
        new DataView(b.buffer).setInt32(0, containers[c]!, true);
        const [rc, e] = rcOf(target.ioctl(groups[g]!, VFIO_IOCTL.GROUP_SET_CONTAINER, b));
        out.push(caseLine(name, rc, e));
        return;
      }
      case 'unset_container': {
        const [rc, e] = rcOf(target.ioctl(groups[slot('g')]!, VFIO_IOCTL.GROUP_UNSET_CONTAINER, 0));
        out.push(caseLine(name, rc, e));
        return;
      }
      case 'set_iommu': {
        const [rc, e] = rcOf(
          target.ioctl(containers[slot('c')]!, VFIO_IOCTL.SET_IOMMU, Number(u('type', 3n))),
        );
        out.push(caseLine(name, rc, e));
        return;
      }
      case 'get_info': {
        const c = slot('c');
        const a = f.get('argsz');
        const argsz = a === undefined ? 24 : a === 'last' ? lastArgsz : Number(BigInt.asUintN(32, num(a)));
        const fill = Number(u('fill', 0n)) & 0xff;
        const b = new Uint8Array(Math.max(argsz, 24)).fill(fill);
        put32(b, 0, argsz);
        const [rc, e] = rcOf(target.ioctl(containers[c]!, VFIO_IOCTL.IOMMU_GET_INFO, b));
        const argszOut = le32(b, 0);
        const flags = le32(b, 4);
        const capOff = le32(b, 16);
        out.push(
          `${caseLine(name, rc, e)}${compact ? '' : ` op=GET_INFO argsz_in=${argsz}`} argsz_out=${argszOut} flags=${hx(flags)} iova_pgsizes=${hx(le64(b, 8))} cap_offset=${capOff}`,
        );
        if (rc === 0) lastArgsz = argszOut;
        if (u('dump', 0n) !== 0n && rc === 0) {
          const len = Math.min(argsz, argszOut);
          hexdump(b, len);
          if (flags & 1 && len >= 24 && capOff) caps(b, len, capOff);
        }
        return;
      }
      case 'map': {
        const c = slot('c');
        const vs = f.get('vaddr') ?? 'buf+0';
        const b = new Uint8Array(32);
        const argsz = Number(BigInt.asUintN(32, u('argsz', 32n)));
        const flags = Number(BigInt.asUintN(32, u('flags', 3n)));
        const iova = num(f.get('iova')!);
        const size = num(f.get('size')!);
        put32(b, 0, argsz);
        put32(b, 4, flags);
        put64(b, 8, vaddrOf(vs));
        put64(b, 16, iova);
        put64(b, 24, size);
        const [rc, e] = rcOf(target.ioctl(containers[c]!, VFIO_IOCTL.IOMMU_MAP_DMA, b));
        let l = caseLine(name, rc, e);
        if (!compact)
          l += ` op=MAP flags=${hx(flags)} iova=${hx(iova)} size=${hx(size)} vaddr_off=${vaddrText(vs)} out_argsz=${le32(b, 0)} out_flags=${hx(le32(b, 4))} out_iova=${hx(le64(b, 16))} out_size=${hx(le64(b, 24))}`;
        out.push(l);
        return;
      }
      case 'unmap': {
        const c = slot('c');
        const m = has('bitmap') ? bitmapFields(s) : undefined;
        const b = new Uint8Array(m ? 48 : 24);
        const flags = Number(BigInt.asUintN(32, u('flags', 0n)));
        const iova = u('iova', 0n);
        const size = u('size', 0n);
        put32(b, 0, Number(BigInt.asUintN(32, u('argsz', BigInt(b.length)))));
        put32(b, 4, flags);
        put64(b, 8, iova);
        put64(b, 16, size);
        if (m) putBitmap(b, 24, m);
        const [rc, e] = rcOf(target.ioctl(containers[c]!, VFIO_IOCTL.IOMMU_UNMAP_DMA, b));
        out.push(
          (compact
            ? `${caseLine(name, rc, e)} out_size=${hx(le64(b, 16))}`
            : `${caseLine(name, rc, e)} op=UNMAP flags=${hx(flags)} iova=${hx(iova)} size=${hx(size)} out_argsz=${le32(b, 0)} out_flags=${hx(le32(b, 4))} out_iova=${hx(le64(b, 8))} out_size=${hx(le64(b, 16))}`) +
            (m ? bitmapText(m) : ''),
        );
        return;
      }
      case 'dirty': {
        const b = new Uint8Array(8);
        const flags = Number(BigInt.asUintN(32, num(f.get('flags')!)));
        put32(b, 0, Number(BigInt.asUintN(32, u('argsz', 8n))));
        put32(b, 4, flags);
        const [rc, e] = rcOf(target.ioctl(containers[slot('c')]!, VFIO_IOCTL.IOMMU_DIRTY_PAGES, b));
        out.push(`${caseLine(name, rc, e)} op=DIRTY flags=${hx(flags)}`);
        return;
      }
      case 'dirty_get': {
        const c = slot('c');
        const b = new Uint8Array(48);
        const iova = num(f.get('iova')!);
        const size = num(f.get('size')!);
        const m = bitmapFields(s);
        put32(b, 0, Number(BigInt.asUintN(32, u('argsz', 48n))));
        put32(b, 4, 4); // VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP
        put64(b, 8, iova);
        put64(b, 16, size);
        putBitmap(b, 24, m);
        const [rc, e] = rcOf(target.ioctl(containers[c]!, VFIO_IOCTL.IOMMU_DIRTY_PAGES, b));
        out.push(
          `${caseLine(name, rc, e)} op=DIRTY_GET iova=${hx(iova)} size=${hx(size)} pgsize=${hx(m.pgsize)} bsize=${hx(m.size)}${bitmapText(m)}`,
        );
        return;
      }
      case 'fill': {
        const c = slot('c');
        const base = num(f.get('base')!);
        const max = u('max', 1n << 20n);
        const va = vaddrOf(f.get('vaddr') ?? 'buf+0');
        let n = 0n;
        let r = 0;
        while (n < max) {
          const b = new Uint8Array(32);
          put32(b, 0, 32);
          put32(b, 4, 3);
          put64(b, 8, va);
          put64(b, 16, base + n * 0x1000n);
          put64(b, 24, 0x1000n);
          r = target.ioctl(containers[c]!, VFIO_IOCTL.IOMMU_MAP_DMA, b);
          if (r < 0) break;
          n++;
        }
        const [rc, e] = rcOf(r < 0 ? r : 0);
        out.push(
          `${caseLine(name, rc, e)} op=MAP_FILL base=${hx(base)} mapped_ok=${n} ${r < 0 ? `failed_at_index=${n}` : 'stopped=max'}`,
        );
        return;
      }
      case 'device_fd': {
        const g = slot('g');
        const d = slot('d');
        const bdf = args.devices[d];
        if (bdf === undefined)
          throw new ExecError(`device_fd: no PCI address for slot d${d} (pass d${d}=BDF)`);
        if (devices[d]! >= 0) target.close(devices[d]!);
        const fd = target.ioctl(groups[g]!, VFIO_IOCTL.GROUP_GET_DEVICE_FD, bdf);
        devices[d] = fd < 0 ? -1 : fd;
        out.push(`${caseLine(name, fd < 0 ? -1 : 0, fd < 0 ? -fd : 0)} bdf=${bdf}`);
        return;
      }
      case 'device_info': {
        const b = new Uint8Array(20);
        put32(b, 0, 20);
        const [rc, e] = rcOf(target.ioctl(devices[slot('d')]!, VFIO_IOCTL.DEVICE_GET_INFO, b));
        out.push(
          `${caseLine(name, rc, e)} flags=${hx(le32(b, 4))} num_regions=${le32(b, 8)} num_irqs=${le32(b, 12)}`,
        );
        return;
      }
      case 'region_info': {
        const index = Number(BigInt.asUintN(32, num(f.get('index')!)));
        const argsz = Number(BigInt.asUintN(32, u('argsz', 32n)));
        const fill = Number(u('fill', 0n) & 0xffn);
        const b = new Uint8Array(Math.max(argsz, 32)).fill(fill);
        if (b.length > 4096) throw new ExecError('region_info: argsz above 4096');
        put32(b, 0, argsz);
        put32(b, 8, index);
        const [rc, e] = rcOf(target.ioctl(devices[slot('d')]!, VFIO_IOCTL.DEVICE_GET_REGION_INFO, b));
        const argszOut = le32(b, 0);
        out.push(
          `${caseLine(name, rc, e)} op=REGION_INFO index=${index} argsz_in=${argsz} argsz_out=${argszOut} flags=${hx(le32(b, 4))} cap_offset=${le32(b, 12)} size=${hx(le64(b, 16))} offset=${hx(le64(b, 24))}`,
        );
        if (u('dump', 0n) !== 0n && rc === 0) hexdump(b, Math.min(argsz, argszOut));
        return;
      }
      case 'raw_ioctl': {
        const kinds = (['c', 'g', 'd', 'i'] as const).filter((k) => has(k));
        if (kinds.length !== 1) throw new ExecError('raw_ioctl: exactly one of c=, g=, d=, i=');
        const k = kinds[0]!;
        const s = slot(k);
        const cmd = Number(BigInt.asUintN(32, num(f.get('cmd')!)));
        const len = Number(u('len', 64n));
        if (len < 8 || len > 4096) throw new ExecError('raw_ioctl: len must be 8..4096');
        const fd = (k === 'c' ? containers : k === 'g' ? groups : k === 'd' ? devices : iommufds)[s]!;
        const r = target.ioctl(fd, cmd, new Uint8Array(len));
        const [rc, e] = rcOf(r);
        const file = k === 'c' ? 'container' : k === 'g' ? 'group' : k === 'd' ? 'device' : 'iommufd';
        out.push(`${caseLine(name, rc, e)} op=RAW_IOCTL file=${file} cmd=${hx(cmd)}`);
        return;
      }
      case 'device_feature': {
        const flags = Number(BigInt.asUintN(32, num(f.get('flags')!)));
        const argsz = Number(BigInt.asUintN(32, u('argsz', 8n)));
        if (argsz > 4096) throw new ExecError('device_feature: argsz above 4096');
        const b = new Uint8Array(Math.max(argsz, 8));
        put32(b, 0, argsz);
        put32(b, 4, flags);
        const [rc, e] = rcOf(target.ioctl(devices[slot('d')]!, VFIO_IOCTL.DEVICE_FEATURE, b));
        out.push(`${caseLine(name, rc, e)} op=DEVICE_FEATURE flags=${hx(flags)} argsz=${argsz}`);
        return;
      }
      case 'hot_reset_info': {
        const argsz = Number(BigInt.asUintN(32, u('argsz', 12n)));
        const fill = Number(u('fill', 0n) & 0xffn);
        if (argsz > 4096) throw new ExecError('hot_reset_info: argsz above 4096');
        const b = new Uint8Array(Math.max(argsz, 12)).fill(fill);
        put32(b, 0, argsz);
        const [rc, e] = rcOf(target.ioctl(devices[slot('d')]!, VFIO_IOCTL.DEVICE_GET_PCI_HOT_RESET_INFO, b));
        const count = le32(b, 8);
        out.push(
          `${caseLine(name, rc, e)} op=HOT_RESET_INFO argsz_in=${argsz} argsz_out=${le32(b, 0)} flags=${hx(le32(b, 4))} count=${count}`,
        );
        if (u('dump', 0n) !== 0n && rc === 0) hexdump(b, Math.min(argsz, 12 + 8 * count));
        return;
      }
      case 'hot_reset': {
        const spec = f.get('fds') ?? 'none';
        const list = spec === 'none' ? [] : spec.split(',').map((t) => fdSpec(t, 'fds'));
        if (list.length > 64) throw new ExecError('hot_reset: more than 64 fds');
        const count = has('count') ? Number(BigInt.asUintN(32, num(f.get('count')!))) : list.length;
        const argsz = has('argsz') ? Number(BigInt.asUintN(32, num(f.get('argsz')!))) : 12 + 4 * list.length;
        const flags = Number(BigInt.asUintN(32, u('flags', 0n)));
        const len = Math.max(12 + 4 * list.length, argsz);
        if (len > 4096) throw new ExecError('hot_reset: argsz above 4096');
        const b = new Uint8Array(len);
        put32(b, 0, argsz);
        put32(b, 4, flags);
        put32(b, 8, count);
        list.forEach((fd, i) => put32(b, 12 + 4 * i, fd));
        const [rc, e] = rcOf(target.ioctl(devices[slot('d')]!, VFIO_IOCTL.DEVICE_PCI_HOT_RESET, b));
        out.push(
          `${caseLine(name, rc, e)} op=HOT_RESET argsz=${argsz} flags=${hx(flags)} count=${count} fds=${list.length}`,
        );
        return;
      }
      case 'ioeventfd':
      case 'ioeventfd_fill': {
        const flags = Number(BigInt.asUintN(32, num(f.get('flags')!)));
        const index = u('index', 0n);
        const pos = u('pos', 0n);
        const data = u('data', 0n);
        const fs = f.get('fd')!;
        const fd = fdSpec(fs, 'fd');
        const argsz = Number(BigInt.asUintN(32, u('argsz', 32n)));
        if (argsz > 4096) throw new ExecError('ioeventfd: argsz above 4096');
        const call = (value: bigint): number => {
          const b = new Uint8Array(Math.max(argsz, 32));
          put32(b, 0, argsz);
          put32(b, 4, flags);
          put64(b, 8, (index << 40n) | pos);
          put64(b, 16, value);
          put32(b, 24, fd);
          return target.ioctl(devices[slot('d')]!, VFIO_IOCTL.DEVICE_IOEVENTFD, b);
        };
        if (s.op === 'ioeventfd') {
          const [rc, e] = rcOf(call(data));
          out.push(
            `${caseLine(name, rc, e)} op=IOEVENTFD flags=${hx(flags)} index=${hx(index)} pos=${hx(pos)} data=${hx(data)} fd=${fs}`,
          );
          return;
        }
        const max = num(f.get('max')!);
        let i = 0n;
        let r = 0;
        for (; i < max; i++) {
          r = call(BigInt.asUintN(64, data + i));
          if (r < 0) break;
        }
        const [rc, e] = rcOf(Math.min(r, 0));
        out.push(`${caseLine(name, rc, e)} op=IOEVENTFD_FILL registered=${i}${r < 0 ? '' : ' stopped=max'}`);
        return;
      }
      case 'efd_write': {
        const fd = efd(Number(num(f.get('e')!)));
        const v = u('value', 1n);
        if (target.writeEventfd === undefined)
          throw new ExecError('efd_write: the target cannot write eventfds');
        const [rc, e] = rcOf(Math.min(0, target.writeEventfd(fd, v)));
        out.push(`${caseLine(name, rc, e)} value=${v}`);
        return;
      }
      case 'region_read': {
        const index = u('index', 0n);
        const pos = u('pos', 0n);
        const len = Number(u('len', 4n));
        if (len !== 1 && len !== 2 && len !== 4 && len !== 8)
          throw new ExecError('region_read: len must be 1, 2, 4 or 8');
        const wait = Number(u('wait_ms', 0n));
        if (wait) target.settle?.(wait);
        if (target.pread === undefined) throw new ExecError('region_read: the target has no pread');
        const b = new Uint8Array(8);
        const r = target.pread(
          devices[slot('d')]!,
          b.subarray(0, len),
          BigInt.asIntN(64, (index << 40n) | pos),
        );
        const [rc, e] = rcOf(r);
        out.push(
          `${caseLine(name, rc, e)} op=REGION_READ index=${hx(index)} pos=${hx(pos)} value=${hx(r < 0 ? 0n : le64(b, 0))}`,
        );
        return;
      }
      case 'region_write': {
        const index = u('index', 0n);
        const pos = u('pos', 0n);
        const len = Number(u('len', 4n));
        if (len !== 1 && len !== 2 && len !== 4) throw new ExecError('region_write: len must be 1, 2 or 4');
        if (target.pwrite === undefined) throw new ExecError('region_write: the target has no pwrite');
        const v = num(f.get('value')!);
        const b = new Uint8Array(8);
        put64(b, 0, v);
        const [rc, e] = rcOf(target.pwrite(devices[slot('d')]!, b.subarray(0, len), (index << 40n) | pos));
        out.push(`${caseLine(name, rc, e)} op=REGION_WRITE index=${hx(index)} pos=${hx(pos)} value=${hx(v)}`);
        return;
      }
      case 'irq_info': {
        const index = Number(u('index', 0n));
        const b = new Uint8Array(16);
        put32(b, 0, 16);
        put32(b, 8, index);
        const [rc, e] = rcOf(target.ioctl(devices[slot('d')]!, VFIO_IOCTL.DEVICE_GET_IRQ_INFO, b));
        out.push(`${caseLine(name, rc, e)} index=${index} flags=${hx(le32(b, 4))} count=${le32(b, 12)}`);
        return;
      }
      case 'set_irqs': {
        const d = slot('d');
        const index = Number(u('index', 0n));
        const start = Number(u('start', 0n));
        const count = Number(u('count', 0n));
        const flags = Number(u('flags', 0n));
        const data = f.get('data') ?? 'none';
        const payload: number[] = [];
        if (data !== 'none') {
          const colon = data.indexOf(':');
          const kind = data.slice(0, colon);
          if (colon < 0 || (kind !== 'bool' && kind !== 'efd'))
            throw new ExecError('set_irqs: data must be none, bool:.. or efd:..');
          for (const tok of data.slice(colon + 1).split(',')) {
            if (kind === 'bool') payload.push(Number(num(tok) & 0xffn));
            else {
              const fd =
                tok === 'bad'
                  ? 1000
                  : Number(BigInt.asIntN(64, num(tok))) < 0
                    ? Number(BigInt.asIntN(32, num(tok)))
                    : efd(Number(num(tok)));
              const w = new Uint8Array(4);
              new DataView(w.buffer).setInt32(0, fd, true);
              payload.push(...w);
            }
          }
        }
        const argsz = has('argsz') ? Number(num(f.get('argsz')!)) : 20 + payload.length;
        const b = new Uint8Array(Math.max(20 + payload.length, argsz));
        put32(b, 0, argsz);
        put32(b, 4, flags);
        put32(b, 8, index);
        put32(b, 12, start);
        put32(b, 16, count);
        b.set(payload, 20);
        const [rc, e] = rcOf(target.ioctl(devices[d]!, VFIO_IOCTL.DEVICE_SET_IRQS, b));
        out.push(
          `${caseLine(name, rc, e)} op=SET_IRQS index=${index} start=${start} count=${count} flags=${hx(flags)}`,
        );
        return;
      }
      case 'efd_read': {
        const fd = efd(Number(u('e', 0n)));
        const wait = Number(u('wait_ms', 0n));
        if (wait) target.settle?.(wait);
        const v = target.readEventfd(fd);
        const empty = v === -ERRNO.EAGAIN;
        out.push(`${caseLine(name, 0, 0)} count=${typeof v === 'bigint' ? v : 0}${empty ? ' empty=1' : ''}`);
        return;
      }
      case 'pci_attr': {
        // iovaexec's op_pci_attr: one line (at most 63 bytes) of a PCI device's sysfs attribute
        const d = slot('d');
        const attr = f.get('attr');
        if (attr === undefined || attr.includes('/') || args.devices[d] === undefined)
          throw new ExecError('pci_attr: needs attr= (a file name) and a bdf for slot d');
        const wait = Number(u('wait_ms', 0n));
        if (wait) target.settle?.(wait);
        const t = target.readFile(`/sys/bus/pci/devices/${args.devices[d]}/${attr}`);
        const [rc, e] = typeof t === 'number' ? [-1, -t] : [0, 0];
        const v = typeof t === 'number' ? '' : (t.split('\n')[0] ?? '').slice(0, 63);
        out.push(`${caseLine(name, rc, e)} op=PCI_ATTR attr=${attr} value=${v}`);
        return;
      }
      case 'param_get': {
        const p = f.get('p')!;
        const t = target.readFile(paramPath(p));
        const [rc, e] = typeof t === 'number' ? [-1, -t] : [0, 0];
        out.push(
          `${caseLine(name, rc, e)} param=${p} value=${typeof t === 'number' ? '' : (t.split('\n')[0] ?? '')}`,
        );
        return;
      }
      case 'param_set': {
        const p = f.get('p')!;
        const v = f.get('value')!;
        const [rc, e] = rcOf(Math.min(0, target.writeFile(paramPath(p), v)));
        out.push(`${caseLine(name, rc, e)} param=${p} value=${v}`);
        return;
      }
      case 'rlimit_memlock': {
        const v = f.get('value')!;
        if (!target.setrlimitMemlock) throw new ExecError('rlimit_memlock: the target has no setrlimit');
        const [rc, e] = rcOf(target.setrlimitMemlock(v === 'inf' ? U64_MAX : num(v)));
        out.push(`${caseLine(name, rc, e)} op=RLIMIT_MEMLOCK value=${v}`);
        return;
      }
      case 'cap_ipc_lock': {
        const on = has('value') ? num(f.get('value')!) : 1n;
        if (!target.setCapIpcLock) throw new ExecError('cap_ipc_lock: the target has no capset');
        const [rc, e] = rcOf(target.setCapIpcLock(on !== 0n));
        out.push(`${caseLine(name, rc, e)} op=CAP_IPC_LOCK value=${on}`);
        return;
      }
      case 'mlock':
      case 'munlock': {
        const vs = f.get('vaddr')!;
        const size = u('size', 0x1000n);
        if (!target.mlock) throw new ExecError(`${s.op}: the target has no mlock`);
        const [rc, e] = rcOf(target.mlock(vaddrOf(vs), size, s.op === 'mlock'));
        out.push(
          `${caseLine(name, rc, e)} op=${s.op.toUpperCase()} vaddr_off=${vaddrText(vs)} size=${hx(size)}`,
        );
        return;
      }
      case 'vmlck': {
        const t = target.readFile('/proc/self/status');
        const m = typeof t === 'string' ? /^VmLck:\s*(\d+)/m.exec(t) : null;
        const [rc, e] = typeof t === 'number' ? [-1, -t] : [0, 0];
        out.push(`${caseLine(name, rc, e)} op=VMLCK kb=${m ? m[1] : -1}`);
        return;
      }
      case 'group_type': {
        const v = f.get('value')!;
        const g = has('nr') ? Number(num(f.get('nr')!)) : (args.groups[slot('g')] ?? -1);
        if (g < 0) throw new ExecError('group_type: no group number for that slot');
        const path = `/sys/kernel/iommu_groups/${g}/type`;
        const [rc, e] = rcOf(target.writeFile(path, `${v}\n`));
        out.push(`${caseLine(name, rc, e)} op=GROUP_TYPE group=${g} value=${v} type=${readSmall(path)}`);
        return;
      }
      case 'groups': {
        const ents = target.listDir('/sys/kernel/iommu_groups');
        const nrs = (typeof ents === 'number' ? [] : ents.filter((x) => !x.startsWith('.')).map(Number)).sort(
          (x, y) => x - y,
        );
        out.push(`CASE ${name} rc=0 errno=0 op=GROUPS count=${nrs.length}`);
        for (const g of nrs) dumpGroup(g, true);
        return;
      }
      case 'resv': {
        const g = args.groups[slot('g')] ?? -1;
        out.push(`CASE ${name} rc=0 errno=0 op=RESV group=${g}`);
        dumpGroup(g, false);
        return;
      }
      case 'msi_read':
      case 'msi_fire': {
        // Both need the device's real MSI state; a target without pread/pwrite cannot answer them.
        const d = slot('d');
        if (args.devices[d] === undefined) throw new ExecError(`${s.op}: no PCI address for slot d${d}`);
        const r = msiOp(
          s.op,
          target,
          devices[d]!,
          args.devices[d]!,
          Number(u('cause', 0x1000000n)),
          out,
          name,
        );
        if (!r)
          out.push(`${caseLine(name, -1, ERRNO.ENOSYS)} op=${s.op === 'msi_read' ? 'MSI_READ' : 'MSI_FIRE'}`);
        return;
      }
    }
  };

  for (const s of stmts) {
    if (s.kind === 'op' && target.supports && !target.supports(s.op)) return out;
    lineNo = s.line;
    if (s.kind === 'format') compact = s.value === 'compact';
    else if (s.kind === 'section') out.push(`SECTION ${s.value}`);
    else if (s.kind === 'scenario') out.push(`SCENARIO ${s.value}`);
    else {
      try {
        run(s);
      } catch (err) {
        if (!(err instanceof ExecError)) throw err;
        out.push(`ERROR line ${lineNo}: ${err.message}`);
        return out;
      }
    }
  }
  out.push(`END lines=${lineNo}`);
  return out;
}

/** iovaexec's param_path: `NAME` is vfio_iommu_type1's parameter, `MODULE.NAME` another module's. */
function paramPath(p: string): string {
  const dot = p.indexOf('.');
  return dot < 0
    ? `/sys/module/vfio_iommu_type1/parameters/${p}`
    : `/sys/module/${p.slice(0, dot)}/parameters/${p.slice(dot + 1)}`;
}

/**
 * msi_read / msi_fire on a target that exposes the device's config space (host view through sysfs
 * `config`) and region access. Returns false when the target cannot do it.
 */
function msiOp(
  op: 'msi_read' | 'msi_fire',
  target: ConformanceTarget,
  devFd: number,
  bdf: string,
  cause: number,
  out: string[],
  name: string,
): boolean {
  if (op === 'msi_read') {
    const cfgText = target.readFile(`/sys/bus/pci/devices/${bdf}/config`);
    if (typeof cfgText === 'number') return false;
    const cfg = Uint8Array.from(cfgText, (ch) => ch.charCodeAt(0) & 0xff);
    if (cfg.length < 256) return false;
    let pos = cfg[0x34]! & 0xfc;
    for (let guard = 0; pos && guard < 48; guard++) {
      if (cfg[pos] === 0x05) {
        const ctl = cfg[pos + 2]! | (cfg[pos + 3]! << 8);
        const lo = BigInt(le32(cfg, pos + 4));
        let hi = 0n;
        let doff = pos + 8;
        if (ctl & 0x80) {
          hi = BigInt(le32(cfg, pos + 8));
          doff = pos + 12;
        }
        const data = cfg[doff]! | (cfg[doff + 1]! << 8);
        out.push(
          `CASE ${name} rc=0 errno=0 op=MSI_READ enable=${ctl & 1} addr=${hx((hi << 32n) | lo)} data=${hx(data)}`,
        );
        return true;
      }
      pos = cfg[pos + 1]! & 0xfc;
    }
    out.push(`CASE ${name} rc=-1 errno=ENOENT op=MSI_READ`);
    return true;
  }
  // msi_fire: the e1000e raises `cause` (same register sequence as iovaexec's op_msi_fire)
  if (!target.pwrite || !target.pread) return false;
  const regionOffset = (index: number): bigint | number => {
    const b = new Uint8Array(32);
    put32(b, 0, 32);
    put32(b, 8, index);
    const r = target.ioctl(devFd, VFIO_IOCTL.DEVICE_GET_REGION_INFO, b);
    return r < 0 ? r : le64(b, 24);
  };
  const w32 = (off: bigint, v: number): number => {
    const b = new Uint8Array(4);
    put32(b, 0, v);
    const r = target.pwrite!(devFd, b, off);
    return r < 0 ? r : r === 4 ? 0 : -ERRNO.EIO;
  };
  let r = 0;
  const cfg = regionOffset(7); // VFIO_PCI_CONFIG_REGION_INDEX
  const bar0 = typeof cfg === 'number' ? cfg : regionOffset(0);
  if (typeof cfg === 'number') r = cfg;
  else if (typeof bar0 === 'number') r = bar0;
  else {
    const cmd = new Uint8Array(2);
    const got = target.pread(devFd, cmd, cfg + 4n);
    cmd[0] = cmd[0]! | 0x6; // PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER
    if (got < 0) r = got;
    if (!r) {
      const wr = target.pwrite(devFd, cmd, cfg + 4n);
      r = wr < 0 ? wr : 0;
    }
    if (!r) r = w32(bar0 + 0xd8n, 0xffffffff); // IMC
    if (!r) {
      const icr = new Uint8Array(4);
      const rd = target.pread(devFd, icr, bar0 + 0xc0n); // ICR (read clears)
      r = rd < 0 ? rd : 0;
    }
    if (!r) r = w32(bar0 + 0xc4n, 0); // ITR
    if (!r) r = w32(bar0 + 0xd0n, cause); // IMS
    if (!r) r = w32(bar0 + 0xc8n, cause); // ICS
    target.settle?.(50);
    if (!r) r = w32(bar0 + 0xd8n, 0xffffffff);
  }
  out.push(
    `CASE ${name} rc=${r ? -1 : 0} errno=${r ? (ERRNO_NAME.get(-r) ?? `E${-r}`) : '0'} op=MSI_FIRE cause=${hx(cause)}`,
  );
  return true;
}
