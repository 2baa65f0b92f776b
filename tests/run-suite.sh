#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# run-suite.sh [--kver <kver>]... [case ...]
#
# Run test cases in a VM per kernel (tests/vm/boot.sh + tests/guest/runner.sh).
# Kernels: each --kver, default the installed LTS kernels (newest 6.1.* and
# newest 6.12.*, both required). Cases: names or paths (a unique prefix
# such as 010 works), default every tests/cases/[0-9]* in order.
# Module under test: build/<kver>/dm-quorum.ko, or $QUORUM_MODULE if set
# ("{kver}" in it is replaced by the kernel version; empty = no insmod).
# Results: results/<timestamp>/<kver>/ (results/latest points there).
# With no case named, the userspace unit tests and a fuzzer regression pass
# run first on the host and count as cases of kernel "host".
# The kernels' VMs run at the same time (QUORUM_JOBS=1: one after another);
# their progress lines are prefixed with the kernel.
# Prints "<kver> <case> PASS|FAIL|SKIP (<s>s, cpu <n>%)" per case (cpu: the
# guest's CPU use while it ran), details of each failure, the ten slowest
# cases, and a closing "N passed, N failed[, N skipped]" line; exits 1 if
# anything failed (2 on a usage/setup error). A skip fails the case unless
# tests/expected-skips lists it for that kernel. Pseudo-cases: module-load,
# module-unload (a leaked module reference fails it), kmemleak (on a kernel
# built with it), console-log (a kernel bug on the serial console that no
# case reported).
# Environment: QUORUM_DEADLINE (epoch seconds: the VMs are stopped then,
# the running case named and counted as failed), QUORUM_VM_TIMEOUT (whole
# VM run per kernel, default derived from the case timeouts), QUORUM_JOBS,
# QUORUM_VM_MEM, QUORUM_MODULE, plus boot.sh's.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
BOOT=$HERE/vm/boot.sh
RUNNER=$HERE/guest/runner.sh
CHECK_KLOG=$HERE/vm/check-klog
KERNELS=$REPO/scripts/kernels.sh
EXPECTED_SKIPS=$HERE/expected-skips
LTS_SERIES=(6.1 6.12)

PASSED=0
FAILED=0
SKIPPED=()
# "<kver> <case>: <note>" and the log file of each failure, recapped last
FAILURES=()
# "<seconds> <kver> <case>" of every case run, for the slowest list
TIMES=()

die() {
	echo "run-suite: $*" >&2
	exit 2
}

lts_kernels() {
	local series k
	for series in "${LTS_SERIES[@]}"; do
		k=$("$KERNELS" lts | grep "^${series//./\\.}\." || true)
		[[ -n "$k" ]] || die "no $series.* kernel with /boot/vmlinuz and headers installed (run scripts/install-deps.sh)"
		echo "$k"
	done
}

