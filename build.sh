#!/usr/bin/env bash
# esmeload build entry point, for a fresh Debian 12 machine.
#   ./build.sh          install what is missing, build build/esmeload
#   ./build.sh test     ... then run every test (ends with "N passed, N failed")
#   ./build.sh asan     ... then run every test under AddressSanitizer + UBSan
#   ./build.sh demo     ... then run the default scenario
set -euo pipefail
cd "$(dirname "$0")"

# Debian packages the build and the tests need. Checked one by one so a
# machine that has them all never touches apt.
PKGS=(gcc clang make pkg-config liburing-dev libbearssl-dev libwslay-dev
      libjsmn-dev curl python3 python3-websockets procps)

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
case "${1:-build}" in
build) make -j"$jobs" ;;
test)  make -j"$jobs" all && make test ;;
asan)  make -j"$jobs" BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
	   EXTRA_CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all" \
	   EXTRA_LDFLAGS="-fsanitize=address,undefined" all && make asan ;;
demo)  make -j"$jobs" && shift && exec build/esmeload "$@" ;;
*) echo "usage: ./build.sh [build|test|asan|demo]" >&2; exit 2 ;;
esac
