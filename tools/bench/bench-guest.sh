#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# bench-guest.sh <dm-quorum.ko> <results dir> [<compare-bench>]
#
# Runs inside the bench VM (tools/bench/run-bench.sh boots it). Builds
# every stack in turn on the same three brd legs and runs the same fio
# jobs against each, writing raw results to <results>/raw/:
#   <stack>.<workload>.<rep>.json   fio JSON output
#   qemu.<workload>.<rep>.txt       qemu-img bench output (+ count, bs)
#   mem.<stack>.tsv                 /proc/meminfo samples under 1M QD64 reads
# and what was run to <results>/runs.tsv (stack, workload, rep, file);
# compare-bench's timings, when given, to <results>/compare.tsv.
#
# Environment: BENCH_RUNTIME (s per job, default 4), BENCH_REPEAT (default
# 3), BENCH_LEG_MB (default 256), BENCH_STACKS (default: all), BENCH_LEGS
# (brd, the default: the stacks use the ramdisks; nbd: each ramdisk is
# served by qemu-nbd in the guest and the stacks use /dev/nbd0-2, legs
# whose reads cost a round trip through a socket, as remote legs do).
set -euo pipefail

KO=$1
OUT=$2
COMPARE_BENCH=${3:-}
# boot.sh passes the host's BENCH_* settings on as QUORUM_BENCH_*
RUNTIME=${QUORUM_BENCH_RUNTIME:-4}
REPEAT=${QUORUM_BENCH_REPEAT:-3}
LEG_MB=${QUORUM_BENCH_LEG_MB:-256}
STACKS=${QUORUM_BENCH_STACKS:-linear mirror raid1 quorum fifo quorum3 bound bound1 qemu corrupt repaired quorum-md quorum-md8 raid1-bitmap mirror-disklog}
LEG_KIND=${QUORUM_BENCH_LEGS:-brd}
SECTORS=$((LEG_MB * 2048))
# The ramdisks hold the data; the stacks are built on LEGS. Filling,
# syncing and corrupting go to the ramdisks directly, which is the same
# data either way and faster than through NBD.
RAMS=(/dev/ram0 /dev/ram1 /dev/ram2)
case $LEG_KIND in
brd) LEGS=("${RAMS[@]}") ;;
nbd) LEGS=(/dev/nbd0 /dev/nbd1 /dev/nbd2) ;;
*) echo "bench-guest: BENCH_LEGS is brd or nbd, not $LEG_KIND" >&2; exit 1 ;;
esac
RAW=$OUT/raw

# name rw bs depth
WORKLOADS=(
	"randwrite-4k-qd1 randwrite 4k 1"
	"randwrite-4k-qd32 randwrite 4k 32"
	"randread-4k-qd1 randread 4k 1"
	"randread-4k-qd32 randread 4k 32"
	"write-1m-qd8 write 1m 8"
	"read-1m-qd8 read 1m 8"
)

log() {
	echo "[bench $(date +%T)] $*"
}

die() {
	log "FATAL: $*"
	exit 1
}

setup() {
	modprobe dm-mod
	modprobe dm-mirror
	modprobe dm-raid
	modprobe brd rd_nr=3 rd_size=$((LEG_MB * 1024))
	# insmod does not load what the module needs: modinfo names it
	local deps
	IFS=, read -ra deps <<<"$(modinfo -F depends "$KO")"
	modprobe -a "${deps[@]}"
	insmod "$KO"
	[[ $LEG_KIND == nbd ]] && nbd_connect
	mkdir -p "$RAW"
	: >"$OUT/runs.tsv"
	{
		echo "kernel	$(uname -r)"
		echo "cpus	$(nproc)"
		echo "runtime	$RUNTIME"
		echo "repeat	$REPEAT"
		echo "leg_mb	$LEG_MB"
		echo "legs	$LEG_KIND"
		echo "fio	$(fio --version)"
		echo "qemu	$(qemu-img --version | head -n1)"
	} >"$OUT/env.tsv"
}

# Serve each ramdisk with qemu-nbd (O_DIRECT, native AIO: it adds no
# cache of its own) and wait until the kernel sees every export's size.
nbd_connect() {
	local i
	modprobe nbd nbds_max=3
	for i in 0 1 2; do
		qemu-nbd -c "${LEGS[i]}" -f raw --cache=none --aio=native \
			"${RAMS[i]}"
	done
	for i in 0 1 2; do
		timeout 10 sh -c "until [ \"\$(blockdev --getsz ${LEGS[i]})\" = $SECTORS ]; do sleep 0.1; done" ||
			die "${LEGS[i]} did not come up"
	done
}

nbd_disconnect() {
	local leg
	for leg in "${LEGS[@]}"; do
		qemu-nbd -d "$leg" >/dev/null
	done
}

