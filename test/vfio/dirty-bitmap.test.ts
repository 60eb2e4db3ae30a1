import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { ERRNO } from '../../src/base/errno.js';
import { KERNEL_VERSIONS, kernelProfile } from '../../src/kernel/profile.js';
import { taskSizeMax } from '../../src/mm/uaccess.js';
import { AddressSpace, PROT_READ, PROT_WRITE } from '../../src/mm/address-space.js';
import { dirtyPages, getDirtyBitmap, mapDma, unmapDma, type VfioBitmap } from '../../src/vfio/typed.js';
import { BUF, RO, attached, machine, type Machine } from './machine.js';

const RW = 3;
const START = 1;
const STOP = 2;
/** The user's bitmap lives at the end of the test process's 16 MiB buffer (never mapped for DMA here). */
const BITMAP = BUF + 0xf00000n;

function setup(preset = 'qemu-q35-intel-iommu', kernel: (typeof KERNEL_VERSIONS)[number] = '6.12') {
  const m = machine(preset, kernel);
  const { container: c } = attached(m);
  const map = (iova: bigint, pages: bigint) =>
    mapDma(m.sys, c, { argsz: 32, flags: RW, vaddr: BUF, iova, size: pages * 0x1000n }).rc;
  return { m, c, map };
}

/** The user's bitmap as u64 words (little-endian, as the kernel writes them). */
function words(m: Machine, n: number, at = BITMAP): bigint[] {
  const b = new Uint8Array(n * 8);
  assert.equal(m.sys.mm.copyFromUser(b, at), 0);
  const v = new DataView(b.buffer);
  return Array.from({ length: n }, (_, i) => v.getBigUint64(i * 8, true));
}

function fill(m: Machine, bytes: number[], at = BITMAP): void {
  assert.equal(m.sys.mm.copyToUser(at, Uint8Array.from(bytes)), 0);
}

const bm = (size: bigint, data = BITMAP): VfioBitmap => ({ pgsize: 0x1000n, size, data });

test('GET_BITMAP: every mapped page is dirty (vfio-pci groups pin nothing); gaps keep the user bits', () => {
  for (const k of KERNEL_VERSIONS) {
    const { m, c, map } = setup('qemu-q35-intel-iommu', k);
    assert.equal(map(0x100000n, 3n), 0);
    assert.equal(map(0x104000n, 2n), 0);
    assert.equal(map(0x200000n, 70n), 0);
    assert.equal(dirtyPages(m.sys, c, START), 0);
    // [0x100000, 0x300000): 512 pages, 64 bytes of bitmap
    assert.equal(getDirtyBitmap(m.sys, c, 0x100000n, 0x200000n, bm(64n)), 0, k);
    const w = words(m, 8);
    // pages 0-2 and 4-5 (the second mapping's word ORs in the first's), then 256..325
    assert.equal(w[0], 0b110111n);
    assert.deepEqual(w.slice(1, 4), [0n, 0n, 0n]);
    assert.equal(w[4], (1n << 64n) - 1n);
    assert.equal(w[5], (1n << 6n) - 1n);
    // A second report marks the pages dirty again (the device may have written them), and more: the
    // second mapping's report ORed the user's word (bits 0-2) into the kernel's bitmap and shifted it
    // by 4; the clear after the report covers only its own 2 bits, so bits 2, 4 and 5 stay and come
    // out shifted by 4 next time: pages 6, 8 and 9, which no mapping holds.
    fill(m, new Array(64).fill(0));
    assert.equal(getDirtyBitmap(m.sys, c, 0x100000n, 0x200000n, bm(64n)), 0);
    assert.deepEqual(words(m, 8), [0b1101110111n, ...w.slice(1)]);
  }
});

