#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make demo: build dm-quorum for one LTS kernel (the 6.1 one unless KVER is
# set), boot it in a VM and run the guided tour in demo-guest.sh there.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
cd "$REPO"

kver=${KVER:-$(scripts/kernels.sh lts | sed -n 1p)}
[ -n "$kver" ] || { echo "no LTS kernel installed: run scripts/install-deps.sh" >&2; exit 1; }
make --no-print-directory -s modules KVER="$kver"

results=$REPO/results/demo-$(date +%Y%m%d-%H%M%S)
mkdir -p "$results"
echo "Booting Debian kernel $kver in QEMU (log in ${results#"$REPO"/}) ..."
exec tests/vm/boot.sh --kver "$kver" --results "$results" -- \
	"$REPO/tools/demo/demo-guest.sh" "$REPO/build/$kver/dm-quorum.ko"
