/**
 * intel-iommu (drivers/iommu/intel/iommu.c): RMRR direct regions, the ISA-bridge floppy workaround and
 * the IOAPIC/MSI window; domain width from the DMAR host address width.
 */
import { IOMMU_READ, IOMMU_WRITE, ResvType, type ResvRegion, resvRegion } from '../resv-region.js';
import { U64_MAX, hex } from '../../base/u64.js';
import { normalizeBdf } from '../../pci/bdf.js';
import type { PciDev } from '../../pci/topology.js';
import { pciDeviceGroup } from '../../pci/group.js';
import type { DomainGeometry } from '../api.js';
import type { DriverContext, IommuCap, IommuDriverOps } from './ops.js';
import type { IommuDescription } from '../../platform/types.js';
import { X86_MSI_END, X86_MSI_START, apertureOfBits, x86IommuCapable, translatesPci } from './common.js';

/** 4 KiB, 2 MiB and 1 GiB (VT-d second-level super pages, as QEMU advertises them). */
export const INTEL_DEFAULT_PGSIZES = 0x40201000n;

const RW = IOMMU_READ | IOMMU_WRITE;

/** IS_USB_DEVICE || IS_GFX_DEVICE: device_rmrr_is_relaxable. */
export function rmrrIsRelaxable(dev: PciDev): boolean {
  const cls = dev.desc.class;
  return cls >> 8 === 0x0c03 || cls >> 16 === 0x03;
}

/** is_downstream_to_pci_bridge: `bridge` is a PCI bridge whose bus range holds the device's bus. */
function downstreamOf(dev: PciDev, bridge: PciDev | undefined): boolean {
  const b = bridge?.desc.bridge;
  return b !== undefined && b.secondary <= dev.addr.bus && dev.addr.bus <= b.subordinate;
}

export function intelIommu(ctx: DriverContext): IommuDriverOps {
  const { iommu, platform, topology } = ctx;
  const bits = iommu.addressBits;
  const rmrrMatches = (dev: PciDev, scope: string): boolean => {
    const bdf = normalizeBdf(scope);
    if (bdf === dev.bdf) return true;
    return bdf !== undefined && downstreamOf(dev, topology.get(bdf));
  };
  const ops: IommuDriverOps = {
    name: 'intel-iommu',
    iommuId: iommu.id,
    probeMode: 'at-registration',
    translates: (dev) => translatesPci(iommu, dev),
    deviceGroup: (dev, groupOf) => pciDeviceGroup(ctx.topology, dev, groupOf),
    pgsizeBitmap: () => iommu.pgsizeBitmap ?? INTEL_DEFAULT_PGSIZES,
    geometry: (): DomainGeometry => apertureOfBits(bits),
    // intel_iommu_get_resv_regions
    getResvRegions(dev: PciDev): ResvRegion[] {
      const out: ResvRegion[] = [];
      platform.firmwareTables.rmrr.forEach((rmrr, i) => {
        for (const scope of rmrr.devices) {
          if (!rmrrMatches(dev, scope)) continue;
          const type = rmrrIsRelaxable(dev) ? ResvType.DirectRelaxable : ResvType.Direct;
          out.push(
            resvRegion(
              rmrr.base,
              rmrr.end - rmrr.base + 1n,
              RW,
              type,
              `intel: DMAR RMRR #${i} (${hex(rmrr.base)}-${hex(rmrr.end)}, scope ${scope})`,
            ),
          );
        }
      });
      // CONFIG_INTEL_IOMMU_FLOPPY_WA (Debian: y): ISA bridges get the low 16 MiB, relaxable since 5.15.
      if (dev.desc.class >> 8 === 0x0601) {
        out.push(
          resvRegion(
            0n,
            1n << 24n,
            RW,
            ResvType.DirectRelaxable,
            'intel: ISA bridge floppy workaround (0-16 MiB)',
          ),
        );
      }
      out.push(
        resvRegion(
          X86_MSI_START,
          X86_MSI_END - X86_MSI_START + 1n,
          0,
          ResvType.Msi,
          'intel: IOAPIC/MSI window',
        ),
      );
      return out;
    },
    enforceCacheCoherency: () => iommu.snoopControl === true,
    capable: (cap: IommuCap): boolean => x86IommuCapable(iommu, cap),
    msiWindowReadsFault: true,
    domainAllocUser: true,
    // intel_iommu_hw_info: struct iommu_hw_info_vtd { flags = ERRATA_772415_SPR17, cap_reg, ecap_reg }
    hwInfo() {
      const { cap, ecap } = vtdRegisters(iommu, bits);
      const data = new Uint8Array(24);
      const v = new DataView(data.buffer);
      v.setUint32(0, 1, true);
      v.setBigUint64(8, cap, true);
      v.setBigUint64(16, ecap, true);
      return { type: 1, data };
    },
    sharesDomainsAcrossInstances: true,
    forcesStrict: iommu.cachingMode === true,
    // intel_iommu_map: an IOVA past the domain's address width is -EFAULT.
    maxOutputAddress: U64_MAX,
    mapRangeCheck: (iova, size) => (iova + size - 1n > apertureOfBits(bits).apertureEnd ? -14 : 0),
    // 6.1 intel_iommu_attach_device: device_is_rmrr_locked and a domain that is not a DMA domain.
    attachCheck(dev: PciDev, domainIsDma: boolean): number {
      if (ctx.profile.requireDirectInCore || domainIsDma || rmrrIsRelaxable(dev)) return 0;
      const locked = platform.firmwareTables.rmrr.some((r) => r.devices.some((s) => rmrrMatches(dev, s)));
      return locked ? -1 : 0;
    },
  };
  return ops;
}

/** QEMU's VT-d (7.2, aw-bits 39, caching-mode=on, intremap=on) as Linux reads it (oracle dmesg). */
const QEMU_VTD_CAP = 0xd2008c22260286n;
const QEMU_VTD_ECAP = 0xf00f4an;

/**
 * The CAP and ECAP registers of a VT-d unit: the description's own (`vtdRegisters`, e.g. read from a
 * host's dmesg), else QEMU's with the fields the description carries put in: SAGAW and MGAW from the
 * address width, SLLPS from the page sizes, CM (caching mode), IR (interrupt remapping), SC (snoop
 * control).
 */
export function vtdRegisters(iommu: IommuDescription, bits: number): { cap: bigint; ecap: bigint } {
  if (iommu.vtdRegisters) return iommu.vtdRegisters;
  const sagaw = bits >= 57 ? 0b01110n : bits >= 48 ? 0b00110n : 0b00010n;
  const pg = iommu.pgsizeBitmap ?? 0x40201000n;
  const sllps = ((pg >> 21n) & 1n) | (((pg >> 30n) & 1n) << 1n);
  const cap =
    (QEMU_VTD_CAP & ~(0x80n | (0x1fn << 8n) | (0x3fn << 16n) | (0xfn << 34n))) |
    (iommu.cachingMode ? 0x80n : 0n) |
    (sagaw << 8n) |
    (BigInt(bits - 1) << 16n) |
    (sllps << 34n);
  const ecap =
    (QEMU_VTD_ECAP & ~(0x8n | 0x80n)) |
    (iommu.interruptRemapping ? 0x8n : 0n) |
    (iommu.snoopControl ? 0x80n : 0n);
  return { cap, ecap };
}
