#!/usr/bin/env bash
# bench/run.sh: esmeload, the Go tool it replaces and the io_uring floor,
# side by side, with the same parameters, in one run (about 3.5 minutes;
# BUDGET keeps it under 5).
#
#   bench/run.sh                     N=1000 participants at smi 100 (10,000 msgs/s)
#   N=2000 SMI=200 bench/run.sh
#
# Testers (each pinned to TESTER_CPU, its target to SERVE_CPU, loopback only):
#   esmeload   build/esmeload -sci SCI -cpi CPI -smi SMI --max-participants N
#              against a fresh `build/esmeload serve`
#   go         build/bench/esme-go (bench/baseline-go: docs/protocol.md §5's tool, a
#              goroutine per participant, gorilla/websocket), same flags,
#              same config.json, against a fresh serve
#   limit      build/bench/limit (bench/limit): N connections to a discard
#              server, the same masked send_message frames on the same
#              schedule, nothing else: the floor of CPU per message
#   floor      build/bench/limit --reads against build/bench/sink: the limit's
#              sends, and the reads esmeload does too: for each frame the sink
#              writes an echo to its connection and a copy to an organizer
#              connection, and the floor reads both (multishot receives into
#              provided buffers, frame headers only): the floor of a tester
#              that sends and reads ("floor_with_reads")
# Per tester, over a HOLD-second window once all N participants have their
# chats (window edges on Unix-second boundaries, so the per-second rates
# files cover exactly the window):
#   sent        sum of the tester's own <unix>_performance_test_message_rates.json
#               over the window's seconds
#   cpu         the tester's utime+stime (/proc/PID/stat, all threads) over
#               the window; cpu_per_msg = cpu / sent; also the share of its
#               core it used, and serve's share of its own core
#   peak memory VmHWM of the tester at the end of the window
#   delivered   esmeload's summary (its own messages echoed back); for the
#               floor, the echoes it read; the Go tool and the limit count
#               nothing of the kind
#   cross-check serve's /stats messages.received against the tester's total
#               sent (for the limit: the discard server's bytes against the
#               limit's; for the floor: the sink's bytes against the floor's,
#               and the echoes and copies read against the messages sent);
#               messages.dropped is what serve threw away for
#               a slow reader: the Go tool's organizer never reads, so at
#               any real rate its copies are dropped (expected, reported)
# Then the thesis's own scenario, a crowd that keeps growing (GROW_FLAGS:
# -sci 1 -cpi 20 -smi 100, no --max-participants, GROW_DURATION 30 s),
# esmeload and the Go tool each against a fresh serve, measured the same
# way over seconds GROW_FROM..GROW_TO (16..29) of the run: "ratio
# cpu_per_msg esmeload growing/hold" says whether arrivals cost more per
# message than the fixed hold above, and "go/esmeload growing" compares
# the two testers there.
# Then a rising-load probe of esmeload alone (N=PROBE_N, smi in PROBE_SMIS,
# PROBE_HOLD-second windows) gives messages per tester CPU-second at each
# load. "max msgs_per_s per tester core" is that figure at the highest load
# esmeload sustained: every participant had its chat, it sent at least 97%
# of the schedule, no errors, every message delivered by the end with none
# dropped, and median latency below smi, i.e. serve kept up in real time
# (past that, "sent" partly fills the socket buffers of a server that is
# behind, which is cheap and not a rate). Below a whole core it is an
# extrapolation (messages per CPU-second), and the script says so; when a
# higher load was not sustained it says whether serve was the bottleneck. The limit in
# --fast mode (as fast as the kernel accepts frames) is printed beside it
# as the ceiling.
#
# The probe runs esmeload with --max-errors 1000: at small smi a participant
# has only 10 x smi to find its chat, and when serve is slow (its core
# shared) some do not; they are counted and reported, and the probe goes on.
#
# The machine is shared: as root the target and the tester run at nice NICE
# (-10) so other jobs on their cores disturb them less; serve's schedstat
# (time on CPU plus time runnable but waiting) says whether it was saturated
# or starved, which makes it the bottleneck of that load.
#
# Environment (defaults in brackets): N [1000] SMI [100] CPI [2] SCI [1]
# HOLD [15] SETTLE [2] PROBE_N [1000] PROBE_SMIS ["50 20 10"] PROBE_HOLD [6]
# BUDGET [230: seconds after which no further probe step starts]
# FAST_HOLD [5] SERVE_CPU [0] TESTER_CPU [1] NICE [-10 as root, else 0]
# SERVE_ARGS [] RAMP_TIMEOUT [60] PROBE_RAMP_TIMEOUT [15: a probe step that
# has not every chat by then is measured anyway, and is not "sustained"]
# KEEP [0: 1 keeps the work directory]
#
# Needs: build/esmeload (make), liburing (bench/limit/Makefile), and for the
# Go tool the Debian packages golang-go and golang-github-gorilla-websocket-dev
# (bench/baseline-go/build.sh builds offline from them); curl, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000}
SMI=${SMI:-100}
CPI=${CPI:-2}
SCI=${SCI:-1}
HOLD=${HOLD:-15}
SETTLE=${SETTLE:-2}
PROBE_N=${PROBE_N:-1000}
PROBE_SMIS=${PROBE_SMIS:-"50 20 10"}
BUDGET=${BUDGET:-230}
PROBE_HOLD=${PROBE_HOLD:-6}
FAST_HOLD=${FAST_HOLD:-5}
SERVE_CPU=${SERVE_CPU:-0}
TESTER_CPU=${TESTER_CPU:-1}
SERVE_ARGS=${SERVE_ARGS:-}
RAMP_TIMEOUT=${RAMP_TIMEOUT:-60}
PROBE_RAMP_TIMEOUT=${PROBE_RAMP_TIMEOUT:-15}
KEEP=${KEEP:-0}
GROW_FLAGS=${GROW_FLAGS:-"-sci 1 -cpi 20 -smi 100"}
GROW_DURATION=${GROW_DURATION:-30}
GROW_FROM=${GROW_FROM:-16}
GROW_TO=${GROW_TO:-29}
ESMELOAD_ARGS=${ESMELOAD_ARGS:-}   # more esmeload run flags, e.g. "--timer-slack 1ms"
if [ "$(id -u)" = 0 ]; then NICE=${NICE:--10}; else NICE=${NICE:-0}; fi
PIN_T=(nice -n "$NICE" taskset -c "$SERVE_CPU")
PIN_C=(nice -n "$NICE" taskset -c "$TESTER_CPU")
HZ=$(getconf CLK_TCK)
T0=$(date +%s)

