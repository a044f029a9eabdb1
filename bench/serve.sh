#!/usr/bin/env bash
# bench/serve.sh: how many messages per second `esmeload serve` sustains with
# fan-out on one core, and how much memory an idle authorized WebSocket
# connection costs it. Results and method: bench/SERVE_RESULTS.md.
#
#   bench/serve.sh            (from anywhere; about 90 s)
#
# Environment (defaults in brackets):
#   CHATS [256]               chats (participants) of the throughput runs
#   WINDOW [4]                messages outstanding per participant, where a
#                             message is outstanding until its echo AND the
#                             organizer's copy arrived (serve_load --gate
#                             delivered): the headline series
#   ECHO_WINDOW [8]           the same, freed by the echo alone (--gate
#                             echo): a second series that shows what serve
#                             drops for the organizer; 0 skips it
#   WARMUP [2] MEASURE [8]    seconds of warm-up, then of measurement
#   RUNS [3]                  runs per series; medians are reported
#   IDLE_CONNS [5000]         connections of the memory test
#   SERVE_CPU [0] CLIENT_CPU [1]  taskset CPU lists (e.g. 0-1: serve
#                             may use both; serve's --threads defaults to
#                             the CPUs it may use)
#   MEMORY [1]                0 skips the memory test
#   ESMELOAD [build/esmeload] SERVE_ARGS []   extra options for serve
#
# Throughput: serve (pinned to SERVE_CPU) and bench/serve_load (pinned to
# CLIENT_CPU) on 127.0.0.1. CHATS participants each keep WINDOW messages in
# flight; every message is stored and pushed to the participant (its echo)
# and to the one organizer (the fan-out). Over the measurement window:
#   msgs/s   = delta of /stats messages.stored / elapsed
#   cpu      = delta of serve's utime+stime (/proc/PID/stat) / elapsed
#   per core = msgs/s / cpu: messages per CPU-second of serve, which does
#              not depend on serve getting the whole core on a shared box.
# Memory: a fresh serve; VmRSS and RssAnon after IDLE_CONNS participants
# have signed up, and again once they all hold an authorized WebSocket
# (serve's /stats says so); the difference divided by IDLE_CONNS. Kernel
# socket memory is not in RSS: /proc/net/sockstat "TCP: mem" (pages, both
# ends of every connection) and /proc/meminfo Slab are reported beside it.
set -euo pipefail

