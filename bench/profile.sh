#!/usr/bin/env bash
# bench/profile.sh: where esmeload run spends its CPU, by function, in the
# thesis's own scenario (a crowd that keeps growing: -sci 1 -cpi 20
# -smi 100) or any other flags, against a fresh serve; and its CPU per
# message in the profiled window.
#
#   bench/profile.sh                          the thesis scenario, 30 s,
#                                             profiled over seconds 16-29
#   FLAGS="-sci 1 -cpi 2 -smi 100 --max-participants 1000" bench/profile.sh
#
# serve on SERVE_CPU [0], esmeload on TESTER_CPU [1]; perf samples the
# tester's threads on cpu-clock at FREQ [999] Hz (software clock: it works
# where the hardware counters are not exposed), kernel and user, without
# call graphs (the shares by symbol are what is read). Prints the top TOP
# [30] symbols, the kernel's and esmeload's shares, and the window's
# messages and tester CPU per message (utime+stime over the window / the
# messages its time series counted in it).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
FLAGS=${FLAGS:-"-sci 1 -cpi 20 -smi 100"}
DURATION=${DURATION:-30}
FROM=${FROM:-16}
TO=${TO:-29}
FREQ=${FREQ:-999}
TOP=${TOP:-30}
SERVE_CPU=${SERVE_CPU:-0}
TESTER_CPU=${TESTER_CPU:-1}
ESMELOAD=${ESMELOAD:-build/esmeload}
case $ESMELOAD in /*) ;; *) ESMELOAD=$top/$ESMELOAD ;; esac
[ -x "$ESMELOAD" ] || make -s build/esmeload
command -v perf >/dev/null || { echo "profile.sh: needs perf (Debian's linux-perf)" >&2; exit 2; }
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

taskset -c "$SERVE_CPU" "$ESMELOAD" serve --organizer-port 0 --participant-port 0 \
	--messenger-port 0 --write-config "$tmp/config.json" --max-conns 20000 \
	--quiet >"$tmp/serve.out" 2>&1 &
pids+=($!)
for _ in $(seq 200); do [ -s "$tmp/config.json" ] && break; sleep 0.05; done
[ -s "$tmp/config.json" ] || { echo "profile.sh: serve did not start" >&2; exit 1; }

# shellcheck disable=SC2086
( cd "$tmp" && exec taskset -c "$TESTER_CPU" "$ESMELOAD" run --config config.json $FLAGS \
	--duration "${DURATION}s" --quiet >run.out 2>run.err ) &
rp=$!
pids+=($rp)
sleep "$FROM"
t0=$(awk '{ print $14 + $15 }' /proc/$rp/stat)
# perf may take a while to write its file after its window: the window's
# CPU time is read here, at TO, not after perf returns.
perf record -q -e cpu-clock -F "$FREQ" -p "$rp" -o "$tmp/perf.data" -- sleep $(( TO - FROM )) \
	>/dev/null 2>&1 &
pp=$!
sleep $(( TO - FROM ))
t1=$(awk '{ print $14 + $15 }' /proc/$rp/stat)
wait "$pp" || true
wait "$rp" || { echo "profile.sh: esmeload failed:" >&2; cat "$tmp/run.err" >&2; exit 1; }
ts=$(ls "$tmp"/*_performance_test_timeseries.jsonl)
msgs=$(python3 -c '
import json, sys
lo, hi = float(sys.argv[2]), float(sys.argv[3]); n = 0
for line in open(sys.argv[1]):
    try: j = json.loads(line)
    except ValueError: continue
    if lo < j["elapsed_s"] <= hi: n += j["sent"]
print(n)' "$ts" "$FROM" "$TO")
hz=$(getconf CLK_TCK)
summ=$(ls "$tmp"/*_performance_test_summary.json)
python3 - "$summ" "$msgs" "$(( t1 - t0 ))" "$hz" "$FROM" "$TO" "$FLAGS" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
msgs, ticks, hz = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
print("flags: %s; window %s-%s s" % (sys.argv[7], sys.argv[5], sys.argv[6]))
print("participants %d, chats %d, sent %d, delivered %d, errors %d" % (
    s["created_participants_count"], s["chats_count"], s["esmeload"]["sent"],
    s["esmeload"]["delivered"], sum(s["esmeload"]["errors"].values())))
print("window: %d messages, tester CPU %.2f s -> %.1f us per message" % (
    msgs, ticks / hz, ticks / hz * 1e6 / max(msgs, 1)))
EOF
perf report -i "$tmp/perf.data" --no-children --sort sym --stdio 2>/dev/null |
	awk '/^ +[0-9.]+%/ { print }' >"$tmp/syms"
awk '{ s = $1; sub("%", "", s); if ($2 == "[k]") k += s; else u += s }
     END { printf "kernel %.1f %%, esmeload and libraries %.1f %%\n", k, u }' "$tmp/syms"
head -n "$TOP" "$tmp/syms"