say() { echo "run.sh: $*" >&2; }

# ---- build ----
if ! make -s build/esmeload >&2; then
	# Other modules may be mid-edit; an existing binary still measures.
	[ -x build/esmeload ] || exit 1
	say "make build/esmeload failed; using the existing binary"
fi
make -s -f bench/limit/Makefile >&2
bench/baseline-go/build.sh >&2

need_fds=$(( (N > PROBE_N ? N : PROBE_N) + 4096 ))  # and the growing crowd
if [ "$(ulimit -n)" -lt "$need_fds" ]; then
	ulimit -n "$need_fds" 2>/dev/null || { say "needs $need_fds descriptors (ulimit -n is $(ulimit -n))"; exit 1; }
fi

tmp=$(mktemp -d /tmp/run_bench.XXXXXX)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	sleep 0.2
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	if [ "$KEEP" = 1 ]; then say "work directory kept: $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# Every run uses these copies, even if the tree is rebuilt meanwhile.
mkdir -p "$tmp/bin"
cp build/esmeload build/bench/esme-go build/bench/limit build/bench/discard build/bench/sink "$tmp/bin/"
BIN=$tmp/bin

forget() {  # pid: no longer ours to clean up
	local p keep=()
	for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
	pids=("${keep[@]+"${keep[@]}"}")
}

# ---- small readers ----
# These print nothing (and do not fail) once the process is gone.
cpu_ticks() {  # pid: utime+stime of all its threads; fields after "comm) "
	{ sed 's/.*) //' "/proc/$1/stat" 2>/dev/null || true; } | awk '{ print $12 + $13 }'
}
# schedstat: ns on CPU plus ns runnable but waiting, summed over the
# process's threads; per second of wall time it nears 1.0 (or more, with
# several threads) when the process was saturated or starved of its core.
sched_busy() {
	cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ t += $1 + $2 } END { if (NR) printf "%.0f\n", t }' || true
}
vmhwm() { awk '$1 == "VmHWM:" { print $2 }' "/proc/$1/status" 2>/dev/null || true; }
stats() { curl -s --max-time 3 "$STATS_URL" || echo '{}'; }
chats_total() { stats | sed -n 's/.*"chats":{"active":[0-9]*,"total":\([0-9]*\)}.*/\1/p'; }
now_s() { date +%s.%N; }
# Sleep to 50 ms past the next Unix second; print that second.
to_next_second() {
	local t
	t=$(now_s)
	sleep "$(awk -v t="$t" 'BEGIN { printf "%.3f", int(t) + 1.05 - t }')"
	echo $(( ${t%.*} + 1 ))
}
# Sleep to 50 ms past Unix second $1.
to_second() {
	sleep "$(awk -v t="$(now_s)" -v s="$1" 'BEGIN { d = s + 0.05 - t; printf "%.3f", (d > 0 ? d : 0) }')"
}
wait_file() {  # file seconds
	local i
	for ((i = 0; i < $2 * 20; i++)); do [ -s "$1" ] && return 0; sleep 0.05; done
	say "timed out waiting for $1"; return 1
}

