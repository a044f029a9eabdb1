#!/usr/bin/env bash
# One whole run of the tester under valgrind memcheck: the embedded
# scenario (`esmeload demo`: it starts its own serve), 3 seconds. Any invalid access,
# use of uninitialised memory or definite leak fails it.
set -u
ESMELOAD=${ESMELOAD:-build/esmeload}
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
timeout -k 5 120 valgrind --error-exitcode=9 --leak-check=full \
	--errors-for-leak-kinds=definite -q "$ESMELOAD" demo --duration 3s --quiet \
	>out.txt 2>err.txt
rc=$?
if [ $rc -eq 0 ] && ls ./*_performance_test_summary.json >/dev/null 2>&1 &&
   grep -q '"messages_sent": [1-9]' ./*_performance_test_summary.json; then
	echo "PASS valgrind_run"
else
	echo "FAIL valgrind_run: exit $rc"
	head -40 err.txt
	exit 1
fi
