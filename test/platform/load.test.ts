import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { InputError, NotFoundError } from '../../src/base/errors.js';
import { loadPlatformText } from '../../src/platform/load.js';
import { isPresetName, loadPreset, presetNames, presetText } from '../../src/platform/presets.js';
import { schemaFieldPaths } from '../../src/platform/schema.js';

const MINIMAL = `name: tiny
description: smallest valid platform
arch: x86_64
firmware: acpi
sources: [test]
iommus:
  - { id: dmar0, driver: intel-iommu, hostBridges: [pci0], addressBits: 39, interruptRemapping: true }
interruptControllers:
  - { id: apic, kind: x86-apic, base: 0xfee00000, remappedBy: dmar0 }
hostBridges:
  - { id: pci0, buses: [0, 255], msiParent: apic }
devices:
  - { bdf: "00:02.0", vendor: 0x8086, device: 0x10d3, class: 0x020000, driver: e1000e }
`;

/** Expects `text` to fail with `file:line: field: ...` containing `want`. */
function expectError(text: string, line: number, field: string, want: RegExp, file = 'x.yaml'): InputError {
  try {
    loadPlatformText(text, file);
  } catch (e) {
    assert.ok(e instanceof InputError, `not an InputError: ${String(e)}`);
    assert.equal(e.file, file);
    assert.equal(e.field, field, e.message);
    assert.equal(e.line, line, e.message);
    assert.match(e.message, want);
    assert.ok(e.message.startsWith(`${file}:${line}: ${field}: `), e.message);
    return e;
  }
  assert.fail('no error');
}

test('a minimal platform loads with defaults filled in', () => {
  const d = loadPlatformText(MINIMAL, 'tiny.yaml');
  assert.equal(d.pageSize, 4096);
  assert.equal(d.devices[0]!.bdf, '0000:00:02.0');
  assert.equal(d.devices[0]!.pcie, true);
  assert.equal(d.hostBridges[0]!.segment, 0);
  assert.deepEqual(d.hostBridges[0]!.windows, []);
  assert.deepEqual(d.firmwareTables, { rmrr: [], ivmd: [], iortRmr: [] });
  assert.equal(d.interruptControllers[0]!.base, 0xfee00000n);
});

test('the same platform as JSON gives the same description', () => {
  const json = JSON.stringify(
    {
      name: 'tiny',
      description: 'smallest valid platform',
      arch: 'x86_64',
      firmware: 'acpi',
      sources: ['test'],
      iommus: [
        {
          id: 'dmar0',
          driver: 'intel-iommu',
          hostBridges: ['pci0'],
          addressBits: 39,
          interruptRemapping: true,
        },
      ],
      interruptControllers: [{ id: 'apic', kind: 'x86-apic', base: '0xfee00000', remappedBy: 'dmar0' }],
      hostBridges: [{ id: 'pci0', buses: [0, 255], msiParent: 'apic' }],
      devices: [{ bdf: '00:02.0', vendor: '0x8086', device: 4307, class: '0x020000', driver: 'e1000e' }],
    },
    null,
    2,
  );
  assert.deepEqual(loadPlatformText(json, 'tiny.json'), loadPlatformText(MINIMAL, 'tiny.yaml'));
});

test('64-bit values keep every bit (YAML ints are read as bigint)', () => {
  const d = loadPlatformText(
    MINIMAL.replace('devices:', 'devices:').replace(
      'hostBridges:\n  - { id: pci0, buses: [0, 255], msiParent: apic }',
      'hostBridges:\n  - { id: pci0, buses: [0, 255], msiParent: apic, windows: [{ kind: mem64, cpu: { start: 0xfffffffffffff000, end: 0xffffffffffffffff } }] }',
    ),
    'x.yaml',
  );
  assert.equal(d.hostBridges[0]!.windows[0]!.cpu.end, 0xffffffffffffffffn);
});

test('a bad BDF names file, line and field', () => {
  const e = expectError(
    MINIMAL.replace('"00:02.0"', '"00:1g.0"'),
    13,
    'devices[0].bdf',
    /"00:1g.0" is not a BDF/,
  );
  assert.match(e.message, /hint: write a PCI address/);
});