# Random (incompressible, non-zero) data on leg 0, copied to the others:
# quorum reads compare real bytes, and brd's never-written pages (read
# as zeroes without a copy) would flatter every stack.
fill_legs() {
	log "filling legs"
	fio --name=fill --filename="${RAMS[0]}" --rw=write --bs=1m --direct=1 \
		--ioengine=libaio --iodepth=4 --size="${LEG_MB}m" --eta=never \
		--output=/dev/null
	sync_legs
}

# Leg 0 is the reference: the single-disk stack writes only to it.
sync_legs() {
	local leg
	for leg in "${RAMS[@]:1}"; do
		dd if="${RAMS[0]}" of="$leg" bs=1M iflag=direct oflag=direct \
			status=none
	done
}

# Corrupt leg 2 entirely: a quorum read then always votes.
corrupt_leg() {
	fio --name=corrupt --filename="${RAMS[2]}" --rw=write --bs=1m \
		--direct=1 --ioengine=libaio --iodepth=4 --size="${LEG_MB}m" \
		--buffer_pattern=0x5a --eta=never --output=/dev/null
}

# meta_len <region sectors>: the device's length with metadata internal
# on the legs (Documentation/dm-quorum.rst, "On-disk format")
meta_len() {
	local leg=$((SECTORS / 8 * 8)) region=$1 regions blocks
	regions=$(((leg + region - 1) / region))
	blocks=$(((regions + 32767) / 32768))
	echo $((leg - 8 * (2 + 17 * blocks)))
}

# The stacks with their own metadata keep it off the data: each leg is
# cut into data (the first MDSECTORS) and a 4 MiB metadata part, as
# dm-linear devices bdata<i> and bmeta<i>.
MDSECTORS=$((SECTORS - 8192))
split_legs() {
	local i
	for i in 0 1 2; do
		dmsetup create "bdata$i" --table "0 $MDSECTORS linear ${LEGS[i]} 0"
		dmsetup create "bmeta$i" --table "0 8192 linear ${LEGS[i]} $MDSECTORS"
		# a fresh log or superblock every time
		dd if=/dev/zero of="/dev/mapper/bmeta$i" bs=1M count=4 oflag=direct \
			status=none
	done
}

join_legs() {
	local i
	for i in 0 1 2; do
		dmsetup remove --retry "bdata$i" "bmeta$i"
	done
}

table_of() {
	local legs="${LEGS[*]}" m=/dev/mapper
	case $1 in
	linear) echo "0 $SECTORS linear ${LEGS[0]} 0" ;;
	mirror) echo "0 $SECTORS mirror core 2 1024 nosync 3 ${LEGS[0]} 0 ${LEGS[1]} 0 ${LEGS[2]} 0 1 handle_errors" ;;
	raid1) echo "0 $SECTORS raid raid1 4 0 nosync region_size 1024 3 - ${LEGS[0]} - ${LEGS[1]} - ${LEGS[2]}" ;;
	quorum | quorum3 | corrupt) echo "0 $SECTORS quorum 2 3 $legs" ;;
	fifo) echo "0 $SECTORS quorum 2 3 $legs 2 read_pattern fifo" ;;
	repaired) echo "0 $SECTORS quorum 2 3 $legs 1 rewrite_corrupted" ;;
	quorum-md) echo "0 $(meta_len 2048) quorum 2 3 $legs 2 metadata internal" ;;
	quorum-md8) echo "0 $(meta_len 8) quorum 2 3 $legs 4 region_size 8 metadata internal" ;;
	raid1-bitmap) echo "0 $MDSECTORS raid raid1 4 0 nosync region_size 1024 3 $m/bmeta0 $m/bdata0 $m/bmeta1 $m/bdata1 $m/bmeta2 $m/bdata2" ;;
	mirror-disklog) echo "0 $MDSECTORS mirror disk 3 $m/bmeta0 1024 nosync 3 $m/bdata0 0 $m/bdata1 0 $m/bdata2 0 1 handle_errors" ;;
	esac
}

# Which workloads each stack runs (the bound is for quorum reads only;
# the corrupt-leg runs are the vote path the issue asks for).
workloads_of() {
	case $1 in
	bound | bound1 | quorum3) printf '%s\n' "${WORKLOADS[@]}" | grep read ;;
	corrupt | repaired) printf '%s\n' "${WORKLOADS[@]}" | grep randread-4k-qd32 ;;
	# the metadata's cost: small random writes, where it shows
	quorum-md | quorum-md8 | raid1-bitmap | mirror-disklog)
		printf '%s\n' "${WORKLOADS[@]}" | grep randwrite-4k ;;
	*) printf '%s\n' "${WORKLOADS[@]}" ;;
	esac
}

