#!/usr/bin/env bash
# esmeload report and esmeload compare on run files written here by hand:
# three runs in the shapes of the thesis (rate rising with the chats, then a
# plateau), one of them as the Go tool writes it (no esmeload object, no
# time series), one with a time series cut off mid-line (SIGKILL).
# Prints one PASS/FAIL/SKIP line per check (see tests/run.sh).
set -u
cd "$(dirname "$0")/../.."
ESMELOAD=${ESMELOAD:-$PWD/build/esmeload}
PY=/usr/bin/python3
T=$(mktemp -d /tmp/esmeload_report.XXXXXX)
trap 'rm -rf "$T"' EXIT
failed=0

pass() { echo "PASS report.$1"; }
fail() { echo "FAIL report.$1${2:+: $2}"; failed=1; }
check() {  # name, then a command that must succeed
	local name=$1; shift
	if "$@"; then pass "$name"; else fail "$name"; fi
}

# series DIR UNIX SECONDS PLATEAU_CHATS SEED [BEHAVIOURS] -> the .jsonl
# time series. Chats grow by 2.6 a second up to the plateau; each chat
# sends 10 messages a second (smi 100 ms); latency rises with the load and
# shoots up over the last 8 seconds, as when the server falls behind
# before it fails. BEHAVIOURS 1: the keys src/run/series.c adds when
# organizers answer, chats end, participants reconnect and have two
# devices (a chat ends after 40 s and is asked for again).
series() {
	awk -v unix="$2" -v n="$3" -v top="$4" -v seed="$5" -v bhv="${6:-0}" 'BEGIN {
		srand(seed)
		for (i = 1; i <= n; i++) {
			chats = int(i * 2.6); if (chats > top) chats = top
			sent = int(chats * 10 * (0.97 + 0.06 * rand()))
			dlv = int(sent * (0.995 + 0.005 * rand()))
			p50 = 0.25 + chats / 400
			p99 = p50 * (3 + rand())
			if (i > n - 8) { p99 *= 2 ^ (i - n + 8); p50 *= 1.5 ^ (i - n + 8) }
			lat = sprintf("{\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f}", p50, p99, p99 * 1.5)
			if (dlv == 0) lat = "null"
			printf("{\"t\":%d,\"elapsed_s\":%d.0,\"sent\":%d,\"delivered\":%d,", unix + i, i, sent, dlv)
			printf("\"organizer_received\":%d,\"participants_created\":%d,", dlv, chats + 1)
			printf("\"participants_connected\":%d,\"chats\":%d,\"errors\":0,", chats, chats)
			printf("\"latency_ms\":%s,\"latency_actual_ms\":%s,", lat, lat)
			printf("\"lag_ms\":{\"p99\":0.05},\"cpu_percent\":%.1f", 3 + chats / 50)
			if (bhv) {
				closed = i > 40 ? int((i - 40) * 2.6) : 0
				rs = int(chats / 10 * (0.9 + 0.2 * rand()))
				drops = int(chats / 40 * rand() + 0.5)
				printf(",\"replies_sent\":%d,\"replies_received\":%d,", rs, rs)
				printf("\"reply_p99_ms\":%s,\"replies_in_flight\":%d,",
				       rs ? sprintf("%.3f", 1000 + 3 * rand()) : "null", int(rs / 10))
				printf("\"chats_closed\":%d,\"chats_reopened\":%d,",
				       closed - pclosed, closed - pclosed)
				printf("\"refused_after_close\":0,\"chats_active\":%d,",
				       chats > closed ? chats - closed : 0)
				printf("\"drops_tester\":%d,\"drops_server\":0,\"reconnects\":%d,", drops, drops)
				printf("\"rejoin_p99_ms\":%s,", drops ? sprintf("%.3f", 4 + 4 * rand()) : "null")
				printf("\"history_missing\":0,\"history_duplicated\":0,")
				printf("\"device_copies_missing\":%d", int(dlv / 100))
				pclosed = closed
			}
			printf("}\n")
		}
	}' > "$1/$2_performance_test_timeseries.jsonl"
}

