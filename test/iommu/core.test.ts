import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildPlatform } from '../../src/platform/build.js';
import { kernelProfile } from '../../src/kernel/profile.js';
import { domainTypeSysfs } from '../../src/iommu/api.js';
import { IOMMU_READ, IOMMU_WRITE, ResvType, resvRegion } from '../../src/iommu/resv-region.js';
import { Ida } from '../../src/iommu/group.js';
import { ERRNO } from '../../src/base/errno.js';
import type { PlatformDescription } from '../../src/platform/types.js';
import {
  q35Amd,
  q35Intel,
  q35VirtioIommu,
  virtSmmuv3Gicv2,
  virtSmmuv3Gicv3,
  virtVirtioIommu,
} from '../oracle/machines.js';

const RW = IOMMU_READ | IOMMU_WRITE;

function withRmrr(nic = '0000:00:02.0'): PlatformDescription {
  const base = q35Intel();
  return {
    ...base,
    firmwareTables: {
      ...base.firmwareTables,
      rmrr: [{ base: 0x7c000000n, end: 0x7c0fffffn, devices: [nic] }],
    },
  };
}

test('ida: lowest free number', () => {
  const ida = new Ida();
  assert.deepEqual([ida.alloc(), ida.alloc(), ida.alloc()], [0, 1, 2]);
  ida.free(1);
  assert.equal(ida.alloc(), 1);
  assert.equal(ida.alloc(), 3);
});

test('default domain type: DMA when the driver forces strict or on arm64; DMA-FQ when lazy; identity with passthrough', () => {
  const t = (d: PlatformDescription): string =>
    domainTypeSysfs(buildPlatform(d).iommu.groups()[0]!.defaultDomainType);
  assert.equal(t(q35Intel()), 'DMA');
  const lazyIntel = q35Intel();
  assert.equal(t({ ...lazyIntel, iommus: [{ ...lazyIntel.iommus[0]!, cachingMode: false }] }), 'DMA-FQ');
  assert.equal(t(q35VirtioIommu()), 'DMA-FQ');
  assert.equal(t({ ...q35VirtioIommu(), dmaStrict: true }), 'DMA');
  assert.equal(t(virtSmmuv3Gicv3()), 'DMA');
  assert.equal(t({ ...virtSmmuv3Gicv3(), dmaStrict: false }), 'DMA-FQ');
  assert.equal(t({ ...q35Intel(), defaultDomain: 'passthrough' }), 'identity');
});

test('spec 1.7: DIRECT and DIRECT_RELAXABLE regions are identity-mapped in the DMA default domain', () => {
  const core = buildPlatform(q35Intel()).iommu;
  const g = core.groupOf(core.device('00:1f.0')!)!;
  const dom = g.defaultDomain!;
  assert.equal(dom.type, 'dma');
  assert.deepEqual(
    [...dom.mappings()].map((m) => [m.iova, m.paddr, m.size, m.prot]),
    [[0n, 0n, 0x1000000n, RW]],
  );
  assert.deepEqual(core.dmaAccess(core.device('00:1f.2')!, 0xabc123n, true), {
    kind: 'translated',
    paddr: 0xabc123n,
    prot: RW,
  });
  // Nothing is mapped in the NIC's group: a DMA access faults.
  assert.equal(core.dmaAccess(core.device('00:02.0')!, 0x1000n, false).kind, 'fault');
  // passthrough: identity domains get no mappings, accesses bypass
  const pt = buildPlatform({ ...q35Intel(), defaultDomain: 'passthrough' }).iommu;
  assert.equal(pt.groupOf(pt.device('00:1f.0')!)!.defaultDomain!.mappingCount, 0);
  assert.equal(pt.dmaAccess(pt.device('00:02.0')!, 0x1000n, false).kind, 'bypass');
});

