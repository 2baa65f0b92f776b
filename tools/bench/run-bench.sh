#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# run-bench.sh: `make bench`. Builds dm-quorum for one kernel (KVER, the
# 6.1 LTS by default), boots it in the test VM and runs
# tools/bench/bench-guest.sh, which measures dm-linear, dm-mirror, md
# raid1 (dm-raid), dm-quorum (quorum and fifo reads) and QEMU's quorum
# driver on the same three brd legs in one boot. Then report.py turns the
# raw results into report.md, summary.json and a chart.
#
# Results: results/bench-<date>/ (results/bench-latest links to it).
# Environment: KVER, BENCH_RUNTIME, BENCH_REPEAT, BENCH_LEG_MB, BENCH_STACKS,
# BENCH_LEGS
# (see bench-guest.sh), QUORUM_VM_MEM (MiB, default here 3072).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)

kver=${KVER:-$("$REPO/scripts/kernels.sh" lts | awk 'NR == 1')}
[[ -n "$kver" ]] || { echo "run-bench: no kernel to run on" >&2; exit 1; }
make -C "$REPO" --no-print-directory modules KVER="$kver"
# compare-bench: the module's compare, built as the kernel builds it
# (no vector registers), timed in the guest against copying the legs
tools=$REPO/build/tools
mkdir -p "$tools"
cc -std=gnu11 -O2 -mgeneral-regs-only -Wall -Wextra -Werror -I"$REPO" \
	-c -o "$tools/dm-quorum-compare.o" "$REPO/dm-quorum-compare.c"
cc -std=gnu11 -O2 -Wall -Wextra -Werror -I"$REPO" -o "$tools/compare-bench" \
	"$HERE/compare-bench.c" "$tools/dm-quorum-compare.o"

out=$REPO/results/bench-$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"
ln -sfn "${out##*/}" "$REPO/results/bench-latest"
export QUORUM_VM_MEM=${QUORUM_VM_MEM:-3072}
for v in BENCH_RUNTIME BENCH_REPEAT BENCH_LEG_MB BENCH_STACKS BENCH_LEGS; do
	[[ -z "${!v:-}" ]] || export "QUORUM_$v=${!v}"
done

echo "run-bench: kernel $kver, results in $out"
start=$SECONDS
rc=0
# NBD legs are slower under TCG: the same jobs take longer to set up
timeout=1500
[[ ${BENCH_LEGS:-brd} == nbd ]] && timeout=2700
"$REPO/tests/vm/boot.sh" --kver "$kver" --results "$out" --timeout "$timeout" -- \
	"$HERE/bench-guest.sh" "$REPO/build/$kver/dm-quorum.ko" "$out" \
	"$tools/compare-bench" || rc=$?
echo "run-bench: guest finished in $((SECONDS - start)) s (rc $rc)"
if "$REPO/tests/vm/check-klog" "$out/console.log"; then
	:
else
	echo "run-bench: the kernel log shows a problem (see $out/console.log)" >&2
	rc=1
fi
((rc == 0)) || exit "$rc"
python3 "$HERE/report.py" "$out"
echo "run-bench: $out/report.md"