# hists SEED [BEHAVIOURS] -> an esmeload.histograms object (src/histjson.c's
# form): log-normal samples in microseconds, bucketed as include/hist.h
# does; BEHAVIOURS 1 adds reply_latency (about 1 s: the think time) and
# rejoin (a few ms).
hists() {
	$PY - "$1" "${2:-0}" <<'PY'
import json, random, sys
rnd = random.Random(int(sys.argv[1]))
def bucket(v):
    if v < 128:
        return v
    e = v.bit_length() - 7
    return (e << 6) + (v >> e)
def hist(mu, sigma, n):
    vs = [max(1, int(rnd.lognormvariate(mu, sigma))) for _ in range(n)]
    b = {}
    for v in vs:
        b[bucket(v)] = b.get(bucket(v), 0) + 1
    flat = []
    for k in sorted(b):
        flat += [k, b[k]]
    return {"count": n, "sum": sum(vs), "min": min(vs), "max": max(vs), "buckets": flat}
h = {"latency": hist(6.5, 1.0, 20000), "latency_actual": hist(6.2, 0.9, 20000),
     "time_to_chat": hist(9.5, 0.5, 300), "sign_up": hist(7, 0.4, 300),
     "chat_request": hist(6.8, 0.4, 300), "connect": hist(7.5, 0.5, 300)}
if sys.argv[2] == "1":
    h["reply_latency"] = hist(13.82, 0.002, 1180)
    h["rejoin"] = hist(8.5, 0.6, 60)
print(json.dumps(h))
PY
}

# summary DIR UNIX SENT DELIVERED P99 CHATS FIRST_ERROR_JSON [MEMBERS]
# MEMBERS: more members of the esmeload object, each with its comma (the
# opt-in behaviours' objects); with them the histograms have theirs.
summary() {
	cat > "$1/$2_performance_test_summary.json" <<EOF
{
  "constants": {
    "start_chat_interval": "10ms",
    "create_participant_interval": "20ms",
    "send_message_interval": "100ms",
    "log_ws": false
  },
  "description": "performance test summary",
  "organizer_time_started": "$(date -u -d "@$2" +%Y-%m-%dT%H:%M:%S).5Z",
  "organizer_duration": "2m0.5s",
  "participants_time_started": "$(date -u -d "@$2" +%Y-%m-%dT%H:%M:%S).6Z",
  "participants_duration": "2m0s",
  "messages_sent": $3,
  "chats_count": $6,
  "created_participants_count": $(($6 + 1)),
  "esmeload": {
    "sent": $3,
    "delivered": $4,
    "organizer_received": $4,
    "delivery_ratio": $(awk -v a="$3" -v b="$4" 'BEGIN { printf("%.5f", b / a) }'),
    "start_chats": 600, "new_chats": $6, "no_new_chats": 300,
    "server_errors": 0, "connected": $6,
    "latency_ms": {"p50": 0.5, "p90": 1.0, "p99": $5, "p99_9": 9.5, "max": 40.25},
    "latency_actual_ms": {"p50": 0.5, "p90": 1.0, "p99": $5, "p99_9": 9.5, "max": 40.25},
    "lag_ms": {"p50": 0.01, "p90": 0.02, "p99": 0.05, "p99_9": 0.1, "max": 0.4},
    "errors": {"connect": 0, "http_status": 0, "ws_handshake": 0, "timeout": 1,
               "recv": 0, "send": 0, "protocol": 0, "no_chat": 0, "closed": 0, "server": 0},
    "stop_reason": "error",
    "first_error": $7,
    "self_check": {"cpu_percent": 12.5, "cq_overflows": 0, "enobufs": 0,
                   "lag_p99_ms": 0.05, "tester_limited": false,
                   "verdict": "the tester kept up: lag p99 0.05 ms"},
    "server": null,
    "cross_check": null,
    "thresholds": [],${8:-}
    "histograms": $(hists "$2" $([ -n "${8:-}" ] && echo 1))
  }
}
EOF
}