test('GET_BITMAP writes whole words: a mapping at bit 0 overwrites the rest of its last word', () => {
  const { m, c, map } = setup();
  assert.equal(map(0x100000n, 2n), 0);
  assert.equal(dirtyPages(m.sys, c, START), 0);
  fill(m, new Array(16).fill(0xff));
  assert.equal(getDirtyBitmap(m.sys, c, 0x100000n, 0x80000n, bm(16n)), 0);
  assert.deepEqual(words(m, 2), [3n, (1n << 64n) - 1n], 'bits 2..63 zeroed, the next word untouched');
});

test('GET_BITMAP: bits a shifted report pushed past the mapping come back in a later report', () => {
  const { m, c, map } = setup();
  // 2 pages at page 63 of a range starting at 0x100000: bits 63 and 64, across two words
  assert.equal(map(0x100000n + 63n * 0x1000n, 2n), 0);
  assert.equal(dirtyPages(m.sys, c, START), 0);
  assert.equal(getDirtyBitmap(m.sys, c, 0x100000n, 0x80000n, bm(16n)), 0);
  assert.deepEqual(words(m, 2), [1n << 63n, 1n]);
  // update_user_bitmap shifted the kernel's bitmap in place and the clear after the report covers
  // only the mapping's own two bits: bits 63 and 64 of the kernel's bitmap stay set, and the next
  // report at offset 0 copies one whole word, bit 63 included
  fill(m, new Array(16).fill(0));
  assert.equal(getDirtyBitmap(m.sys, c, 0x100000n + 63n * 0x1000n, 0x2000n, bm(8n)), 0);
  assert.deepEqual(words(m, 2), [(1n << 63n) | 3n, 0n]);
  // STOP + START allocates fresh bitmaps
  assert.equal(dirtyPages(m.sys, c, STOP), 0);
  assert.equal(dirtyPages(m.sys, c, START), 0);
  fill(m, new Array(16).fill(0));
  assert.equal(getDirtyBitmap(m.sys, c, 0x100000n + 63n * 0x1000n, 0x2000n, bm(8n)), 0);
  assert.deepEqual(words(m, 2), [3n, 0n]);
});

test('GET_BITMAP errors: cut mappings, tracking off, range wrapping at 2^64, bitmap outside user space or unmapped', () => {
  const { m, c, map } = setup();
  assert.equal(map(0x100000n, 4n), 0);
  const get = (iova: bigint, size: bigint, b = bm(8n)) => getDirtyBitmap(m.sys, c, iova, size, b);
  assert.equal(get(0x100000n, 0x4000n), -ERRNO.EINVAL, 'tracking is off');
  assert.equal(dirtyPages(m.sys, c, START), 0);
  assert.equal(get(0x101000n, 0x3000n), -ERRNO.EINVAL, 'starts inside a mapping');
  assert.equal(get(0x100000n, 0x2000n), -ERRNO.EINVAL, 'ends inside a mapping');
  assert.equal(get(0xfffffffffffff000n, 0x1000n), -ERRNO.EINVAL, 'iova + size wraps to 0');
  assert.equal(
    get(0x100000n, 0x4000n, bm(8n, 0xfffffffffff000n)),
    -ERRNO.EINVAL,
    'past TASK_SIZE_MAX (LA57)',
  );
  assert.equal(get(0x100000n, 0x4000n, bm(8n, 0x7fffffffeff8n)), -ERRNO.EFAULT, 'in user space, not mapped');
  assert.equal(get(0x100000n, 0x4000n, bm(8n, RO)), -ERRNO.EFAULT, 'read-only');
  assert.equal(get(0x100000n, 0x4000n), 0);
  assert.equal(get(0x200000n, 0x4000n), 0, 'no mapping in the range: nothing written');
});

