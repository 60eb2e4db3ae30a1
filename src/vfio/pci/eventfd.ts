/**
 * eventfds and the process file-descriptor table. One table per process holds every open file: the
 * VFIO container/group/device files (src/vfio/system.ts installs them) and the eventfds, numbered
 * lowest-free-first from 3 like the kernel's alloc_fd, so a number means the same file to every ioctl.
 * eventfd_ctx_fdget(fd) answers -EBADF for a closed/unknown fd and -EINVAL for an open file that is not
 * an eventfd (a VFIO fd included); eventfd_signal adds to the 64-bit counter; a non-blocking read
 * returns and clears it.
 */
import { ERRNO } from '../../base/errno.js';

export class EventFd {
  readonly kind = 'eventfd' as const;
  /** The 64-bit counter. */
  count = 0n;
  /** Total signals ever received (for traces; reads do not clear it). */
  signals = 0;
  /** Kernel waiters (virqfds), most recently added first, as add_wait_queue puts them. */
  private waiters: (() => void)[] = [];
  signal(n = 1n): void {
    this.count += n;
    this.signals++;
    if (this.waiters.length === 0) return;
    // virqfd_wakeup: the first waiter reads the counter (eventfd_ctx_do_read), then every waiter's
    // handler runs, in queue order.
    this.count = 0n;
    for (const w of [...this.waiters]) w();
  }
  /** Queues a kernel waiter woken by every signal (vfio_virqfd_enable); returns its removal. */
  addWaiter(fn: () => void): () => void {
    this.waiters.unshift(fn);
    return () => {
      const i = this.waiters.indexOf(fn);
      if (i >= 0) this.waiters.splice(i, 1);
    };
  }
  /** read(2) on a non-blocking eventfd: the counter (cleared), or undefined for -EAGAIN. */
  read(): bigint | undefined {
    if (this.count === 0n) return undefined;
    const v = this.count;
    this.count = 0n;
    return v;
  }
}

/** Any other open file (a regular file, a VFIO container/group/device fd...): not an eventfd. */
export interface OtherFile {
  readonly kind: 'file';
  readonly name: string;
  /** Whatever the owner keeps behind the descriptor (e.g. the VFIO file object). */
  readonly payload?: unknown;
}

export type OpenFile = EventFd | OtherFile;

export class FdTable {
  private readonly files = new Map<number, OpenFile>();
  /** Installs a file at the lowest free descriptor at or above 3 (0-2 are stdio), like alloc_fd. */
  install(f: OpenFile): number {
    let fd = 3;
    while (this.files.has(fd)) fd++;
    this.files.set(fd, f);
    return fd;
  }
  /** eventfd(0, EFD_NONBLOCK): a new eventfd's descriptor. */
  eventfd(): number {
    return this.install(new EventFd());
  }
  /** Opens a file that is not an eventfd (for the -EINVAL case of eventfd_ctx_fdget). */
  openFile(name: string, payload?: unknown): number {
    return this.install({ kind: 'file', name, payload });
  }
  close(fd: number): number {
    return this.files.delete(fd) ? 0 : -ERRNO.EBADF;
  }
  get(fd: number): OpenFile | undefined {
    return this.files.get(fd);
  }
  /** Every open descriptor with its file, in installation order. */
  entries(): IterableIterator<[number, OpenFile]> {
    return this.files.entries();
  }
  /** The eventfd behind `fd`, for tests and scenarios. */
  eventFd(fd: number): EventFd | undefined {
    const f = this.files.get(fd);
    return f instanceof EventFd ? f : undefined;
  }
  /**
   * write(2) of a u64 to a non-blocking eventfd (eventfd_write): 8; -EINVAL for 2^64-1, -EAGAIN when
   * the counter would pass 2^64-2, -EBADF for a closed fd, -EINVAL for a file that is not an eventfd
   * (the model's other files take no plain writes).
   */
  writeEventfd(fd: number, value: bigint): number {
    const e = this.eventfdCtxFdget(fd);
    if (typeof e === 'number') return e;
    if (value === 0xffffffffffffffffn) return -ERRNO.EINVAL;
    if (0xffffffffffffffffn - e.count <= value) return -ERRNO.EAGAIN;
    e.signal(value);
    return 8;
  }
  /** eventfd_ctx_fdget: the eventfd, -EBADF, or -EINVAL. */
  eventfdCtxFdget(fd: number): EventFd | number {
    const f = fd < 0 ? undefined : this.files.get(fd);
    if (f === undefined) return -ERRNO.EBADF;
    if (!(f instanceof EventFd)) return -ERRNO.EINVAL;
    return f;
  }
}
