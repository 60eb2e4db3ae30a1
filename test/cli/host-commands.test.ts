import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from './run-cli.js';

const CLI_MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const PCI_IDS = fileURLToPath(new URL('../../../test/host/fixtures/pci.ids', import.meta.url));
const env = { IOVAMAP_PCI_IDS: PCI_IDS };
const noStack = (s: string) => assert.doesNotMatch(s, /\n\s+at |internal error/, 'no stack trace');

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'iovamap-cli-'));
}

test('inspect --platform prints groups, regions, usable ranges and interrupt safety', () => {
  const r = runCli(['inspect', '--platform', 'qemu-virt-smmuv3-gicv2', '--kernel', '6.1'], { env });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^Host: platform qemu-virt-smmuv3-gicv2 \(aarch64, kernel 6\.1, 4 KiB pages\)$/m);
  assert.match(r.stdout, /IOMMU group 0 +type DMA +interrupts NOT isolated +assignable/);
  // VFIO_SET_IOMMU fails with EPERM by default there: the header says on what condition
  assert.match(r.stdout, /IOMMU group 0 .*assignable only with allow_unsafe_interrupts$/m);
  assert.match(r.stdout, /0x0000000008000000 +0x00000000080fffff +1 MiB +sw-msi/);
  assert.match(r.stdout, /0x0000000008100000-0x0000ffffffffffff/);
  assert.match(
    r.stdout,
    /GICv2m frame at 0x8020000, which cannot tell devices apart.*allow_unsafe_interrupts=1/,
  );
  assert.match(r.stdout, /Intel Corporation 82574L Gigabit Network Connection/, 'named from pci.ids');
  assert.match(r.stdout, /Ethernet controller/);
  assert.ok(!r.stdout.includes(String.fromCharCode(27)), 'no colour when not a terminal');
});

test('inspect --json follows the documented schema', () => {
  const r = runCli(['inspect', '--platform', 'intel-xeon-hpe-rmrr', '--json'], { env });
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.schema, 'iovamap-inspect/1');
  assert.equal(j.kernel, '6.12');
  const isa = j.groups.find((g: { devices: { bdf: string }[] }) =>
    g.devices.some((d) => d.bdf === '0000:00:1f.0'),
  );
  assert.deepEqual(
    isa.reservedRegions.map(
      (r: { start: string; end: string; sysfsType: string }) => `${r.start} ${r.end} ${r.sysfsType}`,
    ),
    ['0x0 0xffffff direct-relaxable', '0xbdf6e000 0xbdf84fff direct', '0xfee00000 0xfeefffff msi'],
  );
  assert.equal(isa.assignable.ok, false);
  assert.match(isa.assignable.why, /EINVAL.*Firmware has requested this device have a 1:1 IOMMU mapping/);
  assert.equal(isa.interruptSafety.safe, true);
});

test('inspect --group and --list', () => {
  const g = runCli(['inspect', '-p', 'qemu-q35-intel-iommu', '--group', '3'], { env });
  assert.equal(g.status, 0, g.stderr);
  assert.match(g.stdout, /IOMMU group 3/);
  assert.doesNotMatch(g.stdout, /IOMMU group 2/);
  const bad = runCli(['inspect', '-p', 'qemu-q35-intel-iommu', '--group', '9'], { env });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--group 9: no such IOMMU group\n {2}hint: groups: 0, 1, 2, 3/);
  const l = runCli(['inspect', '--list']);
  assert.equal(l.status, 0);
  assert.match(l.stdout, /amd-seattle +aarch64 +AMD Opteron A1100/);
});

test('inspect errors exit 2 with a message and no stack trace', () => {
  const cases: [string[], RegExp][] = [
    [
      ['inspect', '--platform', 'qemu-q35-intel'],
      /no built-in platform "qemu-q35-intel"[\s\S]*did you mean "qemu-q35-intel-iommu"/,
    ],
    [['inspect', '--platform', 'amd-epyc', '--sysfs', '/sys'], /give one source, not --platform and --sysfs/],
    [
      ['inspect', '--platform', 'amd-epyc', '--kernel', '5.4'],
      /--kernel "5\.4": not a known value\n {2}hint: choose one of: 6\.1, 6\.12/,
    ],
    [['inspect', '--sysfs', '/nonexistent/sys'], /\/nonexistent\/sys: no such directory/],
    [['inspect', '--snapshot', '/nonexistent.json'], /\/nonexistent\.json: no such snapshot file/],
    [['inspect', '--platform', './missing.yaml'], /\.\/missing\.yaml: no such platform file/],
  ];
  for (const [args, want] of cases) {
    const r = runCli(args, { env });
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, want);
    noStack(r.stderr);
  }
});

