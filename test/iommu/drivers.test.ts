import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildPlatform } from '../../src/platform/build.js';
import { kernelProfile, type KernelVersion } from '../../src/kernel/profile.js';
import {
  IOMMU_CACHE,
  IOMMU_MMIO,
  IOMMU_PRIV,
  IOMMU_READ,
  IOMMU_WRITE,
  ResvType,
  formatReservedRegions,
  resvTypeName,
  type ResvRegion,
} from '../../src/iommu/resv-region.js';
import { viommuAddResvMem } from '../../src/iommu/drivers/virtio-iommu.js';
import { unityMapOf } from '../../src/iommu/drivers/amd.js';
import { ERRNO } from '../../src/base/errno.js';
import { U64_MAX } from '../../src/base/u64.js';
import type { PlatformDescription } from '../../src/platform/types.js';
import { q35Amd, q35Intel, q35VirtioIommu, virtSmmuv3Gicv3 } from '../oracle/machines.js';

const RW = IOMMU_READ | IOMMU_WRITE;

function regions(desc: PlatformDescription, bdf: string, k: KernelVersion = '6.12'): ResvRegion[] {
  const core = buildPlatform(desc, kernelProfile(k)).iommu;
  return core.deviceResvRegions(core.device(bdf)!);
}

const brief = (rs: ResvRegion[]): string[] =>
  rs.map((r) => `${resvTypeName(r.type)} ${r.start.toString(16)}+${r.length.toString(16)} prot=${r.prot}`);

test('intel: RMRR on a NIC is DIRECT, on USB and graphics DIRECT_RELAXABLE, prot RW; MSI window last', () => {
  const base = q35Intel();
  const desc: PlatformDescription = {
    ...base,
    devices: [
      ...base.devices,
      {
        bdf: '0000:00:1d.0',
        vendor: 0x8086,
        device: 0x2934,
        class: 0x0c0300,
        driver: 'uhci_hcd',
        pcie: false,
      },
    ],
    firmwareTables: {
      ...base.firmwareTables,
      rmrr: [
        { base: 0x7c000000n, end: 0x7c0fffffn, devices: ['0000:00:02.0', '0000:00:1d.0', '0000:00:01.0'] },
      ],
    },
  };
  assert.deepEqual(brief(regions(desc, '0000:00:02.0')), [
    'direct 7c000000+100000 prot=3',
    'msi fee00000+100000 prot=0',
  ]);
  assert.deepEqual(brief(regions(desc, '0000:00:1d.0')), [
    'direct-relaxable 7c000000+100000 prot=3',
    'msi fee00000+100000 prot=0',
  ]);
  assert.deepEqual(brief(regions(desc, '0000:00:01.0')), [
    'direct-relaxable 7c000000+100000 prot=3',
    'msi fee00000+100000 prot=0',
  ]);
  const rs = regions(desc, '0000:00:02.0');
  assert.match(rs[0]!.origin!, /RMRR/);
  assert.match(rs[1]!.origin!, /IOAPIC/);
});

test('intel: an RMRR scoped to a bridge covers devices on its bus range', () => {
  const base = q35Intel();
  const desc: PlatformDescription = {
    ...base,
    devices: [
      ...base.devices,
      {
        bdf: '0000:00:1c.0',
        vendor: 0x8086,
        device: 0x2940,
        class: 0x060400,
        driver: 'pcieport',
        pcie: true,
        bridge: { secondary: 1, subordinate: 2 },
      },
      { bdf: '0000:01:00.0', vendor: 0x8086, device: 0x10d3, class: 0x020000, driver: 'e1000e', pcie: true },
    ],
    firmwareTables: {
      ...base.firmwareTables,
      rmrr: [{ base: 0x1000n, end: 0x1fffn, devices: ['0000:00:1c.0'] }],
    },
  };
  assert.deepEqual(brief(regions(desc, '0000:01:00.0')).slice(0, 1), ['direct 1000+1000 prot=3']);
});

test('intel: ISA bridge floppy workaround, 0-16 MiB direct-relaxable RW', () => {
  assert.deepEqual(brief(regions(q35Intel(), '0000:00:1f.0')), [
    'direct-relaxable 0+1000000 prot=3',
    'msi fee00000+100000 prot=0',
  ]);
  assert.deepEqual(brief(regions(q35Intel(), '0000:00:1f.2')), ['msi fee00000+100000 prot=0']);
});