R=$T/runs
mkdir -p "$R"
# Run 1: escaping is checked through its first error.
summary "$R" 1795685000 250000 249750 2.0 257 \
	'"ws handshake timeout after 45s <script>alert(1)</script> & \"quoted\""'
series "$R" 1795685000 120 257 1
# Run 2: killed with SIGKILL: the last line is cut off.
summary "$R" 1795686000 300000 299850 1.5 262 null
series "$R" 1795686000 120 262 2
printf '{"t":1795686121,"elapsed_s":121.0,"sent":26' \
	>> "$R/1795686000_performance_test_timeseries.jsonl"
# Run 3: the Go tool's files: its keys only, message rates with a gap.
cat > "$R/1795687000_performance_test_summary.json" <<'EOF'
{
  "constants": {
    "start_chat_interval": "10ms",
    "create_participant_interval": "20ms",
    "send_message_interval": "100ms",
    "log_ws": false
  },
  "description": "performance test summary",
  "organizer_time_started": "2026-11-26T10:56:40.25+01:00",
  "organizer_duration": "1m55.25s",
  "participants_time_started": "2026-11-26T10:56:40.3+01:00",
  "participants_duration": "1m55s",
  "messages_sent": 201000,
  "chats_count": 255,
  "created_participants_count": 256
}
EOF
awk 'BEGIN {
	srand(3); printf("{")
	for (i = 1; i <= 115; i++) {
		if (i >= 60 && i < 63) continue  # no sends: the Go tool leaves them out
		c = int(i * 2.6); if (c > 255) c = 255
		printf("%s\n  \"%d\": %d", i > 1 ? "," : "", 1795687000 + i, int(c * 10 * (0.97 + 0.06 * rand())))
	}
	printf("\n}\n")
}' > "$R/1795687000_performance_test_message_rates.json"

# Runs 4 and 5: organizers who answer, chats that end, reconnects, two
# devices: esmeload.replies, .chats, .reconnects, .devices as
# src/run/output.c writes them, the keys of their time series.
# bhv RECEIVED REPLY_P99 CLOSED REJOINED BACK_P99 MISSING COPIES_RECEIVED
bhv() {
	cat <<EOF

    "replies": {"scheduled": 1300, "sent": $(($1 + 10)), "received": $1, "in_flight": 4,
                "dropped": 10, "missed": 6,
                "latency_ms": {"p50": 1000.4, "p90": 1000.9, "p99": $2, "p99_9": 1600.0, "max": 1700.0}},
    "chats": {"opened": $((257 + $3)), "closed": $3, "active": 257, "reopened": $3,
              "closes_sent": $3, "refused_after_close": 3, "accounted": true},
    "reconnects": {"drops_tester": $4, "drops_server": 0, "rejoined": $4,
                   "back_in_chat_ms": {"p50": 3.5, "p90": 5.0, "p99": $5, "p99_9": 14.0, "max": 15.0},
                   "echoes_after_drop": 2,
                   "history": {"checks": $4, "missing": $6, "duplicated": 0, "recovered": 1,
                               "unexpected": 0, "truncated": 0,
                               "passed": $([ "$6" = 0 ] && echo true || echo false)}},
    "devices": {"participant": 2, "organizer": 1, "copies_expected": 249750,
                "copies_received": $7, "organizer_copies_expected": 0,
                "organizer_copies_received": 0},
EOF
}
R2=$T/behaviours
mkdir -p "$R2"
summary "$R2" 1795688000 250000 249750 2.0 257 null "$(bhv 1180 1002.5 143 60 8.0 0 249750)"
series "$R2" 1795688000 120 257 4 1
summary "$R2" 1795689000 250000 249750 2.0 257 null "$(bhv 1300 1500.0 150 58 12.0 2 249745)"
series "$R2" 1795689000 120 257 5 1

if [ ! -x "$ESMELOAD" ]; then
	fail build "no $ESMELOAD"
	exit 1