test('unknown fields are rejected with a did-you-mean hint', () => {
  const e = expectError(
    MINIMAL.replace('driver: e1000e', 'drvier: e1000e'),
    13,
    'devices[0].drvier',
    /unknown field "drvier"/,
  );
  assert.match(e.message, /did you mean "driver"\?/);
  const top = expectError(MINIMAL + 'colour: blue\n', 14, 'colour', /unknown field "colour" in a platform/);
  assert.match(top.message, /known fields: name, description/);
});

test('missing required fields, wrong types and out-of-range numbers', () => {
  expectError(MINIMAL.replace('arch: x86_64\n', ''), 1, 'arch', /missing required field "arch"/);
  expectError(
    MINIMAL.replace('arch: x86_64', 'arch: riscv64'),
    3,
    'arch',
    /"riscv64" is not one of x86_64, aarch64/,
  );
  expectError(
    MINIMAL.replace('vendor: 0x8086', 'vendor: 0x18086'),
    13,
    'devices[0].vendor',
    /out of range 0..65535/,
  );
  expectError(
    MINIMAL.replace('vendor: 0x8086', 'vendor: intel'),
    13,
    'devices[0].vendor',
    /"intel" is not a whole number/,
  );
  expectError(
    MINIMAL.replace('buses: [0, 255]', 'buses: [5, 2]'),
    11,
    'hostBridges[0].buses',
    /last is below first/,
  );
  expectError(MINIMAL.replace('sources: [test]', 'sources: test'), 5, 'sources', /is not a list/);
});

test('impossible ranges are refused', () => {
  expectError(
    MINIMAL.replace('msiParent: apic }', 'msiParent: apic, dmaRanges: [{ start: 0x2000, end: 0x1000 }] }'),
    11,
    'hostBridges[0].dmaRanges[0]',
    /impossible range: end 0x1000 is below start 0x2000/,
  );
  expectError(
    MINIMAL.replace(
      'msiParent: apic }',
      'msiParent: apic, dmaRanges: [{ start: 0x2000, end: 0x3000, size: 4K }] }',
    ),
    11,
    'hostBridges[0].dmaRanges[0]',
    /exactly one of "end" or "size"/,
  );
});

test('cross-references are checked', () => {
  expectError(
    MINIMAL.replace('hostBridges: [pci0]', 'hostBridges: [pci9]'),
    7,
    'iommus[0].hostBridges[0]',
    /no host bridge "pci9"/,
  );
  expectError(
    MINIMAL.replace('msiParent: apic', 'msiParent: its0'),
    11,
    'hostBridges[0].msiParent',
    /no interrupt controller "its0"/,
  );
  expectError(
    MINIMAL.replace('remappedBy: dmar0', 'remappedBy: dmar1'),
    9,
    'interruptControllers[0].remappedBy',
    /no IOMMU "dmar1"/,
  );
  expectError(
    MINIMAL.replace('driver: intel-iommu', 'driver: arm-smmu-v3'),
    7,
    'iommus[0].driver',
    /arm-smmu-v3 does not exist on x86_64/,
  );
  expectError(
    MINIMAL.replace('"00:02.0"', '"0001:00:02.0"'),
    13,
    'devices[0].bdf',
    /not below any host bridge/,
  );
  expectError(
    MINIMAL + 'firmwareTables:\n  rmrr:\n    - { base: 0xbdf6e000, end: 0xbdf84fff, devices: ["00:1f.0"] }\n',
    16,
    'firmwareTables.rmrr[0].devices[0]',
    /no device 0000:00:1f.0 in devices/,
  );
  expectError(
    MINIMAL.replace('devices:\n', 'devices:\n  - { bdf: "00:02.0", vendor: 1, device: 2, class: 3 }\n'),
    14,
    'devices[1].bdf',
    /duplicate device "0000:00:02.0" \(also devices\[0\].bdf\)/,
  );
});

test('YAML syntax errors name the line', () => {
  try {
    loadPlatformText('name: x\ndevices: [\n  - a\n', 'broken.yaml');
    assert.fail('no error');
  } catch (e) {
    assert.ok(e instanceof InputError);
    assert.equal(e.file, 'broken.yaml');
    assert.ok(typeof e.line === 'number' && e.line >= 1);
    assert.match(e.message, /^broken\.yaml:\d+: syntax error/);
  }
});

