/**
 * End-to-end tests of the web view in Debian's Chromium: load each source, hover, zoom (buttons, keys,
 * wheel, "go to"), pan by dragging, paste and drop files, and check what is on the page. Screenshots of
 * every view go to test-artifacts/web/.
 */
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import type { HostView } from '../../src/host/view.js';
import { ResvType } from '../../src/iommu/resv-region.js';
import {
  type Harness,
  type PageGlobals,
  frame,
  hover,
  open,
  pageErrors,
  startHarness,
  viewWindow,
} from './browser.js';
import { hostViewFromPlatform } from '../../src/host/from-platform.js';
import { snapshotText } from '../../src/host/snapshot.js';
import { kernelProfile } from '../../src/kernel/profile.js';
import { loadPreset, presetNames } from '../../src/platform/presets.js';
import { hostViewFromText } from '../../src/web/paste.js';
import { ARM_PRESET, X86_AMD } from './fixtures.js';

/** 8 groups x 500 scattered 4 KiB regions: the page must stay usable with thousands of items. */
function manyRegions(): HostView {
  const groups = Array.from({ length: 8 }, (_, id) => ({
    id,
    type: 'DMA',
    devices: [
      { bdf: `0000:0${id}:00.0`, vendor: 0x15b3, device: 0x101b, class: 0x020000, driver: 'mlx5_core' },
    ],
    regions: Array.from({ length: 500 }, (_, k) => ({
      start: 0x100000000n + BigInt(k) * 0x200000n + BigInt(id) * 0x1000n,
      end: 0x100000000n + BigInt(k) * 0x200000n + BigInt(id) * 0x1000n + 0xfffn,
      typeString: 'reserved',
      type: ResvType.Reserved,
    })),
    usable: [{ start: 0n, end: 0xffffffffn }],
  }));
  return {
    source: 'test:many',
    arch: 'x86_64',
    aperture: { start: 0n, end: (1n << 48n) - 1n },
    groups,
    notes: [],
  };
}

let h: Harness;
let page: Page;

before(async () => {
  h = await startHarness(
    [
      // A host snapshot file, as `iovamap serve --snapshot` serves it (read back by the library).
      {
        id: 'amd',
        label: 'snapshot of the q35 AMD-Vi machine',
        load: async () => hostViewFromText(snapshotText(X86_AMD), { file: 'amd.json' }),
      },
      { id: 'many', label: 'many regions', load: async () => manyRegions() },
    ],
    `preset:${ARM_PRESET}`,
  );
  page = await h.page();
});

after(async () => {
  await h?.close();
});

