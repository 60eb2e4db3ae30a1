/**
 * Byte-level fuzzing: random argsz, flags and fields at every container/group/type1 ioctl (and random
 * command numbers, pointer-vs-integer mixups, short buffers, open/close). The model must never throw
 * and must keep its invariants (DMA tree shape, dma_avail accounting, mappings inside the usable list,
 * vaddr_invalid_count).
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import fc from 'fast-check';
import { CONTAINER_IOCTL_NAMES, cString, intArg, putU32, putU64 } from '../../src/uapi/vfio-type1.js';
import { BUF, RO, machine, toVfio } from './machine.js';

const CMDS = Object.values(CONTAINER_IOCTL_NAMES);

const u64 = fc.oneof(
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  fc.constantFrom(
    0n,
    0x1000n,
    0x2000n,
    0x100000n,
    0xfee00000n,
    0x8000000n,
    0xfffffffffffff000n,
    (1n << 64n) - 1n,
    1n << 52n,
  ),
  fc.bigInt({ min: 0n, max: 0x400n }).map((p) => p << 12n),
  fc.bigInt({ min: 0n, max: 0xfffn }).map((p) => BUF + (p << 12n)),
  fc.constant(RO),
);

const structArg = fc
  .record({
    len: fc.oneof(fc.constantFrom(0, 4, 8, 16, 20, 23, 24, 32, 48, 64, 120, 4096), fc.nat(200)),
    argsz: fc.oneof(fc.constantFrom(0, 8, 16, 20, 24, 32, 48, 4096, 0xffffffff), fc.nat(300)),
    flags: fc.oneof(fc.nat(8), fc.constantFrom(0x80, 0xffffffff), fc.nat()),
    a: u64,
    b: u64,
    c: u64,
    d: u64,
  })
  .map((r) => {
    const buf = new Uint8Array(r.len);
    const put32 = (off: number, v: number) => off + 4 <= buf.length && putU32(buf, off, v >>> 0);
    const put64 = (off: number, v: bigint) => off + 8 <= buf.length && putU64(buf, off, v);
    put32(0, r.argsz);
    put32(4, r.flags);
    put64(8, r.a);
    put64(16, r.b);
    put64(24, r.c);
    put64(32, r.d);
    return buf;
  });

/** Mostly well-formed MAP_DMA / UNMAP_DMA buffers (so the deep paths run), with occasional bad fields. */
const pageIova = fc.oneof(
  { weight: 8, arbitrary: fc.nat(64).map((p) => 0x100000n + BigInt(p) * 0x1000n) },
  { weight: 1, arbitrary: u64 },
);
const pages = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 1, max: 4 }).map((n) => BigInt(n) * 0x1000n) },
  { weight: 1, arbitrary: u64 },
);
const mapArg = fc
  .record({
    argsz: fc.oneof({ weight: 8, arbitrary: fc.constant(32) }, { weight: 1, arbitrary: fc.nat(64) }),
    flags: fc.oneof(
      { weight: 6, arbitrary: fc.constant(3) },
      { weight: 2, arbitrary: fc.constantFrom(1, 2, 4) },
      { weight: 1, arbitrary: fc.nat(255) },
    ),
    vaddr: fc.oneof(
      { weight: 8, arbitrary: fc.nat(0xff).map((p) => BUF + BigInt(p) * 0x1000n) },
      { weight: 1, arbitrary: u64 },
    ),
    iova: pageIova,
    size: pages,
  })
  .map((r) => {
    const b = new Uint8Array(Math.max(32, r.argsz));
    putU32(b, 0, r.argsz);
    putU32(b, 4, r.flags);
    putU64(b, 8, r.vaddr);
    putU64(b, 16, r.iova);
    putU64(b, 24, r.size);
    return b;
  });
const unmapArg = fc
  .record({
    argsz: fc.oneof({ weight: 8, arbitrary: fc.constant(24) }, { weight: 1, arbitrary: fc.nat(64) }),
    flags: fc.oneof(
      { weight: 6, arbitrary: fc.constant(0) },
      { weight: 2, arbitrary: fc.constantFrom(2, 4, 6, 1) },
      { weight: 1, arbitrary: fc.nat(255) },
    ),
    iova: pageIova,
    size: pages,
  })
  .map((r) => {
    const all = (r.flags & 2) !== 0;
    const b = new Uint8Array(Math.max(24, r.argsz));
    putU32(b, 0, r.argsz);
    putU32(b, 4, r.flags);
    putU64(b, 8, all ? 0n : r.iova);
    putU64(b, 16, all ? 0n : r.size);
    return b;
  });

type Op =
  | { k: 'ioctl'; fd: number; cmd: number; arg: Uint8Array | number | undefined }
  | { k: 'close'; fd: number }
  | { k: 'open'; what: number }
  | { k: 'param'; limit: number; unsafe: boolean };

