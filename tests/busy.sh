#!/usr/bin/env bash
# Runs a command (default: tests/run.sh, with the arguments given) while
# CPU-bound loops keep every core busy, as on a machine shared with other
# work: the suite must pass there too, since no test may depend on an idle
# machine.
#   tests/busy.sh                        the whole suite, BUILD as usual
#   BUILD=build-asan tests/busy.sh hostile   only what matches "hostile"
#   tests/busy.sh -- CMD ARGS...         any other command
# BUSY_HOGS=N sets the number of loops (default: one per core, nproc).
# The loops, and the command's whole process group, are stopped however
# this script ends (normal exit, Ctrl-C, SIGTERM); its exit status is the
# command's.
set -u
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--" ]; then
	shift
	cmd=("$@")
else
	cmd=(tests/run.sh "$@")
fi
n=${BUSY_HOGS:-$(nproc 2>/dev/null || echo 2)}
case "$n" in
'' | *[!0-9]*) echo "tests/busy.sh: BUSY_HOGS=$n is not a number" >&2; exit 2 ;;
esac

hogs=()
child=
stop() {
	local p
	[ -n "$child" ] && kill -TERM -- "-$child" 2>/dev/null
	for p in "${hogs[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${hogs[@]}"; do
		wait "$p" 2>/dev/null
	done
	hogs=()
}
trap stop EXIT
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM

for _ in $(seq "$n"); do
	(while :; do :; done) &
	hogs+=($!)
done
echo "tests/busy.sh: $n CPU-bound loops running (pids ${hogs[*]}) during: ${cmd[*]}"

# Its own process group, so that a signal here stops all of it (run.sh,
# timeout, the test scripts and their servers), not only its leader.
set -m
"${cmd[@]}" &
child=$!
set +m
wait "$child"
rc=$?
child=
exit "$rc"
