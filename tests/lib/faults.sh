# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# The fault matrix (cases 120-126). One case per fault kind; each runs the
# kind in every cell of
#   shape     2-of-3 and 3-of-5
#   bad legs  1, N-threshold (the most a quorum survives), N-threshold+1
#             (no quorum); 2-of-3 has N-threshold = 1, so it has two levels
#   pattern   read_pattern quorum and fifo
# that is 10 cells. In each cell fio writes and verifies (crc32c, 4 jobs,
# verify_fatal) through a fresh quorum device. The fault meets fio's I/O in
# flight: before fio starts, the bad legs are suspended and their fault
# tables loaded; once fio's first writes are in flight (held by the
# suspended legs, so no quorum write can complete), the bad legs are
# resumed, and the held writes and all I/O after them go through the fault
# (all bad legs at once, so no write can succeed on some of them and not
# on others). The fault stays until fio is done; no rate limit is needed
# to catch fio mid-run. fio's outcome must be the expected one (below) and
# the fault must show where it can: in the bad legs' counters, or for a
# slow leg in fio's time. Then the fault goes and the legs are brought
# back (the application writes again what failed for want of a quorum,
# what is dead is reinstated); a check must then find the never-faulted
# legs agreeing with each other and with the vote (fm_check) before a
# repair vote could hide a difference; after the repair every leg must be
# identical and a second fio pass must verify. The legs are as large as
# the area fio writes, so the scrubs and compares read nothing else.
#
# Expected outcome: "clean" (no I/O error, no verify error), "eio" (an I/O
# error, no verify error), or "wrong" (a verify error: only silently
# dropped writes on a majority, which no vote can tell from good data).
#
# Bad legs: for faults that raise errors, the first ones (so fifo reads
# fail over); for silent faults (corrupt, drop), the last ones, since fifo
# reads trust the first leg by design (QEMU's fifo) and never see them.

# shellcheck disable=SC2034 # FM_* settings are read by the cases

FM_JOBS=4
FM_JOB_KB=1024
# the legs of the shape being run (fm_shape): the area fio writes
FM_LEG_MB=0
FM_CELLS=0
FM_FAULTS=0
FM_SEED=1

# fm_bad_legs <kind> <n legs> <n bad>: indexes of the legs to fault
fm_bad_legs() {
	local kind=$1 n=$2 k=$3 i
	case $kind in
	corrupt|drop) for ((i = n - k; i < n; i++)); do echo -n "$i "; done ;;
	*) for ((i = 0; i < k; i++)); do echo -n "$i "; done ;;
	esac
}

# fm_fault_table <kind> <leg>: the leg's table while it is faulty
fm_fault_table() {
	local kind=$1 i=$2 len=$LEG_SECTORS dev=${RAM[$2]}
	case $kind in
	read)	_leg_table_read_error "$i" ;;
	write)	echo "0 $len flakey $dev 0 0 3600 1 error_writes" ;;
	# data goes through, flushes (dm-delay's third device) fail; not on
	# an error target, which has no cache: the block layer would complete
	# the flush before it got there
	flush)	echo "0 $len delay $dev 0 0 $dev 0 0 /dev/mapper/qferr$i 0 0" ;;
	# a different byte per leg, so corrupt legs never agree
	corrupt) echo "0 $len flakey $dev 0 0 3600 5 corrupt_bio_byte 1 r $((i + 1)) 0" ;;
	drop)	echo "0 $len flakey $dev 0 0 3600 1 drop_writes" ;;
	slow)	echo "0 $len delay $dev 0 1000" ;;
	gone)	echo "0 $len error" ;;
	*)	return 1 ;;
	esac
}

