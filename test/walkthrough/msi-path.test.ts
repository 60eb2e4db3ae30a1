import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kernelProfile } from '../../src/kernel/profile.js';
import { loadPreset } from '../../src/platform/presets.js';
import { msiCapableDevices, msiPath } from '../../src/walkthrough/msi-path.js';

const status = (p: ReturnType<typeof msiPath>) => p.steps.map((s) => `${s.id}:${s.status}`).join(' ');

test('ARM SMMUv3 + ITS: the doorbell is mapped at the start of the software MSI window', () => {
  const desc = loadPreset('qemu-virt-smmuv3-gicv3');
  const bdf = msiCapableDevices(desc)[0]!;
  assert.equal(bdf, '0000:00:01.0');
  const p = msiPath(desc, kernelProfile('6.12'), bdf);
  assert.equal(p.ok, true, p.verdict);
  assert.equal(status(p), 'vfio:ok device:ok iommu:ok doorbell:ok controller:ok vector:ok eventfd:ok');
  // The oracle's MSI_ADDR on this machine is 0x8000040; the ITS doorbell (GITS_TRANSLATER) sits at +0x10040.
  assert.match(p.steps[1]!.detail[0]!, /to IOVA 0x0000000008000040/);
  assert.match(p.steps[2]!.detail[0]!, /IOVA 0x0000000008000040 → PA 0x0000000008090040/);
  assert.equal(p.doorbellMapping?.iova, 0x8000000n);
  assert.equal(p.doorbellMapping?.paddr, 0x8090000n);
});

test('ARM GICv2m: VFIO refuses the group (unsafe interrupts) unless allowed, then delivers with a warning', () => {
  const desc = loadPreset('qemu-virt-smmuv3-gicv2');
  const bdf = msiCapableDevices(desc)[0]!;
  const refused = msiPath(desc, kernelProfile('6.1'), bdf);
  assert.equal(refused.ok, false);
  assert.equal(refused.steps[0]!.status, 'fail');
  assert.match(refused.verdict, /unsafe platform.*GICv2m.*EPERM/);
  const allowed = msiPath(desc, kernelProfile('6.1'), bdf, { allowUnsafeInterrupts: true });
  assert.equal(allowed.ok, true);
  assert.equal(allowed.steps[0]!.status, 'warn');
  // The oracle's GICv2m doorbell: MSI_SETSPI_NS at 0x8020040, seen by the device as IOVA 0x8000040.
  assert.match(allowed.steps[2]!.detail[0]!, /IOVA 0x0000000008000040 → PA 0x0000000008020040/);
});

test('without the MSI cookie the write faults in the IOMMU', () => {
  const desc = loadPreset('qemu-virt-smmuv3-gicv3');
  const p = msiPath(desc, kernelProfile('6.12'), msiCapableDevices(desc)[0]!, { noCookie: true });
  assert.equal(p.ok, false);
  assert.equal(
    status(p),
    'vfio:ok device:ok iommu:fail doorbell:skipped controller:skipped vector:skipped eventfd:skipped',
  );
  assert.match(p.verdict, /the IOMMU faults/);
});

test('x86: the APIC window bypasses translation', () => {
  const desc = loadPreset('qemu-q35-intel-iommu');
  const p = msiPath(desc, kernelProfile('6.12'), msiCapableDevices(desc)[0]!);
  assert.equal(p.ok, true, p.verdict);
  assert.match(p.steps[2]!.detail[0]!, /^bypass: 0x00000000fee/);
  assert.equal(p.doorbellMapping, undefined);
  assert.match(msiPath(desc, kernelProfile('6.12'), '0000:00:1f.7').verdict, /no such device/);
});

test('the unsafe-interrupts EPERM is VFIO_SET_IOMMU’s answer, with the kernel’s log line', () => {
  const desc = loadPreset('qemu-virt-smmuv3-gicv2');
  const bdf = msiCapableDevices(desc)[0]!;
  for (const v of ['6.1', '6.12'] as const) {
    const p = msiPath(desc, kernelProfile(v), bdf);
    assert.equal(p.ok, false);
    assert.match(p.steps[0]!.detail[0]!, /^VFIO_SET_IOMMU\(VFIO_TYPE1v2_IOMMU\) fails with EPERM:/);
    assert.equal(p.klog?.length, 1);
    assert.match(
      p.klog![0]!,
      /^vfio_iommu_type1_attach_group: No interrupt remapping support\..*allow_unsafe_interrupts/,
    );
    assert.ok(p.steps[0]!.detail.includes(`kernel log: ${p.klog![0]!}`));
    // Nothing past the attach ran: the device never got an eventfd.
    assert.deepEqual(
      p.steps.slice(1).map((s) => s.status),
      ['skipped', 'skipped', 'skipped', 'skipped', 'skipped', 'skipped'],
    );
  }
  // With the module parameter the same SET_IOMMU succeeds and prints nothing.
  const ok = msiPath(desc, kernelProfile('6.12'), bdf, { allowUnsafeInterrupts: true });
  assert.equal(ok.klog, undefined);
  assert.equal(ok.ok, true, ok.verdict);
});
