#!/usr/bin/env bash
# How finely esmeload times what it measures: a gentle run (the tester far
# from any limit) against `esmeload serve`, read from the summary: the
# timer's lateness (timer.late_ms: a timer's firing minus its due time),
# the send lag (a frame handed to the kernel minus its schedule) and the
# latency from the schedule and from the actual send.
#
#   bench/resolution.sh                      RUNS=3, 200 participants, smi 100
#   OLD=/other/build/esmeload bench/resolution.sh   the same runs of another
#                                            build in turn, for a ratio
#
# serve runs on CPU 0, the tester on CPU 1 (taskset). Each line is one run;
# the last lines are the medians and, with OLD, the ratios old/new of the
# median lag p50 and latency p50 (an older build has no timer figures).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
RUNS=${RUNS:-3}
N=${N:-200}
SMI=${SMI:-100}
DUR=${DUR:-10s}
ESMELOAD=${ESMELOAD:-build/esmeload}
OLD=${OLD:-}
[ -x "$ESMELOAD" ] || make -s build/esmeload
case $ESMELOAD in /*) ;; *) ESMELOAD=$top/$ESMELOAD ;; esac
tmp=$(mktemp -d)
serve_pid=
cleanup() {
	[ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

taskset -c 0 "$ESMELOAD" serve --organizer-port 0 --participant-port 0 \
	--messenger-port 0 --write-config "$tmp/config.json" --quiet \
	>"$tmp/serve.out" 2>&1 &
serve_pid=$!
for _ in $(seq 100); do [ -s "$tmp/config.json" ] && break; sleep 0.05; done
[ -s "$tmp/config.json" ] || { echo "serve did not start" >&2; exit 1; }

one() {  # name binary
	local d=$tmp/$1.$2
	mkdir -p "$d"
	# A new start second for each run: participant e-mails carry it.
	sleep 1
	taskset -c 1 "$3" --config "$tmp/config.json" -sci 10 -cpi 20 \
		-smi "$SMI" --max-participants "$N" --duration "$DUR" \
		--out-dir "$d" --quiet >/dev/null 2>&1 || true
	python3 - "$1" "$d" <<'EOF'
import glob, json, sys
name, d = sys.argv[1], sys.argv[2]
e = json.load(open(glob.glob(d + "/*_performance_test_summary.json")[0]))["esmeload"]
t = e.get("timer") or {}
late = t.get("late_ms") or {}
def f(v):
    return "-" if v is None else "%.3f" % v
print("%-4s timer_late_p50_ms %s p99 %s  lag_p50_ms %s p99 %s  latency_p50_ms %s  "
      "actual_p50_ms %s  sent %d" % (
          name, f(late.get("p50")), f(late.get("p99")), f(e["lag_ms"]["p50"]),
          f(e["lag_ms"]["p99"]), f(e["latency_ms"]["p50"]),
          f(e["latency_actual_ms"]["p50"]), e["sent"]))
EOF
}

for i in $(seq "$RUNS"); do
	one new "$i" "$ESMELOAD"
	[ -n "$OLD" ] && one old "$i" "$OLD"
done | tee "$tmp/lines"
python3 - "$tmp/lines" <<'EOF'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name = line.split()[0]
    v = dict(re.findall(r"(\w+) ([\d.]+|-)", line))
    rows.setdefault(name, []).append(line)
def med(name, key):
    vals = []
    for line in rows.get(name, []):
        m = re.search(key + r" ([\d.]+)", line)
        if m:
            vals.append(float(m.group(1)))
    return statistics.median(vals) if vals else None
for name in rows:
    print("median %s: timer_late_p50_ms %s  lag_p50_ms %s  latency_p50_ms %s" % (
        name, med(name, "timer_late_p50_ms"), med(name, "lag_p50_ms"),
        med(name, "latency_p50_ms")))
if "old" in rows:
    for key in ("lag_p50_ms", "latency_p50_ms"):
        o, n = med("old", key), med("new", key)
        if o and n:
            print("ratio %s old/new: %.2f" % (key, o / n))
EOF
