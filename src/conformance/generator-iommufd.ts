/**
 * Seeded random iommufd sequences (`iommufd/gen-iommufd-NN.iovx`, run on the four iommufd machines):
 * IOAS and HWPT allocation and destruction, fixed and allocated maps at the interesting IOVAs of every
 * machine, unmaps of random spans, copies, allowed ranges, options, attach/replace/detach of the NIC's
 * cdev, and RLIMIT_MEMLOCK / CAP_IPC_LOCK changes, with ids drawn from the small range the kernel hands
 * out (so some steps name a missing or wrong object). Each scenario opens its own /dev/iommu, binds the
 * NIC first (device id 1) and puts everything back at the end.
 */

import { CompiledWriter } from './compiled.js';
import { Prng } from './generator.js';

const PAGE = 0x1000n;
/** IOVAs worth hitting on some machine: holes and their edges, aperture tops, the top page. */
const SPOTS: readonly bigint[] = [
  0x0n,
  0x1000n,
  0x100000n,
  0x200000n,
  0x7ff000n,
  0x7fff000n,
  0x8000000n,
  0x80ff000n,
  0x8100000n,
  0xfedff000n,
  0xfee00000n,
  0xfef00000n,
  0x7ffffff000n,
  0x8000000000n,
  0xfcfffff000n,
  0xfd00000000n,
  0xfffffffff000n,
  0x1000000000000n,
  0xfffffffffffff000n,
];
/** Flags of IOAS_MAP / IOAS_COPY. */
const FIXED = 1;
const WRITE = 2;
const READ = 4;

/**
 * `compat`: VFIO type1 on the same /dev/iommu too (container slot 0 names it): IOMMU_VFIO_IOAS at random
 * ids, SET_IOMMU, GET_INFO, and MAP_DMA/UNMAP_DMA aimed at earlier mappings, with partial ranges (the
 * cuts of TYPE1). MAP_DMA always asks for READ or WRITE: without either, an SMMU's page-table code maps
 * nothing and reports success, which can keep the kernel's iommu_map looping.
 */
