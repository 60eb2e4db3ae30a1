import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MSI_PAGE_PROT,
  MsiOnlyCookie,
  cookieInitHwMsiRegion,
  domainCookie,
  iommuDmaGetMsiPage,
  iommuGetDmaCookie,
  iommuGetMsiCookie,
  iommuPutCookie,
  type IovaSource,
  DmaCookie,
} from '../../src/dma-iommu/cookie.js';
import { iommuDmaComposeMsiMsg, iommuDmaPrepareMsi, msiMsg, msiMsgAddress } from '../../src/dma-iommu/msi.js';
import { ERRNO } from '../../src/base/errno.js';
import { kernelProfile, type KernelProfile } from '../../src/kernel/profile.js';
import { FakeDomain } from './fake-domain.js';
import { loadPreset } from '../../src/platform/presets.js';
import { buildPlatform } from '../../src/platform/build.js';
import { attachMsiFabric, msiCookieFor } from '../../src/irq/fabric.js';

const ITS_DOORBELL = 0x0809_0040n;

test('prot of a doorbell mapping is WRITE|NOEXEC|MMIO = 0x1a', () => {
  assert.equal(MSI_PAGE_PROT, 0x1a);
});

test('iommu_get_msi_cookie: UNMANAGED only (-EINVAL), once (-EEXIST)', () => {
  assert.equal(iommuGetMsiCookie(new FakeDomain('dma'), 0x800_0000n), -ERRNO.EINVAL);
  assert.equal(iommuGetMsiCookie(new FakeDomain('identity'), 0x800_0000n), -ERRNO.EINVAL);
  const d = new FakeDomain('unmanaged');
  assert.equal(iommuGetMsiCookie(d, 0x800_0000n), 0);
  assert.equal(d.cookieKind, 'msi');
  assert.equal(iommuGetMsiCookie(d, 0x900_0000n), -ERRNO.EEXIST);
  assert.equal(iommuGetDmaCookie(d), -ERRNO.EEXIST);
  iommuPutCookie(d);
  assert.equal(d.cookieKind, 'none');
  assert.equal(domainCookie(d), undefined);
});

test('MSI-only cookie: first doorbell page at the SW_MSI base, mapped 0x1a, every vector reuses it', () => {
  const d = new FakeDomain('unmanaged');
  iommuGetMsiCookie(d, 0x800_0000n);
  const p1 = iommuDmaGetMsiPage(d, ITS_DOORBELL)!;
  assert.deepEqual(p1, { phys: 0x0809_0000n, iova: 0x0800_0000n });
  assert.equal(d.iovaToPhys(0x0800_0040n), ITS_DOORBELL);
  assert.equal([...d.mappings()][0]!.prot, 0x1a);
  for (let i = 0; i < 5; i++) assert.equal(iommuDmaGetMsiPage(d, ITS_DOORBELL), p1);
  assert.equal(d.mappingCount, 1);
  // A different doorbell page (another ITS, a v2m frame) gets the next page.
  assert.deepEqual(iommuDmaGetMsiPage(d, 0x0802_0040n), { phys: 0x0802_0000n, iova: 0x0800_1000n });
});

test('64 KiB CPU pages: the granule is PAGE_SIZE, the second page is base + 0x10000', () => {
  const d = new FakeDomain('unmanaged');
  iommuGetMsiCookie(d, 0x800_0000n, 0x10000);
  assert.deepEqual(iommuDmaGetMsiPage(d, ITS_DOORBELL), { phys: 0x0809_0000n, iova: 0x0800_0000n });
  assert.deepEqual(iommuDmaGetMsiPage(d, 0x0802_0040n), { phys: 0x0802_0000n, iova: 0x0801_0000n });
});

test('no upper bound: the 257th distinct page leaves the 1 MiB window without complaint', () => {
  const d = new FakeDomain('unmanaged');
  iommuGetMsiCookie(d, 0x800_0000n);
  let last;
  for (let i = 0; i < 257; i++) last = iommuDmaGetMsiPage(d, 0x1_0000_0000n + BigInt(i) * 0x1000n);
  assert.equal(last!.iova, 0x0810_0000n);
  assert.ok(last!.iova > 0x080f_ffffn);
});

test('map failure rolls the bump pointer back and maps nothing', () => {
  const d = new FakeDomain('unmanaged');
  iommuGetMsiCookie(d, 0x800_0000n);
  d.failNextMap = -ERRNO.ENOMEM;
  assert.equal(iommuDmaGetMsiPage(d, ITS_DOORBELL), undefined);
  assert.equal((domainCookie(d) as MsiOnlyCookie).msiIova, 0x800_0000n);
  assert.equal(d.mappingCount, 0);
  assert.deepEqual(iommuDmaGetMsiPage(d, ITS_DOORBELL), { phys: 0x0809_0000n, iova: 0x0800_0000n });
});