record() {
	printf '%s\t%s\t%s\t%s\n' "$@" >>"$OUT/runs.tsv"
}

# fio_job <out.json> <rw> <bs> <depth> <files...>: one job per file group.
fio_common() {
	echo --ioengine=libaio --direct=1 --time_based --runtime="$RUNTIME" \
		--norandommap --randrepeat=0 --eta=never --output-format=json
}

run_fio() {
	local out=$1 rw=$2 bs=$3 depth=$4 dev=$5
	# shellcheck disable=SC2046 # fio_common is a word list
	fio $(fio_common) --output="$out" --name=job --filename="$dev" \
		--rw="$rw" --bs="$bs" --iodepth="$depth" --size="${LEG_MB}m"
}

# The 3-leg bound: one fio job per leg at once, the depth split evenly,
# so every leg is read at the rate the hardware allows in parallel.
run_bound() {
	local out=$1 rw=$2 bs=$3 depth=$4 leg
	local per=$(((depth + 2) / 3))
	local -a jobs=()
	for leg in "${LEGS[@]}"; do
		jobs+=(--name="${leg##*/}" --filename="$leg" --rw="$rw" --bs="$bs"
			--iodepth="$per" --size="${LEG_MB}m")
	done
	# shellcheck disable=SC2046
	fio $(fio_common) --group_reporting --output="$out" "${jobs[@]}"
}

# Quorum reads in the bound's shape: 3 jobs, the depth split evenly.
run_quorum3() {
	local out=$1 rw=$2 bs=$3 depth=$4 dev=$5
	# shellcheck disable=SC2046
	fio $(fio_common) --group_reporting --output="$out" --name=job \
		--filename="$dev" --numjobs=3 --rw="$rw" --bs="$bs" \
		--iodepth=$(((depth + 2) / 3)) --size="${LEG_MB}m"
}

# The same from one submitting thread: one job reading the 3 legs in
# turn at the full depth (what one quorum-read submitter can do at best).
run_bound1() {
	local out=$1 rw=$2 bs=$3 depth=$4
	local files
	files=$(IFS=:; echo "${LEGS[*]}")
	# shellcheck disable=SC2046
	fio $(fio_common) --output="$out" --name=job --filename="$files" \
		--file_service_type=roundrobin --rw="$rw" --bs="$bs" \
		--iodepth="$depth" --size="${LEG_MB}m"
}

qemu_opts() {
	local i opts="driver=quorum,vote-threshold=2"
	for i in 0 1 2; do
		opts+=",children.$i.driver=raw,children.$i.file.driver=host_device"
		opts+=",children.$i.file.filename=${LEGS[i]},children.$i.file.aio=native"
		opts+=",children.$i.file.cache.direct=on"
	done
	echo "$opts"
}

# qemu-img bench runs a count, not a time: calibrate the count on a short
# run so each repeat lasts about RUNTIME seconds. It is sequential with a
# step; random 4k jobs step by a large odd number of blocks, which visits
# the whole leg in scattered order.
qemu_count() {
	local rw=$1 bs=$2 depth=$3 n t
	n=$([[ $bs == 4k ]] && echo 2000 || echo 100)
	t=$(qemu_bench "$rw" "$bs" "$depth" "$n" | sed -n 's/^Run completed in \([0-9.]*\) seconds.*/\1/p')
	awk -v n="$n" -v t="$t" -v r="$RUNTIME" 'BEGIN { c = int(n * r / (t > 0.01 ? t : 0.01)); print (c < n ? n : c) }'
}

qemu_bench() {
	local rw=$1 bs=$2 depth=$3 count=$4 step=4096 size
	local -a args=(-c "$count" -d "$depth" -s "$bs" -t none -n)
	[[ $bs == 1m ]] && step=1048576
	[[ $rw == rand* ]] && step=$((4096 * 7919))
	[[ $rw == *write ]] && args+=(-w)
	size=$((LEG_MB * 1048576))
	# qemu-img bench wraps at the image end; keep the step inside it
	args+=(-S "$((step % size))")
	qemu-img bench --image-opts "${args[@]}" "$(qemu_opts)"
}

run_qemu() {
	local wl=$1 rep=$2 name rw bs depth count file
	read -r name rw bs depth <<<"$wl"
	count=${QCOUNT[$name]:-}
	if [[ -z $count ]]; then
		count=$(qemu_count "$rw" "$bs" "$depth")
		QCOUNT[$name]=$count
	fi
	file=$RAW/qemu.$name.$rep.txt
	{
		echo "count $count"
		echo "bs $bs"
		qemu_bench "$rw" "$bs" "$depth" "$count"
	} >"$file" 2>&1
	record qemu "$name" "$rep" "${file##*/}"
}

