/** `iovamap check` end to end, as a subprocess: exit status, stdout and stderr. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './run-cli.js';
import { fixturePath } from '../vmm/fixtures.js';

const AMD = fixturePath('amd-epyc.txt');
const D05 = fixturePath('hisilicon-d05.txt');
const ARM = fixturePath('arm64-smmuv3.txt');

/** Runs `iovamap` with a command line split on spaces (no argument here contains one). */
const cli = (line: string, opts?: Parameters<typeof runCli>[1]) => runCli(line.split(' '), opts);

test('check: QEMU q35 before 7.1 with 1022.75 GiB on AMD reproduces report #1 and exits 1', () => {
  const r = cli(
    `check --vmm qemu --machine pc-q35-4.2 --memory 1047296M --regions 258=${AMD} --device 0000:41:10.1 --host-arch x86_64`,
  );
  assert.equal(r.status, 1, r.stderr);
  assert.equal(r.stderr, '');
  assert.ok(
    r.stdout.includes(
      'qemu-system-x86_64: -device vfio-pci,host=0000:41:10.1: vfio 0000:41:10.1: failed to setup container for ' +
        'group 258: memory listener initialization failed: Region pc.ram: ' +
        'vfio_dma_map(0x..., 0x100000000, 0xff30000000, 0x...) = -22 (Invalid argument)',
    ),
    r.stdout,
  );
  assert.match(r.stdout, /CONFLICT 1: RAM above 4 GiB \[pc\.ram\]/);
  assert.match(
    r.stdout,
    /overlaps AMD HyperTransport window 0x000000fd00000000-0x000000ffffffffff \(12 GiB\) "reserved" of group 258/,
  );
  assert.match(r.stdout, /less memory: -machine pc-q35-4.2 -m 1010G/);
  assert.match(r.stdout, /an option \(version=latest\): -machine q35 -m 1047296M/);
  assert.match(r.stdout, /assuming an AMD vCPU/);
  assert.match(r.stdout, /does not fit: 1 conflict/);
});

test('check: the same guest on machine type >= 7.1 fits (RAM above 4 GiB relocated to 1 TiB), exit 0', () => {
  const r = cli(`check --vmm qemu-q35 --memory 1047296M --regions ${AMD}`);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /0x0000010000000000-0x000001ff2fffffff .*RAM above 4 GiB, relocated to 1 TiB/);
  assert.match(r.stdout, /fits: VFIO accepts every range qemu maps/);
});

test('check: an arm64 guest on an x86 host (report #2), QEMU 4.2 wording', () => {
  const r = cli(
    `check --vmm qemu --machine virt --memory 4G --opt version=4.2 --regions 28=${AMD} --device 0000:29:00.0 --host-arch x86_64`,
  );
  assert.equal(r.status, 1);
  assert.ok(r.stdout.includes('qemu-system-aarch64: -device vfio-pci,host=0000:29:00.0: VFIO_MAP_DMA: -22'));
  assert.ok(
    r.stdout.includes('Region mach-virt.ram: vfio_dma_map(0x..., 0x40000000, 0x100000000, 0x...) = -22'),
  );
  assert.match(r.stdout, /less memory: -machine virt-4.2 -m 3054M/);
  assert.match(r.stdout, /an aarch64 guest on this x86_64 host runs emulated/);
});

