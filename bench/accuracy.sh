#!/usr/bin/env bash
# bench/accuracy.sh: how exactly esmeload run measures latency, against
# `esmeload serve` faults of known size. Run it on an idle machine with a
# plain (not sanitizer) build: it measures the tester's own share, which a
# busy machine or a slower build adds to. The test suite checks only what
# holds anywhere (tests/integration/test_metrics.py); the figures live here.
#
#   bench/accuracy.sh         (from anywhere; about 20 s)
#
#   known delay   the same load (-sci 1 -cpi 5 -smi 50, 50 participants,
#                 4 s) against serve, and against serve --delay 20ms. The
#                 p50 with the delay minus the p50 without is what the
#                 tester attributes to the delay: bound 20 +- 2 ms; the p50
#                 with the delay: bound 20 +- 2 ms.
#   stall         serve --stall-at 2s --stall-for 1s --rcvbuf 4096, 10
#                 participants at -smi 5 with --sndbuf 4096, 5 s: latency
#                 from the actual send, p90 over the run and p50 of the
#                 second with the stall, bound 50 ms each (latency from the
#                 schedule shows the stall: over 300 ms).
# Prints each figure with its bound; exits 1 if any is outside it.
#
# Environment: ESMELOAD [build/esmeload]
set -euo pipefail

cd "$(dirname "$0")/.."
ESMELOAD=${ESMELOAD:-build/esmeload}
PY=/usr/bin/python3
[ -x "$ESMELOAD" ] || { echo "accuracy.sh: $ESMELOAD is not built (make)" >&2; exit 1; }
ESMELOAD=$(readlink -f "$ESMELOAD")
case "$ESMELOAD" in
*asan*) echo "accuracy.sh: a sanitizer build measures the sanitizer; use build/esmeload" >&2 ;;
esac

tmp=$(mktemp -d /tmp/accuracy_bench.XXXXXX)
SERVE_PID=
cleanup() {
	[ -n "$SERVE_PID" ] && kill "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# run NAME SERVE_ARGS... -- RUN_ARGS...: one serve, one run into $tmp/NAME.
run() {
	local name=$1 i
	shift
	local sargs=()
	while [ "$1" != -- ]; do sargs+=("$1"); shift; done
	shift
	mkdir -p "$tmp/$name"
	"$ESMELOAD" serve --host 127.0.0.1 --organizer-port 0 --participant-port 0 \
		--messenger-port 0 --write-config "$tmp/$name/config.json" --quiet \
		"${sargs[@]}" >"$tmp/$name/serve.out" 2>&1 &
	SERVE_PID=$!
	for ((i = 0; i < 200; i++)); do
		[ -s "$tmp/$name/config.json" ] && break
		sleep 0.05
	done
	[ -s "$tmp/$name/config.json" ] || { echo "accuracy.sh: serve did not start" >&2; exit 1; }
	(cd "$tmp/$name" && "$ESMELOAD" "$@" --quiet >/dev/null) ||
		{ echo "accuracy.sh: the $name run failed" >&2; exit 1; }
	kill "$SERVE_PID"
	wait "$SERVE_PID" 2>/dev/null || true
	SERVE_PID=
}

run base -- -sci 1 -cpi 5 -smi 50 --max-participants 50 --duration 4s
run delay --delay 20ms -- -sci 1 -cpi 5 -smi 50 --max-participants 50 --duration 4s
run stall --stall-at 2s --stall-for 1s --rcvbuf 4096 -- \
	-sci 1 -cpi 10 -smi 5 --max-participants 10 --duration 5s --sndbuf 4096

"$PY" - "$tmp" <<'EOF'
import glob, json, sys
tmp = sys.argv[1]
def summary(name):
    with open(glob.glob("%s/%s/*_performance_test_summary.json" % (tmp, name))[0]) as f:
        return json.load(f)["esmeload"]
def series(name):
    with open(glob.glob("%s/%s/*_performance_test_timeseries.jsonl" % (tmp, name))[0]) as f:
        return [json.loads(l) for l in f if l.strip()]
bad = 0
def figure(what, value, lo, hi):
    global bad
    ok = lo <= value <= hi
    bad += not ok
    print("%-52s %9.3f ms  [%g, %g] %s" % (what, value, lo, hi, "ok" if ok else "OUTSIDE"))
base, delay = summary("base")["latency_ms"]["p50"], summary("delay")["latency_ms"]["p50"]
figure("known delay: p50 without the delay", base, 0, float("inf"))
figure("known delay: p50 with a 20 ms delay", delay, 18, 22)
figure("known delay: attributed to it (difference)", delay - base, 18, 22)
s = summary("stall")
figure("stall: latency from the schedule, p90", s["latency_ms"]["p90"], 300, float("inf"))
figure("stall: latency from the actual send, p90", s["latency_actual_ms"]["p90"], 0, 50)
worst = max(series("stall"), key=lambda x: (x["latency_ms"] or {}).get("max", 0))
act = worst["latency_actual_ms"]
if act:
    figure("stall: that second's actual-send p50", act["p50"], 0, 50)
else:
    bad += 1
    print("stall: the second with the stall has no actual-send latency (%d unmatched)"
          % s["self_check"]["latency_actual_unmatched"])
sys.exit(1 if bad else 0)
EOF
