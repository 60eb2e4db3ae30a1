/**
 * The iommufd story `iovamap demo` tells (QEMU 9.1's iommufd backend on the model): /dev/iommu and an
 * IOAS, the NIC's VFIO cdev bound (where MSI isolation is checked), GET_HW_INFO and QEMU's own HWPT,
 * the usable ranges appearing only at attach, guest RAM mapped at fixed IOVAs, a map into the MSI
 * window refused, and the pinned RAM charged to the user rather than to the process's VmLck.
 */
import { errnoName } from '../base/errno.js';
import { formatSize, hex, hex16 } from '../base/u64.js';
import { type KernelVersion, kernelProfile } from '../kernel/profile.js';
import { ResvType } from '../iommu/resv-region.js';
import { AddressSpace } from '../mm/address-space.js';
import { loadPreset } from '../platform/presets.js';
import { bootPreset } from '../scenario/platforms.js';
import { VfioSystem } from '../vfio/system.js';
import {
  attachIommufdPt,
  bindIommufd,
  getHwInfo,
  hwptAlloc,
  ioasAlloc,
  ioasIovaRanges,
  ioasMap,
  openDeviceCdev,
} from '../iommufd/typed.js';
import { findVmm } from '../vmm/registry.js';
import { assignableMsiDevices } from './assign.js';
import { type Story, StoryBuilder } from './story.js';

export interface IommufdStoryOptions {
  readonly preset: string;
  readonly kernel: KernelVersion;
  readonly vmm: string;
  readonly memory: bigint;
}

const rc = (r: number): string => (r < 0 ? `-1 (${errnoName(r)})` : String(r));

