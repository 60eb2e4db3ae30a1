import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ERRNO } from '../../src/base/errno.js';
import type { KernelVersion } from '../../src/kernel/profile.js';
import {
  VFIO_DEVICE_SET_IRQS,
  VFIO_IRQ_SET_ACTION_TRIGGER,
  VFIO_IRQ_SET_DATA_EVENTFD,
  VFIO_PCI_MSIX_IRQ_INDEX,
  encodeIrqSet,
} from '../../src/uapi/vfio-device.js';
import { VFIO_GROUP_GET_STATUS, VFIO_GROUP_SET_CONTAINER } from '../../src/uapi/vfio-type1.js';
import { getDeviceFd, setContainer } from '../../src/vfio/typed.js';
import { type Machine, attached, machine } from './machine.js';

const KERNELS: readonly KernelVersion[] = ['6.1', '6.12'];
const EVT = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;

interface Opened {
  readonly m: Machine;
  readonly container: number;
  readonly group: number;
  readonly device: number;
}

function open(kernel: KernelVersion): Opened {
  const m = machine('qemu-virt-smmuv3-gicv3', kernel);
  const a = attached(m);
  assert.equal(a.rc, 0);
  const device = getDeviceFd(m.sys, a.group, m.nic.bdf);
  assert.ok(device >= 0, `device fd ${device}`);
  return { m, container: a.container, group: a.group, device };
}

/** VFIO_DEVICE_SET_IRQS on the device fd: enable MSI-X vector 0 with `fd` as its trigger. */
const enableMsix = (o: Opened, fd: number): number =>
  o.m.sys.ioctl(
    o.device,
    VFIO_DEVICE_SET_IRQS,
    encodeIrqSet({ flags: EVT, index: VFIO_PCI_MSIX_IRQ_INDEX, start: 0, count: 1, fds: [fd] }),
  );

const setContainerArg = (fd: number): Uint8Array => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, fd, true);
  return b;
};

for (const kernel of KERNELS) {
  test(`one process fd table (${kernel}): VFIO files and eventfds share numbers, lowest free first`, () => {
    const o = open(kernel);
    const { sys } = o.m;
    assert.deepEqual([o.container, o.group, o.device], [3, 4, 5]);
    const efd = sys.fds.eventfd();
    assert.equal(efd, 6, 'the first eventfd comes after the VFIO fds, as in a real process');
    // close(2) frees the number; the next file of any kind takes the lowest free one (alloc_fd).
    assert.equal(sys.close(o.device), 0);
    assert.equal(sys.fds.eventfd(), 5);
    assert.equal(getDeviceFd(sys, o.group, o.m.nic.bdf), 7);
    // close(2) on an eventfd through the process closes it; a second close is -EBADF.
    assert.equal(sys.close(efd), 0);
    assert.equal(sys.close(efd), -ERRNO.EBADF);
    assert.equal(sys.fds.eventfd(), 6);
  });

  test(`SET_IRQS DATA_EVENTFD (${kernel}): a VFIO fd is -EINVAL (not an eventfd), a closed fd -EBADF`, () => {
    const o = open(kernel);
    const { sys } = o.m;
    // eventfd_ctx_fdget -> eventfd_ctx_fileget: an open file whose f_op is not eventfd_fops
    for (const fd of [o.container, o.group, o.device])
      assert.equal(enableMsix(o, fd), -ERRNO.EINVAL, `fd ${fd}`);
    const efd = sys.fds.eventfd();
    assert.equal(sys.close(efd), 0);
    assert.equal(enableMsix(o, efd), -ERRNO.EBADF, 'closed eventfd');
    assert.equal(enableMsix(o, 1000), -ERRNO.EBADF, 'never opened');
    const live = sys.fds.eventfd();
    assert.equal(live, efd, 'the closed number is reused');
    assert.equal(enableMsix(o, live), 0);
  });

  test(`GROUP_SET_CONTAINER (${kernel}): an eventfd or a non-container VFIO fd is not a container`, () => {
    const m = machine('qemu-virt-smmuv3-gicv3', kernel);
    const { sys } = m;
    const container = sys.open('/dev/vfio/vfio');
    const group = sys.open(`/dev/vfio/${m.nic.groupId}`);
    const efd = sys.fds.eventfd();
    // vfio_group_ioctl_set_container: fdget finds the file, vfio_container_from_file does not;
    // 6.1 answers -EINVAL, the iommufd-era group.c (6.2+) -EBADFD after trying iommufd_ctx_from_file.
    const foreign = kernel === '6.1' ? -ERRNO.EINVAL : -ERRNO.EBADFD;
    assert.equal(setContainer(sys, group, efd), foreign, 'eventfd');
    assert.equal(setContainer(sys, group, group), foreign, 'the group fd itself');
    assert.equal(sys.close(efd), 0);
    assert.equal(setContainer(sys, group, efd), -ERRNO.EBADF, 'closed fd: fdget fails');
    assert.equal(setContainer(sys, group, -1), -ERRNO.EBADF);
    assert.equal(
      sys.ioctl(group, VFIO_GROUP_SET_CONTAINER, setContainerArg(container)),
      0,
      'VFIO_GROUP_SET_CONTAINER by number',
    );
    // A VFIO ioctl on an eventfd: the file has no unlocked_ioctl, vfs_ioctl answers -ENOTTY.
    const e2 = sys.fds.eventfd();
    assert.equal(sys.ioctl(e2, VFIO_GROUP_GET_STATUS, new Uint8Array(8)), -ERRNO.ENOTTY);
    assert.equal(sys.ioctl(99, VFIO_GROUP_GET_STATUS, new Uint8Array(8)), -ERRNO.EBADF);
    assert.equal(sys.file(e2), undefined, 'an eventfd is not a VFIO file');
  });
}
