#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# boot.sh --kver <kver> --results <dir> [--timeout <s>] [--keep <path>]... [--drive <file>]... [--quiet] -- <command> [args...]
#
# Boot kernel <kver> in qemu with the host root shared read-only over
# virtio-9p and <dir> shared writable at the same path, run <command>
# inside the guest (chrooted into the host root, cwd <dir>, host tools
# and /lib/modules available), then power off.
#
# <command> must be a path on the host (or a name found in the guest PATH);
# paths in args must be absolute. /tmp, /run and /var/tmp are fresh tmpfs
# in the guest; host paths below them stay visible (read-only) only for
# <dir>, this repo, the command's directory and each --keep <path>.
# QUORUM_* variables of the caller are exported to the command.
#
# Each --drive <file> is a raw virtio disk, /dev/vda, /dev/vdb... in that
# order (tests/crash: legs that outlive the VM).
#
# Exit status: the command's exit status, 124 if the guest did not finish
# within the timeout (qemu is killed), 125 if the guest ended without
# reporting a status (panic, init failure).
#
# Files in <dir>: console.log (kernel serial console), output.log (the
# command's stdout+stderr, also streamed to our stdout unless --quiet),
# .boot/ (command script, exit status).
#
# Environment: QUORUM_VM_MEM (MiB, default 2048), QUORUM_VM_SMP (default 2),
# QUORUM_VM_TIMEOUT (seconds, default 600), QUORUM_VM_ACCEL (kvm|tcg,
# default: kvm if a probe boot works, else tcg), QUORUM_VM_APPEND (extra
# kernel command line), QUORUM_VM_CACHE (default <repo>/.cache/vm),
# QUORUM_VM_BZIMAGE=1 (boot /boot/vmlinuz as is, not the extracted ELF).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE=${QUORUM_VM_CACHE:-$REPO/.cache/vm}
QEMU=qemu-system-x86_64
DRIVES=()
# where the kernel is installed: / or the debug kernel's cache (set in main)
KROOT=/

usage() {
	sed -n 's/^# \{0,1\}//; 4,4p' "${BASH_SOURCE[0]}" >&2
	exit 2
}

die() {
	echo "boot.sh: $*" >&2
	exit 2
}

# A tiny boot sector that writes 0x10 to the isa-debug-exit port, making
# qemu exit with status 33: a cheap first check that KVM runs anything.
kvm_probe_bootsector() {
	local img=$1 rc=0
	{
		printf '\xb0\x10\xe6\xf4\xf4\xeb\xfd' # mov al,0x10; out 0xf4,al; hlt; jmp $-1
		head -c 503 /dev/zero
		printf '\x55\xaa'
	} >"$img"
	timeout 15 "$QEMU" -accel kvm -nodefaults -no-user-config -display none \
		-m 16 -drive "file=$img,format=raw,if=ide" \
		-device isa-debug-exit,iobase=0xf4,iosize=4 </dev/null >/dev/null 2>&1 || rc=$?
	((rc == 33))
}

# Boot the real kernel under KVM running `true`. Needed because on some
# hosts /dev/kvm opens and runs real-mode code but Linux hangs or qemu
# aborts on MSR setup. A working KVM boots in a few seconds.
kvm_probe_kernel() {
	local kver=$1 initrd=$2 dir=$CACHE/kvm-probe.d
	rm -rf "$dir"
	mkdir -p "$dir/.boot"
	write_cmd_script "$dir" "$dir/.boot/cmd.sh" true
	run_qemu "$kver" "$dir" 30 "$initrd" kvm >/dev/null 2>&1 || true
	[[ "$(cat "$dir/.boot/status" 2>/dev/null)" == 0 ]]
}

# Pick the accelerator: KVM only if it really boots our kernel, else TCG.
# The probe result is cached per host boot.
pick_accel() {
	local kver=$1 initrd=$2
	if [[ -n "${QUORUM_VM_ACCEL:-}" ]]; then
		echo "$QUORUM_VM_ACCEL"
		return
	fi
	local boot_id cached=$CACHE/kvm-probe
	boot_id=$(cat /proc/sys/kernel/random/boot_id)
	if [[ -f "$cached" ]] && [[ "$(head -n1 "$cached")" == "$boot_id" ]]; then
		tail -n1 "$cached"
		return
	fi
	local accel=tcg
	if [[ -r /dev/kvm && -w /dev/kvm ]] &&
		kvm_probe_bootsector "$CACHE/kvm-probe.img" &&
		kvm_probe_kernel "$kver" "$initrd"; then
		accel=kvm
	fi
	rm -rf "$CACHE/kvm-probe.img" "$CACHE/kvm-probe.d"
	echo "boot.sh: using $accel (probed; cached in $cached)" >&2
	printf '%s\n%s\n' "$boot_id" "$accel" >"$cached"
	echo "$accel"
}

