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
# Prints "<kver> <case> PASS|FAIL|SKIP (<s>s)" per case, details of each
# failure, and a closing "N passed, N failed[, N skipped]" line; exits 1 if
# anything failed (2 on a usage/setup error). Pseudo-cases: module-load,
# module-unload (a leaked module reference fails it), console-log (a kernel
# bug on the serial console that no case reported).
# Environment: QUORUM_VM_TIMEOUT (whole VM run per kernel, default derived
# from the case timeouts), QUORUM_VM_MEM, QUORUM_MODULE, plus boot.sh's.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
BOOT=$HERE/vm/boot.sh
RUNNER=$HERE/guest/runner.sh
CHECK_KLOG=$HERE/vm/check-klog
LTS_SERIES=(6.1 6.12)

PASSED=0
FAILED=0
SKIPPED=()
# "<kver> <case>: <note>" and the log file of each failure, recapped last
FAILURES=()

die() {
	echo "run-suite: $*" >&2
	exit 2
}

# Kernels we can boot and build for, oldest first.
installed_kernels() {
	local d k
	for d in /lib/modules/*/; do
		k=$(basename "$d")
		[[ -f /boot/vmlinuz-$k && -e /lib/modules/$k/build ]] && echo "$k"
	done | sort -V
}

lts_kernels() {
	local series k
	for series in "${LTS_SERIES[@]}"; do
		k=$(installed_kernels | grep "^${series//./\\.}\." | tail -n1 || true)
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

# count <kver> <name> <PASS|FAIL|SKIP> <secs> [note]
count() {
	local line="$1 $2 $3 ($4s)"
	case $3 in
	PASS) PASSED=$((PASSED + 1)) ;;
	SKIP) SKIPPED+=("$1 $2${5:+: $5}") ;;
	*)
		FAILED=$((FAILED + 1))
		FAILURES+=("$1 $2${5:+: $5}")
		;;
	esac
	echo "$line${5:+ - $5}"
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
	while IFS=$'\t' read -r name status secs note; do
		seen[$name]=1
		count "$kver" "$name" "$status" "$secs" "$note"
		[[ "$status" != FAIL ]] || show_failure "$dir" "$name"
	done < <(cat "$dir/summary.tsv" 2>/dev/null)
	for file in "$@" module-unload; do
		name=$(basename "$file")
		[[ -z "${seen[$name]:-}" ]] || continue
		if [[ "$name" == module-unload ]]; then
			[[ -f "$dir/module-unload.out" || "$current" == module-unload ]] || continue
		fi
		if [[ "$name" == "$current" ]]; then
			if ((rc == 124)); then note="guest hung: VM timed out while this case ran"
			else note="guest died while this case ran (boot.sh rc=$rc)"; fi
			count "$kver" "$name" FAIL "?" "$note"
			show_failure "$dir" "$name"
			# the console tells why (panic, hung task): report it here
			if [[ -n "$problems" ]]; then
				echo "    console:"
				head -n 30 <<<"$problems" | indent
				problems=""
			fi
		else
			count "$kver" "$name" FAIL 0 "not run"
		fi
	done
	if [[ -n "$problems" ]]; then
		count "$kver" console-log FAIL 0 "kernel bug in the console log outside any case"
		echo "$problems" | head -n 30 | indent
	fi
}

# run_kernel <kver> <results root> <cases...>
run_kernel() {
	local kver=$1 dir=$2/$1 ko rc=0 start=$SECONDS
	shift 2
	ko=$(module_for "$kver")
	mkdir -p "$dir"
	echo "=== $kver: $# case(s), module ${ko:-<none>}, results $dir"
	"$BOOT" --kver "$kver" --results "$dir" --timeout "$(vm_timeout "$@")" \
		${ko:+--keep "$(dirname "$ko")"} -- "$RUNNER" "$ko" "$dir" "$@" || rc=$?
	((rc != 130)) || exit 130 # interrupted
	echo "=== $kver: VM run took $((SECONDS - start))s"
	report "$kver" "$dir" "$rc" "$@"
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
	for kver in "${kvers[@]}"; do
		[[ -f /boot/vmlinuz-$kver ]] || die "kernel $kver not installed"
		module_for "$kver" >/dev/null # fail before booting anything
	done

	local root stamp
	stamp=$(date +%Y%m%d-%H%M%S)
	# two runs started in the same second must not share a directory
	[[ ! -e "$REPO/results/$stamp" ]] || stamp+="-$$"
	root=$REPO/results/$stamp
	mkdir -p "$root"
	ln -sfn "$stamp" "$REPO/results/latest"
	((host == 0)) || run_host "$root"
	prepare_qemu_diff "$root" "${cases[@]}"
	for kver in "${kvers[@]}"; do
		run_kernel "$kver" "$root" "${cases[@]}"
	done

	local s
	for s in "${SKIPPED[@]}"; do
		echo "skipped: $s"
	done
	recap_failures "$root"
	echo "$PASSED passed, $FAILED failed$( ((${#SKIPPED[@]} == 0)) || echo ", ${#SKIPPED[@]} skipped")"
	((FAILED == 0))
}

main "$@"
