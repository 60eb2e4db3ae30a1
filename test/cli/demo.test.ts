import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from './run-cli.js';

test('iovamap demo tells the whole story and exits 0', () => {
  const r = runCli(['demo']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /the kernel mapped IOVA 0x8000000 -> doorbell PA 0x8090000/);
  assert.match(r.stdout, /VFIO_SET_IOMMU\(VFIO_TYPE1v2_IOMMU\) = -1 \(EPERM\)/);
  assert.match(r.stdout, /forged: the controller cannot see who wrote/);
  assert.match(r.stdout, /not forged: the controller identifies the writer/);
  assert.match(r.stdout, /0xfee00218/);
  // the iommufd part: ranges only after attach, the MSI window refused, pins charged to the user
  assert.match(r.stdout, /through iommufd/);
  assert.match(r.stdout, /IOMMU_IOAS_MAP at the MSI window 0xfee00000 = -1 \(EINVAL\)/);
  assert.match(r.stdout, /this process's VmLck: 0 B/);
  assert.ok(!r.stdout.includes('\u001b['), 'no colour when not on a terminal');
});

test('iovamap demo --part arm --json is machine-readable', () => {
  const r = runCli(['demo', '--part', 'arm', '--json', '--kernel', '6.1']);
  assert.equal(r.status, 0, r.stderr);
  const stories = JSON.parse(r.stdout) as { title: string; ok: boolean; steps: { status: string }[] }[];
  assert.equal(stories.length, 1);
  assert.match(stories[0]!.title, /Linux 6\.1/);
  assert.equal(stories[0]!.ok, true);
});

test('iovamap demo: bad options are a message and exit 2', () => {
  const r = runCli(['demo', '--part', 'mips']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--part "mips"/);
  assert.doesNotMatch(r.stderr, /at .*\.js:\d+/);
});

test('iovamap demo --part iommufd on 6.1: no /dev/iommu, said plainly', () => {
  const r = runCli(['demo', '--part', 'iommufd', '--kernel', '6.1']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /open\("\/dev\/iommu"\)\n\s+= -1 \(ENOENT\)/);
});
