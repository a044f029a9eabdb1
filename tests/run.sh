#!/usr/bin/env bash
# Runs every test and ends with "N passed, N failed, N skipped".
# Unit test binaries (build/tests/test_*) and integration scripts
# (tests/integration/test_*.py, test_*.sh) print one "PASS|FAIL|SKIP name" line
# per case; anything else they print is passed through. A binary or script that
# exits non-zero without reporting a failure counts as one failure, and each
# has a time bound so a hang fails instead of stalling CI (the time each
# took is printed beside its bound). tests/busy.sh runs this with every core
# kept busy, as on a shared machine.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export ESMELOAD=${ESMELOAD:-$PWD/$BUILD/esmeload}
# Integration tests use Debian's python3 (python3-websockets), whatever PATH says.
PY=/usr/bin/python3
pass=0 fail=0 skip=0
failed_names=()
# timeout puts each test in a process group of its own, which a signal to
# this script's group does not reach: pass SIGINT/SIGTERM on to it (it
# passes them to the test, whose cleanup stops its servers).
current=
stop() {
	[ -n "$current" ] && kill -TERM "$current" 2>/dev/null && wait "$current" 2>/dev/null
	exit "$1"
}
trap 'stop 130' INT
trap 'stop 143' TERM

run_one() {  # name, time bound in seconds, command...
	local name=$1 bound=$2; shift 2
	local out rc t0=$SECONDS
	out=$(mktemp)
	timeout -k 5 "$bound" "$@" >"$out" 2>&1 </dev/null &
	current=$!
	wait "$current"
	rc=$?
	current=
	local p f s
	p=$(grep -c '^PASS ' "$out") f=$(grep -c '^FAIL ' "$out") s=$(grep -c '^SKIP ' "$out")
	grep -E '^(PASS|FAIL|SKIP) ' "$out" | sed 's/^/  /'
	if [ "$f" -gt 0 ] || { [ $rc -ne 0 ] && [ $rc -ne 77 ]; }; then
		grep -vE '^(PASS|SKIP) ' "$out" | tail -n 40 | sed 's/^/  | /'
	fi
	if [ $rc -ne 0 ] && [ "$f" -eq 0 ] && [ $rc -ne 77 ]; then
		echo "  FAIL $name (exit $rc$([ $rc -eq 124 ] && echo ', timed out'))"
		f=1
	fi
	[ "$f" -gt 0 ] && failed_names+=("$name")
	echo "  ($((SECONDS - t0)) s, bound $bound s)"
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
	rm -f "$out"
}

filter=${1:-}
for t in "$BUILD"/tests/test_*; do
	[ -x "$t" ] || continue
	case "$t" in *"$filter"*) ;; *) continue ;; esac
	echo "== $(basename "$t")"
	run_one "$(basename "$t")" 120 "$t"
done
for t in tests/integration/test_*.py tests/integration/test_*.sh; do
	[ -f "$t" ] || continue
	case "$t" in *"$filter"*) ;; *) continue ;; esac
	echo "== $t"
	case "$t" in
	*.py) run_one "$t" 300 "$PY" "$t" ;;
	*.sh) run_one "$t" 300 bash "$t" ;;
	esac
done
[ ${#failed_names[@]} -gt 0 ] && echo "failed: ${failed_names[*]}"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
