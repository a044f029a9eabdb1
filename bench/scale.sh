#!/usr/bin/env bash
# Hold N concurrent participants on loopback, past the 20,000-descriptor
# limit of this machine's processes: esmeload keeps connections as direct
# descriptors in several rings per thread (one per RLIMIT_NOFILE
# connections), serve in several rings of each of its threads, and
# source-address pools spread the 4-tuples. Participants arrive at RATE
# per second (--arrival-rate), open loop.
#
#   bench/scale.sh                       N=100000, RATE=1000
#   N=1000000 RATE=10000 RAMP_LIMIT=600 bench/scale.sh
#
# Reports tester memory per connection, ramp time, the arrival rate over
# the ramp (per second of the time series: minimum, median, over the first
# 100,000), kernel socket memory (/proc/net/sockstat), and where and why
# it stopped. PERF_AT=K records a perf profile of serve and of the tester
# (10 s, by symbol) once K participants have their chats. Ends with the line
#   held <n> participants, tester user memory per connection: <bytes> B
# Needs: net.ipv4.ip_local_port_range wide enough or --source-ip pools (used
# here: 127.0.0.2-127.0.0.41), and the memory for 2N sockets in the kernel.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
N=${N:-100000}
SMI=${SMI:-10000}          # a message every 10 s: the point is holding
HOLD=${HOLD:-20}           # seconds held at N
RAMP_LIMIT=${RAMP_LIMIT:-400}
RATE=${RATE:-1000}
THREADS=${THREADS:-}      # default: the CPUs this machine has
PERF_AT=${PERF_AT:-0}
ORGS=${ORGS:-2}           # organizer connections, each starting a chat every ms
SERVE_THREADS=${SERVE_THREADS:-}  # serve's --threads (default: its CPUs)
ESMELOAD=${ESMELOAD:-build/esmeload}
[ -x "$ESMELOAD" ] || make -s build/esmeload
nofile=$(ulimit -n)
threads=${THREADS:-$(nproc)}
per_thread=$(( (N + 1000 + threads - 1) / threads + 100 ))
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

sockmem() { awk '/^TCP:/ {print $NF}' /proc/net/sockstat; }   # pages
slab() { awk '/^Slab:/ {print $2}' /proc/meminfo; }            # KiB
sockets() { awk '/^TCP:/ {print $3}' /proc/net/sockstat; }     # inuse
mem0=$(sockmem)
slab0=$(slab)
echo "scale: N=$N at $RATE/s, $threads tester threads of up to $per_thread connections (rings of $nofile), smi $SMI ms; descriptor limit $nofile"

"$ESMELOAD" serve --organizer-port 0 --participant-port 0 --messenger-port 0 \
	--write-config "$tmp/config.json" --max-conns $((N + 5000)) --organizers "$ORGS" \
	${SERVE_THREADS:+--threads "$SERVE_THREADS"} --quiet >"$tmp/serve.out" 2>"$tmp/serve.err" &
pids+=($!)
serve_pid=$!
for _ in $(seq 200); do [ -s "$tmp/config.json" ] && break; sleep 0.05; done
[ -s "$tmp/config.json" ] || { echo "scale.sh: serve did not start" >&2; cat "$tmp/serve.err" >&2; exit 1; }
grep -o 'in [0-9]* rings.*' "$tmp/serve.err" || true
serve_rss() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$serve_pid/status" 2>/dev/null || echo 0; }
serve_rss0=$(serve_rss)

( cd "$tmp" && exec "$top/$ESMELOAD" -sci 1 --arrival-rate "$RATE" -smi "$SMI" \
	--max-participants "$N" --duration "$((RAMP_LIMIT + HOLD))s" \
	--threads "$threads" --organizers "$ORGS" --http-conns 8 \
	--max-conns "$per_thread" --source-ip 127.0.0.2-127.0.0.41 \
	--max-errors 1000000 --quiet >run.out 2>run.err ) &
run_pid=$!
pids+=($run_pid)

