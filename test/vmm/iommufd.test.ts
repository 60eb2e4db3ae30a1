/**
 * The checker with the iommufd backend (CheckOptions.backend = 'iommufd'): the same usable IOVA ranges as
 * type1 but IOMMU_IOAS_MAP's answers and QEMU's iommufd wording, pins charged per user by default (the
 * user's other processes count first), no kernel log, the kernel versions without VFIO device files,
 * and iommufd's own refusals (bind: MSI isolation with its own module parameter, 1:1 regions; attach: a
 * group split between two IOAS).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostViewFromPlatform } from '../../src/host/from-platform.js';
import type { HostView } from '../../src/host/view.js';
import { kernelProfile } from '../../src/kernel/profile.js';
import { loadPreset } from '../../src/platform/presets.js';
import { checkLayout, selectGroups, type CheckOptions } from '../../src/vmm/check.js';
import { memlockAdvice } from '../../src/vmm/memlock.js';
import { parseLibvirtDomain } from '../../src/vmm/libvirt-xml.js';
import { planLayout } from '../../src/vmm/plan.js';
import { parseQemuCommandLine } from '../../src/vmm/qemu-cmdline.js';
import { QEMU_Q35, QEMU_VIRT } from '../../src/vmm/qemu.js';
import {
  CLOUD_HYPERVISOR_AARCH64,
  CLOUD_HYPERVISOR_X86_64,
  CROSVM_AARCH64,
} from '../../src/vmm/rust-vmms.js';
import type { VmmModel } from '../../src/vmm/types.js';
import { parseVmmCommandLine } from '../../src/vmm/vmm-cmdline.js';

const G = 1n << 30n;

function host(preset: string, kernel: '6.1' | '6.12' = '6.12'): HostView {
  return hostViewFromPlatform(loadPreset(preset), kernelProfile(kernel));
}

function check(
  model: VmmModel,
  h: HostView,
  memory: bigint,
  devices: readonly string[],
  opts: CheckOptions,
  options: Record<string, string> = {},
) {
  const l = model.layout({ memory, options });
  if (!l.ok) assert.fail(l.reason);
  const sel = selectGroups(h, { devices, ...(opts.viommu ? { viommu: true } : {}) });
  if (!sel.ok) assert.fail(sel.reason);
  return checkLayout(model, l.layout, h, sel.groups, opts);
}

test('a reserved range: the same conflict as type1, answered by IOMMU_IOAS_MAP, in QEMU iommufd wording', () => {
  const amd = host('qemu-q35-amd-iommu');
  // QEMU q35 before 7.1 with 1 TiB on AMD: RAM above 4 GiB runs into the HyperTransport hole
  const opts = { version: '9.2', 'cpu-vendor': 'amd' };
  const t1 = check(QEMU_Q35, amd, 1024n * G, ['0000:00:03.0'], {}, { ...opts, version: '7.0' });
  const fd = check(
    QEMU_Q35,
    amd,
    1024n * G,
    ['0000:00:03.0'],
    { backend: 'iommufd' },
    { ...opts, version: '7.0' },
  );
  assert.equal(fd.backend, 'iommufd');
  assert.deepEqual(fd.usable, t1.usable, 'iommufd reserves the same types (all but direct-relaxable)');
  assert.equal(fd.conflicts.length, 1);
  assert.deepEqual(fd.conflicts[0]!.outside, t1.conflicts[0]!.outside);
  assert.match(
    fd.conflicts[0]!.vfio,
    /^IOMMU_IOAS_MAP\(iova=0x100000000, length=0x[0-9a-f]+\) = -EINVAL: the range meets reserved IOVA of the IOAS/,
  );
  // 9.x: the backend's own line first; no group container in the listener's error
  const v92 = check(QEMU_Q35, amd, 1024n * G, ['0000:00:03.0'], { backend: 'iommufd' }, opts);
  assert.equal(v92.conflicts.length, 0, '9.2 machine types move RAM above 1 TiB');
  const lines = fd.conflicts[0]!.failure.lines;
  assert.equal(lines.length, 2);
  assert.equal(
    lines[0],
    'qemu-system-x86_64: -device vfio-pci,host=0000:00:03.0,iommufd=iommufd0: IOMMU_IOAS_MAP failed: Invalid argument',
  );
  assert.match(
    lines[1]!,
    /^qemu-system-x86_64: -device vfio-pci,host=0000:00:03\.0,iommufd=iommufd0: vfio 0000:00:03\.0: memory listener initialization failed: Region pc\.ram: vfio_container_dma_map\(0x\.\.\., 0x100000000, 0x[0-9a-f]+, 0x\.\.\.\) = -22 \(Invalid argument\)$/,
  );
  assert.doesNotMatch(lines[1]!, /failed to setup container/);
  // 10.0 dropped the backend's line: an arm64 guest on an x86 host, its RAM at 1 GiB over the MSI window
  const intel = host('qemu-q35-intel-iommu');
  const virt = check(QEMU_VIRT, intel, 4n * G, ['0000:00:01.0'], { backend: 'iommufd' }, { version: '10.0' });
  assert.equal(virt.conflicts.length, 1);
  assert.deepEqual(
    virt.conflicts[0]!.failure.lines.map((l) => l.replace(/\(0x.*/, '')),
    [
      'qemu-system-aarch64: -device vfio-pci,host=0000:00:01.0,iommufd=iommufd0: vfio 0000:00:01.0: memory ' +
        'listener initialization failed: Region mach-virt.ram: vfio_container_dma_map',
    ],
  );
  const r = check(CLOUD_HYPERVISOR_X86_64, amd, 1016n * G, ['0000:00:03.0'], { backend: 'iommufd' });
  assert.match(
    r.conflicts[0]!.failure.lines[0]!,
    /^failed to map an IOVA range to the IOAS: Invalid argument \(os error 22\)$/,
  );
});

