#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# runner.sh <module.ko|""> <results dir> <case files...>
#
# Runs inside the test VM (see tests/vm/boot.sh). Loads dm-mod and the
# module under test (skipped if the module arg is empty), then runs each
# case with bash under `timeout`, in a fresh cwd under /tmp, with
# RESULTS_DIR and QUORUM_KO (the module file) exported. Per case it writes
# to <results>:
#   current          name of the case running now (the host names it on a hang)
#   <case>.out       stdout+stderr of the case
#   <case>.dmesg     kernel log of the case (cleared between cases)
#   summary.tsv      one line per case: name, PASS|FAIL|SKIP, seconds, the
#                    guest's CPU use while it ran (percent of all its CPUs,
#                    "-" if not measured), note
# A case fails on a non-zero exit other than 77 (skip), on a timeout, when
# its kernel log shows a bug (tests/vm/check-klog), or when the dm devices
# it left cannot be removed. After the last case the module is unloaded:
# failing that (a leaked reference) fails the pseudo-case module-unload.
# Exit status: 0 if nothing failed, 1 otherwise.

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CHECK_KLOG=$HERE/../vm/check-klog
DEFAULT_TIMEOUT=180
# Extra time a timed-out case gets to die before we call it unkillable
# (stuck in the kernel) and stop the run.
KILL_GRACE=30
RESULTS=""
FAILED=0

log() {
	echo "[runner] $*"
}

# record <name> <PASS|FAIL|SKIP> <seconds> [note] [cpu %]
record() {
	# the note last: read splits on tabs, and runs of them are one
	printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${5:--}" "${4:-}" \
		>>"$RESULTS/summary.tsv"
	[[ "$2" != FAIL ]] || FAILED=1
	log "$1: $2 ($3s)${4:+ $4}"
}

# Save and clear the kernel log; 1 if it shows a kernel bug.
save_klog() {
	local file=$1
	dmesg >"$file"
	dmesg -C
	"$CHECK_KLOG" "$file" >/dev/null
}

case_timeout() {
	local t
	t=$(sed -n '1,15s/^#[[:space:]]*TIMEOUT=\([0-9]\+\).*/\1/p' "$1" | head -n1)
	echo "${t:-$DEFAULT_TIMEOUT}"
}

# cpu_ticks: "<busy> <total>" jiffies of all CPUs so far (no fork)
cpu_ticks() {
	local _ user nice sys idle iowait irq softirq steal
	read -r _ user nice sys idle iowait irq softirq steal _ </proc/stat
	echo "$((user + nice + sys + irq + softirq + steal)) \
$((user + nice + sys + idle + iowait + irq + softirq + steal))"
}

# cpu_used <ticks at start>: percent of the CPUs busy since
cpu_used() {
	local b0 t0 b1 t1
	read -r b0 t0 <<<"$1"
	read -r b1 t1 <<<"$(cpu_ticks)"
	((t1 > t0)) || { echo 0; return; }
	echo $((100 * (b1 - b0) / (t1 - t0)))
}

# elapsed <start EPOCHREALTIME>: seconds since, to 0.1 s (no fork: forks
# are slow under TCG)
elapsed() {
	local a=${1/./} b=${EPOCHREALTIME/./} d
	d=$(((b - a) / 100000))
	echo "$((d / 10)).$((d % 10))"
}

dm_devices() {
	dmsetup ls 2>/dev/null | awk '$1 != "No" {print $1}'
}

