/**
 * Host views built from oracle facts (shared/oracle/out), used where the tests need a host without the
 * platform model: QEMU virt + SMMUv3 (one group, the software MSI window) and QEMU q35 + AMD-Vi
 * (four groups, the APIC MSI window and the HyperTransport hole).
 */
import type { HostView } from '../../src/host/view.js';
import { ResvType } from '../../src/iommu/resv-region.js';

const TOP48 = (1n << 48n) - 1n;

export const ARM_SMMUV3: HostView = {
  source: 'oracle:arm64-smmuv3-gicv3',
  arch: 'aarch64',
  kernel: '6.1',
  aperture: { start: 0n, end: TOP48 },
  groups: [
    {
      id: 0,
      type: 'DMA',
      devices: [{ bdf: '0000:00:01.0', vendor: 0x8086, device: 0x10d3, class: 0x020000, driver: 'e1000e' }],
      regions: [{ start: 0x8000000n, end: 0x80fffffn, typeString: 'msi', type: ResvType.SwMsi }],
      usable: [
        { start: 0n, end: 0x7ffffffn },
        { start: 0x8100000n, end: TOP48 },
      ],
      interruptSafety: { safe: true, why: 'GICv3 ITS isolates MSIs by DeviceID' },
    },
  ],
  notes: [],
};

const AMD_DEVICES = [
  [{ bdf: '0000:00:00.0', vendor: 0x8086, device: 0x29c0, class: 0x060000, driver: 'none' }],
  [{ bdf: '0000:00:01.0', vendor: 0x1234, device: 0x1111, class: 0x030000, driver: 'none' }],
  [{ bdf: '0000:00:03.0', vendor: 0x8086, device: 0x10d3, class: 0x020000, driver: 'e1000e' }],
  [
    { bdf: '0000:00:1f.0', vendor: 0x8086, device: 0x2918, class: 0x060100, driver: 'none' },
    { bdf: '0000:00:1f.2', vendor: 0x8086, device: 0x2922, class: 0x010601, driver: 'none' },
    { bdf: '0000:00:1f.3', vendor: 0x8086, device: 0x2930, class: 0x0c0500, driver: 'none' },
  ],
];

export const X86_AMD: HostView = {
  source: 'oracle:x86-amd',
  arch: 'x86_64',
  kernel: '6.1',
  aperture: { start: 0n, end: (1n << 64n) - 1n },
  groups: AMD_DEVICES.map((devices, id) => ({
    id,
    type: 'DMA',
    devices,
    regions: [
      { start: 0xfee00000n, end: 0xfeefffffn, typeString: 'msi', type: ResvType.Msi },
      { start: 0xfd00000000n, end: 0xffffffffffn, typeString: 'reserved', type: ResvType.Reserved },
    ],
    usable: [
      { start: 0n, end: 0xfedfffffn },
      { start: 0xfef00000n, end: 0xfcffffffffn },
      { start: 0x10000000000n, end: (1n << 64n) - 1n },
    ],
  })),
  notes: [],
};