test('access_ok stops at TASK_SIZE_MAX: x86_64 2^47 or 2^56 - 4 KiB (LA57), arm64 2^48 (6.1) or 2^52 (6.12)', () => {
  assert.equal(taskSizeMax({ arch: 'x86_64' }, kernelProfile('6.1')), 0x7ffffffff000n);
  assert.equal(taskSizeMax({ arch: 'x86_64', la57: true }, kernelProfile('6.12')), 0xfffffffffff000n);
  // the machines of conformance/golden: q35 with -cpu max (LA57), arm64 virt on both kernels
  for (const [preset, k, limit] of [
    ['qemu-q35-intel-iommu', '6.1', 0xfffffffffff000n],
    ['qemu-virt-smmuv3-gicv3', '6.1', 1n << 48n],
    ['qemu-virt-smmuv3-gicv3', '6.12', 1n << 52n],
  ] as const) {
    const { m, c, map } = setup(preset, k);
    assert.equal(map(0x100000n, 1n), 0);
    assert.equal(dirtyPages(m.sys, c, START), 0);
    const get = (at: bigint, size: bigint) => getDirtyBitmap(m.sys, c, 0x100000n, 0x1000n, bm(size, at));
    assert.equal(get(limit - 8n, 8n), -ERRNO.EFAULT, `${preset} ${k}: passes access_ok, then faults`);
    assert.equal(get(limit - 8n, 16n), -ERRNO.EINVAL, `${preset} ${k}`);
    assert.equal(get(limit, 8n), -ERRNO.EINVAL, `${preset} ${k}`);
  }
});

test('UNMAP with GET_DIRTY_BITMAP reports the removed mappings; a fault stops the walk', () => {
  const { m, c, map } = setup();
  assert.equal(map(0x100000n, 2n), 0);
  assert.equal(map(0x103000n, 1n), 0);
  const unmap = (data: bigint) =>
    unmapDma(m.sys, c, { argsz: 48, flags: 1, iova: 0x100000n, size: 0x4000n, bitmap: bm(8n, data) });
  assert.equal(unmap(BITMAP).rc, -ERRNO.EINVAL, 'tracking is off');
  assert.equal(dirtyPages(m.sys, c, START), 0);
  assert.equal(unmap(0xfffffffffff000n).rc, -ERRNO.EINVAL, 'access_ok');
  const f = unmap(RO);
  assert.equal(f.rc, -ERRNO.EFAULT);
  assert.equal(f.out.size, 0x4000n, 'size not copied back on failure');
  assert.equal(m.sys.container(c)!.iommu!.dma.size, 2, 'the first report failed: nothing removed');
  const u = unmap(BITMAP);
  assert.equal(u.rc, 0);
  assert.equal(u.out.size, 0x3000n);
  assert.deepEqual(words(m, 1), [0b1011n]);
  assert.equal(m.sys.container(c)!.iommu!.dma.size, 0);
});

test('copy_to_user / copy_from_user: page by page, stopping at the first page without access', () => {
  const mm = new AddressSpace();
  mm.map('a', 0x10000n, 0x2000n, PROT_READ | PROT_WRITE);
  mm.map('ro', 0x12000n, 0x1000n, PROT_READ);
  const src = new Uint8Array(0x1800).fill(7);
  assert.equal(mm.copyToUser(0x11800n, src), 0x1000, 'the read-only page is not written');
  const back = new Uint8Array(0x1000).fill(9);
  assert.equal(mm.copyFromUser(back, 0x11c00n), 0);
  assert.deepEqual([back[0], back[0x3ff], back[0x400]], [7, 7, 0], 'written, then never-written zeros');
  assert.equal(mm.copyFromUser(back, 0x12c00n), 0xc00, 'unmapped after the read-only page');
  assert.equal(back[0x3ff], 0);
  assert.equal(mm.copyToUser((1n << 64n) - 4n, new Uint8Array(8)), 8, 'past 2^64');
  // a region the process memset first (iovaexec fills its buffer with 0x5a)
  assert.equal(mm.memsetRegion('a', 0x5a), true);
  assert.equal(mm.memsetRegion('nope', 0), false);
  assert.equal(mm.copyToUser(0x10010n, Uint8Array.of(1, 2)), 0);
  const w = new Uint8Array(4);
  assert.equal(mm.copyFromUser(w, 0x1000fn), 0);
  assert.deepEqual([...w], [0x5a, 1, 2, 0x5a]);
});
