import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { VMM_MODELS, findVmm } from '../../src/vmm/registry.js';
import { AMD_ABOVE_1TB_START, QEMU_PC, QEMU_Q35, QEMU_VIRT } from '../../src/vmm/qemu.js';
import {
  CLOUD_HYPERVISOR_AARCH64,
  CLOUD_HYPERVISOR_X86_64,
  CROSVM_AARCH64,
  CROSVM_X86_64,
  FIRECRACKER_AARCH64,
  FIRECRACKER_X86_64,
  OPENVMM_AARCH64,
} from '../../src/vmm/rust-vmms.js';
import type { GuestLayout, VmmModel } from '../../src/vmm/types.js';

const M = 1n << 20n;
const G = 1n << 30n;

function lay(model: VmmModel, memory: bigint, options: Record<string, string> = {}): GuestLayout {
  const r = model.layout({ memory, options });
  if (!r.ok) assert.fail(`${model.id} ${memory}: ${r.reason}`);
  return r.layout;
}

/** [start, size] of the RAM ranges, merged across ROM holes below 1 MiB. */
function ram(l: GuestLayout): [bigint, bigint][] {
  return l.ranges.filter((r) => r.kind === 'ram').map((r) => [r.start, r.end - r.start + 1n]);
}

/** Bytes of RAM below and above 4 GiB, counting QEMU's RAM hidden under the ROM area (640K-1M). */
function split(l: GuestLayout): [bigint, bigint] {
  let below = 0n;
  let above = 0n;
  for (const [s, n] of ram(l)) {
    if (s < 4n * G) below = s + n;
    else above += n;
  }
  return [below, above];
}

test('pc (i440fx) below-4G split: the examples of pc_init1', () => {
  // qemu -M pc-1.7 -m 4G -> 3584M low, 512M high
  assert.deepEqual(split(lay(QEMU_PC, 4n * G, { version: '1.7' })), [3584n * M, 512n * M]);
  // qemu -M pc -m 4G -> 3072M low, 1024M high
  assert.deepEqual(split(lay(QEMU_PC, 4n * G)), [3072n * M, 1024n * M]);
  // qemu -M pc,max-ram-below-4g=2G -m 4G -> 2048M low, 2048M high
  assert.deepEqual(split(lay(QEMU_PC, 4n * G, { 'max-ram-below-4g': '2G' })), [2048n * M, 2048n * M]);
  // qemu -M pc,max-ram-below-4g=4G -m 3968M -> 3968M low
  assert.deepEqual(split(lay(QEMU_PC, 3968n * M, { 'max-ram-below-4g': '4G' })), [3968n * M, 0n]);
  // Below the 3.5 GiB default everything stays low.
  assert.deepEqual(split(lay(QEMU_PC, 3n * G)), [3n * G, 0n]);
});

test('q35 below-4G split: 2.75 GiB threshold, then 2 GiB low; max-ram-below-4g caps it', () => {
  assert.deepEqual(split(lay(QEMU_Q35, 0xb000_0000n - M)), [0xb000_0000n - M, 0n]);
  assert.deepEqual(split(lay(QEMU_Q35, 0xb000_0000n)), [2n * G, 0xb000_0000n - 2n * G]);
  assert.deepEqual(split(lay(QEMU_Q35, 8n * G)), [2n * G, 6n * G]);
  assert.deepEqual(split(lay(QEMU_Q35, 2n * G, { 'max-ram-below-4g': '1G' })), [G, G]);
  const big = QEMU_Q35.layout({ memory: 8n * G, options: { 'max-ram-below-4g': '5G' } });
  assert.equal(big.ok, false);
  assert.match(!big.ok ? big.reason : '', /less than or equal to 4 GiB/);
});

test('q35 maps ROM and the BIOS flash as well as RAM', () => {
  const l = lay(QEMU_Q35, 4n * G);
  const names = l.ranges.filter((r) => r.kind === 'firmware').map((r) => [r.name, r.start]);
  assert.deepEqual(names, [
    ['pc.rom', 0xc0000n],
    ['pc.bios', 0xe0000n],
    ['pc.bios', 0xfffc0000n],
  ]);
});

