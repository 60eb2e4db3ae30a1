/**
 * cloud-hypervisor and crosvm command lines read back into a guest description: the forms users have
 * (a script, a one-line command, /proc/PID/cmdline), each VMM's own value syntax, the VFIO devices in
 * order, defaults when an option is missing, and errors that name the option and the line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IovamapError } from '../../src/base/errors.js';
import { commandWords } from '../../src/base/shell-words.js';
import { keyValues } from '../../src/vmm/rust-vmm-cmdline.js';
import { parseVmmCommandLine } from '../../src/vmm/vmm-cmdline.js';

const M = 1n << 20n;
const G = 1n << 30n;

function fails(text: string, re: RegExp): void {
  assert.throws(
    () => parseVmmCommandLine(text, 'vm.sh'),
    (e: unknown) => e instanceof IovamapError && re.test(e.message),
  );
}

test('cloud-hypervisor: --memory size with K/M/G, --device paths in order, several values after one --device', () => {
  const script = [
    '#!/bin/sh',
    'exec /usr/local/bin/cloud-hypervisor \\',
    '  --cpus boot=8,max_phys_bits=46 \\',
    '  --memory size=16G,shared=on,hugepages=on \\',
    '  --kernel /boot/hypervisor-fw \\',
    '  --device path=/sys/bus/pci/devices/0000:41:00.0/ path=/sys/bus/pci/devices/0000:41:00.1,id=audio \\',
    '  --device path=/sys/bus/pci/devices/0000:42:00.0/ \\',
    '  --disk path=/var/lib/vm/os.raw',
  ].join('\n');
  const d = parseVmmCommandLine(script, 'vm.sh');
  assert.equal(d.vmm, 'cloud-hypervisor');
  assert.equal(d.arch, undefined, "the binary does not say the guest's architecture: the host's");
  assert.equal(d.memory, 16n * G);
  assert.deepEqual(d.devices, ['0000:41:00.0', '0000:41:00.1', '0000:42:00.0']);
  assert.deepEqual(d.options, {});
  assert.match(
    d.notes[0]!,
    /read from the cloud-hypervisor command line \(vm\.sh\): 16 GiB of RAM, VFIO 0000:41:00\.0/,
  );
  // --opt=value and a plain byte count
  assert.equal(parseVmmCommandLine('cloud-hypervisor --memory=size=1073741824', 's').memory, G);
  assert.equal(parseVmmCommandLine('cloud-hypervisor --memory size=524288K', 's').memory, 512n * M);
});

test('cloud-hypervisor: defaults, memory zones, hotplug, iommu=on, iommufd, fd= and mdev devices', () => {
  const none = parseVmmCommandLine('cloud-hypervisor --kernel vmlinux', 's');
  assert.equal(none.memory, 512n * M, 'DEFAULT_MEMORY_MB');
  assert.match(none.notes.join('\n'), /no --memory: cloud-hypervisor gives the guest its default 512 MiB/);
  const zones = parseVmmCommandLine(
    'cloud-hypervisor --memory size=0 --memory-zone id=a,size=2G,host_numa_node=0 id=b,size=6G id=c',
    's',
  );
  assert.equal(zones.memory, 8n * G + 512n * M, 'a zone without size= has the default 512 MiB');
  assert.match(zones.notes.join('\n'), /sum of the --memory-zone sizes/);
  fails('cloud-hypervisor --memory size=0', /--memory size=0 without a --memory-zone/);
  fails(
    'cloud-hypervisor --memory size=0 --memory-zone id=a,size=0',
    /memory zones of size 0: the guest has no RAM/,
  );
  const hot = parseVmmCommandLine(
    'cloud-hypervisor --memory size=4G,hotplug_size=8G --platform num_pci_segments=2,iommufd=on ' +
      '--device path=/sys/bus/pci/devices/0000:01:00.0,iommu=on fd=42 path=/sys/bus/mdev/devices/c0ffee/',
    's',
  );
  assert.equal(hot.memory, 4n * G);
  assert.deepEqual(hot.devices, ['0000:01:00.0']);
  assert.deepEqual(
    hot.guestMapped,
    ['0000:01:00.0'],
    'iommu=on: a container of its own, mapped by the guest',
  );
  const notes = hot.notes.join('\n');
  for (const re of [
    /hotplug_size=8G: hotplugged memory is not modelled/,
    /iommufd=on/,
    /fd=42.*not named; give it with --device BDF/,
    /mediated device \(mdev\) is not modelled/,
  ])
    assert.match(notes, re);
});

test('cloud-hypervisor: a bad size or device path names the line and the option', () => {
  fails('cloud-hypervisor \\\n  --memory size=16g', /^vm\.sh:2: --memory size=16g: size=16g is not a size/);
  fails('cloud-hypervisor --memory size=4X', /size=4X is not a size/);
  fails(
    'cloud-hypervisor --device path=/dev/vfio/12',
    /path=\/dev\/vfio\/12 is not a PCI device's sysfs directory/,
  );
  fails('cloud-hypervisor --memory', /--memory: the option has no value/);
});

test('crosvm: -m/--mem in MiB (plain, size=, hex), --vfio with options, --pci mem and ecam starts', () => {
  const d = parseVmmCommandLine(
    'crosvm --log-level info run -c 4 -m 4096 --vfio /sys/bus/pci/devices/0000:03:00.0,guest-address=00:05.0 ' +
      '--vfio /sys/bus/pci/devices/0000:03:00.1/,iommu=viommu --pci mem=[start=0xc0000000,size=0x10000000] bzImage',
    's',
  );
  assert.equal(d.vmm, 'crosvm');
  assert.equal(d.memory, 4n * G);
  assert.deepEqual(d.devices, ['0000:03:00.0', '0000:03:00.1']);
  assert.deepEqual(d.options, { 'pci-mem-start': '0xc0000000' });
  assert.match(d.notes.join('\n'), /--vfio 0000:03:00\.1 iommu=viommu: behind crosvm's virtio-iommu/);
  assert.equal(parseVmmCommandLine('crosvm run --mem size=0x1000 k', 's').memory, 4n * G);
  assert.equal(parseVmmCommandLine('crosvm run k', 's').memory, 256n * M, "crosvm's default");
  // the deprecated --pci-start, and an ECAM below the default start moves low PCI memory down with it
  assert.deepEqual(parseVmmCommandLine('crosvm run --pci-start 0xa0000000 k', 's').options, {
    'pci-mem-start': '0xa0000000',
  });
  assert.deepEqual(
    parseVmmCommandLine('crosvm run --pci ecam=[start=0xb0000000,size=0x4000000] k', 's').options,
    {
      'pci-mem-start': '0xb0000000',
    },
  );
  assert.deepEqual(parseVmmCommandLine('crosvm run --pci ecam=[start=0xe0000000] k', 's').options, {});
});

test('crosvm: errors name the option; a command without "run" is not a VM', () => {
  fails('crosvm run --mem size=lots k', /--mem size=lots: size=lots is not a number/);
  fails('crosvm run -m 0 k', /the guest needs some RAM/);
  fails('crosvm run --vfio /dev/vfio/3 k', /\/dev\/vfio\/3 is not a PCI device's sysfs directory/);
  fails('crosvm stop /run/crosvm.sock', /no "crosvm run" command found/);
});

test('/proc/PID/cmdline of a running VMM, and the last VMM command of a script decides the reader', () => {
  const proc = [
    'cloud-hypervisor',
    '--memory',
    'size=2G',
    '--device',
    'path=/sys/bus/pci/devices/0000:00:04.0/',
    '',
  ];
  const d = parseVmmCommandLine(proc.join('\0'), 'pid:77');
  assert.equal(d.memory, 2n * G);
  assert.deepEqual(d.devices, ['0000:00:04.0']);
  assert.match(d.notes[0]!, /\(pid:77\)/);
  const both = 'qemu-system-x86_64 -M q35 -m 2G\ncrosvm run -m 1024 k\n';
  assert.equal(parseVmmCommandLine(both, 's').vmm, 'crosvm');
  const q = parseVmmCommandLine('crosvm run -m 1024 k; qemu-system-x86_64 -M q35 -m 2G', 's');
  assert.equal(q.vmm, undefined, 'QEMU (the description without a vmm)');
  assert.equal(q.memory, 2n * G);
  fails(
    'firecracker --config-file vm.json',
    /no VMM command found \(qemu-system-\*, qemu-kvm, cloud-hypervisor, crosvm\)/,
  );
});

test('key=value arguments keep brackets and quotes whole; the shell splitter keeps lines', () => {
  assert.deepEqual(
    [...keyValues('mem=[start=1,size=2],ecam=[start=3],flag,x="a,b"', 'path')],
    [
      ['mem', '[start=1,size=2]'],
      ['ecam', '[start=3]'],
      ['flag', ''],
      ['x', '"a,b"'],
    ],
  );
  assert.deepEqual(
    [...keyValues('/sys/x,iommu=off', 'path')],
    [
      ['path', '/sys/x'],
      ['iommu', 'off'],
    ],
  );
  const cmds = commandWords("a 'b c' \\\n  d # e\nf", 's');
  assert.deepEqual(
    cmds.map((c) => c.map((w) => `${w.text}@${w.line}`)),
    [['a@1', 'b c@1', 'd@2'], ['f@3']],
  );
});
