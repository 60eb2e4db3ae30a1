/**
 * The vfio_dma records kept inside the only domain's runs (SharedDmaIndex) must answer exactly like a
 * separate DmaTree: the same random MAP/UNMAP byte sequences, with foreign mappings (MSI-doorbell-like
 * pages mapped by someone else), foreign unmaps, mappings over two user regions and UNMAP/MAP with the
 * VADDR flags, run on two processes (shared index on / off) and compared call by call.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import fc from 'fast-check';
import type { IommuCore, IommuDomain } from '../../src/iommu/api.js';
import { kernelProfile } from '../../src/kernel/profile.js';
import { AddressSpace, PROT_READ, PROT_WRITE } from '../../src/mm/address-space.js';
import {
  DMA_MAP_SIZE,
  DMA_UNMAP_SIZE,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_UNMAP_DMA,
  VFIO_SET_IOMMU,
  VFIO_TYPE1_IOMMU,
  VFIO_TYPE1v2_IOMMU,
  putU32,
  putU64,
} from '../../src/uapi/vfio-type1.js';
import { VfioSystem } from '../../src/vfio/system.js';
import { DmaTree, SharedDmaIndex } from '../../src/vfio/type1/dma-tree.js';
import type { Type1Params, VfioIommuType1 } from '../../src/vfio/type1/type1.js';
import { getInfo, setContainer } from '../../src/vfio/typed.js';
import { BUF, RO, attached, boot, isNic, toVfio } from './machine.js';

/** A second user region right after BUF's 16 MiB: a range across the two needs two runs. */
const BUF2 = BUF + (16n << 20n);
const WIN = 0x100000n;
const P = 0x1000n;

interface Side {
  sys: VfioSystem;
  c: number;
  t1: VfioIommuType1;
  dom: IommuDomain;
}

/** A process with BUF, BUF2 (right after it) and RO mapped, on `core`. */
function vfioProcess(core: IommuCore, share: boolean, params: Partial<Type1Params>): VfioSystem {
  const mm = new AddressSpace();
  mm.map('buf', BUF, 16n << 20n, PROT_READ | PROT_WRITE);
  mm.map('buf2', BUF2, 1n << 20n, PROT_READ | PROT_WRITE);
  mm.map('robuf', RO, 0x10000n, PROT_READ);
  return new VfioSystem({ core, profile: kernelProfile('6.12'), params, mm, shareDomainStore: share });
}

function side(share: boolean, v2: boolean, limit: number): Side {
  const core = boot('qemu-q35-intel-iommu');
  const nic = toVfio(core, isNic);
  const sys = vfioProcess(core, share, { dmaEntryLimit: limit });
  const { container, rc } = attached({ core, sys, nic }, v2 ? VFIO_TYPE1v2_IOMMU : VFIO_TYPE1_IOMMU);
  assert.equal(rc, 0);
  const t1 = sys.container(container)!.iommu!;
  return { sys, c: container, t1, dom: t1.domains[0]!.domain };
}

type Op =
  | { k: 'map'; p: number; n: number; flags: number; vaddr: bigint }
  | { k: 'unmap'; p: number; n: number; flags: number }
  | { k: 'foreign-map'; p: number }
  | { k: 'foreign-unmap'; p: number; n: number };

const vaddrArb = fc.oneof(
  { weight: 20, arbitrary: fc.nat(64).map((p) => BUF + BigInt(p) * P) },
  // Ends in BUF, continues in BUF2: the general (several runs) path.
  { weight: 1, arbitrary: fc.nat(3).map((p) => BUF2 - BigInt(p + 1) * P) },
  { weight: 1, arbitrary: fc.constant(RO) },
  { weight: 1, arbitrary: fc.constant(0x1000n) },
);

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record({
      k: fc.constant('map' as const),
      p: fc.nat(40),
      n: fc.integer({ min: 1, max: 5 }),
      flags: fc.constantFrom(3, 3, 3, 1, 4),
      vaddr: vaddrArb,
    }),
  },
  {
    weight: 8,
    arbitrary: fc.record({
      k: fc.constant('unmap' as const),
      p: fc.nat(40),
      n: fc.integer({ min: 1, max: 6 }),
      flags: fc.constantFrom(0, 0, 0, 2, 4),
    }),
  },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('foreign-map' as const), p: fc.nat(44) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      k: fc.constant('foreign-unmap' as const),
      p: fc.nat(44),
      n: fc.integer({ min: 1, max: 3 }),
    }),
  },
);