# Kill the processes a case left behind, even those that escaped its
# process group (setsid): they would keep devices open into the next case.
# Spares pid 1, ourselves and our ancestors, and kernel threads (no exe).
# Prints the processes that survive SIGKILL (stuck in the kernel) and
# returns 1 if there are any.
kill_strays() {
	local keep=" 1 " pid=$BASHPID d stat try
	local -a victims=() stuck=()
	while ((pid > 1)); do
		keep+="$pid "
		read -r stat <"/proc/$pid/stat" || break
		stat=${stat##*) } # fields after "(comm) ": state ppid ...
		read -r _ pid _ <<<"$stat"
	done
	for d in /proc/[0-9]*; do
		pid=${d#/proc/}
		[[ "$keep" == *" $pid "* || ! -e $d/exe ]] && continue
		kill -KILL "$pid" 2>/dev/null && victims+=("$pid")
	done
	for try in 1 2 3 4 5 6 7 8 9 10; do
		stuck=()
		for pid in "${victims[@]}"; do
			read -r stat 2>/dev/null <"/proc/$pid/stat" || continue
			[[ "${stat##*) }" == [ZX]* ]] || stuck+=("$pid")
		done
		((${#stuck[@]})) || return 0
		sleep 0.2
	done
	for pid in "${stuck[@]}"; do
		echo "unkillable: pid $pid $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"
	done
	return 1
}

# Resume every suspended dm device: a case that failed while a device was
# suspended leaves I/O held there, and the processes waiting on it in D
# state, which no signal can kill.
# One dmsetup call for all: some cases leave hundreds of devices.
resume_suspended() {
	local name state
	dmsetup info -c --noheadings --separator ' ' -o name,suspended 2>/dev/null |
		while read -r name state; do
			[[ $state == Suspended ]] && dmsetup resume "$name" 2>/dev/null
		done
	return 0
}

# Unmount filesystems a case mounted on its test devices (ram, loop, dm),
# innermost first.
unmount_test_fs() {
	local mnt
	awk '$1 ~ "^/dev/(ram|loop|dm-|mapper/)" {print $2}' /proc/mounts | tac |
		while read -r mnt; do
			umount -l "$(printf '%b' "$mnt")" 2>/dev/null
		done
}

# Remove every dm device, loop device and brd so the next case starts
# clean; 1 (with a message) if something new is left (something left by an
# earlier case stays in LEFT_BEFORE and is not blamed again). Devices can
# be stacked any way (fs on dm on loop on a file on fs on brd...), so peel
# layers in rounds.
LEFT_BEFORE=" "
cleanup_devices() {
	local try left="" item new=""
	for try in 1 2 3 4 5; do
		unmount_test_fs
		dmsetup remove_all --force >/dev/null 2>&1
		losetup -D 2>/dev/null
		[[ -z "$(dm_devices)" && -z "$(losetup -n -O NAME 2>/dev/null)" ]] && break
		((try == 1)) || sleep 1
	done
	for try in 1 2 3; do
		[[ -d /sys/module/brd ]] || break
		rmmod brd 2>/dev/null || sleep 1
	done
	left=$(dm_devices | tr '\n' ' ')
	left+=$(losetup -n -O NAME 2>/dev/null | tr '\n' ' ')
	[[ -d /sys/module/brd ]] && left+="brd"
	for item in $left; do
		[[ "$LEFT_BEFORE" == *" $item "* ]] || new+="$item "
	done
	LEFT_BEFORE=" $left "
	[[ -z "$new" ]] && return 0
	echo "cleanup: cannot remove: $new"
	return 1
}

# run_case_process <case> <timeout> <out>: run the case; prints its exit
# status, or "hung" if it could not be killed.
run_case_process() {
	local file=$1 t=$2 out=$3 pid sp done_pid rc dir
	dir=/tmp/case.$(basename "$file")
	rm -rf "$dir" && mkdir -p "$dir"
	(cd "$dir" && exec timeout -k 10 "$t" bash "$file") >"$out" 2>&1 </dev/null &
	pid=$!
	sleep $((t + KILL_GRACE)) &
	sp=$!
	wait -n -p done_pid "$pid" "$sp"
	rc=$?
	if [[ "$done_pid" == "$sp" ]]; then
		echo hung
		return
	fi
	kill "$sp" 2>/dev/null
	wait "$sp" 2>/dev/null
	# timeout made itself a process group leader: kill what the case
	# left running in the background (it would keep devices open).
	kill -KILL -- "-$pid" 2>/dev/null
	echo "$rc"
}

# verdict <rc> <timeout>: prints "STATUS<TAB>note"
verdict() {
	case $1 in
	0) printf 'PASS\t' ;;
	77) printf 'SKIP\t%s' "$3" ;;
	124 | 137) printf 'FAIL\ttimed out after %ss' "$2" ;;
	*) printf 'FAIL\texit status %s' "$1" ;;
	esac
}

skip_reason() {
	grep -a '^SKIP: ' "$1" | tail -n1 | cut -c7-
}

run_case() {
	local file=$1 name t rc start status note ticks
	name=$(basename "$file")
	t=$(case_timeout "$file")
	echo "$name" >"$RESULTS/current"
	log "$name: start (timeout ${t}s)"
	start=$EPOCHREALTIME
	ticks=$(cpu_ticks)
	rc=$(run_case_process "$file" "$t" "$RESULTS/$name.out")
	resume_suspended
	if [[ "$rc" == hung ]] || ! kill_strays >>"$RESULTS/$name.out"; then
		# Stuck in the kernel: it would hold devices and trip the hung
		# task detector in later cases. Dump blocked tasks and stop.
		echo w >/proc/sysrq-trigger
		save_klog "$RESULTS/$name.dmesg"
		record "$name" FAIL "$(elapsed "$start")" \
			"timeout ${t}s, a process stuck in the kernel survived SIGKILL, run aborted"
		return 1
	fi
	IFS=$'\t' read -r status note < <(verdict "$rc" "$t" "$(skip_reason "$RESULTS/$name.out")")
	if ! cleanup_devices >>"$RESULTS/$name.out" 2>&1; then
		status=FAIL note+="${note:+; }dm devices/brd left after cleanup"
	fi
	restore_params >>"$RESULTS/$name.out"
	if ! save_klog "$RESULTS/$name.dmesg"; then
		status=FAIL note+="${note:+; }kernel log shows a bug"
	fi
	record "$name" "$status" "$(elapsed "$start")" "$note" "$(cpu_used "$ticks")"
}

module_name() {
	local n
	n=$(modinfo -F name "$1" 2>/dev/null)
	[[ -n "$n" ]] || { n=$(basename "$1"); n=${n%%.ko*}; n=${n//-/_}; }
	echo "$n"
}

# The module's parameters as loaded, restored after every case: a case
# that fails before putting back what it set (a slow max_sync_rate, say)
# must not slow or break the cases after it.
declare -A PARAMS=()

save_params() {
	local f
	for f in /sys/module/"$1"/parameters/*; do
		[[ -w "$f" ]] && PARAMS[$f]=$(<"$f")
	done
	return 0
}

restore_params() {
	local f
	for f in "${!PARAMS[@]}"; do
		[[ -w "$f" && "$(<"$f")" != "${PARAMS[$f]}" ]] || continue
		echo "runner: $f back to ${PARAMS[$f]}"
		echo "${PARAMS[$f]}" >"$f"
	done
	return 0
}

# Load the module under test; pseudo-case module-load.  insmod does not
# resolve dependencies: the ones modinfo names (dm-mod, libcrc32c; built
# in on some kernels) are loaded first.
load_module() {
	local ko=$1 start=$EPOCHREALTIME rc=0 dep deps
	deps=$(modinfo -F depends "$ko" 2>>"$RESULTS/module-load.out")
	for dep in ${deps//,/ }; do
		modprobe "$dep" >>"$RESULTS/module-load.out" 2>&1 || rc=$?
	done
	((rc == 0)) && { insmod "$ko" >>"$RESULTS/module-load.out" 2>&1 || rc=$?; }
	if ((rc != 0)); then
		save_klog "$RESULTS/module-load.dmesg"
		record module-load FAIL "$(elapsed "$start")" "loading $ko failed (module-load.out)"
		return 1
	fi
	if ! save_klog "$RESULTS/module-load.dmesg"; then
		record module-load FAIL "$(elapsed "$start")" "kernel log shows a bug"
		return 0
	fi
	save_params "$(module_name "$ko")"
	record module-load PASS "$(elapsed "$start")"
}

# Unload it; failing means a leaked reference: pseudo-case module-unload.
unload_module() {
	local name=$1 start=$EPOCHREALTIME try note=""
	echo module-unload >"$RESULTS/current"
	cleanup_devices >"$RESULTS/module-unload.out" 2>&1
	for try in 1 2 3; do
		rmmod "$name" >>"$RESULTS/module-unload.out" 2>&1 && break
		sleep 1
	done
	[[ -d /sys/module/$name ]] && note="rmmod $name failed (leaked reference?)"
	save_klog "$RESULTS/module-unload.dmesg" ||
		note+="${note:+; }kernel log shows a bug"
	record module-unload "$([[ -z "$note" ]] && echo PASS || echo FAIL)" \
		"$(elapsed "$start")" "$note"
}

# On a kernel with kmemleak (the debug kernel), after the module is gone:
# scan, and any unreferenced object found fails the pseudo-case kmemleak.
# Two scans, as the kernel's documentation advises: an object is reported
# only once it has looked unreferenced for a whole scan. Where the kernel
# was built with kmemleak (the host says so in QUORUM_EXPECT_KMEMLEAK=1),
# failing to scan (no debugfs, kmemleak disabled at boot or by an
# internal error) fails the pseudo-case too: a leak check that did not
# run must not pass.
kmemleak_scan() {
	local km=/sys/kernel/debug/kmemleak start=$EPOCHREALTIME err=""
	mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
	if [[ ! -e $km ]]; then
		[[ "${QUORUM_EXPECT_KMEMLEAK:-0}" == 1 ]] || return 0
		record kmemleak FAIL "$(elapsed "$start")" \
			"the kernel has kmemleak but $km is missing (debugfs not mounted?)"
		return 0
	fi
	echo kmemleak >"$RESULTS/current"
	{ echo scan >$km && sleep 6 && echo scan >$km; } 2>"$RESULTS/kmemleak.err" ||
		err=$(tr '\n' ' ' <"$RESULTS/kmemleak.err")
	if [[ -n "$err" ]]; then
		dmesg | grep -i kmemleak | tail -n 5 >>"$RESULTS/kmemleak.err"
		record kmemleak FAIL "$(elapsed "$start")" \
			"kmemleak cannot scan (disabled?): ${err:-scan refused}"
		return 0
	fi
	cat $km >"$RESULTS/kmemleak.out"
	if [[ -s "$RESULTS/kmemleak.out" ]]; then
		record kmemleak FAIL "$(elapsed "$start")" \
			"$(grep -c '^unreferenced object' "$RESULTS/kmemleak.out") leaks, see kmemleak.out"
	else
		record kmemleak PASS "$(elapsed "$start")"
	fi
}

setup() {
	# kmemleak reports what it found before the module was loaded too:
	# forget that, the module is what is tested
	if [[ -e /sys/kernel/debug/kmemleak ]] ||
		{ mount -t debugfs none /sys/kernel/debug 2>/dev/null &&
			[[ -e /sys/kernel/debug/kmemleak ]]; }; then
		echo clear >/sys/kernel/debug/kmemleak
	fi
	modprobe dm-mod || { log "cannot load dm-mod"; return 1; }
	# Fault targets and loop for the cases (the leg helpers load brd):
	# without udev no static /dev/loop-control, so load loop up front.
	local m
	for m in dm-flakey dm-delay loop; do
		modprobe -q "$m" || log "note: cannot load $m"
	done
	# Under TCG most of a case's time is starting processes, and QEMU
	# (before 8.0) keys translated code by virtual address: with the
	# libraries at the same place in every process their code is
	# translated once. Starting /bin/true goes from 80 to 30 ms.
	echo 0 >/proc/sys/kernel/randomize_va_space
	# Flag tasks stuck in D state well before a case's timeout.
	echo 60 2>/dev/null >/proc/sys/kernel/hung_task_timeout_secs
	: >"$RESULTS/summary.tsv"
	save_klog "$RESULTS/boot.dmesg"
}

main() {
	# We remove every dm device and kill stray processes: never on a host.
	if ! grep -q 'harness\.results=' /proc/cmdline; then
		echo "runner.sh: not in the test VM (see tests/vm/boot.sh); refusing" >&2
		return 2
	fi
	local ko=${1?usage: runner.sh <module.ko|\"\"> <results> <cases...>} file
	RESULTS=${2:?results dir}
	shift 2
	export RESULTS_DIR=$RESULTS
	# cases that unload and load the module again (133)
	export QUORUM_KO=$ko
	setup || return 1
	if [[ -n "$ko" ]]; then
		load_module "$ko" || return 1
	fi
	for file in "$@"; do
		run_case "$file" || return 1
	done
	[[ -z "$ko" ]] || unload_module "$(module_name "$ko")"
	kmemleak_scan
	: >"$RESULTS/current"
	log "done"
	return "$FAILED"
}

main "$@"
