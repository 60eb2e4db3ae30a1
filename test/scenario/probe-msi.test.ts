import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import '../../src/scenario/platforms.js';
import { builtinScenarioText, runScenario } from '../../src/scenario/runner.js';
import { ORACLE_SCENARIOS, oracleAvailable, oraclePath } from '../oracle/oracle-file.js';

const PRESET: Record<string, string> = {
  'x86-intel': 'qemu-q35-intel-iommu',
  'x86-amd': 'qemu-q35-amd-iommu',
  'x86-virtio-iommu': 'qemu-q35-virtio-iommu',
  'arm64-smmuv3-gicv3': 'qemu-virt-smmuv3-gicv3',
  'arm64-smmuv3-gicv2': 'qemu-virt-smmuv3-gicv2',
  'arm64-smmuv3-gicv2-unsafe-param': 'qemu-virt-smmuv3-gicv2',
  'arm64-virtio-iommu': 'qemu-virt-virtio-iommu',
};

/**
 * The lines both sides print the same way: every CASE line (the open/device-fd cases by name, rc and
 * errno; the oracle prints them without fields), GET_INFO sizes and ranges, IRQINFO, REGION, the
 * programmed MSI/MSI-X address/data, MSICAP, the command register and the eventfd counters.
 */
function comparable(lines: readonly string[]): string[] {
  const out: string[] = [];
  for (const l of lines) {
    if (l.includes('vfio_view')) continue;
    const name = l.startsWith('CASE ') ? l.split(' ')[1]! : '';
    if (name.startsWith('msi_open') || name.startsWith('msix_table_')) continue;
    if (name === 'msi_get_device_fd') out.push(l.split(' ').slice(0, 4).join(' '));
    else if (
      l.startsWith('CASE ') ||
      l.startsWith('RANGE tag=') ||
      l.startsWith('IRQINFO') ||
      l.startsWith('REGION') ||
      l.startsWith('MSI_ADDR') ||
      l.startsWith('MSICAP phase') ||
      l.startsWith('INFO command_') ||
      l.startsWith('INFO msixN_delivered') ||
      /^INFO \S+_vectors=/.test(l) ||
      (l.startsWith('INFO irq_') && l.includes('eventfd_ready'))
    )
      out.push(l);
  }
  return out;
}

function oracleSection(scenario: string, kernel: '6.1' | '6.12'): string[] {
  const lines = readFileSync(oraclePath(scenario, kernel), 'utf8').split('\n');
  const start = lines.indexOf('SECTION probe_msi');
  const end = lines.findIndex((l, i) => i > start && l.startsWith('SECTION '));
  return lines.slice(start, end < 0 ? undefined : end);
}

for (const { scenario, kernels } of ORACLE_SCENARIOS) {
  for (const kernel of kernels) {
    test(`scenario probe_msi on ${PRESET[scenario]} (${kernel}) prints the oracle's ${scenario} probe_msi lines`, (t) => {
      if (!oracleAvailable(scenario, kernel)) return t.skip('oracle capture not found');
      const got = runScenario(builtinScenarioText('probe_msi')!, { platform: PRESET[scenario], kernel });
      assert.deepEqual(comparable(got), comparable(oracleSection(scenario, kernel)));
    });
  }
}
