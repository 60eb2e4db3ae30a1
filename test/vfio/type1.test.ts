import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { ERRNO } from '../../src/base/errno.js';
import {
  VFIO_CHECK_EXTENSION,
  VFIO_GROUP_UNSET_CONTAINER,
  VFIO_IOMMU_DIRTY_PAGES,
  VFIO_IOMMU_GET_INFO,
  VFIO_SET_IOMMU,
  VFIO_TYPE1_IOMMU,
  VFIO_TYPE1v2_IOMMU,
  VFIO_UPDATE_VADDR,
  getU32,
  intArg,
  putU32,
} from '../../src/uapi/vfio-type1.js';
import { getDeviceFd, getInfo, groupStatus, mapDma, setContainer, unmapDma } from '../../src/vfio/typed.js';
import { BUF, RO, attached, machine, toVfio } from './machine.js';

const RW = 3;

test('lifecycle: SET_IOMMU needs a group; a second SET_IOMMU fails; the last UNSET releases the backend', () => {
  const m = machine('qemu-q35-intel-iommu');
  const c = m.sys.open('/dev/vfio/vfio');
  assert.equal(m.sys.ioctl(c, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), -ERRNO.EINVAL);
  assert.equal(getInfo(m.sys, c, 24).rc, -ERRNO.EINVAL);
  const g = m.sys.open(`/dev/vfio/${m.nic.groupId}`);
  assert.equal(m.sys.open(`/dev/vfio/${m.nic.groupId}`), -ERRNO.EBUSY, 'a group opens once');
  assert.equal(m.sys.open('/dev/vfio/99'), -ERRNO.ENOENT);
  assert.equal(groupStatus(m.sys, g).out.flags, 1);
  assert.equal(getDeviceFd(m.sys, g, m.nic.bdf), -ERRNO.EINVAL, 'no container yet');
  assert.equal(setContainer(m.sys, g, c), 0);
  assert.equal(setContainer(m.sys, g, c), -ERRNO.EINVAL);
  assert.equal(getDeviceFd(m.sys, g, m.nic.bdf), -ERRNO.EINVAL, 'no IOMMU yet');
  assert.equal(m.sys.ioctl(c, VFIO_SET_IOMMU, 7), -ERRNO.ENODEV);
  assert.equal(m.sys.ioctl(c, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), 0);
  assert.equal(m.sys.ioctl(c, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), -ERRNO.EINVAL);
  assert.equal(m.sys.ioctl(c, VFIO_CHECK_EXTENSION, VFIO_UPDATE_VADDR), 1);
  assert.equal(getDeviceFd(m.sys, g, '0000:00:1f.2'), -ERRNO.ENODEV);
  const d = getDeviceFd(m.sys, g, m.nic.bdf);
  assert.ok(d > 0);
  assert.equal(mapDma(m.sys, c, { argsz: 32, flags: RW, vaddr: BUF, iova: 0x100000n, size: 0x1000n }).rc, 0);
  assert.equal(m.sys.ioctl(g, VFIO_GROUP_UNSET_CONTAINER), -ERRNO.EBUSY, 'a device fd is open');
  assert.equal(m.sys.close(d), 0);
  assert.equal(m.sys.ioctl(g, VFIO_GROUP_UNSET_CONTAINER), 0);
  assert.equal(m.sys.ioctl(g, VFIO_GROUP_UNSET_CONTAINER), -ERRNO.EINVAL);
  assert.equal(getInfo(m.sys, c, 24).rc, -ERRNO.EINVAL, 'the container is back to no driver');
  assert.equal(m.core.group(m.nic.groupId!)!.owner, undefined, 'DMA ownership released');
  // A new attach starts from scratch: the mapping is gone, dma_avail is full again.
  assert.equal(setContainer(m.sys, g, c), 0);
  assert.equal(m.sys.ioctl(c, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU), 0);
  assert.equal(mapDma(m.sys, c, { argsz: 32, flags: RW, vaddr: BUF, iova: 0x100000n, size: 0x1000n }).rc, 0);
  // Closing the group fd detaches it.
  assert.equal(m.sys.close(g), 0);
  assert.equal(m.sys.container(c)?.iommu, undefined);
});

