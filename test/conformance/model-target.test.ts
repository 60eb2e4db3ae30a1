import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootMachine, modelSysfsTarget, modelVfioTarget } from '../../src/conformance/model-target.js';
import { parseCompiled } from '../../src/conformance/compiled.js';
import { runCompiled } from '../../src/conformance/exec.js';

test('booting x86-intel binds the e1000e and the AHCI controller to vfio-pci, as the guest init does', () => {
  const b = bootMachine('x86-intel', '6.1')!;
  assert.deepEqual(b.args.devices, ['0000:00:02.0', '0000:00:1f.2']);
  assert.equal(b.model.iommu.device('0000:00:02.0')!.driver, 'vfio-pci');
  assert.notEqual(b.args.groups[0], b.args.groups[1]);
  assert.equal(bootMachine('no-such-machine', '6.1'), undefined);
});

test('module parameters read back the way the kernel prints them', () => {
  const b = bootMachine('arm64-smmuv3-gicv2', '6.12')!;
  const t = modelSysfsTarget(b.model);
  const text = [
    'param_get a p=allow_unsafe_interrupts',
    'param_set b p=allow_unsafe_interrupts value=1',
    'param_get c p=allow_unsafe_interrupts',
    'param_set d p=dma_entry_limit value=0x10',
    'param_get e p=dma_entry_limit',
    'param_set f p=dma_entry_limit value=lots',
    'param_set g p=allow_unsafe_interrupts value=maybe',
  ].join('\n');
  const out = runCompiled(parseCompiled(text, 't.iovx'), t, b.args);
  assert.deepEqual(out, [
    'CASE a rc=0 errno=0 param=allow_unsafe_interrupts value=N',
    'CASE b rc=0 errno=0 param=allow_unsafe_interrupts value=1',
    'CASE c rc=0 errno=0 param=allow_unsafe_interrupts value=Y',
    'CASE d rc=0 errno=0 param=dma_entry_limit value=0x10',
    'CASE e rc=0 errno=0 param=dma_entry_limit value=16',
    'CASE f rc=-1 errno=EINVAL param=dma_entry_limit value=lots',
    'CASE g rc=-1 errno=EINVAL param=allow_unsafe_interrupts value=maybe',
    'END lines=7',
  ]);
});

test('the sysfs-only model stops before the first uAPI operation', () => {
  const b = bootMachine('x86-amd', '6.1')!;
  const out = runCompiled(
    parseCompiled('section s\nresv r g=0\nopen_container c\nresv r2 g=0\n', 't.iovx'),
    modelSysfsTarget(b.model),
    b.args,
  );
  assert.equal(out[0], 'SECTION s');
  assert.match(out[1]!, /^CASE r rc=0 errno=0 op=RESV group=\d+$/);
  assert.ok(out.includes('0x00000000fee00000 0x00000000feefffff msi'));
  assert.ok(!out.some((l) => l.startsWith('CASE c') || l.startsWith('END')));
});

test('the full model target answers the uAPI and delivers the e1000e interrupt through the MSI path', () => {
  const b = bootMachine('arm64-smmuv3-gicv3', '6.12')!;
  const text = [
    'open_container c',
    'open_group g g=0',
    'set_container s g=0',
    'set_iommu i type=3',
    'device_fd d g=0 d=0',
    'set_irqs on d=0 index=1 start=0 count=1 flags=0x24 data=efd:0',
    'msi_read r d=0',
    'msi_fire f d=0 cause=0x100000',
    'efd_read e e=0',
  ].join('\n');
  const out = runCompiled(parseCompiled(text, 't.iovx'), modelVfioTarget(b.model), b.args);
  assert.equal(out[5], 'CASE on rc=0 errno=0 op=SET_IRQS index=1 start=0 count=1 flags=0x24');
  // the device is programmed with the SW-MSI IOVA page at the ITS doorbell's offset, and the write lands
  assert.equal(out[6], 'CASE r rc=0 errno=0 op=MSI_READ enable=1 addr=0x8000040 data=0x0');
  assert.equal(out[8], 'CASE e rc=0 errno=0 count=1');
});
