/**
 * `check --memlock`: which of a VMM's mappings VFIO refuses for RLIMIT_MEMLOCK. The checker's answer is
 * compared with the type1 model itself (src/vfio/type1, checked against the kernels): the same layout
 * mapped through MAP_DMA ioctls fails at the same range with the same kernel log line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attachMsiFabric } from '../../src/irq/fabric.js';
import { hostViewFromPlatform } from '../../src/host/from-platform.js';
import type { HostView } from '../../src/host/view.js';
import { kernelProfile, type KernelVersion } from '../../src/kernel/profile.js';
import { TaskCreds } from '../../src/kernel/task.js';
import { AddressSpace, PROT_READ, PROT_WRITE } from '../../src/mm/address-space.js';
import { buildPlatform } from '../../src/platform/build.js';
import { loadPreset } from '../../src/platform/presets.js';
import { VFIO_GROUP_SET_CONTAINER, VFIO_SET_IOMMU, intArg } from '../../src/uapi/vfio-type1.js';
import { VfioSystem } from '../../src/vfio/system.js';
import { mapDma } from '../../src/vfio/typed.js';
import { checkLayout, selectGroups } from '../../src/vmm/check.js';
import {
  checkMemlock,
  memlockAdvice,
  memlockExcess,
  zeroPageNote,
  type MemlockLimit,
} from '../../src/vmm/memlock.js';
import { planLayout } from '../../src/vmm/plan.js';
import { QEMU_Q35, QEMU_VIRT } from '../../src/vmm/qemu.js';
import { CLOUD_HYPERVISOR_X86_64 } from '../../src/vmm/rust-vmms.js';
import type { GuestLayout, GuestRange, VmmModel } from '../../src/vmm/types.js';

const G = 1n << 30n;
const NIC = '0000:00:01.0';
const PRESET = 'qemu-q35-intel-iommu';

function layoutOf(model: VmmModel, memory: bigint, options: Record<string, string> = {}): GuestLayout {
  const l = model.layout({ memory, options });
  if (!l.ok) assert.fail(l.reason);
  return l.layout;
}

function checkWith(model: VmmModel, host: HostView, layout: GuestLayout, memlock: MemlockLimit, p2p = false) {
  const sel = selectGroups(host, { devices: [NIC] });
  if (!sel.ok) assert.fail(sel.reason);
  return checkLayout(model, layout, host, sel.groups, { memlock, p2p });
}

/**
 * Maps the layout's pinned ranges, lowest first, through the type1 model as a VMM without CAP_IPC_LOCK
 * whose RLIMIT_MEMLOCK is `limit` (RAM read-write, firmware read-only and never written), into one
 * container per device of `bdfs` in turn (as QEMU does for devices behind a vIOMMU), all in the same
 * process: the first range answered -ENOMEM (or none), in which container, and the kernel log.
 */
