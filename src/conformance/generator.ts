/**
 * Seeded generator of random but valid-ish call sequences, in the compiled format (compact output).
 * One machine-independent set of scenarios runs on every machine/kernel pair: the addresses are drawn
 * from the union of the interesting spots of all machines (reserved holes, SW-MSI windows, aperture
 * tops), so the same steps hit a hole on one machine and usable space on another.
 *
 * Every scenario starts from a clean kernel state (parameters set explicitly, fresh fds) and leaves it
 * clean (fds closed, parameters restored), so scenarios are independent and can run in any order.
 */

import { CompiledWriter } from './compiled.js';

/** mulberry32: small, fast, deterministic 32-bit PRNG. */
export class Prng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  u32(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor((this.u32() / 0x1_0000_0000) * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.u32() / 0x1_0000_0000 < p;
  }
  /** Weighted choice: [[weight, value], ...]. */
  weighted<T>(xs: readonly (readonly [number, T])[]): T {
    let total = 0;
    for (const [w] of xs) total += w;
    let r = this.int(total);
    for (const [w, v] of xs) {
      if (r < w) return v;
      r -= w;
    }
    return xs[xs.length - 1]![1];
  }
}

const PAGE = 0x1000n;
const BUF = 64n << 20n; // the executor's RW buffer
/** Interesting IOVA pages across all machines: holes, their edges, aperture tops, 2^52, the top page. */
const SPOTS: readonly bigint[] = [
  0x0n,
  0x1000n,
  0x100000n,
  0x7fff000n,
  0x8000000n,
  0x8001000n,
  0x80ff000n,
  0x8100000n,
  0x808f000n,
  0x8090000n,
  0x809f000n,
  0x80a0000n,
  0xfedff000n,
  0xfee00000n,
  0xfeeff000n,
  0xfef00000n,
  0x7ffffff000n,
  0x8000000000n,
  0xfcfffff000n,
  0xfd00000000n,
  0xfffffff000n,
  0x10000000000n,
  0xfffffffff000n,
  0x1000000000000n,
  1n << 52n,
  0xfffffffffffff000n,
];
const SIZES: readonly bigint[] = [
  PAGE,
  PAGE,
  PAGE,
  2n * PAGE,
  3n * PAGE,
  4n * PAGE,
  16n * PAGE,
  0x200000n,
  0x100000n,
];

/** C unsigned arithmetic: the generator may step past 2^64 (e.g. top page + 1 page); the kernel sees the wrapped value. */
function u64(v: bigint): bigint {
  return BigInt.asUintN(64, v);
}

interface Mapping {
  iova: bigint;
  size: bigint;
}

/** What the generator believes about the kernel state (only to steer towards interesting calls). */
interface State {
  container1Open: boolean;
  groupOpen: [boolean, boolean];
  deviceOpen: boolean;
  /** Believed: container 0 has group 0 and an IOMMU backend (so MAP/UNMAP can succeed). */
  attached: boolean;
  unsafe: boolean;
  maps: Mapping[];
}

export interface GenOptions {
  /** Steps per scenario (random operations, not counting setup and teardown). */
  readonly steps: number;
  /** Whether a second group (slot g1) exists on the machine; generated scenarios never require it. */
  readonly secondGroup?: boolean;
  /** Random RLIMIT_MEMLOCK, CAP_IPC_LOCK and mlock steps among the others (default false). */
  readonly limits?: boolean;
}