start_serve() {  # dir
	# shellcheck disable=SC2086
	"${PIN_T[@]}" "$BIN/esmeload" serve --host 127.0.0.1 \
		--organizer-port 0 --participant-port 0 --messenger-port 0 \
		--write-config "$1/config.json" --max-conns $(( (N > PROBE_N ? N : PROBE_N) + 20000 )) \
		--quiet $SERVE_ARGS >"$1/serve.out" 2>"$1/serve.err" &
	TARGET_PID=$!
	pids+=("$TARGET_PID")
	wait_file "$1/config.json" 5
	local ws
	ws=$(sed -n 's/.*"messenger_ws_url":"ws:\/\/\([^"]*\)".*/\1/p' "$1/config.json")
	STATS_URL="http://$ws/stats"
}

start_discard() {  # dir
	"${PIN_T[@]}" "$BIN/discard" >"$1/discard.out" 2>"$1/discard.err" &
	TARGET_PID=$!
	pids+=("$TARGET_PID")
	wait_file "$1/discard.out" 5
	DISCARD_PORT=$(awk '$1 == "port" { print $2 }' "$1/discard.out")
	STATS_URL=
}

start_sink() {  # dir
	"${PIN_T[@]}" "$BIN/sink" >"$1/sink.out" 2>"$1/sink.err" &
	TARGET_PID=$!
	pids+=("$TARGET_PID")
	wait_file "$1/sink.out" 5
	SINK_PORT=$(awk '$1 == "port" { print $2 }' "$1/sink.out")
	SINK_ORG_PORT=$(awk '$1 == "organizer_port" { print $2 }' "$1/sink.out")
	STATS_URL=
}

# give_up STRICT TESTER_PID: a run that cannot be measured. Strict: the
# script fails; otherwise both processes are stopped and the run skipped.
give_up() {
	[ "$1" = 1 ] && exit 1
	kill -TERM "$2" "$TARGET_PID" 2>/dev/null || true
	wait "$2" 2>/dev/null || true
	wait "$TARGET_PID" 2>/dev/null || true
	forget "$2"
	forget "$TARGET_PID"
}

# The window's edges and its facts. Called from one_run and grow_run, they
# set and read those functions' locals (bash scopes dynamically): tp, d,
# c0/c1 (tester CPU ticks), s0/s1 (target's), q0/q1 and u0/u1 (schedstat
# busy ns of target and tester), hwm, wa.
window_open() {
	c0=$(cpu_ticks "$tp")
	s0=$(cpu_ticks "$TARGET_PID")
	q0=$(sched_busy "$TARGET_PID")
	u0=$(sched_busy "$tp")
	[ -z "$STATS_URL" ] || stats >"$d/stats0.json"
}
window_close() {
	c1=$(cpu_ticks "$tp")
	s1=$(cpu_ticks "$TARGET_PID")
	q1=$(sched_busy "$TARGET_PID")
	u1=$(sched_busy "$tp")
	hwm=$(vmhwm "$tp")
	[ -z "$STATS_URL" ] || stats >"$d/stats1.json"
}
# write_facts NAME TESTER N SMI HOLD RAMPED EXIT GROW
write_facts() {
	cat >"$d/facts" <<-EOF
	name $1
	tester $2
	grow $8
	n $3
	smi $4
	hold $5
	window_start $wa
	cpu_ticks $((c1 - c0))
	serve_ticks $((s1 - s0))
	serve_busy_ns $((q1 - q0))
	tester_busy_ns $(( ${u1:-0} - ${u0:-0} ))
	vmhwm_kib ${hwm:-0}
	ramp_complete $6
	exit $7
	EOF
}

