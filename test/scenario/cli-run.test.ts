import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runCli } from '../cli/run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'iovamap-run-'));
const file = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

test('iovamap run prints the oracle-format lines of a shipped scenario', () => {
  const r = runCli([
    'run',
    'probe_full',
    '--platform',
    'qemu-virt-smmuv3-gicv3',
    '--kernel',
    '6.1',
    '--var',
    'fill=0',
  ]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^CASE set_iommu_type1v2 rc=0 errno=0$/m);
  assert.match(r.stdout, /^RANGE idx=1 start=0x0000000008100000 end=0x0000ffffffffffff$/m);
  assert.match(r.stdout, /^CASE c_hole0_map_at_start rc=-1 errno=EINVAL /m);
});

test('a scenario that stops with exit gives status 1 (GICv2m without allow_unsafe_interrupts)', () => {
  const r = runCli(['run', 'probe_attach', '--platform', 'qemu-virt-smmuv3-gicv2']);
  assert.equal(r.status, 1);
  assert.match(r.stdout, /^CASE set_iommu_type1v2 rc=-1 errno=EPERM$/m);
  const ok = runCli([
    'run',
    'probe_attach',
    '--platform',
    'qemu-virt-smmuv3-gicv2',
    '--param',
    'allow_unsafe_interrupts=Y',
  ]);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /^CASE set_iommu_type1v2 rc=0 errno=0$/m);
});

for (const [what, text, re] of [
  [
    'unknown ioctl',
    'name: t\nplatform: qemu-q35-intel-iommu\nsteps:\n  - ioctl: { name: x, fd: c, cmd: VFIO_NOPE }\n',
    /:4: .*unknown ioctl "VFIO_NOPE"/,
  ],
  [
    'bad number',
    'name: t\nplatform: qemu-q35-intel-iommu\nsteps:\n  - open_container: { name: c }\n  - map_dma: { name: m, iova: 12abc, size: 4096 }\n',
    /:5:\d+: .*bad number/,
  ],
  [
    'missing field',
    'name: t\nplatform: qemu-q35-intel-iommu\nsteps:\n  - check_extension: { name: e }\n',
    /:4:\d+: .*missing field "ext"/,
  ],
  [
    'unknown handle at run time',
    'name: t\nplatform: qemu-q35-intel-iommu\nsteps:\n  - get_api_version: { name: v }\n',
    /:4:\d+: .*no open file named "container"/,
  ],
  [
    'dirty bitmap without an address',
    'name: t\nplatform: qemu-q35-intel-iommu\nsteps:\n  - open_container: { name: c }\n  - dirty_pages: { name: g, flags: 4, size: 0x1000 }\n',
    /:5:\d+: dirty_pages\.bitmap: missing field "bitmap"/,
  ],
  [
    'hot reset naming a group handle never opened',
    'name: t\nplatform: qemu-q35-intel-iommu-rootport\nsteps:\n  - bind_driver: { device: "0000:01:00.0", driver: vfio-pci }\n  - bind_driver: { device: "0000:01:00.1", driver: vfio-pci }\n  - open_container: { name: c }\n  - open_group: { name: g, device: "0000:01:00.0" }\n  - set_container: { name: s }\n  - set_iommu: { name: i, type: 3 }\n  - get_device_fd: { name: d, device: "0000:01:00.0" }\n  - hot_reset: { name: r, groups: "group, other" }\n',
    /:11:\d+: hot_reset\.groups: no open file named "other"/,
  ],
  [
    'a BAR read of 8 bytes',
    'name: t\nplatform: qemu-q35-intel-iommu\nsteps:\n  - bind_driver: { device: "8086:10d3", driver: vfio-pci }\n  - open_container: { name: c }\n  - open_group: { name: g, device: "8086:10d3" }\n  - set_container: { name: s }\n  - set_iommu: { name: i, type: 3 }\n  - get_device_fd: { name: d, device: "8086:10d3" }\n  - read_bar: { name: r, bar: 0, pos: 0, size: 8 }\n',
    /:10:\d+: read_bar\.size: size must be 1, 2 or 4/,
  ],
  [
    'an ioeventfd position past the region',
    'name: t\nplatform: qemu-q35-intel-iommu\nsteps:\n  - bind_driver: { device: "8086:10d3", driver: vfio-pci }\n  - open_container: { name: c }\n  - open_group: { name: g, device: "8086:10d3" }\n  - set_container: { name: s }\n  - set_iommu: { name: i, type: 3 }\n  - get_device_fd: { name: d, device: "8086:10d3" }\n  - ioeventfd: { name: e, bar: 0, pos: 0x10000000000 }\n',
    /:10:\d+: ioeventfd\.pos: 1099511627776 is not an offset inside a region/,
  ],
  [
    'a config write wider than its size',
    'name: t\nplatform: qemu-q35-intel-iommu\nsteps:\n  - bind_driver: { device: "8086:10d3", driver: vfio-pci }\n  - open_container: { name: c }\n  - open_group: { name: g, device: "8086:10d3" }\n  - set_container: { name: s }\n  - set_iommu: { name: i, type: 3 }\n  - get_device_fd: { name: d, device: "8086:10d3" }\n  - write_config: { name: w, pos: 0xe8, size: 2, value: 0x10000 }\n',
    /:10:\d+: write_config\.value: value does not fit in 2 bytes/,
  ],
  [
    'a BAR write naming the config region',
    'name: t\nplatform: qemu-q35-intel-iommu\nsteps:\n  - bind_driver: { device: "8086:10d3", driver: vfio-pci }\n  - open_container: { name: c }\n  - open_group: { name: g, device: "8086:10d3" }\n  - set_container: { name: s }\n  - set_iommu: { name: i, type: 3 }\n  - get_device_fd: { name: d, device: "8086:10d3" }\n  - write_bar: { name: w, bar: 7, pos: 0, value: 1 }\n',
    /:10:\d+: write_bar\.bar: bar must be 0-5/,
  ],
  ['unknown platform', 'name: t\nplatform: qemu-nope\nsteps: []\n', /qemu-nope/],
] as const) {
  test(`iovamap run reports a scenario mistake with its line, exit 2, no stack trace: ${what}`, () => {
    const r = runCli(['run', file(`${what.replace(/ /g, '_')}.yaml`, text)]);
    assert.equal(r.status, 2, r.stdout + r.stderr);
    assert.match(r.stderr, re);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });
}

