#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# crash.sh [--kver <kver>]... [--cycles <n>]
#
# Kill a VM in the middle of writes to a dm-quorum device with metadata,
# and check what the next boot finds: <n> cycles (default 5) per kernel
# (default the installed LTS kernels, as run-suite.sh), each two boots of
# tests/vm/boot.sh over the same three leg files, given to the guest as
# virtio disks:
#
#   1. tests/crash/guest.sh write: stamped writes, and after a random
#      3 to 18 s, sysrq b while writes are in flight;
#   2. tests/crash/guest.sh verify: the same table again recovers the
#      regions marked in the intent log, reads fail nowhere, no
#      acknowledged write is lost, the legs end identical, and no more
#      regions are recovered than were written in the last 10.5 s.
#
# The legs carry over from cycle to cycle (the first one makes a new
# array).  Module: build/<kver>/dm-quorum.ko.  Results under
# results/crash-<timestamp>/<kver>/.  Prints a line per cycle, the
# regions recovered, and "N passed, N failed"; exits 1 on a failure.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BOOT=$REPO/tests/vm/boot.sh
CHECK_KLOG=$REPO/tests/vm/check-klog
KVERS=()
CYCLES=5
LEG_MB=48

while (($#)); do
	case $1 in
	--kver) KVERS+=("${2:?}"); shift 2 ;;
	--cycles) CYCLES=${2:?}; shift 2 ;;
	*) echo "usage: crash.sh [--kver <kver>]... [--cycles <n>]" >&2; exit 2 ;;
	esac
done
((${#KVERS[@]})) || mapfile -t KVERS < <("$REPO/scripts/kernels.sh" lts)
((${#KVERS[@]})) || { echo "crash: no kernel" >&2; exit 2; }

ROOT=$REPO/results/crash-$(date +%Y%m%d-%H%M%S)
PASSED=0 FAILED=0

# cycle <kver> <dir> <n>: one write boot and one verify boot
cycle() {
	local kver=$1 dir=$2 n=$3 ko=$REPO/build/$1/dm-quorum.ko after rc=0 l
	local c=$dir/cycle$n
	local -a drives=()
	for l in 0 1 2; do drives+=(--drive "$dir/leg$l.img"); done
	mkdir -p "$c/write" "$c/verify"
	after=$((3 + RANDOM % 16))
	"$BOOT" --kver "$kver" --results "$c/write" --timeout 300 --quiet \
		"${drives[@]}" -- "$HERE/guest.sh" write "$ko" "$after" \
		>/dev/null 2>&1 || rc=$?
	# the guest resets itself: no exit status (125) is the expected end
	if ((rc != 125)) || ! grep -q "sysrq: Resetting" "$c/write/console.log" ||
		! "$CHECK_KLOG" "$c/write/console.log" >/dev/null; then
		echo "crash: $kver cycle $n: FAIL: the write boot did not end in sysrq b (rc $rc)"
		tail -5 "$c/write/output.log"
		return 1
	fi
	rc=0
	"$BOOT" --kver "$kver" --results "$c/verify" --timeout 600 --quiet \
		"${drives[@]}" -- "$HERE/guest.sh" verify "$ko" "$c/write/acks" \
		>/dev/null 2>&1 || rc=$?
	if ((rc != 0)) || ! "$CHECK_KLOG" "$c/verify/console.log" >/dev/null; then
		echo "crash: $kver cycle $n: FAIL (rc $rc, crash after ${after}s):"
		grep -E "^(crash|stamp):" "$c/verify/output.log" | tail -8
		return 1
	fi
	echo "crash: $kver cycle $n: PASS, crash after ${after}s:" \
		"$(grep -h "^stamp: .*checked" "$c/verify/output.log")"
}

run_kernel() {
	local kver=$1 dir=$ROOT/$1 n l
	mkdir -p "$dir"
	[[ -f $REPO/build/$kver/dm-quorum.ko ]] ||
		{ echo "crash: no build/$kver/dm-quorum.ko (make modules)"; return 1; }
	for l in 0 1 2; do
		rm -f "$dir/leg$l.img"
		truncate -s ${LEG_MB}M "$dir/leg$l.img"
	done
	for ((n = 1; n <= CYCLES; n++)); do
		if cycle "$kver" "$dir" "$n"; then
			echo PASS >>"$dir/results"
		else
			echo FAIL >>"$dir/results"
		fi
	done
	rm -f "$dir"/leg*.img
}

# the kernels side by side, one CPU each, as run-suite.sh
export QUORUM_VM_SMP=${QUORUM_VM_SMP:-$(( ${#KVERS[@]} > 1 ? 1 : 2 ))}
pids=()
for kver in "${KVERS[@]}"; do
	run_kernel "$kver" | sed -u "s/^/[$kver] /" &
	pids+=($!)
done
wait "${pids[@]}"
for kver in "${KVERS[@]}"; do
	PASSED=$((PASSED + $(grep -c PASS "$ROOT/$kver/results" 2>/dev/null || true)))
	FAILED=$((FAILED + CYCLES - $(grep -c PASS "$ROOT/$kver/results" 2>/dev/null || true)))
done
echo "crash: $PASSED passed, $FAILED failed (results in $ROOT)"
((FAILED == 0))
