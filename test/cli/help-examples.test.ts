/**
 * Every example shown by `iovamap <command> --help` runs as a new user would type it: as a subprocess, in a
 * scratch directory, exit status 0 or 1 (never a usage/input error or a crash), and no stack trace.
 * Examples that name the user's own files (a copied reserved_regions, a snapshot someone sent) get such a
 * file, made with iovamap itself, before they run (FIXTURES). Only the examples in SKIP do not run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { COMMANDS } from '../../src/cli/registry.js';
import { runCli, runCliAsync, type CliResult } from './run-cli.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));

/** Examples a test cannot run, each with the reason. */
const SKIP: ReadonlyMap<string, string> = new Map([
  ['iovamap inspect', 'reads the real /sys, which has no IOMMU groups on a CI machine'],
  ['iovamap snapshot --out host.json', 'reads the real /sys'],
  [
    'iovamap check --vmm qemu --machine virt --memory 4G --regions /sys/kernel/iommu_groups/28/reserved_regions',
    'reads a real /sys IOMMU group',
  ],
  [
    'iovamap check --vmm cloud-hypervisor --memory 16G --sysfs /sys --device 0000:01:00.0',
    'reads the real /sys',
  ],
]);
/** serve starts a long-running server: only its --help is checked (the web tests start it). */
const HELP_ONLY = new Set(['serve']);

/** The user's own files the examples name, and how this test makes them. */
async function makeFixtures(dir: string): Promise<void> {
  const ok = (r: CliResult): void => assert.equal(r.status, 0, r.stderr);
  const made = await Promise.all([
    runCliAsync(['sysfs', 'export', '--platform', 'qemu-virt-smmuv3-gicv3', '--out', 'exported'], {
      cwd: dir,
    }),
    runCliAsync(['sysfs', 'export', '--platform', 'amd-epyc', '--out', 'fx-epyc'], { cwd: dir }),
    runCliAsync(['sysfs', 'export', '--platform', 'qemu-q35-intel-iommu', '--out', 'fx-q35'], { cwd: dir }),
    runCliAsync(['sysfs', 'export', '--platform', 'intel-xeon-hpe-rmrr', '--out', 'fx-hpe'], { cwd: dir }),
    runCliAsync(['snapshot', '--platform', 'amd-seattle', '--out', 'host.json'], { cwd: dir }),
  ]);
  made.forEach(ok);
  const group = (tree: string, n: number): string =>
    join(dir, tree, 'kernel/iommu_groups', String(n), 'reserved_regions');
  copyFileSync(group('fx-epyc', 0), join(dir, 'amd.txt'));
  copyFileSync(group('fx-q35', 0), join(dir, 'x86-host.txt'));
  copyFileSync(group('fx-hpe', 6), join(dir, 'hp-dl388.txt'));
  copyFileSync(join(REPO, 'presets/amd-epyc.yaml'), join(dir, 'my-host.yaml'));
  copyFileSync(join(REPO, 'scenarios/probe_attach.yaml'), join(dir, 'my-scenario.yaml'));
  copyFileSync(join(REPO, 'test/vmm/fixtures/libvirt-gpu-viommu.xml'), join(dir, 'gpu.xml'));
  // a QEMU start as a script and as libvirt logs it
  const qemu = [
    'qemu-system-x86_64 \\',
    '-machine pc-q35-8.2,accel=kvm \\',
    '-m 8G \\',
    '-device intel-iommu,caching-mode=on \\',
    '-device vfio-pci,host=00:01.0 \\',
    '-device vfio-pci,host=00:02.0',
  ];
  writeFileSync(join(dir, 'vm.sh'), ['#!/bin/sh', 'exec ' + qemu.join('\n'), ''].join('\n'));
  writeFileSync(
    join(dir, 'ch.sh'),
    'cloud-hypervisor --memory size=8G --device path=/sys/bus/pci/devices/0000:00:01.0/ --kernel fw\n',
  );
  writeFileSync(
    join(dir, 'win11.log'),
    [
      '2026-01-01 00:00:00.000+0000: starting up libvirt version: 9.0.0, qemu version: 8.2.0',
      'LC_ALL=C \\',
      ...qemu,
      '',
    ].join('\n'),
  );
}

const STACK = /^\s+at .+:\d+:\d+\)?$/m;

function argv(example: string): string[] {
  assert.ok(!/["'`$|&;<>]/.test(example), `examples stay plain words (no shell syntax): ${example}`);
  const words = example.trim().split(/\s+/);
  assert.equal(words[0], 'iovamap', `an example starts with "iovamap": ${example}`);
  return words.slice(1);
}

test('every --help example runs: exit 0 or 1, no stack trace', async () => {
  const fixtures = mkdtempSync(join(tmpdir(), 'iovamap-examples-'));
  try {
    await makeFixtures(fixtures);
    const withSpec = COMMANDS.filter((c) => c.spec);
    assert.ok(withSpec.length >= 8, 'the registry lists the commands');
    let ran = 0;
    // Commands run side by side, each in its own scratch copy of the fixtures; a command's examples run in
    // order there, since a later one may read what an earlier one wrote (sysfs export, then inspect).
    await Promise.all(
      withSpec.map(async (c) => {
        const help = await runCliAsync([c.name, '--help']);
        assert.equal(help.status, 0, `${c.name} --help: ${help.stderr}`);
        assert.match(help.stdout, /Examples:/, `${c.name} --help shows examples`);
        assert.ok(c.spec!.examples.length > 0, `${c.name} has examples`);
        if (HELP_ONLY.has(c.name)) return;
        const cwd = mkdtempSync(join(tmpdir(), `iovamap-${c.name}-`));
        try {
          for (const f of [
            'amd.txt',
            'x86-host.txt',
            'hp-dl388.txt',
            'my-host.yaml',
            'my-scenario.yaml',
            'host.json',
            'vm.sh',
            'ch.sh',
            'win11.log',
            'gpu.xml',
          ])
            copyFileSync(join(fixtures, f), join(cwd, f));
          symlinkSync(join(fixtures, 'exported'), join(cwd, 'exported'));
          for (const [example] of c.spec!.examples) {
            if (SKIP.has(example)) continue;
            const r = await runCliAsync(argv(example), { cwd });
            assert.ok(r.status === 0 || r.status === 1, `"${example}" exited ${r.status}:\n${r.stderr}`);
            assert.doesNotMatch(r.stderr, STACK, `"${example}" printed a stack trace`);
            assert.ok(r.stdout.length > 0 || r.status === 0, `"${example}" printed nothing`);
            ran++;
          }
        } finally {
          rmSync(cwd, { recursive: true, force: true });
        }
      }),
    );
    assert.ok(ran >= 10, `ran ${ran} examples`);
  } finally {
    rmSync(fixtures, { recursive: true, force: true });
  }
});

test('every skipped example is still shown by some --help (the skip list stays small and current)', () => {
  const shown = new Set(COMMANDS.flatMap((c) => (c.spec?.examples ?? []).map(([e]) => e)));
  for (const e of SKIP.keys()) assert.ok(shown.has(e), `stale skip: ${e}`);
  assert.equal(runCli(['serve', '--help']).status, 0);
});
