#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# debug-kernel.sh: build, once, the debug kernel `make check KERNEL=debug`
# boots, and print its version.
#
# The kernel is Debian's linux-source-6.1 configured as `make allnoconfig`
# plus scripts/debug-kernel.config (what the harness and the cases need,
# and KASAN, lockdep, kmemleak, UBSAN, fault injection). The build lives
# in $QUORUM_DEBUG_CACHE (default /var/cache/dm-quorum), one tree per
# version of the source package, reused while the fragment and this
# script are unchanged and rebuilt incrementally when they change. It is installed the way a kernel package is,
# so that the harness and out-of-tree builds find it:
#   /boot/vmlinuz-<kver>, /boot/config-<kver>
#   /lib/modules/<kver>/ (modules.builtin..., build -> the source tree)
# <kver> ends in -dmq-debug; scripts/kernels.sh never lists it among the
# LTS kernels.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FRAGMENT=$HERE/debug-kernel.config
CACHE=${QUORUM_DEBUG_CACHE:-/var/cache/dm-quorum}
PKG=linux-source-6.1
TARBALL=/usr/src/$PKG.tar.xz
SUFFIX=-dmq-debug

log() {
	echo "debug-kernel: $*" >&2
}

# Every option of the fragment must have come out as asked: a silently
# dropped dependency would leave a bug finder off.
check_config() {
	local line opt want got
	while read -r line; do
		[[ "$line" =~ ^(CONFIG_[A-Z0-9_]+)=(.*)$ ]] || continue
		opt=${BASH_REMATCH[1]}
		want=${BASH_REMATCH[2]}
		got=$(sed -n "s/^$opt=//p" .config)
		if [[ "$want" == n ]]; then
			grep -qx "# $opt is not set" .config && continue
		elif [[ "$got" == "$want" ]]; then
			continue
		fi
		log "$opt=$want asked, got '${got:-not set}'"
		return 1
	done <"$FRAGMENT"
}

# Every step checked by hand: set -e does not apply inside a function
# called as `build ... || ...`.  A tree already extracted is configured
# again and rebuilt incrementally (kbuild tracks what the new
# configuration changes).
build() {
	local dir=$1 stamp=$2 src=$1/$PKG
	log "building in $dir (about 10 minutes on 2 cores from scratch)"
	if [[ ! -f "$dir/extracted" ]]; then
		rm -rf "$dir" && mkdir -p "$dir" &&
			tar -xf "$TARBALL" -C "$dir" && touch "$dir/extracted" ||
			return 1
	fi
	rm -f "$dir/built"
	cd "$src" || return 1
	make -s allnoconfig || return 1
	scripts/kconfig/merge_config.sh -m .config "$FRAGMENT" >/dev/null ||
		return 1
	make -s olddefconfig && check_config || return 1
	make -s -j"$(nproc)" LOCALVERSION="$SUFFIX" all || return 1
	make -s LOCALVERSION="$SUFFIX" kernelrelease >"$dir/kver" || return 1
	echo "$stamp" >"$dir/built"
}

install_kernel() {
	local dir=$1 src=$1/$PKG kver
	kver=$(cat "$dir/kver")
	cp "$src/arch/x86/boot/bzImage" "/boot/vmlinuz-$kver"
	cp "$src/.config" "/boot/config-$kver"
	make -s -C "$src" LOCALVERSION="$SUFFIX" INSTALL_MOD_PATH=/ \
		modules_install >/dev/null
	ln -sfn "$src" "/lib/modules/$kver/build"
}

main() {
	local key dir
	[[ -f "$TARBALL" ]] || { log "$TARBALL missing (install $PKG)"; exit 1; }
	dir=$CACHE/debug-$(dpkg-query -W -f='${Version}' "$PKG")
	key=$(cat "$FRAGMENT" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-16)
	if [[ "$(cat "$dir/built" 2>/dev/null)" != "$key" ]]; then
		(build "$dir" "$key") || { log "build failed"; exit 1; }
	fi
	local kver
	kver=$(cat "$dir/kver")
	if [[ ! -f "/boot/vmlinuz-$kver" || ! -e "/lib/modules/$kver/build" ||
		"$(readlink "/lib/modules/$kver/build")" != "$dir/$PKG" ]]; then
		install_kernel "$dir"
	fi
	echo "$kver"
}

main "$@"
