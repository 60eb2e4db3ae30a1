import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { ERRNO } from '../../../src/base/errno.js';
import { VFIO_DEVICE_IOEVENTFD, encodeIoeventfd } from '../../../src/uapi/vfio-device.js';
import { VfioPciDevice } from '../../../src/vfio/pci/vfio-pci.js';
import { getDeviceFd, setIoeventfd } from '../../../src/vfio/typed.js';
import { attached, machine } from '../machine.js';

const RDBAL0 = 0x2800;

function readBar0(file: { pread(o: bigint, b: Uint8Array): number }, pos: number): number {
  const b = new Uint8Array(4);
  assert.equal(file.pread(BigInt(pos), b), 4);
  return new DataView(b.buffer).getUint32(0, true);
}

for (const v of ['6.1', '6.12'] as const) {
  test(`VFIO_DEVICE_IOEVENTFD on the e1000e (conformance/golden ioeventfd.iovx), ${v}`, () => {
    const m = machine('qemu-q35-intel-iommu', v);
    const a = attached(m);
    const dfd = getDeviceFd(m.sys, a.group, m.nic.bdf);
    const f = m.sys.file(dfd);
    assert.ok(f?.kind === 'device');
    const file = f.device;
    assert.ok(file instanceof VfioPciDevice);
    const fds = m.sys.fds;
    const e0 = fds.eventfd();
    const io = (bar: number, pos: number, size: 1 | 2 | 4 | 8, data: bigint, fd = e0) =>
      setIoeventfd(file, { bar, pos, size, data, fd });
    const raw = (flags: number, o: { argsz?: number; fd?: number } = {}) =>
      file.ioctl(
        VFIO_DEVICE_IOEVENTFD,
        encodeIoeventfd({ flags, offset: BigInt(RDBAL0), data: 0n, fd: o.fd ?? e0, argsz: o.argsz }),
      );
    assert.equal(raw(4, { argsz: 27 }), -ERRNO.EINVAL, 'argsz below the end of fd');
    for (const flags of [0, 3, 12, 16, 0x80000004]) assert.equal(raw(flags), -ERRNO.EINVAL, `flags ${flags}`);
    assert.equal(raw(4, { fd: -2 }), -ERRNO.EINVAL);
    assert.equal(raw(4, { fd: 1000 }), -ERRNO.EBADF);
    assert.equal(raw(4, { fd: a.group }), -ERRNO.EINVAL, 'not an eventfd');
    assert.equal(raw(4, { fd: -1 }), -ERRNO.ENODEV, 'nothing to remove');
    // BARs with a resource only; ends; the MSI-X table (5 entries at BAR3 0) but not its PBA
    assert.equal(io(4, 0, 1, 0n), -ERRNO.EINVAL);
    assert.equal(io(6, 0, 1, 0n), -ERRNO.EINVAL, 'ROM');
    assert.equal(io(7, 0, 1, 0n), -ERRNO.EINVAL, 'config space');
    assert.equal(io(0, 0x1fffd, 4, 0n), -ERRNO.EINVAL);
    assert.equal(io(0, 0x1fff8, 8, 0n), 0);
    assert.equal(io(2, 0x1f, 1, 0n), 0, 'I/O BAR');
    assert.equal(io(3, 0x4e, 4, 0n), -ERRNO.EINVAL, 'straddles the end of the MSI-X table');
    assert.equal(io(3, 0x50, 4, 0n), 0);
    assert.equal(io(3, 0x2000, 8, 0n), 0, 'PBA');
    // duplicates are (bar, pos, data, size), whatever the fd
    assert.equal(io(0, RDBAL0, 4, 0x12345670n), 0);
    assert.equal(io(0, RDBAL0, 4, 0x12345670n, fds.eventfd()), -ERRNO.EEXIST);
    assert.equal(io(0, RDBAL0, 2, 0x12345670n), 0, 'another size is another ioeventfd');
    assert.equal(io(0, RDBAL0, 2, 0x12345670n, -1), 0);
    assert.equal(io(0, RDBAL0, 2, 0x12345670n, -1), -ERRNO.ENODEV);
    // the write it does: the eventfd's signal is consumed, the register holds the value
    const e2 = fds.eventfd();
    assert.equal(readBar0(file, RDBAL0), 0);
    assert.equal(io(0, RDBAL0, 4, 0x0abcdef0n, e2), 0);
    assert.equal(fds.writeEventfd(e2, 3n), 8);
    assert.equal(readBar0(file, RDBAL0), 0x0abcdef0);
    assert.equal(fds.eventFd(e2)!.read(), undefined, 'virqfd read the counter');
    assert.equal(io(0, RDBAL0, 4, 0x0abcdef0n, -1), 0);
    assert.equal(fds.writeEventfd(e2, 1n), 8);
    assert.equal(fds.eventFd(e2)!.read(), 1n, 'no waiter any more');
    // VFIO_PCI_IOEVENTFD_MAX
    const before = file.ioeventfds.size;
    let n = 0;
    while (io(0, 0x100, 4, BigInt(n)) === 0) n++;
    assert.equal(before + n, 1000);
    assert.equal(io(0, 0x104, 4, 0n), -ERRNO.ENOSPC);
    // a new device fd starts with none
    m.sys.close(dfd);
    assert.equal(file.ioeventfds.size, 0);
    assert.equal(fds.writeEventfd(e0, 1n), 8);
    assert.equal(fds.eventFd(e0)!.read(), 1n);
  });
}