function mapThroughType1(
  version: KernelVersion,
  ranges: readonly GuestRange[],
  limit: bigint,
  bdfs: readonly string[] = [NIC],
): { refused?: GuestRange; container?: number; rc?: number; klog: readonly string[]; vmlck: bigint } {
  const desc = loadPreset(PRESET);
  const core = buildPlatform(desc, kernelProfile(version)).iommu;
  attachMsiFabric(core, desc);
  const mm = new AddressSpace();
  const BASE = 0x7f0000000000n;
  const top = ranges.reduce((m, r) => (r.end > m ? r.end : m), 0n);
  mm.map('guest', BASE, top + 1n, PROT_READ | PROT_WRITE);
  const task = new TaskCreds();
  task.capIpcLock = false;
  assert.equal(task.setMemlock(limit, limit), 0);
  const sys = new VfioSystem({
    core,
    profile: kernelProfile(version),
    mm,
    task,
    params: { allowUnsafeInterrupts: true },
  });
  const sorted = [...ranges].sort((a, b) => (a.start < b.start ? -1 : 1));
  for (const [k, bdf] of bdfs.entries()) {
    const dev = core.devices().find((d) => d.bdf === bdf)!;
    if (dev.driver !== undefined) core.unbindDriver(dev);
    core.bindDriver(dev, 'vfio-pci', true);
    const c = sys.open('/dev/vfio/vfio');
    const g = sys.open(`/dev/vfio/${dev.groupId}`);
    assert.equal(sys.ioctl(g, VFIO_GROUP_SET_CONTAINER, intArg(c)), 0);
    assert.equal(sys.ioctl(c, VFIO_SET_IOMMU, 3), 0);
    for (const r of sorted) {
      const { rc } = mapDma(sys, c, {
        argsz: 32,
        // QEMU maps ROM read-only (the vfio listener passes a read-only section without IOMMU_WRITE)
        flags: r.kind === 'firmware' ? 1 : 3,
        vaddr: BASE + r.start,
        iova: r.start,
        size: r.end - r.start + 1n,
      });
      if (rc !== 0)
        return { refused: r, container: k + 1, rc, klog: sys.klog, vmlck: BigInt(mm.lockedVmBytes) };
    }
  }
  return { klog: sys.klog, vmlck: BigInt(mm.lockedVmBytes) };
}

test('check --memlock agrees with the type1 model on 6.12: same refused range, same kernel log', () => {
  const host = hostViewFromPlatform(loadPreset(PRESET), kernelProfile('6.12'));
  const layout = layoutOf(QEMU_Q35, 3n * G);
  const pinnedRanges = layout.ranges.filter((r) => r.kind !== 'pci-window');
  const pinned = pinnedRanges.reduce((s, r) => s + (r.end - r.start + 1n), 0n);
  // too small for the RAM above 4 GiB, then one page short of everything, then exactly enough
  for (const limit of [2n * G, pinned - 4096n, pinned - 1n, pinned]) {
    const r = checkWith(QEMU_Q35, host, layout, limit);
    const m = mapThroughType1('6.12', pinnedRanges, limit);
    assert.equal(r.memlock?.pinned, pinned);
    assert.equal(r.memlock?.failure?.range, m.refused, `limit ${limit}`);
    if (m.refused) {
      assert.equal(m.rc, -12);
      assert.deepEqual(m.klog, [r.memlock!.failure!.kernelLog]);
      assert.equal(r.fits, false);
      assert.equal(r.memlock!.failure!.chargedBefore, m.vmlck);
    } else {
      assert.equal(m.vmlck, pinned);
      assert.equal(r.fits, true);
    }
    assert.ok(!r.notes.some((n) => /zero page/.test(n)), 'no zero-page note on 6.12');
  }
});

test('on 6.1 the never-written read-only firmware pins the zero page: the check says by how much it may overcount', () => {
  const host = hostViewFromPlatform(loadPreset(PRESET), kernelProfile('6.1'));
  const layout = layoutOf(QEMU_Q35, 3n * G);
  const pinnedRanges = layout.ranges.filter((r) => r.kind !== 'pci-window');
  const pinned = pinnedRanges.reduce((s, r) => s + (r.end - r.start + 1n), 0n);
  const firmware = pinnedRanges
    .filter((r) => r.kind === 'firmware')
    .reduce((s, r) => s + (r.end - r.start + 1n), 0n);
  assert.ok(firmware > 0n);
  // away from the firmware's margin both agree
  for (const limit of [1n * G, pinned]) {
    const r = checkWith(QEMU_Q35, host, layout, limit);
    const m = mapThroughType1('6.1', pinnedRanges, limit);
    assert.equal(r.memlock?.failure?.range, m.refused, `limit ${limit}`);
    if (m.refused) assert.deepEqual(m.klog, [r.memlock!.failure!.kernelLog]);
    else assert.equal(m.vmlck, pinned - firmware, 'the read-only firmware is not charged');
    assert.ok(
      r.notes.some((n) =>
        n.startsWith(
          `on this kernel (6.1), firmware is mapped read-only, and the pages of it the VMM never wrote pin the shared zero page, which is not charged: up to 512 KiB of the`,
        ),
      ),
      r.notes.join('\n'),
    );
  }
  // within it the model fits where the check, counting the firmware, does not
  const tight = checkWith(QEMU_Q35, host, layout, pinned - firmware);
  assert.ok(tight.memlock?.failure);
  assert.equal(mapThroughType1('6.1', pinnedRanges, pinned - firmware).refused, undefined);
});

