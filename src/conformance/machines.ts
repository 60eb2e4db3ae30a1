/**
 * The machines of the conformance suite (the oracle's QEMU machines; QEMU flags live in
 * conformance/kernel/machines.sh). The IOVA ranges here are only *inputs* for the probe scenario: which
 * addresses to poke around the holes (the oracle's vfio_probe derived them from GET_INFO at run time).
 * test/conformance/machines.test.ts checks them against the RANGE lines of our own kernel goldens.
 */

import type { KernelVersion } from '../kernel/profile.js';

export interface ConformanceMachine {
  readonly name: string;
  readonly arch: 'x86_64' | 'arm64';
  readonly kernels: readonly KernelVersion[];
  /** The model's preset for this machine (presets/<preset>.yaml). */
  readonly preset: string;
  /** Usable IOVA ranges (inclusive) the type1 container reports for the e1000e's group. */
  readonly iovaRanges: readonly (readonly [bigint, bigint])[];
  /** A second vfio-pci device in another group (slot g1/d1), for the two-group container steps. */
  readonly secondGroup: boolean;
  /** PCI address of that second device (the guest init's conf.dev2). */
  readonly secondDevice?: string;
  /** The kernel's PAGE_SIZE when it is not 4 KiB (the arm64-16k flavour): adds a dirty scenario in it. */
  readonly pageBytes?: number;
  /**
   * 'iommufd': the kernel is our own build of Debian's linux-source with CONFIG_IOMMUFD and the VFIO
   * device cdev (conformance/kernel/build-kernel.sh; Debian's kernels have neither), and the machine
   * runs only the iommufd scenario.
   */
  readonly suite?: 'iommufd';
  /** Kernel drivers built into that kernel which bind devices at boot (BDF -> driver). */
  readonly builtinDrivers?: Readonly<Record<string, string>>;
}

const X86_INTEL_RANGES = [
  [0x0n, 0xfedfffffn],
  [0xfef00000n, 0x7fffffffffn],
] as const;
const ARM_SMMUV3_RANGES = [
  [0x0n, 0x7ffffffn],
  [0x8100000n, 0xffffffffffffn],
] as const;

const X86_INTEL: ConformanceMachine = {
  name: 'x86-intel',
  preset: 'qemu-q35-intel-iommu',
  arch: 'x86_64',
  kernels: ['6.1', '6.12'],
  iovaRanges: X86_INTEL_RANGES,
  secondGroup: true,
  secondDevice: '0000:00:1f.2',
};
const X86_AMD: ConformanceMachine = {
  name: 'x86-amd',
  preset: 'qemu-q35-amd-iommu',
  arch: 'x86_64',
  kernels: ['6.1', '6.12'],
  iovaRanges: [
    [0x0n, 0xfedfffffn],
    [0xfef00000n, 0xfcffffffffn],
    [0x10000000000n, 0xffffffffffffffffn],
  ],
  secondGroup: false,
};
const ARM_GICV3: ConformanceMachine = {
  name: 'arm64-smmuv3-gicv3',
  preset: 'qemu-virt-smmuv3-gicv3',
  arch: 'arm64',
  kernels: ['6.1', '6.12'],
  iovaRanges: ARM_SMMUV3_RANGES,
  secondGroup: false,
};
const ARM_GICV2: ConformanceMachine = {
  ...ARM_GICV3,
  name: 'arm64-smmuv3-gicv2',
  preset: 'qemu-virt-smmuv3-gicv2',
};

/**
 * The same QEMU machine booted on the 6.12 built with iommufd (conformance/kernel/build-kernel.sh), which
 * runs only the iommufd scenarios; that defconfig-based kernel has AHCI and the i801 SMBus driver built
 * in on x86 (Debian's are modules the guest never loads).
 */
function withIommufd(base: ConformanceMachine, more: Partial<ConformanceMachine> = {}): ConformanceMachine {
  const x86 = base.arch === 'x86_64';
  return {
    ...base,
    name: `${base.name}-iommufd`,
    kernels: ['6.12'],
    secondGroup: false,
    secondDevice: undefined,
    suite: 'iommufd',
    ...(x86 ? { builtinDrivers: { '0000:00:1f.2': 'ahci', '0000:00:1f.3': 'i801_smbus' } } : {}),
    ...more,
  };
}

export const MACHINES: readonly ConformanceMachine[] = [
  X86_INTEL,
  {
    // x86-intel with the e1000e behind a PCIe root port (01:00.0) and a second e1000e as its function 1
    // (one group: no ACS between the functions; both handed to vfio-pci): a bus it can be reset with
    ...X86_INTEL,
    name: 'x86-intel-rp',
    preset: 'qemu-q35-intel-iommu-rootport',
    secondGroup: false,
    secondDevice: '0000:01:00.1',
  },
  // the NIC through /dev/iommu and its VFIO cdev; the AHCI 00:1f.2 is handed to vfio-pci too (slot d1):
  // its group also holds the SMBus controller, which keeps its driver
  withIommufd(X86_INTEL, { secondDevice: '0000:00:1f.2' }),
  X86_AMD,
  // the HyperTransport hole as reserved IOVA
  withIommufd(X86_AMD),
  {
    name: 'x86-virtio-iommu',
    preset: 'qemu-q35-virtio-iommu',
    arch: 'x86_64',
    kernels: ['6.12'],
    iovaRanges: [
      [0x0n, 0xfedfffffn],
      [0xfef00000n, 0xffffffffffffffffn],
    ],
    secondGroup: false,
  },
  ARM_GICV3,
  ARM_GICV2,
  // the software MSI window; GICv2m's refusal at bind
  withIommufd(ARM_GICV3),
  withIommufd(ARM_GICV2),
  {
    name: 'arm64-virtio-iommu',
    preset: 'qemu-virt-virtio-iommu',
    arch: 'arm64',
    kernels: ['6.12'],
    iovaRanges: [
      [0x0n, 0x808ffffn],
      [0x80a0000n, 0xffffffffffffffffn],
    ],
    secondGroup: false,
  },
  {
    // Debian's 16 KiB-page arm64 flavour on the gicv3 machine (-cpu max: cortex-a57 lacks the 16K granule)
    ...ARM_GICV3,
    name: 'arm64-smmuv3-gicv3-16k',
    preset: 'qemu-virt-smmuv3-gicv3-16k',
    kernels: ['6.12'],
    pageBytes: 16384,
  },
];

/** `x86-intel-k6.1`: the name of a machine/kernel pair (and of its golden file). */
export function pairName(machine: string, kernel: KernelVersion): string {
  return `${machine}-k${kernel}`;
}