test('iovamap run: missing file and bad options', () => {
  const r = runCli(['run', join(dir, 'nope.yaml')]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /scenario ".*nope.yaml": no such file/);
  const k = runCli(['run', 'probe_full', '--kernel', '5.4']);
  assert.equal(k.status, 2);
  const p = runCli(['run', 'probe_full', '--param', 'colour=blue']);
  assert.equal(p.status, 2);
  assert.match(p.stderr, /unknown module parameter/);
});

test('expect: checks the CASE line and a failure gives status 1 with the line of the expectation', () => {
  const text = [
    'name: e',
    'platform: qemu-q35-intel-iommu',
    'memory:',
    '  - { name: buf, start: 0x7f0000000000, size: 1MiB, prot: rw }',
    'vaddr_base: buf',
    'steps:',
    "  - bind_driver: { device: '8086:10d3', driver: vfio-pci }",
    '  - open_container: { name: c, expect: ok }',
    "  - open_group: { name: g, device: '8086:10d3' }",
    '  - set_container: { name: sc }',
    '  - set_iommu: { name: si, type: 3, expect: 0 }',
    '  - map_dma: { name: m, iova: 0xfee00000, size: 0x1000, expect: EINVAL }',
    "  - map_dma: { name: m2, iova: 0x1000, size: 0x1000, expect: 'rc=0 out_size=0x1000' }",
    '  - map_dma: { name: m3, iova: 0x1000, size: 0x1000, expect: EINVAL }',
  ].join('\n');
  const r = runCli(['run', file('expect.yaml', text + '\n')]);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /expect\.yaml:14: m3: expected errno=EINVAL \(got EEXIST\)/);
  assert.doesNotMatch(r.stderr, /: m2?: /);
  const ok = runCli(['run', file('expect-ok.yaml', text.split('\n').slice(0, -1).join('\n') + '\n')]);
  assert.equal(ok.status, 0, ok.stderr);
});

