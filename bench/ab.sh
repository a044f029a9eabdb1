#!/usr/bin/env bash
# bench/ab.sh: two builds of esmeload against each other, alternately, on
# the same machine in the same minutes, so that the machine's drift falls
# on both: bench/hold.sh (tester CPU per message, tester memory per
# participant) in PAIRS pairs, then bench/serve.sh (serve's messages per
# CPU-second, serve's memory per idle connection) in SERVE_PAIRS pairs, new
# first in each. Prints every figure and the medians' ratios new/old.
#
#   OLD=/path/to/old/esmeload NEW=build/esmeload bench/ab.sh
#
# Environment (defaults in brackets): PAIRS [3], N [2000], SMI [100],
# HOLD [20] (bench/hold.sh's), SERVE [1] (0 skips bench/serve.sh),
# SERVE_PAIRS [3], SERVE_RUNS [3] (serve.sh's RUNS, whose median is one
# pair's figure). PAIRS=0 skips hold.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
OLD=${OLD:?OLD=path of the old build\'s esmeload}
NEW=${NEW:-build/esmeload}
PAIRS=${PAIRS:-3}
N=${N:-2000}
SMI=${SMI:-100}
HOLD=${HOLD:-20}
SERVE=${SERVE:-1}
SERVE_RUNS=${SERVE_RUNS:-3}
SERVE_PAIRS=${SERVE_PAIRS:-3}
case $NEW in /*) ;; *) NEW=$PWD/$NEW ;; esac
case $OLD in /*) ;; *) OLD=$PWD/$OLD ;; esac
[ -x "$OLD" ] && [ -x "$NEW" ] || { echo "ab.sh: OLD and NEW must be executables" >&2; exit 2; }

median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

hold() {  # build -> "cpu_us mem_B"
	local out
	out=$(ESMELOAD=$1 N=$N SMI=$SMI HOLD=$HOLD bench/hold.sh)
	echo "$out" | sed 's/^/    /' >&2
	echo "$(echo "$out" | awk '/tester cpu per message/ { print $5 }') $(echo "$out" | awk '/user memory per participant/ { print $6 }')"
}

cpu_new=() cpu_old=() mem_new=() mem_old=()
for i in $(seq "$PAIRS"); do
	for which in new old; do
		b=$NEW; [ $which = old ] && b=$OLD
		echo "pair $i, $which ($b):" >&2
		read -r c m < <(hold "$b")
		echo "hold pair $i $which: cpu_per_msg_us $c mem_per_participant_B $m"
		if [ $which = new ]; then cpu_new+=("$c"); mem_new+=("$m"); else cpu_old+=("$c"); mem_old+=("$m"); fi
	done
done
if [ "$PAIRS" -gt 0 ]; then
cn=$(printf '%s\n' "${cpu_new[@]}" | median)
co=$(printf '%s\n' "${cpu_old[@]}" | median)
mn=$(printf '%s\n' "${mem_new[@]}" | median)
mo=$(printf '%s\n' "${mem_old[@]}" | median)
echo "hold medians: cpu_per_msg_us new $cn old $co; mem_per_participant_B new $mn old $mo"
awk -v a="$cn" -v b="$co" 'BEGIN { printf "ratio cpu_per_msg new/old: %.3f\n", a / b }'
awk -v a="$mn" -v b="$mo" 'BEGIN { printf "ratio mem_per_participant new/old: %.3f\n", a / b }'
fi

[ "$SERVE" = 1 ] || exit 0
serve() {  # build -> "msgs_per_cpu_s bytes_per_idle_conn"
	local out
	out=$(ESMELOAD=$1 RUNS=$SERVE_RUNS bench/serve.sh)
	echo "$out" | sed 's/^/    /' >&2
	echo "$(echo "$out" | awk '/^serve msgs_per_s_one_core:/ { print $3 }') $(echo "$out" | awk '/^serve bytes_per_idle_ws_conn:/ { print $3 }')"
}
sv_new=() sv_old=()
for i in $(seq "$SERVE_PAIRS"); do
	read -r sn bn < <(serve "$NEW")
	echo "serve pair $i new: msgs_per_cpu_s $sn bytes_per_idle_conn $bn"
	read -r so bo < <(serve "$OLD")
	echo "serve pair $i old: msgs_per_cpu_s $so bytes_per_idle_conn $bo"
	sv_new+=("$sn")
	sv_old+=("$so")
done
sn=$(printf '%s\n' "${sv_new[@]}" | median)
so=$(printf '%s\n' "${sv_old[@]}" | median)
echo "serve medians: msgs_per_cpu_s new $sn old $so"
awk -v a="$sn" -v b="$so" 'BEGIN { printf "ratio serve msgs_per_cpu_s new/old: %.3f\n", a / b }'
