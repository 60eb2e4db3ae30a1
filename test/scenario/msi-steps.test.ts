import { test } from 'node:test';
import assert from 'node:assert/strict';
import '../../src/scenario/platforms.js';
import { builtinScenarioText, runScenario } from '../../src/scenario/runner.js';

test('scenario msi_path: doorbell IOVA, delivery through SMMU and ITS, a fault and a drop', () => {
  const out = runScenario(builtinScenarioText('msi_path')!, {});
  const has = (l: string): void => assert.ok(out.includes(l), `missing: ${l}\n${out.join('\n')}`);
  for (let v = 0; v < 5; v++) has(`MSI_ADDR phase=msix5 vec=${v} addr=0x0000000008000040 data=0x0000000${v}`);
  has('DELIVERY phase=msix5 vec=3 delivered=1 count=1 path=delivered');
  has('TRACE   IOMMU translates 0x8000040 -> 0x8090040 (prot 0x1a)');
  has('INFO dma_write outcome=fault');
  has('TRACE   dropped: its0: EventID 9 is not mapped in the ITT of DeviceID 0x8');
  has('INFO vector4_loopback eventfd_ready=1 count=1');
  has('DELIVERY phase=after_disable vec=0 delivered=0 count=0 path=no-write');
});

test('scenario msi_path on GICv2m needs allow_unsafe_interrupts; with it the SPI is the data', () => {
  const text = builtinScenarioText('msi_path')!;
  const refused = runScenario(text, { platform: 'qemu-virt-smmuv3-gicv2' });
  assert.ok(refused.includes('CASE set_iommu_type1v2 rc=-1 errno=EPERM'));
  const ok = runScenario(text, {
    platform: 'qemu-virt-smmuv3-gicv2',
    params: { allowUnsafeInterrupts: true },
  });
  assert.ok(ok.includes('MSI_ADDR phase=msix5 vec=3 addr=0x0000000008000040 data=0x00000053'));
  assert.ok(ok.includes('DELIVERY phase=msix5 vec=3 delivered=1 count=1 path=delivered'));
});
