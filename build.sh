#!/usr/bin/env bash
# esmeload build entry point, for a fresh Debian 12 machine.
#   ./build.sh          install what is missing, build build/esmeload
#   ./build.sh test     ... then run every test: once as built and, beside
#                       it, once under AddressSanitizer + UBSan (+ LSan);
#                       then the fuzz targets briefly; ends with "N passed,
#                       N failed"
#   ./build.sh asan     ... only the sanitizer pass
#   ./build.sh fuzz     ... only the short fuzz pass (FUZZ_SECONDS, default 5)
#   ./build.sh demo     ... then run `esmeload demo`: the default scenario
#                       against an embedded serve (extra arguments are its flags)
# ESMELOAD_DEB_TEST=1 ./build.sh test also builds the Debian package from a
# clone of HEAD and checks it (tests/integration/test_deb.sh).
# BUSY=1 ./build.sh test|asan runs the suites under tests/busy.sh: one
# CPU-bound loop per core competes with them (stopped when each ends), as
# on a machine busy with other work, where every test must still pass.
set -euo pipefail
cd "$(dirname "$0")"

# Debian packages the build and the tests need. Checked one by one so a
# machine that has them all never touches apt.
PKGS=(gcc clang make pkg-config liburing-dev libbearssl-dev libwslay-dev
      libjsmn-dev curl python3 python3-websockets python3-jsonschema python3-yaml procps
      valgrind chromium nginx-light openssl libclang-rt-14-dev groff-base)
# The package test (tests/integration/test_deb.sh) is opt-in: only then are
# the package tools installed.
[ "${ESMELOAD_DEB_TEST:-0}" = 1 ] && PKGS+=(debhelper dpkg-dev lintian git)

install_missing() {
	local missing=()
	for p in "${PKGS[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "build.sh: installing ${missing[*]}" >&2
	local sudo=
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_missing
jobs=$(nproc 2>/dev/null || echo 2)
SAN=(BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer"
     EXTRA_CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all"
     EXTRA_LDFLAGS="-fsanitize=address,undefined")
total_p=0 total_f=0 total_s=0
RUNNER=(tests/run.sh)
[ "${BUSY:-0}" = 1 ] && RUNNER=(tests/busy.sh)

# Run tests/run.sh for one build and add its closing counts to the totals.
# With a third argument, the output went to that file already (a suite run
# in the background): only its counts are read.
suite() {  # name build-dir [log]
	local log rc
	log=${3:-$(mktemp)}
	echo "=== $1"
	set +e
	if [ -n "${3:-}" ]; then
		cat "$log"
		rc=0
	else
		BUILD=$2 "${RUNNER[@]}" | tee "$log"
		rc=${PIPESTATUS[0]}
	fi
	set -e
	read -r p f s < <(tail -n 1 "$log" |
		sed -E 's/^([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped$/\1 \2 \3/')
	rm -f "$log"
	if [[ ! "$p $f $s" =~ ^[0-9]+\ [0-9]+\ [0-9]+$ ]]; then
		echo "build.sh: the $1 suite ended without its counts (exit $rc)"
		p=0 f=1 s=0
	fi
	total_p=$((total_p + p)) total_f=$((total_f + f)) total_s=$((total_s + s))
}

# The short fuzz pass: build every libFuzzer target, run each for
# FUZZ_SECONDS (default 5) on a copy of its seed corpus after replaying the
# reproducers in tests/fuzz/crashes; one PASS or FAIL per target counts in
# the totals. `make fuzz FUZZ_SECONDS=600` is the long run.
fuzz_pass() {
	local secs=${FUZZ_SECONDS:-5} t name
	echo "=== fuzz targets, ${secs} s each"
	if ! make -j"$jobs" fuzz-build >/tmp/esmeload-fuzz-build.$$ 2>&1; then
		tail -n 20 /tmp/esmeload-fuzz-build.$$
		echo "FAIL fuzz-build (see the compiler output above)"
		rm -f /tmp/esmeload-fuzz-build.$$
		total_f=$((total_f + 1))
		return 0
	fi
	rm -f /tmp/esmeload-fuzz-build.$$
	for t in tests/fuzz/fuzz_*.c; do
		name=${t#tests/fuzz/fuzz_} name=${name%.c}
		if tests/fuzz/run.sh build-fuzz/fuzz_"$name" "$name" "$secs" build-fuzz; then
			echo "PASS fuzz $name"
			total_p=$((total_p + 1))
		else
			echo "FAIL fuzz $name"
			total_f=$((total_f + 1))
		fi
	done
}

case "${1:-build}" in
build) make -j"$jobs" ;;
test)
	# Both builds first; then the two passes side by side (the suite
	# holds on a busy machine, see BUSY below), the sanitizer pass's
	# output shown once the plain one has ended.
	make -j"$jobs" all
	make -j"$jobs" "${SAN[@]}" all
	san_log=$(mktemp)
	BUILD=build-asan "${RUNNER[@]}" >"$san_log" 2>&1 &
	san_pid=$!
	suite "tests" build
	wait "$san_pid" || true
	suite "tests under ASan + UBSan + LSan" build-asan "$san_log"
	fuzz_pass
	echo "total: $total_p passed, $total_f failed, $total_s skipped"
	[ "$total_f" -eq 0 ]
	;;
asan)
	make -j"$jobs" "${SAN[@]}" all
	suite "tests under ASan + UBSan + LSan" build-asan
	echo "total: $total_p passed, $total_f failed, $total_s skipped"
	[ "$total_f" -eq 0 ]
	;;
demo)  make -j"$jobs" && shift && exec build/esmeload demo "$@" ;;
fuzz)
	fuzz_pass
	echo "total: $total_p passed, $total_f failed, $total_s skipped"
	[ "$total_f" -eq 0 ]
	;;
*) echo "usage: ./build.sh [build|test|asan|fuzz|demo]" >&2; exit 2 ;;
esac
