#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The dm-quorum guided tour, run inside the demo VM by run-demo.sh: build a
# 2-of-3 quorum on RAM disks, write through it, break legs behind its back
# and show what the target does about it.  Every command is printed before
# it runs, so the transcript can be replayed by hand.
set -uo pipefail
module=${1:?usage: demo-guest.sh <dm-quorum.ko>}
export DM_DISABLE_UDEV=1
SIZE=131072		# sectors: 64 MiB legs
Q=/dev/mapper/q

say() { printf '\n== %s\n' "$*"; }
# run <cmd...>: print the command as it would be typed, run it, indent its output
run() {
	local a line=
	for a in "$@"; do
		[[ $a == *" "* ]] && a="\"$a\""
		line+="${line:+ }$a"
	done
	printf '$ %s\n' "$line"
	"$@" 2>&1 | sed 's/^/  /'
	return "${PIPESTATUS[0]}"
}
# reload <disk> <table>: what an admin or a failing cable does to a leg
reload() { dmsetup load "$1" --table "$2" && dmsetup suspend "$1" && dmsetup resume "$1"; }
klog() { dmesg | grep -E 'quorum' | tail -n "${1:-3}" | sed 's/^/  kernel: /'; }
sums() {
	local i
	for i in 0 1 2; do
		printf '  disk%d: %s\n' "$i" "$(dd if=/dev/ram$i bs=1M count=1 iflag=direct status=none | sha256sum | cut -c1-16)"
	done
}

# insmod does not load what the module needs (dm-mod, libcrc32c): modinfo
# names it
IFS=, read -ra deps <<<"$(modinfo -F depends "$module")"
modprobe -a "${deps[@]}" && modprobe brd rd_nr=3 rd_size=65536 &&
	insmod "$module" ||
	{ echo "cannot load the modules"; exit 1; }
dmesg -C
# what udev would see: the kernel's uevents about the quorum device
export SYSTEMD_IGNORE_CHROOT=1
udevadm monitor --kernel --property --subsystem-match=block >/tmp/uevents 2>&1 &
uevents_shown=0
# show_uevents: print the dm-quorum uevents sent since the last call
show_uevents() {
	sleep 0.5
	awk 'BEGIN { RS = "" } /DM_TARGET=quorum/ { n++; if (n > skip) { gsub(/\n/, " "); print } }' \
		skip="$uevents_shown" /tmp/uevents |
		grep -o 'DM_ACTION=[^ ]*.*DM_QUORUM_[A-Z_]*=[^ ]*' | sed 's/^/  uevent: /'
	uevents_shown=$(awk 'BEGIN { RS = "" } /DM_TARGET=quorum/ { n++ } END { print n + 0 }' /tmp/uevents)
}

say "1. Three disks (RAM disks here), each behind a dm-linear device so we can pull one later."
for i in 0 1 2; do
	run dmsetup create disk$i --table "0 $SIZE linear /dev/ram$i 0"
done

say "2. A quorum over them: every write goes to all three, 2 must succeed; reads are compared and voted."
run dmsetup create q --table "0 $SIZE quorum 2 3 /dev/mapper/disk0 /dev/mapper/disk1 /dev/mapper/disk2"
run dmsetup table q
run dmsetup status q
echo "  (status: threshold, #legs, health per leg, then io_errors/mismatches/rewrites"
echo "   per leg, quorum failures, uevents merged by the rate limit)"

say "3. Write 1 MiB through the quorum; every disk holds the same bytes."
yes "dm-quorum keeps three copies and checks them on every read." | head -c 1048576 >/tmp/data
run dd if=/tmp/data of=$Q bs=1M oflag=direct status=none
sums

say "4. Disk 2 silently corrupts a block (written behind the target's back)."
run dd if=/dev/urandom of=/dev/ram2 bs=4k count=1 seek=16 oflag=direct status=none
sums
echo "  A mirror reads one copy and may hand back the garbage. The quorum compares the"
echo "  copies, hashes them when they differ, and returns what the majority holds:"
run cmp -n 1048576 /tmp/data $Q && echo "  read back: identical to what was written"
run dmsetup status q
echo "  Leg 2 was outvoted (its mismatches counter is 1); the read succeeded."
echo "  udev is told with a uevent that rules can act on (the shipped"
echo "  tools/udev/11-dm-quorum.rules logs each one to the system log):"
show_uevents

say "5. Disk 1 now corrupts the same block differently: three copies, three versions."
run dd if=/dev/urandom of=/dev/ram1 bs=4k count=1 seek=16 oflag=direct status=none
run dd if=$Q of=/dev/null bs=1M count=1 iflag=direct status=none
run dmsetup status q
echo "  No version has the 2 votes the threshold asks for: the read is refused"
echo "  (quorum failures: 1) rather than return data nobody can vouch for."
show_uevents

say "6. Repair by hand: rewrite the range through the quorum; the copies agree again."
run dd if=/tmp/data of=$Q bs=1M oflag=direct status=none
run cmp -n 1048576 /tmp/data $Q && echo "  read back: identical"
sums

say "6b. Or let reads repair: reload the table with rewrite_corrupted, corrupt disk 2 again."
run dmsetup reload q --table "0 $SIZE quorum 2 3 /dev/mapper/disk0 /dev/mapper/disk1 /dev/mapper/disk2 1 rewrite_corrupted"
run dmsetup resume q
run dd if=/dev/urandom of=/dev/ram2 bs=4k count=4 seek=100 oflag=direct status=none
sums
run dd if=$Q of=/dev/null bs=1M count=1 iflag=direct status=none
echo "  The read voted disk 2 down and wrote the winning data back over it:"
sums
run dmsetup status q
show_uevents

say "7. Disk 1 dies (its table is swapped for the error target)."
run reload disk1 "0 $SIZE error"
run dd if=/tmp/data of=$Q bs=64k count=1 oflag=direct status=none
echo "  The write succeeded on 2 of 3 legs. Disk 1 missed it, so it is out of service:"
run dmsetup status q
klog 1
show_uevents
run dmsetup info -c -o name,events q
echo "  (the event number went up: dmeventd and 'dmsetup wait' see the change)"
run cmp -n 1048576 /tmp/data $Q && echo "  reads still work from the two live legs"

say "8. Disk 0 dies too: 1 live leg is below the threshold of 2."
run reload disk0 "0 $SIZE error"
run dd if=/tmp/data of=$Q bs=64k count=1 oflag=direct status=none
run dmsetup status q
echo "  Writes and quorum reads now fail: one copy cannot outvote anything."
echo "  Disk 2 still holds the last data written with quorum:"
run cmp -n 65536 /tmp/data /dev/ram2 && echo "  disk2: intact"

say "Done. See Documentation/dm-quorum.rst for the table line, options and status fields."
dmsetup remove_all
