# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Helpers shared by the test cases (tests/cases/NNN-name). A case is a bash
# script, run as root inside the test VM by tests/guest/runner.sh
# (`bash <case>`, cwd a scratch dir, $RESULTS_DIR the results dir,
# $QUORUM_KO the module file). Header:
#   #!/bin/bash
#   # DESCRIPTION: <one line>
#   # SPDX-License-Identifier: GPL-2.0
#   . "$(dirname "$0")/../lib/common.sh"
# A "# TIMEOUT=<seconds>" line in the first 15 lines overrides the default
# timeout of 180 s.
# Exit status: 0 pass, 77 skip, anything else fail. A case also fails when
# its kernel log shows a bug (tests/vm/check-klog). The runner removes all
# dm devices and unloads brd after each case, so cases need no teardown.
#
# Helper names are a contract used by other people's cases: keep them.
# fail/skip/pass exit the shell they run in: call them from the case's
# main shell, not from inside $(...) or a pipeline.

# shellcheck disable=SC2034 # LEG, RAM, LEG_SECTORS, TESTS_DIR are for cases

TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CASE_NAME=$(basename "$0")
LEG=()
RAM=()
LEG_SECTORS=0
# No udevd in the VM: dmsetup must create /dev/mapper nodes itself.
export DM_DISABLE_UDEV=${DM_DISABLE_UDEV:-1}

## Verdicts ###############################################################

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

pass() {
	echo PASS
	exit 0
}

# The runner reports the last "SKIP:" line of the output as the reason.
skip() {
	echo "SKIP: $*"
	exit 77
}

expect_ok() {
	local rc=0
	"$@" || rc=$?
	((rc == 0)) || fail "expected success, got status $rc: $*"
}

expect_fail() {
	if "$@"; then
		fail "expected failure, but it succeeded: $*"
	fi
	return 0
}

