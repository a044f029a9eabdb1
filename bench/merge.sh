#!/usr/bin/env bash
# What `esmeload merge` costs: SHARDS shards of a SECONDS-long run, made
# from the files of a real short sharded run (2 shards against serve, 6 s,
# PARTS participants sending every 100 ms), its per-second lines repeated
# to SECONDS lines a shard and its summary given each index. Then merge
# them, RUNS times, against the physical floor of reading the same bytes
# (cat to /dev/null, the files in the page cache either way).
#
#   bench/merge.sh                  100 shards of a 10-minute run (600 s)
#   SHARDS=20 SECONDS_=60 bench/merge.sh
#
# Prints the input size, each merge's wall time and peak RSS, the median,
# merge / read, and merge / a peer that only parses the same files
# (Python's json).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
SHARDS=${SHARDS:-100}
SECS=${SECONDS_:-600}
RUNS=${RUNS:-3}
PARTS=${PARTS:-200}
ESMELOAD=${ESMELOAD:-build/esmeload}
[ -x "$ESMELOAD" ] || make -s build/esmeload
case $ESMELOAD in /*) ;; *) ESMELOAD=$top/$ESMELOAD ;; esac
work=$(mktemp -d /tmp/bench-merge.XXXXXX)
spid=
trap '[ -n "$spid" ] && kill $spid 2>/dev/null; rm -rf "$work"' EXIT

# The template: a real 2-shard run.
mkdir -p "$work/t"
"$ESMELOAD" serve --quiet --organizer-port 0 --participant-port 0 \
	--messenger-port 0 --organizers 2 --write-config "$work/t/config.json" \
	>/dev/null 2>&1 &
spid=$!
for _ in $(seq 100); do [ -s "$work/t/config.json" ] && break; sleep 0.1; done
start=$(( $(date +%s) + 2 ))
pids=()
for i in 0 1; do
	(cd "$work/t" && "$ESMELOAD" run --shard $i/2 --start-at $start --quiet \
		-sci 10 -cpi 5 -smi 100 --organizers 2 --max-participants $PARTS \
		--duration 6s --threads 1 >/dev/null) &
	pids+=($!)
done
wait "${pids[@]}"
kill $spid; wait $spid 2>/dev/null || true; spid=

# SHARDS shards of SECS lines each.
python3 - "$work/t" "$work/in" "$SHARDS" "$SECS" <<'PY'
import json, os, sys, glob
src, dst, n, secs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
os.makedirs(dst)
summ = sorted(glob.glob(os.path.join(src, "*_shard-0-of-2_performance_test_summary.json")))[0]
doc = json.load(open(summ))
lines = [l for l in open(summ.replace("summary.json", "timeseries.jsonl")) if '"histograms"' in l]
full = [json.loads(l) for l in lines if json.loads(l)["sent"] > 0] or [json.loads(l) for l in lines]
t0 = doc["esmeload"]["shard"]["t0_unix_ns"] // 10**9
for i in range(n):
    doc["esmeload"]["shard"]["index"] = i
    doc["esmeload"]["shard"]["count"] = n
    pre = os.path.join(dst, "%d_shard-%d-of-%d_performance_test_" % (t0 + secs, i, n))
    with open(pre + "summary.json", "w") as f:
        json.dump(doc, f, indent=2)
    with open(pre + "message_rates.json", "w") as f:
        json.dump({str(t0 + k): full[k % len(full)]["sent"] for k in range(secs)}, f, indent=2)
    with open(pre + "timeseries.jsonl", "w") as f:
        for k in range(secs):
            l = dict(full[k % len(full)])
            l["t"] = t0 + k
            l["elapsed_s"] = k + 1
            f.write(json.dumps(l, separators=(",", ":")) + "\n")
PY
bytes=$(cat "$work"/in/* | wc -c)
echo "# merge: $(date -u +%Y-%m-%dT%H:%M:%SZ), tree $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $SHARDS shards x $SECS s, input $((bytes / 1048576)) MiB"
cat "$work"/in/* >/dev/null   # into the page cache
ms() { python3 -c 'import sys; print("%.1f" % (float(sys.argv[1]) * 1000))' "$1"; }
walls=() reads=()
for ((k = 1; k <= RUNS; k++)); do
	rm -rf "$work/out"
	t=$(python3 - "$ESMELOAD" "$work" <<'PY'
import resource, subprocess, sys, time
t = time.monotonic()
subprocess.run([sys.argv[1], "merge", "--quiet", "-o", sys.argv[2] + "/out", sys.argv[2] + "/in"],
               stdout=subprocess.DEVNULL, check=True)
print(time.monotonic() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
PY
)
	r0=$(date +%s.%N); cat "$work"/in/* >/dev/null; r1=$(date +%s.%N)
	read -r wall rss <<<"$t"
	rd=$(python3 -c "print($r1 - $r0)")
	echo "run $k: merge $(ms "$wall") ms, peak RSS $((rss / 1024)) MiB; read $(ms "$rd") ms"
	walls+=("$wall") reads+=("$rd")
done
# A peer for the parsing alone: Python's json (its C scanner) reading
# every file and line, doing nothing with them.
peer=$(python3 - "$work/in" <<'PY'
import json, os, sys, time
t = time.monotonic()
for n in sorted(os.listdir(sys.argv[1])):
    with open(os.path.join(sys.argv[1], n)) as f:
        if n.endswith(".jsonl"):
            for line in f:
                json.loads(line)
        else:
            json.load(f)
print(time.monotonic() - t)
PY
)
echo "peer: python3 json.loads of every file and line $(ms "$peer") ms"
python3 - "${walls[*]}" "${reads[*]}" "$bytes" "$peer" <<'PY'
import sys, statistics
w = [float(x) for x in sys.argv[1].split()]
r = [float(x) for x in sys.argv[2].split()]
b = int(sys.argv[3])
p = float(sys.argv[4])
mw, mr = statistics.median(w), statistics.median(r)
print("median merge %.1f ms (%.0f MiB/s), read %.1f ms; merge / read %.1f; merge / python parse %.2f"
      % (mw * 1000, b / mw / 2**20, mr * 1000, mw / mr, mw / p))
PY
