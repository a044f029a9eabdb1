#!/bin/sh
# Run one fuzz target: tests/fuzz/run.sh BIN NAME SECONDS WORKDIR
#  1. replay tests/fuzz/crashes/NAME-* (reproducers of findings: they must
#     not crash any more once fixed);
#  2. fuzz for SECONDS on WORKDIR/corpus/NAME, a copy of the seed corpus
#     tests/fuzz/corpus/NAME (new inputs stay there, the tree stays clean),
#     with tests/fuzz/NAME.dict when present;
#  3. print one summary line (execs, coverage) and append it to
#     WORKDIR/summary.txt. Exit status 1 if anything crashed.
# New crashes land in WORKDIR/artifacts/NAME-crash-<sha1>; the fuzzer's log
# is WORKDIR/logs/NAME.log. FUZZ_KEEP_GOING=1 runs libFuzzer's fork mode
# with -ignore_crashes=1, to go on fuzzing past a known finding (the run
# still fails when anything crashed).
set -u
bin=$1 name=$2 secs=$3 work=$4
corpus=$work/corpus/$name
mkdir -p "$corpus" "$work/artifacts" "$work/logs"
cp -f tests/fuzz/corpus/"$name"/* "$corpus"/ 2>/dev/null || true
log=$work/logs/$name.log
fail=0

repro=$(ls tests/fuzz/crashes/"$name"-* 2>/dev/null || true)
if [ -n "$repro" ]; then
	# shellcheck disable=SC2086
	if ! "$bin" -runs=1 $repro >"$work/logs/$name.replay.log" 2>&1; then
		echo "fuzz $name: a reproducer in tests/fuzz/crashes still crashes (see $work/logs/$name.replay.log)" >&2
		fail=1
	fi
fi

dict=
[ -f tests/fuzz/"$name".dict ] && dict=-dict=tests/fuzz/"$name".dict
keep=
[ "${FUZZ_KEEP_GOING:-0}" = 1 ] && keep="-fork=1 -ignore_crashes=1"
before=$(ls "$work/artifacts" | grep -c "^$name-" || true)
# shellcheck disable=SC2086
"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	-print_final_stats=1 -artifact_prefix="$work/artifacts/$name-" \
	$keep $dict "$corpus" >"$log" 2>&1
rc=$?
after=$(ls "$work/artifacts" | grep -c "^$name-" || true)
[ "$after" != "$before" ] && [ $rc -eq 0 ] && rc=1
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
[ -z "$execs" ] && execs=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#')
cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
units=$(ls "$corpus" | wc -l)
line="$name: ${secs}s execs=${execs:-?} cov=${cov:-?} ft=${ft:-?} corpus=$units rc=$rc"
echo "fuzz $line"
echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $line" >>"$work/summary.txt"
if [ $rc -ne 0 ]; then
	echo "fuzz $name: CRASH, see $log and $work/artifacts/$name-*" >&2
	grep -A12 '^==[0-9]*==ERROR\|deadly signal\|SUMMARY' "$log" | head -40 >&2
	fail=1
fi
exit $fail