fi

# ---- report: a directory, default output in the current directory ----
out=$(cd "$T" && "$ESMELOAD" report "$R" 2>&1)
rc=$?
check dir_exit0 test $rc -eq 0
H=$T/report.html
check default_output test -s "$H"
check wrote_message grep -q "wrote report.html (3 runs)" <<<"$out"

svgs=$(grep -o '<svg ' "$H" | wc -l)
check seven_charts test "$svgs" -eq 7
for id in chart-rate chart-chats chart-latency chart-capacity \
	  chart-latency-dist chart-ttc-dist chart-phases-dist; do
	check "has_$id" grep -q "id=\"$id\"" "$H"
done
# Plain runs: none of the opt-in behaviours' charts, not even empty.
for id in chart-replies chart-chats-active chart-reconnects chart-reply-dist \
	  chart-rejoin-dist; do
	check "plain_no_$id" bash -c "test -s '$H' && ! grep -q 'id=\"$id\"' '$H'"
done
check plain_no_behaviour_table bash -c "test -s '$H' && ! grep -q 'id=\"behaviours\"' '$H'"
rows=$(grep -o '<tr class="run">' "$H" | wc -l)
check three_table_rows test "$rows" -eq 3
rows=$(grep -o '<tr class="outcome">' "$H" | wc -l)
check three_outcome_rows test "$rows" -eq 3
for u in 1795685000 1795686000 1795687000; do
	check "row_$u" grep -q "<td class=\"t file\">$R/${u}_performance_test_summary.json</td>" "$H"
done
check row_sent grep -q '<td>250,000</td><td>249,750</td>' "$H"
check row_go_run_sent grep -q '<td>201,000</td>' "$H"
check row_ratio grep -q '99.900&nbsp;%' "$H"
check row_verdict grep -q 'the tester kept up: lag p99 0.05 ms' "$H"
# Runs 1 and 2 have delivered (dashed) lines, run 3 only sent.
dashed=$(grep -o '<path clip-path="url(#chart-rate-clip)"[^>]*stroke-dasharray' "$H" | wc -l)
check rate_dashed_delivered test "$dashed" -eq 2
solid=$(grep '<path clip-path="url(#chart-rate-clip)"' "$H" | grep -vc stroke-dasharray)
check rate_sent_lines test "$solid" -eq 3
check latency_log_scale grep -q 'latency \[ms\], log scale' "$H"
check notes_truncated grep -q 'was cut off' "$H"
check notes_go_run grep -q 'no esmeload object' "$H"

# Nothing from the files can open markup; no scripts, no URLs.
check escaped_first_error grep -q '&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quoted&quot;' "$H"
check no_script bash -c "test -s '$H' && ! grep -qi '<script' '$H'"
# The SVG namespace is an identifier, not a fetch: the only URL allowed.
urls=$(grep -oiE 'https?://[^"'"'"' <>)]*' "$H" | grep -vx 'http://www.w3.org/2000/svg')
check no_urls test -s "$H" -a -z "$urls"
check no_external_refs bash -c "test -s '$H' && ! grep -qiE '(src|href)=|@import|url\\([^#]' '$H'"

# ---- report: the opt-in behaviours' charts and table ----
H2=$T/behaviours.html
"$ESMELOAD" report -o "$H2" "$R2" >/dev/null 2>&1
check behaviours_exit0 test $? -eq 0
svgs=$(grep -o '<svg ' "$H2" 2>/dev/null | wc -l)
check behaviours_twelve_charts test "$svgs" -eq 12
BHV_CHARTS="chart-replies chart-chats-active chart-reconnects chart-reply-dist chart-rejoin-dist"
for id in $BHV_CHARTS; do
	check "behaviours_has_$id" grep -q "id=\"$id\"" "$H2"
