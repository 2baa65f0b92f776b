#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Install the Debian packages dm-quorum needs to build, lint and test.
# Idempotent and fast when everything is present: each package is checked
# with dpkg-query and only the missing ones are installed. `apt-get update`
# runs only if an install fails (stale lists on a fresh machine).
set -euo pipefail

PACKAGES=(
	# build: kernels to test on and their headers (meta + the 6.12 LTS)
	linux-image-amd64 linux-headers-amd64
	linux-image-6.12-amd64 linux-headers-6.12-amd64
	linux-source-6.1 make gcc
	# VM harness
	qemu-system-x86 qemu-utils busybox-static cpio xz-utils zstd kmod udev
	util-linux e2fsprogs dmsetup fio mdadm xxd
	# unit tests, lint, plots
	libcmocka-dev clang libclang-rt-14-dev sparse cppcheck shellcheck python3 pyflakes3
	gnuplot-nox blktrace
	# the debug kernel (scripts/debug-kernel.sh)
	flex bison bc libelf-dev libssl-dev
)

# Print the packages that are not fully installed.
missing_packages() {
	local pkg status
	for pkg in "${PACKAGES[@]}"; do
		status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
		[[ "$status" == installed ]] || echo "$pkg"
	done
}

apt_install() {
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
}

main() {
	local missing
	mapfile -t missing < <(missing_packages)
	if ((${#missing[@]} == 0)); then
		echo "install-deps: all ${#PACKAGES[@]} packages present"
		return 0
	fi
	echo "install-deps: installing ${missing[*]}"
	if ((EUID != 0)); then
		echo "install-deps: need root to install packages" >&2
		return 1
	fi
	# Try without refreshing the lists first: it is the fast path and
	# works offline when the lists are recent enough.
	if ! apt_install "${missing[@]}"; then
		apt-get update
		apt_install "${missing[@]}"
	fi
}

main "$@"