test("the limit counts whole pages; a guest's RAM alone fills a limit of its size, its firmware then fails", () => {
  const host = hostViewFromPlatform(loadPreset(PRESET), kernelProfile('6.12'));
  const layout = layoutOf(QEMU_Q35, 2n * G);
  const r = checkWith(QEMU_Q35, host, layout, 2n * G);
  assert.ok(r.memlock!.pinned > 2n * G, 'firmware is pinned too');
  // the RAM itself fits exactly; the BIOS flash mapped after it does not
  assert.equal(r.memlock?.failure?.range.name, 'pc.bios');
  assert.equal(r.memlock?.failure?.range.start, 0xfffc0000n);
  // everything below it: 2 GiB of RAM less the 384 KiB hidden between 640 KiB and 1 MiB, plus 256 KiB of ROM there
  assert.equal(r.memlock?.failure?.chargedBefore, 2n * G - 0x20000n);
  assert.equal(r.memlock?.failure?.kernelLog, 'vfio_pin_pages_remote: RLIMIT_MEMLOCK (2147483648) exceeded');
  const odd = checkWith(QEMU_Q35, host, layout, r.memlock!.pinned + 4095n);
  assert.equal(odd.memlock?.failure, undefined);
  const short = checkWith(QEMU_Q35, host, layout, r.memlock!.pinned - 1n);
  // rounded down to pages: 4095 bytes less than the pinned total
  assert.match(short.memlock!.failure!.kernelLog ?? '', new RegExp(`\\(${r.memlock!.pinned - 4096n}\\)`));
});

