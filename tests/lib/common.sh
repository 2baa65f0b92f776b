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
	local line="0 $LEG_SECTORS quorum $threshold ${#legs[@]} ${legs[*]}"
	((${#opts[@]} == 0)) || line+=" ${#opts[@]} ${opts[*]}"
	echo "$line"
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