test('SET_CONTAINER with something that is not a container: EINVAL on 6.1, EBADFD on 6.12; bad fd EBADF', () => {
  for (const [k, e] of [
    ['6.1', ERRNO.EINVAL],
    ['6.12', ERRNO.EBADFD],
  ] as const) {
    const m = machine('qemu-q35-intel-iommu', k);
    const g = m.sys.open(`/dev/vfio/${m.nic.groupId}`);
    assert.equal(setContainer(m.sys, g, g), -e);
    assert.equal(setContainer(m.sys, g, 1234), -ERRNO.EBADF);
    assert.equal(m.sys.ioctl(g, 0x3b00 | 120, intArg(0)), -ERRNO.ENOTTY);
  }
});

test('a group with a device still bound to a kernel driver is not viable (EPERM at SET_CONTAINER)', () => {
  const m = machine('qemu-q35-intel-iommu');
  const ahci = m.core.device('0000:00:1f.2')!;
  toVfio(m.core, (d) => d === ahci);
  const lpc = m.core.device('0000:00:1f.0')!;
  assert.equal(m.core.bindDriver(lpc, 'lpc_ich'), 0);
  const g = m.sys.open(`/dev/vfio/${ahci.groupId}`);
  assert.equal(groupStatus(m.sys, g).out.flags, 0);
  const c = m.sys.open('/dev/vfio/vfio');
  assert.equal(setContainer(m.sys, g, c), -ERRNO.EPERM);
});

test('interrupt isolation: GICv2m needs allow_unsafe_interrupts, read when attaching', () => {
  const m = machine('qemu-virt-smmuv3-gicv2', '6.1');
  const a = attached(m);
  assert.equal(a.rc, -ERRNO.EPERM);
  assert.ok(m.sys.klog.some((l) => /allow_unsafe_interrupts/.test(l)));
  assert.equal(m.sys.ioctl(a.container, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU), -ERRNO.EPERM);
  m.sys.params.allowUnsafeInterrupts = true;
  assert.equal(m.sys.ioctl(a.container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), 0);
  assert.equal(attached(machine('qemu-virt-smmuv3-gicv3', '6.1')).rc, 0, 'the ITS isolates MSIs');
});

test('SW-MSI window: SMMUv3 domains get an MSI-only cookie at the window base; HW-MSI platforms do not', () => {
  const m = machine('qemu-virt-smmuv3-gicv3');
  assert.equal(attached(m).rc, 0);
  const dom = m.core.group(m.nic.groupId!)!.domain!;
  assert.equal(dom.cookieKind, 'msi');
  const x = machine('qemu-virt-virtio-iommu');
  assert.equal(attached(x).rc, 0);
  assert.notEqual(x.core.group(x.nic.groupId!)!.domain!.cookieKind, 'msi');
});

test('MAP rules: EFAULT for missing or read-only user memory; dma_avail counts down; limit read at creation', () => {
  const m = machine('qemu-q35-intel-iommu', '6.12', { dmaEntryLimit: 3 });
  const { container: c } = attached(m);
  m.sys.params.dmaEntryLimit = 100; // only new containers see it
  const map = (iova: bigint, vaddr = BUF, flags = RW) =>
    mapDma(m.sys, c, { argsz: 32, flags, vaddr, iova, size: 0x1000n }).rc;
  assert.equal(map(0x1000n, 0x1000n), -ERRNO.EFAULT);
  assert.equal(map(0x1000n, RO), -ERRNO.EFAULT);
  assert.equal(map(0x1000n, RO, 1), 0);
  assert.equal(map(0x2000n), 0);
  assert.equal(map(0x3000n), 0);
  assert.equal(map(0x4000n), -ERRNO.ENOSPC);
  assert.equal(map(0x3000n), -ERRNO.EEXIST, 'EEXIST is checked before ENOSPC');
  assert.equal(map(0xfee00000n), -ERRNO.ENOSPC, 'ENOSPC is checked before the usable ranges');
  const u = unmapDma(m.sys, c, { argsz: 24, flags: 2, iova: 0n, size: 0n });
  assert.equal(u.rc, 0);
  assert.equal(u.out.size, 0x3000n);
  assert.equal(map(0xfee00000n), -ERRNO.EINVAL, 'inside the MSI window');
  // the mapping reaches the IOMMU domain
  assert.equal(map(0x5000n), 0);
  const dom = m.core.group(m.nic.groupId!)!.domain!;
  assert.equal(dom.mappingCount >= 1, true);
  assert.equal(dom.iovaToPhys(0x5000n) !== 0n, true);
});

