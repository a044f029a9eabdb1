#!/usr/bin/env bash
# bench/serve_threads.sh: what serve's second thread costs. bench/serve.sh's
# throughput series (full fan-out, --gate delivered) with serve on
# --threads 1 and on --threads 2, in alternating runs (ABBA pairs, so
# neither one always goes first), serve and client both free to use every
# CPU. The figure is messages per CPU-second of serve: the ratio
# 2 threads / 1 thread is 1.0 when a thread costs nothing; the share of
# user_message frames that crossed threads (messages.sent_cross_thread /
# messages.sent) says how much of the work went through the queues.
#
#   bench/serve_threads.sh           (about 30 s a run; PAIRS [3])
#
# Environment: PAIRS [3], CPUS [0-1] (taskset list for serve and client),
# and bench/serve.sh's CHATS, WINDOW, WARMUP, MEASURE.
set -euo pipefail
cd "$(dirname "$0")/.."
PAIRS=${PAIRS:-3}
CPUS=${CPUS:-0-1}
out=$(mktemp -d /tmp/serve_threads.XXXXXX)
trap 'rm -rf "$out"' EXIT

one() {  # threads, run label
	MEMORY=0 RUNS=1 ECHO_WINDOW=0 SERVE_CPU=$CPUS CLIENT_CPU=$CPUS \
		SERVE_ARGS="--threads $1" bench/serve.sh >"$out/$2" 2>&1 || {
		echo "serve_threads.sh: bench/serve.sh --threads $1 failed:" >&2
		tail -5 "$out/$2" >&2
		exit 1
	}
	local line
	line=$(grep '^run 1:' "$out/$2")
	echo "threads $1 $2: ${line#run 1: }"
	echo "$line" | awk '{ for (i = 1; i < NF; i++) if ($i == "msgs_per_cpu_s") print $(i + 1) }' >>"$out/t$1"
	echo "$line" | awk '{ for (i = 1; i < NF; i++) if ($i == "cross_thread_pct") print $(i + 1) }' >>"$out/x$1"
}

echo "# serve threads: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(uname -r), nproc $(nproc), tree $(git rev-parse --short HEAD 2>/dev/null || echo '?'), CPUs $CPUS, $PAIRS pairs"
for ((p = 1; p <= PAIRS; p++)); do
	if ((p % 2)); then
		one 1 "pair$p-a"; one 2 "pair$p-b"
	else
		one 2 "pair$p-a"; one 1 "pair$p-b"
	fi
done
med() { sort -g "$1" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
m1=$(med "$out/t1") m2=$(med "$out/t2") x2=$(med "$out/x2")
echo "median msgs_per_cpu_s: threads 1 $m1, threads 2 $m2; cross-thread share at 2 threads $x2%"
awk -v a="$m2" -v b="$m1" 'BEGIN { printf "ratio msgs_per_cpu_s threads 2/1: %.3f (target >= 0.9)\n", a / b }'
