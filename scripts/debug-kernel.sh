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
# script's BUILD_KEY are unchanged and rebuilt incrementally when they
# change. It is installed the way a kernel package is, but under the
# cache, never into the host's /boot or /lib/modules:
#   <cache>/root/boot/vmlinuz-<kver>, <cache>/root/boot/config-<kver>,
#   <cache>/root/boot/built-<kver> (the build key installed)
#   <cache>/root/lib/modules/<kver>/ (modules.builtin..., build -> the tree)
# `scripts/kernels.sh root <kver>` names that root to the harness and the
# Makefile; the guest binds its lib/modules over /lib/modules. <kver> ends
# in -dmq-debug; scripts/kernels.sh never lists it among the LTS kernels.
# `make clean-cache` removes all of it.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FRAGMENT=$HERE/debug-kernel.config
CACHE=${QUORUM_DEBUG_CACHE:-/var/cache/dm-quorum}
PKG=linux-source-6.1
TARBALL=/usr/src/$PKG.tar.xz
SUFFIX=-dmq-debug
ROOT=$CACHE/root
# Raise when a change to build() must rebuild the kernel; the fragment's
# own changes are seen without it.
BUILD_KEY=1

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
	rm -rf "${ROOT:?}/boot/"*"$SUFFIX" "${ROOT:?}/lib/modules/"*"$SUFFIX"
	mkdir -p "$ROOT/boot"
	cp "$src/arch/x86/boot/bzImage" "$ROOT/boot/vmlinuz-$kver"
	cp "$src/.config" "$ROOT/boot/config-$kver"
	make -s -C "$src" LOCALVERSION="$SUFFIX" INSTALL_MOD_PATH="$ROOT" \
		modules_install >/dev/null
	ln -sfn "$src" "$ROOT/lib/modules/$kver/build"
	cp "$dir/built" "$ROOT/boot/built-$kver"
}

# Versions before 1.5.7 installed the kernel into the host's /boot and
# /lib/modules: take that out (only what carries our suffix).
remove_host_install() {
	local f
	for f in /boot/vmlinuz-*"$SUFFIX" /boot/config-*"$SUFFIX" \
		/boot/System.map-*"$SUFFIX" /lib/modules/*"$SUFFIX"; do
		[[ -e "$f" || -L "$f" ]] || continue
		log "removing $f (installed by an older version)"
		rm -rf "$f"
	done
}

main() {
	local key dir
	[[ -f "$TARBALL" ]] || { log "$TARBALL missing (install $PKG)"; exit 1; }
	dir=$CACHE/debug-$(dpkg-query -W -f='${Version}' "$PKG")
	key=$({ cat "$FRAGMENT"; echo "$BUILD_KEY"; } | sha256sum | cut -c1-16)
	if [[ "$(cat "$dir/built" 2>/dev/null)" != "$key" ]]; then
		(build "$dir" "$key") || { log "build failed"; exit 1; }
	fi
	local kver
	kver=$(cat "$dir/kver")
	remove_host_install
	# installed again whenever the build is not the one installed (a
	# rebuild keeps the version)
	if [[ ! -f "$ROOT/boot/vmlinuz-$kver" ||
		"$(readlink "$ROOT/lib/modules/$kver/build")" != "$dir/$PKG" ||
		"$(cat "$ROOT/boot/built-$kver" 2>/dev/null)" != "$key" ]]; then
		install_kernel "$dir"
	fi
	echo "$kver"
}

main "$@"