test("per-user accounting: the user's other pins count first, nothing is logged, the fix names RLIMIT_MODE", () => {
  const h = host('qemu-q35-intel-iommu');
  const base: CheckOptions = { backend: 'iommufd', memlock: 16n * G };
  // alone, 16 GiB covers an 8 GiB guest
  const alone = check(QEMU_Q35, h, 8n * G, ['0000:00:01.0'], base);
  assert.equal(alone.memlock?.failure, undefined);
  assert.equal(alone.memlock?.accounting, 'user');
  assert.equal(alone.memlock?.userLocked, 0n);
  assert.match(memlockAdvice(alone.memlock!), /other VMs of the same user take room from this one/);
  // another VM of the same user holds 10 GiB: the 6 GiB above 4 GiB no longer fit
  const crowded = check(QEMU_Q35, h, 8n * G, ['0000:00:01.0'], { ...base, userLocked: 10n * G });
  const f = crowded.memlock!.failure!;
  assert.equal(f.range.name, 'pc.ram');
  assert.equal(f.range.start, 4n * G);
  assert.equal(f.kernelLog, undefined, 'iommufd logs nothing');
  // 2 GiB below 4 GiB less the 384 KiB hole at 640 KiB, plus 256 KiB of ROM there and the 256 KiB flash
  assert.equal(f.chargedBefore, 10n * G + 2n * G + 0x20000n);
  assert.match(
    f.vfio,
    /^IOMMU_IOAS_MAP\(iova=0x100000000, length=0x180000000\) = -ENOMEM: its 6 GiB on top of the .* already charged to the user's locked memory \(10 GiB of it by the user's other processes\) pass RLIMIT_MEMLOCK \(16 GiB\)/,
  );
  assert.doesNotMatch(f.failure.lines.join('\n'), /failed to setup container/);
  const fix = memlockAdvice(crowded.memlock!);
  assert.match(fix, /at least 19327483904 bytes/, '8 GiB of pins + 10 GiB of the others + the firmware');
  assert.match(fix, /IOMMU_OPTION_RLIMIT_MODE=1/);
  // per-process accounting (libvirt): the others do not count
  const own = check(QEMU_Q35, h, 8n * G, ['0000:00:01.0'], {
    ...base,
    iommufdAccounting: 'process',
    userLocked: 10n * G,
  });
  assert.equal(own.memlock?.failure, undefined);
  assert.equal(own.memlock?.userLocked, 0n);
  // the planner gives the room left: 16 - 10 GiB, less the firmware
  const l = QEMU_Q35.layout({ memory: 8n * G, options: {} });
  if (!l.ok) assert.fail(l.reason);
  const sel = selectGroups(h, { devices: ['0000:00:01.0'] });
  if (!sel.ok) assert.fail(sel.reason);
  const plan = planLayout(QEMU_Q35, { memory: 8n * G, options: {} }, h, sel.groups, {
    memlock: 16n * G,
    backend: 'iommufd',
    userLocked: 10n * G,
  });
  assert.equal(plan.largest?.layout.memory, 6143n << 20n);
  assert.match(plan.notes.join('\n'), /with per-process accounting .* 8 GiB fits/);
  // other layouts are offered among the VMMs with an iommufd backend only (an arm64 guest on an x86
  // host: QEMU virt's RAM at 1 GiB covers the MSI window, cloud-hypervisor's stops below it)
  const l4 = selectGroups(h, { devices: ['0000:00:01.0'] });
  if (!l4.ok) assert.fail(l4.reason);
  const arm = planLayout(QEMU_VIRT, { memory: 4n * G, options: {} }, h, l4.groups, {
    others: [CLOUD_HYPERVISOR_AARCH64, CROSVM_AARCH64],
    backend: 'iommufd',
  });
  assert.deepEqual(
    arm.others.map((o) => o.model.id),
    ['cloud-hypervisor-aarch64'],
  );
});

