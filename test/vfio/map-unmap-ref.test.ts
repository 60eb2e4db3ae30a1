/**
 * MAP_DMA / UNMAP_DMA against a direct transcription of the kernel's rules (a plain list, linear scans):
 * random sequences in a small IOVA window, v1 and v2, including UNMAP_FLAG_ALL.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import fc from 'fast-check';
import { ERRNO } from '../../src/base/errno.js';
import { mapDma, unmapDma } from '../../src/vfio/typed.js';
import { VFIO_TYPE1_IOMMU, VFIO_TYPE1v2_IOMMU } from '../../src/uapi/vfio-type1.js';
import { BUF, attached, machine } from './machine.js';

class Ref {
  maps: { iova: number; size: number }[] = [];
  constructor(
    readonly v2: boolean,
    public avail: number,
  ) {}
  map(iova: number, size: number): number {
    if (this.maps.some((m) => m.iova < iova + size && iova < m.iova + m.size)) return -ERRNO.EEXIST;
    if (this.avail === 0) return -ERRNO.ENOSPC;
    this.maps.push({ iova, size });
    this.maps.sort((a, b) => a.iova - b.iova);
    this.avail--;
    return 0;
  }
  unmap(iova: number, size: number, all: boolean): { rc: number; size: number } {
    const end = all ? Infinity : iova + size;
    if (this.v2 && !all) {
      const a = this.maps.find((m) => m.iova <= iova && iova < m.iova + m.size);
      if (a && a.iova !== iova) return { rc: -ERRNO.EINVAL, size: 0 };
      const b = this.maps.find((m) => m.iova <= end - 1 && end - 1 < m.iova + m.size);
      if (b && b.iova + b.size !== end) return { rc: -ERRNO.EINVAL, size: 0 };
    }
    let total = 0;
    for (const m of [...this.maps]) {
      if (m.iova + m.size <= iova) continue;
      if (m.iova >= end) break;
      if (!this.v2 && iova > m.iova) break;
      total += m.size;
      this.maps.splice(this.maps.indexOf(m), 1);
      this.avail++;
    }
    return { rc: 0, size: total };
  }
}

for (const v2 of [true, false]) {
  test(`MAP/UNMAP agree with the kernel rules (${v2 ? 'v2' : 'v1'})`, () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(fc.constantFrom('map', 'map', 'unmap', 'all'), fc.nat(40), fc.integer({ min: 1, max: 6 })),
          { maxLength: 80 },
        ),
        (ops) => {
          const m = machine('qemu-q35-intel-iommu', '6.12', { dmaEntryLimit: 12 });
          const { container: c, rc } = attached(m, v2 ? VFIO_TYPE1v2_IOMMU : VFIO_TYPE1_IOMMU);
          assert.equal(rc, 0);
          const ref = new Ref(v2, 12);
          const P = 0x1000;
          for (const [op, p, n] of ops) {
            const iova = BigInt(0x100000 + p * P);
            const size = BigInt(n * P);
            if (op === 'map') {
              const r = mapDma(m.sys, c, { argsz: 32, flags: 3, vaddr: BUF, iova, size });
              assert.equal(
                r.rc,
                ref.map(0x100000 + p * P, n * P),
                `map ${iova.toString(16)}+${size.toString(16)}`,
              );
            } else {
              const all = op === 'all';
              const r = unmapDma(m.sys, c, {
                argsz: 24,
                flags: all ? 2 : 0,
                iova: all ? 0n : iova,
                size: all ? 0n : size,
              });
              const e = ref.unmap(all ? 0 : 0x100000 + p * P, n * P, all);
              assert.equal(r.rc, e.rc, `unmap ${iova.toString(16)}+${size.toString(16)}`);
              assert.equal(
                r.out.size,
                e.rc === 0 ? BigInt(e.size) : size,
                'size written back only on success',
              );
            }
          }
          assert.equal(m.sys.container(c)!.iommu!.checkInvariants(), undefined);
        },
      ),
      { seed: v2 ? 101 : 202, numRuns: 150 },
    );
  });
}