test('amd: IVMD unity maps are page aligned, flags>>1 give prot, exclusion ranges become RW direct', () => {
  const e = unityMapOf(
    { kind: 'range', devidStart: 0x10, devidEnd: 0x20, start: 0x12345n, length: 0x1001n, flags: 0x02 },
    0,
    4096,
  );
  assert.equal(e.addressStart, 0x13000n);
  assert.equal(e.addressEnd - e.addressStart, 0x2000n);
  assert.equal(e.prot, 1);
  const base = q35Amd();
  const desc: PlatformDescription = {
    ...base,
    firmwareTables: {
      ...base.firmwareTables,
      ivmd: [
        {
          kind: 'device',
          devidStart: 0x0018,
          devidEnd: 0,
          start: 0xa0000000n,
          length: 0x10000n,
          flags: 0x06,
        },
        { kind: 'all', devidStart: 0, devidEnd: 0, start: 0xb0000000n, length: 0x1000n, flags: 0x08 },
        {
          kind: 'range',
          devidStart: 0x00f8,
          devidEnd: 0x00ff,
          start: 0xc0000000n,
          length: 0x1000n,
          flags: 0x02,
        },
      ],
    },
  };
  // 00:03.0 has devid 0x0018
  assert.deepEqual(brief(regions(desc, '0000:00:03.0')), [
    'direct a0000000+10000 prot=3',
    'direct b0000000+1000 prot=3',
    'msi fee00000+100000 prot=0',
    'reserved fd00000000+300000000 prot=0',
  ]);
  assert.deepEqual(brief(regions(desc, '0000:00:1f.2')), [
    'direct b0000000+1000 prot=3',
    'direct c0000000+1000 prot=1',
    'msi fee00000+100000 prot=0',
    'reserved fd00000000+300000000 prot=0',
  ]);
});

test('amd: the HT hole stays reserved with htRangeIgnore on 6.1 and 6.12 (the skip is 6.18+)', () => {
  const base = q35Amd();
  const desc: PlatformDescription = { ...base, iommus: [{ ...base.iommus[0]!, htRangeIgnore: true }] };
  for (const k of ['6.1', '6.12'] as const) {
    assert.ok(
      regions(desc, '0000:00:03.0', k).some((r) => r.type === ResvType.Reserved && r.start === 0xfd00000000n),
    );
  }
});

test('amd: page sizes per profile; aperture covers 2^64', () => {
  for (const [k, pg] of [
    ['6.1', 0xffffff7ffffff000n],
    ['6.12', 0xfff7ffffff000n],
  ] as const) {
    const core = buildPlatform(q35Amd(), kernelProfile(k)).iommu;
    const dom = core.allocPagingDomain(core.device('00:03.0')!);
    assert.ok(dom.ok);
    assert.equal(dom.value.pgsizeBitmap, pg);
    assert.equal(dom.value.geometry.apertureEnd, U64_MAX);
  }
});

test('smmu: SW_MSI 0x8000000 + 1 MiB prot 0x1a', () => {
  const rs = regions(virtSmmuv3Gicv3(), '0000:00:01.0');
  assert.deepEqual(brief(rs), ['sw-msi 8000000+100000 prot=26']);
});

test('smmuv3 under ACPI: HiSilicon Hi161x ITS page (HW MSI) and IORT RMRs with their prot', () => {
  const base = virtSmmuv3Gicv3();
  const desc: PlatformDescription = {
    ...base,
    firmware: 'acpi',
    iommus: [{ ...base.iommus[0]!, model: 'hisilicon-hi161x' }],
    firmwareTables: {
      ...base.firmwareTables,
      iortRmr: [
        {
          base: 0x90000000n,
          length: 0x10000n,
          remapPermitted: true,
          privileged: false,
          attribute: 'normal',
          devices: ['0000:00:01.0'],
        },
        {
          base: 0x91000000n,
          length: 0x10000n,
          remapPermitted: false,
          privileged: true,
          attribute: 'device',
          devices: ['0000:00:01.0'],
        },
        {
          base: 0x92000000n,
          length: 0x10000n,
          remapPermitted: false,
          privileged: false,
          attribute: 'device',
          devices: ['0000:00:00.0'],
        },
      ],
    },
  };
  const rs = regions(desc, '0000:00:01.0');
  assert.deepEqual(brief(rs), [
    'sw-msi 8000000+100000 prot=26',
    'msi 8090000+10000 prot=26',
    `direct-relaxable 90000000+10000 prot=${RW | IOMMU_CACHE}`,
    `direct 91000000+10000 prot=${RW | IOMMU_PRIV | IOMMU_MMIO}`,
  ]);
  // On device tree the IORT is not consulted.
  assert.deepEqual(brief(regions({ ...desc, firmware: 'devicetree' }, '0000:00:01.0')), [
    'sw-msi 8000000+100000 prot=26',
  ]);
});

