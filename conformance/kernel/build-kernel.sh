#!/bin/bash
# conformance/kernel/build-kernel.sh ARCH
#
# Builds the conformance kernel with iommufd from Debian's linux-source-6.12 package (Debian's own
# kernels are built with CONFIG_IOMMUFD off, so /dev/iommu and the VFIO device cdev exist only in a
# kernel of our own). ARCH: x86_64 | arm64 (cross-compiled with aarch64-linux-gnu-gcc).
# Config: the architecture's defconfig + kvm_guest.config + kernel/iommufd.config +
# kernel/iommufd-ARCH.config, everything built in. Output:
#   cache/kernels/src-<version>-<darch>/boot/vmlinuz-src-<version>-<darch> (and its .config beside it)
#   cache/KVER-src-6.12 = src-<version>  (e.g. src-6.12.117)
# Needs: apt (linux-source-6.12), gcc, make, flex, bison, bc, libelf-dev, libssl-dev; 20-40 min on
# 2 cores. Idempotent: an existing image is kept.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
CACHE=$HERE/cache
ARCH=${1:-x86_64}
case $ARCH in
x86_64) DARCH=amd64 KARCH=x86_64 CROSS= IMAGE=arch/x86/boot/bzImage DEFCONFIG=x86_64_defconfig ;;
arm64) DARCH=arm64 KARCH=arm64 CROSS=aarch64-linux-gnu- IMAGE=arch/arm64/boot/Image.gz DEFCONFIG=defconfig ;;
*) echo "unknown arch $ARCH" >&2; exit 2 ;;
esac
export DEBIAN_FRONTEND=noninteractive
need=(flex bison bc libelf-dev libssl-dev make gcc)
[ "$ARCH" = arm64 ] && need+=(gcc-aarch64-linux-gnu)
missing=()
for p in "${need[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] || apt-get install -y -q --no-install-recommends "${missing[@]}"
mkdir -p "$CACHE/debs" "$CACHE/ksrc"
cd "$CACHE/debs"
if [ -z "$(ls linux-source-6.12_*_all.deb 2>/dev/null)" ]; then
	chmod 1777 .
	apt-get download -q linux-source-6.12
	chmod 755 .
fi
DEB=$(ls linux-source-6.12_*_all.deb | LC_ALL=C sort | tail -1)
# one source tree per architecture (an in-tree build)
SRC=$CACHE/ksrc/linux-source-6.12-$DARCH
if [ ! -f "$SRC/Makefile" ]; then
	rm -rf "$CACHE/ksrc/pkg" "$SRC"
	dpkg-deb -x "$DEB" "$CACHE/ksrc/pkg"
	tar -C "$CACHE/ksrc/pkg" -xf "$CACHE"/ksrc/pkg/usr/src/linux-source-6.12.tar.xz
	mv "$CACHE/ksrc/pkg/linux-source-6.12" "$SRC"
	rm -rf "$CACHE/ksrc/pkg"
fi
VER=$(make -s -C "$SRC" kernelversion)
KVER=src-$VER
OUT=$CACHE/kernels/$KVER-$DARCH
VMLINUZ=$OUT/boot/vmlinuz-$KVER-$DARCH
if [ ! -f "$VMLINUZ" ]; then
	BUILD=$SRC
	M=(make -C "$SRC" ARCH=$KARCH CROSS_COMPILE=$CROSS)
	"${M[@]}" -s $DEFCONFIG
	"${M[@]}" -s kvm_guest.config
	(cd "$BUILD" && "$SRC/scripts/kconfig/merge_config.sh" -m .config "$HERE/kernel/iommufd.config" "$HERE/kernel/iommufd-$ARCH.config" >/dev/null)
	"${M[@]}" -s olddefconfig
	for o in IOMMUFD VFIO_DEVICE_CDEV VFIO_PCI; do
		grep -q "^CONFIG_$o=y" "$BUILD/.config" || { echo "CONFIG_$o did not stick" >&2; exit 1; }
	done
	nice -n 5 "${M[@]}" -j"$(nproc)" "$(basename "$IMAGE")" >"$CACHE/ksrc/build-$DARCH.log" 2>&1 ||
		{ tail -20 "$CACHE/ksrc/build-$DARCH.log" >&2; exit 1; }
	# no modules: an empty module tree for build-initramfs.sh
	mkdir -p "$OUT/boot" "$OUT/lib/modules/$KVER-$DARCH/kernel"
	cp "$BUILD/$IMAGE" "$VMLINUZ"
	cp "$BUILD/.config" "$OUT/boot/config-$KVER-$DARCH"
fi
echo "$KVER" >"$CACHE/KVER-src-6.12"
echo "built $KVER-$DARCH from $(basename "$DEB")"
