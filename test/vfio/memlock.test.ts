/** What MAP_DMA charges to mm->locked_vm and when RLIMIT_MEMLOCK refuses it (conformance section memlock). */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { ERRNO } from '../../src/base/errno.js';
import { type KernelVersion, kernelProfile } from '../../src/kernel/profile.js';
import { AddressSpace, PROT_READ, PROT_WRITE } from '../../src/mm/address-space.js';
import { VfioSystem } from '../../src/vfio/system.js';
import { mapDma, unmapDma } from '../../src/vfio/typed.js';
import { BUF, RO, attached, boot, isNic, toVfio } from './machine.js';

const KiB = 1024;

function setup(kernel: KernelVersion, shareDomainStore: boolean) {
  const core = boot('qemu-q35-intel-iommu', kernel);
  const nic = toVfio(core, isNic);
  const mm = new AddressSpace();
  mm.map('buf', BUF, 16n << 20n, PROT_READ | PROT_WRITE);
  mm.map('robuf', RO, 0x10000n, PROT_READ);
  const sys = new VfioSystem({ core, profile: kernelProfile(kernel), params: {}, mm, shareDomainStore });
  const { container, group } = attached({ core, sys, nic });
  const map = (iova: bigint, size: bigint, vaddr = BUF, flags = 3) =>
    mapDma(sys, container, { argsz: 32, flags, vaddr, iova, size }).rc;
  const unmap = (iova: bigint, size: bigint, flags = 0) =>
    unmapDma(sys, container, { argsz: 24, flags, iova, size }).rc;
  return { sys, mm, map, unmap, fds: [group, container] };
}

for (const kernel of ['6.1', '6.12'] as const) {
  for (const shared of [true, false]) {
    test(`${kernel}, ${shared ? 'shared' : 'separate'} dma index: charges come and go with the mappings`, () => {
      const { sys, mm, map, unmap, fds } = setup(kernel, shared);
      assert.equal(map(0x100000n, 0x10000n), 0);
      assert.equal(mm.lockedVmBytes, 64 * KiB);
      // never-written read-only memory: the shared zero page on 6.1 (uncharged), a page of its own on 6.12
      assert.equal(map(0x200000n, 0x10000n, RO, 1), 0);
      assert.equal(mm.lockedVmBytes, kernel === '6.1' ? 64 * KiB : 128 * KiB);
      sys.task.capIpcLock = false;
      assert.equal(sys.task.setMemlock(mm.lockedVmBytes === 64 * KiB ? 0x11000n : 0x21000n, 1n << 40n), 0);
      const before = mm.lockedVmBytes;
      assert.equal(map(0x300000n, 0x2000n, BUF + 0x100000n), -ERRNO.ENOMEM, 'one page over');
      assert.equal(mm.lockedVmBytes, before, 'nothing charged');
      assert.equal(unmap(0x300000n, 0x2000n), 0, 'and nothing mapped');
      assert.ok(sys.klog.at(-1)!.startsWith('vfio_pin_pages_remote: RLIMIT_MEMLOCK ('), sys.klog.at(-1));
      assert.equal(map(0x300000n, 0x1000n, BUF + 0x100000n), 0, 'the last page fits');
      // a bad address before the limit trips: EFAULT; after: ENOMEM
      assert.equal(map(0x400000n, 0x1000n, BUF + (16n << 20n)), -ERRNO.EFAULT);
      assert.equal(map(0x400000n, 0x2000n, BUF + (16n << 20n) - 0x1000n), -ERRNO.ENOMEM);
      assert.equal(unmap(0x200000n, 0x10000n), 0);
      assert.equal(mm.lockedVmBytes, 68 * KiB, 'the read-only map gave back what it was charged');
      assert.equal(unmap(0n, 0n, 2), 0);
      assert.equal(mm.lockedVmBytes, 0);
      // what is still mapped when the container closes is given back
      sys.task.capIpcLock = true;
      assert.equal(map(0x100000n, 0x8000n, RO, 1), 0);
      assert.equal(map(0x200000n, 0x8000n), 0);
      for (const fd of fds) assert.equal(sys.close(fd), 0);
      assert.equal(mm.lockedVmBytes, 0);
    });
  }
}

test('a page written by the process is no longer the zero page (6.1 charges it)', () => {
  const { mm, map } = setup('6.1', true);
  assert.equal(mm.copyToUser(RO, new Uint8Array([1])), 0x1, 'read-only memory: the process cannot write it');
  mm.map('anon', 0x7f0020000000n, 0x4000n, PROT_READ | PROT_WRITE);
  assert.equal(mm.copyToUser(0x7f0020001000n, new Uint8Array([1])), 0);
  assert.equal(map(0x100000n, 0x4000n, 0x7f0020000000n, 1), 0);
  assert.equal(mm.lockedVmBytes, 4 * KiB, 'only the written page');
  assert.equal(mm.zeroPageFrames(Number(0x7f0020000000n >> 12n), 4), 3);
});

test('a mapping that ends at 2^64-1 strands its charge when it goes (vfio_unmap_unpin: end wrapped to 0)', () => {
  for (const kernel of ['6.1', '6.12'] as const) {
    const core = boot('qemu-q35-amd-iommu', kernel);
    const nic = toVfio(core, isNic);
    const mm = new AddressSpace();
    mm.map('buf', BUF, 16n << 20n, PROT_READ | PROT_WRITE);
    const sys = new VfioSystem({ core, profile: kernelProfile(kernel), params: {}, mm });
    const { container, group } = attached({ core, sys, nic });
    const map = (iova: bigint) =>
      mapDma(sys, container, { argsz: 32, flags: 3, vaddr: BUF, iova, size: 0x1000n }).rc;
    assert.equal(map(0xfffffffffffff000n), 0, 'the top page is usable on AMD');
    assert.equal(map(0x100000n), 0);
    assert.equal(mm.lockedVmBytes, 8 * KiB);
    assert.equal(unmapDma(sys, container, { argsz: 24, flags: 2, iova: 0n, size: 0n }).rc, 0);
    assert.equal(mm.lockedVmBytes, 4 * KiB, `${kernel}: the top page's charge stays`);
    assert.equal(sys.close(group), 0);
    assert.equal(sys.close(container), 0);
    assert.equal(mm.lockedVmBytes, 4 * KiB, 'for the life of the process');
  }
});
