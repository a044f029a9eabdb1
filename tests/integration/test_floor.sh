#!/usr/bin/env bash
# bench/run.sh's floors in the suite: builds bench/limit (limit, discard,
# sink) into $BUILD/bench and runs bench/limit/check.py on them (the sink
# answers every frame with an echo and an organizer copy, limit --reads
# reads and counts them all, a silent target leaves the counts at 0).
# Prints the PASS/FAIL lines of check.py (see tests/run.sh).
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
if ! make -s -f bench/limit/Makefile BUILD="$BUILD" >/dev/null; then
	echo "FAIL floor.build: make -f bench/limit/Makefile"
	exit 1
fi
exec timeout 120 /usr/bin/python3 bench/limit/check.py "$BUILD"
