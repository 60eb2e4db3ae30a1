/**
 * Scenario steps for vfio-pci's bus reset and ioeventfd ioctls (plug-in module of the step registry):
 * VFIO_DEVICE_GET_PCI_HOT_RESET_INFO (which devices a reset of this one's bus also resets),
 * VFIO_DEVICE_PCI_HOT_RESET with a list of group handles, VFIO_DEVICE_IOEVENTFD, signalling an
 * eventfd as userspace does (write(2)), and reading a BAR through the device fd to see the write an
 * ioeventfd made. Every step goes through the device fd's uapi bytes.
 */
import { ERRNO, errnoName } from '../base/errno.js';
import {
  VFIO_DEVICE_IOEVENTFD,
  VFIO_DEVICE_PCI_HOT_RESET,
  encodeHotReset,
  encodeIoeventfd,
  vfioPciIndexToOffset,
} from '../uapi/vfio-device.js';
import { pciHotResetInfo } from '../vfio/typed.js';
import { pciPowerStateName } from '../vfio/pci/vfio-pci.js';
import type { RunContext } from './context.js';
import { CASE_NAME_FIELD, type ScenarioStep, registerStep } from './registry.js';

const hex = (v: bigint | number): string => '0x' + v.toString(16);
const name = CASE_NAME_FIELD;
const deviceFd = { kind: 'string', help: 'handle of the device fd (default "device")' } as const;

/** A `pos` field: an offset inside one region (below 2^40, the region index above it). */
function regionPos(ctx: RunContext, s: ScenarioStep): bigint {
  const pos = ctx.num(s, 'pos');
  if (pos < 0n || pos >= 1n << 40n)
    throw ctx.err(s, `${pos} is not an offset inside a region (0 .. 2^40-1)`, 'pos');
  return pos;
}

const bdfText = (segment: number, bus: number, devfn: number): string =>
  `${segment.toString(16).padStart(4, '0')}:${bus.toString(16).padStart(2, '0')}:` +
  `${(devfn >> 3).toString(16).padStart(2, '0')}.${devfn & 7}`;

registerStep({
  op: 'hot_reset_info',
  summary:
    'VFIO_DEVICE_GET_PCI_HOT_RESET_INFO (header, then room for the count): CASE <name> rc errno op=HOT_RESET_INFO count devices=<bdf>@g<group>,...',
  fields: { name, device: deviceFd },
  run(ctx, s) {
    const r = pciHotResetInfo(ctx.deviceFile(s));
    const list = r.devices.map((d) => `${bdfText(d.segment, d.bus, d.devfn)}@g${d.group}`).join(',');
    ctx.caseLine(
      ctx.text(s, 'name'),
      r.rc,
      ` op=HOT_RESET_INFO count=${r.devices.length} devices=${list || '-'}`,
    );
    return r.rc < 0 ? r.rc : 0;
  },
});

registerStep({
  op: 'hot_reset',
  summary: 'VFIO_DEVICE_PCI_HOT_RESET with group fds: CASE <name> rc errno op=HOT_RESET count',
  fields: {
    name,
    device: deviceFd,
    groups: {
      kind: 'string',
      help: 'comma-separated handles of the group fds that own the devices (default "group"); "none" for an empty list',
    },
    fds: { kind: 'exprs', help: 'raw fd numbers instead of handles (e.g. [-1, 1000])' },
  },
  run(ctx, s) {
    const dev = ctx.deviceFile(s);
    let fds: number[];
    if (s.fields['fds'] !== undefined) {
      fds = ctx.nums(s, 'fds').map((x) => Number(BigInt.asIntN(32, x)));
    } else {
      const text = ctx.str(s, 'groups', 'group')!;
      fds = [];
      if (text.trim() !== 'none') {
        for (const h of text.split(',').map((x) => x.trim())) {
          const fd = ctx.handles.get(h);
          if (fd === undefined) throw ctx.err(s, `no open file named "${h}"`, 'groups');
          fds.push(fd);
        }
      }
    }
    const rc = dev.ioctl(VFIO_DEVICE_PCI_HOT_RESET, encodeHotReset(fds));
    ctx.caseLine(ctx.text(s, 'name'), rc, ` op=HOT_RESET count=${fds.length}`);
    return rc < 0 ? rc : 0;
  },
});

