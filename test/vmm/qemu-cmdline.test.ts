/**
 * Reading a QEMU command line back into a layout request: the forms users paste (a script, a libvirt
 * log with JSON -device arguments, /proc/PID/cmdline), the options that move guest memory, the vfio-pci
 * devices and a vIOMMU; malformed values are errors naming the option and the line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IovamapError } from '../../src/base/errors.js';
import { parseQemuCommandLine } from '../../src/vmm/qemu-cmdline.js';

const G = 1n << 30n;

test('a shell script: quotes, continuations, comments; machine, memory, options, devices and the vIOMMU', () => {
  const script = [
    '#!/bin/sh',
    '# the passthrough guest',
    'exec /usr/bin/qemu-system-x86_64 \\',
    '  -name win11 -enable-kvm -nodefaults \\',
    '  -machine pc-q35-8.2,accel=kvm,max-ram-below-4g=2G \\',
    "  -cpu 'EPYC-Rome,phys-bits=43' \\",
    '  -m 16G -smp 8 \\',
    '  -device intel-iommu,intremap=on,caching-mode=on \\',
    '  -device vfio-pci,host=41:00.0,x-vga=on \\',
    '  -device vfio-pci,sysfsdev=/sys/bus/pci/devices/0000:41:00.1/ \\',
    '  -drive "file=/var/lib/vm/win 11.qcow2,if=virtio" \\',
    '  -global q35-pcihost.pci-hole64-size=64G',
  ].join('\n');
  const q = parseQemuCommandLine(script, 'vm.sh');
  assert.equal(q.arch, 'x86_64');
  assert.equal(q.machine, 'pc-q35-8.2');
  assert.equal(q.memory, 16n * G);
  assert.deepEqual(q.options, {
    'max-ram-below-4g': '2G',
    'cpu-vendor': 'amd',
    'phys-bits': '43',
    'pci-hole64-size': String(64n * G),
  });
  assert.deepEqual(q.devices, ['0000:41:00.0', '0000:41:00.1']);
  assert.equal(q.viommu, 'intel-iommu');
  assert.match(
    q.notes[0]!,
    /^read from the QEMU command line \(vm\.sh\): qemu-system-x86_64, -machine pc-q35-8\.2, 16 GiB of RAM, vfio-pci 0000:41:00\.0, 0000:41:00\.1, behind intel-iommu$/,
  );
});

test('a libvirt log: environment first, JSON -device and -object, -m in KiB, the release from the header', () => {
  const log = [
    '2026-11-20 09:12:01.114+0000: starting up libvirt version: 9.0.0, package: 9.0.0-4 (Debian), qemu version: 7.2.11Debian 1:7.2+dfsg-7, kernel: 6.1.0-27-amd64, hostname: hv1',
    'LC_ALL=C \\',
    'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin \\',
    'HOME=/var/lib/libvirt/qemu/domain-3-gpu \\',
    '/usr/bin/qemu-system-x86_64 \\',
    '-name guest=gpu,debug-threads=on \\',
    '-S \\',
    '-machine q35,usb=off,vmport=off,dump-guest-core=off,memory-backend=pc.ram,hpet=off,acpi=on \\',
    '-accel kvm \\',
    '-cpu host,migratable=on \\',
    '-m size=33554432k \\',
    '-object \'{"qom-type":"memory-backend-ram","id":"pc.ram","size":34359738368}\' \\',
    '-overcommit mem-lock=off \\',
    '-device \'{"driver":"vfio-pci","host":"0000:01:00.0","id":"hostdev0","bus":"pci.5","addr":"0x0"}\' \\',
    '-msg timestamp=on',
    '2026-11-20 09:12:01.120+0000: Domain id=3 is tainted: host-cpu',
  ].join('\n');
  const q = parseQemuCommandLine(log, 'gpu.log');
  assert.equal(q.machine, 'q35');
  assert.equal(q.memory, 32n * G);
  // `q35` is the binary's latest machine type: the release the header names
  assert.equal(q.options['version'], '7.2');
  assert.deepEqual(q.devices, ['0000:01:00.0']);
  assert.equal(q.viommu, undefined);
  assert.equal(q.memLock, undefined);
  // without -m, the memory backend's size
  const noM = log.replace('-m size=33554432k \\\n', '');
  assert.equal(parseQemuCommandLine(noM, 'gpu.log').memory, 32n * G);
});

test('/proc/PID/cmdline (NUL-separated), the defaults and downstream machine types', () => {
  const argv = [
    'qemu-system-aarch64',
    '-M',
    'virt-9.2,highmem=off,gic-version=3',
    '-m',
    '4096',
    '-device',
    'virtio-iommu-pci',
    '-device',
    'vfio-pci,host=0002:03:00.0',
  ];
  const q = parseQemuCommandLine(argv.join('\0') + '\0', 'pid:42');
  assert.equal(q.arch, 'aarch64');
  assert.equal(q.machine, 'virt-9.2');
  assert.equal(q.memory, 4n * G, 'a plain -m is MiB');
  assert.deepEqual(q.options, { highmem: 'off' });
  assert.deepEqual(q.devices, ['0002:03:00.0']);
  assert.equal(q.viommu, 'virtio-iommu-pci');
  assert.deepEqual(q.bridges, {});
  const br = parseQemuCommandLine(
    'qemu-system-x86_64 -M q35 -device vfio-pci,host=01:00.0,bus=br0 -device pcie-pci-bridge,id=br0,bus=pcie.0 -device vfio-pci,host=02:00.0,bus=pcie.0',
    'x',
  );
  assert.deepEqual(br.bridges, { '0000:01:00.0': 'br0' }, 'a bridge declared after its device counts too');
  const noBypass = parseQemuCommandLine(
    'qemu-system-x86_64 -M q35 -device virtio-iommu-pci,boot-bypass=off',
    'x',
  );
  assert.equal(noBypass.viommu, 'virtio-iommu-pci');
  assert.ok(noBypass.notes.some((n) => /boot-bypass=off: the containers map nothing at boot/.test(n)));
  const pc = parseQemuCommandLine('qemu-system-x86_64 -device vfio-pci,host=01:00.0', 'x');
  assert.equal(pc.machine, 'pc');
  assert.equal(pc.memory, 128n << 20n);
  assert.ok(pc.notes.some((n) => /no -machine: QEMU x86_64 starts the pc \(i440fx\) machine/.test(n)));
  assert.ok(pc.notes.some((n) => /no -m: QEMU gives the guest its default 128 MiB/.test(n)));
  const rhel = parseQemuCommandLine(
    '/usr/libexec/qemu-kvm -machine pc-q35-rhel9.4.0 -m 8G -overcommit mem-lock=on',
    'x',
  );
  assert.equal(rhel.machine, 'q35');
  assert.equal(rhel.arch, undefined);
  assert.equal(rhel.memLock, 'on');
  assert.ok(rhel.notes.some((n) => /downstream \(RHEL\) type/.test(n)));
  assert.ok(rhel.notes.some((n) => /mem-lock=on: QEMU mlock\(\)s its memory/.test(n)));
  // the last command of a file that starts QEMU more than once
  const two = 'qemu-system-x86_64 -m 2G\nqemu-system-x86_64 -m 4G\n';
  assert.equal(parseQemuCommandLine(two, 'x').memory, 4n * G);
});

test('mistakes name the option, its argument and the line', () => {
  const bad = (text: string, re: RegExp) => {
    assert.throws(
      () => parseQemuCommandLine(text, 'vm.sh'),
      (e: unknown) => e instanceof IovamapError && re.test(e.message),
      text,
    );
  };
  bad('qemu-system-x86_64 \\\n  -machine q35 \\\n  -m lots', /^vm\.sh:3: -m lots: not a memory size/);
  bad(
    'qemu-system-x86_64 -device vfio-pci,host=zz:00.0',
    /^vm\.sh:1: -device vfio-pci,host=zz:00\.0: host=zz:00\.0 is not a PCI address/,
  );
  bad('qemu-system-x86_64 -device \'{"driver":\'', /-device \{"driver":: not valid JSON/);
  bad('qemu-system-x86_64 -cpu host,phys-bits=many', /phys-bits=many is not a number/);
  bad('qemu-system-x86_64 -global q35-pcihost.pci-hole64-size=big', /pci-hole64-size is not a size/);
  bad('qemu-system-aarch64 -m 1G', /qemu-system-aarch64 needs a -machine/);
  bad('echo hello', /no QEMU command found/);
  bad("qemu-system-x86_64 -name 'oops", /line 1: a ' quote is not closed/);
  bad('qemu-system-x86_64 -m', /-m has no argument/);
});