test('every preset loads, and each is named after its file', () => {
  const names = presetNames();
  assert.deepEqual(names, [
    'amd-epyc',
    'amd-seattle',
    'ampere-altra',
    'hisilicon-hi1616-like',
    'intel-xeon-hpe-rmrr',
    'qemu-q35-amd-iommu',
    'qemu-q35-intel-iommu-rootport',
    'qemu-q35-intel-iommu',
    'qemu-q35-virtio-iommu',
    'qemu-virt-smmuv3-gicv2',
    'qemu-virt-smmuv3-gicv3-16k',
    'qemu-virt-smmuv3-gicv3',
    'qemu-virt-virtio-iommu',
  ]);
  for (const n of names) {
    const d = loadPreset(n);
    assert.equal(d.name, n);
    assert.ok(d.sources.length > 0, `${n} cites its sources`);
    assert.match(presetText(n), /^# /, `${n} starts with a comment citing sources`);
  }
});

test('an unknown preset name is a NotFoundError listing the names', () => {
  assert.equal(isPresetName('qemu-q35-intel-iommu'), true);
  assert.equal(isPresetName('nope'), false);
  assert.throws(
    () => loadPreset('qemu-q35-intel'),
    (e: unknown) =>
      e instanceof NotFoundError &&
      /no built-in platform "qemu-q35-intel"/.test(e.message) &&
      /amd-seattle/.test(e.message) &&
      /did you mean "qemu-q35-intel-iommu"/.test(e.message),
  );
});

test('docs/platform-format.md documents every schema field', () => {
  const doc = readFileSync(
    fileURLToPath(new URL('../../../docs/platform-format.md', import.meta.url)),
    'utf8',
  );
  for (const p of schemaFieldPaths()) {
    const leaf = p.replace(/\[\]/g, '').split('.').pop()!;
    assert.ok(doc.includes(`\`${leaf}\``), `docs/platform-format.md does not mention \`${leaf}\` (${p})`);
  }
});

test('a binary platform file is reported as not YAML text, with the line of the first control byte', () => {
  assert.throws(
    () => loadPlatformText(MINIMAL.replace('arch: x86_64', 'arch: x86\u0000_64'), 'bin.yaml'),
    (e: unknown) =>
      e instanceof InputError &&
      e.file === 'bin.yaml' &&
      e.line === 3 &&
      /not a YAML text file: control character 0x00/.test(e.message),
  );
});

test('a YAML alias bomb ("billion laughs") is refused quickly, not expanded for minutes', () => {
  const levels = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
  for (let i = 1; i < 9; i++) {
    const prev = String.fromCharCode(96 + i);
    const cur = String.fromCharCode(97 + i);
    levels.push(`${cur}: &${cur} [${Array(9).fill(`*${prev}`).join(',')}]`);
  }
  const text = levels.join('\n') + '\nname: *i\n';
  const t0 = process.hrtime.bigint();
  assert.throws(
    () => loadPlatformText(text, 'bomb.yaml'),
    (e: unknown) =>
      e instanceof InputError && e.file === 'bomb.yaml' && /too many YAML alias/.test(e.message),
  );
  // not a timing test of the model: a generous bound that only an exponential expansion exceeds
  assert.ok(process.hrtime.bigint() - t0 < 10_000_000_000n);
  // ordinary anchors and aliases still work
  const d = loadPlatformText(
    MINIMAL.replace('hostBridges: [pci0]', 'hostBridges: [&hb pci0]').replace('{ id: pci0,', '{ id: *hb,'),
    'anchors.yaml',
  );
  assert.equal(d.name, 'tiny');
});

test('iommus[].vtdRegisters: read as u64, a misspelt field named with its line', () => {
  assert.deepEqual(loadPreset('qemu-q35-intel-iommu').iommus[0]!.vtdRegisters, {
    cap: 0xd2008c22260286n,
    ecap: 0xf00f4an,
  });
  const text = presetText('qemu-q35-intel-iommu')!.replace(
    /vtdRegisters: \{[^}]*\}/,
    'vtdRegisters: { cap: 0x1, ecapp: 0x2 }',
  );
  assert.throws(
    () => loadPlatformText(text, 'mine.yaml'),
    (e: unknown) =>
      e instanceof InputError &&
      /mine\.yaml:\d+: iommus\[0\]\.vtdRegisters\.ecapp: unknown field/.test(e.message),
  );
});