test('AMD 1 TiB relocation: AMD vCPU, machine type >= 7.1, highest used address reaching 0xfd00000000', () => {
  const amd = { 'cpu-vendor': 'amd' };
  // q35: above-4G RAM ends at RAM + 2 GiB, the 32 GiB pci-hole64 follows, 1 GiB aligned.
  const below = lay(QEMU_Q35, 978n * G, amd);
  assert.equal(ram(below).at(-1)![0], 4n * G);
  const over = lay(QEMU_Q35, 978n * G + M, amd);
  assert.equal(ram(over).at(-1)![0], AMD_ABOVE_1TB_START);
  assert.ok(over.notes.some((n) => /1 TiB/.test(n)));
  // Not for Intel vCPUs, nor machine types before 7.1.
  assert.equal(ram(lay(QEMU_Q35, 1000n * G))[2]![0], 4n * G);
  assert.equal(ram(lay(QEMU_Q35, 1000n * G, { ...amd, version: '7.0' })).at(-1)![0], 4n * G);
  // pc: 2 GiB pci-hole64, 3 GiB low: relocation from RAM + 1 GiB + 2 GiB > 1012 GiB.
  assert.equal(ram(lay(QEMU_PC, 1009n * G, amd)).at(-1)![0], 4n * G);
  assert.equal(ram(lay(QEMU_PC, 1009n * G + M, amd)).at(-1)![0], AMD_ABOVE_1TB_START);
});

test('phys-bits too low for the relocated layout: the QEMU error', () => {
  const r = QEMU_Q35.layout({ memory: 1000n * G, options: { 'cpu-vendor': 'amd', 'phys-bits': '40' } });
  assert.equal(r.ok, false);
  assert.match(
    !r.ok ? r.reason : '',
    /Address space limit 0xffffffffff < 0x[0-9a-f]+ phys-bits too low \(40\)/,
  );
  assert.equal(!r.ok ? r.option : '', 'phys-bits');
});

test('virt: one RAM block at 1 GiB; highmem=off stops at 3 GiB', () => {
  assert.deepEqual(ram(lay(QEMU_VIRT, 4n * G)), [[G, 4n * G]]);
  assert.deepEqual(ram(lay(QEMU_VIRT, 3n * G, { highmem: 'off' })), [[G, 3n * G]]);
  const r = QEMU_VIRT.layout({ memory: 3n * G + M, options: { highmem: 'off' } });
  assert.equal(r.ok, false);
  assert.match(
    !r.ok ? r.reason : '',
    /Addressing limited to 32 bits, but memory exceeds it by 1073741824 bytes/,
  );
  const mmio = lay(QEMU_VIRT, 4n * G, { version: '9.2' }).ranges.find((x) => x.name === 'pcie-mmio-high')!;
  assert.equal(mmio.start, 512n * G);
});

test('cloud-hypervisor: x86 [0,3G)+[4G,..), aarch64 [1G,0xfc000000)+[4G,..)', () => {
  assert.deepEqual(ram(lay(CLOUD_HYPERVISOR_X86_64, 2n * G)), [[0n, 2n * G]]);
  assert.deepEqual(ram(lay(CLOUD_HYPERVISOR_X86_64, 8n * G)), [
    [0n, 3n * G],
    [4n * G, 5n * G],
  ]);
  assert.deepEqual(ram(lay(CLOUD_HYPERVISOR_AARCH64, 4n * G)), [
    [G, 0xfc00_0000n - G],
    [4n * G, 4n * G - (0xfc00_0000n - G)],
  ]);
});

test('Firecracker: 1 GiB 32-bit gap and the 256-512 GiB MMIO gap; aarch64 capped at 1022 GiB', () => {
  assert.deepEqual(ram(lay(FIRECRACKER_X86_64, 300n * G)), [
    [0n, 3n * G],
    [4n * G, 252n * G],
    [512n * G, 45n * G],
  ]);
  assert.deepEqual(ram(lay(FIRECRACKER_AARCH64, 300n * G)), [
    [2n * G, 254n * G],
    [512n * G, 46n * G],
  ]);
  assert.equal(FIRECRACKER_AARCH64.layout({ memory: 1023n * G, options: {} }).ok, false);
  assert.equal(FIRECRACKER_X86_64.supportsVfio, false);
});

test('crosvm: x86 low RAM ends at the PCI memory start (0xd0000000 or --pci mem=[start=...])', () => {
  assert.deepEqual(ram(lay(CROSVM_X86_64, 4n * G)), [
    [0n, 640n * 1024n],
    [M, 0xd000_0000n - M],
    [4n * G, 4n * G - 0xd000_0000n],
  ]);
  const moved = lay(CROSVM_X86_64, 4n * G, { 'pci-mem-start': '0xc0000000' });
  assert.deepEqual(split(moved), [3n * G, G]);
  assert.match(CROSVM_X86_64.commandLine(moved), /--mem 4096 --pci mem=\[start=0xc0000000\]/);
  assert.deepEqual(ram(lay(CROSVM_AARCH64, 4n * G)), [[2n * G, 4n * G]]);
});