# Sample the guest's memory every 0.2 s while 1M reads run at QD64: the
# module's reserve and read buffers show as used memory over the idle
# baseline taken before the job.
run_mem() {
	local stack=$1 dev=$2 out=$RAW/mem.$1.tsv pid
	grep -E '^(MemFree|Slab|SUnreclaim):' /proc/meminfo |
		awk '{ printf "%s%s", (NR > 1 ? "\t" : "idle\t"), $2 } END { print "" }' >"$out"
	run_fio "$RAW/mem.$stack.json" read 1m 64 "$dev" &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		grep -E '^(MemFree|Slab|SUnreclaim):' /proc/meminfo |
			awk '{ printf "%s%s", (NR > 1 ? "\t" : "busy\t"), $2 } END { print "" }' >>"$out"
		sleep 0.2
	done
	wait "$pid"
	# what dm-quorum's read buffers hold afterwards (status, last field)
	if [[ $stack == quorum ]]; then
		dmsetup status bench | awk '{ print "buffers\t" $NF }' >>"$out"
	fi
}

# A new array each time: sync_legs copies leg 0 whole, superblock too,
# and legs holding one leg's superblock are refused (the same leg twice).
wipe_meta() {
	local leg
	for leg in "${RAMS[@]}"; do
		dd if=/dev/zero of="$leg" bs=1M seek=$((LEG_MB - 8)) count=8 \
			oflag=direct status=none
	done
}

create() {
	case $1 in
	raid1-bitmap | mirror-disklog) split_legs ;;
	quorum-md*) wipe_meta ;;
	esac
	dmsetup create bench --table "$(table_of "$1")"
	udevadm settle 2>/dev/null || true
}

remove() {
	dmsetup remove --retry bench
	if dmsetup info bdata0 >/dev/null 2>&1; then
		join_legs
	fi
}

# md_writes: dm-quorum's metadata blocks written so far, all legs (the
# status field three before the sync state)
md_writes() {
	dmsetup status bench | awk '{ print $(NF - 4) }'
}

run_stack() {
	local stack=$1 rep=$2 wl name rw bs depth file dev=/dev/mapper/bench
	case $stack in
	quorum | quorum3 | fifo | mirror | raid1 | quorum-md* | raid1-bitmap | \
		mirror-disklog) sync_legs ;;
	corrupt) sync_legs; corrupt_leg ;;
	repaired)
		sync_legs
		corrupt_leg
		create repaired
		local t0=$EPOCHREALTIME
		dmsetup message bench 0 repair
		while ! dmsetup status bench | grep -q ' idle '; do sleep 0.2; done
		log "repair pass: $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"
		remove
		;;
	esac
	if [[ $stack == qemu ]]; then
		sync_legs
		while read -r wl; do
			run_qemu "$wl" "$rep"
		done < <(workloads_of qemu)
		return
	fi
	[[ $stack == bound* ]] || create "$stack"
	while read -r name rw bs depth; do
		file=$RAW/$stack.$name.$rep.json
		case $stack in
		bound) run_bound "$file" "$rw" "$bs" "$depth" ;;
		bound1) run_bound1 "$file" "$rw" "$bs" "$depth" ;;
		quorum3) run_quorum3 "$file" "$rw" "$bs" "$depth" "$dev" ;;
		quorum-md*)
			# metadata writes per data write: the status counter
			# around the job, next to fio's count of writes
			local w0
			w0=$(md_writes)
			run_fio "$file" "$rw" "$bs" "$depth" "$dev"
			echo $(($(md_writes) - w0)) >"${file%.json}.mdw"
			;;
		*) run_fio "$file" "$rw" "$bs" "$depth" "$dev" ;;
		esac
		record "$stack" "$name" "$rep" "${file##*/}"
	done < <(workloads_of "$stack")
	if ((rep == 1)) && [[ $stack == linear || $stack == quorum ]]; then
		run_mem "$stack" "$dev"
	fi
	[[ $stack == bound* ]] || remove
}

main() {
	local rep stack
	declare -gA QCOUNT=()
	setup
	if [[ -n $COMPARE_BENCH ]]; then
		log "compare-bench"
		"$COMPARE_BENCH" 5 >"$OUT/compare.tsv"
	fi
	fill_legs
	# Repeats are the outer loop: slow drifts of a noisy host then spread
	# over every stack instead of favouring one.
	for ((rep = 1; rep <= REPEAT; rep++)); do
		for stack in $STACKS; do
			log "rep $rep/$REPEAT: $stack"
			run_stack "$stack" "$rep"
		done
	done
	[[ $LEG_KIND == nbd ]] && nbd_disconnect
	log "done"
}

main "$@"
