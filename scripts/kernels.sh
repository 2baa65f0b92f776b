#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Print the kernel versions dm-quorum builds and tests against, one a line.
#   kernels.sh all   every kernel under /lib/modules with a build tree
#   kernels.sh lts   the newest installed 6.1.* and 6.12.* kernels that have
#                    both a build tree and a /boot/vmlinuz image
# Debian moves its kernels to new point releases, so nothing here names one.
set -euo pipefail

# The debug kernel (scripts/debug-kernel.sh, suffix -dmq-debug) is never
# listed: it is asked for by name (make check KERNEL=debug).
with_build() {
	local d
	for d in /lib/modules/*/build; do
		[ -d "$d" ] && basename "$(dirname "$d")"
	done | grep -v -- '-dmq-debug$'
	return 0
}

newest_of() {
	local series=$1
	with_build | grep -E "^${series//./\\.}\.[0-9]+" |
		while read -r k; do [ -f "/boot/vmlinuz-$k" ] && echo "$k"; done |
		sort -V | tail -n 1
}

case "${1:-all}" in
all)	with_build | sort -V ;;
lts)	newest_of 6.1; newest_of 6.12 ;;
*)	echo "usage: $0 [all|lts]" >&2; exit 2 ;;
esac
