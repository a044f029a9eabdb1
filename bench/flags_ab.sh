#!/usr/bin/env bash
# bench/flags_ab.sh: one build of esmeload with two sets of flags, A and B,
# alternately (A first in each pair) in bench/hold.sh, so that the
# machine's drift falls on both. Prints each run's tester CPU per message
# and timing, the medians, and the ratio B/A.
#
#   A="" B="--uring-off ring_fd" bench/flags_ab.sh
#   A="" B="--wake-grain 1ms" PAIRS=5 bench/flags_ab.sh
#
# Environment (defaults in brackets): A [""], B [""], PAIRS [3], N [1000],
# SMI [100], HOLD [15], ESMELOAD [build/esmeload].
set -euo pipefail
cd "$(dirname "$0")/.."
A=${A:-}
B=${B:-}
PAIRS=${PAIRS:-3}
N=${N:-1000}
SMI=${SMI:-100}
HOLD=${HOLD:-15}
ESMELOAD=${ESMELOAD:-build/esmeload}
[ -x "$ESMELOAD" ] || make -s build/esmeload

median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

cpu_a=() cpu_b=()
for i in $(seq "$PAIRS"); do
	for which in A B; do
		flags=$A; [ $which = B ] && flags=$B
		out=$(ESMELOAD=$ESMELOAD N=$N SMI=$SMI HOLD=$HOLD MEM=0 EXTRA="$flags" bench/hold.sh)
		c=$(echo "$out" | awk '/tester cpu per message/ { print $5 }')
		t=$(echo "$out" | grep '^send lag' || true)
		echo "pair $i $which [$flags]: cpu_per_msg_us $c; $t"
		if [ $which = A ]; then cpu_a+=("$c"); else cpu_b+=("$c"); fi
	done
done
ma=$(printf '%s\n' "${cpu_a[@]}" | median)
mb=$(printf '%s\n' "${cpu_b[@]}" | median)
echo "medians: cpu_per_msg_us A [$A] $ma, B [$B] $mb"
awk -v a="$ma" -v b="$mb" 'BEGIN { printf "ratio cpu_per_msg B/A: %.3f\n", b / a }'