test('QEMU prints -12 (Cannot allocate memory) for the refused region, and exits', () => {
  const host = hostViewFromPlatform(loadPreset(PRESET), kernelProfile('6.12'));
  const r = checkWith(QEMU_Q35, host, layoutOf(QEMU_Q35, 8n * G, { version: '9.2' }), 4n * G);
  const f = r.memlock!.failure!;
  assert.equal(f.range.start, 4n * G);
  assert.deepEqual(f.failure.lines, [
    `qemu-system-x86_64: -device vfio-pci,host=${NIC}: VFIO_MAP_DMA failed: Cannot allocate memory`,
    `qemu-system-x86_64: -device vfio-pci,host=${NIC}: vfio ${NIC}: failed to setup container for group 1: ` +
      'memory listener initialization failed: Region pc.ram: vfio_container_dma_map(0x..., 0x100000000, ' +
      '0x180000000, 0x...) = -12 (Cannot allocate memory)',
  ]);
  assert.match(f.failure.effect, /^fatal/);
  assert.match(memlockAdvice(r.memlock!), /^raise the VMM's RLIMIT_MEMLOCK to at least 8590065664 bytes/);
});

test('ranges VFIO refuses with EINVAL are not pinned, PCI windows never are, nothing without a group', () => {
  // an RMRR inside the guest's low RAM: that mapping fails before anything is pinned
  const host: HostView = {
    source: 'test',
    arch: 'x86_64',
    aperture: { start: 0n, end: (1n << 48n) - 1n },
    pageSize: 4096,
    notes: [],
    groups: [
      {
        id: 7,
        type: 'DMA',
        devices: [{ bdf: NIC, vendor: 0x8086, device: 0x10d3, class: 0x020000, driver: 'vfio-pci' }],
        regions: [{ start: 0x40000000n, end: 0x40000fffn, typeString: 'direct' }],
        usable: [
          { start: 0n, end: 0x3fffffffn },
          { start: 0x40001000n, end: (1n << 48n) - 1n },
        ],
      },
    ],
  };
  const layout = layoutOf(QEMU_Q35, 3n * G);
  const r = checkWith(QEMU_Q35, host, layout, 'unlimited', true);
  assert.equal(r.conflicts.filter((c) => c.fatal).length, 1);
  const refused = r.conflicts[0]!.range;
  const windows = layout.ranges.filter((x) => x.kind === 'pci-window');
  assert.ok(windows.length > 0);
  const expected = layout.ranges
    .filter((x) => x.kind !== 'pci-window' && x !== refused)
    .reduce((s, x) => s + (x.end - x.start + 1n), 0n);
  assert.equal(r.memlock?.pinned, expected);
  assert.equal(r.memlock?.failure, undefined);
  assert.match(memlockAdvice(r.memlock!), /^RLIMIT_MEMLOCK unlimited/);
  // a limit that fails above the refused range: the VMM stops at the refused one first
  const tight = checkWith(QEMU_Q35, host, layout, 1n * G);
  assert.ok(tight.memlock?.failure);
  assert.ok(tight.notes.some((n) => /stops at the refused mapping below 0x[0-9a-f]+ first/.test(n)));
  const none = checkLayout(QEMU_Q35, layout, host, [], { memlock: 0n });
  assert.equal(none.memlock, undefined);
});

test('64 KiB pages: the limit and the ranges are counted in them; an unknown page size is said to be assumed', () => {
  const layout = layoutOf(QEMU_VIRT, 1n * G);
  const ram = layout.ranges.filter((r) => r.kind !== 'pci-window');
  const at64k = checkMemlock(QEMU_VIRT, layout, ram, 1n * G + 65535n, { pageSize: 65536 }, {});
  assert.equal(at64k.pageSizeAssumed, false);
  assert.equal(at64k.failure, undefined);
  const short = checkMemlock(QEMU_VIRT, layout, ram, 1n * G - 1n, { pageSize: 65536 }, {});
  assert.equal(
    short.failure?.kernelLog,
    `vfio_pin_pages_remote: RLIMIT_MEMLOCK (${1n * G - 65536n}) exceeded`,
  );
  const unknown = checkMemlock(CLOUD_HYPERVISOR_X86_64, layout, ram, 1n * G, {}, {});
  assert.equal(unknown.pageSize, 4096);
  assert.match(memlockAdvice(unknown), /counted in 4 KiB pages: the host's page size is not known/);
  // a 4 KiB range on a 64 KiB host spans a whole page
  const tiny: GuestRange = { start: 0x10000n, end: 0x10fffn, kind: 'ram', name: 'r', what: 'RAM' };
  assert.equal(checkMemlock(QEMU_VIRT, layout, [tiny], 'unlimited', { pageSize: 65536 }, {}).pinned, 65536n);
});

test('plan with a limit: the largest guest whose pins fit it, verified on both sides', () => {
  const host = hostViewFromPlatform(loadPreset(PRESET), kernelProfile('6.12'));
  const sel = selectGroups(host, { devices: [NIC] });
  if (!sel.ok) assert.fail(sel.reason);
  const limit = 8n * G;
  const plan = planLayout(QEMU_Q35, { memory: 16n * G, options: {} }, host, sel.groups, { memlock: limit });
  assert.equal(plan.fitsAsAsked, false);
  assert.equal(plan.largest?.layout.memory, 8191n << 20n);
  assert.match(plan.largest!.why, /pinned memory fits RLIMIT_MEMLOCK \(8 GiB\)/);
  // no option or other VMM pins less for the same RAM
  assert.deepEqual(plan.options, []);
  const fits = checkWith(QEMU_Q35, host, layoutOf(QEMU_Q35, 8191n << 20n), limit);
  assert.equal(fits.fits, true);
  const over = checkWith(QEMU_Q35, host, layoutOf(QEMU_Q35, 8192n << 20n), limit);
  assert.equal(over.memlock?.failure?.range.name, 'pc.ram');
  // 512 KiB of firmware pinned on top of the RAM, less the 384 KiB of RAM hidden between 640 KiB and 1 MiB
  assert.equal(memlockExcess(over.memlock!), 128n << 10n);
  const unlimited = planLayout(QEMU_Q35, { memory: 16n * G, options: {} }, host, sel.groups, {
    memlock: 'unlimited',
  });
  assert.equal(unlimited.fitsAsAsked, true);
});

test('the zero-page note follows the host kernel: said for 6.1 releases and unknown kernels, not for 6.12', () => {
  const layout = layoutOf(QEMU_Q35, 2n * G);
  const r = checkMemlock(
    QEMU_Q35,
    layout,
    layout.ranges.filter((x) => x.kind !== 'pci-window'),
    'unlimited',
    {},
    {},
  );
  assert.equal(r.firmware, 512n << 10n);
  assert.match(
    zeroPageNote(r, '6.1.0-26-amd64')!,
    /^on this kernel \(6\.1\.0-26-amd64\), firmware is mapped read-only/,
  );
  assert.match(
    zeroPageNote(r, undefined)!,
    /^on 6\.1 kernels, firmware is mapped read-only.*; 6\.12 charges them$/,
  );
  assert.equal(zeroPageNote(r, '6.12.95+deb12'), undefined);
  assert.equal(zeroPageNote(r, '6.18.1'), undefined);
  const ram = layout.ranges.filter((x) => x.kind === 'ram');
  assert.equal(zeroPageNote(checkMemlock(QEMU_Q35, layout, ram, 'unlimited', {}, {}), '6.1'), undefined);
});

test('behind a vIOMMU every group has a container that pins the RAM again: the check agrees with type1 on 6.12', () => {
  const host = hostViewFromPlatform(loadPreset(PRESET), kernelProfile('6.12'));
  const layout = layoutOf(QEMU_Q35, 3n * G);
  const pinnedRanges = layout.ranges.filter((r) => r.kind !== 'pci-window');
  const per = pinnedRanges.reduce((s, r) => s + (r.end - r.start + 1n), 0n);
  const bdfs = [NIC, '0000:00:02.0'];
  const sel = selectGroups(host, { devices: bdfs });
  if (!sel.ok) assert.fail(sel.reason);
  assert.equal(sel.groups.length, 2);
  // enough for one container, then the second one's first and last ranges, then exactly enough
  for (const limit of [per, per + 0x9f000n, 2n * per - 4096n, 2n * per]) {
    const r = checkLayout(QEMU_Q35, layout, host, sel.groups, { memlock: limit, viommu: true });
    const m = mapThroughType1('6.12', pinnedRanges, limit, bdfs);
    assert.equal(r.memlock?.containers, 2);
    assert.equal(r.memlock?.perContainer, per);
    assert.equal(r.memlock?.pinned, 2n * per);
    assert.equal(r.memlock?.failure?.range, m.refused, `limit ${limit}`);
    assert.equal(r.memlock?.failure?.container, m.container);
    if (m.refused) {
      assert.equal(m.rc, -12);
      assert.deepEqual(m.klog, [r.memlock!.failure!.kernelLog]);
      assert.equal(r.memlock!.failure!.chargedBefore, m.vmlck);
      // the VMM names the device whose container failed
      assert.deepEqual(r.memlock!.failure!.owner, { device: '0000:00:02.0', group: sel.groups[1]!.id });
      assert.match(r.memlock!.failure!.failure.lines.join('\n'), /host=0000:00:02\.0: .*group 2:/);
      assert.match(r.memlock!.failure!.vfio, /of it by the container set up before\)/);
      assert.ok(memlockAdvice(r.memlock!).includes(`(2 containers x ${per} bytes`));
    } else {
      assert.equal(m.vmlck, 2n * per);
      assert.equal(r.fits, true);
    }
  }
  // without the vIOMMU both groups share one container, pinned once
  const shared = checkLayout(QEMU_Q35, layout, host, sel.groups, { memlock: per });
  assert.equal(shared.memlock?.containers, 1);
  assert.equal(shared.fits, true);
  assert.equal(mapThroughType1('6.12', pinnedRanges, per, [NIC]).refused, undefined);
});

test('plan behind a vIOMMU: the largest guest whose pins fit the limit once per device', () => {
  const host = hostViewFromPlatform(loadPreset(PRESET), kernelProfile('6.12'));
  const sel = selectGroups(host, { devices: [NIC, '0000:00:02.0'] });
  if (!sel.ok) assert.fail(sel.reason);
  const limit = 12n * G;
  const plan = planLayout(QEMU_Q35, { memory: 8n * G, options: {} }, host, sel.groups, {
    memlock: limit,
    viommu: true,
  });
  assert.equal(plan.fitsAsAsked, false);
  // each container pins the RAM plus 128 KiB (512 KiB of firmware less the 384 KiB QEMU hides below 1 MiB)
  assert.equal(plan.largest?.layout.memory, 6143n << 20n);
  const at = (mib: bigint) =>
    checkLayout(QEMU_Q35, layoutOf(QEMU_Q35, mib << 20n), host, sel.groups, { memlock: limit, viommu: true });
  assert.equal(at(6143n).fits, true);
  assert.equal(at(6144n).memlock?.failure?.container, 2);
  // other VMMs are not modelled behind a vIOMMU: none is suggested
  assert.deepEqual(plan.others, []);
  // the note without a limit counts both containers
  const note = checkLayout(QEMU_Q35, layoutOf(QEMU_Q35, 8n * G), host, sel.groups, { viommu: true }).notes;
  assert.ok(
    note.some((n) => /at least 17180131328 bytes .*for the 2 containers the vIOMMU gives the groups/.test(n)),
  );
});

test('kubevirt#18915: two devices behind a vIOMMU under the one-device limit fail in the second container', () => {
  // the report: one GPU works, two fail, removing the vIOMMU makes it work; libvirt applied the limit of a
  // domain without a vIOMMU (guest memory + 1 GiB), where 8.7's rule is N x memory + 1 GiB
  const host = hostViewFromPlatform(loadPreset(PRESET), kernelProfile('6.12'));
  const layout = layoutOf(QEMU_Q35, 16n * G);
  const one = selectGroups(host, { devices: [NIC] });
  const two = selectGroups(host, { devices: [NIC, '0000:00:02.0'] });
  if (!one.ok || !two.ok) assert.fail('selection');
  const oneDeviceLimit = 16n * G + G;
  assert.equal(
    checkLayout(QEMU_Q35, layout, host, one.groups, { memlock: oneDeviceLimit, viommu: true }).fits,
    true,
  );
  const failing = checkLayout(QEMU_Q35, layout, host, two.groups, { memlock: oneDeviceLimit, viommu: true });
  assert.equal(failing.memlock?.failure?.container, 2);
  assert.equal(failing.memlock?.failure?.owner.device, '0000:00:02.0');
  assert.equal(
    checkLayout(QEMU_Q35, layout, host, two.groups, { memlock: oneDeviceLimit }).fits,
    true,
    'no vIOMMU',
  );
  assert.equal(
    checkLayout(QEMU_Q35, layout, host, two.groups, { memlock: 2n * 16n * G + G, viommu: true }).fits,
    true,
    "libvirt 8.7's limit",
  );
});
