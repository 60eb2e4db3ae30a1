import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type CommandSpec, formatHelp, parseArgs } from '../../src/cli/args.js';
import { InputError } from '../../src/base/errors.js';
import { fileURLToPath } from 'node:url';
import { runCli } from './run-cli.js';

const SPEC: CommandSpec = {
  name: 'check',
  summary: 'Check a layout',
  options: [
    { name: 'vmm', type: 'string', help: 'VMM', choices: ['qemu', 'firecracker'] },
    { name: 'memory', type: 'size', help: 'guest RAM' },
    { name: 'group', type: 'list', help: 'groups' },
    { name: 'json', type: 'boolean', help: 'JSON' },
  ],
  positionals: [{ name: 'FILE', help: 'file', required: false }],
  examples: [['iovamap check --vmm qemu --memory 4G', 'a 4 GiB QEMU guest']],
};

test('parses typed options', () => {
  const a = parseArgs(SPEC, [
    '--vmm',
    'qemu',
    '--memory=4G',
    '--group',
    '1,2',
    '--group',
    '3',
    '--json',
    'f.yaml',
  ]);
  assert.equal(a.values['vmm'], 'qemu');
  assert.equal(a.values['memory'], 4n << 30n);
  assert.deepEqual(a.values['group'], ['1', '2', '3']);
  assert.equal(a.values['json'], true);
  assert.deepEqual(a.positionals, ['f.yaml']);
});

test('errors name the option', () => {
  assert.throws(
    () => parseArgs(SPEC, ['--memory', 'lots']),
    (e: unknown) => e instanceof InputError && /--memory "lots"/.test(e.message),
  );
  assert.throws(() => parseArgs(SPEC, ['--vmm', 'bhyve']), /choose one of: qemu, firecracker/);
  assert.throws(() => parseArgs(SPEC, ['--bogus']), /unknown option --bogus/);
  assert.throws(() => parseArgs(SPEC, ['--memory']), /--memory needs a value/);
  assert.throws(() => parseArgs(SPEC, ['a', 'b']), /unexpected argument "b"/);
});

test('help lists options and examples', () => {
  const h = formatHelp(SPEC);
  assert.match(h, /Usage: iovamap check \[options\] \[FILE\]/);
  assert.match(h, /--memory SIZE/);
  assert.match(h, /# a 4 GiB QEMU guest/);
});

test('the CLI answers --version, --help and unknown commands', () => {
  const v = runCli(['--version']);
  assert.equal(v.status, 0);
  assert.match(v.stdout, /^\d+\.\d+\.\d+\n$/);
  const h = runCli(['--help']);
  assert.equal(h.status, 0);
  assert.match(h.stdout, /Usage: iovamap <command>/);
  const u = runCli(['frobnicate']);
  assert.equal(u.status, 2);
  assert.match(u.stderr, /unknown command "frobnicate"/);
  assert.doesNotMatch(u.stderr, /at .*\.js/);
});

test('iovamap help COMMAND shows the help of COMMAND, like COMMAND --help', () => {
  const h = runCli(['help', 'run']);
  assert.equal(h.status, 0, h.stderr);
  assert.equal(h.stdout, runCli(['run', '--help']).stdout);
  const u = runCli(['help', 'frobnicate']);
  assert.equal(u.status, 2);
  assert.match(u.stderr, /unknown command "frobnicate"/);
});

test('output into a closed pipe (iovamap ... | head) ends quietly, without an EPIPE stack trace', async () => {
  const { spawn } = await import('node:child_process');
  const main = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
  for (const args of [
    ['designs', 'list'],
    ['run', 'probe_full'],
    ['inspect', '--list'],
  ]) {
    const child = spawn(process.execPath, [main, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy(); // the reader went away before the first line, like `| head -0`
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const status = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    assert.doesNotMatch(stderr, /EPIPE|\n\s+at /, `${args.join(' ')}: ${stderr}`);
    assert.equal(status, 0, `${args.join(' ')}: ${stderr}`);
  }
});