describe('web view in Chromium', () => {
  test('ARM: one lane, the MSI window explained, exact hex and size on hover', async () => {
    await open(page, h.url);
    assert.equal(await page.locator('.lane-label').count(), 1);
    assert.match(
      (await page.textContent('.lane-label')) ?? '',
      /group 0.*interrupts isolated.*0000:00:01\.0 .*\(e1000e\)/s,
    );
    const story = (await page.textContent('#story')) ?? '';
    assert.match(story, /ARM MSI window, IOVA 0x0000000008000000 – 0x00000000080fffff \(1 MiB\)/);
    assert.match(story, /doorbell/);
    await h.shot(page, 'arm-overview');
    const tip = await hover(page, 'group-0', 0x8080000n);
    assert.match(tip, /MSI window \(software/);
    assert.match(tip, /0x0000000008000000 – 0x00000000080fffff/);
    assert.match(tip, /1 MiB \(0x100000 bytes\)/);
    await h.shot(page, 'arm-hover-msi');
    const usable = await hover(page, 'group-0', 0x4000000n, 'usable');
    assert.match(usable, /usable IOVA range/);
    assert.match(usable, /0x0000000000000000 – 0x0000000007ffffff/);
    const above = await hover(page, 'group-0', 1n << 50n, 'outside');
    assert.match(above, /outside the IOMMU aperture/);
    assert.match(above, /0x0001000000000000 – 0xffffffffffffffff/);
    assert.deepEqual(pageErrors(page), []);
  });

  test('zoom: MSI button, keys, wheel, go-to down to a 4 KiB page; drag pans', async () => {
    await open(page, h.url);
    await page.click('#show-msi');
    await frame(page);
    let w = await viewWindow(page);
    // The margins fall in the neighbouring gaps, which have their own (smaller) scale.
    assert.ok(w.lo < 0x8000000n && w.lo >= 0x4000000n, `window starts at ${w.lo.toString(16)}`);
    assert.ok(w.hi > 0x8100000n && w.hi < 1n << 48n, `window ends at ${w.hi.toString(16)}`);
    await h.shot(page, 'arm-zoom-msi');

    await page.focus('#map');
    const before = w.hi - w.lo;
    await page.keyboard.press('+');
    await frame(page);
    w = await viewWindow(page);
    assert.ok(w.hi - w.lo < before, 'the + key zooms in');
    await page.keyboard.press('-');
    await page.keyboard.press('-');
    await frame(page);
    w = await viewWindow(page);
    assert.ok(w.hi - w.lo > before, 'the - key zooms out');
    const lo = w.lo;
    await page.keyboard.press('ArrowRight');
    await frame(page);
    assert.ok((await viewWindow(page)).lo > lo, 'the right arrow pans to higher addresses');

    // Mouse: drag to the right shows lower addresses.
    const box = (await page.locator('canvas.lanes').boundingBox())!;
    const w0 = await viewWindow(page);
    await page.mouse.move(box.x + 600, box.y + 30);
    await page.mouse.down();
    await page.mouse.move(box.x + 700, box.y + 30, { steps: 4 });
    await page.mouse.up();
    await frame(page);
    assert.ok((await viewWindow(page)).lo < w0.lo, 'dragging right pans to lower addresses');

    // The wheel zooms at the pointer: the address under it stays under it.
    await page.keyboard.press('0');
    await frame(page);
    const at = (await page.evaluate(() =>
      (globalThis as unknown as PageGlobals).iovamap.locate('group-0', '0x8080000'),
    ))!;
    await page.mouse.move(at.x, at.y);
    for (let i = 0; i < 6; i++) await page.mouse.wheel(0, -300);
    await frame(page);
    const z = await viewWindow(page);
    assert.ok(z.lo <= 0x8080000n && 0x8080000n < z.hi, 'the wheel zooms around the pointer');
    assert.ok(z.hi - z.lo < 1n << 40n, 'the wheel zoomed in');

    // "Go to" a single page: the axis then has page grid lines and exact labels.
    await page.fill('#goto', '0x8000000+4K');
    await page.press('#goto', 'Enter');
    await frame(page);
    const [p0, p1] = await page.evaluate(() => {
      const api = (globalThis as unknown as PageGlobals).iovamap;
      return [api.locate('group-0', '0x8000000')!, api.locate('group-0', '0x8001000')!];
    });
    const canvasWidth = (await page.locator('canvas.lanes').boundingBox())!.width;
    assert.ok(p1.x - p0.x > canvasWidth * 0.8, `one 4 KiB page is ${p1.x - p0.x} px of ${canvasWidth}`);
    assert.match(
      (await page.textContent('#status')) ?? '',
      /^showing 0x00000000[0-9a-f]{8} – 0x00000000080[0-9a-f]{5} /,
    );
    const tip = await hover(page, 'group-0', 0x8000800n);
    assert.match(tip, /address 0x00000000080008/);
    await h.shot(page, 'arm-zoom-page');
    await page.fill('#goto', 'nonsense');
    await page.press('#goto', 'Enter');
    assert.match((await page.textContent('#error')) ?? '', /go to: write a range/);
    assert.deepEqual(pageErrors(page), []);
  });

  test('click selects a region and explains it; double-click zooms to it', async () => {
    await open(page, h.url);
    const at = (await page.evaluate(() =>
      (globalThis as unknown as PageGlobals).iovamap.locate('group-0', '0x8080000'),
    ))!;
    await page.mouse.click(at.x, at.y);
    await page.waitForSelector('#details h2');
    const details = (await page.textContent('#details')) ?? '';
    assert.match(details, /group 0: MSI window \(software/);
    assert.match(details, /0x0000000008000000 – 0x00000000080fffff · 1 MiB/);
    assert.match(details, /VFIO_IOMMU_MAP_DMA answers EINVAL/);
    await page.mouse.dblclick(at.x, at.y);
    await frame(page);
    const w = await viewWindow(page);
    assert.ok(w.lo < 0x8000000n && w.hi > 0x80fffffn && w.hi < 1n << 48n, 'zoomed onto the MSI window');
    await h.shot(page, 'arm-select-msi');
  });

  test('x86 AMD snapshot served by the server: four lanes, HyperTransport hole and APIC window', async () => {
    await open(page, h.url);
    await page.selectOption('#source', 'amd');
    await page.waitForFunction("document.querySelectorAll('.lane-label').length === 4");
    await frame(page);
    assert.match(
      (await page.textContent('#story')) ?? '',
      /on x86 a device write there is an interrupt message/,
    );
    const ht = await hover(page, 'group-3', 0xfe00000000n);
    assert.match(ht, /reserved/);
    assert.match(ht, /0x000000fd00000000 – 0x000000ffffffffff/);
    assert.match(ht, /12 GiB/);
    const msi = await hover(page, 'group-2', 0xfee00000n);
    assert.match(msi, /MSI window \(hardware doorbell\)/);
    await h.shot(page, 'amd-overview');
  });

  test('VMM layouts overlaid on the assigned groups; conflicts highlighted and explained', async () => {
    await open(page, h.url, `preset:qemu-q35-amd-iommu`);
    await page.check('#vmm-groups input[data-group="2"]');
    await page.selectOption('#vmm', 'cloud-hypervisor-x86_64');
    await page.fill('#vmm-memory', '1024G');
    await page.press('#vmm-memory', 'Enter');
    await page.waitForSelector('#vmm-verdict.conflict');
    await frame(page);
    const panel = (await page.textContent('#vmm-panel')) ?? '';
    assert.match(panel, /does not fit group 2: 1 conflict/);
    assert.match(panel, /CONFLICT 1: RAM above 4 GiB/);
    assert.match(panel, /0x000000fd00000000-0x000000ffffffffff \(12 GiB\) "reserved"/);
    assert.match(panel, /VFIO: /);
    // The conflict is drawn on group 2's lane only, with the same explanation on hover.
    const tip = await hover(page, 'group-2', 0xfe00000000n, 'conflict');
    assert.match(tip, /conflict: RAM above 4 GiB cannot be mapped here/);
    const other = await hover(page, 'group-1', 0xfe00000000n, 'resv');
    assert.doesNotMatch(other, /conflict/);
    await page.click('#vmm-panel .zoom-conflict');
    await frame(page);
    await h.shot(page, 'vmm-cloud-hypervisor-conflict');

    // Switch layouts: QEMU q35 moves RAM above 4 GiB to 1 TiB on an AMD host, so it fits.
    await page.selectOption('#vmm', 'qemu-q35');
    await page.waitForSelector('#vmm-verdict.ok-line');
    await frame(page);
    assert.match((await page.textContent('#vmm-panel')) ?? '', /QEMU q35 \(x86_64\) with 1 TiB fits group 2/);
    assert.match((await page.textContent('#vmm-panel')) ?? '', /RAM above 4 GiB starts at 1 TiB/);
    // check's own notes too: what VFIO pins, and the RLIMIT_MEMLOCK that needs
    assert.match(
      (await page.textContent('#vmm-panel')) ?? '',
      /without CAP_IPC_LOCK the VMM needs RLIMIT_MEMLOCK/,
    );
    const ram = await hover(page, 'group-2', 0x10000000000n, 'guest');
    assert.match(ram, /QEMU q35 \(x86_64\): RAM above 4 GiB/);
    await h.shot(page, 'vmm-qemu-q35-fits');
    // The VMM's RLIMIT_MEMLOCK: half the RAM, and the RAM above 4 GiB is refused with ENOMEM.
    await page.fill('#vmm-memlock', '512G');
    await page.press('#vmm-memlock', 'Enter');
    await page.waitForSelector('#vmm-memlock-result');
    const locked = (await page.textContent('#vmm-panel')) ?? '';
    assert.match(locked, /does not fit group 2: 0 conflicts, over RLIMIT_MEMLOCK/);
    assert.match(
      locked,
      /LOCKED MEMORY: RAM above 4 GiB, relocated to 1 TiB \[pc\.ram\] 0x0000010000000000-/,
    );
    assert.match(locked, /kernel log: vfio_pin_pages_remote: RLIMIT_MEMLOCK \(549755813888\) exceeded/);
    assert.match(locked, /= -12 \(Cannot allocate memory\)/);
    await frame(page);
    assert.match(await hover(page, 'group-2', 0x10000000000n, 'conflict'), /locked memory: RAM above 4 GiB/);
    await page.fill('#vmm-memlock', 'lots');
    await page.press('#vmm-memlock', 'Enter');
    assert.match(
      (await page.textContent('#vmm-result')) ?? '',
      /RLIMIT_MEMLOCK "lots": not a size or "unlimited"/,
    );
    await page.fill('#vmm-memlock', 'unlimited');
    await page.press('#vmm-memlock', 'Enter');
    await page.waitForSelector('#vmm-verdict.ok-line');
    assert.match(
      (await page.textContent('#vmm-panel')) ?? '',
      /RLIMIT_MEMLOCK unlimited: the 1099511758848 bytes \(~1\.0 TiB\) VFIO pins/,
    );
    // Behind a vIOMMU each of two groups has a container that pins the RAM: 1.5 TiB is not enough.
    await page.check('#vmm-groups input[data-group="1"]');
    await page.check('#vmm-viommu');
    await page.fill('#vmm-memlock', '1536G');
    await page.press('#vmm-memlock', 'Enter');
    await page.waitForSelector('#vmm-memlock-result');
    const two = (await page.textContent('#vmm-memlock-result')) ?? '';
    assert.match(two, /refused with ENOMEM \(RLIMIT_MEMLOCK\) in container 2 of 2/);
    assert.match(two, /\(2 containers x 1099511758848 bytes/);
    await page.uncheck('#vmm-viommu');
    await page.waitForSelector('#vmm-verdict.ok-line');
    assert.deepEqual(pageErrors(page), []);
  });

  test('a pasted VMM command line fills the VM panel: machine, RAM, devices and vIOMMU', async () => {
    await open(page, h.url, 'preset:qemu-q35-intel-iommu');
    await page.click('#vmm-cmdline-box summary');
    await page.fill(
      '#vmm-cmdline',
      [
        'qemu-system-x86_64 \\',
        '  -machine pc-q35-8.2,accel=kvm -m 8G \\',
        '  -device intel-iommu,caching-mode=on \\',
        '  -device \'{"driver":"vfio-pci","host":"0000:00:01.0"}\' -device vfio-pci,host=00:02.0',
      ].join('\n'),
    );
    await page.click('#vmm-cmdline-read');
    await page.waitForSelector('#vmm-verdict');
    assert.equal(await page.inputValue('#vmm'), 'qemu-q35');
    assert.equal(await page.inputValue('#vmm-memory'), '8192M');
    assert.match(await page.inputValue('#vmm-opts'), /version=8\.2/);
    assert.equal(await page.isChecked('#vmm-groups input[data-group="1"]'), true);
    assert.equal(await page.isChecked('#vmm-groups input[data-group="2"]'), true);
    assert.equal(await page.isChecked('#vmm-viommu'), true);
    assert.match((await page.textContent('#vmm-cmdline-msg')) ?? '', /read from the QEMU command line/);
    await page.fill('#vmm-memlock', '12G');
    await page.press('#vmm-memlock', 'Enter');
    await page.waitForSelector('#vmm-memlock-result');
    assert.match(
      (await page.textContent('#vmm-memlock-result')) ?? '',
      /in container 2 of 2, for 0000:00:02\.0 \(group 2\)/,
    );
    // a libvirt domain: the same, and the RLIMIT_MEMLOCK libvirt sets (its hard_limit here)
    await page.fill('#vmm-memlock', '');
    await page.fill(
      '#vmm-cmdline',
      "<domain type='kvm'><name>g</name><memory unit='GiB'>4</memory><memtune><hard_limit unit='GiB'>4</hard_limit></memtune>" +
        "<os><type arch='x86_64' machine='pc-q35-9.2'>hvm</type></os><devices>" +
        "<hostdev mode='subsystem' type='pci'><source><address domain='0x0000' bus='0x00' slot='0x01' function='0x0'/></source></hostdev>" +
        '</devices></domain>',
    );
    await page.click('#vmm-cmdline-read');
    await page.waitForSelector('#vmm-memlock-result');
    assert.equal(await page.inputValue('#vmm-memory'), '4096M');
    assert.equal(await page.inputValue('#vmm-memlock'), String(4 * 2 ** 30));
    assert.equal(await page.isChecked('#vmm-viommu'), false);
    assert.equal(await page.isChecked('#vmm-groups input[data-group="2"]'), false);
    assert.match((await page.textContent('#vmm-cmdline-msg')) ?? '', /hard_limit, 4 GiB/);
    // two functions of one group behind the vIOMMU: QEMU refuses the second, unless one bridge holds both
    await open(page, h.url, 'preset:qemu-q35-intel-iommu-rootport');
    await page.click('#vmm-cmdline-box summary');
    const pair = (extra: string) =>
      'qemu-system-x86_64 -M q35 -m 2G -device intel-iommu,caching-mode=on -device pcie-root-port,id=rp1 ' +
      extra;
    await page.fill(
      '#vmm-cmdline',
      pair('-device vfio-pci,host=01:00.0,bus=rp1 -device vfio-pci,host=01:00.1,bus=rp1'),
    );
    await page.click('#vmm-cmdline-read');
    await page.waitForSelector('#vmm-panel .blocker');
    assert.match(
      (await page.textContent('#vmm-panel .blocker')) ?? '',
      /vfio 0000:01:00\.1: group 4 used in multiple address spaces/,
    );
    await page.fill(
      '#vmm-cmdline',
      pair(
        '-device pcie-pci-bridge,id=br,bus=rp1 -device vfio-pci,host=01:00.0,bus=br -device vfio-pci,host=01:00.1,bus=br',
      ),
    );
    await page.click('#vmm-cmdline-read');
    await page.waitForSelector('#vmm-verdict.ok-line');
    // QEMU's SMMUv3 on an arm64 host: the group is refused
    await open(page, h.url, 'preset:qemu-virt-smmuv3-gicv3');
    await page.click('#vmm-cmdline-box summary');
    await page.fill(
      '#vmm-cmdline',
      'qemu-system-aarch64 -M virt,iommu=smmuv3 -m 2G -device vfio-pci,host=00:01.0',
    );
    await page.click('#vmm-cmdline-read');
    await page.waitForSelector('#vmm-panel .blocker');
    assert.match((await page.textContent('#vmm-panel .blocker')) ?? '', /requires iommu MAP notifier/);
    // a mistake is shown with the line it is on
    await page.fill('#vmm-cmdline', 'qemu-system-x86_64 \\\n  -m lots');
    await page.click('#vmm-cmdline-read');
    assert.match(
      (await page.textContent('#vmm-cmdline-msg')) ?? '',
      /the pasted command line:2: -m lots: not a memory size/,
    );
    // a crosvm command: the VMM switches to crosvm, its aarch64-only options are left out
    await page.fill(
      '#vmm-cmdline',
      'crosvm run -m 2048 --pci mem=[start=0x3000000] --vfio /sys/bus/pci/devices/0000:00:01.0 Image',
    );
    await page.click('#vmm-cmdline-read');
    await page.waitForSelector('#vmm-verdict');
    assert.equal(await page.inputValue('#vmm'), 'crosvm-aarch64');
    assert.equal(await page.inputValue('#vmm-memory'), '2048M');
    assert.equal(await page.inputValue('#vmm-opts'), '');
    assert.match((await page.textContent('#vmm-cmdline-msg')) ?? '', /read from the crosvm command line/);
    assert.equal(await page.isDisabled('#vmm-iommufd'), true, 'crosvm has no iommufd backend');
    // QEMU on iommufd with QEMU opening /dev/iommu: the box is ticked, pins count per user
    await page.fill(
      '#vmm-cmdline',
      'qemu-system-aarch64 -M virt -m 2G -object iommufd,id=i0 -device vfio-pci,host=00:01.0,iommufd=i0',
    );
    await page.click('#vmm-cmdline-read');
    await page.waitForSelector('#vmm-verdict');
    assert.equal(await page.isChecked('#vmm-iommufd'), true);
    await page.fill('#vmm-memlock', '1G');
    await page.press('#vmm-memlock', 'Enter');
    await page.waitForSelector('#vmm-memlock-result');
    const refused = (await page.textContent('#vmm-memlock-result')) ?? '';
    assert.match(refused, /IOMMU_IOAS_MAP\(iova=0x40000000, length=0x80000000\) = -ENOMEM/);
    assert.match(refused, /IOMMU_OPTION_RLIMIT_MODE=1/);
    // enough for this guest alone, not with another VM of the same user holding 2 GiB
    await page.fill('#vmm-memlock', '3G');
    await page.press('#vmm-memlock', 'Enter');
    await page.waitForSelector('#vmm-verdict.ok-line');
    await page.fill('#vmm-user-locked', '2G');
    await page.press('#vmm-user-locked', 'Enter');
    await page.waitForSelector('#vmm-memlock-result');
    assert.match(
      (await page.textContent('#vmm-memlock-result')) ?? '',
      /2 GiB of it by the user's other processes/,
    );
    assert.deepEqual(pageErrors(page), []);
  });

  test('MSI path of a device: delivered through the ITS, the doorbell mapped in the MSI window', async () => {
    await open(page, h.url);
    await page.waitForSelector('#msi-verdict.ok-line');
    await frame(page);
    assert.match(
      (await page.textContent('#msi-verdict')) ?? '',
      /^delivered: 0000:00:01\.0 → IOMMU \(IOVA 0x0000000008000040 → PA 0x0000000008090040\) → its0/,
    );
    const statuses = await page.$$eval('.msi-step', (els) =>
      els.map((e) => e.getAttribute('data-step') + ':' + e.getAttribute('data-status')),
    );
    assert.deepEqual(statuses, [
      'vfio:ok',
      'device:ok',
      'iommu:ok',
      'doorbell:ok',
      'controller:ok',
      'vector:ok',
      'eventfd:ok',
    ]);
    const tip = await hover(page, 'group-0', 0x8000000n, 'map');
    assert.match(tip, /MSI doorbell page, mapped by the kernel/);
    assert.match(tip, /0x0000000008000000 – 0x0000000008000fff/);
    assert.match(tip, /→ PA 0x0000000008090000/);
    await h.shot(page, 'msi-gicv3-delivered');

    // Without the cookie nobody maps the doorbell: the IOMMU step fails.
    await page.check('#msi-nocookie');
    await page.waitForSelector('.msi-step[data-step="iommu"][data-status="fail"]');
    assert.match((await page.textContent('#msi-verdict')) ?? '', /the IOMMU faults/);
    await h.shot(page, 'msi-gicv3-no-cookie');

    // GICv2m cannot isolate MSIs: VFIO refuses the group, unless allow_unsafe_interrupts.
    await page.uncheck('#msi-nocookie');
    await page.selectOption('#source', 'preset:qemu-virt-smmuv3-gicv2');
    await page.selectOption('#kernel', '6.1');
    await page.waitForSelector('.msi-step[data-step="vfio"][data-status="fail"]');
    assert.match(
      (await page.textContent('#msi-verdict')) ?? '',
      /unsafe platform: VFIO refuses group 0 because GICv2m does not isolate MSIs \(EPERM\)/,
    );
    assert.match((await page.textContent('.lane-label')) ?? '', /interrupts NOT isolated/);
    await h.shot(page, 'msi-gicv2-unsafe');
    await page.check('#msi-unsafe');
    await page.waitForSelector('#msi-verdict.ok-line');
    assert.match(
      (await page.textContent('#msi-verdict')) ?? '',
      /PA 0x0000000008020040\) → v2m0 .*but MSIs are not isolated/,
    );
    assert.deepEqual(pageErrors(page), []);
  });

  test('scenario stepped through: switches to its platform, mappings grow on the lane', async () => {
    await open(page, h.url);
    await page.selectOption('#scenario', 'probe_full');
    await page.waitForSelector('#scenario-head');
    await frame(page);
    assert.equal(await page.inputValue('#source'), 'preset:qemu-q35-intel-iommu');
    assert.match(
      (await page.textContent('#scenario-head')) ?? '',
      /^probe_full on qemu-q35-intel-iommu: step 1 of \d+ — bind_driver/,
    );
    await page.click('#scenario-next');
    assert.match((await page.textContent('#scenario-head')) ?? '', /step 2 of/);
    // Jump to the first MAP_DMA in the step list, then step once more.
    await page.click('#scenario-steps div:has-text("map_dma a_map_valid")');
    await frame(page);
    assert.match(
      (await page.textContent('#scenario-lines')) ?? '',
      /CASE a_map_valid rc=0 errno=0 op=MAP flags=0x3 iova=0x100000 size=0x1000/,
    );
    const tip = await hover(page, 'group-2', 0x100800n, 'map');
    assert.match(tip, /mapped by step \d+ \(map_dma a_map_valid\)/);
    assert.match(tip, /0x0000000000100000 – 0x0000000000100fff/);
    await h.shot(page, 'scenario-probe-full-map');
    await page.click('#scenario-next');
    await frame(page);
    assert.match((await page.textContent('#scenario-lines')) ?? '', /INFO dma_avail_after_a=65534/);
    await page.click('#scenario-next');
    await frame(page);
    assert.match(
      (await page.textContent('#scenario-lines')) ?? '',
      /CASE b_map_duplicate rc=-1 errno=EEXIST/,
    );
    assert.equal(await page.locator('#scenario-lines .failed').count(), 1);
    const head = (await page.textContent('#scenario-head')) ?? '';
    await page.click('#scenario-last');
    await frame(page);
    assert.notEqual(await page.textContent('#scenario-head'), head);
    assert.equal(await page.locator('#scenario-steps .current').count(), 1);
    await h.shot(page, 'scenario-probe-full-last');
    assert.deepEqual(pageErrors(page), []);
  });

  test('every built-in platform loads, draws its groups and answers a hover', async () => {
    await open(page, h.url);
    for (const name of presetNames()) {
      const view = hostViewFromPlatform(loadPreset(name), kernelProfile('6.12'));
      await page.selectOption('#kernel', '6.12');
      await page.selectOption('#source', `preset:${name}`);
      await page.waitForFunction(
        ([src, n]) => {
          const d = (
            globalThis as unknown as {
              document: {
                querySelectorAll(s: string): { length: number };
                querySelector(s: string): { textContent: string } | null;
              };
            }
          ).document;
          return (
            d.querySelectorAll('.lane-label').length === n &&
            (d.querySelector('#story')?.textContent ?? '').includes(src)
          );
        },
        [`platform:${name}`, view.groups.length] as const,
      );
      await frame(page);
      const g = view.groups.find((x) => x.regions.length > 0);
      if (g) {
        const r = g.regions[0]!;
        const tip = await hover(page, `group-${g.id}`, r.start + (r.end - r.start) / 2n);
        assert.ok(
          tip.includes(
            `0x${r.start.toString(16).padStart(16, '0')} – 0x${r.end.toString(16).padStart(16, '0')}`,
          ),
          `${name}: ${tip}`,
        );
      }
      await page.mouse.move(0, 0);
      await h.shot(page, `preset-${name}`);
    }
    assert.deepEqual(pageErrors(page), []);
  });

  test('paste a reserved_regions file: parsed in the browser; errors name the line', async () => {
    await open(page, h.url);
    await page.click('#open-paste');
    await page.fill('#paste-text', '0x0000000008000000 0x00000000080fffff msi\n');
    await page.selectOption('#paste-bits', '48');
    await page.click('#paste-ok');
    await page.waitForFunction(
      "document.querySelector('#source option:checked')?.textContent.includes('pasted')",
    );
    await frame(page);
    assert.match((await page.textContent('#story')) ?? '', /Assumed a 48-bit IOMMU aperture and an ARM host/);
    const tip = await hover(page, 'group-0', 0x8100000n, 'usable');
    assert.match(tip, /0x0000000008100000 – 0x0000ffffffffffff/);
    await h.shot(page, 'paste-arm');

    await page.click('#open-paste');
    await page.fill('#paste-text', '0x0000000008000000 0x00000000080fffff msi\n0x10 0x5 msi\n');
    await page.click('#paste-ok');
    await page.waitForSelector('#error:not([hidden])');
    assert.match((await page.textContent('#error')) ?? '', /pasted reserved_regions:2: impossible range/);
    await h.shot(page, 'paste-error');
  });

  test('drop a file on the page: a snapshot or a reserved_regions text', async () => {
    await open(page, h.url);
    const text =
      '0x00000000fee00000 0x00000000feefffff msi\n0x000000fd00000000 0x000000ffffffffff reserved\n';
    const dt = await page.evaluateHandle(
      `(() => { const d = new DataTransfer(); d.items.add(new File([${JSON.stringify(text)}], 'reserved_regions', { type: 'text/plain' })); return d; })()`,
    );
    await page.dispatchEvent('body', 'dragover', { dataTransfer: dt });
    assert.equal(await page.isVisible('#drop-hint'), true);
    await page.dispatchEvent('body', 'drop', { dataTransfer: dt });
    await page.waitForFunction(
      "document.querySelector('#source option:checked')?.textContent.includes('file: reserved_regions')",
    );
    await frame(page);
    assert.equal(await page.isVisible('#drop-hint'), false);
    assert.match((await page.textContent('#story')) ?? '', /an x86 host/);
    const tip = await hover(page, 'group-0', 0xfd00000000n);
    assert.match(tip, /12 GiB/);
    await h.shot(page, 'drop-x86');
    // "Save snapshot" writes the host snapshot format the CLI reads (iovamap inspect --snapshot).
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#save')]);
    const saved = readFileSync((await download.path())!, 'utf8');
    const back = hostViewFromText(saved, { file: 'saved.json' });
    assert.equal(back.groups.length, 1);
    assert.deepEqual(
      back.groups[0]!.regions.map((r) => [r.start, r.end, r.typeString]),
      [
        [0xfee00000n, 0xfeefffffn, 'msi'],
        [0xfd00000000n, 0xffffffffffn, 'reserved'],
      ],
    );
  });

  test('thousands of regions: drawn with pixel merging, hover still exact', async () => {
    await open(page, h.url, 'many');
    assert.equal(await page.locator('.lane-label').count(), 8);
    const status = (await page.textContent('#status')) ?? '';
    const m = /(\d+) items, (\d+) drawn/.exec(status);
    assert.ok(m, status);
    assert.ok(Number(m[1]) >= 4000);
    assert.ok(Number(m[2]) > 0);
    // Zoomed out, every region is a fraction of a pixel: hovering still names the nearest one.
    assert.match(
      await hover(page, 'group-5', 0x100000000n + 7n * 0x200000n + 5n * 0x1000n),
      /reserved.*4 KiB/s,
    );
    await h.shot(page, 'many-regions');
    await page.fill('#goto', '0x100e00000-0x100e0ffff');
    await page.press('#goto', 'Enter');
    await frame(page);
    const tip = await hover(page, 'group-5', 0x100000000n + 7n * 0x200000n + 5n * 0x1000n);
    assert.match(tip, /0x0000000100e05000 – 0x0000000100e05fff/);
    assert.match(tip, /4 KiB/);
    await h.shot(page, 'many-regions-zoom');
    assert.deepEqual(pageErrors(page), []);
  });
});