test('a platform file with a mistake: file, line and field', () => {
  const dir = tmp();
  try {
    const f = join(dir, 'my.yaml');
    writeFileSync(
      f,
      'name: my\ndescription: d\narch: aarch64\nfirmware: acpi\nsources: [me]\niommus: []\ninterruptControllers:\n  - { id: its0, kind: gicv3-its, base: 0x8080000 }\nhostBridges:\n  - { id: rc0, buses: [0, 255], msiParent: its0 }\ndevices:\n  - { bdf: "00:1g.0", vendor: 1, device: 2, class: 3 }\n',
    );
    const r = runCli(['inspect', '--platform', f], { env });
    assert.equal(r.status, 2);
    assert.match(
      r.stderr,
      new RegExp(
        `${f.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:12: devices\\[0\\]\\.bdf: "00:1g\\.0" is not a BDF`,
      ),
    );
    noStack(r.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sysfs export, inspect --sysfs, snapshot and inspect --snapshot agree', () => {
  const dir = tmp();
  try {
    const out = join(dir, 'sys');
    const e = runCli(
      ['sysfs', 'export', '--platform', 'qemu-q35-amd-iommu', '--kernel', '6.1', '--out', out],
      { env },
    );
    assert.equal(e.status, 0, e.stderr);
    assert.match(e.stdout, /wrote 4 IOMMU groups of platform:qemu-q35-amd-iommu \(kernel 6\.1\)/);
    assert.equal(
      readFileSync(join(out, 'kernel/iommu_groups/2/reserved_regions'), 'utf8'),
      '0x00000000fee00000 0x00000000feefffff msi\n0x000000fd00000000 0x000000ffffffffff reserved\n',
    );
    assert.equal(readFileSync(join(out, 'bus/pci/devices/0000:00:03.0/vendor'), 'utf8'), '0x8086\n');
    const again = runCli(['sysfs', 'export', '--platform', 'qemu-q35-amd-iommu', '--out', out], { env });
    assert.equal(again.status, 2);
    assert.match(again.stderr, /directory is not empty/);

    const i = runCli(['inspect', '--sysfs', out, '--json'], { env });
    assert.equal(i.status, 0, i.stderr);
    const j = JSON.parse(i.stdout);
    assert.equal(j.arch, 'x86_64');
    assert.deepEqual(
      j.groups.map((g: { id: number }) => g.id),
      [0, 1, 2, 3],
    );
    assert.equal(j.groups[2].reservedRegions[0].origin.startsWith('inferred'), true);
    assert.deepEqual(
      j.ungrouped.map((d: { bdf: string }) => d.bdf),
      ['0000:00:02.0'],
    );

    const snap = join(dir, 'host.json');
    const s = runCli(['snapshot', '--sysfs', out, '--out', snap], { env });
    assert.equal(s.status, 0, s.stderr);
    const k = runCli(['inspect', '--snapshot', snap, '--json'], { env });
    assert.equal(k.status, 0, k.stderr);
    const j2 = JSON.parse(k.stdout);
    assert.deepEqual(j2.groups, j.groups);
    assert.deepEqual(j2.ungrouped, j.ungrouped);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a sysfs tree without IOMMU groups gets a plain explanation', () => {
  const dir = tmp();
  try {
    mkdirSync(join(dir, 'kernel/iommu_groups'), { recursive: true });
    mkdirSync(join(dir, 'bus/pci/devices'), { recursive: true });
    const r = runCli(['inspect', '--sysfs', dir], { env });
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stdout,
      /0 IOMMU groups\nno IOMMU groups: .*the IOMMU is off.*intel_iommu=on.*amd_iommu=on/,
    );
    // the explanation names the directory that was read, not /sys
    assert.ok(r.stdout.includes(`${join(dir, 'kernel/iommu_groups')} is empty or missing`), r.stdout);
    assert.doesNotMatch(r.stdout, /\/sys\/kernel\/iommu_groups/);
    const d = runCli(['inspect'], { env: { ...env, IOVAMAP_SYSFS_ROOT: dir } });
    assert.equal(d.status, 2);
    assert.match(d.stderr, /no IOMMU groups[\s\S]*hint: explore a built-in machine instead: --platform NAME/);
    noStack(d.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a garbled exported file is reported with its path and line', () => {
  const dir = tmp();
  try {
    const out = join(dir, 'sys');
    assert.equal(runCli(['sysfs', 'export', '-p', 'qemu-virt-smmuv3-gicv3', '-o', out]).status, 0);
    writeFileSync(
      join(out, 'kernel/iommu_groups/0/reserved_regions'),
      '0x0000000008000000 0x00000000080fffff msi\nbogus\n',
    );
    const r = runCli(['inspect', '--sysfs', out]);
    assert.equal(r.status, 2);
    assert.match(
      r.stderr,
      /kernel\/iommu_groups\/0\/reserved_regions:2: cannot parse reserved region line: "bogus"/,
    );
    noStack(r.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('usage errors of sysfs and snapshot exit 2', () => {
  assert.match(runCli(['sysfs', 'export', '--platform', 'amd-epyc']).stderr, /--out DIR is required/);
  assert.match(runCli(['sysfs', 'import', '--out', '/tmp/x']).stderr, /unknown action "import"/);
  assert.equal(runCli(['sysfs']).status, 2);
  assert.match(runCli(['snapshot']).stderr, /--out FILE is required/);
  const s = runCli(['snapshot', '--platform', 'amd-seattle', '--out', '-']);
  assert.equal(s.status, 0, s.stderr);
  assert.equal(JSON.parse(s.stdout).format, 'iovamap-host-snapshot');
});

test('inspect --snapshot - reads the snapshot from standard input (as snapshot --out - writes it)', () => {
  const s = runCli(['snapshot', '--platform', 'amd-seattle', '--out', '-']);
  const r = runCli(['inspect', '--snapshot', '-'], { input: s.stdout });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^Host: snapshot from standard input \(aarch64/);
  assert.match(r.stdout, /^4 IOMMU groups$/m);
  const bad = runCli(['inspect', '--snapshot', '-'], { input: 'not json' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^iovamap inspect: -:1: /);
});

test('every command has --help with examples', () => {
  for (const c of ['inspect', 'sysfs', 'snapshot']) {
    const r = runCli([c, '--help']);
    assert.equal(r.status, 0);
    assert.match(r.stdout, new RegExp(`^Usage: iovamap ${c}`));
    assert.match(r.stdout, /Examples:\n {2}# /);
  }
});

test('sysfs export into a place where no directory can be made fails at once (Node loops on mkdir -p in /proc)', () => {
  if (!existsSync('/proc/self')) return; // Linux only
  const r = spawnSync(
    process.execPath,
    [CLI_MAIN, 'sysfs', 'export', '--platform', 'amd-epyc', '--out', '/proc/iovamap-cannot-be/x'],
    { encoding: 'utf8', timeout: 20_000 },
  );
  assert.equal(r.status, 2, `status ${r.status} signal ${r.signal}: ${r.stderr}`);
  assert.match(r.stderr, /\/proc\/iovamap-cannot-be\/x: cannot write the tree/);
  noStack(r.stderr);
});

test('inspect of the live /sys says which VFIO backends the host offers (iommufd needs /dev/iommu and device files)', () => {
  const r = runCli(['inspect', '--sysfs', '/sys'], { env });
  assert.equal(r.status, 0, r.stderr);
  const has = existsSync('/dev/iommu') && existsSync('/dev/vfio/devices');
  assert.match(
    r.stdout,
    has
      ? /^VFIO backends: the legacy container and iommufd/m
      : /^VFIO backends: the legacy container only \(no /m,
  );
  const j = JSON.parse(runCli(['inspect', '--sysfs', '/sys', '--json'], { env }).stdout) as {
    iommufd: { dev: boolean; deviceFiles: boolean };
  };
  assert.deepEqual(j.iommufd, {
    dev: existsSync('/dev/iommu'),
    deviceFiles: existsSync('/dev/vfio/devices'),
  });
  // a model or an export cannot tell
  const p = JSON.parse(runCli(['inspect', '--platform', 'amd-epyc', '--json'], { env }).stdout) as {
    iommufd: unknown;
  };
  assert.equal(p.iommufd, null);
});
