#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make lint: every static check the project holds itself to, zero findings.
#   checkpatch.pl --strict   kernel sources (from Debian's linux-source)
#   sparse (C=2) and W=1     a build per installed kernel
#   cppcheck                 the code that also builds in userspace
#   the scripts              shellcheck -S warning, pyflakes3
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

failed=0
kernel_c=(dm-quorum*.c)
kernel_sources=("${kernel_c[@]}" dm-quorum*.h)
shopt -s nullglob
userspace_sources=(dm-quorum-args.c dm-quorum-vote.c dm-quorum-compare.c dm-quorum-sb.c
	tests/unit/*.c tests/fuzz/*.c)

step() { printf '== %s\n' "$*"; }
finding() { failed=1; }

checkpatch_path() {
	local cache=.cache/checkpatch tarball
	if [ ! -x "$cache/checkpatch.pl" ]; then
		tarball=$(ls /usr/src/linux-source-*.tar.xz 2>/dev/null | sort -V | tail -n 1)
		[ -n "$tarball" ] || { echo "linux-source is not installed" >&2; return 1; }
		mkdir -p "$cache"
		tar -xJf "$tarball" -C "$cache" --strip-components=2 --wildcards \
			'*/scripts/checkpatch.pl' '*/scripts/spelling.txt' \
			'*/scripts/const_structs.checkpatch' || return 1
	fi
	echo "$cache/checkpatch.pl"
}

run_checkpatch() {
	local cp out
	step "checkpatch --strict"
	cp=$(checkpatch_path) || { finding; return; }
	# checkpatch exits non-zero on findings: under pipefail its pipe
	# into grep would hide them, so take its output first
	out=$(perl "$cp" --no-tree --strict --terse --show-types \
		--ignore FILE_PATH_CHANGES,SPDX_LICENSE_TAG -f "${kernel_sources[@]}")
	echo "$out" | grep -E 'ERROR|WARNING|CHECK' && finding
}

# sparse and W=1 in one build per kernel; any compiler or sparse remark fails.
run_sparse() {
	local k log
	for k in $(scripts/kernels.sh all); do
		step "sparse + W=1 on $k"
		log=$(make --no-print-directory KVER="$k" KBUILD_FLAGS="W=1 C=2" 2>&1)
		echo "$log" | grep -E 'warning:|error:' && finding
		# C=2 checks every file even when nothing is recompiled
		[ "$(echo "$log" | grep -c ' CHECK ')" = "${#kernel_c[@]}" ] ||
			{ echo "$log" | tail -20; echo "sparse did not check every file"; finding; }
	done
}

run_cppcheck() {
	step "cppcheck"
	cppcheck --quiet --error-exitcode=1 --enable=warning,style,performance,portability \
		--std=c11 --inline-suppr -U__KERNEL__ --suppress=missingIncludeSystem \
		"${userspace_sources[@]}" || finding
}

# scripts_of <regex>: every tracked file whose shebang line matches.
scripts_of() {
	git ls-files -z | xargs -0 awk -v re="$1" 'FNR == 1 && $0 ~ re { print FILENAME } { nextfile }'
}

# check_scripts <step> <shebang regex> <checker...>
check_scripts() {
	local -a scripts
	step "$1"
	mapfile -t scripts < <(scripts_of "$2")
	shift 2
	((${#scripts[@]} == 0)) || "$@" "${scripts[@]}" || finding
}

run_shellcheck() {
	check_scripts shellcheck '^#!.*(ba)?sh' shellcheck -x -S warning
}

run_pyflakes() {
	check_scripts pyflakes '^#!.*python' pyflakes3
}

run_checkpatch
run_sparse
run_cppcheck
run_shellcheck
run_pyflakes

if [ "$failed" -ne 0 ]; then
	echo "lint: findings above"
	exit 1
fi
echo "lint: clean"