export function iommufdStory(o: IommufdStoryOptions): Story {
  const profile = kernelProfile(o.kernel);
  const desc = loadPreset(o.preset);
  const core = bootPreset(o.preset, profile);
  const s = new StoryBuilder(`${desc.description} through iommufd — Linux ${profile.version}`);
  const dev = assignableMsiDevices(desc, core)[0];
  if (dev === undefined) {
    s.step('Pick a device', 'fail', [`no MSI-capable device with an IOMMU group on ${o.preset}`]);
    return s.done(false, 'nothing to assign');
  }
  if (dev.driver !== 'none') core.unbindDriver(dev);
  core.bindDriver(dev, 'vfio-pci', true);
  // the VMM's guest RAM, as its own anonymous memory
  const RAM = 0x7f0000000000n;
  const mm = new AddressSpace();
  mm.map('guest-ram', RAM, o.memory, 3);
  const sys = new VfioSystem({ core, profile, mm });

  const fd = sys.open('/dev/iommu');
  if (fd < 0) {
    s.step('open("/dev/iommu")', 'refused', [
      `= ${rc(fd)}: Linux ${profile.version} has no iommufd with VFIO device files (6.2 brought iommufd, 6.6 the cdev)`,
    ]);
    return s.done(true, 'this kernel offers only the type1 container');
  }
  const ioas = ioasAlloc(sys, fd);
  const fresh = ioasIovaRanges(sys, fd, ioas.id).ranges;
  s.step('open("/dev/iommu"), IOMMU_IOAS_ALLOC', 'ok', [
    `IOAS ${ioas.id}; its usable IOVA before any device: ${fresh.map((r) => `${hex16(r.start)}-${hex16(r.last)}`).join(' ')}`,
    'nothing is reserved yet: the reserved regions and the aperture come with the first attach',
  ]);

  const cdev = openDeviceCdev(sys, dev.bdf);
  const bind = bindIommufd(sys, cdev, fd);
  if (bind.rc < 0) {
    s.step(`VFIO_DEVICE_BIND_IOMMUFD of ${dev.bdf}`, 'refused', [
      `= ${rc(bind.rc)}: MSIs of group ${dev.groupId} cannot be isolated, and iommufd checks at bind`,
      'only iommufd.allow_unsafe_interrupts=1 overrides it (vfio_iommu_type1.allow_unsafe_interrupts does not)',
    ]);
    return s.done(true, 'iommufd refused the device at bind: its interrupts are not isolated');
  }
  s.step(`Open /dev/vfio/devices/vfio0 (${dev.bdf}) and VFIO_DEVICE_BIND_IOMMUFD`, 'ok', [
    `device id ${bind.devId}; MSI isolation was checked here; the group file /dev/vfio/${dev.groupId} now answers EBUSY`,
  ]);

  const info = getHwInfo(sys, fd, bind.devId);
  const dirty = (info.capabilities & 1n) !== 0n;
  const hw = hwptAlloc(sys, fd, bind.devId, ioas.id, dirty ? 2 : 0);
  const att = attachIommufdPt(sys, cdev, hw.hwptId);
  const ranges = ioasIovaRanges(sys, fd, ioas.id);
  s.step('GET_HW_INFO, IOMMU_HWPT_ALLOC, VFIO_DEVICE_ATTACH_IOMMUFD_PT', att.rc === 0 ? 'ok' : 'fail', [
    `hw info type ${info.type}${info.type === 1 ? ' (Intel VT-d: CAP and ECAP registers)' : ' (none for this IOMMU in 6.12)'}, dirty tracking ${dirty ? 'yes' : 'no'}`,
    `HWPT ${hw.hwptId} = ${rc(hw.rc)}; attach = ${rc(att.rc)}`,
    `IOMMU_IOAS_IOVA_RANGES now (alignment ${hex(ranges.alignment)}):`,
    ...ranges.ranges.map(
      (r) => `  usable ${hex16(r.start)}-${hex16(r.last)} (${formatSize(r.last - r.start + 1n)})`,
    ),
    'the same ranges VFIO_IOMMU_GET_INFO gives a type1 container on this host',
  ]);

  // as libvirt starts QEMU: no CAP_IPC_LOCK, RLIMIT_MEMLOCK = guest RAM + 1 GiB
  sys.task.capIpcLock = false;
  sys.task.setMemlock(o.memory + (1n << 30n), o.memory + (1n << 30n));
  // QEMU maps guest RAM at IOVA = guest-physical address (FIXED_IOVA)
  const found = findVmm(o.vmm, { arch: desc.arch });
  const lines: string[] = [];
  let ok = 0;
  let offset = 0n;
  if (found.ok) {
    const lay = found.model.layout({ memory: o.memory, options: {} });
    if (lay.ok) {
      for (const r of lay.layout.ranges.filter((x) => x.kind === 'ram')) {
        const size = r.end - r.start + 1n;
        const m = ioasMap(sys, fd, ioas.id, { vaddr: RAM + offset, length: size, iova: r.start });
        lines.push(`IOMMU_IOAS_MAP ${r.name} iova ${hex(r.start)} length ${formatSize(size)} = ${rc(m.rc)}`);
        offset += size;
        if (m.rc === 0) ok++;
      }
    }
  }
  const win = core
    .groupResvRegions(core.groupOf(dev)!)
    .find((r) => r.type === ResvType.SwMsi || r.type === ResvType.Msi);
  if (win) {
    const m = ioasMap(sys, fd, ioas.id, { vaddr: RAM, length: 0x1000n, iova: win.start });
    lines.push(`IOMMU_IOAS_MAP at the MSI window ${hex(win.start)} = ${rc(m.rc)}: reserved IOVA of the IOAS`);
  }
  s.step('Map guest RAM', ok > 0 ? 'ok' : 'fail', lines);

  // pins are charged to the user, not to VmLck
  const before = sys.userLocked.pages;
  s.step('Who pays for the pinned RAM (QEMU as libvirt runs it: no CAP_IPC_LOCK)', 'info', [
    `the user's locked memory: ${formatSize(BigInt(before) * 4096n)} (user_struct->locked_vm, shared by all of the user's processes)`,
    `this process's VmLck: ${formatSize(BigInt(mm.lockedVmBytes))} (type1 would have charged it here)`,
    'without CAP_IPC_LOCK every VM of the same user counts against one RLIMIT_MEMLOCK, unless the manager sets IOMMU_OPTION_RLIMIT_MODE=1',
  ]);
  return s.done(
    ok > 0,
    'iommufd gives the same usable IOVA as type1 once a device is attached, checks MSI isolation at bind, and charges pins per user',
  );
}
