/**
 * A new user's mistakes, each run as a subprocess: exit 2, a message on stderr that names the thing that is
 * wrong, a hint line, nothing on stdout and never a stack trace.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCliAsync } from './run-cli.js';

test('user mistakes: exit 2, the culprit named, a hint, no stack trace', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'iovamap-mistakes-'));
  try {
    writeFileSync(join(dir, 'garbled.yaml'), 'steps: [\n  open\n');
    writeFileSync(join(dir, 'garbled.json'), '{"format": ');
    writeFileSync(join(dir, 'other.json'), '{"format": "something-else"}');
    writeFileSync(join(dir, 'rr.txt'), '0x1000 zz msi\n');
    mkdirSync(join(dir, 'badsys/kernel/iommu_groups/0'), { recursive: true });
    writeFileSync(join(dir, 'badsys/kernel/iommu_groups/0/reserved_regions'), 'nonsense\n');
    mkdirSync(join(dir, 'notsys'));
    const vm = ['--vmm', 'qemu', '--machine', 'q35'];
    const cases: [string[], RegExp][] = [
      [['inspect', '--platform', 'atari-st'], /"atari-st"/],
      [['check', ...vm, '--memory', 'lots', '--platform', 'amd-epyc'], /--memory "lots"/],
      [['inspect', '--snapshot', 'missing.json'], /missing\.json/],
      [['check', ...vm, '--memory', '4G', '--regions', 'missing.txt'], /missing\.txt: no such file/],
      [['run', 'missing.yaml'], /missing\.yaml/],
      [['run', 'garbled.yaml'], /garbled\.yaml:\d+/],
      [['inspect', '--platform', 'garbled.yaml'], /garbled\.yaml/],
      [['inspect', '--snapshot', 'garbled.json'], /garbled\.json/],
      [['inspect', '--snapshot', 'other.json'], /other\.json/],
      [['check', ...vm, '--memory', '4G', '--regions', 'rr.txt'], /rr\.txt:1/],
      [['inspect', '--sysfs', 'badsys'], /badsys/],
      [['inspect', '--sysfs', 'notsys'], /notsys/],
      [['inspect', '--frobnicate'], /--frobnicate/],
      [['inspect', '--platform', 'amd-epyc', '--kernel', '5.4'], /--kernel "5\.4"/],
      [['run', 'probe_full', '--kernel', '5.4'], /--kernel "5\.4"/],
      [['demo', '--kernel', '5.4'], /--kernel "5\.4"/],
      [['frobnicate'], /"frobnicate"/],
      [
        ['check', ...vm, '--memory', '4G', '--platform', 'amd-epyc', '--device', '0000:99:00.0'],
        /0000:99:00\.0/,
      ],
      [['sysfs', 'export', '--platform', 'amd-epyc'], /--out/],
      [['serve', '--port', 'http'], /--port "http"/],
    ];
    const results = await Promise.all(cases.map(([args]) => runCliAsync(args, { cwd: dir })));
    results.forEach((r, i) => {
      const [args, names] = cases[i]!;
      const what = `iovamap ${args.join(' ')}`;
      assert.equal(r.status, 2, `${what} exited ${r.status}: ${r.stderr}`);
      assert.equal(r.stdout, '', `${what} printed on stdout`);
      const [first, ...rest] = r.stderr.trimEnd().split('\n');
      assert.match(first!, /^iovamap( \w+)?: /, `${what}: one line saying what is wrong`);
      assert.match(first!, names, `${what} names the culprit: ${first}`);
      assert.ok(
        rest.some((l) => /^ {2}hint: \S/.test(l)),
        `${what} gives a hint:\n${r.stderr}`,
      );
      assert.doesNotMatch(r.stderr, /^\s+at .+:\d+:\d+\)?$/m, `${what} printed a stack trace`);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