test('behind a vIOMMU: an IOAS per device, each pinning the RAM; a split group fails at attach', () => {
  const h = host('qemu-q35-intel-iommu');
  const r = check(QEMU_Q35, h, 8n * G, ['0000:00:01.0', '0000:00:02.0'], {
    backend: 'iommufd',
    viommu: true,
    memlock: 12n * G,
  });
  assert.equal(r.memlock?.containers, 2);
  assert.equal(r.memlock?.failure?.container, 2);
  assert.match(r.memlock!.failure!.vfio, /of it by the IOAS set up before/);
  const rp = host('qemu-q35-intel-iommu-rootport');
  const split = check(QEMU_Q35, rp, 2n * G, ['0000:01:00.0', '0000:01:00.1'], {
    backend: 'iommufd',
    viommu: true,
  });
  const b = split.blockers.find((x) => x.kind === 'split-group');
  assert.ok(b, 'refused');
  assert.match(b.why, /iommufd keeps the devices of a group on one page table/);
  assert.match(
    b.lines[0]!,
    /vfio 0000:01:00\.1: \[iommufd=<fd>\] error attach 0000:01:00\.1 \(<fd>\) to id=<id>: Invalid argument$/,
  );
});

test("iommufd's refusals: no VFIO device files before 6.6, MSI isolation at bind with its own parameter, 1:1 regions", () => {
  const old = check(QEMU_Q35, host('qemu-q35-intel-iommu', '6.1'), 4n * G, ['0000:00:01.0'], {
    backend: 'iommufd',
  });
  assert.equal(old.fits, false);
  assert.deepEqual(
    old.blockers.map((b) => b.kind),
    ['no-iommufd'],
  );
  assert.match(
    old.blockers[0]!.why,
    /^Linux 6\.1 has no VFIO device files .*no \/dev\/iommu either: iommufd arrived in 6\.2/,
  );
  assert.equal(
    old.blockers[0]!.lines[0],
    'qemu-system-x86_64: -device vfio-pci,host=0000:00:01.0,iommufd=iommufd0: vfio 0000:00:01.0: vfio ' +
      "/sys/bus/pci/devices/0000:00:01.0/vfio-dev: couldn't open directory /sys/bus/pci/devices/0000:00:01.0/vfio-dev: " +
      'No such file or directory',
  );
  const seattle = host('amd-seattle');
  const unsafe = check(QEMU_VIRT, seattle, 4n * G, [seattle.groups[0]!.devices[0]!.bdf], {
    backend: 'iommufd',
  });
  const u = unsafe.blockers.find((b) => b.kind === 'unsafe-interrupts')!;
  assert.match(u.why, /VFIO_DEVICE_BIND_IOMMUFD fails with EPERM and the kernel logs nothing/);
  assert.match(
    u.why,
    /iommufd\.allow_unsafe_interrupts=1 .*vfio_iommu_type1\.allow_unsafe_interrupts does not apply/,
  );
  assert.match(u.lines[0]!, /error bind device fd=<fd> to iommufd=<fd>: Operation not permitted$/);
  const hpe = host('intel-xeon-hpe-rmrr');
  const rmrr = check(QEMU_Q35, hpe, 4n * G, ['0000:08:00.0'], { backend: 'iommufd' });
  const n = rmrr.blockers.find((b) => b.kind === 'not-assignable')!;
  assert.match(n.why, /^VFIO_DEVICE_BIND_IOMMUFD fails with EINVAL: 0000:08:00\.0 needs a 1:1 mapping/);
  assert.match(n.lines[0]!, /error bind device fd=<fd> to iommufd=<fd>: Invalid argument$/);
});