test('check: the QEMU wording follows the version (5.0 strerror, 8.2 vfio_container_dma_map, 10.0 one line)', () => {
  const call =
    /Region mach-virt\.ram: vfio_container_dma_map\(0x\.\.\., 0x40000000, 0x200000000, 0x\.\.\.\) = -22/;
  const mid = cli(`check --vmm qemu-virt --memory 8G --opt version=9.2 --regions ${D05}`);
  assert.equal(mid.status, 1);
  assert.match(mid.stdout, /VFIO_MAP_DMA failed: Invalid argument/);
  assert.match(mid.stdout, call);
  const old = cli(`check --vmm qemu-virt --memory 8G --opt version=7.2 --regions ${D05}`);
  assert.match(old.stdout, /VFIO_MAP_DMA failed: Invalid argument/);
  assert.match(old.stdout, /Region mach-virt\.ram: vfio_dma_map\(0x\.\.\., 0x40000000/);
  const r = cli(`check --vmm qemu-virt --memory 8G --regions ${D05}`);
  assert.equal(r.status, 1);
  assert.doesNotMatch(r.stdout, /VFIO_MAP_DMA/);
  assert.match(r.stdout, call);
  assert.match(r.stdout, /hardware MSI doorbell 0x00000000c6010000-0x00000000c601ffff \(64 KiB\) "msi"/);
  assert.match(r.stdout, /less memory: -machine virt -m 2144M/);
});

test('check: OpenVMM RAM at 0 on arm64 (PR #3559), and the fixed release fits', () => {
  const bad = cli(`check --vmm openvmm --arch aarch64 --memory 4G -o release=before-3559 --regions ${ARM}`);
  assert.equal(bad.status, 1);
  assert.match(bad.stdout, /overlaps SW-MSI window 0x0000000008000000-0x00000000080fffff \(1 MiB\) "msi"/);
  assert.match(bad.stdout, /IOMMU_IOAS_MAP\(iova=0x0, length=0x100000000\) = -22 \(Invalid argument\)/);
  const good = cli(`check --vmm openvmm --arch aarch64 --memory 4G --regions ${ARM}`);
  assert.equal(good.status, 0, good.stdout);
});

test('check --json: bigint addresses as 0x strings, the VMM message and the fixes', () => {
  const r = cli(`check --vmm cloud-hypervisor --arch x86_64 --memory 1100G --regions ${AMD} --json`);
  assert.equal(r.status, 1);
  const j = JSON.parse(r.stdout) as {
    fits: boolean;
    conflicts: { range: { start: string; end: string }; vmmPrints: string[]; causes: { name: string }[] }[];
    fixes: { kind: string; memory: string; commandLine: string }[];
  };
  assert.equal(j.fits, false);
  assert.equal(j.conflicts[0]!.range.start, '0x100000000');
  assert.equal(j.conflicts[0]!.causes[0]!.name, 'AMD HyperTransport window');
  assert.deepEqual(j.conflicts[0]!.vmmPrints, [
    'Error booting VM: VmBoot(DeviceManager(VfioDmaMap(IommuDmaMap(Error(22)))))',
  ]);
  const less = j.fixes.find((f) => f.kind === 'less-memory')!;
  assert.equal(less.commandLine, '--memory size=1011G');
  assert.equal(less.memory, '0xfcc0000000');
});

test('check: --memory 1022.75G is the same request as 1047296M (QEMU takes fractional sizes too)', () => {
  const line = (m: string) =>
    `check --vmm qemu --machine pc-q35-4.2 --memory ${m} --regions 258=${AMD} --device 0000:41:10.1 --host-arch x86_64`;
  const a = cli(line('1022.75G'));
  const b = cli(line('1047296M'));
  assert.equal(a.status, 1, a.stderr);
  assert.equal(a.stdout, b.stdout);
});

test('check: usage and input errors exit 2 with a message, never a stack trace', () => {
  const cases: [string[], RegExp][] = [
    [['check', '--memory', '4G', '--regions', AMD], /--vmm is required/],
    [['check', '--vmm', 'qemu-q35', '--regions', AMD], /--memory is required/],
    [['check', '--vmm', 'bochs', '--memory', '4G', '--regions', AMD], /unknown VMM "bochs"/],
    [['check', '--vmm', 'qemu-q35', '--memory', 'lots', '--regions', AMD], /--memory "lots": not a size/],
    [
      ['check', '--vmm', 'qemu-q35', '--memory', '99999999T', '--regions', AMD],
      /--memory "99999999T": too large: a size is at most 2\^64-1 bytes/,
    ],
    [
      ['check', '--vmm', 'qemu-q35', '--memory', '3.3G', '--regions', AMD],
      /--memory "3.3G": not a whole number of bytes/,
    ],
    [
      ['check', '--vmm', 'qemu-q35', '--memory', '4G', '--regions', '/nonexistent/rr'],
      /--regions \/nonexistent\/rr: no such file/,
    ],
    [
      ['check', '--vmm', 'qemu-q35', '--memory', '4G', '--regions', AMD, '--opt', 'cpu-vendor=via'],
      /cpu-vendor=via: choose one of amd, intel/,
    ],
    [
      ['check', '--vmm', 'qemu-q35', '--memory', '4G', '--regions', AMD, '--opt', 'nonsense'],
      /expected KEY=VALUE/,
    ],
    [
      ['check', '--vmm', 'qemu-virt', '--memory', '8G', '--regions', AMD, '--opt', 'highmem=off'],
      /Addressing limited to 32 bits/,
    ],
    [['check', '--vmm', 'qemu-q35', '--memory', '4G', '--regions', AMD, '--group', '7'], /no IOMMU group 7/],
    [
      ['check', '--vmm', 'qemu', '--machine', 'virt', '--arch', 'x86_64', '--memory', '4G', '--regions', AMD],
      /virt machine is aarch64/,
    ],
  ];
  for (const [args, re] of cases) {
    const r = runCli(args);
    assert.equal(r.status, 2, `${args.join(' ')}\n${r.stdout}${r.stderr}`);
    assert.match(r.stderr, re, args.join(' '));
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
});

test('check: with no host source it reads /sys (IOVAMAP_SYSFS_ROOT), and says when that is missing', () => {
  const r = runCli(['check', '--vmm', 'qemu-q35', '--memory', '4G'], {
    env: { IOVAMAP_SYSFS_ROOT: '/nonexistent' },
  });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /\/nonexistent is not available on this system/);
  assert.match(r.stderr, /hint: explore a built-in machine instead: --platform NAME/);
  const both = cli(`check --vmm qemu-q35 --memory 4G --regions ${AMD} --platform amd-epyc`);
  assert.equal(both.status, 2);
  assert.match(both.stderr, /give one host source: --regions or --platform/);
});

test('check --platform amd-epyc: the modelled host reproduces report #1, bridges left out of the container', () => {
  const r = cli(`check --platform amd-epyc --vmm qemu --machine pc-q35-4.2 --memory 1047296M`);
  assert.equal(r.status, 1, r.stderr);
  assert.match(
    r.stdout,
    /Region pc\.ram: vfio_dma_map\(0x\.\.\., 0x100000000, 0xff30000000, 0x\.\.\.\) = -22 \(Invalid argument\)/,
  );
  assert.match(r.stdout, /AMD HyperTransport window .* "reserved" of group/);
  assert.match(r.stdout, /left out groups of host and PCI bridges only/);
  const fixed = cli(`check --platform amd-epyc --vmm qemu-q35 --memory 1047296M`);
  assert.equal(fixed.status, 0, fixed.stdout);
});

test('check --platform intel-xeon-hpe-rmrr: the RMRR device is refused before any mapping, per kernel', () => {
  const args = [
    'check',
    '--platform',
    'intel-xeon-hpe-rmrr',
    '--vmm',
    'qemu-q35',
    '--memory',
    '8G',
    '--device',
    '08:00.0',
  ];
  const k612 = runCli(args);
  assert.equal(k612.status, 1);
  assert.match(k612.stdout, /REFUSED: group \d+ \(0000:08:00\.0/);
  assert.match(k612.stdout, /Firmware has requested this device have a 1:1 IOMMU mapping/);
  assert.match(
    k612.stdout,
    /failed to setup container for group \d+: Failed to set group container: Invalid argument/,
  );
  assert.match(k612.stdout, /does not fit: 1 refused group/);
  const k61 = runCli([...args, '--kernel', '6.1']);
  assert.equal(k61.status, 1);
  assert.match(k61.stdout, /Device is ineligible for IOMMU domain attach due to platform RMRR requirement/);
  assert.match(k61.stdout, /Failed to set group container: Operation not permitted/);
});

test('check --platform amd-seattle: GICv2m cannot isolate MSIs, every group is refused', () => {
  const r = cli(`check --platform amd-seattle --vmm qemu --machine virt --memory 8G`);
  assert.equal(r.status, 1);
  assert.match(r.stdout, /REFUSED: group \d+ .*GICv2m/);
  assert.match(r.stdout, /Failed to set iommu for container: Operation not permitted/);
});

test('check: a malformed reserved_regions file names the file and line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'iovamap-check-'));
  const f = join(dir, 'rr');
  writeFileSync(f, '0x00000000fee00000 0x00000000feefffff msi\n0xfee00000 oops\n');
  const r = cli(`check --vmm qemu-q35 --memory 4G --regions ${f}`);
  assert.equal(r.status, 2);
  assert.ok(r.stderr.includes(`${f}:2: cannot parse reserved region line`), r.stderr);
});

test('check --help lists the options, the per-VMM options and examples', () => {
  const r = runCli(['check', '--help']);
  assert.equal(r.status, 0);
  assert.match(r.stdout, /Usage: iovamap check/);
  assert.match(r.stdout, /qemu-q35: version, max-ram-below-4g, cpu-vendor=amd\|intel/);
  assert.match(r.stdout, /--regions FILE/);
});

test('check: notes how much memory VFIO pins, what RLIMIT_MEMLOCK the VMM needs without CAP_IPC_LOCK', () => {
  const r = cli('check --vmm firecracker --memory 2G --platform qemu-virt-smmuv3-gicv3');
  assert.equal(r.status, 0, r.stderr);
  assert.match(
    r.stdout,
    /VFIO pins the 2 GiB of RAM and firmware it maps .* without CAP_IPC_LOCK the VMM needs RLIMIT_MEMLOCK of at least that/,
  );
});

test('check --memlock: the mapping that passes RLIMIT_MEMLOCK, the kernel log, what QEMU prints, the fix', () => {
  const r = cli(
    'check --vmm qemu --machine pc-q35-9.2 --memory 8G --platform qemu-q35-intel-iommu --memlock 4G',
  );
  assert.equal(r.status, 1, r.stderr);
  assert.match(
    r.stdout,
    /LOCKED MEMORY: RAM above 4 GiB \[pc\.ram\] 0x0000000100000000-0x000000027fffffff \(6 GiB\) is refused with ENOMEM/,
  );
  assert.ok(
    r.stdout.includes('kernel log: vfio_pin_pages_remote: RLIMIT_MEMLOCK (4294967296) exceeded'),
    r.stdout,
  );
  assert.ok(r.stdout.includes('VFIO_MAP_DMA failed: Cannot allocate memory'), r.stdout);
  assert.ok(r.stdout.includes('= -12 (Cannot allocate memory)'), r.stdout);
  assert.match(r.stdout, /fix: raise the VMM's RLIMIT_MEMLOCK to at least 8590065664 bytes/);
  assert.match(r.stdout, /does not fit: the pinned memory passes RLIMIT_MEMLOCK/);
  const enough = cli('check --vmm qemu --memory 8G --platform qemu-q35-intel-iommu --memlock 9G');
  assert.equal(enough.status, 0, enough.stdout);
  assert.match(enough.stdout, /RLIMIT_MEMLOCK 9 GiB covers the 8590065664 bytes \(~8\.0 GiB\) VFIO pins/);
  const json = JSON.parse(
    cli('check --vmm cloud-hypervisor --memory 2G --platform qemu-virt-smmuv3-gicv3 --memlock 1G --json')
      .stdout,
  ) as {
    fits: boolean;
    memlock: { limit: string; pinned: string; refused: { kernelLog: string; vmmPrints: string[] } };
  };
  assert.equal(json.fits, false);
  assert.equal(json.memlock.pinned, '0x80000000');
  assert.equal(json.memlock.refused.kernelLog, 'vfio_pin_pages_remote: RLIMIT_MEMLOCK (1073741824) exceeded');
  assert.deepEqual(json.memlock.refused.vmmPrints, [
    'Error booting VM: VmBoot(DeviceManager(VfioDmaMap(IommuDmaMap(Error(12)))))',
  ]);
  for (const [arg, re] of [
    ['3.3G', /--memlock 3\.3G: not a whole number of bytes/],
    ['lots', /--memlock "lots": not a size or "unlimited"/],
  ] as const) {
    const bad = cli(`check --vmm qemu --memory 8G --platform qemu-q35-intel-iommu --memlock ${arg}`);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, re);
    assert.doesNotMatch(bad.stderr, /\n\s+at /, 'no stack trace');
  }
});

test('check --viommu --memlock: a container per device, each pinning the RAM; the device whose container fails', () => {
  const base =
    'check --vmm qemu --memory 8G --platform qemu-q35-intel-iommu --device 0000:00:01.0 --device 0000:00:02.0';
  const r = cli(`${base} --memlock 12G --viommu`);
  assert.equal(r.status, 1, r.stderr);
  assert.match(
    r.stdout,
    /assigning group 1 \(0000:00:01\.0\), group 2 \(0000:00:02\.0\) behind a vIOMMU \(a container each\)/,
  );
  assert.match(
    r.stdout,
    /LOCKED MEMORY: RAM above 4 GiB \[pc\.ram\] .* is refused with ENOMEM \(RLIMIT_MEMLOCK\) in container 2 of 2, for 0000:00:02\.0 \(group 2\)/,
  );
  assert.ok(
    r.stdout.includes(
      '-device vfio-pci,host=0000:00:02.0: vfio 0000:00:02.0: failed to setup container for group 2',
    ),
  );
  assert.match(
    r.stdout,
    /fix: raise the VMM's RLIMIT_MEMLOCK to at least 17180131328 bytes \(~16\.0 GiB\) \(2 containers x 8590065664 bytes/,
  );
  assert.match(r.stdout, /less memory: -machine q35 -m 6143M/);
  // the containers are set up in the order the devices are given: the last one fails
  const swapped = cli(
    'check --vmm qemu --memory 8G --platform qemu-q35-intel-iommu --device 0000:00:02.0 --device 0000:00:01.0 --memlock 12G --viommu',
  );
  assert.match(swapped.stdout, /in container 2 of 2, for 0000:00:01\.0 \(group 1\)/);
  // the same devices in one shared container fit
  assert.equal(cli(`${base} --memlock 12G`).status, 0);
  const json = JSON.parse(cli(`${base} --memlock 12G --viommu --json`).stdout) as {
    memlock: {
      containers: number;
      perContainer: string;
      refused: { container: number; device: string; group: number };
    };
  };
  assert.equal(json.memlock.containers, 2);
  assert.equal(json.memlock.perContainer, '0x200020000');
  assert.deepEqual(
    [json.memlock.refused.container, json.memlock.refused.device, json.memlock.refused.group],
    [2, '0000:00:02.0', 2],
  );
  const ch = cli('check --vmm cloud-hypervisor --memory 2G --platform qemu-q35-intel-iommu --viommu');
  assert.equal(ch.status, 2);
  assert.match(ch.stderr, /--viommu: modelled for QEMU only, not for cloud-hypervisor-x86_64/);
  assert.doesNotMatch(ch.stderr, /\n\s+at /, 'no stack trace');
});

test('check --qemu-cmdline: the guest, its devices and vIOMMU from a script, standard input or a running QEMU', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'iovamap-cmdline-'));
  const script = join(dir, 'vm.sh');
  writeFileSync(
    script,
    [
      '#!/bin/sh',
      'exec qemu-system-x86_64 -machine pc-q35-8.2,accel=kvm -cpu host -m 8G \\',
      '  -device intel-iommu,caching-mode=on \\',
      '  -device vfio-pci,host=00:01.0 -device vfio-pci,host=00:02.0',
      '',
    ].join('\n'),
  );
  const r = cli(`check --qemu-cmdline ${script} --platform qemu-q35-intel-iommu --memlock 12G`);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stdout, /QEMU q35 \(x86_64\), 8 GiB of RAM {2}\(options: version=8\.2/);
  assert.match(r.stdout, /assigning group 1 \(0000:00:01\.0\), group 2 \(0000:00:02\.0\) behind a vIOMMU/);
  assert.match(r.stdout, /in container 2 of 2, for 0000:00:02\.0 \(group 2\)/);
  assert.match(
    r.stdout,
    /read from the QEMU command line \(.*vm\.sh\): qemu-system-x86_64, -machine pc-q35-8\.2, 8 GiB of RAM/,
  );
  // options given as well win: less memory fits
  const less = cli(
    `check --qemu-cmdline ${script} --platform qemu-q35-intel-iommu --memlock 12G --memory 5G`,
  );
  assert.equal(less.status, 0, less.stdout);
  assert.match(less.stdout, /--memory 5 GiB instead of the command line's/);
  // and a machine given as well brings its own version
  const older = cli(`check --qemu-cmdline ${script} --platform qemu-q35-intel-iommu --machine pc-q35-7.0`);
  assert.match(older.stdout, /options: version=7\.0/);
  const stdin = runCli(['check', '--qemu-cmdline', '-', '--platform', 'qemu-q35-intel-iommu', '--json'], {
    input: readFileSync(script, 'utf8'),
  });
  assert.equal(stdin.status, 0, stdin.stderr);
  assert.deepEqual(
    (JSON.parse(stdin.stdout) as { groups: { id: number }[] }).groups.map((g) => g.id),
    [1, 2],
  );
  // a running process: its /proc/PID/cmdline (sh keeps the words after -c's script as its arguments)
  const child = spawn(
    'sh',
    ['-c', 'sleep 30', 'qemu-system-x86_64', '-M', 'q35', '-m', '2G', '-device', 'vfio-pci,host=00:01.0'],
    {
      stdio: 'ignore',
    },
  );
  try {
    await new Promise((res) => setTimeout(res, 200));
    const p = cli(`check --qemu-cmdline pid:${child.pid} --platform qemu-q35-intel-iommu`);
    assert.equal(p.status, 0, p.stdout + p.stderr);
    assert.match(p.stdout, /QEMU q35 \(x86_64\), 2 GiB of RAM/);
    assert.match(p.stdout, /assigning group 1 \(0000:00:01\.0\)\n/);
    // and that process's own RLIMIT_MEMLOCK (or none with CAP_IPC_LOCK)
    assert.match(
      p.stdout,
      new RegExp(
        `RLIMIT_MEMLOCK of process ${child.pid} \\(sh\\)|process ${child.pid} \\(sh\\) has CAP_IPC_LOCK`,
      ),
    );
  } finally {
    child.kill();
  }
  for (const [args, re] of [
    [`--qemu-cmdline ${script} --vmm qemu`, /give --vmm or --qemu-cmdline, not both/],
    [`--qemu-cmdline ${join(dir, 'none.sh')}`, /--qemu-cmdline .*none\.sh: no such file/],
    ['--qemu-cmdline pid:4294967', /--qemu-cmdline pid:4294967: no such process/],
  ] as const) {
    const bad = cli(`check ${args} --platform qemu-q35-intel-iommu`);
    assert.equal(bad.status, 2, bad.stdout);
    assert.match(bad.stderr, re);
    assert.doesNotMatch(bad.stderr, /\n\s+at /, 'no stack trace');
  }
  writeFileSync(script, 'qemu-system-x86_64 -machine q35 \\\n  -m 8Q\n');
  const garbled = cli(`check --qemu-cmdline ${script} --platform qemu-q35-intel-iommu`);
  assert.equal(garbled.status, 2);
  assert.match(garbled.stderr, /vm\.sh:2: -m 8Q: not a memory size/);
});