# fm_expect <kind> <pattern> <quorum holds: 1|0>
fm_expect() {
	local kind=$1 pattern=$2 holds=$3
	((holds)) && { echo clean; return; }
	case $kind/$pattern in
	write/*|flush/*|gone/*|read/quorum|corrupt/quorum) echo eio ;;
	drop/quorum) echo wrong ;;
	*) echo clean ;;	# fifo reads one good leg; slow legs only slow
	esac
}

# fm_job_kb <kind>: KiB each fio job writes
fm_job_kb() {
	if [[ $1 == slow ]]; then
		echo 128	# every I/O takes a second
	else
		echo $FM_JOB_KB
	fi
}

# fm_faults_load <kind> <legs...>: every bad leg suspended, then loaded
# with its fault, which goes live at fm_faults_resume
fm_faults_load() {
	local kind=$1 i table
	shift
	for i; do
		[[ $kind != flush ]] ||
			dmsetup create "qferr$i" --table \
				"0 $LEG_SECTORS flakey ${RAM[i]} 0 0 3600 1 error_writes" ||
			fail "cannot create qferr$i"
	done
	for i; do
		dmsetup suspend "qleg$i" || fail "suspend qleg$i"
	done
	for i; do
		table=$(fm_fault_table "$kind" "$i") &&
			dmsetup load "qleg$i" --table "$table" ||
			fail "load the $kind fault on qleg$i"
	done
}

fm_faults_resume() {
	local i
	for i; do
		dmsetup resume "qleg$i" || fail "resume qleg$i"
	done
}

# fm_wait_inflight <dm name>: wait until the device has a write in flight,
# up to 30 s; 0 once it has
fm_wait_inflight() {
	local kname i r w
	kname=$(dm_kname "$1") || return 1
	for ((i = 0; i < 600; i++)); do
		read -r r w <"/sys/block/$kname/inflight" || return 1
		((w > 0)) && return 0
		sleep 0.05
	done
	echo "fm_wait_inflight: $1 had no write in flight in 30 s (reads: $r)" >&2
	return 1
}

# fm_fio <out> <kb per job> [fio options...]: the verify workload, 4 jobs
# on their own areas; its exit status
fm_fio() {
	local out=$1 kb=$2
	shift 2
	FM_SEED=$((FM_SEED + 1))
	fio --name=fm --filename=/dev/mapper/q --direct=1 --ioengine=libaio \
		--iodepth=8 --numjobs=$FM_JOBS --size="${kb}k" \
		--offset_increment="${kb}k" --rw=randwrite --bsrange=4k-64k \
		--verify=crc32c --verify_fatal=1 --do_verify=1 \
		--randseed=$((FM_SEED * 7919)) "$@" >"$out" 2>&1
}

# fm_counted <kind> <pattern> <quorum held: 1|0> <leg>: 0 if the leg's
# fault shows in its counters: every I/O that failed on it, with a quorum
# or without; a silent fault where a quorum outvoted it
fm_counted() {
	local kind=$1 pattern=$2 holds=$3 i=$4
	case $kind/$pattern in
	read/*|write/*|flush/*|gone/*)
		(($(leg_stat q "$i" io_errors) > 0)) ;;
	corrupt/quorum|drop/quorum)
		((!holds || $(leg_stat q "$i" mismatches) > 0)) ;;
	*) return 0 ;;	# slow, and silent faults fifo never reads
	esac
}

# fm_check <kind> <quorum held: 1|0> <n legs> <bad legs...>: a check (the
# scrub, which writes nothing) once the legs are back, before the repair,
# which would make them identical whatever they held: a difference among
# the legs that never faulted must show here. Every leg is alive by now.
# The vote must find every leg agreeing (no leg outvoted, no piece without
# a quorum), but for dropped writes, which leave the bad legs with the old
# data: where the quorum held, exactly the bad legs are outvoted, on every
# piece counted; where it did not, the bad legs are the most and agree,
# so exactly the never-faulted ones are, and these are compared directly,
# since being outvoted together does not show that they agree. A leg that
# never faulted may have been outvoted before only in that last case.
fm_check() {
	local kind=$1 holds=$2 n=$3 i found failures m want
	local -a good=() before=() st
	shift 3
	local bad=" $* "
	# one status read before and one after: dmsetup is slow under TCG
	# (status: ... <health> {<io_errors> <mismatches> <rewrites>}x<n>
	# <quorum_failures> <events_merged> <sync_action> <done/total>
	# <mismatches_found> ...)
	read -ra st < <(dmsetup status q) || fail "status"
	[[ ${st[5]} =~ ^A+$ ]] || fail "health before the check: ${st[5]}"
	for ((i = 0; i < n; i++)); do
		before[i]=${st[7 + 3 * i]}
		[[ $bad == *" $i "* ]] && continue
		good+=("$i")
		if ((before[i] > 0)) && [[ $kind != drop || $holds == 1 ]]; then
			fail "leg $i never faulted, but was outvoted: ${st[*]}"
		fi
	done
	failures=${st[6 + 3 * n]}
	quorum_msg q check && wait_sync_idle q || fail "check"
	read -ra st < <(dmsetup status q) || fail "status"
	found=${st[10 + 3 * n]}
	echo "    check before the repair: $found pieces outvoted; ${st[*]:3}"
	((st[6 + 3 * n] == failures)) ||
		fail "check before the repair: pieces without a quorum: ${st[*]}"
	for ((i = 0; i < n; i++)); do
		m=$((st[7 + 3 * i] - before[i]))
		want=0
		if [[ $kind == drop && $bad == *" $i "* ]]; then
			((holds)) && want=$found
		elif [[ $kind == drop ]]; then
			((holds)) || want=$found
		fi
		((m == want)) ||
			fail "check before the repair: leg $i outvoted on $m pieces, want $want: ${st[*]}"
	done
	if [[ $kind == drop ]]; then
		((found > 0)) || fail "check found nothing wrong with drop legs $*"
		((holds || ${#good[@]} < 2)) || legs_identical $((FM_LEG_MB << 20)) "${good[@]}" ||
			fail "the legs that never faulted differ"
	else
		((found == 0)) || fail "check before the repair found $found pieces outvoted"
	fi
}

# fm_recover <kind> <quorum held: 1|0> <n legs> <bad legs...>: take the
# fault away, bring the legs back, check them, repair them
fm_recover() {
	local kind=$1 holds=$2 n=$3 i failures
	shift 3
	if [[ $kind == corrupt ]]; then
		# what fifo reads cannot see, a scrub does: outvoted legs, or
		# no quorum where the bad legs are the most
		failures=$(quorum_failures q)
		quorum_msg q check && wait_sync_idle q || fail "check"
		(($(sync_mismatches q) > 0 || $(quorum_failures q) > failures)) ||
			fail "check found nothing wrong with $kind legs $*"
	fi
	for i; do
		leg_linear "$i"
		dmsetup remove "qferr$i" 2>/dev/null
	done
	# Writes that failed for want of a quorum may have landed on some
	# legs: those blocks differ, reads of them fail, and a resync from
	# legs that differ cannot finish. The application writes again what
	# it was told failed (here: the area fio used).
	if ((!holds)) && [[ $kind == write || $kind == gone ]]; then
		write_pattern /dev/mapper/q 0 $((FM_JOBS * FM_JOB_KB << 10)) 0x00 ||
			fail "write the failed area again"
	fi
	reinstate_dead q || fail "reinstate the dead legs"
	fm_check "$kind" "$holds" "$n" "$@"
	quorum_msg q repair && wait_sync_idle q || fail "repair"
	[[ $(health q) =~ ^A+$ ]] || fail "health after recovery: $(health q)"
}

# fm_cell <kind> <threshold> <n legs> <n bad> <pattern>
fm_cell() {
	local kind=$1 t=$2 n=$3 k=$4 pattern=$5 holds=0 want got i start fio_start
	local -a bad opts=() fio_opts=()
	local out=/tmp/fm-$kind-$t-$n-$k-$pattern.out kb
	kb=$(fm_job_kb "$kind")
	read -ra bad <<<"$(fm_bad_legs "$kind" "$n" "$k")"
	((k <= n - t)) && holds=1
	want=$(fm_expect "$kind" "$pattern" $holds)
	[[ $pattern == fifo ]] && opts=(read_pattern fifo)
	[[ $kind == flush ]] && fio_opts+=(--fsync=4)
	start=$EPOCHREALTIME

	quorum_create q "$t" "$n" "${opts[@]}" >/dev/null || fail "create $t-of-$n"
	# fio's verify passes a block another fio run wrote there (its header
	# and checksum are right), so a dropped write could go unseen: zero
	write_pattern /dev/mapper/q 0 $((FM_JOBS * kb << 10)) 0x00 || fail "zero"
	fm_faults_load "$kind" "${bad[@]}"
	fio_start=$EPOCHREALTIME
	fm_fio "$out" "$kb" "${fio_opts[@]}" &
	local fio=$!
	# fio's first writes wait for the suspended bad legs: they are in
	# flight when the fault goes live
	fm_wait_inflight q || { fm_faults_resume "${bad[@]}"; fail "fio did not start"; }
	fm_faults_resume "${bad[@]}"
	wait $fio
	got=$(fio_outcome "$out")
	if [[ $got != "$want" ]]; then
		cat "$out"
		dmsetup status q
		fail "$kind on legs ${bad[*]} of $t-of-$n, $pattern: fio saw $got, want $want"
	fi
	for i in "${bad[@]}"; do
		fm_counted "$kind" "$pattern" $holds "$i" ||
			fail "$kind on leg $i not counted: $(dmsetup status q)"
	done
	# no counter tells a slow leg: each of fio's writes waited a second
	# for it, and so did fio
	if [[ $kind == slow ]]; then
		awk -v a="$fio_start" -v b="$EPOCHREALTIME" 'BEGIN { exit !(b - a >= 1) }' ||
			fail "fio ran in less than the second a slow leg takes"
	fi
	echo "  $kind ${t}-of-$n bad=${bad[*]} $pattern: $got; $(dmsetup status q | cut -d' ' -f4-)"

	fm_recover "$kind" $holds "$n" "${bad[@]}"
	legs_identical $((FM_LEG_MB << 20)) $(seq 0 $((n - 1))) ||
		fail "legs differ after recovery"
	fm_fio "$out" $((kb / 2)) || { cat "$out"; fail "fio after recovery"; }
	[[ $(fio_outcome "$out") == clean ]] || { cat "$out"; fail "fio after recovery"; }
	quorum_remove q || fail "remove"
	FM_CELLS=$((FM_CELLS + 1))
	FM_FAULTS=$((FM_FAULTS + k))
	awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "    (%.1f s)\n", b - a }'
}

# fm_shape <kind> <threshold> <n legs> [patterns]: the cells of one shape,
# on legs as large as the area fio writes (1 MiB at least)
fm_shape() {
	local kind=$1 t=$2 n=$3 patterns=${4:-quorum fifo} k pattern
	FM_LEG_MB=$(((FM_JOBS * $(fm_job_kb "$kind") + 1023) >> 10))
	if [[ $kind == flush ]]; then
		legs_create_loop "$n" $FM_LEG_MB	# brd has no cache to flush
	else
		legs_create "$n" $FM_LEG_MB
	fi
	for pattern in $patterns; do
		for k in $(printf '%s\n' 1 $((n - t)) $((n - t + 1)) | sort -un); do
			fm_cell "$kind" "$t" "$n" "$k" "$pattern"
		done
	done
}

# fm_run <kind>: the matrix for one fault kind, one shape per kernel so
# that make check stays in CI's time: 3-of-5 on 6.1, 2-of-3 on 6.12. Each
# make check so runs every cell once; the shapes differ only in
# dm-quorum's counting, which is the same code on every kernel. The debug
# kernel (slow under KASAN) runs the two 2-of-3 cells of quorum reads:
# one bad leg, and two, with and without a quorum.
fm_run() {
	cd /tmp || fail "cd"
	if debug_kernel; then
		fm_shape "$1" 2 3 quorum
	elif kernel_6_1; then
		fm_shape "$1" 3 5
	else
		fm_shape "$1" 2 3
	fi
	echo "$1: $FM_CELLS cells, $FM_FAULTS legs faulted"
	pass
}