# one_run NAME TESTER N SMI HOLD RAMP_LIMIT STRICT [ARGS...]: one tester
# against a fresh target; the facts go to $tmp/NAME/facts (key value), the
# rest stays in $tmp/NAME. ARGS go to esmeload. When not every participant
# has a chat after RAMP_LIMIT seconds, STRICT=1 fails the script and
# STRICT=0 measures the window anyway (and records it).
one_run() {
	local name=$1 tester=$2 n=$3 smi=$4 hold=$5 ramp_limit=$6 strict=$7 d=$tmp/$1
	shift 7
	local bound settle tp ramp_end ramped=1 wa c0 c1 s0 s1 q0 q1 u0 u1 hwm rc
	mkdir -p "$d"
	settle=$SETTLE
	# The Go tool's participant may need up to 10 get_chats, smi apart;
	# the limit and the floor only connect.
	case $tester in
	limit* | floor) settle=1 ;;
	*) [ $((smi * 10 / 1000 + 1)) -le "$settle" ] || settle=$((smi * 10 / 1000 + 1)) ;;
	esac
	bound=$((ramp_limit + settle + hold + 10))
	case $tester in
	esmeload | go) start_serve "$d" ;;
	limit | limit-fast) start_discard "$d" ;;
	floor) start_sink "$d" ;;
	esac
	case $tester in
	esmeload)
		( cd "$d" && exec "${PIN_C[@]}" "$BIN/esmeload" -sci "$SCI" \
			-cpi "$CPI" -smi "$smi" --max-participants "$n" \
			--duration "${bound}s" --quiet "$@" >tester.out 2>tester.err ) & ;;
	go)
		( cd "$d" && exec "${PIN_C[@]}" "$BIN/esme-go" -sci "$SCI" \
			-cpi "$CPI" -smi "$smi" --max-participants "$n" \
			--duration "${bound}s" >tester.out 2>tester.err ) & ;;
	limit)
		( cd "$d" && exec "${PIN_C[@]}" "$BIN/limit" --port "$DISCARD_PORT" \
			--conns "$n" --smi "$smi" --duration "$bound" >tester.out 2>tester.err ) & ;;
	limit-fast)
		( cd "$d" && exec "${PIN_C[@]}" "$BIN/limit" --port "$DISCARD_PORT" \
			--conns "$n" --smi "$smi" --duration "$bound" --fast >tester.out 2>tester.err ) & ;;
	floor)
		( cd "$d" && exec "${PIN_C[@]}" "$BIN/limit" --port "$SINK_PORT" \
			--reads --org-port "$SINK_ORG_PORT" \
			--conns "$n" --smi "$smi" --duration "$bound" >tester.out 2>tester.err ) & ;;
	esac
	tp=$!   # the subshell exec'd the tester: the same pid
	pids+=("$tp")

	# Ramp: every participant has its chat (serve says so), then settle.
	if [ -n "$STATS_URL" ]; then
		ramp_end=$(( $(date +%s) + ramp_limit ))
		while :; do
			kill -0 "$tp" 2>/dev/null || { say "$name: $tester exited during the ramp"; tail -5 "$d/tester.err" >&2; give_up "$strict" "$tp"; return 1; }
			[ "$(chats_total)" -ge "$n" ] 2>/dev/null && break
			if [ "$(date +%s)" -ge "$ramp_end" ]; then
				say "$name: not all $n chats after ${ramp_limit}s"
				[ "$strict" = 1 ] && exit 1
				ramped=0
				break
			fi
			sleep 0.2
		done
	fi
	sleep "$settle"

	wa=$(to_next_second)
	window_open
	to_second $((wa + hold))
	window_close
	if [ -z "$c0" ] || [ -z "$c1" ]; then
		say "$name: $tester exited before the window ended"; tail -5 "$d/tester.err" >&2
		give_up "$strict" "$tp"; return 1
	fi
	if [ -z "$s0" ] || [ -z "$s1" ] || ! kill -0 "$TARGET_PID" 2>/dev/null; then
		say "$name: the target (serve, discard or sink) died during the window"
		tail -5 "$d"/serve.err "$d"/discard.err "$d"/sink.err 2>/dev/null >&2; exit 1
	fi

	kill -TERM "$tp"
	rc=0
	wait "$tp" || rc=$?
	forget "$tp"
	[ "$rc" -eq 0 ] || say "$name: $tester exited with $rc (see below)"
	sleep 0.5   # what is in flight on loopback arrives
	if [ -n "$STATS_URL" ]; then
		stats >"$d/stats_final.json"
	fi
	kill -TERM "$TARGET_PID" 2>/dev/null || say "$name: the target had already exited"
	wait "$TARGET_PID" || true
	forget "$TARGET_PID"
	if [ "$rc" -ne 0 ]; then sed 's/^/  /' "$d/tester.err" | tail -5 >&2; fi
	write_facts "$name" "$tester" "$n" "$smi" "$hold" "$ramped" "$rc" 0
	say "$name done at $(( $(date +%s) - T0 )) s"
}