/** Generates scenario number `index` of the seed; the text is a pure function of (seed, index, opts). */
export function generateScenario(seed: number, index: number, opts: GenOptions): string {
  const r = new Prng((seed * 0x9e3779b1 + index * 0x85ebca6b) >>> 0);
  const w = new CompiledWriter();
  const st: State = {
    container1Open: false,
    groupOpen: [false, false],
    deviceOpen: false,
    attached: false,
    unsafe: false,
    maps: [],
  };
  let n = 0;
  const name = (): string => `s${index}.${n++}`;
  w.directive('format', 'compact');
  w.directive('section', `gen_${seed}_${index}`);

  const limit = r.weighted<string>([
    [6, '65535'],
    [2, '16'],
    [1, '3'],
    [1, '200'],
  ]);
  w.op('param_set', name(), { p: 'dma_entry_limit', value: limit });
  st.unsafe = r.chance(0.85);
  w.op('param_set', name(), { p: 'allow_unsafe_interrupts', value: st.unsafe ? '1' : '0' });
  w.op('open_container', name());
  w.op('open_group', name(), { g: 0 });
  st.groupOpen[0] = true;
  w.op('set_container', name(), { g: 0 });
  w.op('set_iommu', name(), { type: r.chance(0.85) ? 3 : 1 });
  st.attached = true;

  /**
   * Back to a usable container after a detach: the group still holds its old container until it is
   * unset (closing the container fd does not detach it), and an open device fd keeps it in use.
   */
  const repair = (): void => {
    if (st.deviceOpen && r.chance(0.6)) {
      w.op('close_device', name(), { d: 0 });
      st.deviceOpen = false;
    }
    if (!st.groupOpen[0]) {
      w.op('open_group', name(), { g: 0 });
      st.groupOpen[0] = true;
    } else w.op('unset_container', name(), { g: 0 });
    if (!st.unsafe && r.chance(0.5)) {
      w.op('param_set', name(), { p: 'allow_unsafe_interrupts', value: '1' });
      st.unsafe = true;
    }
    w.op('set_container', name(), { g: 0, c: 0 });
    w.op('set_iommu', name(), { c: 0, type: r.chance(0.85) ? 3 : 1 });
    st.attached = true;
    st.maps = [];
  };

  const iova = (): bigint => {
    const k = r.int(10);
    if (k < 4) return BigInt(r.int(0x4000)) * PAGE; // low 64 MiB, dense: collisions are likely
    if (k < 5 && st.maps.length > 0) {
      const m = r.pick(st.maps);
      return u64(m.iova + BigInt(r.int(Number(m.size / PAGE) + 1)) * PAGE - (r.chance(0.3) ? PAGE : 0n));
    }
    let a = r.pick(SPOTS);
    if (r.chance(0.3)) a += BigInt(r.int(3) - 1) * PAGE;
    return u64(a);
  };
  const size = (): bigint => {
    const k = r.int(40);
    if (k === 0) return 0n;
    if (k === 1) return 0x800n;
    if (k === 2) return 0xfffffffffffff000n;
    if (k === 3) return 0x100000000n;
    return r.pick(SIZES);
  };
  const vaddr = (sz: bigint): string => {
    const k = r.int(30);
    if (k === 0) return 'abs+0x1000';
    if (k === 1) return 'ro+0x0';
    if (k === 2) return 'buf+0x800';
    const room = sz < BUF ? (BUF - sz) / PAGE : 0n;
    return 'buf+0x' + (BigInt(r.int(Number(room) + 1)) * PAGE).toString(16);
  };

  const doMap = (): void => {
    const a = u64(iova() + (r.chance(0.03) ? 0x800n : 0n));
    const s = size();
    const flags = r.weighted<string>([
      [20, '3'],
      [2, '1'],
      [2, '2'],
      [1, '0'],
      [1, '0x83'],
      [2, '4'],
      [1, '7'],
    ]);
    const f: Record<string, string | bigint> = { flags, iova: a, size: s, vaddr: vaddr(s) };
    if (r.chance(0.05)) f['argsz'] = r.pick(['16', '31', '40', '0']);
    w.op('map', name(), f);
    if (flags === '3' && a % PAGE === 0n && s > 0n && s <= 0x200000n) st.maps.push({ iova: a, size: s });
    if (st.maps.length > 64) st.maps.shift();
  };
  const doUnmap = (): void => {
    let a: bigint;
    let s: bigint;
    const k = r.int(10);
    if (k < 5 && st.maps.length > 0) {
      const i = r.int(st.maps.length);
      const m = st.maps[i]!;
      a = m.iova;
      s = m.size;
      if (r.chance(0.3)) {
        // a sub-range, or a superset reaching into neighbours
        if (r.chance(0.5) && m.size > PAGE) s = m.size - PAGE;
        else {
          a = a >= PAGE ? a - PAGE : a;
          s = u64(s + 2n * PAGE);
        }
      } else st.maps.splice(i, 1);
    } else {
      a = iova();
      s = size();
    }
    const flags = r.weighted<string>([
      [20, '0'],
      [2, '2'],
      [2, '4'],
      [1, '1'],
      [1, '0x80'],
      [1, '6'],
    ]);
    if (flags === '2' || flags === '6') {
      if (r.chance(0.7)) {
        a = 0n;
        s = 0n;
      }
      st.maps = [];
    }
    const f: Record<string, string | bigint> = { flags, iova: a, size: s };
    if (r.chance(0.05)) f['argsz'] = r.pick(['8', '23', '32']);
    w.op('unmap', name(), f);
  };
  const doGetInfo = (): void => {
    const argsz = r.weighted<string>([
      [3, 'last'],
      [2, '24'],
      [1, '16'],
      [1, '8'],
      [1, '0'],
      [1, '20'],
      [2, String(24 + r.int(140))],
      [1, '4096'],
    ]);
    const f: Record<string, string> = { argsz };
    if (r.chance(0.5)) f['fill'] = '0x' + r.int(256).toString(16);
    if (r.chance(0.15)) f['dump'] = '1';
    w.op('get_info', name(), f);
  };
  const doGroup = (): void => {
    const g = opts.secondGroup && r.chance(0.5) ? 1 : 0;
    const k = r.int(8);
    if (!st.groupOpen[g]) {
      w.op('open_group', name(), { g });
      st.groupOpen[g] = true;
      return;
    }
    if (k === 0) w.op('group_status', name(), { g, ...(r.chance(0.1) ? { argsz: '4' } : {}) });
    else if (k === 1) {
      w.op('unset_container', name(), { g });
      if (g === 0) st.attached = false;
    } else if (k === 2 || k === 3) w.op('set_container', name(), { g, c: r.chance(0.8) ? 0 : 1 });
    else if (k === 4) w.op('set_iommu', name(), { c: 0, type: r.pick([3, 3, 1, 2, 0, 9]) });
    else if (k === 5) {
      w.op('close_group', name(), { g });
      st.groupOpen[g] = false;
      if (g === 0) st.attached = false;
    } else if (k === 6) w.op('check_ext', name(), { ext: r.int(12) });
    else w.op('api_version', name());
  };
  const doContainer = (): void => {
    const k = r.int(4);
    if (k === 0) {
      w.op('close_container', name(), { c: 0 });
      w.op('open_container', name(), { c: 0 });
      st.attached = false;
      st.maps = [];
    } else if (k === 1) {
      if (st.container1Open) w.op('close_container', name(), { c: 1 });
      else w.op('open_container', name(), { c: 1 });
      st.container1Open = !st.container1Open;
    } else if (k === 2) {
      st.unsafe = r.chance(0.7);
      w.op('param_set', name(), { p: 'allow_unsafe_interrupts', value: st.unsafe ? '1' : '0' });
    } else {
      w.op('param_set', name(), { p: 'dma_entry_limit', value: r.pick(['65535', '16', '4', '100']) });
    }
  };
  const doFill = (): void => {
    const base = (BigInt(0x10000 + r.int(0x10000)) * PAGE) & ~0xfffffn;
    w.op('fill', name(), { base, max: r.pick([4, 17, 70, 250]) });
    w.op('unmap', name(), { flags: 0, iova: base, size: 0x1000000n });
  };
  const doIrq = (): void => {
    if (!st.deviceOpen) {
      w.op('device_fd', name(), { g: 0, d: 0 });
      st.deviceOpen = true;
      return;
    }
    const k = r.int(10);
    if (k === 0) {
      w.op('irq_info', name(), { d: 0, index: r.int(7) });
      return;
    }
    if (k === 1) {
      w.op('efd_read', name(), { e: r.int(4) });
      return;
    }
    if (k === 2 && r.chance(0.3)) {
      w.op('close_device', name(), { d: 0 });
      st.deviceOpen = false;
      return;
    }
    const index = r.weighted<number>([
      [4, 1],
      [4, 2],
      [1, 3],
      [1, 4],
      [1, 5],
    ]);
    const count = r.weighted<number>([
      [5, 1],
      [2, 0],
      [2, 2],
      [1, 5],
      [1, 6],
    ]);
    const start = r.weighted<number>([
      [6, 0],
      [1, 1],
      [1, 4],
      [1, 5],
    ]);
    const dataKind = r.weighted<number>([
      [6, 0x4], // DATA_EVENTFD
      [3, 0x1], // DATA_NONE
      [2, 0x2], // DATA_BOOL
      [1, 0x3],
    ]);
    const action = r.weighted<number>([
      [8, 0x20], // ACTION_TRIGGER
      [1, 0x8], // MASK
      [1, 0x10], // UNMASK
      [1, 0x30],
      [1, 0x0],
    ]);
    let flags = dataKind | action;
    if (r.chance(0.03)) flags |= 0x40;
    let data = 'none';
    if (dataKind === 0x4 && count > 0) {
      const fds: string[] = [];
      for (let i = 0; i < count; i++)
        fds.push(
          r.weighted<string>([
            [8, String(r.int(4))],
            [1, '-1'],
            [1, 'bad'],
          ]),
        );
      data = 'efd:' + fds.join(',');
    } else if (dataKind === 0x2 && count > 0) {
      const bs: string[] = [];
      for (let i = 0; i < count; i++) bs.push(r.chance(0.7) ? '1' : '0');
      data = 'bool:' + bs.join(',');
    }
    const f: Record<string, string | number> = {
      d: 0,
      index,
      start,
      count,
      flags: '0x' + flags.toString(16),
      data,
    };
    if (r.chance(0.04)) f['argsz'] = r.pick(['19', '20', '8']);
    w.op('set_irqs', name(), f);
  };

  // The process's locked memory: RLIMIT_MEMLOCK, CAP_IPC_LOCK, mlock; maps then meet ENOMEM at random.
  const doLimits = (): void => {
    const k = r.int(6);
    if (k === 0)
      w.op('rlimit_memlock', name(), {
        value: r.pick(['0x10000', '0x100000', '0x400000', '0x4000000', 'inf', '0']),
      });
    else if (k === 1) w.op('cap_ipc_lock', name(), { value: r.chance(0.5) ? 1 : 0 });
    else if (k === 2) w.op('vmlck', name());
    else {
      const sz = r.pick([PAGE, 16n * PAGE, 0x200000n, BUF]);
      const room = (BUF - sz) / PAGE;
      const at = 'buf+0x' + (BigInt(r.int(Number(room) + 1)) * PAGE).toString(16);
      w.op(k === 5 ? 'munlock' : 'mlock', name(), { vaddr: at, size: sz });
    }
  };

  for (let i = 0; i < opts.steps; i++) {
    if (!st.attached && r.chance(0.4)) {
      repair();
      continue;
    }
    const k = r.weighted<() => void>([
      [30, doMap],
      [18, doUnmap],
      [10, doGetInfo],
      [opts.secondGroup ? 16 : 6, doGroup],
      [2, doContainer],
      [2, doFill],
      [6, doIrq],
      [opts.limits === true ? 8 : 0, doLimits],
    ]);
    k();
  }

  // teardown: leave the kernel as we found it
  if (st.deviceOpen) w.op('close_device', name(), { d: 0 });
  for (const g of [0, 1] as const) if (st.groupOpen[g]) w.op('close_group', name(), { g });
  w.op('close_container', name(), { c: 0 });
  if (st.container1Open) w.op('close_container', name(), { c: 1 });
  w.op('param_set', name(), { p: 'dma_entry_limit', value: '65535' });
  w.op('param_set', name(), { p: 'allow_unsafe_interrupts', value: '0' });
  if (opts.limits === true) {
    w.op('cap_ipc_lock', name(), { value: 1 });
    w.op('rlimit_memlock', name(), { value: '0x800000' });
  }
  return w.text();
}