done
rows=$(grep -o '<tr class="behaviour">' "$H2" 2>/dev/null | wc -l)
check behaviours_table_rows test "$rows" -eq 2
# run 5's 2 missing from a history and 5 copies a device never read
check behaviours_faults_red grep -q '<td class="bad">2</td><td>0</td><td>1</td><td class="bad">5</td></tr>' "$H2"
# replies: solid received and dashed sent, for each of the two runs
n=$(grep -o '<path clip-path="url(#chart-replies-clip)"' "$H2" | wc -l)
check behaviours_reply_lines test "$n" -eq 4

# ---- report: files, -o ----
"$ESMELOAD" report -o "$T/two.html" "$R/1795685000_performance_test_summary.json" \
	"$R/1795687000_performance_test_summary.json" >/dev/null 2>&1
rc=$?
check files_o_exit0 test $rc -eq 0
rows=$(grep -o '<tr class="run">' "$T/two.html" 2>/dev/null | wc -l)
check files_o_two_rows test "$rows" -eq 2

# ---- report: bad input is one line naming the file, exit 2 ----
B=$T/bad
mkdir -p "$B"
expect_err() {  # name, file name fragment, message fragment, args...
	local name=$1 file=$2 msg=$3 err rc
	shift 3
	err=$("$ESMELOAD" report -o "$T/bad.html" "$@" 2>&1 >/dev/null)
	rc=$?
	if [ $rc -eq 2 ] && [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] &&
	   grep -qF -- "$file" <<<"$err" && grep -qF -- "$msg" <<<"$err"; then
		pass "$name"
	else
		fail "$name" "exit $rc: $err"
	fi
}
expect_err missing_file "$B/nope_performance_test_summary.json" \
	"No such file" "$B/nope_performance_test_summary.json"
printf '{"messages_sent": 12,' > "$B/1_performance_test_summary.json"
expect_err bad_json 1_performance_test_summary.json "not valid JSON" \
	"$B/1_performance_test_summary.json"
printf '{"messages_sent": "many"}' > "$B/2_performance_test_summary.json"
expect_err bad_type 2_performance_test_summary.json "messages_sent" \
	"$B/2_performance_test_summary.json"
printf '{"messages_sent": 3}' > "$B/3_performance_test_summary.json"
printf '{"elapsed_s":1,"sent":1}\n{"elapsed_s":2,"sent":1}\n{"elapsed_s":3,se\n{"elapsed_s":4,"sent":1}\n' \
	> "$B/3_performance_test_timeseries.jsonl"
expect_err bad_jsonl_line 3_performance_test_timeseries.jsonl "line 3" \
	"$B/3_performance_test_summary.json"
printf '{"messages_sent": 3}' > "$B/4_performance_test_summary.json"
printf '{"1795685602": 10, "soon": 3}' > "$B/4_performance_test_message_rates.json"
expect_err bad_rates 4_performance_test_message_rates.json "soon" \
	"$B/4_performance_test_summary.json"
mkdir -p "$T/empty"
expect_err empty_dir "$T/empty" "no *_performance_test_summary.json" "$T/empty"
check bad_left_no_page test ! -e "$T/bad.html"
"$ESMELOAD" report >/dev/null 2>&1
check no_run_given test $? -eq 2
"$ESMELOAD" report --bogus "$R" >/dev/null 2>&1
check unknown_option test $? -eq 2
check help bash -c "'$ESMELOAD' report --help | grep -q '^usage: esmeload report'"

# ---- compare ----
A=$R/1795685000_performance_test_summary.json
Bf=$R/1795686000_performance_test_summary.json
cmp=$("$ESMELOAD" compare "$A" "$Bf" 2>&1)
rc=$?
check compare_exit0 test $rc -eq 0
row_ok() {  # metric label, A, B, change, better, verdict
	grep -E "^$1 +$2 +$3 +$4 +$5 +$6\$" <<<"$cmp" >/dev/null
}
check compare_sent row_ok 'sent' 250000 300000 '\+20\.00%' higher better
check compare_delivered row_ok 'delivered' 249750 299850 '\+20\.06%' higher better
check compare_p99 row_ok 'latency p99 \[ms\]' 2.000 1.500 '-25\.00%' lower better
check compare_rate row_ok 'messages/s' 2083.3 2500.0 '\+20\.00%' higher better
check compare_errors row_ok 'errors total' 1 1 '\+0\.00%' lower same
check compare_chats row_ok 'chats' 257 262 '\+1\.95%' higher better
check compare_cpu row_ok 'tester CPU \[%\]' 12.5 12.5 '\+0\.00%' lower same