test('hardware MSI windows bypass translation; the software MSI window does not', () => {
  const intel = buildPlatform(q35Intel()).iommu;
  const r = intel.dmaAccess(intel.device('00:02.0')!, 0xfee00040n, true);
  assert.equal(r.kind, 'bypass');
  // x86: a read of the interrupt range is an unsupported request
  assert.equal(intel.dmaAccess(intel.device('00:02.0')!, 0xfee00040n, false).kind, 'fault');
  const av = buildPlatform(virtVirtioIommu()).iommu;
  assert.equal(av.dmaAccess(av.device('00:02.0')!, 0x8090040n, true).kind, 'bypass');
  const smmu = buildPlatform(virtSmmuv3Gicv3()).iommu;
  assert.equal(smmu.dmaAccess(smmu.device('00:01.0')!, 0x8000040n, true).kind, 'fault');
  // a device without IOMMU (no group on DT) is not translated at all
  assert.equal(smmu.dmaAccess(smmu.device('00:00.0')!, 0x1234n, true).kind, 'bypass');
});

test('DMA ownership: kernel driver bound -> -EPERM; after unbind and vfio-pci bind the claim succeeds', () => {
  const core = buildPlatform(q35Intel()).iommu;
  const nic = core.device('00:02.0')!;
  const g = core.groupOf(nic)!;
  assert.equal(g.ownerCount, 1);
  assert.equal(core.dmaOwnerClaimed(g), true);
  const owner = { container: 1 };
  assert.equal(core.claimDmaOwner(g, owner), -ERRNO.EPERM);
  core.unbindDriver(nic);
  assert.equal(nic.driver, 'none');
  assert.equal(core.dmaOwnerClaimed(g), false);
  assert.equal(core.bindDriver(nic, 'vfio-pci'), 0);
  assert.equal(core.dmaOwnerClaimed(g), false);
  assert.equal(core.claimDmaOwner(g, owner), 0);
  assert.equal(g.domain?.type, 'blocked');
  assert.equal(core.claimDmaOwner(g, { other: true }), -ERRNO.EPERM);
  // a kernel driver cannot bind while VFIO owns the group
  assert.equal(core.bindDriver(nic, 'e1000e'), -ERRNO.EBUSY);
  core.releaseDmaOwner(g);
  assert.equal(g.domain, g.defaultDomain);
  assert.equal(core.claimDmaOwner(g, undefined), -ERRNO.EINVAL);
});

test('require_direct: 6.12 refuses the blocking domain (-EINVAL); 6.1 intel refuses RMRR-locked devices (-EPERM)', () => {
  for (const [k, errno] of [
    ['6.12', -ERRNO.EINVAL],
    ['6.1', -ERRNO.EPERM],
  ] as const) {
    const core = buildPlatform(withRmrr(), kernelProfile(k)).iommu;
    const nic = core.device('00:02.0')!;
    core.unbindDriver(nic);
    const g = core.groupOf(nic)!;
    assert.equal(core.claimDmaOwner(g, 'vfio'), errno, k);
    assert.equal(g.domain, g.defaultDomain);
    assert.equal(g.owner, undefined);
  }
  // direct-relaxable (the ISA bridge group) does not prevent assignment
  const core = buildPlatform(q35Intel()).iommu;
  const g3 = core.groupOf(core.device('00:1f.2')!)!;
  assert.equal(core.claimDmaOwner(g3, 'vfio'), 0);
});

