#!/usr/bin/env bash
# One whole run of the tester under valgrind memcheck: the embedded
# scenario (`esmeload demo`: it starts its own serve), until its time series shows
# messages sent (valgrind makes the start slow, a busy machine slower),
# then SIGINT, as a user ends a run. Any invalid access, use of
# uninitialised memory or definite leak fails it.
#
# (valgrind runs the tester's threads one at a time, many times slower: a
# participant on one thread may give up on its chat before the organizer
# on the other has signed in, which is a timing error, not a memory one, so
# --max-errors lets the run go on past it.)
set -u
ESMELOAD=${ESMELOAD:-build/esmeload}
ESME_PY=$(cd "$(dirname "$0")" && pwd)/esme.py
case "$ESMELOAD" in
*asan*) echo "SKIP valgrind_run: the sanitizer build cannot run under valgrind"; exit 0 ;;
esac
if ! command -v valgrind >/dev/null; then
	echo "SKIP valgrind_run: valgrind is not installed"
	exit 0
fi
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
ESMELOAD=$(readlink -f "$ESMELOAD")
cd "$d"
timeout -k 5 240 valgrind --error-exitcode=9 --leak-check=full \
	--errors-for-leak-kinds=definite -q "$ESMELOAD" demo --duration 30s --quiet \
	--max-errors 100000 \
	>out.txt 2>err.txt &
vg=$!
for _ in $(seq 1200); do   # 0.1 s steps: 120 s at most
	grep -qs '"sent": *[1-9]' ./*_performance_test_timeseries.jsonl && break
	kill -0 "$vg" 2>/dev/null || break
	sleep 0.1
done
# To valgrind (timeout's child), not to timeout: a signal to timeout would
# start its -k countdown, and valgrind's exit (the leak check) takes time.
for p in $(pgrep -P "$vg"); do kill -INT "$p" 2>/dev/null; done
wait "$vg"
rc=$?
if [ $rc -eq 0 ] && ls ./*_performance_test_summary.json >/dev/null 2>&1 &&
   grep -q '"messages_sent": [1-9]' ./*_performance_test_summary.json &&
   PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 "$ESME_PY" check-summary ./*_performance_test_summary.json; then
	echo "PASS valgrind_run"
else
	echo "FAIL valgrind_run: exit $rc"
	head -40 err.txt
	exit 1
fi