test('GET_INFO copy length per profile: 6.1 copies 20 bytes (pad untouched), 6.12 min(argsz, 24)', () => {
  for (const k of ['6.1', '6.12'] as const) {
    const m = machine('qemu-q35-intel-iommu', k);
    const { container: c } = attached(m);
    const b = new Uint8Array(4096).fill(0xee);
    putU32(b, 0, 4096);
    assert.equal(m.sys.ioctl(c, VFIO_IOMMU_GET_INFO, b), 0);
    assert.equal(getU32(b, 16), 24);
    assert.equal(getU32(b, 20), k === '6.1' ? 0xeeeeeeee : 0);
    const s = new Uint8Array(24).fill(0xee);
    putU32(s, 0, 18);
    assert.equal(m.sys.ioctl(c, VFIO_IOMMU_GET_INFO, s), 0);
    assert.equal(getU32(s, 16), k === '6.1' ? 0xeeeeeeee : 0xeeee0000, 'partial cap_offset on 6.12');
    assert.equal(m.sys.ioctl(c, VFIO_IOMMU_GET_INFO, new Uint8Array(8)), -ERRNO.EFAULT);
  }
});

test('two groups in one container share the domain; detaching one keeps the mappings', () => {
  const m = machine('qemu-q35-intel-iommu');
  const { container: c, group: g1 } = attached(m);
  const ahci = toVfio(m.core, (d) => d.bdf === '0000:00:1f.2');
  const g2 = m.sys.open(`/dev/vfio/${ahci.groupId}`);
  assert.equal(mapDma(m.sys, c, { argsz: 32, flags: RW, vaddr: BUF, iova: 0n, size: 0x1000n }).rc, 0);
  assert.equal(setContainer(m.sys, g2, c), 0, 'direct-relaxable is no conflict');
  const t1 = m.sys.container(c)!.iommu!;
  assert.equal(t1.domains.length, 1);
  assert.equal(t1.domains[0]!.groups.length, 2);
  assert.equal(m.core.group(ahci.groupId!)!.domain, m.core.group(m.nic.groupId!)!.domain);
  assert.equal(m.sys.ioctl(g2, VFIO_GROUP_UNSET_CONTAINER), 0);
  assert.equal(t1.dma.size, 1);
  assert.equal(m.sys.ioctl(g1, VFIO_GROUP_UNSET_CONTAINER), 0);
  assert.equal(t1.dma.size, 0);
});

test('DIRTY_PAGES: v1 is EACCES; START/STOP; exactly one flag', () => {
  const m = machine('qemu-q35-intel-iommu');
  const { container: c } = attached(m);
  const dp = (flags: number, argsz = 8) => {
    const b = new Uint8Array(48);
    putU32(b, 0, argsz);
    putU32(b, 4, flags);
    return m.sys.ioctl(c, VFIO_IOMMU_DIRTY_PAGES, b);
  };
  assert.equal(dp(3), -ERRNO.EINVAL);
  assert.equal(dp(1, 4), -ERRNO.EINVAL);
  assert.equal(dp(1), 0);
  assert.equal(dp(2), 0);
  const v1 = machine('qemu-q35-intel-iommu');
  const a = attached(v1, VFIO_TYPE1_IOMMU);
  const b = new Uint8Array(8);
  putU32(b, 0, 8);
  putU32(b, 4, 1);
  assert.equal(v1.sys.ioctl(a.container, VFIO_IOMMU_DIRTY_PAGES, b), -ERRNO.EACCES);
});

test('<= 6.17 wrap at 2^64-1: UNMAP of a range ending there walks nothing; UNMAP_ALL still removes it', () => {
  for (const k of ['6.1', '6.12'] as const) {
    const m = machine('qemu-q35-amd-iommu', k);
    const { container: c } = attached(m);
    const top = 0xfffffffffffff000n;
    const map = (iova: bigint, size = 0x1000n) =>
      mapDma(m.sys, c, { argsz: 32, flags: RW, vaddr: BUF, iova, size }).rc;
    assert.equal(map(top), 0, 'the last usable range reaches 2^64-1 on AMD');
    assert.equal(map(0x100000n), 0);
    const u = unmapDma(m.sys, c, { argsz: 24, flags: 0, iova: top, size: 0x1000n });
    assert.equal(u.rc, 0);
    assert.equal(u.out.size, 0n, 'iova + size wraps to 0: nothing unmapped');
    const all = unmapDma(m.sys, c, { argsz: 24, flags: 2, iova: 0n, size: 0n });
    assert.equal(all.rc, 0);
    assert.equal(all.out.size, 0x2000n, 'UNMAP_ALL (size U64_MAX, no wrap) removes the top mapping too');
    const t = m.sys.container(c)!.iommu!;
    assert.equal(t.dma.size, 0);
    assert.equal(t.checkInvariants(), undefined);
  }
});
