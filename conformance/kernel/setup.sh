#!/bin/bash
# conformance/kernel/setup.sh — one-time host preparation (Debian 12, root).
#
# Installs the host tools from Debian packages and downloads the guest kernels
# into conformance/cache/ (git-ignored):
#   * bookworm's linux-image-amd64 / -arm64 (6.1) through the system apt sources,
#   * bookworm-backports' kernels (6.12) through a private apt configuration
#     under cache/apt/ so that the system's sources.list is never modified,
#   * busybox-static:arm64 for the arm64 initramfs,
#   * bookworm-backports' arm64-16k flavour of the 6.12 kernel (16 KiB pages).
# Idempotent: a second run only re-checks what is already there.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
CACHE=$HERE/cache
mkdir -p "$CACHE/debs"
export DEBIAN_FRONTEND=noninteractive

need_pkgs=(qemu-system-x86 qemu-system-arm qemu-system-data seabios ipxe-qemu
	busybox-static cpio gzip kmod xz-utils zstd
	gcc libc6-dev linux-libc-dev gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
missing=()
for p in "${need_pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
arch_added=0
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
	dpkg --add-architecture arm64
	arch_added=1
fi
if [ ${#missing[@]} -gt 0 ] || [ $arch_added = 1 ] || [ ! -f "$CACHE/.apt-updated" ]; then
	apt-get update -q
	touch "$CACHE/.apt-updated"
fi
if [ ${#missing[@]} -gt 0 ]; then
	apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The concrete ABI behind a metapackage, e.g. linux-image-amd64 -> 6.1.0-56.
abi_of() { # abi_of METAPKG [APT_OPTS...]
	local meta=$1
	shift
	apt-cache "$@" depends "$meta" 2>/dev/null | sed -n 's/.*Depends: linux-image-\(.*\)-amd64$/\1/p' | head -1
}

cd "$CACHE/debs"
chmod 1777 . # apt-get download drops privileges to _apt
fetch() { # fetch PATTERN PKG [APT_OPTS...]
	local pat=$1 pkg=$2
	shift 2
	if [ -z "$(ls $pat 2>/dev/null)" ]; then
		apt-get "$@" download -q "$pkg"
	fi
}

KVER61=${KVER61:-$(abi_of linux-image-amd64)}
[ -n "$KVER61" ] || { echo "cannot resolve the bookworm kernel ABI" >&2; exit 1; }
fetch "linux-image-$KVER61-amd64_*_amd64.deb" "linux-image-$KVER61-amd64"
fetch "linux-image-$KVER61-arm64_*_arm64.deb" "linux-image-$KVER61-arm64:arm64"
fetch "busybox-static_*_arm64.deb" "busybox-static:arm64"

BPO=$CACHE/apt-bpo
mkdir -p "$BPO/lists/partial" "$BPO/archives/partial"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg arch=amd64,arm64] http://deb.debian.org/debian bookworm-backports main" >"$BPO/sources.list"
APTO=(-o Dir::Etc::SourceList="$BPO/sources.list" -o Dir::Etc::SourceParts=/nonexistent
	-o Dir::State::Lists="$BPO/lists" -o Dir::Cache="$BPO" -o APT::Sandbox::User=root)
if [ ! -f "$BPO/.updated" ]; then
	apt-get "${APTO[@]}" update -q
	touch "$BPO/.updated"
fi
KVER612=${KVER612:-$(abi_of linux-image-amd64 "${APTO[@]}")}
[ -n "$KVER612" ] || { echo "cannot resolve the backports kernel ABI" >&2; exit 1; }
fetch "linux-image-$KVER612-amd64_*_amd64.deb" "linux-image-$KVER612-amd64" "${APTO[@]}"
fetch "linux-image-$KVER612-arm64_*_arm64.deb" "linux-image-$KVER612-arm64:arm64" "${APTO[@]}"
# the arm64 16k-page flavour of the same build (Debian ships it unsigned only)
fetch "linux-image-$KVER612-arm64-16k-unsigned_*_arm64.deb" "linux-image-$KVER612-arm64-16k-unsigned:arm64" "${APTO[@]}"
chmod 755 .

echo "$KVER61" >"$CACHE/KVER-6.1"
echo "$KVER612" >"$CACHE/KVER-6.12"
echo "setup done: 6.1=$KVER61 6.12=$KVER612"