const op = (fdCount: number): fc.Arbitrary<Op> =>
  fc.oneof(
    {
      weight: 15,
      arbitrary: fc.record({
        k: fc.constant('ioctl' as const),
        fd: fc.constant(0),
        cmd: fc.constant(CONTAINER_IOCTL_NAMES['VFIO_IOMMU_MAP_DMA']!),
        arg: mapArg,
      }),
    },
    {
      weight: 8,
      arbitrary: fc.record({
        k: fc.constant('ioctl' as const),
        fd: fc.constant(0),
        cmd: fc.constant(CONTAINER_IOCTL_NAMES['VFIO_IOMMU_UNMAP_DMA']!),
        arg: unmapArg,
      }),
    },
    {
      weight: 20,
      arbitrary: fc.record({
        k: fc.constant('ioctl' as const),
        fd: fc.nat(fdCount + 1),
        cmd: fc.oneof(fc.constantFrom(...CMDS), fc.nat(0xffff)),
        arg: fc.oneof(
          structArg,
          fc.nat(20).map((n) => n - 2),
          fc.constant(undefined),
          fc.nat(8).map((n) => intArg(n)),
          fc.constantFrom(cString('0000:00:02.0'), cString('0000:00:01.0'), cString('nope')),
        ),
      }),
    },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('close' as const), fd: fc.nat(fdCount + 1) }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('open' as const), what: fc.nat(3) }) },
    {
      weight: 1,
      arbitrary: fc.record({ k: fc.constant('param' as const), limit: fc.nat(40), unsafe: fc.boolean() }),
    },
  );

/** Successful MAP_DMA / UNMAP_DMA calls seen by the fuzzer, so the deep paths are known to be reached. */
const reached = { map: 0, unmap: 0 };

for (const [preset, kernel] of [
  ['qemu-q35-intel-iommu', '6.1'],
  ['qemu-virt-smmuv3-gicv2', '6.12'],
  ['qemu-q35-amd-iommu', '6.12'],
] as const) {
  test(`fuzz ${preset} ${kernel}: every ioctl takes random bytes without throwing or breaking invariants`, () => {
    fc.assert(
      fc.property(fc.array(op(8), { minLength: 1, maxLength: 60 }), (ops) => {
        const m = machine(preset, kernel, { dmaEntryLimit: 32, allowUnsafeInterrupts: true });
        const second = m.core
          .devices()
          .find(
            (d) =>
              d !== m.nic && d.groupId !== undefined && d.groupId !== m.nic.groupId && d.driver === 'none',
          );
        if (second) toVfio(m.core, (d) => d === second);
        const paths = [
          '/dev/vfio/vfio',
          `/dev/vfio/${m.nic.groupId}`,
          second ? `/dev/vfio/${second.groupId}` : '/dev/vfio/77',
          '/dev/vfio/vfio',
        ];
        const fds: number[] = [m.sys.open(paths[0]!), m.sys.open(paths[1]!), m.sys.open(paths[2]!)];
        // Start attached so that most calls reach the backend.
        m.sys.ioctl(fds[1]!, CONTAINER_IOCTL_NAMES['VFIO_GROUP_SET_CONTAINER']!, intArg(fds[0]!));
        m.sys.ioctl(fds[0]!, CONTAINER_IOCTL_NAMES['VFIO_SET_IOMMU']!, 3);
        for (const o of ops) {
          let rc: number;
          switch (o.k) {
            case 'ioctl': {
              const fd = fds[o.fd % (fds.length + 1)] ?? 999;
              // An int argument for a pointer ioctl: the model must fail cleanly.
              const arg =
                o.arg instanceof Uint8Array &&
                o.cmd === CONTAINER_IOCTL_NAMES['VFIO_GROUP_SET_CONTAINER'] &&
                o.arg.length === 4
                  ? intArg(fds[0]!)
                  : o.arg;
              rc = m.sys.ioctl(fd, o.cmd, arg);
              if (rc === 0 && o.cmd === CONTAINER_IOCTL_NAMES['VFIO_IOMMU_MAP_DMA']) reached.map++;
              if (rc === 0 && o.cmd === CONTAINER_IOCTL_NAMES['VFIO_IOMMU_UNMAP_DMA']) reached.unmap++;
              break;
            }
            case 'close':
              rc = m.sys.close(fds[o.fd % fds.length] ?? 999);
              break;
            case 'open': {
              rc = m.sys.open(paths[o.what]!);
              if (rc >= 0) fds.push(rc);
              break;
            }
            case 'param':
              m.sys.params.dmaEntryLimit = o.limit;
              m.sys.params.allowUnsafeInterrupts = o.unsafe;
              rc = 0;
              break;
          }
          assert.ok(Number.isInteger(rc), `rc ${rc}`);
          for (const fd of fds) {
            const t = m.sys.container(fd)?.iommu;
            if (t) assert.equal(t.checkInvariants(), undefined);
          }
        }
      }),
      { seed: 0x5eed, numRuns: 150 },
    );
  });
}

test('the fuzzer reached successful MAP_DMA and UNMAP_DMA calls', () => {
  assert.ok(reached.map > 0 && reached.unmap > 0, JSON.stringify(reached));
});