/** Runs one op on one side: the rc and the bytes the kernel wrote back. */
function run(s: Side, op: Op): [number, string] {
  if (op.k === 'map') {
    const b = new Uint8Array(DMA_MAP_SIZE);
    putU32(b, 0, DMA_MAP_SIZE);
    putU32(b, 4, op.flags);
    putU64(b, 8, op.vaddr);
    putU64(b, 16, WIN + BigInt(op.p) * P);
    putU64(b, 24, BigInt(op.n) * P);
    return [s.sys.ioctl(s.c, VFIO_IOMMU_MAP_DMA, b), b.join(',')];
  }
  if (op.k === 'unmap') {
    const all = op.flags === 2;
    const b = new Uint8Array(DMA_UNMAP_SIZE);
    putU32(b, 0, DMA_UNMAP_SIZE);
    putU32(b, 4, op.flags);
    putU64(b, 8, all ? 0n : WIN + BigInt(op.p) * P);
    putU64(b, 16, all ? 0n : BigInt(op.n) * P);
    return [s.sys.ioctl(s.c, VFIO_IOMMU_UNMAP_DMA, b), b.join(',')];
  }
  if (op.k === 'foreign-map') {
    // Someone else (dma-iommu's MSI doorbell) maps a page into the container's domain.
    return [s.dom.map(WIN + BigInt(op.p) * P, 0xfee00000n, P, 3), ''];
  }
  return [Number(s.dom.unmap(WIN + BigInt(op.p) * P, BigInt(op.n) * P)), ''];
}

function snapshot(s: Side): string {
  const maps = [...s.dom.mappings()].map((m) => `${m.iova}:${m.paddr}:${m.size}:${m.prot}`);
  const dma = [...s.t1.dma.entries()].map((e) => `${e.iova}:${e.pages}:${e.vaddr}:${e.flags}`);
  const info = getInfo(s.sys, s.c, 4096);
  return `${maps.join(' ')} | ${dma.join(' ')} | ${s.t1.dmaAvail} ${s.t1.vaddrInvalidCount} | ${info.rc}`;
}

for (const v2 of [true, false]) {
  test(`shared vfio_dma index answers like a separate DmaTree (${v2 ? 'v2' : 'v1'}, byte for byte)`, () => {
    let sharedUsed = 0;
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 30, maxLength: 70 }), (ops) => {
        const a = side(true, v2, 10);
        const b = side(false, v2, 10);
        assert.ok(a.t1.dma instanceof SharedDmaIndex, 'a one-domain container starts shared');
        assert.ok(b.t1.dma instanceof DmaTree);
        for (const [i, op] of ops.entries()) {
          if (a.t1.dma instanceof SharedDmaIndex) sharedUsed++;
          assert.deepEqual(
            run(a, op),
            run(b, op),
            `op ${i} ${JSON.stringify(op, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString(16) : v))}`,
          );
          assert.equal(a.t1.checkInvariants(), undefined);
          assert.equal(snapshot(a), snapshot(b), `state after op ${i}`);
        }
      }),
      { numRuns: 150, seed: 4242 },
    );
    assert.ok(sharedUsed > 1000, `the shared index ran ${sharedUsed} ops`);
  });
}