test('attach/detach: a paging domain replaces the blocking domain; -EBUSY while another is attached', () => {
  const core = buildPlatform(virtSmmuv3Gicv3()).iommu;
  const nic = core.device('00:01.0')!;
  core.unbindDriver(nic);
  const g = core.groupOf(nic)!;
  assert.equal(core.claimDmaOwner(g, 'vfio'), 0);
  const d1 = core.allocPagingDomain(nic);
  const d2 = core.allocPagingDomain(nic);
  assert.ok(d1.ok && d2.ok);
  assert.equal(d1.value.type, 'unmanaged');
  assert.equal(core.attachGroup(d1.value, g), 0);
  assert.equal(core.attachGroup(d2.value, g), -ERRNO.EBUSY);
  assert.equal(d1.value.map(0x100000n, 0x40000000n, 0x2000n, RW), 0);
  assert.deepEqual(core.dmaAccess(nic, 0x100010n, true), {
    kind: 'translated',
    paddr: 0x40000010n,
    prot: RW,
  });
  assert.equal(core.dmaAccess(nic, 0x200000n, true).kind, 'fault');
  core.detachGroup(d1.value, g);
  assert.equal(g.domain?.type, 'blocked');
  core.releaseDmaOwner(g);
  assert.equal(g.domain?.type, 'dma');
  assert.equal(core.allocPagingDomain(core.device('00:00.0')!).ok, false);
});

test('a domain of another driver cannot be attached (-EINVAL)', () => {
  const a = buildPlatform(virtSmmuv3Gicv3()).iommu;
  const b = buildPlatform(q35Intel()).iommu;
  const foreign = b.allocPagingDomain(b.device('00:02.0')!);
  assert.ok(foreign.ok);
  const nic = a.device('00:01.0')!;
  a.unbindDriver(nic);
  const g = a.groupOf(nic)!;
  assert.equal(a.claimDmaOwner(g, 'vfio'), 0);
  assert.equal(a.attachGroup(foreign.value, g), -ERRNO.EINVAL);
});

test('isolated MSI per profile: ITS, Intel IR, AMD IR safe; GICv2m and x86 without IR unsafe', () => {
  const safe = (d: PlatformDescription, k: '6.1' | '6.12'): boolean => {
    const core = buildPlatform(d, kernelProfile(k)).iommu;
    return core.groups().every((g) => core.groupHasIsolatedMsi(g));
  };
  for (const k of ['6.1', '6.12'] as const) {
    assert.equal(safe(q35Intel(), k), true);
    assert.equal(safe(q35Amd(), k), true);
    assert.equal(safe(virtSmmuv3Gicv3(), k), true);
    assert.equal(safe(virtSmmuv3Gicv2(), k), false);
    if (k === '6.12') {
      assert.equal(safe(q35VirtioIommu(), k), false);
      assert.equal(safe(virtVirtioIommu(), k), true);
    }
    const noIr = q35Intel();
    assert.equal(safe({ ...noIr, iommus: [{ ...noIr.iommus[0]!, interruptRemapping: false }] }, k), false);
    const quirk = virtSmmuv3Gicv3();
    assert.equal(
      safe(
        { ...quirk, interruptControllers: [{ ...quirk.interruptControllers[0]!, isolationQuirk: true }] },
        k,
      ),
      false,
    );
  }
});

test('6.1 checks MSI remapping system-wide: one GICv2m frame makes every group unsafe; 6.12 asks per device', () => {
  const base = virtSmmuv3Gicv3();
  const mixed: PlatformDescription = {
    ...base,
    interruptControllers: [
      ...base.interruptControllers,
      { id: 'v2m0', kind: 'gicv2m', base: 0x8020000n, spiBase: 80, spiCount: 64 },
    ],
  };
  const g = (k: '6.1' | '6.12'): boolean => {
    const core = buildPlatform(mixed, kernelProfile(k)).iommu;
    return core.groupHasIsolatedMsi(core.groupOf(core.device('00:01.0')!)!);
  };
  assert.equal(g('6.1'), false);
  assert.equal(g('6.12'), true);
});

test('device-tree machines: a device gets its group when a driver binds to it', () => {
  const core = buildPlatform(virtSmmuv3Gicv3()).iommu;
  const hb = core.device('0000:00:00.0')!;
  assert.equal(hb.groupId, undefined);
  assert.equal(core.bindDriver(hb, 'pcieport'), 0);
  assert.equal(hb.groupId, 1);
  // pcieport sets driver_managed_dma: it does not use the default domain
  assert.equal(core.groupOf(hb)!.ownerCount, 0);
  assert.equal(core.reservedRegionsText(core.groupOf(hb)!), '0x0000000008000000 0x00000000080fffff msi\n');
});