# Watch the ramp: participants with their chat, from the time series.
t0=$(date +%s)
held=0 ramp=0 peak_rss=0 why="ramp limit ($RAMP_LIMIT s) reached"
while kill -0 "$run_pid" 2>/dev/null; do
	sleep 2
	now=$(( $(date +%s) - t0 ))
	ts=$(ls "$tmp"/*_timeseries.jsonl 2>/dev/null | head -1)
	[ -n "$ts" ] || continue
	chats=$(tail -n 1 "$ts" | python3 -c 'import json,sys
try: print(json.loads(sys.stdin.read())["chats"])
except Exception: print(0)')
	rss=$(awk '/VmRSS/ {print $2}' /proc/$run_pid/status 2>/dev/null || echo 0)
	[ "${rss:-0}" -gt "$peak_rss" ] && peak_rss=$rss
	# The first sample with participants is the fixed part: rings,
	# buffers and the registered send arena (pinned when registered).
	if [ -z "${rss_first:-}" ] && [ "$chats" -gt 0 ]; then
		rss_first=$rss
		chats_first=$chats
	fi
	printf '\r  %4ds  chats %7d  tester RSS %7d KiB  sockets %7s  ' "$now" "$chats" "${rss:-0}" "$(sockets)"
	if [ "$PERF_AT" -gt 0 ] && [ -z "${perf_done:-}" ] && [ "$chats" -ge "$PERF_AT" ] && command -v perf >/dev/null; then
		perf_done=1
		echo
		echo "  perf at $chats chats (10 s): serve and the tester"
		perf record -q -e cpu-clock -F 499 -p "$serve_pid" -o "$tmp/perf.serve" -- sleep 10 >/dev/null 2>&1 &
		pp1=$!
		perf record -q -e cpu-clock -F 499 -p "$run_pid" -o "$tmp/perf.tester" -- sleep 10 >/dev/null 2>&1 &
		pp2=$!
		wait "$pp1" "$pp2" 2>/dev/null || true
		for who in serve tester; do
			echo "  top of $who:"
			perf report -i "$tmp/perf.$who" --no-children --sort sym --stdio 2>/dev/null |
				awk '/^ +[0-9.]+%/ { print "    " $0 }' | head -15 || true
		done
	fi
	if [ "$chats" -ge "$N" ] && [ "$ramp" -eq 0 ]; then
		ramp=$now
		echo
		echo "  all $N participants in their chats after ${ramp}s; holding ${HOLD}s"
		hold_end=$(( now + HOLD ))
	fi
	if [ "$ramp" -gt 0 ] && [ "$now" -ge "$hold_end" ]; then
		why="held for ${HOLD}s"
	elif [ "$now" -lt "$RAMP_LIMIT" ]; then
		continue
	fi
	# Held, or the ramp limit: what is held now, then stop the run.
	held=$chats
	rss_held=$rss
	mem_held=$(sockmem)
	slab_held=$(slab)
	stats=$(curl -s --max-time 5 "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["messenger_ws_url"].replace("ws:","http:"))' "$tmp/config.json")/stats" || true)
	kill -INT "$run_pid"
	break
done
echo
wait "$run_pid" || true
summ=$(ls "$tmp"/*_summary.json 2>/dev/null | head -1)
if [ -n "$summ" ]; then
	python3 - "$summ" "$(ls "$tmp"/*_timeseries.jsonl 2>/dev/null | head -1)" <<'EOF'
import json, sys
e = json.load(open(sys.argv[1]))["esmeload"]
errs = {k: v for k, v in e["errors"].items() if v}
print("  tester: sent %d, delivered %d, connected %d, errors %s" % (e["sent"], e["delivered"], e["connected"], errs or 0))
if e.get("first_error"):
    print("  first error: %s" % e["first_error"])
print("  arrival lag p50 %s ms, p99 %s ms, max %s ms" % (
    e["arrival_lag_ms"]["p50"], e["arrival_lag_ms"]["p99"], e["arrival_lag_ms"]["max"]))
rows = []
for line in open(sys.argv[2]):
    try:
        rows.append(json.loads(line))
    except ValueError:
        pass
# The ramp: the whole seconds in which participants still arrived (the
# last second of the series is partial).
arr = [r["arrivals"] for r in rows][:-1]
while arr and arr[-1] == 0:
    arr.pop()
if arr:
    srt = sorted(arr)
    n, secs = 0, 0
    for a in arr:
        if n >= 100000:
            break
        n += a
        secs += 1
    print("  arrivals per second over the ramp: min %d, median %d, max %d; the first %d in %d s (%.0f/s)" % (
        srt[0], srt[len(srt) // 2], srt[-1], n, secs, n / max(secs, 1)))
    print("  arrivals per second, mean of each 10 s: %s" % " ".join(
        str(sum(arr[i:i + 10]) // len(arr[i:i + 10])) for i in range(0, len(arr), 10)))
    chats = [r["chats"] for r in rows]
    print("  chats found per second, mean of each 10 s: %s" % " ".join(
        str((chats[min(i + 10, len(chats) - 1)] - (chats[i - 1] if i else 0)) // 10)
        for i in range(0, len(chats), 10)))
EOF
fi
[ "$ramp" -eq 0 ] && why="$why; $(head -c 300 "$tmp/run.err" | tr '\n' ' ')"
rss_held=${rss_held:-$peak_rss}
mem_held=${mem_held:-$(sockmem)}
pg=$(getconf PAGESIZE)
echo "  stopped: $why"
echo "  ramp time: ${ramp}s; tester RSS at the end $rss_held KiB (peak $peak_rss KiB)"
slab_held=${slab_held:-$(slab)}
echo "  kernel: TCP buffer memory +$(( (mem_held - mem0) * pg / 1024 / 1024 )) MiB (sockstat), slab +$(( (slab_held - slab0) / 1024 )) MiB for both ends of $held connections ($(( held > 0 ? (slab_held - slab0) * 1024 / held : 0 )) B per participant)"
echo "  serve: $(echo "${stats:-}" | grep -o '"connections":{[^}]*}' || echo 'no /stats')"
serve_rss1=$(serve_rss)
echo "  serve RSS: $serve_rss0 KiB at start, $serve_rss1 KiB at the end: $(( held > 0 ? (serve_rss1 - serve_rss0) * 1024 / held : 0 )) B per participant held (connection slots on each thread, accounts, chats, the message log)"
# Per connection: what the tester's RSS grew by from its first participants
# to the end, per participant, plus the 512-byte send slot each connection
# has in the registered arena (pinned at start, so not in that growth).
slot=512
marg=$(( held > ${chats_first:-0} ? (rss_held - ${rss_first:-$rss_held}) * 1024 / (held - ${chats_first:-0}) : 0 ))
echo "  tester RSS: $rss_held KiB at $held participants, $((${rss_first:-0})) KiB at ${chats_first:-0} (rings, buffers, the registered arena); growth per participant $marg B + $slot B send slot"
echo "held $held participants, tester user memory per connection: $(( marg + slot )) B"
