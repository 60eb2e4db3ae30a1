import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assignStory, forgingStory } from '../../src/walkthrough/assign.js';
import { KERNEL_VERSIONS } from '../../src/kernel/profile.js';

const text = (s: { steps: readonly { lines: readonly string[] }[] }) =>
  s.steps.flatMap((x) => x.lines).join('\n');

for (const kernel of KERNEL_VERSIONS) {
  test(`ARM SMMUv3 + ITS (${kernel}): doorbell mapped at the window base behind userspace's back, interrupt delivered`, () => {
    const st = assignStory({
      preset: 'qemu-virt-smmuv3-gicv3',
      kernel,
      vmm: 'qemu-virt',
      memory: 4n << 30n,
      vectors: 2,
    });
    assert.equal(st.ok, true, st.moral);
    const t = text(st);
    assert.match(t, /0x0000000008000000 0x00000000080fffff msi/);
    assert.match(t, /VFIO_SET_IOMMU\(VFIO_TYPE1v2_IOMMU\) = 0/);
    assert.match(t, /usable IOVA 0x0000000000000000-0x0000000007ffffff/);
    assert.match(t, /usable IOVA 0x0000000008100000-0x0000ffffffffffff/);
    assert.match(t, /MAP_DMA mach-virt.ram iova 0x40000000 size 4 GiB = 0/);
    assert.match(t, /MAP_DMA at the MSI window 0x8000000 = -1 \(EINVAL\)/);
    // MSI_SUMMARY: every vector shares 0x08000040; the ITS translater page 0x08090000 is at IOVA 0x08000000.
    assert.match(t, /vector 0: the device was programmed with address 0x8000040 data 0x0/);
    assert.match(t, /vector 1: the device was programmed with address 0x8000040 data 0x1/);
    assert.match(t, /mapped IOVA 0x8000000 -> doorbell PA 0x8090000 \(4 KiB, prot 0x1a/);
    assert.match(t, /IOMMU translates IOVA 0x8000040 -> PA 0x8090040/);
    assert.match(t, /eventfd \d+ read: 1/);
  });

  test(`ARM SMMUv3 + GICv2m (${kernel}): SET_IOMMU refused with EPERM and the kernel's hint`, () => {
    const st = assignStory({
      preset: 'qemu-virt-smmuv3-gicv2',
      kernel,
      vmm: 'qemu-virt',
      memory: 4n << 30n,
      vectors: 1,
    });
    const t = text(st);
    assert.match(t, /VFIO_GROUP_SET_CONTAINER = 0/);
    assert.match(t, /VFIO_SET_IOMMU\(VFIO_TYPE1v2_IOMMU\) = -1 \(EPERM\)/);
    assert.match(t, /allow_unsafe_interrupts/);
    assert.equal(st.steps.at(-1)!.status, 'refused');
  });

  test(`GICv2m forging vs ITS isolation (${kernel})`, () => {
    const v2m = forgingStory({ preset: 'amd-seattle', kernel });
    assert.match(text(v2m), /GICv2m raises SPI/);
    assert.match(text(v2m), /victim's eventfd: 1; attacker's eventfd: 0/);
    const its = forgingStory({ preset: 'ampere-altra', kernel });
    assert.match(text(its), /victim's eventfd: 0; attacker's eventfd: 1/);
    assert.ok(its.steps.some((x) => /Two devices assigned with default module parameters/.test(x.title)));
  });

  test(`x86 Intel IR (${kernel}): the MSI window bypasses translation, remappable format`, () => {
    const st = assignStory({
      preset: 'qemu-q35-intel-iommu',
      kernel,
      vmm: 'qemu-q35',
      memory: 8n << 30n,
      vectors: 2,
    });
    assert.equal(st.ok, true, st.moral);
    const t = text(st);
    assert.match(t, /address 0xfee00218 data 0x0/);
    assert.match(t, /address 0xfee00238 data 0x0/);
    assert.match(t, /IOMMU lets it through untranslated/);
    assert.match(t, /MAP_DMA at the MSI window 0xfee00000 = -1 \(EINVAL\)/);
  });
}
