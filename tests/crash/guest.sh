#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# guest.sh write <module.ko> <crash after s>
# guest.sh verify <module.ko> <acks>
#
# One half of a crash cycle (tests/crash/crash.sh), inside a VM whose
# three virtio disks, /dev/vda to /dev/vdc, are the legs.
#
#   write   assemble the device (new or not), write stamped blocks and
#           reset the machine with sysrq b after <crash after s>, the
#           acknowledged writes logged to ./acks;
#   verify  assemble it again: it must say it was not shut down cleanly,
#           recover, lose no acknowledged write, fail no read, and leave
#           the legs identical.  Prints "crash: recovered <n> regions".
#
# The kernel log goes to ./<phase>.dmesg (the cwd is the boot's results
# directory); a kernel bug in it fails the phase (tests/vm/check-klog).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CHECK_KLOG=$HERE/../vm/check-klog
PHASE=${1:?phase} KO=${2:?module} ARG=${3:?crash after s, or acks}
LEGS=(/dev/vda /dev/vdb /dev/vdc)
R=128 # 64 KiB regions: a region is 16 of the writer's blocks
Q=/dev/mapper/q

fail() {
	echo "crash: $PHASE: FAIL: $*"
	dmesg >"$PHASE.dmesg"
	exit 1
}

load() {
	local dep
	modprobe -q virtio_blk 2>/dev/null || true
	for dep in $(modinfo -F depends "$KO" | tr , ' '); do
		modprobe "$dep" || fail "cannot load $dep"
	done
	insmod "$KO" || fail "cannot load $KO"
	for dep in "${LEGS[@]}"; do
		udevadm settle 2>/dev/null || true
		[[ -b $dep ]] || fail "no $dep"
	done
}

# the device's length: the legs' size less the metadata area
# (tests/lib/common.sh meta_len)
dev_len() {
	local leg regions blocks
	leg=$(($(blockdev --getsz "${LEGS[0]}") / 8 * 8))
	regions=$(((leg + R - 1) / R))
	blocks=$(((regions + 32767) / 32768))
	echo $((leg - 8 * (2 + 17 * blocks)))
}

create() {
	dmsetup create q --table \
		"0 $LEN quorum 2 3 ${LEGS[*]} 4 region_size $R metadata internal" ||
		fail "create: $(dmesg | tail -2)"
}

load
LEN=$(dev_len)
BLOCKS=$((LEN / 8))

case $PHASE in
write)
	create
	dmesg >write.dmesg
	"$CHECK_KLOG" write.dmesg >/dev/null || fail "kernel log shows a bug"
	python3 "$HERE/stamp.py" write $Q $BLOCKS "$PWD/acks" "$ARG"
	fail "the writer came back: $?"
	;;
verify)
	dmesg -C
	create
	line=$(dmesg | grep -E "quorum: [0-9:]*: not shut down cleanly") ||
		fail "the crash was not seen: $(dmesg | tail -3)"
	n=$(sed -n 's/.*: \([0-9]*\) regions to recover$/\1/p' <<<"$line")
	[[ -n $n ]] || fail "cannot read the regions to recover: $line"
	echo "crash: recovered $n regions"
	[[ "$(dmsetup status q | awk '{ print $6 }')" == AAA ]] ||
		fail "legs out of service: $(dmsetup status q)"
	# every read works, the first ones waiting for their regions
	dd if=$Q of=/dev/null bs=1M iflag=direct status=none ||
		fail "a read of the device failed"
	for ((i = 0; i < 600; i++)); do
		[[ $(dmsetup status q | awk '{ print $(NF - 3) }') == idle ]] && break
		sleep 0.1
	done
	st=$(dmsetup status q)
	[[ $(awk '{ print $(NF - 5) }' <<<"$st") == 0 ]] ||
		fail "regions left to recover: $st"
	[[ $(awk '{ print $(NF - 8) }' <<<"$st") == 0 ]] ||
		fail "quorum failures: $st"
	python3 "$HERE/stamp.py" verify $Q "$ARG" $((R * 512)) "$n" ||
		fail "acknowledged writes lost, or more regions recovered than written lately"
	sums=$(for l in "${LEGS[@]}"; do
		head -c $((LEN * 512)) "$l" | md5sum | cut -d' ' -f1
	done | sort -u | wc -l)
	[[ $sums == 1 ]] || fail "the legs differ after the recovery"
	dmsetup remove q || fail "remove"
	dmesg >verify.dmesg
	"$CHECK_KLOG" verify.dmesg >/dev/null || fail "kernel log shows a bug"
	echo "crash: verify: OK"
	;;
*)
	fail "unknown phase"
	;;
esac