test('the shared index leaves the domain for a foreign unmap, keeping every vfio_dma', () => {
  const s = side(true, true, 100);
  for (let p = 0; p < 8; p++) {
    assert.deepEqual(run(s, { k: 'map', p: p * 2, n: 1, flags: 3, vaddr: BUF + BigInt(p) * P })[0], 0);
  }
  assert.equal(run(s, { k: 'foreign-map', p: 1 })[0], 0);
  assert.ok(s.t1.dma instanceof SharedDmaIndex);
  assert.equal(s.t1.dma.size, 8);
  assert.equal(s.dom.mappingCount, 9);
  // A MAP over the foreign page: not a vfio_dma (no EEXIST from the dma list), the IOMMU map says EEXIST.
  assert.equal(run(s, { k: 'map', p: 1, n: 1, flags: 3, vaddr: BUF })[0], -17);
  assert.equal(run(s, { k: 'foreign-unmap', p: 1, n: 1 })[0], 0x1000);
  const after = s.t1.dma as DmaTree | SharedDmaIndex;
  assert.ok(after instanceof DmaTree, 'someone else unmapped: the records moved out');
  assert.equal(after.size, 8);
  assert.equal(s.dom.mappingCount, 8);
  assert.deepEqual(
    [...s.dom.mappings()].map((m) => m.prot),
    new Array<number>(8).fill(7),
    'the runs keep only their prot',
  );
  assert.equal(s.t1.checkInvariants(), undefined);
});

test('a second domain moves the records into a DmaTree: replay, MAP and UNMAP agree with a separate tree', () => {
  // ampere-altra: groups behind two SMMUv3 instances end up in two domains of one container.
  const scenario = (share: boolean): unknown[] => {
    const core = boot('ampere-altra');
    const sys = vfioProcess(core, share, { allowUnsafeInterrupts: true });
    const groups = core.groups().filter((g) => g.devices.length > 0);
    for (const g of groups) {
      for (const d of g.devices) {
        if (d.driver !== 'none') core.unbindDriver(d);
        core.bindDriver(d, 'vfio-pci', true);
      }
    }
    const c = sys.open('/dev/vfio/vfio');
    const log: unknown[] = [];
    let t1: VfioIommuType1 | undefined;
    const s = (): Side => ({ sys, c, t1: t1!, dom: t1!.domains[0]!.domain });
    const state = (): unknown[] => [
      `domains=${t1!.domains.length}`,
      [...t1!.dma.entries()],
      t1!.domains.map((d) => [...d.domain.mappings()]),
      t1!.dmaAvail,
      t1!.checkInvariants(),
    ];
    for (const g of groups) {
      const fd = sys.open(`/dev/vfio/${g.id}`);
      log.push(setContainer(sys, fd, c));
      if (t1 === undefined) {
        log.push(sys.ioctl(c, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));
        t1 = sys.container(c)!.iommu!;
        log.push(t1.dma instanceof SharedDmaIndex ? 'shared' : 'tree');
        for (let p = 0; p < 6; p++)
          log.push(run(s(), { k: 'map', p: p * 3, n: 2, flags: 3, vaddr: BUF + BigInt(p) * 0x4000n }));
        log.push(...state());
      }
      if (t1.domains.length === 2) break;
    }
    log.push(t1!.dma instanceof DmaTree, ...state());
    log.push(run(s(), { k: 'unmap', p: 3, n: 2, flags: 0 }));
    log.push(run(s(), { k: 'map', p: 30, n: 3, flags: 3, vaddr: BUF + 0x100000n }));
    log.push(run(s(), { k: 'unmap', p: 0, n: 40, flags: 0 }));
    log.push(...state());
    return log;
  };
  const a = scenario(true);
  const b = scenario(false);
  assert.ok(a.includes('shared') && b.includes('tree'));
  assert.deepEqual(
    a.map((x) => (x === 'shared' ? 'tree' : x)),
    b,
  );
  assert.ok(a.includes('domains=2'), 'two domains were reached');
});