registerStep({
  op: 'ioeventfd',
  summary:
    'VFIO_DEVICE_IOEVENTFD: each signal of `efd` writes `data` (`size` bytes) at `pos` of BAR `bar`; efd -1 removes it. CASE <name> rc errno op=IOEVENTFD bar pos size data fd',
  fields: {
    name,
    device: deviceFd,
    bar: { kind: 'expr', required: true, help: 'BAR index (region index 0..5; others are refused)' },
    pos: { kind: 'expr', required: true, help: 'offset in the BAR' },
    size: {
      kind: 'expr',
      help: 'bytes written: 1, 2, 4 or 8 (default 4; anything else is sent as the flags)',
    },
    data: { kind: 'expr', help: 'value written (default 0)' },
    efd: { kind: 'expr', help: 'the eventfd (default efd[0]), -1 to remove' },
  },
  run(ctx, s) {
    const dev = ctx.deviceFile(s);
    const bar = ctx.u32(s, 'bar');
    const pos = regionPos(ctx, s);
    const size = ctx.u32(s, 'size', 4);
    const data = ctx.num(s, 'data', 0n);
    const fd = Number(BigInt.asIntN(32, ctx.num(s, 'efd', BigInt(ctx.eventfdPool()[0] ?? -1))));
    const offset = vfioPciIndexToOffset(bar) + pos;
    const rc = dev.ioctl(VFIO_DEVICE_IOEVENTFD, encodeIoeventfd({ flags: size, offset, data, fd }));
    ctx.caseLine(
      ctx.text(s, 'name'),
      rc,
      ` op=IOEVENTFD bar=${bar} pos=${hex(pos)} size=${size} data=${hex(data)} fd=${fd}`,
    );
    return rc < 0 ? rc : 0;
  },
});

registerStep({
  op: 'signal_eventfd',
  summary: 'write(2) of a count to an eventfd, as userspace signals one: INFO <name> rc errno',
  fields: {
    name,
    efd: { kind: 'expr', help: 'default efd[0]' },
    value: { kind: 'expr', help: 'count added (default 1)' },
  },
  run(ctx, s) {
    const fd = Number(BigInt.asIntN(32, ctx.num(s, 'efd', BigInt(ctx.eventfdPool()[0] ?? -1))));
    const rc = ctx.sys.fds.writeEventfd(fd, BigInt.asUintN(64, ctx.num(s, 'value', 1n)));
    ctx.emit(`INFO ${ctx.text(s, 'name')} rc=${rc < 0 ? -1 : 0} errno=${rc < 0 ? errnoName(rc) : '0'}`);
    return rc < 0 ? rc : 0;
  },
});

registerStep({
  op: 'read_bar',
  summary:
    'pread(2) of a BAR register through the device fd (EIO while memory decoding is off or the function is in D3hot): CASE <name> rc errno value (rc = bytes read)',
  fields: {
    name,
    device: deviceFd,
    bar: { kind: 'expr', required: true, help: 'BAR index' },
    pos: { kind: 'expr', required: true, help: 'offset in the BAR' },
    size: { kind: 'expr', help: '1, 2 or 4 bytes (default 4)' },
  },
  run(ctx, s) {
    const bar = ctx.u32(s, 'bar');
    const r = regionAccess(ctx, s, bar, undefined);
    const v = r.rc < 0 ? '-' : hex(r.value);
    ctx.caseLine(
      ctx.text(s, 'name'),
      r.rc,
      ` op=BAR_READ bar=${bar} pos=${hex(r.pos)} size=${r.size} value=${v}`,
      r.rc,
    );
    return r.rc < 0 ? r.rc : 0;
  },
});

/** pread/pwrite of `size` bytes at `pos` of region `index` through the device fd. */
function regionAccess(
  ctx: RunContext,
  s: ScenarioStep,
  index: number,
  write: bigint | undefined,
): { rc: number; value: number; pos: bigint; size: number } {
  const dev = ctx.deviceFile(s);
  const size = ctx.u32(s, 'size', 4);
  if (size !== 1 && size !== 2 && size !== 4) throw ctx.err(s, 'size must be 1, 2 or 4', 'size');
  const pos = regionPos(ctx, s);
  const b = new Uint8Array(size);
  if (write !== undefined) {
    if (write < 0n || write >= 1n << BigInt(8 * size))
      throw ctx.err(s, `value does not fit in ${size} byte${size > 1 ? 's' : ''}`, 'value');
    for (let i = 0; i < size; i++) b[i] = Number((write >> BigInt(8 * i)) & 0xffn);
  }
  const off = vfioPciIndexToOffset(index) + pos;
  const rc = write === undefined ? dev.pread(off, b) : dev.pwrite(off, b);
  let value = 0;
  for (let i = size - 1; i >= 0; i--) value = value * 256 + b[i]!;
  return { rc, value, pos, size };
}