js=$("$ESMELOAD" compare --json "$A" "$Bf" 2>&1)
check compare_json $PY -c '
import json, sys
d = json.loads(sys.argv[1])
m = d["metrics"]
assert abs(m["sent"]["change_pct"] - 20) < 1e-9, m["sent"]
assert m["sent"]["verdict"] == "better" and m["sent"]["better"] == "higher"
assert abs(m["latency_p99_ms"]["change_pct"] + 25) < 1e-9
assert m["latency_p99_ms"]["better"] == "lower"
assert len(m) == 19, len(m)
' "$js"
# The Go tool's run has no delivered count: shown, but no change.
js=$("$ESMELOAD" compare --json "$A" "$R/1795687000_performance_test_summary.json" 2>&1)
check compare_json_go_run $PY -c '
import json, sys
m = json.loads(sys.argv[1])["metrics"]
assert m["delivered"]["b"] is None and m["delivered"]["change_pct"] is None
assert m["delivered"]["verdict"] is None
assert m["sent"]["b"] == 201000
' "$js"
"$ESMELOAD" compare "$A" "$R" >/dev/null 2>&1
check compare_dir_of_three test $? -eq 2
# Plain runs have no rows of the opt-in behaviours (the 19 above); two
# runs with them have theirs, each with its direction.
check compare_plain_no_behaviour_rows bash -c "test -n '$cmp' && ! grep -qE '^(replies received|reconnects|history missing) ' <<<'$cmp'"
cmp=$("$ESMELOAD" compare "$R2/1795688000_performance_test_summary.json" \
	"$R2/1795689000_performance_test_summary.json" 2>&1)
check compare_behaviours_exit0 test $? -eq 0
check compare_replies row_ok 'replies received' 1180 1300 '\+10\.17%' higher better
check compare_reply_p99 row_ok 'reply p99 \[ms\]' 1002.500 1500.000 '\+49\.63%' lower worse
check compare_chats_closed row_ok 'chats closed' 143 150 '\+4\.90%' higher better
check compare_reconnects row_ok 'reconnects' 60 58 '-3\.33%' higher worse
check compare_back_in_chat row_ok 'back in chat p99 \[ms\]' 8.000 12.000 '\+50\.00%' lower worse
check compare_history_missing row_ok 'history missing' 0 2 'n/a' lower worse
check compare_history_duplicated row_ok 'history duplicated' 0 0 '\+0\.00%' lower same
check compare_history_truncated row_ok 'history truncated' 0 0 '\+0\.00%' lower same
check compare_copies_missing row_ok 'device copies missing' 0 5 'n/a' lower worse
check compare_sent_still row_ok 'sent' 250000 250000 '\+0\.00%' higher same
# Against a plain run: the rows are there, A has no value and no verdict.
cmp=$("$ESMELOAD" compare "$A" "$R2/1795689000_performance_test_summary.json" 2>&1)
check compare_plain_vs_behaviours row_ok 'replies received' - 1300 - higher -
js=$("$ESMELOAD" compare --json "$R2/1795688000_performance_test_summary.json" \
	"$R2/1795689000_performance_test_summary.json" 2>&1)
check compare_json_behaviours $PY -c '
import json, sys
m = json.loads(sys.argv[1])["metrics"]
assert len(m) == 28, len(m)
want = {"replies_received": "higher", "reply_p99_ms": "lower", "chats_closed": "higher",
        "reconnects": "higher", "back_in_chat_p99_ms": "lower", "history_missing": "lower",
        "history_duplicated": "lower", "history_truncated": "lower",
        "device_copies_missing": "lower"}