test('OpenVMM aarch64: RAM at 1 GiB for Linux direct boot, at 0 for UEFI and before PR #3559', () => {
  assert.deepEqual(ram(lay(OPENVMM_AARCH64, 2n * G)), [[G, 2n * G]]);
  assert.deepEqual(ram(lay(OPENVMM_AARCH64, 2n * G, { boot: 'uefi' })), [[0n, 2n * G]]);
  assert.deepEqual(ram(lay(OPENVMM_AARCH64, 2n * G, { release: 'before-3559' })), [[0n, 2n * G]]);
  assert.deepEqual(ram(lay(OPENVMM_AARCH64, 2n * G, { boot: 'uefi', 'msi-carveout': 'on' })), [
    [0n, 0x0800_0000n],
    [0x0810_0000n, 2n * G - 0x0800_0000n],
  ]);
});

test('bad options are answered, never thrown, and name the option', () => {
  const cases: [VmmModel, Record<string, string>, string][] = [
    [QEMU_Q35, { nope: '1' }, 'nope'],
    [QEMU_Q35, { 'cpu-vendor': 'via' }, 'cpu-vendor'],
    [QEMU_Q35, { 'max-ram-below-4g': 'lots' }, 'max-ram-below-4g'],
    [QEMU_VIRT, { version: 'seven' }, 'version'],
    [CROSVM_X86_64, { 'pci-mem-start': '0x1000' }, 'pci-mem-start'],
  ];
  for (const [m, options, option] of cases) {
    const r = m.layout({ memory: 4n * G, options });
    assert.equal(r.ok, false, `${m.id} ${JSON.stringify(options)}`);
    assert.equal(!r.ok ? r.option : undefined, option);
  }
});

test('registry: family names resolve by machine or architecture', () => {
  const a = findVmm('qemu', { machine: 'pc-q35-7.0' });
  assert.equal(a.ok && a.model.id, 'qemu-q35');
  const b = findVmm('cloud-hypervisor', { arch: 'aarch64' });
  assert.equal(b.ok && b.model.id, 'cloud-hypervisor-aarch64');
  const c = findVmm('openvmm', { arch: 'x86_64' });
  assert.equal(c.ok, false);
  const d = findVmm('qemu', { machine: 'virt', arch: 'x86_64' });
  assert.equal(d.ok, false);
  assert.equal(findVmm('bochs').ok, false);
});

test('every constant names the source file it was read from', () => {
  for (const m of VMM_MODELS) {
    assert.ok(m.constants.length > 0, m.id);
    for (const c of m.constants)
      assert.match(c.source, /\.(c|h|rs)\b|pull request #\d+/, `${m.id} ${c.name}`);
  }
});

test('property: every layout is sorted, disjoint, and places exactly the asked RAM', () => {
  fc.assert(
    fc.property(fc.integer({ min: 64, max: 1_500_000 }), fc.constantFrom(...VMM_MODELS), (mib, model) => {
      const memory = BigInt(mib) * M;
      const r = model.layout({ memory, options: {} });
      if (!r.ok) return; // e.g. Firecracker aarch64 above 1022 GiB
      const rs = r.layout.ranges;
      for (let i = 1; i < rs.length; i++)
        assert.ok(rs[i - 1]!.end < rs[i]!.start, `${model.id} overlap at ${i}`);
      const placed = rs.filter((x) => x.kind === 'ram').reduce((n, x) => n + (x.end - x.start + 1n), 0n);
      // QEMU keeps 384 KiB of RAM under the ROM area and crosvm backs it as reserved memory.
      const hidden = model.family === 'qemu' && model.arch === 'x86_64' ? 384n * 1024n : 0n;
      const backedReserved = model.id === 'crosvm-x86_64' ? 384n * 1024n : 0n;
      assert.equal(placed + hidden + backedReserved, memory, `${model.id} ${mib} MiB`);
    }),
    { numRuns: 300 },
  );
});

test('a layout past the 52-bit guest physical address space is refused, not wrapped', () => {
  for (const m of VMM_MODELS) {
    const r = m.layout({ memory: 1n << 60n, options: {} });
    assert.equal(r.ok, false, m.id);
  }
});
