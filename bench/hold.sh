#!/usr/bin/env bash
# Hold N concurrent participants against `esmeload serve` and report what the
# tester costs: user memory per participant and CPU per message.
#
#   bench/hold.sh                 N=10000, smi 1000, 30 s held
#   N=20000 HOLD=60 bench/hold.sh
#   ESMELOAD=/other/build/esmeload bench/hold.sh   another build, to compare
#   MEM=0 bench/hold.sh           CPU only: no second run for the memory base
#
# serve runs on CPU 0, esmeload on CPU 1 (taskset), both on 127.0.0.1.
# Memory: the tester's peak RSS at N participants minus its peak RSS in a
# run of BASE participants, divided by the difference (so rings, buffers and
# code are not charged to participants). CPU: the tester's utime+stime over
# the held window (from /proc/PID/stat) divided by the messages sent in that
# window (from its time series).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
N=${N:-10000}
BASE=${BASE:-100}
SMI=${SMI:-1000}
HOLD=${HOLD:-30}
CPI=${CPI:-1}
ESMELOAD=${ESMELOAD:-build/esmeload}
EXTRA=${EXTRA:-}           # more esmeload flags, e.g. EXTRA="--sqpoll"
SERVE_CONNS=${SERVE_CONNS:-$((N + 1000))} # serve's --max-conns (more with --devices)
MEM=${MEM:-1}
SYSCALLS=${SYSCALLS:-0}    # 1: count the tester's io_uring_enter calls in
			   # the window (perf stat on the syscall tracepoint)
[ -x "$ESMELOAD" ] || make -s build/esmeload
case $ESMELOAD in /*) ;; *) ESMELOAD=$top/$ESMELOAD ;; esac
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

start_serve() {  # dir
	rm -f "$1/config.json"
	taskset -c 0 "$ESMELOAD" serve --organizer-port 0 --participant-port 0 \
		--messenger-port 0 --write-config "$1/config.json" \
		--max-conns "$SERVE_CONNS" --quiet >"$1/serve.out" 2>&1 &
	pids+=($!)
	for _ in $(seq 100); do [ -s "$1/config.json" ] && return 0; sleep 0.05; done
	echo "hold.sh: serve did not start" >&2
	exit 1
}

# One run: participants, seconds; writes "peak_rss_kib cpu_ticks_in_window
# msgs_in_window" to DIR/result. Runs in this shell so cleanup sees its pids.
one_run() {  # dir n duration_s window_start_s
	local d=$1 n=$2 dur=$3 ws=$4
	start_serve "$d"
	( cd "$d" && exec taskset -c 1 "$ESMELOAD" -sci 1 -cpi "$CPI" -smi "$SMI" \
		--max-participants "$n" --duration "${dur}s" --quiet \
		--organizers 1 $EXTRA >run.out 2>run.err ) &
	local rp=$!
	pids+=($rp)
	# The tester's pid is the subshell's exec'd child: the same pid.
	local t0 ticks0="" peak=0 ticks1=0
	t0=$(date +%s)
	while kill -0 "$rp" 2>/dev/null; do
		local now st rss
		now=$(( $(date +%s) - t0 ))
		if [ -r /proc/$rp/status ]; then
			rss=$(awk '/VmHWM/ {print $2}' /proc/$rp/status 2>/dev/null || echo 0)
			[ -n "$rss" ] && [ "$rss" -gt "$peak" ] && peak=$rss
			st=$(awk '{print $14 + $15}' /proc/$rp/stat 2>/dev/null || echo "")
			if [ -n "$st" ]; then
				if [ -z "$ticks0" ] && [ "$now" -ge "$ws" ]; then
					ticks0=$st
					if [ "$SYSCALLS" = 1 ] && [ "$n" != "$BASE" ]; then
						perf stat -x, -e syscalls:sys_enter_io_uring_enter \
							-p "$rp" -o "$d/enters" -- sleep $(( dur - ws - 2 )) \
							>/dev/null 2>&1 &
					fi
				fi
				ticks1=$st
			fi
		fi
		sleep 0.5
	done
	wait "$rp" || { echo "hold.sh: esmeload failed:" >&2; cat "$d/run.err" >&2; exit 1; }
	local ts msgs
	ts=$(ls "$d"/*_performance_test_timeseries.jsonl)
	msgs=$(python3 -c '
import json,sys
ws=float(sys.argv[2]); n=0
for line in open(sys.argv[1]):
    try: j=json.loads(line)
    except ValueError: continue
    if j["elapsed_s"] > ws: n += j["sent"]
print(n)' "$ts" "$ws")
	echo "$peak $(( ticks1 - ${ticks0:-$ticks1} )) $msgs" >"$d/result"
	kill "${pids[0]}" 2>/dev/null || true   # this run's serve
	pids=()
}

ramp=$(( N * CPI / 1000 + 5 ))
mkdir -p "$tmp/base" "$tmp/full"
if [ "$MEM" = 1 ]; then
	one_run "$tmp/base" "$BASE" 8 2
	read -r base_rss _ _ <"$tmp/base/result"
else
	base_rss=0
fi
one_run "$tmp/full" "$N" $(( ramp + HOLD )) "$ramp"
read -r full_rss ticks msgs <"$tmp/full/result"
hz=$(getconf CLK_TCK)
summ=$(ls "$tmp/full"/*_performance_test_summary.json)
python3 - "$summ" "$N" "$BASE" "$base_rss" "$full_rss" "$ticks" "$hz" "$msgs" "$HOLD" "$SMI" "$MEM" "$tmp/full/enters" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
n, base, brss, frss, ticks, hz, msgs, hold, smi, mem = (int(x) for x in sys.argv[2:12])
e = s["esmeload"]
per = (frss - brss) * 1024 / (n - base)
cpu_s = ticks / hz
print("participants %d (chats %d), held %d s at smi %d ms" % (s["created_participants_count"], s["chats_count"], hold, smi))
print("messages sent %d, delivered %d, errors %s" % (e["sent"], e["delivered"], sum(e["errors"].values())))
print("tester peak RSS: %d KiB with %d participants, %d KiB with %d" % (frss, n, brss, base))
print("held-window: %d messages, tester CPU %.2f s -> %.1f us per message" % (msgs, cpu_s, cpu_s * 1e6 / max(msgs, 1)))
if mem:
    print("tester user memory per participant: %d B" % per)
try:
    enters = [l for l in open(sys.argv[12]) if "io_uring_enter" in l]
    k = int(enters[0].split(",")[0])
    # perf counted over hold - 2 s of the window: per message of that part
    print("io_uring_enter calls: %d, per message %.3f" % (k, k / max(msgs * (hold - 2) / hold, 1)))
except (OSError, IndexError, ValueError):
    pass
print("send lag p99 %.3f ms, latency p50 %.3f ms p99 %.3f ms, timer late p50 %.3f ms" % (
    e["lag_ms"]["p99"], e["latency_ms"]["p50"], e["latency_ms"]["p99"], e["timer"]["late_ms"]["p50"]))
print("tester cpu per message: %.1f us" % (cpu_s * 1e6 / max(msgs, 1)))
EOF
