import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startServer } from '../../src/cli/serve.js';
import { hostViewToJson } from '../../src/web/hostview-json.js';
import { runCli } from '../cli/run-cli.js';
import { ARM_SMMUV3 } from './fixtures.js';

test('the server serves the prebuilt app, the session and a view, on loopback', async () => {
  const s = await startServer({
    sources: [{ id: 'arm', label: 'ARM', load: async () => ARM_SMMUV3 }],
    initial: 'arm',
    host: '127.0.0.1',
    port: 0,
  });
  try {
    assert.match(s.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const index = await fetch(s.url);
    assert.equal(index.status, 200);
    assert.match(await index.text(), /<script type="module"[^>]*src="\.\/assets\/index-[^"]+\.js"/);
    const session = (await (await fetch(s.url + 'api/session')).json()) as { initial: string };
    assert.equal(session.initial, 'arm');
    const view = await (await fetch(s.url + 'api/view?id=arm')).text();
    assert.match(view, /"start": "0x8000000"/);
    assert.equal((await fetch(s.url + 'api/view?id=nope')).status, 404);
    assert.equal((await fetch(s.url + '..%2f..%2fpackage.json')).status, 403);
    assert.equal((await fetch(s.url + 'missing.js')).status, 404);
  } finally {
    await s.close();
  }
});

test('iovamap serve prints its URL and serves a snapshot; bad input is a message, not a trace', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'iovamap-serve-'));
  const snap = join(dir, 'arm.json');
  writeFileSync(snap, hostViewToJson(ARM_SMMUV3));
  const main = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
  const child = spawn(process.execPath, [main, 'serve', '--port', '0', '--snapshot', snap], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
        if (m) resolve(m[1]!);
      });
      child.once('exit', (code) => reject(new Error(`serve exited ${code}`)));
    });
    const session = (await (await fetch(url + 'api/session')).json()) as { sources: { id: string }[] };
    assert.equal(session.sources[0]!.id, `snapshot:${snap}`);
  } finally {
    child.kill('SIGTERM');
  }
  const bad = join(dir, 'bad.txt');
  writeFileSync(bad, '0x10 0x5 msi\n');
  const r = runCli(['serve', '--snapshot', bad]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /bad\.txt:1: impossible range/);
  assert.doesNotMatch(r.stderr, /at .*\.js/);
  const p = runCli(['serve', '--port', '70000']);
  assert.equal(p.status, 2);
  assert.match(p.stderr, /--port 70000/);
});

test('iovamap serve --sysfs DIR serves a sysfs tree read on the server; --platform opens a preset', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'iovamap-serve-sysfs-'));
  const out = join(dir, 'sys');
  const ex = runCli(['sysfs', 'export', '--platform', 'qemu-q35-amd-iommu', '--out', out]);
  assert.equal(ex.status, 0, ex.stderr);
  const url = await startCli(['serve', '--sysfs', out], async (u) => {
    const session = (await (await fetch(u + 'api/session')).json()) as { initial: string };
    assert.equal(session.initial, `sysfs:${out}`);
    const view = await (await fetch(u + 'api/view?id=' + encodeURIComponent(session.initial))).text();
    assert.match(view, /"typeString": "reserved"/);
    assert.match(view, /"start": "0xfd00000000"/);
  });
  assert.match(url, /^http:\/\/127\.0\.0\.1:/);
  await startCli(['serve', '--platform', 'qemu-virt-smmuv3-gicv2', '--kernel', '6.1'], async (u) => {
    const session = (await (await fetch(u + 'api/session')).json()) as { initial: string; kernel: string };
    assert.deepEqual([session.initial, session.kernel], ['preset:qemu-virt-smmuv3-gicv2', '6.1']);
  });
  const bad = runCli(['serve', '--platform', 'no-such-machine']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /no-such-machine/);
});

/** Starts `iovamap ARGS`, waits for the URL it prints, runs `check` against it, then stops it. */
async function startCli(args: string[], check: (url: string) => Promise<void>): Promise<string> {
  const main = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
  const child = spawn(process.execPath, [main, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
        if (m) resolve(m[1]!);
      });
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
    });
    await check(url);
    return url;
  } finally {
    child.kill('SIGTERM');
  }
}