test('R3.3.1: an MSI-only cookie at base 0 fails the first doorbell (IOVA 0 is the failure value)', () => {
  const d = new FakeDomain('unmanaged');
  iommuGetMsiCookie(d, 0n);
  const p = kernelProfile('6.12');
  assert.deepEqual(iommuDmaPrepareMsi(d, ITS_DOORBELL, p), { ok: false, errno: -ERRNO.ENOMEM });
  assert.equal(d.mappingCount, 0);
  // The failed allocation is not given back (only a map failure rolls back), so the next try gets page 1.
  assert.equal((domainCookie(d) as MsiOnlyCookie).msiIova, 0x1000n);
  assert.deepEqual(iommuDmaGetMsiPage(d, ITS_DOORBELL), { phys: 0x0809_0000n, iova: 0x1000n });
});

test('prepare: no domain or no cookie passes the physical doorbell through (<= 6.13)', () => {
  for (const v of ['6.1', '6.12'] as const) {
    const p = kernelProfile(v);
    assert.deepEqual(iommuDmaPrepareMsi(undefined, ITS_DOORBELL, p), { ok: true, cookie: undefined });
    assert.deepEqual(iommuDmaPrepareMsi(new FakeDomain('unmanaged'), ITS_DOORBELL, p), {
      ok: true,
      cookie: undefined,
    });
    const msg = msiMsg(ITS_DOORBELL, 3);
    assert.equal(iommuDmaComposeMsiMsg(undefined, msg), msg);
  }
});

test('prepare: a >= 6.14-style profile answers -EOPNOTSUPP for a paging domain without cookie', () => {
  const p: KernelProfile = { ...kernelProfile('6.12'), noCookieIsError: true };
  assert.deepEqual(iommuDmaPrepareMsi(new FakeDomain('unmanaged'), ITS_DOORBELL, p), {
    ok: false,
    errno: -ERRNO.EOPNOTSUPP,
  });
  assert.deepEqual(iommuDmaPrepareMsi(new FakeDomain('identity'), ITS_DOORBELL, p), {
    ok: true,
    cookie: undefined,
  });
});

test('compose: page IOVA + the doorbell offset inside the granule, data unchanged, high half from the IOVA', () => {
  const d = new FakeDomain('unmanaged');
  iommuGetMsiCookie(d, 0x1_2345_0000n);
  const r = iommuDmaPrepareMsi(d, ITS_DOORBELL, kernelProfile('6.12'));
  assert.ok(r.ok);
  const m = iommuDmaComposeMsiMsg(r.cookie, msiMsg(ITS_DOORBELL, 7));
  assert.equal(msiMsgAddress(m), 0x1_2345_0040n);
  assert.equal(m.addressHi, 1);
  assert.equal(m.data, 7);
});

class TopDown implements IovaSource {
  next: bigint;
  freed: bigint[] = [];
  constructor(top: bigint) {
    this.next = top;
  }
  allocIovaFast(len: bigint, limitPfn: bigint): bigint {
    const start = (this.next < limitPfn ? this.next : limitPfn) - len + 1n;
    this.next = start - 1n;
    return start;
  }
  freeIovaFast(pfn: bigint): void {
    this.freed.push(pfn);
  }
}

test('DMA cookie: doorbell IOVA from the allocator, below 4 GiB first for PCI; HW MSI pages are identity', () => {
  const d = new FakeDomain('dma');
  const iova = new TopDown(0xf_ffff_ffffn);
  assert.equal(iommuGetDmaCookie(d, iova), 0);
  const c = domainCookie(d) as DmaCookie;
  assert.equal(c.granule, 0x1000n);
  const p = iommuDmaGetMsiPage(d, ITS_DOORBELL)!;
  assert.equal(p.iova, 0xffff_f000n);
  assert.equal(d.iovaToPhys(0xffff_f040n), ITS_DOORBELL);
  // A HW MSI window: composing for it keeps the address and maps nothing.
  cookieInitHwMsiRegion(c, 0xfee0_0000n, 0xfeef_ffffn);
  const before = d.mappingCount;
  const q = iommuDmaGetMsiPage(d, 0xfee0_0218n)!;
  assert.deepEqual(q, { phys: 0xfee0_0000n, iova: 0xfee0_0000n });
  assert.equal(d.mappingCount, before);
  // Map failure frees the IOVA back to the allocator.
  d.failNextMap = -ERRNO.ENOMEM;
  assert.equal(iommuDmaGetMsiPage(d, 0x0802_0040n), undefined);
  assert.equal(iova.freed.length, 1);
});

test('msiCookieFor(core): the cookie granule is the platform PAGE_SIZE (64 KiB arm64 kernels)', () => {
  const desc = { ...loadPreset('qemu-virt-smmuv3-gicv3'), pageSize: 65536 };
  const core = buildPlatform(desc, kernelProfile('6.12')).iommu;
  attachMsiFabric(core, desc);
  const d = new FakeDomain('unmanaged');
  assert.equal(msiCookieFor(core)(d, 0x800_0000n), 0);
  assert.equal((domainCookie(d) as MsiOnlyCookie).granule, 0x10000n);
  assert.deepEqual(iommuDmaGetMsiPage(d, ITS_DOORBELL), { phys: 0x0809_0000n, iova: 0x0800_0000n });
});