# decompress_at <file> <offset> <tool...>: decompress from a byte offset
# (trailing data after the stream makes the tools complain: ignore it).
decompress_at() {
	local file=$1 off=$2
	shift 2
	tail -c +$((off + 1)) "$file" | "$@" 2>/dev/null
}

# extract_vmlinux <bzImage> <out>: the uncompressed ELF kernel inside.
extract_vmlinux() {
	local img=$1 out=$2 magic tool off
	for magic in $'\xfd7zXZ:xz -dc' $'\x28\xb5\x2f\xfd:zstd -dcq' \
		$'\x1f\x8b\x08:gzip -dc'; do
		tool=${magic#*:}
		for off in $(LC_ALL=C grep -abo "${magic%%:*}" "$img" | head -n 3 | cut -d: -f1); do
			# shellcheck disable=SC2086 # $tool is a command and its options
			decompress_at "$img" "$off" $tool >"$out"
			[[ "$(head -c 4 "$out")" == $'\x7fELF' ]] && return 0
		done
	done
	rm -f "$out"
	return 1
}

# Print the kernel image to boot. Debian's bzImage spends seconds
# decompressing itself under TCG; a PVH-capable kernel boots straight from
# its uncompressed ELF, which we extract once and cache.
kernel_image() {
	local kver=$1 vmlinuz=${KROOT%/}/boot/vmlinuz-$1 elf=$CACHE/vmlinux-$1 stamp tmp
	if ! grep -qx 'CONFIG_PVH=y' "${KROOT%/}/boot/config-$kver" 2>/dev/null ||
		[[ -n "${QUORUM_VM_BZIMAGE:-}" ]]; then
		echo "$vmlinuz"
		return
	fi
	stamp=$(stat -c '%s %Y' "$vmlinuz")
	if [[ ! -f "$elf" || "$(cat "$elf.stamp" 2>/dev/null)" != "$stamp" ]]; then
		tmp=$(mktemp "$elf.XXXXXX")
		if ! extract_vmlinux "$vmlinuz" "$tmp"; then
			echo "$vmlinuz"
			return
		fi
		mv "$tmp" "$elf" # atomic: a concurrent boot sees old or new
		echo "$stamp" >"$elf.stamp"
	fi
	echo "$elf"
}

# Print the directories (colon-separated) the guest must keep visible
# although they are below a tmpfs it mounts (e.g. a CI clone under /tmp).
keep_list() {
	local p list=""
	for p in "$@"; do
		p=$(realpath -m "$p")
		case "$p" in
		/tmp/* | /run/* | /var/tmp/*)
			[[ "$p" != *[[:space:]:]* ]] || die "cannot share $p (whitespace or ':')"
			list+="${list:+:}$p" ;;
		esac
	done
	echo "$list"
}

# Write the script the guest init runs in the chroot.
write_cmd_script() {
	local results=$1 script=$2
	shift 2
	local var
	{
		echo '# generated by tests/vm/boot.sh'
		printf 'cd %q 2>/dev/null || cd /tmp\n' "$results"
		for var in $(compgen -e | grep '^QUORUM_' || true); do
			printf 'export %s=%q\n' "$var" "${!var}"
		done
		# The command's output goes to the second serial port, kept
		# apart from the kernel console.
		echo 'stty -F /dev/ttyS1 raw -echo 2>/dev/null'
		echo 'exec </dev/null >/dev/ttyS1 2>&1'
		printf '%q ' "$@"
		echo
		# No sync: the results share is uncached, and a sync could hang
		# on a broken device.
		printf 'echo $? >%q\n' "$results/.boot/status"
	} >"$script"
}

run_qemu() {
	local kver=$1 results=$2 timeout=$3 initrd=$4 accel=$5 keep=${6:-} cpu=max d
	local -a drives=()
	for d in "${DRIVES[@]}"; do
		drives+=(-drive "file=${d//,/,,},format=raw,if=virtio,cache=writeback")
	done
	[[ "$accel" == kvm ]] && cpu=host
	local append="console=ttyS0 panic=-1 mitigations=off rdinit=/init"
	# The debug kernel: KASAN and kmemleak unwind a stack per allocation,
	# so under TCG its boot can hold a CPU longer than RCU's 21 s; and it
	# has no PCI MSI, while built from scratch its ACPI finds no INTx
	# route for the virtio devices ("no GSI") and 9p hangs at the first
	# mount: the legacy routing table works.
	[[ "$kver" != *-dmq-debug ]] ||
		append+=" rcupdate.rcu_cpu_stall_timeout=300 pci=noacpi"
	append+=" harness.results=$results harness.keep=$keep"
	# a kernel kept out of the host's /lib/modules: the guest binds its
	# modules there
	[[ "$KROOT" == / ]] || append+=" harness.modules=$KROOT/lib/modules"
	append+=" ${QUORUM_VM_APPEND:-}"
	local r9=${results//,/,,} # qemu option syntax escapes commas
	timeout --kill-after=5 "$timeout" "$QEMU" \
		-nodefaults -no-user-config -nographic -monitor none -no-reboot \
		-accel "$accel" -cpu "$cpu" \
		-smp "${QUORUM_VM_SMP:-2}" -m "${QUORUM_VM_MEM:-2048}" \
		-kernel "$(kernel_image "$kver")" -initrd "$initrd" -append "$append" \
		-chardev "file,id=con,path=$r9/console.log" -serial chardev:con \
		-chardev "file,id=out,path=$r9/output.log" -serial chardev:out \
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
		-virtfs "local,path=$r9,mount_tag=results,security_model=none,multidevs=remap" \
		"${drives[@]}" </dev/null
}

main() {
	local kver="" results="" timeout=${QUORUM_VM_TIMEOUT:-600} quiet=0
	local -a keep=("$REPO")
	while (($#)); do
		case "$1" in
		--kver) kver=${2:?}; shift 2 ;;
		--results) results=${2:?}; shift 2 ;;
		--timeout) timeout=${2:?}; shift 2 ;;
		--keep) keep+=("${2:?}"); shift 2 ;;
		--drive) DRIVES+=("$(realpath "${2:?}")"); shift 2 ;;
		--quiet) quiet=1; shift ;;
		--) shift; break ;;
		*) usage ;;
		esac
	done
	[[ -n "$kver" && -n "$results" && $# -gt 0 ]] || usage
	KROOT=$("$REPO/scripts/kernels.sh" root "$kver")
	[[ -f "${KROOT%/}/boot/vmlinuz-$kver" ]] || die "no ${KROOT%/}/boot/vmlinuz-$kver"
	mkdir -p "$results/.boot"
	results=$(cd "$results" && pwd -P)
	[[ "$results" != *[[:space:]]* ]] || die "results path must not contain whitespace"
	local cmd=$1
	shift
	if [[ "$cmd" == */* ]]; then
		cmd=$(realpath "$cmd")
		keep+=("$(dirname "$cmd")")
	fi
	local keeps
	keeps=$(keep_list "${keep[@]}")

	mkdir -p "$CACHE"
	local initrd=$CACHE/initramfs-$kver.cpio.gz accel
	"$HERE/mkinitramfs.sh" "$kver" "$initrd" "$KROOT"
	accel=$(pick_accel "$kver" "$initrd")
	rm -f "$results/.boot/status" "$results/console.log"
	: >"$results/output.log"
	write_cmd_script "$results" "$results/.boot/cmd.sh" "$cmd" "$@"

	local start=$SECONDS rc=0 qpid tpid=""
	run_qemu "$kver" "$results" "$timeout" "$initrd" "$accel" "$keeps" &
	qpid=$!
	trap 'kill $qpid 2>/dev/null; wait $qpid; exit 130' INT TERM
	if ((!quiet)); then
		tail -n +1 -s 0.2 -F --pid="$qpid" "$results/output.log" 2>/dev/null &
		tpid=$!
	fi
	wait "$qpid" || rc=$?
	[[ -z "$tpid" ]] || wait "$tpid" || true
	trap - INT TERM

	local took=$((SECONDS - start))
	if ((rc == 124 || rc == 137)); then
		echo "boot.sh: $kver: guest timed out after ${timeout}s, qemu killed" >&2
		return 124
	fi
	if [[ ! -s "$results/.boot/status" ]]; then
		echo "boot.sh: $kver: guest ended without a status (qemu rc=$rc); console tail:" >&2
		tail -n 10 "$results/console.log" >&2 || true
		return 125
	fi
	rc=$(<"$results/.boot/status")
	echo "boot.sh: $kver ($accel): command exited $rc after ${took}s" >&2
	return "$rc"
}

main "$@"