# grow_run NAME TESTER: the growing crowd (GROW_FLAGS) for GROW_DURATION
# seconds against a fresh serve, measured over seconds GROW_FROM..GROW_TO
# of the run; the facts go to $tmp/NAME/facts as one_run's do.
grow_run() {
	local name=$1 tester=$2 d=$tmp/$1 tp start wa c0 c1 s0 s1 q0 q1 u0 u1 hwm rc bin
	local extra=()
	mkdir -p "$d"
	start_serve "$d"
	case $tester in
	esmeload) bin=$BIN/esmeload; extra=(--quiet) ;;
	go) bin=$BIN/esme-go ;;
	esac
	start=$(to_next_second)
	# shellcheck disable=SC2086
	( cd "$d" && exec "${PIN_C[@]}" "$bin" $GROW_FLAGS --duration "${GROW_DURATION}s" \
		"${extra[@]}" $([ "$tester" = esmeload ] && echo $ESMELOAD_ARGS) \
		>tester.out 2>tester.err ) &
	tp=$!
	pids+=("$tp")
	wa=$((start + GROW_FROM))
	to_second "$wa"
	window_open
	to_second $((start + GROW_TO))
	window_close
	if [ -z "$c0" ] || [ -z "$c1" ]; then
		say "$name: $tester exited before the window ended"; tail -5 "$d/tester.err" >&2
		exit 1
	fi
	rc=0
	wait "$tp" || rc=$?
	forget "$tp"
	[ "$rc" -eq 0 ] || { say "$name: $tester exited with $rc"; sed 's/^/  /' "$d/tester.err" | tail -5 >&2; }
	sleep 0.5
	stats >"$d/stats_final.json"
	kill -TERM "$TARGET_PID" 2>/dev/null || say "$name: the target had already exited"
	wait "$TARGET_PID" || true
	forget "$TARGET_PID"
	write_facts "$name" "$tester" 0 0 $((GROW_TO - GROW_FROM)) 1 "$rc" 1
	say "$name done at $(( $(date +%s) - T0 )) s"
}

echo "# bench/run.sh $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -r), $(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), tree $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "# N $N, smi $SMI, cpi $CPI, sci $SCI, window ${HOLD}s; probe N $PROBE_N smi $PROBE_SMIS window ${PROBE_HOLD}s; target on CPU $SERVE_CPU, tester on CPU $TESTER_CPU, nice $NICE"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

one_run esmeload esmeload "$N" "$SMI" "$HOLD" "$RAMP_TIMEOUT" 1 $ESMELOAD_ARGS
one_run go go "$N" "$SMI" "$HOLD" "$RAMP_TIMEOUT" 1
one_run limit limit "$N" "$SMI" "$HOLD" 0 1
one_run floor floor "$N" "$SMI" "$HOLD" 0 1
one_run limit_fast limit-fast "$PROBE_N" 1000 "$FAST_HOLD" 0 1
grow_run grow_esmeload esmeload
grow_run grow_go go
# The probe comes last and stops early when the time budget is spent (slow
# ramps on a busy machine): the run must stay under 5 minutes.
done_smis=
skipped_smis=
for s in $PROBE_SMIS; do
	if [ $(( $(date +%s) - T0 )) -gt "$BUDGET" ]; then
		say "time budget (${BUDGET}s) spent: probe stops before smi $s"
		break
	fi
	if one_run "probe_$s" esmeload "$PROBE_N" "$s" "$PROBE_HOLD" "$PROBE_RAMP_TIMEOUT" 0 --max-errors 1000 $ESMELOAD_ARGS; then
		done_smis="$done_smis $s"
	else
		say "probe_$s skipped: not measured"
		skipped_smis="$skipped_smis $s"
	fi
done

python3 - "$tmp" "$HZ" "$N" "$SMI" "$done_smis" "$T0" "$skipped_smis" "$GROW_FLAGS" "$GROW_FROM" "$GROW_TO" "$GROW_DURATION" <<'PY'
import glob, json, os, sys
grow_flags, grow_from, grow_to, grow_dur = sys.argv[8:12]

tmp, hz, n_main, smi_main = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
probe_smis, t0, skipped = sys.argv[5].split(), int(sys.argv[6]), sys.argv[7].split()