# require_module <name>: skip the case unless the module is (or can be)
# loaded.
require_module() {
	[[ -d /sys/module/${1//-/_} ]] && return 0
	modprobe -q "$1" 2>/dev/null || skip "module $1 not available"
}

## Legs: dm devices qleg0..N-1 over brd ramdisks ##########################

# Remove the qleg* devices (and nothing else).
_legs_remove() {
	local name
	for name in $(dmsetup ls 2>/dev/null | awk '$1 ~ /^qleg[0-9]+$/ {print $1}'); do
		dmsetup remove --retry "$name" || fail "cannot remove $name (still open?)"
	done
}

# legs_create <n> [size_mb=64]: fresh brd ramdisks /dev/ram0..n-1 and
# linear dm devices qleg0..n-1 over them. Sets LEG (/dev/mapper/qlegI),
# RAM (/dev/ramI) and LEG_SECTORS.
legs_create() {
	local n=${1:?legs_create: number of legs} mb=${2:-64} i
	_legs_remove
	legs_destroy_loop
	if [[ -d /sys/module/brd ]]; then
		rmmod brd || fail "legs_create: cannot unload brd (still in use?)"
	fi
	modprobe brd rd_nr="$n" rd_size=$((mb * 1024)) ||
		fail "legs_create: cannot load brd"
	LEG=()
	RAM=()
	LEG_SECTORS=$((mb * 2048))
	for ((i = 0; i < n; i++)); do
		RAM[i]=/dev/ram$i
		[[ -b ${RAM[i]} ]] || fail "legs_create: ${RAM[i]} missing"
		dmsetup create "qleg$i" --table "$(_leg_table_linear "$i")" ||
			fail "legs_create: cannot create qleg$i"
		LEG[i]=/dev/mapper/qleg$i
	done
}

_leg_table_linear() {
	echo "0 $LEG_SECTORS linear ${RAM[$1]} 0"
}

# _leg_reload <i> <table>: swap the table of qleg<i>, as an admin would.
_leg_reload() {
	local name=qleg$1
	((LEG_SECTORS > 0)) || fail "$name: call legs_create first"
	dmsetup load "$name" --table "$2" || fail "$name: load '$2' failed"
	dmsetup suspend "$name" || fail "$name: suspend failed"
	dmsetup resume "$name" || fail "$name: resume failed"
}

# leg_error <i>: every I/O to leg i fails.
leg_error() {
	_leg_reload "$1" "0 $LEG_SECTORS error"
}

# leg_flakey <i> <up_s> <down_s> [features...]: dm-flakey over /dev/ram<i>,
# e.g. leg_flakey 1 0 5 error_writes / drop_writes / corrupt_bio_byte 32 r 1 0
leg_flakey() {
	local i=$1 up=$2 down=$3 table
	shift 3
	require_module dm-flakey
	table="0 $LEG_SECTORS flakey ${RAM[i]} 0 $up $down"
	(($# == 0)) || table+=" $# $*"
	_leg_reload "$i" "$table"
}

# leg_delay <i> <read_ms> [<write_ms>=read_ms]: dm-delay over /dev/ram<i>,
# with a separate write device so reads and writes can differ.
leg_delay() {
	local i=$1 r=$2 w=${3:-$2}
	require_module dm-delay
	_leg_reload "$i" "0 $LEG_SECTORS delay ${RAM[i]} 0 $r ${RAM[i]} 0 $w"
}

# leg_linear <i>: back to plain linear over /dev/ram<i>.
leg_linear() {
	_leg_reload "$1" "$(_leg_table_linear "$1")"
}

## Kernels ###############################################################

# The debug kernel of scripts/debug-kernel.sh (KASAN, lockdep: several
# times slower), where some cases do fewer rounds.
debug_kernel() {
	[[ $(uname -r) == *-dmq-debug ]]
}

# A stock 6.1 kernel (not the debug one built from 6.1).
kernel_6_1() {
	[[ $(uname -r) == 6.1.* ]] && ! debug_kernel
}

## Quorum devices ##########################################################

# quorum_table_line <name> <threshold> <legs> [opt args...]
# <legs> is either a count n (the first n of LEG) or a quoted list whose
# items are device paths or LEG indices ("0 2", "/dev/mapper/qleg1 2").
# Prints: 0 <LEG_SECTORS> quorum <threshold> <#legs> <legs...> [<#opt> <opts...>]
# (the length is QUORUM_LEN instead when set: room for metadata)
# (<#opt> counts words, so "read_policy rr" given as one arg counts 2).
quorum_table_line() {
	local threshold=$2 spec=$3 item
	local -a legs=() opts=()
	shift 3
	if [[ "$spec" =~ ^[0-9]+$ ]]; then
		((spec <= ${#LEG[@]})) || fail "quorum: only ${#LEG[@]} legs exist"
		legs=("${LEG[@]:0:spec}")
	else
		for item in $spec; do
			[[ "$item" =~ ^[0-9]+$ ]] && item=${LEG[item]}
			legs+=("$item")
		done
	fi
	read -ra opts <<<"$*"
	local line="0 ${QUORUM_LEN:-$LEG_SECTORS} quorum $threshold ${#legs[@]} ${legs[*]}"
	((${#opts[@]} == 0)) || line+=" ${#opts[@]} ${opts[*]}"
	echo "$line"
}

## Metadata (metadata internal) ###########################################

# meta_len <leg_sectors> [<region_sectors>=2048]: the longest device whose
# metadata fits on legs of that size (Documentation/dm-quorum.rst,
# "On-disk format": two superblocks and 17 bitmaps of 4 KiB blocks at the
# leg's end).  Sized for the whole leg's regions, which is never less.
meta_len() {
	local leg=$(($1 / 8 * 8)) region=${2:-2048} regions blocks
	regions=$(((leg + region - 1) / region))
	blocks=$(((regions + 32767) / 32768))
	echo $((leg - 8 * (2 + 17 * blocks)))
}

# sb_offset <copy: 0 for A, 1 for B>: byte offset of that superblock copy
# on a leg of LEG_SECTORS (a multiple of 8)
sb_offset() {
	echo $(((LEG_SECTORS - 16 + 8 * $1) * 512))
}

# sb_magic <leg> <copy>: 0 if that copy starts with the magic
sb_magic() {
	[[ $(dd if="${LEG[$1]}" bs=4096 skip=$(($(sb_offset "$2") / 4096)) \
		count=1 iflag=direct status=none | head -c 8) == DMQUORUM ]]
}

# sb_u <leg> <copy> <offset> <bytes: 4 or 8>: an unsigned little-endian
# field of that superblock copy (events: 24 8; compat: 16 4)
sb_u() {
	dd if="${LEG[$1]}" bs=4096 skip=$(($(sb_offset "$2") / 4096)) count=1 \
		iflag=direct status=none | od -An -t "u$4" -j "$3" -N "$4" --endian=little |
		tr -d ' '
}

# meta_status <dev>: "<events> <recovering regions> <metadata writes>",
# the three fields a table with metadata has before the sync state
meta_status() {
	dmsetup status "$1" | awk '{ print $(NF - 6), $(NF - 5), $(NF - 4) }'
}

# intent_bits <leg> [<region_sectors>=2048]: how many regions the intent
# bitmap on that leg marks (its first block: up to 32768 regions)
intent_bits() {
	local leg=$((LEG_SECTORS / 8 * 8)) region=${2:-2048} blocks start
	blocks=$((((leg + region - 1) / region + 32767) / 32768))
	start=$(((leg - 8 * (2 + 17 * blocks)) * 512))
	dd if="${LEG[$1]}" bs=4096 skip=$((start / 4096)) count=1 iflag=direct \
		status=none |
		python3 -c 'import sys; print(sum(bin(b).count("1") for b in sys.stdin.buffer.read()))'
}

# sb_corrupt <leg> <copy>: flip a byte inside that copy, magic kept
sb_corrupt() {
	printf '\xa5' | dd of="${LEG[$1]}" bs=1 seek=$(($(sb_offset "$2") + 200)) \
		conv=notrunc status=none && sync
}

# meta_wipe <leg>...: zero both superblock copies: the leg holds no
# metadata any more
meta_wipe() {
	local i
	for i; do
		dd if=/dev/zero of="${LEG[i]}" bs=4096 count=2 \
			seek=$(($(sb_offset 0) / 4096)) oflag=direct status=none ||
			return 1
	done
}

# quorum_create <name> <threshold> <legs> [opt args...]: returns dmsetup's
# status, so it can be used with expect_ok / expect_fail.
quorum_create() {
	local name=$1 line
	line=$(quorum_table_line "$@") || return 1
	echo "quorum_create $name: $line"
	dmsetup create "$name" --table "$line"
}

quorum_remove() {
	dmsetup remove --retry "$1"
}

# dm_kname <name|/dev/mapper/name>: kernel name (dm-N) of a dm device.
# Not readlink: without udev /dev/mapper/<name> is a node, not a link.
dm_kname() {
	dmsetup info -c --noheadings -o blkdevname "${1#/dev/mapper/}"
}

# wait_writes <dm name>: wait until the device has written something (6.1
# counts a write when it starts, 6.12 when it ends), up to 30 s
wait_writes() {
	local kname stat i
	kname=$(dm_kname "$1") || return 1
	for ((i = 0; i < 600; i++)); do
		read -ra stat <"/sys/block/$kname/stat"
		((stat[6] > 0)) && return 0
		sleep 0.05
	done
	echo "wait_writes: $1 wrote nothing in 30 s" >&2
	return 1
}

# status_field <dev> <n>: nth field (1-based) of `dmsetup status <dev>`
# after the target name (first target line).
status_field() {
	local -a f
	read -ra f < <(dmsetup status "$1") || return 1
	((${#f[@]} >= 3 + $2)) || return 1
	echo "${f[2 + $2]}"
}

## Data patterns (O_DIRECT) ################################################

# Largest power-of-two block size (512..1 MiB) dividing offset and length:
# O_DIRECT needs aligned I/O and big blocks keep dd fast under TCG.
_direct_bs() {
	local off=$1 len=$2 bs=1048576
	while ((bs > 512 && (off % bs || len % bs))); do
		bs=$((bs / 2))
	done
	((off % bs == 0 && len % bs == 0 && len > 0)) || return 1
	echo "$bs"
}

# _pattern <len> <byte>: len bytes of value byte (0x42, 66, 0102).
_pattern() {
	local oct
	oct=$(printf '%03o' "$(($2))")
	head -c "$1" /dev/zero | tr '\0' "\\$oct"
}

# write_pattern <dev> <offset_bytes> <len_bytes> <byte>
write_pattern() {
	local dev=$1 off=$2 len=$3 byte=$4 bs
	bs=$(_direct_bs "$off" "$len") ||
		{ echo "write_pattern: $off+$len not 512-byte aligned" >&2; return 2; }
	_pattern "$len" "$byte" |
		dd of="$dev" bs="$bs" seek=$((off / bs)) count=$((len / bs)) \
			iflag=fullblock oflag=direct conv=notrunc status=none
	return "${PIPESTATUS[1]}"
}

# check_pattern <dev> <offset_bytes> <len_bytes> <byte>: 0 if the range
# reads back (O_DIRECT) as byte, else non-zero with a message.
check_pattern() {
	local dev=$1 off=$2 len=$3 byte=$4 bs out
	local -a st
	bs=$(_direct_bs "$off" "$len") ||
		{ echo "check_pattern: $off+$len not 512-byte aligned" >&2; return 2; }
	out=$(mktemp)
	dd if="$dev" bs="$bs" skip=$((off / bs)) count=$((len / bs)) \
		iflag=direct status=none | cmp - <(_pattern "$len" "$byte") >"$out" 2>&1
	st=("${PIPESTATUS[@]}")
	out=$(cat "$out"; rm -f "$out")
	# dd gets SIGPIPE (141) when cmp stops at the first difference.
	if ((st[0] != 0 && st[0] != 141)); then
		echo "check_pattern: read of $dev at $off+$len failed" >&2
		return 1
	fi
	if ((st[1] != 0 || st[0] != 0)); then
		# cmp says "- /dev/fd/63 differ: byte N, line M" or "EOF on -"
		if [[ "$out" =~ differ:\ byte\ ([0-9]+) ]]; then
			out="first difference at byte $((off + BASH_REMATCH[1] - 1))"
		fi
		echo "check_pattern: $dev at $off+$len is not all $byte: $out" >&2
		return 1
	fi
}

# corrupt_leg <i> <offset> <len> [byte=0x42]: write straight onto
# /dev/ram<i>, behind the back of the dm devices stacked on it.
corrupt_leg() {
	write_pattern "${RAM[$1]}" "$2" "$3" "${4:-0x42}" ||
		fail "corrupt_leg $*: write failed"
}

# duration <command...>: run it; print the seconds it took, to 0.01 s
duration() {
	local start=$EPOCHREALTIME
	"$@" >/dev/null || return
	awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f\n", b - a }'
}

# fio_outcome <fio output>: clean (no error), eio (an I/O error, no wrong
# data), enomem, wrong (a verify error), or what else fio said
fio_outcome() {
	local errs
	if grep -qE 'verify failed|bad magic|bad header|err= *84\b' "$1"; then
		echo wrong
		return
	fi
	errs=$(grep -oE 'err= *[0-9]+' "$1" | tr -d ' ' | sort -u | tr '\n' ' ')
	case $errs in
	"err=0 ") echo clean ;;
	*err=5\ *) echo eio ;;
	*err=12\ *) echo enomem ;;
	*) echo "unexpected (${errs:-no result})" ;;
	esac
}

# fio_failed <fio output> <what>: fail with what a short tail of the log
# must show: fio's errors, the devices' status and this case's kernel
# messages, after fio's whole output.
fio_failed() {
	cat "$1"
	echo "--- fio's errors:"
	grep -E 'err=|verify|bad |error|fio:' "$1" | grep -vE 'err= *0\b' | head -20
	echo "--- dmsetup status:"
	dmsetup status
	echo "--- kernel log:"
	dmesg | tail -15
	fail "$2: $(fio_outcome "$1")"
}

## Kernel log ##############################################################

# klog_grep <regex>: search this case's kernel log (the runner clears the
# log before each case).
klog_grep() {
	dmesg | grep -E -- "$1"
}

## Quorum status and events ###############################################

# leg_devnos <i>...: major:minor of qleg<i>..., as `dmsetup table` prints them
leg_devnos() {
	local i out=()
	for i in "$@"; do
		out+=("$(dmsetup info -c --noheadings -o major,minor --separator : "qleg$i" | tr -d ' ')")
	done
	echo "${out[*]}"
}

# leg_stat <dev> <leg> io_errors|mismatches|rewrites: a per-leg counter.
# Status: <threshold> <#legs> <health> {<io_errors> <mismatches> <rewrites>}...
# <quorum_failures>
leg_stat() {
	local off
	case $3 in
	io_errors) off=0 ;;
	mismatches) off=1 ;;
	rewrites) off=2 ;;
	*) echo "leg_stat: unknown counter $3" >&2; return 2 ;;
	esac
	status_field "$1" $((4 + 3 * $2 + off))
}

# no_leg_outvoted <dev>: 0 if no leg's mismatch count is above zero, else
# non-zero naming the legs that were outvoted.
no_leg_outvoted() {
	local n i m rc=0
	n=$(status_field "$1" 2) || return 1
	for ((i = 0; i < n; i++)); do
		m=$(leg_stat "$1" "$i" mismatches) || return 1
		[ "$m" = 0 ] || { echo "leg $i outvoted $m times" >&2; rc=1; }
	done
	return $rc
}

# quorum_failures <dev>: the count after the per-leg counters
quorum_failures() {
	local n
	n=$(status_field "$1" 2) || return 1
	status_field "$1" $((4 + 3 * n))
}

# event_nr <dev>: the dm event counter (`dmsetup wait` and dmeventd use it)
event_nr() {
	dmsetup info -c --noheadings -o events "$1" | tr -d ' '
}

# wait_event_nr <dev> <old>: wait up to 5 s for the counter to pass <old>
wait_event_nr() {
	local t
	for t in $(seq 50); do
		(($(event_nr "$1") > $2)) && return 0
		sleep 0.1
	done
	return 1
}

# queue_attr <dm name> <attr>: /sys/block/dm-N/queue/<attr>
queue_attr() {
	local kname
	kname=$(dm_kname "$1") || return 1
	cat "/sys/block/$kname/queue/$2"
}

## Leg management and the resync engine ###################################

# quorum_msg <dev> <words...>: `dmsetup message <dev> 0 <words>`; returns
# its status, so it works with expect_ok / expect_fail.
quorum_msg() {
	local dev=$1
	shift
	dmsetup message "$dev" 0 "$@"
}

# health <dev>: the health characters, one per leg (A, D, S)
health() {
	status_field "$1" 3
}

# sync_state <dev>: "<sync_action> <done>/<total> <mismatches>", the three
# status fields before <read_buffer_kib>.
sync_state() {
	local st
	st=$(dmsetup status "$1") || return 1
	awk '{ print $(NF - 3), $(NF - 2), $(NF - 1) }' <<<"$st"
}

# sync_mismatches <dev>: mismatches found by the last check or repair
sync_mismatches() {
	dmsetup status "$1" | awk '{ print $(NF - 1) }'
}

# read_buffer_kib <dev>: memory the device's read buffers hold (KiB)
read_buffer_kib() {
	dmsetup status "$1" | awk '{ print $NF }'
}

# wait_sync_idle <dev> [seconds=120]: wait for the engine to go idle;
# non-zero with a message on a timeout.
wait_sync_idle() {
	local dev=$1 t=${2:-120} i state
	for ((i = 0; i < t * 10; i++)); do
		state=$(sync_state "$dev") || return 1
		[[ "$state" == idle* ]] && return 0
		sleep 0.1
	done
	echo "wait_sync_idle: $dev still busy after ${t}s: $(sync_state "$dev")" >&2
	return 1
}

# reinstate_dead <dev>: reinstate every D leg, one resync at a time
reinstate_dead() {
	local h i
	h=$(health "$1") || return 1
	for ((i = 0; i < ${#h}; i++)); do
		[[ ${h:i:1} == D ]] || continue
		quorum_msg "$1" reinstate "$i" && wait_sync_idle "$1" ||
			{ echo "reinstate_dead: leg $i" >&2; return 1; }
	done
}

# open_count <dm name>: how many openers the device has
open_count() {
	dmsetup info -c --noheadings -o open "$1" | tr -d ' '
}

# leg_sum <i> <bytes>: md5 of the first <bytes> of leg i's own device
# (/dev/ramI), read with O_DIRECT; a digest to compare legs, not a
# security check, and md5 is the cheapest one under TCG.
leg_sum() {
	local bs
	bs=$(_direct_bs 0 "$2") || return 2
	dd if="${RAM[$1]}" bs="$bs" count=$(($2 / bs)) iflag=direct status=none |
		md5sum | cut -d' ' -f1
}

# legs_identical <bytes> <i> <j>...: 0 if the first <bytes> of the legs'
# own devices are the same, else 1 naming each leg that differs from the
# first. The legs are read in parallel (the guest has two CPUs).
legs_identical() {
	local bytes=$1 dir i rc=0 ref
	local -a pids=()
	shift
	dir=$(mktemp -d)
	for i; do
		leg_sum "$i" "$bytes" >"$dir/$i" &
		pids+=($!)
	done
	wait "${pids[@]}"
	ref=$(cat "$dir/$1")
	[[ -n "$ref" ]] || { echo "legs_identical: cannot read leg $1" >&2; rc=1; }
	for i in "${@:2}"; do
		if [[ "$(cat "$dir/$i")" != "$ref" ]]; then
			echo "legs_identical: leg $i differs from leg $1" >&2
			rc=1
		fi
	done
	rm -rf "$dir"
	return $rc
}

## More leg faults ##########################################################

# _leg_table_read_error <i>: the table of leg i with failing reads
# (dm-delay with the reads sent to the error device qerr<i>, made once)
_leg_table_read_error() {
	local i=$1
	dmsetup info "qerr$i" >/dev/null 2>&1 ||
		dmsetup create "qerr$i" --table "0 $LEG_SECTORS error" ||
		fail "cannot create qerr$i"
	echo "0 $LEG_SECTORS delay /dev/mapper/qerr$i 0 0 ${RAM[i]} 0 0"
}

# leg_read_error <i>: reads of leg i fail, writes still land.
leg_read_error() {
	require_module dm-delay
	_leg_reload "$1" "$(_leg_table_read_error "$1")"
}

# leg_write_error <i>: writes and flushes to leg i fail, reads still work.
leg_write_error() {
	leg_flakey "$1" 0 1 error_writes
}

## Loop legs ###############################################################

QLEG_FS=/tmp/qleg-fs

# legs_create_loop <n> [size_mb=64] [extra_ram=0]: like legs_create, but
# each leg is a loop device over a file on ext4 (on a brd disk), so legs
# have a volatile write cache (flushes reach them) and support
# write-zeroes. RAM[i] is the loop device. extra_ram more brd disks,
# /dev/ram1..extra_ram (n * size_mb + 32 MiB each), are left for the case
# (e.g. spares without a cache).
legs_create_loop() {
	local n=${1:?legs_create_loop: number of legs} mb=${2:-64} extra=${3:-0} i f
	legs_create $((1 + extra)) $((n * mb + 32))
	for ((i = 0; i <= extra; i++)); do
		dmsetup remove "qleg$i" || fail "legs_create_loop: cannot drop qleg$i"
	done
	mkfs.ext4 -q -F /dev/ram0 || fail "legs_create_loop: mkfs"
	mkdir -p "$QLEG_FS" && mount /dev/ram0 "$QLEG_FS" ||
		fail "legs_create_loop: mount"
	LEG=()
	RAM=()
	LEG_SECTORS=$((mb * 2048))
	for ((i = 0; i < n; i++)); do
		f=$QLEG_FS/leg$i
		fallocate -l "${mb}M" "$f" || fail "legs_create_loop: fallocate"
		RAM[i]=$(losetup --find --show "$f") || fail "legs_create_loop: losetup"
		dmsetup create "qleg$i" --table "0 $LEG_SECTORS linear ${RAM[i]} 0" ||
			fail "legs_create_loop: cannot create qleg$i"
		LEG[i]=/dev/mapper/qleg$i
	done
}

# Loop legs hold brd through ext4: release them before brd is unloaded.
# The VM belongs to the tests, so every loop device goes.
legs_destroy_loop() {
	losetup -D
	if mountpoint -q "$QLEG_FS"; then
		umount "$QLEG_FS" || fail "cannot unmount $QLEG_FS"
	fi
	return 0
}

## Uevents ##################################################################

UEVENT_LOG=/tmp/uevents.log

# uevents_start: record kernel uevents of block devices (no udevd needed)
uevents_start() {
	export SYSTEMD_IGNORE_CHROOT=1
	: >"$UEVENT_LOG"
	udevadm monitor --kernel --property --subsystem-match=block >"$UEVENT_LOG" 2>&1 &
	UEVENT_PID=$!
	sleep 1	# let it bind its netlink socket before anything happens
}

uevents_stop() {
	[ -n "${UEVENT_PID:-}" ] && kill "$UEVENT_PID" 2>/dev/null
	wait "$UEVENT_PID" 2>/dev/null
	UEVENT_PID=
}

# quorum_uevents [VAR=value...]: the dm-quorum uevents recorded so far that
# have every given variable, one a line, as their variables joined by spaces
quorum_uevents() {
	awk -v want="$*" '
		BEGIN { RS = ""; n = split(want, w, " ") }
		/DM_TARGET=quorum/ {
			gsub(/\n/, " ")
			for (i = 1; i <= n; i++)
				if (index(" " $0 " ", " " w[i] " ") == 0)
					next
			print
		}' "$UEVENT_LOG"
}

# quorum_uevent_count [VAR=value...]
quorum_uevent_count() {
	quorum_uevents "$@" | wc -l
}

## Evidence that a race happened ##########################################
#
# A case that tests a race must show, from what it measured in the run,
# that the race took place: a run that missed the window proves nothing.
# These helpers read that evidence without forking where they can (forks
# are slow under TCG, and a slow probe would widen the window it probes).

# us_since <EPOCHREALTIME> [<EPOCHREALTIME>=now]: microseconds between them
us_since() {
	local to=${2:-$EPOCHREALTIME}
	echo $((${to/./} - ${1/./}))
}

# secs <microseconds>: as seconds to 0.01 s, for messages
secs() {
	local us=$1 sign=""
	((us >= 0)) || { sign=-; us=$((-us)); }
	printf '%s%d.%02d' "$sign" $((us / 1000000)) $((us % 1000000 / 10000))
}

# read_inflight <kname>: sets INFLIGHT_R and INFLIGHT_W, the reads and
# writes dm-N (a kernel name, see dm_kname) has in flight now. dm counts
# a bio from the moment its target's map has taken it, so a write
# dm-quorum holds behind a locked range is in flight (not a bio dm-delay
# holds: see delay_held). No fork.
read_inflight() {
	INFLIGHT_R=0 INFLIGHT_W=0
	read -r INFLIGHT_R INFLIGHT_W <"/sys/block/$1/inflight"
}

# wait_inflight <kname> reads|writes <pid> [<seconds>=30]: wait until dm-N
# has a read (or write) in flight, while process <pid> (which issues it)
# runs; 1 if <pid> ended first or the time ran out.
wait_inflight() {
	local kname=$1 what=$2 pid=$3 end
	end=$((${EPOCHREALTIME%.*} + ${4:-30}))
	while kill -0 "$pid" 2>/dev/null && ((${EPOCHREALTIME%.*} < end)); do
		read_inflight "$kname"
		if [[ $what == reads ]]; then
			((INFLIGHT_R > 0)) && return 0
		else
			((INFLIGHT_W > 0)) && return 0
		fi
		nap 0.01
	done
	return 1
}

# dm_ios <kname>: sets IOS_R and IOS_W, the reads and writes dm-N has
# counted in its stat, when they start (6.1) or end (6.12). dm-delay
# counts a bio when it lets it go: a count unchanged since before a bio
# was sent says that dm-delay still holds it, on either kernel. No fork.
dm_ios() {
	local -a st
	read -ra st <"/sys/block/$1/stat"
	IOS_R=${st[0]} IOS_W=${st[4]}
}

# delay_held <dm name>: sets DELAY_R and DELAY_W, the reads and writes
# the dm-delay target of the device (its first target) holds now, from
# its status ("<reads> <writes> <flushes>" held; dm core does not count
# them in flight while dm-delay holds them)
delay_held() {
	local -a f
	DELAY_R=0 DELAY_W=0
	read -ra f < <(dmsetup status "$1") || return 1
	[[ ${f[2]} == delay ]] || return 1
	DELAY_R=${f[3]} DELAY_W=${f[4]}
}

# wait_delay_held <dm name> reads|writes <pid> [<seconds>=30]: wait until
# the device's dm-delay holds a read (or write), while process <pid>
# (which issues it) runs; 1 if <pid> ended first or the time ran out.
wait_delay_held() {
	local name=$1 what=$2 pid=$3 end
	end=$((${EPOCHREALTIME%.*} + ${4:-30}))
	while kill -0 "$pid" 2>/dev/null && ((${EPOCHREALTIME%.*} < end)); do
		delay_held "$name" || return 1
		if [[ $what == reads ]]; then
			((DELAY_R > 0)) && return 0
		else
			((DELAY_W > 0)) && return 0
		fi
		nap 0.01
	done
	return 1
}

# child_pid <pid> <comm>: the pid of a child of <pid> running <comm> (a
# `write_pattern ... &` is a subshell whose child dd does the write).
# By parent pid over all of /proc, as pgrep does: /proc/<pid>/task/*/children
# needs CONFIG_PROC_CHILDREN, which the debug kernel does not have.
child_pid() {
	local c
	c=$(pgrep -P "$1" -x "$2") || return 1
	echo "${c%%$'\n'*}"
}

# proc_blocked <pid> <syscall nr>: 0 if the process sleeps uninterruptibly
# (D) inside that system call (x86-64 numbers: 0 read, 1 write, 16
# ioctl): waiting in the kernel for its I/O, not merely slow to run.
proc_blocked() {
	local nr stat
	read -r nr _ 2>/dev/null <"/proc/$1/syscall" || return 1
	read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
	[[ $nr == "$2" && ${stat##*) } == D* ]]
}

# proc_asleep <pid> <syscall nr>: 0 if the process sleeps (D or S) inside
# that system call
proc_asleep() {
	local nr stat
	read -r nr _ 2>/dev/null <"/proc/$1/syscall" || return 1
	read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
	[[ $nr == "$2" && ${stat##*) } == [DS]* ]]
}

# proc_where <pid>: one line on where a process is, for a failure message
proc_where() {
	local stat sc wchan
	read -r stat 2>/dev/null <"/proc/$1/stat" || { echo "pid $1 has ended"; return; }
	stat=${stat##*) }
	read -r sc 2>/dev/null <"/proc/$1/syscall"
	read -r wchan 2>/dev/null <"/proc/$1/wchan"
	echo "pid $1: state ${stat%% *}, syscall ${sc%% *}, wchan ${wchan:-?}"
}

# sync_engine_draining: 0 if a resync, check or repair engine is asleep
# waiting for the writes in flight to its piece to end: a worker of a
# kquorum_sync queue ("kworker/...+kquorum_sync" in its comm while it runs
# the work) whose kernel stack holds drain_writes (dm-quorum-rewrite.c;
# the name is what this looks for: rename both together). Needs root
# (/proc/<pid>/stack).
sync_engine_draining() {
	local d comm line
	for d in /proc/[0-9]*; do
		read -r comm 2>/dev/null <"$d/comm" || continue
		[[ $comm == *kquorum_sync* ]] || continue
		while read -r line; do
			[[ $line == *" drain_writes+"* ]] && return 0
		done 2>/dev/null <"$d/stack"
	done
	return 1
}

# nap <seconds>: sleep without a fork (a fork can take a second under
# TCG on a busy host): a read that times out on a pipe no one writes to
nap() {
	[[ -n ${_NAP_FD:-} ]] || exec {_NAP_FD}<> <(:)
	read -rt "$1" -u "$_NAP_FD" _ || :
}

# _sync_sample <dev> <kname>: sets SAMPLE to "<writes started or
# completed> <writes in flight> <action> <done> <total>", read in that
# order (see sync_overlap)
_sync_sample() {
	local -a stat st
	local n
	read -ra stat <"/sys/block/$2/stat"
	read_inflight "$2"
	read -ra st <<<"$(dmsetup status "$1")"
	n=${#st[@]}
	((n >= 4)) || return 1
	SAMPLE="${stat[4]} $INFLIGHT_W ${st[n - 4]} ${st[n - 3]/\// }"
	SAMPLE_HEALTH=${st[5]}
}

# sync_overlap <dev> <action> <pid>: sample dev's write counters and its
# sync status until process <pid> (writing to dev) has ended, and once
# more after, and prove that <action> (resync, check, repair) ran while
# the writes did: 0 if a sample A, then a sample B, both saw the action
# running and not finished, with more done at B than at A, and writes
# completed between A and B (the action, running at A and at B, ran all
# along: it ran while they did). The block layer counts a write in the
# stat when it starts (6.1) or when it ends (6.12); either way A's count
# is at least the writes completed by A, and B's count less the writes in
# flight at B (read after it) at most those completed by B: the second
# above the first proves completions in between. A is the first sample
# that saw the action running, B the last. Sets OVERLAP to the evidence
# (or to why there is none) and prints it, FIRST_HEALTH to the health
# the first sample saw, and SYNC_TOTAL to the sectors the action goes
# over, as A saw it (unset if no sample saw it running).
sync_overlap() {
	local dev=$1 action=$2 pid=$3 kname n=0 last=0
	local -a s a=() b=()
	unset SYNC_TOTAL
	kname=$(dm_kname "$dev") || return 1
	while ((!last)); do
		kill -0 "$pid" 2>/dev/null || last=1
		_sync_sample "$dev" "$kname" || break
		read -ra s <<<"$SAMPLE"
		((n)) || FIRST_HEALTH=$SAMPLE_HEALTH
		n=$((n + 1))
		if [[ ${s[2]} == "$action" ]] && ((s[3] < s[4])); then
			((${#a[@]})) || { a=("${s[@]}"); SYNC_TOTAL=${s[4]}; }
			b=("${s[@]}")
		fi
		((last)) || nap 0.2
	done
	if ((${#a[@]} == 0)); then
		OVERLAP="no sample of $n saw $action running"
	elif ((b[3] <= a[3])); then
		OVERLAP="$action did not advance between the samples that saw it: ${a[3]}/${a[4]}, then ${b[3]}/${b[4]} ($n samples)"
	elif ((b[0] - b[1] <= a[0])); then
		OVERLAP="no write provably completed while $action went from ${a[3]} to ${b[3]} sectors (writes counted ${a[0]}, then ${b[0]} with ${b[1]} in flight; $n samples)"
	else
		OVERLAP="$action at ${a[3]}/${a[4]} with at most ${a[0]} writes completed, then at ${b[3]}/${b[4]} with at least $((b[0] - b[1] - a[0])) more completed ($n samples)"
		echo "overlap: $OVERLAP"
		return 0
	fi
	echo "no overlap: $OVERLAP"
	return 1
}