for k, d in want.items():
    assert m[k]["better"] == d, (k, m[k])
assert m["reconnects"]["verdict"] == "worse" and m["chats_closed"]["verdict"] == "better"
assert m["history_missing"]["change_pct"] is None and m["history_missing"]["b"] == 2
' "$js"

# ---- render in headless Chromium ----
CHROMIUM=/usr/bin/chromium
if [ ! -x "$CHROMIUM" ]; then
	echo "SKIP report.chromium_render (no $CHROMIUM; Debian package chromium)"
else
	chrome() {
		timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu \
			--disable-background-networking --disable-component-update \
			--disable-sync --no-first-run --user-data-dir="$(mktemp -d "$T/prof.XXXXXX")" \
			"$@" 2>/dev/null
	}
	chrome --screenshot="$T/shot.png" --window-size=1200,2400 "file://$H" >/dev/null
	size=$(stat -c %s "$T/shot.png" 2>/dev/null || echo 0)
	check chromium_screenshot test "$size" -gt 40000
	chrome --dump-dom "file://$H" > "$T/dom.html"
	n=$(grep -o '<svg ' "$T/dom.html" | wc -l)
	check chromium_dom_svgs test "$n" -eq 7
	# each chart has drawn its data: a line (path d="M...")
	for id in chart-rate chart-chats chart-latency chart-latency-dist \
		  chart-ttc-dist chart-phases-dist; do
		check "chromium_drew_$id" $PY -c '
import re, sys
dom, cid = open(sys.argv[1]).read(), sys.argv[2]
m = re.search(r"<svg id=\"%s\".*?</svg>" % cid, dom, re.S)
assert m and re.search(r"<path [^>]*d=\"M", m.group(0)), cid
' "$T/dom.html" "$id"
	done
	# and the page wrote nothing to the console (it has no script: any
	# line there is an error); a page with an error shows the check fires
	console() {
		timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu \
			--disable-background-networking --disable-component-update \
			--disable-sync --no-first-run --enable-logging=stderr --log-level=0 \
			--user-data-dir="$(mktemp -d "$T/prof.XXXXXX")" --dump-dom "$1" 2>&1 >/dev/null |
			grep -c ':CONSOLE' || true
	}
	check chromium_no_console_errors test "$(console "file://$H")" -eq 0
	echo '<html><body><script>nosuchfn();</script></body></html>' > "$T/bad.html"
	check chromium_console_check_fires test "$(console "file://$T/bad.html")" -gt 0
	n=$(grep -o '<path ' "$T/dom.html" | wc -l)
	check chromium_dom_paths test "$n" -gt 10
	check chromium_dom_table grep -q '<table id="runs">' "$T/dom.html"
	n=$(grep -o '<tr class="run">' "$T/dom.html" | wc -l)
	check chromium_dom_rows test "$n" -eq 3
	# the runs with the opt-in behaviours: every chart drawn, the old
	# ones and theirs, and nothing on the console
	chrome --dump-dom "file://$H2" > "$T/dom2.html"
	n=$(grep -o '<svg ' "$T/dom2.html" | wc -l)
	check chromium_behaviours_svgs test "$n" -eq 12
	for id in chart-rate chart-chats chart-latency chart-latency-dist \
		  chart-ttc-dist chart-phases-dist $BHV_CHARTS; do
		check "chromium_behaviours_drew_$id" $PY -c '
import re, sys
dom, cid = open(sys.argv[1]).read(), sys.argv[2]
m = re.search(r"<svg id=\"%s\".*?</svg>" % cid, dom, re.S)
assert m and re.search(r"<path [^>]*d=\"M", m.group(0)), cid
' "$T/dom2.html" "$id"
	done
	check chromium_behaviours_no_console_errors test "$(console "file://$H2")" -eq 0
	n=$(grep -o '<tr class="behaviour">' "$T/dom2.html" | wc -l)
	check chromium_behaviours_table_rows test "$n" -eq 2
fi
exit $failed