export function generateIommufdScenario(
  seed: number,
  index: number,
  steps: number,
  opts: { compat?: boolean } = {},
): string {
  const r = new Prng((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
  const w = new CompiledWriter().directive('format', 'compact').directive('section', `gen_iommufd_${index}`);
  const p = `g${index}.`;
  let n = 0;
  const op = (o: Parameters<CompiledWriter['op']>[0], f: Record<string, string | number | bigint> = {}) =>
    w.op(o, `${p}${String(n++).padStart(3, '0')}_${o}`, f);
  const id = (): number =>
    r.weighted([
      [8, 2 + r.int(5)],
      [1, 1],
      [1, 9],
      [1, 0],
    ]);
  const pages = (): bigint =>
    r.weighted([
      [6, BigInt(1 + r.int(8))],
      [2, BigInt(16 + r.int(64))],
      [1, 512n],
    ]) * PAGE;
  const iova = (): bigint => {
    const base = r.weighted([
      [6, SPOTS[r.int(SPOTS.length)]!],
      [4, BigInt(r.int(64)) * 0x10000n],
    ]);
    const off = r.chance(0.1) ? 0x800n : BigInt(r.int(4)) * PAGE;
    return BigInt.asUintN(64, base + off);
  };
  const vaddr = (): string =>
    r.weighted([
      [12, `buf+0x${(BigInt(r.int(512)) * PAGE).toString(16)}`],
      [2, `ro+0x${(BigInt(r.int(16)) * PAGE).toString(16)}`],
      [1, 'abs+0x1000'],
      [1, `buf+0x${(BigInt(r.int(512)) * PAGE + 0x800n).toString(16)}`],
      [1, 'buf+0x3ffe000'],
    ]);
  const mapFlags = (fixed: boolean): number =>
    (fixed ? FIXED : 0) |
    r.weighted([
      [6, READ | WRITE],
      [2, READ],
      [1, WRITE],
      [1, 0x8 | READ],
    ]);

  w.op('open_iommufd', `${p}open`);
  w.op('open_cdev', `${p}cdev`, { d: 0 });
  // GICv2m machines: bind refuses without this
  w.op('param_set', `${p}unsafe_on`, { p: 'iommufd.allow_unsafe_interrupts', value: '1' });
  w.op('bind_iommufd', `${p}bind`, { d: 0 });
  w.op('ioas_alloc', `${p}ioas`);
  if (opts.compat) w.op('compat_container', `${p}container`, { c: 0, i: 0 });
  let capDropped = false;
  /** Fixed maps asked for so far (iova, length): unmaps and copies aim at them most of the time. */
  const mapped: [bigint, bigint, number][] = [];
  const recent = (): [bigint, bigint, number] | undefined =>
    mapped.length && r.chance(0.7)
      ? mapped[mapped.length - 1 - r.int(Math.min(8, mapped.length))]
      : undefined;
  for (let s = 0; s < steps; s++) {
    const kind = r.weighted<string>([
      [8, 'alloc'],
      [3, 'destroy'],
      [20, 'map_fixed'],
      [8, 'map_auto'],
      [12, 'unmap'],
      [2, 'unmap_all'],
      [7, 'copy'],
      [3, 'allow'],
      [6, 'ranges'],
      [3, 'option'],
      [6, 'attach'],
      [3, 'detach'],
      [3, 'hwpt'],
      [4, 'limits'],
      [2, 'vmlck'],
      ...(opts.compat
        ? ([
            [4, 'vfio_ioas'],
            [10, 'compat_map'],
            [10, 'compat_unmap'],
            [2, 'compat_set_iommu'],
            [3, 'compat_info'],
            [1, 'compat_ext'],
          ] as [number, string][])
        : []),
    ]);
    switch (kind) {
      case 'alloc':
        op('ioas_alloc');
        break;
      case 'destroy':
        op('destroy', { id: id() });
        break;
      case 'map_fixed':
      case 'map_auto': {
        const fixed = kind === 'map_fixed';
        const at = iova();
        const length = r.chance(0.05) ? 0x800n : pages();
        const into = id();
        if (fixed) mapped.push([at, length, into]);
        op('ioas_map', {
          ioas: into,
          flags: mapFlags(fixed),
          ...(fixed ? { iova: at } : {}),
          length,
          vaddr: vaddr(),
        });
        break;
      }
      case 'unmap': {
        const at = iova();
        op('ioas_unmap', {
          ioas: id(),
          iova: at,
          length: r.chance(0.1) ? 0n : pages() * BigInt(1 + r.int(3)),
        });
        break;
      }
      case 'unmap_all':
        op('ioas_unmap', { ioas: id(), iova: 0, length: 0xffffffffffffffffn });
        break;
      case 'copy': {
        const hit = recent();
        op('ioas_copy', {
          dst: id(),
          src: hit ? hit[2] : id(),
          flags: mapFlags(r.chance(0.5)),
          length: hit ? hit[1] / BigInt(1 + r.int(2)) || PAGE : pages(),
          dst_iova: iova(),
          src_iova: hit ? hit[0] : iova(),
        });
        break;
      }
      case 'allow': {
        const list = r.chance(0.3)
          ? 'none'
          : Array.from({ length: 1 + r.int(2) }, () => {
              const a = iova();
              return `0x${a.toString(16)}-0x${BigInt.asUintN(64, a + pages() - 1n).toString(16)}`;
            }).join(',');
        op('ioas_allow', { ioas: id(), ranges: list });
        break;
      }
      case 'ranges':
        op('ioas_ranges', { ioas: id(), num: r.pick([0, 1, 4]) });
        break;
      case 'option':
        op(
          'option',
          r.chance(0.5)
            ? { option_id: 1, op: r.int(2), object: id(), val: r.pick([0, 1, 2]) }
            : { option_id: 0, op: 1 },
        );
        break;
      case 'attach':
        op('attach_pt', { d: 0, pt: id() });
        break;
      case 'detach':
        op('detach_pt', { d: 0 });
        break;
      case 'hwpt':
        op('hwpt_alloc', {
          dev: r.chance(0.9) ? 1 : id(),
          pt: id(),
          flags: r.weighted([
            [8, 0],
            [1, 2],
          ]),
        });
        break;
      case 'limits':
        if (capDropped && r.chance(0.5)) {
          op('cap_ipc_lock', { value: 1 });
          capDropped = false;
        } else {
          op('rlimit_memlock', { value: r.pick([0x10000, 0x40000, 0x100000, 0x800000]) });
          op('cap_ipc_lock', { value: 0 });
          capDropped = true;
        }
        break;
      case 'vmlck':
        op('vmlck');
        break;
      case 'vfio_ioas':
        op(
          'vfio_ioas',
          r.weighted<Record<string, number>>([
            [5, { vop: 1, ioas: id() }],
            [3, { vop: 0 }],
            [1, { vop: 2 }],
          ]),
        );
        break;
      case 'compat_map': {
        const at = iova();
        const length = r.chance(0.05) ? 0x800n : pages();
        mapped.push([at, length, 1]); // (a copy from it assumes the first IOAS)
        op('map', {
          c: 0,
          flags: r.weighted([
            [6, 3],
            [2, 1],
            [1, 2],
            [1, 7],
          ]),
          iova: at,
          size: length,
          vaddr: vaddr(),
        });
        break;
      }
      case 'compat_unmap': {
        const hit = recent();
        const whole = hit && r.chance(0.5);
        const at = hit ? (whole ? hit[0] : BigInt.asUintN(64, hit[0] + BigInt(r.int(4)) * PAGE)) : iova();
        const size = hit && whole ? hit[1] : r.chance(0.05) ? 0n : pages();
        op('unmap', {
          c: 0,
          flags: r.weighted([
            [12, 0],
            [1, 2],
            [1, 1],
          ]),
          iova: r.chance(0.1) ? 0 : at,
          size: r.chance(0.1) ? 0 : size,
        });
        break;
      }
      case 'compat_set_iommu':
        op('set_iommu', {
          c: 0,
          type: r.weighted([
            [4, 1],
            [4, 3],
            [1, 2],
          ]),
        });
        break;
      case 'compat_info':
        op('get_info', { c: 0, argsz: r.pick([16, 24, 40, 72, 256]), ...(r.chance(0.5) ? { dump: 1 } : {}) });
        break;
      case 'compat_ext':
        op('check_ext', { c: 0, ext: r.pick([1, 3, 4, 9]) });
        break;
    }
  }
  if (opts.compat) w.op('compat_container', `${p}forget_container`, { c: 0 });
  w.op('close_device', `${p}close_cdev`, { d: 0 });
  w.op('close_iommufd', `${p}close`);
  w.op('param_set', `${p}unsafe_off`, { p: 'iommufd.allow_unsafe_interrupts', value: '0' });
  w.op('cap_ipc_lock', `${p}cap_back`, { value: 1 });
  w.op('rlimit_memlock', `${p}limit_back`, { value: 0x800000 });
  return w.text();
}