resolve_case() {
	local arg=$1 m
	if [[ -f "$arg" ]]; then
		realpath "$arg"
		return
	fi
	mapfile -t m < <(compgen -G "$HERE/cases/$arg*" || true)
	((${#m[@]} == 1)) || die "case '$arg': ${#m[@]} matches in tests/cases"
	echo "${m[0]}"
}

module_for() {
	local kver=$1 ko
	if [[ -n "${QUORUM_MODULE+set}" ]]; then
		ko=${QUORUM_MODULE//\{kver\}/$kver}
	else
		ko=$REPO/build/$kver/dm-quorum.ko
	fi
	if [[ -n "$ko" ]]; then
		[[ -f "$ko" ]] || die "module $ko missing: build it first (make), or set QUORUM_MODULE"
		realpath "$ko"
	fi
}

case_timeout() {
	local t
	t=$(sed -n '1,15s/^#[[:space:]]*TIMEOUT=\([0-9]\+\).*/\1/p' "$1" | head -n1)
	echo "${t:-180}"
}

# Whole-VM timeout: a last resort, the runner times out cases itself.
vm_timeout() {
	local total=180 c
	for c in "$@"; do
		total=$((total + $(case_timeout "$c") + 40))
	done
	echo "${QUORUM_VM_TIMEOUT:-$total}"
}

indent() {
	sed 's/^/    | /'
}

# The serial console ends lines with CR LF.
strip_cr() {
	tr -d '\r'
}

# expected_skip <kver> <case>: 0 if tests/expected-skips lists the case
# for this kernel ("<case> <kernel glob> <why>" lines)
expected_skip() {
	local kver=$1 name=$2 c glob _
	[[ -f "$EXPECTED_SKIPS" ]] || return 1
	while read -r c glob _; do
		[[ "$c" == "#"* || -z "$c" ]] && continue
		# shellcheck disable=SC2053 # the glob is meant to match
		[[ "$c" == "$name" && "$kver" == $glob ]] && return 0
	done <"$EXPECTED_SKIPS"
	return 1
}

# count <kver> <name> <PASS|FAIL|SKIP> <secs> [note] [cpu %]: sets COUNTED
# to the status counted (an unexpected skip counts as a failure)
count() {
	local status=$3 note=${5:-}
	if [[ "$status" == SKIP ]] && ! expected_skip "$1" "$2"; then
		status=FAIL note="skipped, and tests/expected-skips does not expect it here: $note"
	fi
	case $status in
	PASS) PASSED=$((PASSED + 1)) ;;
	SKIP) SKIPPED+=("$1 $2${note:+: $note}") ;;
	*)
		FAILED=$((FAILED + 1))
		FAILURES+=("$1 $2${note:+: $note}")
		;;
	esac
	[[ ! "$4" =~ ^[0-9]+(\.[0-9]+)?$ || "$4" == 0 ]] || TIMES+=("$4 $1 $2")
	echo "$1 $2 $status ($4s${6:+, cpu $6%})${note:+ - $note}"
	COUNTED=$status
}

# The ten cases that took longest, over every kernel.
print_slowest() {
	((${#TIMES[@]})) || return 0
	echo "slowest cases:"
	printf '%s\n' "${TIMES[@]}" | sort -rn | head -n 10 |
		while read -r secs kver name; do
			printf '  %7ss  %s %s\n' "$secs" "$kver" "$name"
		done
}

show_failure() {
	local dir=$1 name=$2
	if [[ -s "$dir/$name.out" ]]; then
		echo "    output (tail):"
		tail -n 20 "$dir/$name.out" | indent
	else
		echo "    (no output)"
	fi
	if [[ -f "$dir/$name.dmesg" ]] && ! "$CHECK_KLOG" "$dir/$name.dmesg" >/dev/null; then
		echo "    kernel log:"
		{ "$CHECK_KLOG" "$dir/$name.dmesg" || true; } | head -n 20 | indent
	fi
	echo "    logs: $dir/$name.{out,dmesg}"
	return 0
}

# Console lines showing a kernel bug not already reported by a case
# (a panic, or something between cases).
console_problems() {
	local dir=$1
	local bad
	[[ -f "$dir/console.log" ]] || return 0
	bad=$("$CHECK_KLOG" "$dir/console.log" || true)
	[[ -n "$bad" ]] || return 0
	# Lines (with their timestamps) already in a case's log were reported.
	comm -23 <(strip_cr <<<"$bad" | sort -u) \
		<(cat "$dir"/*.dmesg 2>/dev/null | sort -u)
}

# report <kver> <dir> <boot rc> <cases...>
report() {
	local kver=$1 dir=$2 rc=$3 file name status secs note current="" problems
	shift 3
	local -A seen=()
	problems=$(console_problems "$dir")
	[[ -f "$dir/current" ]] && current=$(<"$dir/current")
	local cpu
	while IFS=$'\t' read -r name status secs cpu note; do
		seen[$name]=1
		[[ "$cpu" != - ]] || cpu=""
		count "$kver" "$name" "$status" "$secs" "$note" "$cpu"
		[[ "$COUNTED" != FAIL ]] || show_failure "$dir" "$name"
	done < <(cat "$dir/summary.tsv" 2>/dev/null)
	for file in "$@" module-unload; do
		name=$(basename "$file")
		[[ -z "${seen[$name]:-}" ]] || continue
		if [[ "$name" == module-unload ]]; then
			[[ -f "$dir/module-unload.out" || "$current" == module-unload ]] || continue
		fi
		if [[ "$name" == "$current" ]]; then
			if ((rc == 124)) && [[ -f "$dir/deadline" ]]; then
				note="the run's deadline ($(<"$dir/deadline")) passed while this case ran: VM stopped"
			elif ((rc == 124)); then note="guest hung: VM timed out while this case ran"
			else note="guest died while this case ran (boot.sh rc=$rc)"; fi
			count "$kver" "$name" FAIL "?" "$note"
			show_failure "$dir" "$name"
			# the console tells why (panic, hung task): report it here
			if [[ -n "$problems" ]]; then
				echo "    console:"
				head -n 30 <<<"$problems" | indent
				problems=""
			fi
		elif ((rc == 124)) && [[ -f "$dir/deadline" ]]; then
			count "$kver" "$name" FAIL 0 "not run: the run's deadline passed"
		else
			count "$kver" "$name" FAIL 0 "not run"
		fi
	done
	if [[ -n "$problems" ]]; then
		count "$kver" console-log FAIL 0 "kernel bug in the console log outside any case"
		echo "$problems" | head -n 30 | indent
	fi
}

# The VM's time limit: the cases' own, cut to what is left before
# QUORUM_DEADLINE (then <dir>/deadline says so, for the report).
vm_limit() {
	local dir=$1 t left
	shift
	t=$(vm_timeout "$@")
	[[ -n "${QUORUM_DEADLINE:-}" ]] || { echo "$t"; return; }
	left=$((QUORUM_DEADLINE - $(date +%s)))
	if ((left < t)); then
		date -d "@$QUORUM_DEADLINE" '+%H:%M:%S' >"$dir/deadline"
		t=$((left > 1 ? left : 1))
	fi
	echo "$t"
}

# run_vm <kver> <results root> <cases...>: boot the kernel and run the
# cases; the boot's exit status goes to <dir>/boot.rc. Progress lines go
# to stdout, prefixed with the kernel when VMs run side by side.
run_vm() {
	local kver=$1 dir=$2/$1 ko rc=0 start=$SECONDS t km=0
	shift 2
	ko=$(module_for "$kver")
	mkdir -p "$dir"
	rm -f "$dir/deadline" "$dir/boot.rc"
	t=$(vm_limit "$dir" "$@")
	echo "=== $kver: $# case(s), module ${ko:-<none>}, results $dir"
	if [[ -f "$dir/deadline" ]] && ((t <= 1)); then
		rc=124 # nothing booted: every case is "not run"
	else
		# the runner must be able to scan for leaks where the kernel
		# was built with kmemleak
		grep -qx 'CONFIG_DEBUG_KMEMLEAK=y' \
			"$("$KERNELS" root "$kver")/boot/config-$kver" 2>/dev/null &&
			km=1
		QUORUM_EXPECT_KMEMLEAK=$km \
			"$BOOT" --kver "$kver" --results "$dir" --timeout "$t" \
			${ko:+--keep "$(dirname "$ko")"} \
			-- "$RUNNER" "$ko" "$dir" "$@" || rc=$?
	fi
	echo "=== $kver: VM run took $((SECONDS - start))s"
	echo "$rc" >"$dir/boot.rc"
}

# run_kernels <results root> <cases...>: every kernel's VM, QUORUM_JOBS at
# a time (default all), then their reports in order. A case spends most
# of its time in one process or in waits, so two guests share the host's
# CPUs well.
run_kernels() {
	local root=$1 kver jobs=${QUORUM_JOBS:-${#KVERS[@]}} rc smp
	shift
	local -a pids=()
	# Guests side by side share the host's CPUs: more virtual CPUs than
	# the host has makes TCG guests spin on each other, several times
	# slower per case, so each gets its share (at most boot.sh's default
	# of 2, at least 1) unless QUORUM_VM_SMP says otherwise.
	if ((jobs > 1)) && [[ -z "${QUORUM_VM_SMP:-}" ]]; then
		smp=$(($(nproc) / jobs))
		export QUORUM_VM_SMP=$((smp < 1 ? 1 : smp > 2 ? 2 : smp))
	fi
	for kver in "${KVERS[@]}"; do
		if ((jobs > 1)); then
			while (($(jobs -rp | wc -l) >= jobs)); do wait -n || true; done
			run_vm "$kver" "$root" "$@" 2>&1 | sed -u "s/^/[$kver] /" &
			pids+=($!)
		else
			run_vm "$kver" "$root" "$@"
		fi
	done
	# Ctrl-C: the trap in boot.sh stops each qemu
	((${#pids[@]} == 0)) || wait "${pids[@]}" || true
	for kver in "${KVERS[@]}"; do
		rc=$(cat "$root/$kver/boot.rc" 2>/dev/null || echo 125)
		((rc != 130)) || exit 130 # interrupted
		report "$kver" "$root/$kver" "$rc" "$@"
	done
}

# run_host <results root>: the userspace checks (unit tests, a regression
# pass of the fuzzers over their corpus) count in the same closing line.
run_host() {
	local dir=$1/host name start rc
	local -A targets=([unit-tests]="tests/unit run" [fuzz-regress]="tests/fuzz regress")
	mkdir -p "$dir"
	for name in unit-tests fuzz-regress; do
		start=$SECONDS
		rc=0
		# shellcheck disable=SC2086 # the target is "dir goal"
		make --no-print-directory -C "$REPO"/${targets[$name]} >"$dir/$name.out" 2>&1 || rc=$?
		if ((rc == 0)); then
			count host "$name" PASS $((SECONDS - start))
		else
			count host "$name" FAIL $((SECONDS - start)) "exit status $rc"
			show_failure "$dir" "$name"
		fi
	done
}

# The failures again, right above the closing line: a CI log is often
# only read from its tail. The first few with their output's last lines.
recap_failures() {
	local root=$1 f kver name n=0
	for f in "${FAILURES[@]}"; do
		n=$((n + 1))
		if ((n > 12)); then
			echo "FAILED: ... and $((${#FAILURES[@]} - 12)) more (see above)"
			break
		fi
		echo "FAILED: $f"
		read -r kver name _ <<<"$f"
		name=${name%:}
		((n <= 3)) && [[ -s "$root/$kver/$name.out" ]] || continue
		tail -n 6 "$root/$kver/$name.out" | indent
	done
}

# QEMU's half of the differential test (tests/diff/qemu-diff.py) runs here
# on the host, where QEMU starts 40 times faster than in the TCG guest; the
# case reads the outcomes from $QUORUM_DIFF_EXPECT.
prepare_qemu_diff() {
	local root=$1 out=$1/qemu-diff.json
	shift
	[[ " $* " == *-qemu-differential* ]] || return 0
	/usr/bin/python3 "$HERE/diff/qemu-diff.py" qemu --out "$out" \
		--workdir "$root/qemu-diff" --count "${QUORUM_DIFF_COUNT:-200}" \
		${QUORUM_DIFF_SEED:+--seed "$QUORUM_DIFF_SEED"} >/dev/null ||
		die "QEMU's half of the differential test failed"
	export QUORUM_DIFF_EXPECT=$out
}

main() {
	local -a kvers=() cases=()
	local c
	while (($#)); do
		case "$1" in
		--kver) kvers+=("${2:?--kver needs a version}"); shift 2 ;;
		-h | --help) sed -n '4,19s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
		*) c=$(resolve_case "$1") || exit 2; cases+=("$c"); shift ;;
		esac
	done
	if ((${#kvers[@]} == 0)); then
		c=$(lts_kernels) || exit 2
		mapfile -t kvers <<<"$c"
	fi
	# the whole suite (no case named) also runs the host checks
	local host=$((${#cases[@]} == 0))
	((${#cases[@]})) || mapfile -t cases < <(compgen -G "$HERE/cases/[0-9]*" | sort)
	((${#cases[@]})) || die "no test cases found"
	local kver
	KVERS=("${kvers[@]}")
	for kver in "${kvers[@]}"; do
		[[ -f "$("$KERNELS" root "$kver")/boot/vmlinuz-$kver" ]] ||
			die "kernel $kver not installed"
		module_for "$kver" >/dev/null # fail before booting anything
	done

	local root stamp
	stamp=$(date +%Y%m%d-%H%M%S)
	mkdir -p "$REPO/results"
	# two runs started in the same second must not share a directory
	mkdir "$REPO/results/$stamp" 2>/dev/null || stamp+="-$$"
	root=$REPO/results/$stamp
	mkdir -p "$root"
	ln -sfn "$stamp" "$REPO/results/latest"
	((host == 0)) || run_host "$root"
	prepare_qemu_diff "$root" "${cases[@]}"
	run_kernels "$root" "${cases[@]}"

	local s
	for s in "${SKIPPED[@]}"; do
		echo "skipped: $s"
	done
	print_slowest
	recap_failures "$root"
	echo "$PASSED passed, $FAILED failed$( ((${#SKIPPED[@]} == 0)) || echo ", ${#SKIPPED[@]} skipped")"
	((FAILED == 0))
}

main "$@"
