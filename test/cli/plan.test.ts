/** `iovamap plan` end to end, as a subprocess. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './run-cli.js';
import { fixturePath } from '../vmm/fixtures.js';

const AMD = fixturePath('amd-epyc.txt');
const INTEL = fixturePath('intel-nic.txt');

/** Runs `iovamap` with a command line split on spaces (no argument here contains one). */
const cli = (line: string, opts?: Parameters<typeof runCli>[1]) => runCli(line.split(' '), opts);

test('plan: arm64 guest on an x86 host — 3054 MiB is the largest QEMU virt guest; exit 1', () => {
  const r = cli(`plan --vmm qemu --machine virt --memory 4G --regions ${AMD} --host-arch x86_64`);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stdout, /4 GiB does not fit: RAM reaches the x86 MSI window at 0xfee00000/);
  assert.match(r.stdout, /largest that fits with these options: 3054 MiB\n {2}-machine virt -m 3054M/);
  assert.match(r.stdout, /cloud-hypervisor-aarch64: --memory size=4G/);
});

test('plan: an option makes the asked size fit — machine type >= 7.1 on AMD; exit 0', () => {
  const r = cli(`plan --vmm qemu --machine pc-i440fx-7.0 --memory 1T --regions ${AMD}`);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /largest that fits with these options: 1011 GiB/);
  assert.match(r.stdout, /version=latest: -machine pc -m 1024G/);
});

test('plan: an RMRR under low RAM — max-ram-below-4g stated as the QEMU machine option', () => {
  const dir = mkdtempSync(join(tmpdir(), 'iovamap-plan-'));
  const f = join(dir, 'rr');
  writeFileSync(
    f,
    '0x00000000bdf6e000 0x00000000bdf84fff direct\n0x00000000fee00000 0x00000000feefffff msi\n',
  );
  const r = cli(`plan --vmm qemu --machine pc --memory 16G --regions ${f} --json`);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const j = JSON.parse(r.stdout) as {
    fitsAsAsked: boolean;
    largest: { memory: string; commandLine: string };
    withOptions: { changed: Record<string, string>; commandLine: string }[];
  };
  assert.equal(j.fitsAsAsked, false);
  assert.equal(j.largest.commandLine, '-machine pc -m 3039M');
  assert.deepEqual(j.withOptions[0]!.changed, { 'max-ram-below-4g': '2G' });
  assert.equal(j.withOptions[0]!.commandLine, '-machine pc,max-ram-below-4g=2G -m 16G');
});

test('plan: a size that fits is said so with its layout; exit 0', () => {
  const r = cli(`plan --vmm crosvm --memory 16G --regions ${INTEL}`);
  assert.equal(r.status, 0);
  assert.match(r.stdout, /fits as asked: --mem 16384/);
  assert.match(r.stdout, /0x0000000100000000-0x000000042fffffff \(13056 MiB\) +RAM above 4 GiB/);
});

test('plan: usage errors exit 2', () => {
  const r = cli(`plan --vmm qemu-q35 --memory 4G --regions ${AMD} --opt max-ram-below-4g=8G`);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /max-ram-below-4g=8G: QEMU expects a size less than or equal to 4 GiB/);
  const h = runCli(['plan', '--help']);
  assert.equal(h.status, 0);
  assert.match(h.stdout, /Usage: iovamap plan/);
});

test('plan --viommu --memlock: the largest guest when every device behind the vIOMMU pins the RAM', () => {
  const r = cli(
    'plan --vmm qemu --memory 8G --platform qemu-q35-intel-iommu --group 1 --group 2 --memlock 12G --viommu',
  );
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stdout, /groups 1, 2 behind a vIOMMU \(a container each\)/);
  assert.match(r.stdout, /largest that fits with these options: 6143 MiB/);
  assert.doesNotMatch(r.stdout, /other VMM layouts/);
  // the same guest read from its QEMU command line (standard input)
  const q = runCli(
    ['plan', '--qemu-cmdline', '-', '--platform', 'qemu-q35-intel-iommu', '--memlock', '12G'],
    {
      input:
        'qemu-system-x86_64 -M q35 -m 8G -device virtio-iommu-pci -device vfio-pci,host=00:01.0 -device vfio-pci,host=00:02.0\n',
    },
  );
  assert.equal(q.status, 1, q.stderr);
  assert.match(q.stdout, /groups 1, 2 behind a vIOMMU \(a container each\)/);
  assert.match(q.stdout, /largest that fits with these options: 6143 MiB/);
});

test('plan --memlock: the largest guest whose pinned memory fits the limit; check offers it as the fix', () => {
  const r = cli('plan --vmm qemu --memory 16G --platform qemu-q35-intel-iommu --memlock 8G');
  assert.equal(r.status, 1, r.stderr);
  assert.match(
    r.stdout,
    /16 GiB does not fit RLIMIT_MEMLOCK: VFIO would refuse RAM above 4 GiB with ENOMEM \(vfio_pin_pages_remote: RLIMIT_MEMLOCK \(8589934592\) exceeded\)/,
  );
  assert.match(r.stdout, /largest that fits with these options: 8191 MiB\n {2}-machine q35 -m 8191M/);
  const c = cli('check --vmm qemu --memory 16G --platform qemu-q35-intel-iommu --memlock 8G');
  assert.equal(c.status, 1);
  assert.match(c.stdout, /less memory: -machine q35 -m 8191M {3}\(8191 MiB is the largest that fits\)/);
  const none = cli('plan --vmm qemu --memory 16G --platform qemu-q35-intel-iommu --memlock unlimited');
  assert.equal(none.status, 0);
  const bad = cli('plan --vmm qemu --memory 16G --platform qemu-q35-intel-iommu --memlock 8Q');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--memlock "8Q": not a size or "unlimited"/);
});