test('iovamap run takes a platform file, as inspect does (--platform FILE, or platform: relative to the scenario)', () => {
  const preset = readFileSync(
    fileURLToPath(new URL('../../../presets/qemu-virt-smmuv3-gicv3.yaml', import.meta.url)),
    'utf8',
  );
  const sub = join(dir, 'plat');
  mkdirSync(sub, { recursive: true });
  const plat = join(sub, 'my-board.yaml');
  writeFileSync(plat, preset.replace(/^name: .*$/m, 'name: my-board'));
  const r = runCli(['run', 'type1_rules', '--platform', plat]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^CASE /m);
  const sc = join(sub, 'sc.yaml');
  writeFileSync(
    sc,
    'name: t\nplatform: ./my-board.yaml\nsteps:\n' +
      '  - open_container: { name: open }\n' +
      '  - bind_driver: { device: 8086:10d3, driver: vfio-pci }\n' +
      '  - open_group: { name: grp, device: 8086:10d3 }\n',
  );
  const s = runCli(['run', sc], { cwd: tmpdir() });
  assert.equal(s.status, 0, s.stderr);
  assert.match(s.stdout, /^CASE grp rc=0 errno=0 path=\/dev\/vfio\/0$/m);
  const missing = runCli(['run', 'type1_rules', '--platform', join(sub, 'nope.yaml')]);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /nope\.yaml: no such platform file/);
  assert.doesNotMatch(missing.stderr, /\n\s+at /);
});

test('iovamap run - reads the scenario from standard input', () => {
  const r = runCli(['run', '-'], {
    input: 'name: t\nplatform: qemu-virt-smmuv3-gicv3\nsteps:\n  - open_container: { name: open }\n',
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'CASE open rc=0 errno=0\n');
  const bad = runCli(['run', '-'], { input: 'name: t\nsteps:\n  - frob: {}\n' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^iovamap run: <stdin>:3:/);
});

test('iovamap run --dmesg prints what the kernel logged to stderr; without it, stderr stays quiet', () => {
  const r = runCli(['run', 'vfio_memlock', '--kernel', '6.1', '--dmesg']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^CASE one_page_more rc=-1 errno=ENOMEM op=MAP /m);
  assert.match(r.stderr, /^kernel: vfio_pin_pages_remote: RLIMIT_MEMLOCK \(33554432\) exceeded$/m);
  const quiet = runCli(['run', 'vfio_memlock', '--kernel', '6.1']);
  assert.equal(quiet.stderr, '');
  assert.equal(quiet.stdout, r.stdout);
});

test('iovamap run: the memlock steps refuse a limit given twice and a size past 64 bits with the line', () => {
  const head =
    'name: bad\nplatform: qemu-q35-intel-iommu\nmemory:\n  - { name: ram, start: 0x7f0000000000, size: 1MiB, prot: rw }\nvaddr_base: ram\nsteps:\n';
  const both = runCli([
    'run',
    file('both.yaml', head + '  - set_rlimit_memlock: { name: l, bytes: 4MiB, unlimited: true }\n'),
  ]);
  assert.equal(both.status, 2);
  assert.match(
    both.stderr,
    /both\.yaml:7: steps\[0\]\.set_rlimit_memlock\.bytes: give either "bytes" or "unlimited: true"/,
  );
  const wide = runCli([
    'run',
    file('wide.yaml', head + '  - mlock: { name: m, size: 0x10000000000000000 }\n'),
  ]);
  assert.equal(wide.status, 2);
  assert.match(wide.stderr, /wide\.yaml:7:\d+: steps\[0\]\.mlock\.size: .*does not fit in 64 bits/);
  assert.doesNotMatch(both.stderr + wide.stderr, /at .*\.js:\d+/, 'no stack trace');
});
