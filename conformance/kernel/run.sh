#!/bin/bash
# conformance/kernel/run.sh [MACHINE[-kVER] ...]
#
# Boots every machine/kernel pair of machines.sh (or the ones named) under
# QEMU TCG, runs the compiled scenarios in the guest with iovaexec and writes
# the goldens conformance/golden/<machine>-k<6.1|6.12>.txt. Needs setup.sh
# first. Scenarios run on a pair: scenarios/<machine>/*.iovx then
# scenarios/common/*.iovx. The golden keeps only what the executor printed
# (between @@BEGIN/@@END) under a header naming the kernel and QEMU builds,
# so an unchanged host regenerates byte-identical files. The raw console
# goes to cache/logs/. TIMEOUT (s, default 600) bounds each boot.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
CACHE=$HERE/cache
TIMEOUT=${TIMEOUT:-600}
source "$HERE/kernel/machines.sh"
mkdir -p "$CACHE/logs" "$HERE/golden"
[ -f "$CACHE/KVER-6.1" ] || { echo "run conformance/kernel/setup.sh first" >&2; exit 1; }

want() { # want NAME VER: is the pair selected on the command line?
	local s
	[ ${#SELECT[@]} -eq 0 ] && return 0
	for s in "${SELECT[@]}"; do
		if [ "$s" = "$NAME" ] || [ "$s" = "$NAME-k$V" ]; then return 0; fi
	done
	return 1
}
SELECT=("$@")
FAILED=0
T_ALL=$(date +%s)
for line in "${MACHINES[@]}"; do
	IFS='|' read -r NAME ARCH KERNELS QARGS CMDLINE EXTRA NICARGS <<<"$line"
	NICARGS=${NICARGS:-romfile=,netdev=n0}
	for K in $KERNELS; do
		# SERIES or SERIES:src (the kernel build-kernel.sh made from linux-source-SERIES, with iommufd;
		# such a machine runs only its own scenarios)
		V=${K%%:*}
		SRCK=$([ "$K" != "$V" ] && echo src || true)
		want || continue
		if [ -n "$SRCK" ]; then
			# idempotent: builds the kernel of this architecture only when its image is missing
			"$HERE/kernel/build-kernel.sh" "${ARCH%-16k}" >&2
			KVER=$(cat "$CACHE/KVER-src-$V")
		else
			KVER=$(cat "$CACHE/KVER-$V")
		fi
		# arm64-16k: the 16 KiB-page flavour of the arm64 kernel (same build, package ...-arm64-16k-unsigned)
		DARCH=$([ "${ARCH%-16k}" = arm64 ] && echo arm64 || echo amd64)
		FLAVOUR=$([ "$ARCH" = arm64-16k ] && echo -16k-unsigned || true)
		BUILD=$CACHE/build/$NAME-k$V
		files=()
		# the machine's probe first (its sysfs snapshot precedes everything), then the rest, sorted
		DIRS=${SCENDIRS:-"$HERE/scenarios/$NAME $HERE/scenarios/common"}
		[ -n "$SRCK" ] && DIRS="$HERE/scenarios/$NAME $HERE/scenarios/iommufd"
		for d in $DIRS; do
			[ -f "$d/probe.iovx" ] && files+=("$d/probe.iovx")
			[ -d "$d" ] && for f in $(ls "$d"/*.iovx 2>/dev/null | LC_ALL=C sort); do
				[ "$(basename "$f")" = probe.iovx ] || files+=("$f")
			done
		done
		"$HERE/kernel/build-initramfs.sh" "$ARCH" "$KVER" "$BUILD" "${files[@]}"
		QEMU=qemu-system-$([ "$DARCH" = arm64 ] && echo aarch64 || echo x86_64)
		APPEND="rdinit=/init panic=-1 loglevel=1 $CMDLINE conf.machine=$NAME $EXTRA"
		# shellcheck disable=SC2206
		CMD=($QEMU $QARGS -accel tcg -smp 2 -m 2048 -device e1000e,$NICARGS -netdev user,id=n0
			-nographic -no-reboot -kernel "$BUILD/vmlinuz" -initrd "$BUILD/initramfs.cpio.gz" -append "$APPEND")
		LOG=$CACHE/logs/$NAME-k$V.log
		T0=$(date +%s)
		# A boot can fail for reasons of the host (TCG starved on a loaded machine); retry it.
		for attempt in 1 2 3; do
			set +e
			timeout "$TIMEOUT" "${CMD[@]}" </dev/null 2>&1 | tr -d '\r' >"$LOG"
			RC=${PIPESTATUS[0]}
			set -e
			if [ "$RC" = 0 ] && grep -q '^@@DONE' "$LOG"; then break; fi
			cp "$LOG" "$LOG.attempt$attempt"
			echo "$NAME-k$V: boot attempt $attempt failed (qemu exit $RC), see $LOG.attempt$attempt" >&2
		done
		T1=$(date +%s)
		if [ -n "$SRCK" ]; then
			DEB="$(cd "$CACHE/debs" && ls linux-source-"$V"_*_all.deb | LC_ALL=C sort | tail -1) + kernel/iommufd.config"
		else
			DEB=$(cd "$CACHE/debs" && ls linux-image-"$KVER"-"$DARCH$FLAVOUR"_*_"$DARCH".deb)
		fi
		GOLD=$HERE/golden/$NAME-k$V.txt
		if [ "$RC" != 0 ] || ! grep -q '^@@DONE' "$LOG"; then
			echo "$NAME-k$V: FAILED (qemu exit $RC, ${T1}-${T0}s), see $LOG" >&2
			FAILED=1
			continue
		fi
		{
			echo "# iovamap conformance golden: written by npm run conformance:kernel, do not edit"
			echo "# machine: $NAME"
			echo "# kernel-series: $V"
			echo "# kernel: $KVER-$DARCH${FLAVOUR%-unsigned} ($DEB)"
			echo "# qemu: $($QEMU --version | head -1)"
			echo "# qemu-args: $QARGS -accel tcg -smp 2 -m 2048 -device e1000e,$NICARGS -netdev user,id=n0"
			echo "# cmdline: $CMDLINE $EXTRA"
			sed -n '/^@@BEGIN /,/^@@END /p' "$LOG"
		} >"$GOLD.tmp"
		mv "$GOLD.tmp" "$GOLD"
		echo "$NAME-k$V: ok in $((T1 - T0)) s -> golden/$NAME-k$V.txt ($(grep -c '^CASE ' "$GOLD") CASE lines)"
	done
done
echo "total: $(($(date +%s) - T_ALL)) s"
exit $FAILED
