#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The kernels dm-quorum builds and tests against.
#   kernels.sh all          every kernel under /lib/modules with a build tree
#   kernels.sh lts          the newest installed 6.1.* and 6.12.* kernels that
#                           have both a build tree and a /boot/vmlinuz image
#   kernels.sh root <kver>  the directory the kernel is installed under, with
#                           boot/vmlinuz-<kver>, boot/config-<kver> and
#                           lib/modules/<kver>/ (build -> its build tree): /
#                           for the host's kernels, the project's cache for
#                           the debug kernel (<kver> ending in -dmq-debug),
#                           which is never installed into the host
# Debian moves its kernels to new point releases, so nothing here names one.
set -euo pipefail

DEBUG_SUFFIX=-dmq-debug
DEBUG_ROOT=${QUORUM_DEBUG_CACHE:-/var/cache/dm-quorum}/root

# The debug kernel (scripts/debug-kernel.sh) is never listed: it is asked
# for by name (make check KERNEL=debug).
with_build() {
	local d
	for d in /lib/modules/*/build; do
		[ -d "$d" ] && basename "$(dirname "$d")"
	done | grep -v -- "$DEBUG_SUFFIX\$"
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
root)
	kver=${2:?usage: $0 root <kver>}
	if [[ "$kver" == *"$DEBUG_SUFFIX" ]]; then echo "$DEBUG_ROOT"; else echo /; fi
	;;
*)	echo "usage: $0 [all|lts|root <kver>]" >&2; exit 2 ;;
esac