def load(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default

def one(pattern):
    g = sorted(glob.glob(pattern))
    return g[-1] if g else None

def last_json_line(path):
    try:
        lines = [l for l in open(path) if l.startswith("{")]
        return json.loads(lines[-1]) if lines else {}
    except (OSError, ValueError):
        return {}

def g(d, *keys, default=None):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return default
        d = d[k]
    return d

def run(name):
    d = os.path.join(tmp, name)
    f = {}
    for line in open(os.path.join(d, "facts")):
        k, v = line.split(None, 1)
        f[k] = v.strip()
    r = {"name": name, "tester": f["tester"], "n": int(f["n"]), "smi": int(f["smi"]),
         "hold": int(f["hold"]), "exit": int(f["exit"]), "ramped": f.get("ramp_complete", "1") == "1"}
    ws = int(f["window_start"])
    rates = load(one(os.path.join(d, "*_performance_test_message_rates.json")), {})
    r["win_sent"] = sum(v for k, v in rates.items() if ws <= int(k) < ws + r["hold"])
    r["cpu_s"] = int(f["cpu_ticks"]) / hz
    r["serve_share"] = int(f["serve_ticks"]) / hz / r["hold"]
    r["serve_busy"] = int(f.get("serve_busy_ns", "0") or 0) / 1e9 / r["hold"]
    r["tester_busy"] = int(f.get("tester_busy_ns", "0") or 0) / 1e9 / r["hold"]
    r["cpu_share"] = r["cpu_s"] / r["hold"]
    r["rate"] = r["win_sent"] / r["hold"]
    r["grow"] = f.get("grow") == "1"
    r["sched"] = r["n"] * 1000 / r["smi"] if r["tester"] != "limit-fast" and not r["grow"] else None
    r["us_per_msg"] = r["cpu_s"] * 1e6 / r["win_sent"] if r["win_sent"] else float("nan")
    r["per_core"] = r["win_sent"] / r["cpu_s"] if r["cpu_s"] else float("nan")
    r["hwm_mib"] = int(f["vmhwm_kib"]) / 1024
    r["delivered"] = r["total_sent"] = r["recv"] = r["dropped"] = r["win_recv"] = None
    r["chats"] = None
    if r["tester"] in ("esmeload", "go"):
        summ = load(one(os.path.join(d, "*_performance_test_summary.json")), {})
        r["total_sent"] = summ.get("messages_sent")
        r["chats"] = summ.get("chats_count")
        if r["grow"]:
            r["n"] = summ.get("created_participants_count") or 0
        r["delivered"] = g(summ, "esmeload", "delivered")
        r["org_recv"] = g(summ, "esmeload", "organizer_received")
        r["p50"] = g(summ, "esmeload", "latency_ms", "p50")
        r["p99"] = g(summ, "esmeload", "latency_ms", "p99")
        r["ratio"] = g(summ, "esmeload", "delivery_ratio")
        errs = g(summ, "esmeload", "errors")
        r["errors"] = sum(v for v in errs.values() if isinstance(v, int)) if isinstance(errs, dict) else None
        s0, s1 = load(os.path.join(d, "stats0.json"), {}), load(os.path.join(d, "stats1.json"), {})
        sf = load(os.path.join(d, "stats_final.json"), {})
        r["recv"] = g(sf, "messages", "received")
        r["dropped"] = g(sf, "messages", "dropped")
        r["serve_sent"] = g(sf, "messages", "sent")
        if g(s1, "messages", "received") is not None and g(s0, "messages", "received") is not None:
            r["win_recv"] = s1["messages"]["received"] - s0["messages"]["received"]
            r["win_dropped"] = s1["messages"]["dropped"] - s0["messages"]["dropped"]
    else:
        out = last_json_line(os.path.join(d, "tester.out"))
        disc = last_json_line(os.path.join(d, "sink.out" if r["tester"] == "floor" else "discard.out"))
        r["total_sent"] = out.get("sent")
        r["bytes"], r["disc_bytes"] = out.get("bytes"), disc.get("bytes")
        r["late"] = out.get("late")
        if r["tester"] == "floor":
            r["delivered"] = out.get("echoes")
            r["org_recv"] = out.get("copies")
            r["recv_errors"] = out.get("recv_errors")
            r["sink_echoes"], r["sink_copies"] = disc.get("echoes"), disc.get("copies")
    return r

main = {t: run(t) for t in ("esmeload", "go", "limit", "floor")}
probes = [run("probe_" + s) for s in probe_smis]
grow = {t: run("grow_" + t) for t in ("esmeload", "go")}
fast = run("limit_fast")

def fmt(x, spec):
    return "-" if x is None else format(x, spec)

print()
print("%-13s %5s %5s %8s %8s %8s %7s %8s %9s %10s %10s %12s %9s %8s" % (
    "tester", "N", "smi", "sched/s", "sent/s", "cpu_core", "us/msg", "peak_MiB",
    "serve_cpu", "serve_busy", "total_sent", "serve_recv", "delivered", "dropped"))
for r in list(main.values()) + list(grow.values()) + probes + [fast]:
    label = r["name"]
    print("%-13s %5d %5s %8s %8.0f %8.3f %7.2f %8.1f %9.3f %10.3f %10s %12s %9s %8s" % (
        label, r["n"], "grow" if r["grow"] else (r["smi"] if r["tester"] != "limit-fast" else "fast"),
        fmt(r["sched"], ".0f"), r["rate"], r["cpu_share"], r["us_per_msg"], r["hwm_mib"],
        r["serve_share"], r["serve_busy"], fmt(r["total_sent"], "d"),
        fmt(r["recv"], "d") if r["recv"] is not None else ("%s B" % r.get("disc_bytes") if r.get("disc_bytes") is not None else "-"),
        fmt(r["delivered"], "d"), fmt(r["dropped"], "d")))
print()
print("columns: sent/s and us/msg over the window from each tester's own rates file and")
print("/proc utime+stime; cpu_core = tester CPU-seconds per second (1.0 = its whole core);")
print("serve_cpu = the target's share of its core (serve; discard for the limit, sink for")
print("the floor); serve_busy = its time on CPU plus runnable-but-waiting per second")
print("(schedstat): near 1.0, the target was saturated or starved by other jobs on its core;")
print("serve_recv = serve's /stats messages.received at the end (limit, floor: the discard")
print("or sink server's bytes); delivered = esmeload's own messages echoed back (floor: the")
print("echoes it read; the Go tool and the limit do not count them); dropped = serve's")
print("messages.dropped (copies thrown away for a connection over its backlog: the Go")
print("organizer never reads).")

notes = []
for r in list(main.values()) + list(grow.values()) + probes:
    if r["tester"] in ("esmeload", "go"):
        if r["recv"] is not None and r["total_sent"] is not None and r["recv"] != r["total_sent"]:
            notes.append("%s: cross-check: tester sent %d, serve received %d" % (r["name"], r["total_sent"], r["recv"]))
        if r["win_recv"] is not None and r["win_sent"] and abs(r["win_recv"] - r["win_sent"]) > 0.1 * r["win_sent"]:
            notes.append("%s: in the window serve received %d, tester sent %d" % (r["name"], r["win_recv"], r["win_sent"]))
        if r.get("errors"):
            notes.append("%s: esmeload counted %d errors (see its summary)" % (r["name"], r["errors"]))
        if r["chats"] is not None and r["chats"] < r["n"] and not r["grow"]:
            notes.append("%s: only %d of %d participants found their chat" % (r["name"], r["chats"], r["n"]))
        if r["dropped"]:
            tot = r.get("serve_sent") or 0
            notes.append("%s: serve dropped %d user_message copies (%.1f%% of those it queued%s)" % (
                r["name"], r["dropped"], 100.0 * r["dropped"] / max(tot + r["dropped"], 1),
                "; the Go organizer never reads: expected" if r["tester"] == "go" else ""))
    elif r.get("bytes") is not None and r.get("disc_bytes") is not None and r["bytes"] != r["disc_bytes"]:
        notes.append("%s: cross-check: %s sent %d bytes, %s read %d" % (
            r["name"], r["tester"], r["bytes"], "sink" if r["tester"] == "floor" else "discard", r["disc_bytes"]))
    if r["tester"] == "floor" and r["total_sent"] is not None:
        if r["delivered"] != r["total_sent"] or r["org_recv"] != r["total_sent"]:
            notes.append("%s: the floor sent %d, read %s echoes and %s organizer copies (sink wrote %s and %s)" % (
                r["name"], r["total_sent"], fmt(r["delivered"], "d"), fmt(r["org_recv"], "d"),
                fmt(r.get("sink_echoes"), "d"), fmt(r.get("sink_copies"), "d")))
        if r.get("recv_errors"):
            notes.append("%s: the floor's receives failed %d times" % (r["name"], r["recv_errors"]))
    if not r["ramped"]:
        notes.append("%s: not every participant had a chat when the window began" % r["name"])
    if r["exit"] not in (0,):
        notes.append("%s: tester exit code %d" % (r["name"], r["exit"]))
    if r["sched"] and r["rate"] < 0.97 * r["sched"]:
        notes.append("%s: sent %.0f/s of %.0f/s scheduled: behind" % (r["name"], r["rate"], r["sched"]))
    if r["serve_busy"] >= 0.95:
        notes.append("%s: the target was busy or runnable %.2f of the time (on CPU %.2f): it, or what else runs on its core, is the bottleneck" % (
            r["name"], r["serve_busy"], r["serve_share"]))
for x in skipped:
    notes.append("probe at smi %s could not be measured (the tester stopped or never ramped: see stderr)" % x)
for x in notes:
    print("note: " + x)

e, go, lim, flo = main["esmeload"], main["go"], main["limit"], main["floor"]
print()
print("esmeload delivered %s of %s sent (whole run); organizer copies read %s" % (
    fmt(e["delivered"], "d"), fmt(e["total_sent"], "d"), fmt(e.get("org_recv"), "d")))
print("floor_with_reads read %s echoes of %s sent (whole run); organizer copies read %s" % (
    fmt(flo["delivered"], "d"), fmt(flo["total_sent"], "d"), fmt(flo.get("org_recv"), "d")))
print("cpu per message (us): esmeload %.2f, go %.2f, limit %.2f, floor_with_reads %.2f; limit --fast %.2f" % (
    e["us_per_msg"], go["us_per_msg"], lim["us_per_msg"], flo["us_per_msg"], fast["us_per_msg"]))
ge, gg = grow["esmeload"], grow["go"]
print("growing crowd (%s, seconds %s-%s of %s): cpu per message (us): esmeload %.2f, go %.2f; "
      "sent/s esmeload %.0f, go %.0f; participants at the end: esmeload %d, go %d" % (
          grow_flags, grow_from, grow_to, grow_dur, ge["us_per_msg"], gg["us_per_msg"],
          ge["rate"], gg["rate"], ge["n"], gg["n"]))
print("peak memory (MiB): esmeload %.1f, go %.1f, limit %.1f, floor_with_reads %.1f" % (
    e["hwm_mib"], go["hwm_mib"], lim["hwm_mib"], flo["hwm_mib"]))
def sustained(r):
    return bool(r["sched"] and r["ramped"] and r["rate"] >= 0.97 * r["sched"] and not r.get("errors")
                and (r.get("ratio") or 0) >= 0.999 and not r["dropped"]
                and r.get("p50") is not None and r["p50"] < r["smi"])

cands = [r for r in [e] + probes if sustained(r)]
top_probe = max(cands, key=lambda r: r["rate"]) if cands else e
sat = top_probe["cpu_share"] >= 0.9
print()
for r in probes:
    print("probe smi %d: %.0f/s scheduled, %.0f sent/s, serve received %.0f/s, tester core %.2f, "
          "busy %.2f, %.0f msgs per tester CPU-s, latency p50 %s p99 %s ms, serve on CPU %.2f busy %.2f, "
          "errors %s, dropped %s: %s" % (
              r["smi"], r["sched"], r["rate"], (r["win_recv"] or 0) / r["hold"], r["cpu_share"],
              r["tester_busy"], r["per_core"], fmt(r.get("p50"), ".1f"), fmt(r.get("p99"), ".1f"), r["serve_share"],
              r["serve_busy"], fmt(r.get("errors"), "d"), fmt(r["dropped"], "d"),
              "sustained" if sustained(r) else "NOT sustained"))
how = ("highest load sustained: smi %d x %d participants (%.0f/s scheduled), esmeload sent %.0f/s using "
       "%.2f of its core; figure = messages per tester CPU-second there%s" % (
           top_probe["smi"], top_probe["n"], top_probe["sched"] or 0, top_probe["rate"],
           top_probe["cpu_share"], "" if sat else " (tester not saturated: extrapolated to a whole core)"))
above = [r for r in probes if r["rate"] > top_probe["rate"] and not sustained(r)]
if above:
    a = above[0]
    if a["cpu_share"] >= 0.9:
        who = "esmeload (its core at %.2f)" % a["cpu_share"]
    elif a["tester_busy"] >= 0.9:
        who = ("esmeload's share of its core (it used %.2f of it but was running or waiting for it "
               "%.2f of the time: other jobs on that core)" % (a["cpu_share"], a["tester_busy"]))
    else:
        who = ("serve, not esmeload (esmeload used %.2f of its core, busy or waiting %.2f; serve was on "
               "CPU %.2f and busy or waiting for its core %.2f of the time; latency p50 %s ms)" % (
                   a["cpu_share"], a["tester_busy"], a["serve_share"], a["serve_busy"], fmt(a.get("p50"), ".1f")))
    how += "; at %.0f/s scheduled the load was not sustained and the limit was %s" % (a["sched"], who)
print("max rate: " + how)
print("ceiling: limit --fast sends %.0f msgs per CPU-second (%d connections, one frame in flight each)" % (
    fast["per_core"], fast["n"]))
print("elapsed: %d s" % (int(__import__("time").time()) - t0))
print()
print("ratio cpu_per_msg go/esmeload: %.2f" % (go["us_per_msg"] / e["us_per_msg"]))
print("ratio cpu_per_msg esmeload/limit: %.2f" % (e["us_per_msg"] / lim["us_per_msg"]))
print("ratio cpu_per_msg esmeload/floor_with_reads: %.2f" % (e["us_per_msg"] / flo["us_per_msg"]))
print("ratio cpu_per_msg esmeload growing/hold: %.2f" % (grow["esmeload"]["us_per_msg"] / e["us_per_msg"]))
print("ratio cpu_per_msg go/esmeload growing: %.2f" % (grow["go"]["us_per_msg"] / grow["esmeload"]["us_per_msg"]))
print("max msgs_per_s per tester core: %.0f" % top_probe["per_core"])
PY
