#!/usr/bin/env bash
# One run of `esmeload run` against `esmeload serve` with the behaviours
# beyond the Go tool's scenario all on, and its books checked: every
# identity the summary promises must hold at this size.
#
#   bench/behaviours.sh                  2,000 participants, 60 s
#   N=500 DURATION=20 bench/behaviours.sh
#   BEHAVIOURS="--chat-lifetime 5s" bench/behaviours.sh   other behaviours
#
# serve runs on CPU 0 (2 threads), esmeload on CPU 1, on 127.0.0.1. The
# default behaviours: every participant message answered after a think
# time drawn around 500 ms, chats closed after 15 s and asked for again
# 1 s later, connections dropped after an uptime drawn around 10 s and
# back 200 ms later, two devices per participant. Prints each identity
# with its numbers and "ok" or "BROKEN", then the figures; exits 1 when
# one is broken.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
N=${N:-2000}
DURATION=${DURATION:-60}
SMI=${SMI:-500}
CPI=${CPI:-10}
ESMELOAD=${ESMELOAD:-build/esmeload}
BEHAVIOURS=${BEHAVIOURS:---org-reply-every 1 --org-think 500ms --org-think-dist exp \
--chat-lifetime 15s --reopen-after 1s --reconnect-uptime 10s --reconnect-backoff 200ms \
--devices 2}
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

taskset -c 0 "$ESMELOAD" serve --organizer-port 0 --participant-port 0 \
	--messenger-port 0 --write-config "$tmp/config.json" --threads 2 \
	--max-conns $((3 * N + 1000)) --quiet >"$tmp/serve.out" 2>&1 &
pids+=($!)
for _ in $(seq 200); do [ -s "$tmp/config.json" ] && break; sleep 0.05; done
[ -s "$tmp/config.json" ] || { echo "behaviours.sh: serve did not start" >&2; exit 1; }

# shellcheck disable=SC2086  # BEHAVIOURS is a list of flags
( cd "$tmp" && exec taskset -c 1 "$ESMELOAD" -sci 5 -cpi "$CPI" -smi "$SMI" \
	--max-participants "$N" --duration "${DURATION}s" --quiet --threads 1 \
	--max-errors 1000000 $BEHAVIOURS >run.out 2>run.err ) || true
summary=$(ls "$tmp"/*_performance_test_summary.json 2>/dev/null | head -1)
[ -n "$summary" ] || { echo "behaviours.sh: no summary; stderr:" >&2; cat "$tmp/run.err" >&2; exit 1; }
echo "esmeload run -sci 5 -cpi $CPI -smi $SMI --max-participants $N --duration ${DURATION}s $BEHAVIOURS"
/usr/bin/python3 - "$summary" <<'EOF'
import json, sys

s = json.load(open(sys.argv[1]))
e = s["esmeload"]
rp, ch, rc, dv = e["replies"], e["chats"], e["reconnects"], e["devices"]
broken = 0


def ident(name, lv, rv):
    global broken
    ok = lv == rv
    broken += not ok
    print("%-8s %-56s %10s = %s" % ("ok" if ok else "BROKEN", name, lv, rv))


ident("messages: sent = delivered + in_flight + lost", e["sent"],
      e["delivered"] + e["in_flight"] + e["lost"])
if rp:
    ident("replies: sent = received + missed + in_flight", rp["sent"],
          rp["received"] + rp["missed"] + rp["in_flight"])
    ident("replies: scheduled >= sent + dropped", rp["scheduled"] >= rp["sent"] + rp["dropped"], True)
if ch:
    ident("chats: opened = closed + active", ch["opened"], ch["closed"] + ch["active"])
    ident("chats: opened = chats_count", ch["opened"], s["chats_count"])
    ident("chats: refused after a close <= lost", ch["refused_after_close"] <= e["lost"], True)
if rc:
    h = rc["history"]
    ident("reconnects: no message missing in a history", h["missing"], 0)
    ident("reconnects: no message twice in a history", h["duplicated"], 0)
    ident("reconnects: no unknown message in a history", h["unexpected"], 0)
    ident("reconnects: rejoined <= drops",
          rc["rejoined"] <= rc["drops_tester"] + rc["drops_server"], True)
if dv:
    ident("devices: every copy read", dv["copies_received"], dv["copies_expected"])
cc = e["cross_check"]
if cc:
    ident("serve received = sent + replies sent (cross_check)", cc["passed"], True)
ident("no error", sum(e["errors"].values()), 0)
print()
print("participants %d, chats %d, messages sent %d, stop %s"
      % (s["created_participants_count"], s["chats_count"], e["sent"], e["stop_reason"]))
if rp:
    print("replies  scheduled %d sent %d received %d missed %d dropped %d in flight %d; "
          "latency p99 %.1f ms" % (rp["scheduled"], rp["sent"], rp["received"], rp["missed"],
                                   rp["dropped"], rp["in_flight"], rp["latency_ms"]["p99"]))
if ch:
    print("chats    opened %(opened)d closed %(closed)d active %(active)d reopened %(reopened)d "
          "refused after close %(refused_after_close)d" % ch)
if rc:
    print("reconnects  tester %d server %d rejoined %d; back in chat p50 %.1f ms p99 %.1f ms; "
          "history checks %d, recovered %d"
          % (rc["drops_tester"], rc["drops_server"], rc["rejoined"], rc["back_in_chat_ms"]["p50"],
             rc["back_in_chat_ms"]["p99"], rc["history"]["checks"], rc["history"]["recovered"]))
if dv:
    print("devices  copies %d of %d" % (dv["copies_received"], dv["copies_expected"]))
print("latency  p50 %.2f ms p99 %.2f ms; tester %s" % (e["latency_ms"]["p50"], e["latency_ms"]["p99"],
                                                       e["self_check"]["verdict"]))
sys.exit(1 if broken else 0)
EOF