test('groupResvRegions merges into an existing list (VFIO detach path)', () => {
  const core = buildPlatform(q35Amd()).iommu;
  const g = core.groupOf(core.device('00:03.0')!)!;
  const into = [
    resvRegion(0x1000n, 0x1000n, 0, ResvType.Reserved),
    resvRegion(0xfef00000n, 0x1000n, 0, ResvType.Msi),
  ];
  const merged = core.groupResvRegions(g, into);
  assert.deepEqual(
    merged.map((r) => [r.start, r.length, r.type]),
    [
      [0x1000n, 0x1000n, ResvType.Reserved],
      [0xfee00000n, 0x101000n, ResvType.Msi],
      [0xfd00000000n, 0x300000000n, ResvType.Reserved],
    ],
  );
});

test('reserved_regions text: 6.12 stops at one page (sysfs_emit_at), 6.1 prints everything', () => {
  const base = virtSmmuv3Gicv3();
  const many: PlatformDescription = {
    ...base,
    firmware: 'acpi',
    firmwareTables: {
      ...base.firmwareTables,
      iortRmr: Array.from({ length: 120 }, (_, i) => ({
        base: 0x100000000n + BigInt(i) * 0x20000n,
        length: 0x10000n,
        remapPermitted: false,
        privileged: false,
        attribute: 'normal' as const,
        devices: ['0000:00:01.0'],
      })),
    },
  };
  const text = (k: '6.1' | '6.12'): string => {
    const core = buildPlatform(many, kernelProfile(k)).iommu;
    return core.reservedRegionsText(core.groupOf(core.device('00:01.0')!)!);
  };
  assert.equal(text('6.1').split('\n').length - 1, 121);
  assert.equal(text('6.12').length, 4095);
  assert.equal(text('6.12'), text('6.1').slice(0, 4095));
});

test('SMMU domains belong to one SMMU instance; Intel domains span DMAR units', () => {
  const smmu = virtSmmuv3Gicv3();
  const two: PlatformDescription = {
    ...smmu,
    hostBridges: [...smmu.hostBridges, { ...smmu.hostBridges[0]!, id: 'pcie1', segment: 1 }],
    iommus: [...smmu.iommus, { ...smmu.iommus[0]!, id: 'smmu1', hostBridges: ['pcie1'] }],
    devices: [...smmu.devices, { ...smmu.devices.find((d) => d.driver === 'e1000e')!, bdf: '0001:00:01.0' }],
  };
  const core = buildPlatform(two).iommu;
  const a = core.device('0000:00:01.0')!;
  const b = core.device('0001:00:01.0')!;
  assert.notEqual(a.iommuId, b.iommuId);
  core.unbindDriver(b);
  const gb = core.groupOf(b)!;
  assert.equal(core.claimDmaOwner(gb, 'vfio'), 0);
  const da = core.allocPagingDomain(a);
  assert.ok(da.ok);
  assert.equal(core.attachGroup(da.value, gb), -ERRNO.EINVAL);

  const intel = q35Intel();
  const twoIntel: PlatformDescription = {
    ...intel,
    hostBridges: [...intel.hostBridges, { ...intel.hostBridges[0]!, id: 'pci1', segment: 1 }],
    iommus: [...intel.iommus, { ...intel.iommus[0]!, id: 'dmar1', hostBridges: ['pci1'] }],
    devices: [
      ...intel.devices,
      { ...intel.devices.find((d) => d.driver === 'e1000e')!, bdf: '0001:00:02.0' },
    ],
  };
  const ci = buildPlatform(twoIntel).iommu;
  const x = ci.device('0001:00:02.0')!;
  ci.unbindDriver(x);
  const gx = ci.groupOf(x)!;
  assert.equal(ci.claimDmaOwner(gx, 'vfio'), 0);
  const dy = ci.allocPagingDomain(ci.device('0000:00:02.0')!);
  assert.ok(dy.ok);
  assert.equal(ci.attachGroup(dy.value, gx), 0);
});

