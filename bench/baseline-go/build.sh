#!/usr/bin/env bash
# bench/baseline-go/build.sh: build the Go baseline (docs/protocol.md §5's tool) into
# build/bench/esme-go, offline, from Debian's packages only:
#   golang-go                              the compiler
#   golang-github-gorilla-websocket-dev    gorilla/websocket, under
#                                          /usr/share/gocode/src
# GOPATH mode (GO111MODULE=off) finds the library there; GOPROXY=off and
# GOFLAGS= make sure nothing is fetched. The build cache lives in the build
# directory, so a root-owned or read-only $HOME does not matter.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
BUILD=${BUILD:-$top/build}
case $BUILD in /*) ;; *) BUILD=$top/$BUILD ;; esac
lib=/usr/share/gocode/src/github.com/gorilla/websocket
if ! command -v go >/dev/null || [ ! -d "$lib" ]; then
	# Only the benchmarks need Go: installed here, not by build.sh.
	sudo=
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	echo "baseline-go/build.sh: installing golang-go and" \
		"golang-github-gorilla-websocket-dev" >&2
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
		--no-install-recommends golang-go \
		golang-github-gorilla-websocket-dev >/dev/null
fi
mkdir -p "$BUILD/bench" "$BUILD/bench/go-cache"
cd "$here"
GOPATH=/usr/share/gocode GO111MODULE=off GOPROXY=off GOFLAGS='' \
	GOCACHE="$BUILD/bench/go-cache" CGO_ENABLED=0 \
	go build -trimpath -o "$BUILD/bench/esme-go" main.go
echo "built $BUILD/bench/esme-go ($(go version | cut -d' ' -f3))"
