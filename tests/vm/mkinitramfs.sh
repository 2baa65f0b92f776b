#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# mkinitramfs.sh <kver> <out.cpio.gz> [<root>]
#
# Build a minimal busybox-static initramfs for kernel <kver> holding only
# what is needed to mount a virtio-9p share (the real userspace is the
# host root, mounted over 9p by tests/vm/initramfs-init). The result is
# cached: it is rebuilt only when a stamp of its inputs (this script, the
# init, busybox, the module files) changes; the stamp is <out>.stamp.
# The kernel's modules are looked up under <root>/lib/modules (default /).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
INIT="$HERE/initramfs-init"
BUSYBOX=/bin/busybox
# Modules needed for the 9p mounts. Some are built in on some kernels
# (virtio_pci on Debian 6.12): modprobe reports those as "builtin".
MODULES=(virtio_pci 9pnet_virtio 9p)

usage() {
	echo "usage: $0 <kver> <out.cpio.gz> [<root>]" >&2
	exit 2
}

# Print the module files to load, in load order, without duplicates.
module_files() {
	local kver=$1 m
	for m in "${MODULES[@]}"; do
		modprobe -d "$ROOT" --show-depends -S "$kver" "$m" ||
			{ echo "mkinitramfs: cannot resolve $m for $kver" >&2; return 1; }
	done | while read -r verb path _; do
		# "insmod <path> [opts]" or "builtin <name>"
		[[ "$verb" == insmod ]] && echo "$path"
	done | awk '!seen[$0]++'
}

# Stamp of every input: a change in any of them forces a rebuild.
inputs_stamp() {
	local kver=$1
	shift
	{
		echo "kver $kver"
		sha256sum "${BASH_SOURCE[0]}" "$INIT" "$BUSYBOX"
		(($# == 0)) || stat -c '%n %s %Y' "$@"
	} | sha256sum | cut -d' ' -f1
}

# Copy a module into the tree uncompressed: busybox insmod cannot
# read compressed modules.
add_module() {
	local src=$1 tree=$2 name dir=$2/lib/modules
	name=$(basename "$src")
	case "$src" in
	*.ko.xz) xz -dc "$src" >"$dir/${name%.xz}" ;;
	*.ko.zst) zstd -qdc "$src" >"$dir/${name%.zst}" ;;
	*.ko.gz) gzip -dc "$src" >"$dir/${name%.gz}" ;;
	*.ko) cp "$src" "$dir/$name" ;;
	*) echo "mkinitramfs: unknown module format $src" >&2; return 1 ;;
	esac
	echo "${name%.ko*}.ko" >>"$tree/modules.list"
}

build_tree() {
	local tree=$1
	shift
	local mod
	mkdir -p "$tree"/{bin,dev,proc,sys,newroot,lib/modules}
	cp "$BUSYBOX" "$tree/bin/busybox"
	ln -s busybox "$tree/bin/sh"
	install -m 0755 "$INIT" "$tree/init"
	# The kernel runs /sbin/modprobe (module autoload: mount -t ext4,
	# dm targets...) in the initramfs root, not in the chroot: forward it.
	mkdir -p "$tree/sbin"
	printf '%s\n' '#!/bin/sh' \
		'exec /bin/busybox chroot /newroot /sbin/modprobe "$@"' >"$tree/sbin/modprobe"
	chmod 0755 "$tree/sbin/modprobe"
	: >"$tree/modules.list"
	for mod in "$@"; do
		add_module "$mod" "$tree"
	done
}

main() {
	(($# == 2 || $# == 3)) || usage
	local kver=$1 out=$2 stamp
	local -a mods
	ROOT=${3:-/}
	[[ -d $ROOT/lib/modules/$kver ]] ||
		{ echo "mkinitramfs: no $ROOT/lib/modules/$kver" >&2; exit 1; }
	mapfile -t mods < <(module_files "$kver")
	stamp=$(inputs_stamp "$kver" "${mods[@]}")
	if [[ -s "$out" && -f "$out.stamp" && "$(cat "$out.stamp")" == "$stamp" ]]; then
		return 0
	fi
	mkdir -p "$(dirname "$out")"
	# global: the EXIT trap runs after main's locals are gone
	tmp=$(mktemp -d "$(dirname "$out")/.initramfs.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	build_tree "$tmp/tree" "${mods[@]}"
	(cd "$tmp/tree" && find . -print0 | LC_ALL=C sort -z |
		cpio --quiet -o -0 -H newc -R 0:0) | gzip -1 >"$tmp/out"
	# Rename into place so a concurrent boot never sees a partial file.
	mv "$tmp/out" "$out"
	echo "$stamp" >"$out.stamp"
	echo "mkinitramfs: built $out (${#mods[@]} modules)" >&2
}

main "$@"