test('sysfs type writes: 6.1 single-device groups without a driver; 6.12 groups without users; DMA->DMA-FQ always', () => {
  for (const k of ['6.1', '6.12'] as const) {
    const core = buildPlatform(q35Intel(), kernelProfile(k)).iommu;
    const nic = core.device('00:02.0')!;
    const g = core.groupOf(nic)!;
    assert.equal(core.storeGroupType(g, 'bogus\n'), -ERRNO.EINVAL);
    // e1000e is bound: 6.1 -EBUSY, 6.12 -EPERM
    assert.equal(core.storeGroupType(g, 'identity\n'), k === '6.1' ? -ERRNO.EBUSY : -ERRNO.EPERM);
    const dom = g.defaultDomain!;
    assert.equal(core.storeGroupType(g, 'DMA-FQ\n'), 7);
    assert.equal(g.defaultDomain, dom);
    assert.equal(domainTypeSysfs(g.defaultDomainType), 'DMA-FQ');
    core.unbindDriver(nic);
    assert.equal(core.storeGroupType(g, 'identity'), 8);
    assert.equal(g.defaultDomain?.type, 'identity');
    assert.equal(g.domain, g.defaultDomain);
    assert.equal(core.dmaAccess(nic, 0x1234n, true).kind, 'bypass');
    assert.equal(core.storeGroupType(g, 'auto'), 4);
    assert.equal(domainTypeSysfs(g.defaultDomainType), 'DMA');
    // the ISA group has three devices: only 6.12 can change it, and the new DMA domain gets the
    // 0-16 MiB identity map again
    const g3 = core.groupOf(core.device('00:1f.0')!)!;
    assert.equal(core.storeGroupType(g3, 'identity'), k === '6.1' ? -ERRNO.EINVAL : 8);
    if (k === '6.12') {
      assert.equal(core.storeGroupType(g3, 'DMA'), 3);
      assert.equal(g3.defaultDomain!.mappingCount, 1);
    }
  }
});

test('owner_cnt follows Device.driver even when a caller sets it directly', () => {
  const core = buildPlatform(virtSmmuv3Gicv3()).iommu;
  const nic = core.device('00:01.0')!;
  const g = core.groupOf(nic)!;
  assert.equal(core.claimDmaOwner(g, 'vfio'), -ERRNO.EPERM);
  nic.driver = 'vfio-pci';
  assert.equal(g.ownerCount, 0);
  assert.equal(core.claimDmaOwner(g, 'vfio'), 0);
  assert.equal(g.ownerCount, 1);
  core.releaseDmaOwner(g);
  nic.driver = 'e1000e';
  assert.equal(core.dmaOwnerClaimed(g), true);
});

test('driver_managed_dma drivers (vfio-pci and variants, pcieport, pci-stub) do not hold owner_cnt', () => {
  const core = buildPlatform(q35Intel()).iommu;
  const nic = core.device('00:02.0')!;
  const g = core.groupOf(nic)!;
  for (const [driver, users] of [
    ['pcieport', 0],
    ['pci-stub', 0],
    ['mlx5_vfio_pci', 0],
    ['vfio-pci', 0],
    ['e1000e', 1],
  ] as const) {
    nic.driver = driver;
    assert.equal(g.ownerCount, users, driver);
  }
});

test('Debian 6.1 has no virtio-iommu driver: the virtio-iommu presets get no groups there', () => {
  for (const d of [q35VirtioIommu(), virtVirtioIommu()]) {
    assert.equal(buildPlatform(d, kernelProfile('6.1')).iommu.groups().length, 0);
    assert.ok(buildPlatform(d, kernelProfile('6.12')).iommu.groups().length > 0);
  }
});