cd "$(dirname "$0")/.."
CHATS=${CHATS:-256}
WINDOW=${WINDOW:-4}
ECHO_WINDOW=${ECHO_WINDOW:-8}
WARMUP=${WARMUP:-2}
MEASURE=${MEASURE:-8}
RUNS=${RUNS:-3}
IDLE_CONNS=${IDLE_CONNS:-5000}
MEMORY=${MEMORY:-1}
SERVE_CPU=${SERVE_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
ESMELOAD=${ESMELOAD:-build/esmeload}
SERVE_ARGS=${SERVE_ARGS:-}
CLIENT=build/bench/serve_load
HZ=$(getconf CLK_TCK)
PAGE=$(getconf PAGESIZE)

make -s -f bench/Makefile >&2
if [ "$ESMELOAD" = build/esmeload ] && ! make -s build/esmeload >&2; then
	# Other modules may be mid-edit; an existing binary still measures.
	[ -x build/esmeload ] || exit 1
	echo "serve.sh: make build/esmeload failed; using the existing binary" >&2
fi

need_fds=$((IDLE_CONNS + 64))
if [ "$(ulimit -n)" -lt "$need_fds" ]; then
	ulimit -n "$need_fds" 2>/dev/null || {
		echo "serve.sh: the client needs $need_fds descriptors (ulimit -n is $(ulimit -n))" >&2
		exit 1
	}
fi

tmp=$(mktemp -d /tmp/serve_bench.XXXXXX)
pids=()
cleanup() {
	exec 3>&- 2>/dev/null || true
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# Every run uses this copy, even if build/esmeload is rebuilt meanwhile.
cp "$ESMELOAD" "$tmp/esmeload"

# wait_line FILE PATTERN SECONDS: until FILE has a line matching PATTERN.
wait_line() {
	local i
	for ((i = 0; i < $3 * 20; i++)); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "serve.sh: timed out waiting for '$2' in $1" >&2
	sed 's/^/  /' "$1" "${1%.out}.err" >&2 2>/dev/null || true
	return 1
}

start_serve() {
	rm -f "$tmp/config.json"
	# shellcheck disable=SC2086
	taskset -c "$SERVE_CPU" "$tmp/esmeload" serve --host 127.0.0.1 \
		--organizer-port 0 --participant-port 0 --messenger-port 0 \
		--write-config "$tmp/config.json" --quiet $SERVE_ARGS \
		>"$tmp/serve.out" 2>"$tmp/serve.err" &
	SERVE_PID=$!
	pids+=("$SERVE_PID")
	wait_line "$tmp/config.json" messenger_ws_url 5
}

stop_serve() {
	kill -TERM "$SERVE_PID"
	wait "$SERVE_PID" || echo "serve.sh: serve exited with $?" >&2
}

# stat NAME: a value of the last /stats sample (flattened by serve_load).
sv() {
	awk -v k="$1" '$1 == k { print $2 }' "$tmp/stats"
}
sample_stats() {
	taskset -c "$CLIENT_CPU" "$CLIENT" stats --config "$tmp/config.json" >"$tmp/stats"
}
# serve's CPU ticks (utime + stime of all its threads); fields after "comm)".
cpu_ticks() {
	sed 's/.*) //' "/proc/$SERVE_PID/stat" | awk '{ print $12 + $13 }'
}
# CPU SERVE_CPU's busy ticks from /proc/stat (all time but idle and iowait):
# it includes softirq time that may not be charged to any process.
core_busy() {
	case $SERVE_CPU in
	*[!0-9]*) echo 0 ;;  # several CPUs: not measured
	*) awk -v c="cpu$SERVE_CPU" '$1 == c { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat ;;
	esac
}
# serve's main thread: nanoseconds on CPU plus waiting to run (schedstat).
# Its rate is 1.0 when serve never sleeps for want of work: saturated.
sched_ns() {
	awk '{ printf "%.0f\n", $1 + $2 }' "/proc/$SERVE_PID/schedstat"
}
# voluntary context switches of all of serve's threads: a thread that
# sleeps (on the lock, or for want of work) switches once each time.
vcs() {
	cat /proc/"$SERVE_PID"/task/*/status 2>/dev/null |
		awk '$1 == "voluntary_ctxt_switches:" { n += $2 } END { print n + 0 }'
}
status_kb() {
	awk -v k="$1:" '$1 == k { print $2 }' "/proc/$SERVE_PID/status"
}

median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

echo "# esmeload serve benchmark: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(uname -r), nproc $(nproc)"
echo "# serve: $ESMELOAD, built $(date -u -r "$ESMELOAD" +%Y-%m-%dT%H:%M:%SZ), sha256 $(sha256sum <"$ESMELOAD" | cut -c1-16); tree $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git status --porcelain src/serve include 2>/dev/null | grep -q . && echo ' (src/serve or include modified)' || true)"
echo "# throughput: chats $CHATS, warm-up ${WARMUP}s, measure ${MEASURE}s, $RUNS runs per series; serve on CPU $SERVE_CPU, client on CPU $CLIENT_CPU"

# run_series GATE WINDOW: RUNS runs; sets MED_RATE, MED_CPU, MED_CORE,
# MED_DROP (organizer copies dropped, % of messages).
run_series() {
	local gate=$1 window=$2 run rates=() cpus=() percore=() drops=()
	local c0 c1 b0 b1 q0 q1 t0 t1 s0 s1 d0 d1 x0 x1
	local rate cpu core busy runnable deliv drop droppct k0 k1 crosspct v0 v1 vcs_s
	echo "# gate $gate: chats $CHATS, window $window"
	for ((run = 1; run <= RUNS; run++)); do
		start_serve
		: >"$tmp/load.out"
		taskset -c "$CLIENT_CPU" "$CLIENT" load --config "$tmp/config.json" \
			--chats "$CHATS" --window "$window" --gate "$gate" \
			--duration $((WARMUP + MEASURE + 1)) \
			>"$tmp/load.out" 2>"$tmp/load.err" &
		LOAD_PID=$!
		pids+=("$LOAD_PID")
		wait_line "$tmp/load.out" '^load_start' 30
		sleep "$WARMUP"

		c0=$(cpu_ticks)
		b0=$(core_busy)
		q0=$(sched_ns)
		sample_stats
		t0=$(sv time.monotonic_s)
		s0=$(sv messages.stored)
		d0=$(sv messages.sent)
		x0=$(sv messages.dropped)
		k0=$(sv messages.sent_cross_thread)
		v0=$(vcs)
		sleep "$MEASURE"
		c1=$(cpu_ticks)
		b1=$(core_busy)
		q1=$(sched_ns)
		sample_stats
		t1=$(sv time.monotonic_s)
		s1=$(sv messages.stored)
		d1=$(sv messages.sent)
		x1=$(sv messages.dropped)
		k1=$(sv messages.sent_cross_thread)
		v1=$(vcs)

		wait "$LOAD_PID" || echo "serve.sh: serve_load exited with $?" >&2
		stop_serve
		read -r rate cpu core busy runnable deliv drop droppct < <(awk \
			-v t0="$t0" -v t1="$t1" -v s0="$s0" -v s1="$s1" \
			-v c0="$c0" -v c1="$c1" -v hz="$HZ" -v b0="$b0" -v b1="$b1" \
			-v q0="$q0" -v q1="$q1" -v d0="$d0" -v d1="$d1" \
			-v x0="$x0" -v x1="$x1" 'BEGIN {
			dt = t1 - t0; rate = (s1 - s0) / dt; cpu = (c1 - c0) / hz / dt
			pct = 0
			if (s1 > s0)
				pct = 100 * (x1 - x0) / (s1 - s0)
			printf "%.0f %.3f %.0f %.3f %.3f %.0f %.0f %.1f\n", rate, cpu,
				rate / cpu, (b1 - b0) / hz / dt, (q1 - q0) / 1e9 / dt,
				(d1 - d0) / dt, (x1 - x0) / dt, pct }')
		crosspct=$(awk -v k0="${k0:-0}" -v k1="${k1:-0}" -v d0="$d0" -v d1="$d1" \
			'BEGIN { printf "%.1f", (d1 > d0) ? 100 * (k1 - k0) / (d1 - d0) : 0 }')
		vcs_s=$(awk -v a="$v0" -v b="$v1" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.0f", (b - a) / (t1 - t0) }')
		rates+=("$rate")
		cpus+=("$cpu")
		percore+=("$core")
		drops+=("$droppct")
		echo "run $run: msgs_stored_per_s $rate serve_cpu $cpu msgs_per_cpu_s $core serve_runnable $runnable cpu${SERVE_CPU}_busy $busy user_messages_delivered_per_s $deliv dropped_per_s $drop dropped_pct $droppct cross_thread_pct $crosspct serve_vcs_per_s $vcs_s"
		echo "run $run client: $(grep '^{' "$tmp/load.out" || echo none)"
		if [ -s "$tmp/load.err" ]; then
			sed "s/^/run $run client stderr: /" "$tmp/load.err" | head -5
		fi
	done
	MED_RATE=$(median "${rates[@]}")
	MED_CPU=$(median "${cpus[@]}")
	MED_CORE=$(median "${percore[@]}")
	MED_DROP=$(median "${drops[@]}")
	echo "median ($gate): msgs_stored_per_s $MED_RATE serve_cpu $MED_CPU msgs_per_cpu_s $MED_CORE dropped_pct $MED_DROP"
}

run_series delivered "$WINDOW"
FULL_CORE=$MED_CORE
FULL_DROP=$MED_DROP
FULL_CPU=$MED_CPU
if [ "$ECHO_WINDOW" -gt 0 ]; then
	run_series echo "$ECHO_WINDOW"
	ECHO_CORE=$MED_CORE
	ECHO_DROP=$MED_DROP
fi

if [ "$MEMORY" = 0 ]; then
	echo "serve msgs_per_s_one_core: $FULL_CORE"
	exit 0
fi
# ---- memory per idle authorized WebSocket connection ----
start_serve
rss_start=$(status_kb VmRSS)
rm -f "$tmp/ctl"
mkfifo "$tmp/ctl"
: >"$tmp/idle.out"
taskset -c "$CLIENT_CPU" "$CLIENT" idle --config "$tmp/config.json" \
	--conns "$IDLE_CONNS" <"$tmp/ctl" >"$tmp/idle.out" 2>"$tmp/idle.err" &
IDLE_PID=$!
pids+=("$IDLE_PID")
exec 3>"$tmp/ctl"
wait_line "$tmp/idle.out" '^signed_up' 60
sleep 0.2
rss1=$(status_kb VmRSS)
anon1=$(status_kb RssAnon)
tcp1=$(awk '$1 == "TCP:" { for (i = 2; i < NF; i++) if ($i == "mem") print $(i + 1) }' /proc/net/sockstat)
slab1=$(awk '$1 == "Slab:" { print $2 }' /proc/meminfo)
echo go >&3
wait_line "$tmp/idle.out" '^ready' 60
sleep 0.5
rss2=$(status_kb VmRSS)
anon2=$(status_kb RssAnon)
tcp2=$(awk '$1 == "TCP:" { for (i = 2; i < NF; i++) if ($i == "mem") print $(i + 1) }' /proc/net/sockstat)
slab2=$(awk '$1 == "Slab:" { print $2 }' /proc/meminfo)
sample_stats
conns=$(sv connections.participant)
echo done >&3
exec 3>&-
wait "$IDLE_PID" || echo "serve.sh: serve_load idle exited with $?" >&2
stop_serve

read -r per_rss per_anon per_tcp per_slab acct < <(awk -v n="$IDLE_CONNS" \
	-v r1="$rss1" -v r2="$rss2" -v a1="$anon1" -v a2="$anon2" \
	-v t1="$tcp1" -v t2="$tcp2" -v p="$PAGE" -v s1="$slab1" -v s2="$slab2" \
	-v r0="$rss_start" 'BEGIN {
	printf "%.0f %.0f %.1f %.0f %.0f\n", (r2 - r1) * 1024 / n,
		(a2 - a1) * 1024 / n, (t2 - t1) * p / n, (s2 - s1) * 1024 / n,
		(r1 - r0) * 1024 / n }')
echo "memory: $IDLE_CONNS idle authorized connections (serve counts $conns); serve VmRSS ${rss_start} kB at start, ${rss1} kB after sign-ups, ${rss2} kB connected; RssAnon ${anon1} -> ${anon2} kB"
echo "memory per connection: VmRSS $per_rss B, RssAnon $per_anon B; kernel (not in RSS, both ends, whole machine): sockstat TCP mem $per_tcp B, Slab $per_slab B; a participant account (sign-up) $acct B"
if [ "$ECHO_WINDOW" -gt 0 ]; then
	echo "serve msgs_per_s_one_core_echo_gated: $ECHO_CORE (organizer copies dropped: $ECHO_DROP%)"
fi
echo "serve msgs_per_s_one_core: $FULL_CORE"
if awk -v c="$FULL_CPU" 'BEGIN { exit !(c < 0.8) }'; then
	echo "serve.sh: warning: serve got only $FULL_CPU of CPU $SERVE_CPU while runnable (other load on it?); per-core figures are then unreliable" >&2
fi
if [ "$FULL_DROP" != 0.0 ]; then
	echo "serve.sh: warning: serve dropped $FULL_DROP% of the organizer's copies in the delivered-gated runs" >&2
fi
echo "serve bytes_per_idle_ws_conn: $per_rss"