test('check --cmdline: a crosvm command from standard input, a running cloud-hypervisor, and mistakes', async () => {
  // crosvm with 1 TiB on an AMD host: RAM above 4 GiB crosses the HyperTransport hole
  const cv = cli('check --cmdline - --platform qemu-q35-amd-iommu', {
    input: 'crosvm run -m 1048576 --vfio /sys/bus/pci/devices/0000:00:03.0 bzImage\n',
  });
  assert.equal(cv.status, 1, cv.stdout + cv.stderr);
  assert.match(cv.stdout, /^crosvm \(x86_64\), 1 TiB of RAM/);
  assert.match(cv.stdout, /assigning group 2 \(0000:00:03\.0\)/);
  assert.match(cv.stdout, /overlaps AMD HyperTransport window/);
  assert.match(
    cv.stdout,
    /crosvm prints:\n\s+failed to add guest memory map into iommu table: Invalid argument/,
  );
  assert.match(cv.stdout, /less memory: --mem 1035520 /);
  // a running cloud-hypervisor: its /proc/PID/cmdline, and its own RLIMIT_MEMLOCK
  const child = spawn(
    'sh',
    [
      '-c',
      'sleep 30',
      'cloud-hypervisor',
      '--memory',
      'size=2G',
      '--device',
      'path=/sys/bus/pci/devices/0000:00:01.0/',
    ],
    { stdio: 'ignore' },
  );
  try {
    await new Promise((res) => setTimeout(res, 200));
    const p = cli(`check --cmdline pid:${child.pid} --platform qemu-q35-intel-iommu`);
    assert.equal(p.status, 0, p.stdout + p.stderr);
    assert.match(p.stdout, /^cloud-hypervisor \(x86_64\), 2 GiB of RAM/);
    assert.match(p.stdout, /assigning group 1 \(0000:00:01\.0\)\n/);
    assert.match(p.stdout, new RegExp(`process ${child.pid} \\(sh\\)`));
  } finally {
    child.kill();
  }
  // cloud-hypervisor with iommu=on: nothing mapped at boot, so 1016 GiB meets no region; the guest is
  // told only of the MSI window, not of the HyperTransport hole
  const behind = cli('check --cmdline - --platform qemu-q35-amd-iommu', {
    input: 'cloud-hypervisor --memory size=1016G --device path=/sys/bus/pci/devices/0000:00:03.0/,iommu=on\n',
  });
  assert.equal(behind.status, 0, behind.stdout + behind.stderr);
  assert.match(behind.stdout, /group 2 \(0000:00:03\.0\) sits behind cloud-hypervisor's virtio-iommu/);
  assert.match(
    behind.stdout,
    /not of \[0xfd00000000, 0xffffffffff\] AMD HyperTransport window: a guest mapping there fails/,
  );
  const bare = cli('check --cmdline - --platform qemu-q35-amd-iommu', {
    input: 'cloud-hypervisor --memory size=1016G --device path=/sys/bus/pci/devices/0000:00:03.0/\n',
  });
  assert.equal(bare.status, 1, 'without iommu=on the RAM is mapped at boot, into the hole');
  // the QEMU reader behind --cmdline too, and --memory given as well wins
  const q = cli('check --cmdline - --memory 4G --platform qemu-q35-intel-iommu', {
    input: 'qemu-system-x86_64 -M q35 -m 2G -device vfio-pci,host=00:01.0\n',
  });
  assert.equal(q.status, 0, q.stderr);
  assert.match(q.stdout, /^QEMU q35 \(x86_64\), 4 GiB of RAM/);
  assert.match(q.stdout, /--memory 4 GiB instead of the command line's/);
  for (const [args, input, re] of [
    ['--cmdline - --vmm crosvm', 'crosvm run k', /give --vmm or --cmdline, not both/],
    ['--cmdline - --qemu-cmdline -', 'crosvm run k', /give --cmdline or --qemu-cmdline, not both/],
    ['--cmdline -', 'firecracker --api-sock /tmp/fc.sock', /standard input: no VMM command found/],
    [
      '--cmdline -',
      'cloud-hypervisor \\\n --memory size=8g',
      /standard input:2: --memory size=8g: size=8g is not a size/,
    ],
  ] as const) {
    const bad = cli(`check ${args} --platform qemu-q35-intel-iommu`, { input });
    assert.equal(bad.status, 2, bad.stdout);
    assert.match(bad.stderr, re);
    assert.doesNotMatch(bad.stderr, /\n\s+at /, 'no stack trace');
  }
});

test('check --backend iommufd: the IOAS wording, per-user locked memory, the kernel gate, and mistakes', () => {
  const base =
    'check --vmm qemu --memory 8G --platform qemu-q35-intel-iommu --device 00:01.0 --backend iommufd';
  const ok = cli(`${base} --memlock 16G`);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /assigning group 1 \(0000:00:01\.0\), through iommufd/);
  assert.match(ok.stdout, /usable IOVA ranges of the IOAS \(what IOMMU_IOAS_IOVA_RANGES reports\)/);
  const crowded = cli(`${base} --memlock 16G --user-locked 10G`);
  assert.equal(crowded.status, 1);
  assert.match(crowded.stdout, /kernel log: nothing \(iommufd does not log a refused pin\)/);
  assert.match(crowded.stdout, /IOMMU_OPTION_RLIMIT_MODE=1/);
  assert.match(crowded.stdout, /less memory: -machine q35 -m 6143M/);
  const json = JSON.parse(cli(`${base} --memlock 16G --user-locked 10G --json`).stdout) as {
    backend: string;
    memlock: { accounting: string; userLocked: string; refused: Record<string, unknown> };
  };
  assert.equal(json.backend, 'iommufd');
  assert.equal(json.memlock.accounting, 'user');
  assert.equal(json.memlock.userLocked, '0x280000000', '10 GiB, as every address and size: a 0x string');
  assert.equal('kernelLog' in json.memlock.refused, false);
  // the VmPin of a user's processes on this host
  const mine = cli(`${base} --user-locked uid:${process.getuid!()}`);
  assert.equal(mine.status, 0, mine.stderr);
  assert.match(
    mine.stdout,
    new RegExp(`--user-locked uid:${process.getuid!()}: [0-9]+ process(es)? of uid [0-9]+ pin `),
  );
  const old = cli(`${base} --kernel 6.1`);
  assert.equal(old.status, 1);
  assert.match(old.stdout, /REFUSED: group 1 \(0000:00:01\.0\): Linux 6\.1 has no VFIO device files/);
  // from a QEMU command line: -object iommufd without fd= is per-user accounting
  const q = cli('check --cmdline - --platform qemu-q35-intel-iommu --memlock 16G --user-locked 10G', {
    input:
      'qemu-system-x86_64 -M q35 -m 8G -object iommufd,id=ifd -device vfio-pci,host=00:01.0,iommufd=ifd\n',
  });
  assert.equal(q.status, 1, q.stderr);
  assert.match(q.stdout, /by the user's other processes/);
  for (const [args, re] of [
    ['--vmm qemu --memory 2G --user-locked 1G', /--user-locked applies to --backend iommufd only/],
    [
      '--vmm qemu --memory 2G --iommufd-accounting user',
      /--iommufd-accounting applies to --backend iommufd only/,
    ],
    [
      '--vmm crosvm --memory 2G --backend iommufd',
      /--backend iommufd: crosvm \(x86_64\) has no iommufd backend/,
    ],
    [
      '--vmm qemu --memory 2G --backend iommufd --iommufd-accounting process --user-locked 1G',
      /--user-locked counts with per-user accounting/,
    ],
    ['--vmm qemu --memory 2G --backend vfio', /--backend/],
    [
      '--vmm qemu --memory 2G --backend iommufd --user-locked user:no-such-user',
      /no such user in \/etc\/passwd/,
    ],
  ] as const) {
    const bad = cli(`check ${args} --platform qemu-q35-intel-iommu`);
    assert.equal(bad.status, 2, bad.stdout);
    assert.match(bad.stderr, re);
    assert.doesNotMatch(bad.stderr, /\n\s+at /, 'no stack trace');
  }
});

test('behind a vIOMMU two devices of one group need one conventional PCI bridge, or QEMU refuses the second', () => {
  const base = 'check --platform qemu-q35-intel-iommu-rootport --qemu-cmdline -';
  const qemu = (extra: string) =>
    'qemu-system-x86_64 -M q35 -m 4G -device intel-iommu,caching-mode=on ' +
    '-device pcie-root-port,id=rp1,bus=pcie.0 ' +
    extra +
    '\n';
  const split = runCli(base.split(' '), {
    input: qemu(
      '-device vfio-pci,host=01:00.0,bus=rp1,multifunction=on -device vfio-pci,host=01:00.1,bus=rp1,addr=0.1',
    ),
  });
  assert.equal(split.status, 1, split.stderr);
  assert.match(
    split.stdout,
    /REFUSED: group 4 \(0000:01:00\.0, 0000:01:00\.1\): its devices 0000:01:00\.0, 0000:01:00\.1 would each get an address space/,
  );
  assert.ok(
    split.stdout.includes(
      'qemu-system-x86_64: -device vfio-pci,host=0000:01:00.1: vfio 0000:01:00.1: group 4 used in multiple address spaces',
    ),
    split.stdout,
  );
  const bridged = runCli(base.split(' '), {
    input: qemu(
      '-device pcie-pci-bridge,id=br0,bus=rp1 -device vfio-pci,host=01:00.0,bus=br0,addr=1 -device vfio-pci,host=01:00.1,bus=br0,addr=2',
    ),
  });
  assert.equal(bridged.status, 0, bridged.stdout);
  // devices of two groups behind one bridge share its address space, so one container pins the RAM once
  const shared = runCli(
    ['check', '--platform', 'qemu-q35-intel-iommu', '--qemu-cmdline', '-', '--memlock', '5G'],
    {
      input:
        'qemu-system-x86_64 -M q35 -m 4G -device intel-iommu,caching-mode=on -device pcie-pci-bridge,id=br0 ' +
        '-device vfio-pci,host=00:01.0,bus=br0 -device vfio-pci,host=00:02.0,bus=br0\n',
    },
  );
  assert.equal(shared.status, 0, shared.stdout);
  assert.match(shared.stdout, /RLIMIT_MEMLOCK 5 GiB covers the \d+ bytes \(~4\.0 GiB\) VFIO pins/);
  // the same two devices without a vIOMMU share one container
  assert.equal(
    cli(
      'check --vmm qemu --memory 4G --platform qemu-q35-intel-iommu-rootport --device 01:00.0 --device 01:00.1',
    ).status,
    0,
  );
  const named = cli(
    'check --vmm qemu --memory 4G --platform qemu-q35-intel-iommu-rootport --device 01:00.0 --device 01:00.1 --viommu',
  );
  assert.equal(named.status, 1);
  assert.match(named.stdout, /group 4 used in multiple address spaces/);
});

test('check --libvirt-xml: the domain and the RLIMIT_MEMLOCK libvirt gives its QEMU', () => {
  const xml = fixturePath('libvirt-gpu-viommu.xml');
  // a hard_limit of exactly the guest's memory: the first container's firmware already passes it
  const r = cli(`check --libvirt-xml ${xml} --platform qemu-q35-intel-iommu`);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stdout, /assigning group 1 \(0000:00:01\.0\), group 2 \(0000:00:02\.0\) behind a vIOMMU/);
  assert.match(r.stdout, /libvirt sets RLIMIT_MEMLOCK to the <memtune> hard_limit, 8 GiB/);
  assert.match(
    r.stdout,
    /LOCKED MEMORY: RAM above 4 GiB \[pc\.ram\] .* in container 1 of 2, for 0000:00:01\.0/,
  );
  assert.match(
    r.stdout,
    /the limit is the domain's <memtune> hard_limit: raise it to at least 16777472 KiB \(<hard_limit unit='KiB'>16777472<\/hard_limit>\), or remove it/,
  );
  // without the hard limit, libvirt's own rule (2 x 8 GiB + 1 GiB) covers both containers
  const dir = mkdtempSync(join(tmpdir(), 'iovamap-xml-'));
  const own = join(dir, 'own.xml');
  writeFileSync(own, readFileSync(xml, 'utf8').replace(/<memtune>[\s\S]*?<\/memtune>/, ''));
  const ok = cli(`check --libvirt-xml ${own} --platform qemu-q35-intel-iommu`);
  assert.equal(ok.status, 0, ok.stdout);
  assert.match(ok.stdout, /libvirt sets RLIMIT_MEMLOCK to 2 x the guest's memory \+ 1 GiB, 17 GiB/);
  // --memlock given as well wins
  const lower = cli(`check --libvirt-xml ${own} --platform qemu-q35-intel-iommu --memlock 16G`);
  assert.equal(lower.status, 1);
  assert.doesNotMatch(lower.stdout, /libvirt sets RLIMIT_MEMLOCK/);
  const both = cli(`check --libvirt-xml ${own} --qemu-cmdline ${own} --platform qemu-q35-intel-iommu`);
  assert.equal(both.status, 2);
  assert.match(both.stderr, /give --qemu-cmdline or --libvirt-xml, not both/);
  writeFileSync(own, '<domain>\n  <memory unit="KiB">lots</memory>\n</domain>\n');
  const bad = cli(`check --libvirt-xml ${own} --platform qemu-q35-intel-iommu`);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /own\.xml:2: <memory> "lots" KiB: not a size/);
  assert.doesNotMatch(bad.stderr, /\n\s+at /, 'no stack trace');
});

test("QEMU's SMMUv3 cannot carry VFIO devices (no MAP notifier): every group is refused; the iommufd backend is not modelled", () => {
  const run = (input: string) =>
    runCli(['check', '--qemu-cmdline', '-', '--platform', 'qemu-virt-smmuv3-gicv3'], { input });
  const smmu = run(
    'qemu-system-aarch64 -M virt,iommu=smmuv3,gic-version=3 -m 2G -device vfio-pci,host=00:01.0\n',
  );
  assert.equal(smmu.status, 1, smmu.stderr);
  assert.match(
    smmu.stdout,
    /REFUSED: group \d+ \(0000:00:01\.0\): the guest's smmuv3 cannot tell VFIO which IOVAs it maps/,
  );
  assert.ok(
    smmu.stdout.includes(
      'memory listener initialization failed: Region smmuv3-iommu-memory-region-<bus>-<devfn>: device <bus>.<slot>.<fn> requires iommu MAP notifier which is not currently supported',
    ),
    smmu.stdout,
  );
  assert.match(
    run(
      'qemu-system-aarch64 -M virt -m 2G -device arm-smmuv3,primary-bus=pcie.0 -device vfio-pci,host=00:01.0\n',
    ).stdout,
    /MAP notifier/,
  );
  const fd = run(
    'qemu-system-aarch64 -M virt,iommu=smmuv3 -m 2G -object iommufd,id=fd0 -device vfio-pci,host=00:01.0,iommufd=fd0\n',
  );
  assert.equal(fd.status, 0, fd.stdout);
  assert.match(fd.stdout, /iommufd backend behind the smmuv3: not modelled/);
  // a libvirt domain says it with <iommu model='smmuv3'/>
  const xml =
    "<domain><memory unit='GiB'>2</memory><os><type arch='aarch64' machine='virt-9.2'>hvm</type></os><devices>" +
    "<hostdev mode='subsystem' type='pci'><source><address domain='0' bus='0' slot='1' function='0'/></source></hostdev>" +
    "<iommu model='smmuv3'/></devices></domain>";
  const dom = runCli(['check', '--libvirt-xml', '-', '--platform', 'qemu-virt-smmuv3-gicv3'], { input: xml });
  assert.equal(dom.status, 1, dom.stderr);
  assert.match(dom.stdout, /requires iommu MAP notifier/);
});

test('intel-iommu without caching-mode=on: QEMU refuses device assignment (exits at machine done; 10.2 fails the device)', () => {
  const run = (machine: string, iommu: string) =>
    runCli(['check', '--qemu-cmdline', '-', '--platform', 'qemu-q35-intel-iommu'], {
      input: `qemu-system-x86_64 -M ${machine} -m 2G -device ${iommu} -device vfio-pci,host=00:01.0\n`,
    });
  const old = run('pc-q35-8.2', 'intel-iommu,intremap=on');
  assert.equal(old.status, 1, old.stderr);
  assert.match(
    old.stdout,
    /REFUSED: group 1 \(0000:00:01\.0\): the guest's intel-iommu runs without caching-mode=on/,
  );
  assert.ok(
    old.stdout.includes(
      'qemu-system-x86_64: We need to set caching-mode=on for intel-iommu to enable device assignment with IOMMU protection.',
    ),
    old.stdout,
  );
  const newer = run('pc-q35-10.2', 'intel-iommu,caching-mode=off');
  assert.ok(
    newer.stdout.includes(
      'vfio 0000:00:01.0: Failed to set vIOMMU: Device assignment is not allowed without enabling caching-mode=on for Intel IOMMU.',
    ),
    newer.stdout,
  );
  assert.equal(run('pc-q35-8.2', 'intel-iommu,caching-mode=on').status, 0);
});

test('check --memlock pid:N reads a running process: its soft RLIMIT_MEMLOCK, or none with CAP_IPC_LOCK', async () => {
  if (!existsSync('/proc/self/limits')) return; // not Linux
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 200));
    const pid = child.pid!;
    const capEff = /CapEff:\s*([0-9a-f]+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]!;
    const soft = /Max locked memory\s+(\S+)/.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'))![1]!;
    const r = cli(`check --vmm qemu --memory 8G --platform qemu-q35-intel-iommu --memlock pid:${pid}`);
    if (((BigInt('0x' + capEff) >> 14n) & 1n) === 1n) {
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.match(r.stdout, new RegExp(`process ${pid} \\(sleep\\) has CAP_IPC_LOCK`));
    } else {
      assert.match(r.stdout, new RegExp(`RLIMIT_MEMLOCK of process ${pid} \\(sleep\\): ${soft}`));
    }
  } finally {
    child.kill();
  }
  const gone = cli('check --vmm qemu --memory 8G --platform qemu-q35-intel-iommu --memlock pid:4294967');
  assert.equal(gone.status, 2);
  assert.match(gone.stderr, /--memlock pid:4294967: no such process/);
});
