#!/bin/bash
# conformance/kernel/build-initramfs.sh ARCH KVER OUTDIR SCENARIO.iovx...
#
# Builds a minimal initramfs for one Debian kernel: busybox (static), the
# guest /init (conformance/guest/init), the executor iovaexec compiled
# statically for ARCH, the given compiled scenarios (run in argument order),
# and the
# kernel modules the guest needs (with their dependencies, in load order,
# decompressed). Writes OUTDIR/{vmlinuz,initramfs.cpio.gz}.
# ARCH: x86_64 | arm64 | arm64-16k (the 16 KiB-page flavour of the arm64 kernel). Reproducible: files
# are sorted and timestamps fixed.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
ARCH=$1 KVER=$2 OUT=$3
shift 3
CACHE=$HERE/cache
FLAVOUR=
case $ARCH in
x86_64) DARCH=amd64 CC=gcc BUSYBOX=/bin/busybox ;;
arm64 | arm64-16k)
	DARCH=arm64 CC=aarch64-linux-gnu-gcc
	[ "$ARCH" = arm64-16k ] && FLAVOUR=-16k
	BB=$CACHE/busybox-arm64
	if [ ! -x "$BB/bin/busybox" ]; then
		rm -rf "$BB"
		dpkg-deb -x "$CACHE"/debs/busybox-static_*_arm64.deb "$BB"
	fi
	BUSYBOX=$BB/bin/busybox
	;;
*) echo "unknown arch $ARCH" >&2; exit 2 ;;
esac
KROOT=$CACHE/kernels/$KVER-$DARCH$FLAVOUR
if [ ! -d "$KROOT/lib/modules" ]; then
	rm -rf "$KROOT"
	mkdir -p "$KROOT"
	if [ -n "$FLAVOUR" ]; then
		dpkg-deb -x "$CACHE"/debs/linux-image-"$KVER"-"$DARCH$FLAVOUR"-unsigned_*_"$DARCH".deb "$KROOT"
	else
		dpkg-deb -x "$CACHE"/debs/linux-image-"$KVER"-"$DARCH"_*_"$DARCH".deb "$KROOT"
	fi
fi
MODDIR=$KROOT/lib/modules/$KVER-$DARCH$FLAVOUR
STAGE=$OUT/stage
rm -rf "$STAGE"
mkdir -p "$OUT" "$STAGE"/{bin,lib/modules,proc,sys,dev,tmp,scen}

$CC -static -O2 -Wall -o "$OUT/iovaexec" "$HERE/executor/iovaexec.c"
install -m 755 "$OUT/iovaexec" "$STAGE/bin/iovaexec"
install -m 755 "$BUSYBOX" "$STAGE/bin/busybox"
install -m 755 "$HERE/guest/init" "$STAGE/init"
n=100
for f in "$@"; do
	cp "$f" "$STAGE/scen/$n-$(basename "$f")"
	n=$((n + 1))
done

# Module closure: virtio_iommu before the NIC driver so the IOMMU is there
# when e1000e probes (device-tree/VIOT attach happens at driver probe).
declare -A seen=()
order=()
find_ko() {
	local a=$1 b
	b=$(echo "$1" | tr '_-' '-_')
	find "$MODDIR/kernel" \( -name "$a.ko*" -o -name "$b.ko*" \) | sort | head -1
}
add_mod() {
	local ko dep
	ko=$(find_ko "$1")
	if [ -z "$ko" ]; then
		echo "module $1: built in or not configured in $KVER-$DARCH$FLAVOUR" >&2
		return 0
	fi
	[ -n "${seen[$ko]:-}" ] && return 0
	seen[$ko]=1
	for dep in $(modinfo -F depends "$ko" | tr ',' ' '); do add_mod "$dep"; done
	order+=("$ko")
}
for m in virtio_iommu e1000e vfio vfio_iommu_type1 vfio-pci; do add_mod "$m"; done
: >"$STAGE/modules.list"
for ko in "${order[@]}"; do
	base=$(basename "$ko")
	case $base in
	*.ko.xz) xz -dc "$ko" >"$STAGE/lib/modules/${base%.xz}"; base=${base%.xz} ;;
	*.ko.zst) zstd -qdc "$ko" >"$STAGE/lib/modules/${base%.zst}"; base=${base%.zst} ;;
	*) cp "$ko" "$STAGE/lib/modules/$base" ;;
	esac
	echo "$base" >>"$STAGE/modules.list"
done
find "$STAGE" -exec touch -h -d @0 {} +
(cd "$STAGE" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -1 -n) >"$OUT/initramfs.cpio.gz"
cp "$KROOT/boot/vmlinuz-$KVER-$DARCH$FLAVOUR" "$OUT/vmlinuz"
echo "initramfs $ARCH $KVER: modules $(tr '\n' ' ' <"$STAGE/modules.list")" >&2