test('virtio-iommu: RESV_MEM parsing (-EOVERFLOW, -EINVAL, unknown subtype reserved, end < start)', () => {
  assert.equal(viommuAddResvMem({ subtype: 'reserved', start: 0n, end: U64_MAX }), -ERRNO.EOVERFLOW);
  assert.equal(viommuAddResvMem({ subtype: 'reserved', start: 0n, end: 0xfffn }, 20), -ERRNO.EINVAL);
  const unk = viommuAddResvMem({ subtype: 7, start: 0x1000n, end: 0x1fffn });
  assert.ok(typeof unk !== 'number');
  assert.equal(unk.type, ResvType.Reserved);
  assert.equal(unk.prot, 0);
  const msi = viommuAddResvMem({ subtype: 'msi', start: 0xfee00000n, end: 0xfeefffffn });
  assert.ok(typeof msi !== 'number');
  assert.equal(msi.type, ResvType.Msi);
  assert.equal(msi.prot, 0x1a);
  // size = end - start + 1 wraps but only 0 counts as overflow: a "negative" range becomes huge
  const odd = viommuAddResvMem({ subtype: 'reserved', start: 0x10n, end: 0x5n });
  assert.ok(typeof odd !== 'number');
  assert.equal(odd.length, U64_MAX - 0xan + 1n);
});

test('virtio-iommu: SW_MSI only when the device reported no MSI region; per-endpoint properties', () => {
  const base = q35VirtioIommu();
  const v = base.iommus[0]!;
  const noMsi: PlatformDescription = {
    ...base,
    iommus: [
      {
        ...v,
        virtioProbeResvMem: [
          { subtype: 'reserved', start: 0x1000000n, end: 0x1ffffffn, endpoints: ['0000:00:03.0'] },
        ],
      },
    ],
  };
  assert.deepEqual(brief(regions(noMsi, '0000:00:03.0')), [
    'reserved 1000000+1000000 prot=0',
    'sw-msi 8000000+100000 prot=26',
  ]);
  assert.deepEqual(brief(regions(noMsi, '0000:00:00.0')), ['sw-msi 8000000+100000 prot=26']);
  assert.deepEqual(brief(regions(base, '0000:00:03.0')), ['msi fee00000+100000 prot=26']);
  const core = buildPlatform(noMsi).iommu;
  assert.equal(
    core.reservedRegionsText(core.groupOf(core.device('00:03.0')!)!),
    '0x0000000001000000 0x0000000001ffffff reserved\n0x0000000008000000 0x00000000080fffff msi\n',
  );
});

test('virtio-iommu: input_range sets the aperture and page_size_mask the page sizes', () => {
  const base = q35VirtioIommu();
  const desc: PlatformDescription = {
    ...base,
    iommus: [
      { ...base.iommus[0]!, virtioInputRange: { start: 0n, end: 0xffffffffffn }, pgsizeBitmap: 0x40201000n },
    ],
  };
  const core = buildPlatform(desc).iommu;
  assert.deepEqual(core.aperture(core.device('00:03.0')!), { start: 0n, end: 0xffffffffffn });
  const d = core.allocPagingDomain(core.device('00:03.0')!);
  assert.ok(d.ok);
  assert.equal(d.value.pgsizeBitmap, 0x40201000n);
  assert.equal(d.value.map(0x10000000000n, 0n, 0x1000n, RW), -ERRNO.ERANGE);
  assert.equal(formatReservedRegions([]), '');
});

test('device tree reserved-memory with iommu-addresses (6.12; 6.1 predates it)', () => {
  const base = virtSmmuv3Gicv3();
  const desc: PlatformDescription = {
    ...base,
    firmwareTables: {
      ...base.firmwareTables,
      ofReservedMemory: [
        // a boot framebuffer: same IOVA as its physical range -> direct
        {
          reg: { start: 0x80000000n, end: 0x807fffffn },
          iommuAddresses: [{ device: '00:01.0', iova: 0x80000000n, length: 0x800000n, coherent: true }],
        },
        // IOVA-only reservation (no reg) -> reserved; zero length skipped; other device ignored
        {
          iommuAddresses: [
            { device: '00:01.0', iova: 0x1000000n, length: 0x100000n },
            { device: '00:01.0', iova: 0x2000000n, length: 0n },
            { device: '00:00.0', iova: 0x3000000n, length: 0x1000n },
          ],
        },
        // IOVA differs from reg -> reserved (with a warning in the kernel)
        {
          reg: { start: 0x90000000n, end: 0x9000ffffn },
          iommuAddresses: [{ device: '00:01.0', iova: 0x4000000n, length: 0x10000n }],
        },
      ],
    },
  };
  assert.deepEqual(brief(regions(desc, '0000:00:01.0', '6.12')), [
    'sw-msi 8000000+100000 prot=26',
    `direct 80000000+800000 prot=${RW | IOMMU_CACHE}`,
    `reserved 1000000+100000 prot=${RW}`,
    `reserved 4000000+10000 prot=${RW}`,
  ]);
  assert.deepEqual(brief(regions(desc, '0000:00:01.0', '6.1')), ['sw-msi 8000000+100000 prot=26']);
  // the direct region makes the device require_direct: 6.12 VFIO cannot take the group
  const core = buildPlatform(desc, kernelProfile('6.12')).iommu;
  const nic = core.device('00:01.0')!;
  core.unbindDriver(nic);
  assert.equal(core.claimDmaOwner(core.groupOf(nic)!, 'vfio'), -ERRNO.EINVAL);
});
