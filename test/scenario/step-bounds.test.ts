/**
 * Scenario numbers that do not fit the field they feed: a mistake reported with the step's line (exit
 * 2), never a crash, a hang or a silently truncated value.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '../../src/base/errors.js';
import '../../src/scenario/platforms.js';
import { runScenario } from '../../src/scenario/runner.js';

const HEAD = [
  'name: t',
  'platform: qemu-virt-smmuv3-gicv3',
  'steps:',
  '  - open_container: { name: open }',
  '  - bind_driver: { device: 8086:10d3, driver: vfio-pci }',
  '  - open_group: { name: grp, device: 8086:10d3 }',
  '  - set_container: { name: setc }',
  '  - set_iommu: { name: set, type: 3 }',
  '  - get_device_fd: { name: dev, device: 8086:10d3 }',
  '',
].join('\n');

function mistake(steps: string, re: RegExp): void {
  assert.throws(
    () => runScenario(HEAD + steps, { file: 't.yaml' }),
    (e: unknown) => {
      assert.ok(e instanceof InputError, String(e));
      assert.equal(e.line, 10, e.message);
      assert.match(e.message, re);
      return true;
    },
  );
}

test('eventfds: a count no process could open is a mistake, not an internal error', () => {
  mistake('  - eventfds: { count: 0xffffffffff }\n', /eventfds\.count.*does not fit in 32 bits/);
  mistake('  - eventfds: { count: 0x100000 }\n', /at most 65536/);
  const lines = runScenario(HEAD + '  - eventfds: { count: 4 }\n  - info: "n=${len(efd)}"\n');
  assert.equal(lines.at(-1), 'INFO n=4');
});

test('fire: a vector beyond 32 bits is a mistake, not printed with lost digits', () => {
  mistake(
    '  - fire: { phase: p, device: 8086:10d3, vector: 0xffffffffffffffff }\n',
    /fire\.vector.*does not fit in 32 bits/,
  );
});

test('msi_addr: more vectors than the MSI-X table holds is a mistake, not an endless loop', () => {
  const steps = [
    '  - eventfds: { count: 2 }',
    '  - set_irqs: { name: s, index: MSIX, flags: 0x24, count: 2 }',
    '  - msi_addr: { phase: p, device: 8086:10d3, vectors: 0xffffffff }',
    '',
  ].join('\n');
  assert.throws(
    () => runScenario(HEAD + steps, { file: 't.yaml' }),
    (e: unknown) => e instanceof InputError && e.line === 12 && /has 5 entries/.test(e.message),
  );
  const ok = runScenario(HEAD + steps.replace('0xffffffff', '2'));
  assert.deepEqual(ok.slice(-2), [
    'MSI_ADDR phase=p vec=0 addr=0x0000000008000040 data=0x00000000',
    'MSI_ADDR phase=p vec=1 addr=0x0000000008000040 data=0x00000001',
  ]);
});

test('check_extension and set_iommu pass the whole unsigned long, as the kernel reads it', () => {
  // vfio_ioctl_check_extension switches on the unsigned long: 2^32 + 1 is no extension (0), not TYPE1.
  const lines = runScenario(
    HEAD +
      '  - check_extension: { name: e, ext: 0x100000001 }\n' +
      '  - check_extension: { name: e1, ext: 1 }\n',
  );
  assert.deepEqual(lines.slice(-2), ['CASE e rc=0 errno=0 ext=4294967297', 'CASE e1 rc=1 errno=0 ext=1']);
  const set = runScenario(
    'name: t\nplatform: qemu-virt-smmuv3-gicv3\nsteps:\n' +
      '  - open_container: { name: open }\n' +
      '  - bind_driver: { device: 8086:10d3, driver: vfio-pci }\n' +
      '  - open_group: { name: grp, device: 8086:10d3 }\n' +
      '  - set_container: { name: setc }\n' +
      '  - set_iommu: { name: set, type: 0x100000003 }\n',
  );
  assert.equal(set.at(-1), 'CASE set rc=-1 errno=ENODEV');
});

test('set_param dma_entry_limit: a value beyond u32 is a mistake (the kernel refuses it), not truncated', () => {
  mistake('  - set_param: { param: dma_entry_limit, value: 0x100000001 }\n', /does not fit in 32 bits/);
});
