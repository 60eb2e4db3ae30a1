# conformance/kernel/machines.sh — the oracle machines (sourced by run.sh).
# One line per machine: NAME|ARCH|KERNELS|QEMU ARGUMENTS|KERNEL CMDLINE|EXTRA[|NIC]
# KERNELS: the Debian kernel series booted on it (6.1 = bookworm, 6.12 =
# bookworm-backports; bookworm's 6.1 lacks CONFIG_VIRTIO_IOMMU); 6.12:src = the kernel
# build-kernel.sh builds from Debian's linux-source-6.12 with CONFIG_IOMMUFD (the *-iommufd machines,
# which run only their own scenarios).
# EXTRA: conf.* guest arguments (conf.dev2 = second device handed to vfio-pci).
# NIC: the e1000e's -device properties (default romfile=,netdev=n0; x86-intel-rp puts it on a root port,
# function 0 of a two-function slot whose function 1 is a second e1000e without a network).
# x86: no_timer_check skips the boot-time IO-APIC timer test, which TCG on a loaded host can fail
# ("timer doesn't work through Interrupt-remapped IO-APIC" panic); it changes nothing we observe.
# ARCH arm64-16k boots the 16 KiB-page flavour of the arm64 kernel; it needs a CPU with the 16K
# translation granule (-cpu max; cortex-a57 has only 4K and 64K; pauth-impdef keeps TCG fast).
# Every machine: TCG, 2 vCPUs, 2 GiB, one e1000e (8086:10d3) for vfio-pci.
MACHINES=(
"x86-intel|x86_64|6.1 6.12|-M q35,kernel-irqchip=split -cpu max -device intel-iommu,intremap=on,caching-mode=on|console=ttyS0 intel_iommu=on iommu=nopt no_timer_check|conf.dev2=0000:00:1f.2"
"x86-intel-iommufd|x86_64|6.12:src|-M q35,kernel-irqchip=split -cpu max -device intel-iommu,intremap=on,caching-mode=on|console=ttyS0 intel_iommu=on iommu=nopt no_timer_check|conf.dev2=0000:00:1f.2"
"x86-amd|x86_64|6.1 6.12|-M q35,kernel-irqchip=split -cpu max -device amd-iommu|console=ttyS0 iommu=nopt no_timer_check|"
"x86-amd-iommufd|x86_64|6.12:src|-M q35,kernel-irqchip=split -cpu max -device amd-iommu|console=ttyS0 iommu=nopt no_timer_check|"
"x86-virtio-iommu|x86_64|6.12|-M q35 -cpu max -device virtio-iommu-pci|console=ttyS0 iommu=nopt no_timer_check|"
"x86-intel-rp|x86_64|6.1 6.12|-M q35,kernel-irqchip=split -cpu max -device intel-iommu,intremap=on,caching-mode=on -device pcie-root-port,id=rp0,bus=pcie.0,chassis=1,addr=0x2 -device e1000e,bus=rp0,addr=0x0.1,romfile=|console=ttyS0 intel_iommu=on iommu=nopt no_timer_check|conf.dev2=0000:01:00.1|bus=rp0,addr=0x0.0,multifunction=on,romfile=,netdev=n0"
"arm64-smmuv3-gicv3|arm64|6.1 6.12|-M virt,iommu=smmuv3,gic-version=3 -cpu cortex-a57|console=ttyAMA0 iommu.passthrough=0|"
"arm64-smmuv3-gicv2|arm64|6.1 6.12|-M virt,iommu=smmuv3,gic-version=2 -cpu cortex-a57|console=ttyAMA0 iommu.passthrough=0|"
"arm64-smmuv3-gicv3-iommufd|arm64|6.12:src|-M virt,iommu=smmuv3,gic-version=3 -cpu cortex-a57|console=ttyAMA0 iommu.passthrough=0|"
"arm64-smmuv3-gicv2-iommufd|arm64|6.12:src|-M virt,iommu=smmuv3,gic-version=2 -cpu cortex-a57|console=ttyAMA0 iommu.passthrough=0|"
"arm64-virtio-iommu|arm64|6.12|-M virt,gic-version=3 -cpu cortex-a57 -device virtio-iommu-pci|console=ttyAMA0 iommu.passthrough=0|"
"arm64-smmuv3-gicv3-16k|arm64-16k|6.12|-M virt,iommu=smmuv3,gic-version=3 -cpu max,pauth-impdef=on|console=ttyAMA0 iommu.passthrough=0|"
)
