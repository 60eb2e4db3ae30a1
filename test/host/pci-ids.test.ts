import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BUILTIN_PCI_IDS, lspciClassName, lspciDeviceName, parsePciIds } from '../../src/host/pci-ids.js';

// The fixture is in the source tree (test/host/fixtures), next to dist/.
const FIXTURE = fileURLToPath(new URL('../../../test/host/fixtures/pci.ids', import.meta.url));

test('names as lspci prints them, from a pci.ids file', () => {
  const ids = parsePciIds(readFileSync(FIXTURE, 'utf8'));
  assert.equal(lspciDeviceName(ids, 0x8086, 0x10d3), 'Intel Corporation 82574L Gigabit Network Connection');
  assert.equal(lspciDeviceName(ids, 0x1af4, 0x1000), 'Red Hat, Inc. Device 1000');
  assert.equal(lspciDeviceName(ids, 0x1234, 0x1111), 'Device 1234:1111');
  assert.equal(lspciClassName(ids, 0x020000), 'Ethernet controller');
  assert.equal(lspciClassName(ids, 0x060400), 'PCI bridge');
  assert.equal(lspciClassName(ids, 0x0c0320), 'USB controller', 'built-in class names fill gaps');
  assert.equal(lspciClassName(ids, 0x0d8000), 'Class 0d80');
});

test('class names work without any pci.ids', () => {
  assert.equal(lspciClassName(BUILTIN_PCI_IDS, 0x080600), 'IOMMU');
  assert.equal(lspciClassName(BUILTIN_PCI_IDS, 0x010802), 'Non-Volatile memory controller');
  assert.equal(lspciDeviceName(BUILTIN_PCI_IDS, 0x8086, 0x10d3), 'Device 8086:10d3');
});