test('the readers say which backend and accounting a configuration uses', () => {
  // QEMU opening /dev/iommu itself: per-user accounting
  const own = parseQemuCommandLine(
    'qemu-system-x86_64 -M q35 -m 4G -object iommufd,id=iommufd0 -device vfio-pci,host=01:00.0,iommufd=iommufd0',
    's',
  );
  assert.equal(own.backend, 'iommufd');
  assert.equal(own.iommufdAccounting, 'user');
  assert.match(own.notes[0]!, /through iommufd/);
  // handed a file (libvirt): per-process accounting, assumed with a note; a device on the legacy container
  const passed = parseQemuCommandLine(
    'qemu-system-x86_64 -M q35 -m 4G -object \'{"qom-type":"iommufd","id":"iommufd0","fd":"23"}\' ' +
      '-device \'{"driver":"vfio-pci","host":"0000:01:00.0","iommufd":"iommufd0"}\' -device vfio-pci,host=02:00.0',
    's',
  );
  assert.equal(passed.iommufdAccounting, 'process');
  assert.match(passed.notes.join('\n'), /0000:02:00\.0 uses the legacy container/);
  assert.equal(
    parseQemuCommandLine('qemu-system-x86_64 -M q35 -device vfio-pci,host=01:00.0', 's').backend,
    undefined,
  );
  // libvirt: per device, or the whole domain; a manager's file descriptor group keeps the default
  const dom = (inner: string, hostdev = '<driver iommufd="yes"/>') =>
    `<domain type='kvm'><memory unit='GiB'>4</memory><os><type arch='x86_64' machine='pc-q35-10.0'>hvm</type></os>${inner}` +
    `<devices><hostdev mode='subsystem' type='pci'>${hostdev}<source><address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></source></hostdev></devices></domain>`;
  const perDevice = parseLibvirtDomain(dom(''), 'd.xml');
  assert.equal(perDevice.backend, 'iommufd');
  assert.equal(perDevice.iommufdAccounting, 'process');
  const whole = parseLibvirtDomain(dom("<iommufd enabled='yes' fdgroup='plugin'/>", ''), 'd.xml');
  assert.equal(whole.backend, 'iommufd');
  assert.equal(whole.iommufdAccounting, 'user');
  assert.equal(
    parseLibvirtDomain(dom("<iommufd enabled='yes'/>", "<driver iommufd='no'/>"), 'd.xml').backend,
    undefined,
  );
  // cloud-hypervisor opens /dev/iommu itself
  const ch = parseVmmCommandLine(
    'cloud-hypervisor --platform iommufd=on --device path=/sys/bus/pci/devices/0000:01:00.0/',
    's',
  );
  assert.equal(ch.backend, 'iommufd');
  assert.equal(ch.iommufdAccounting, 'user');
});

test('a live host without /dev/iommu or VFIO device files refuses every group; a modelled 6.12 says what it assumes', () => {
  const h = host('qemu-q35-intel-iommu');
  const noDev = { ...h, iommufd: { dev: false, deviceFiles: false } };
  const r = check(QEMU_Q35, noDev, 4n * G, ['0000:00:01.0'], { backend: 'iommufd' });
  assert.deepEqual(
    r.blockers.map((b) => b.kind),
    ['no-iommufd'],
  );
  assert.match(
    r.blockers[0]!.why,
    /^this host has no \/dev\/iommu: its kernel is built without CONFIG_IOMMUFD/,
  );
  assert.match(r.blockers[0]!.lines[0]!, /vfio-dev: couldn't open directory/);
  const odd = check(
    QEMU_Q35,
    { ...h, iommufd: { dev: false, deviceFiles: true } },
    4n * G,
    ['0000:00:01.0'],
    {
      backend: 'iommufd',
    },
  );
  assert.match(odd.blockers[0]!.lines[0]!, /Could not open '\/dev\/iommu': No such file or directory$/);
  const fine = check(
    QEMU_Q35,
    { ...h, iommufd: { dev: true, deviceFiles: true } },
    4n * G,
    ['0000:00:01.0'],
    {
      backend: 'iommufd',
    },
  );
  assert.deepEqual(fine.blockers, []);
  // the modelled 6.12 is Debian's build, where CONFIG_IOMMUFD is off: the check says it assumes otherwise
  assert.match(
    check(QEMU_Q35, h, 4n * G, ['0000:00:01.0'], { backend: 'iommufd' }).notes.join('\n'),
    /CONFIG_IOMMUFD off/,
  );
  // type1 never looks
  assert.deepEqual(check(QEMU_Q35, noDev, 4n * G, ['0000:00:01.0'], {}).blockers, []);
});