const CONFIG_INDEX = 7; // VFIO_PCI_CONFIG_REGION_INDEX

registerStep({
  op: 'read_config',
  summary:
    'pread(2) of config space through the device fd (region 7), as vfio-pci virtualises it: CASE <name> rc errno value (rc = bytes read)',
  fields: {
    name,
    device: deviceFd,
    pos: { kind: 'expr', required: true, help: 'offset in config space (0-4095)' },
    size: { kind: 'expr', help: '1, 2 or 4 bytes (default 4)' },
  },
  run(ctx, s) {
    const r = regionAccess(ctx, s, CONFIG_INDEX, undefined);
    const v = r.rc < 0 ? '-' : hex(r.value);
    ctx.caseLine(
      ctx.text(s, 'name'),
      r.rc,
      ` op=CONFIG_READ pos=${hex(r.pos)} size=${r.size} value=${v}`,
      r.rc,
    );
    return r.rc < 0 ? r.rc : 0;
  },
});

registerStep({
  op: 'write_config',
  summary:
    "pwrite(2) of config space through the device fd (region 7): what lands in vfio's virtual copy, what reaches the device, what is dropped follows the kernel's perm bits: CASE <name> rc errno (rc = bytes written)",
  fields: {
    name,
    device: deviceFd,
    pos: { kind: 'expr', required: true, help: 'offset in config space (0-4095)' },
    value: { kind: 'expr', required: true, help: 'value written (little-endian)' },
    size: { kind: 'expr', help: '1, 2 or 4 bytes (default 4)' },
  },
  run(ctx, s) {
    const value = ctx.num(s, 'value');
    const r = regionAccess(ctx, s, CONFIG_INDEX, value);
    ctx.caseLine(
      ctx.text(s, 'name'),
      r.rc,
      ` op=CONFIG_WRITE pos=${hex(r.pos)} size=${r.size} value=${hex(value)}`,
      r.rc,
    );
    return r.rc < 0 ? r.rc : 0;
  },
});

registerStep({
  op: 'write_bar',
  summary:
    'pwrite(2) of a BAR register through the device fd (EIO while memory decoding is off or the function is in D3hot): CASE <name> rc errno',
  fields: {
    name,
    device: deviceFd,
    bar: { kind: 'expr', required: true, help: 'BAR index (0-5)' },
    pos: { kind: 'expr', required: true, help: 'offset in the BAR' },
    value: { kind: 'expr', required: true, help: 'value written (little-endian)' },
    size: { kind: 'expr', help: '1, 2 or 4 bytes (default 4)' },
  },
  run(ctx, s) {
    const bar = ctx.u32(s, 'bar');
    if (bar > 5) throw ctx.err(s, 'bar must be 0-5 (config space: write_config)', 'bar');
    const value = ctx.num(s, 'value');
    const r = regionAccess(ctx, s, bar, value);
    ctx.caseLine(
      ctx.text(s, 'name'),
      r.rc,
      ` op=BAR_WRITE bar=${bar} pos=${hex(r.pos)} size=${r.size} value=${hex(value)}`,
      r.rc,
    );
    return r.rc < 0 ? r.rc : 0;
  },
});

registerStep({
  op: 'power_state',
  summary:
    '/sys/bus/pci/devices/BDF/power_state: CASE <name> rc errno op=POWER_STATE value (a function bound to vfio-pci sleeps in D3hot while no device file is open; ENODEV for a function without a model)',
  fields: {
    name,
    device: { kind: 'string', required: true, help: 'bdf or vendor:device of the device' },
  },
  run(ctx, s) {
    const v = pciPowerStateName(ctx.sys.core, ctx.device(s, 'device').bdf);
    const rc = v === undefined ? -ERRNO.ENODEV : 0;
    ctx.caseLine(ctx.text(s, 'name'), rc, ` op=POWER_STATE value=${v ?? '-'}`);
    return rc;
  },
});
