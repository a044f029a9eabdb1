#!/usr/bin/env bash
# The Debian package, built as a user would from a clean checkout: a
# `git clone` of this tree's HEAD into a temporary directory, then
# `dpkg-buildpackage -us -uc -b` there. The .deb is unpacked with `dpkg -x`
# into a temporary root (nothing is installed on this machine) and checked:
#   deb_build      ../esmeload_<VERSION>_<arch>.deb is built, and the
#                  build leaves the checkout clean (git status)
#   deb_version    the packaged binary's --version is VERSION's
#   deb_files      the man page (renders, names every command), the bash
#                  completion, README, copyright and changelog are there
#   deb_depends    dpkg-deb -I: Depends on the shared libraries the binary
#                  links (liburing, BearSSL, libc) and Version = VERSION
#   deb_lintian    lintian --pedantic -I reports no tag (SKIP without lintian)
#
# Opt-in: it builds the whole tree again (a minute or more on a busy
# machine), so it runs only with ESMELOAD_DEB_TEST=1 (then build.sh also
# installs debhelper, dpkg-dev and lintian); otherwise it prints SKIP and
# the reason. The package is the same whichever build is under test, so the
# sanitizer pass (ESMELOAD in build-asan/) skips it too.
set -u
cd "$(dirname "$0")/../.."
REPO=$PWD

if [ "${ESMELOAD_DEB_TEST:-0}" != 1 ]; then
	echo "SKIP deb_package: opt-in, it rebuilds the tree as a package; run with ESMELOAD_DEB_TEST=1 (needs debhelper, dpkg-dev, lintian)"
	exit 0
fi
case "${ESMELOAD:-}" in
*/build-asan/*)
	echo "SKIP deb_package: the package does not depend on the build under test; it runs in the plain suite"
	exit 0 ;;
esac
missing=
command -v dpkg-buildpackage >/dev/null || missing="$missing dpkg-dev"
command -v dh >/dev/null || missing="$missing debhelper"
command -v git >/dev/null || missing="$missing git"
if [ -n "$missing" ]; then
	echo "SKIP deb_package: the package build needs Debian's$missing (apt-get install$missing)"
	exit 0
fi

T=$(mktemp -d /tmp/esme-deb.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; fails=$((fails + 1)); }

VERSION=$(head -n 1 VERSION)
ARCH=$(dpkg --print-architecture)
DEB=$T/esmeload_${VERSION}_${ARCH}.deb
echo "building the package of HEAD $(git rev-parse --short HEAD) (uncommitted changes are not in it)"

# --- deb_build
if ! git clone -q "$REPO" "$T/esmeload" 2>"$T/clone.log"; then
	fail deb_build "git clone: $(tail -n 3 "$T/clone.log")"
	exit 1
fi
if ! (cd "$T/esmeload" && dpkg-buildpackage -us -uc -b) >"$T/build.log" 2>&1; then
	tail -n 30 "$T/build.log"
	fail deb_build "dpkg-buildpackage -us -uc -b failed (its last lines above)"
	exit 1
fi
dirty=$(cd "$T/esmeload" && git status --porcelain)
if [ ! -f "$DEB" ]; then
	fail deb_build "no $(basename "$DEB") beside the checkout: $(ls "$T" | tr "\n" " ")"
	exit 1
elif [ -n "$dirty" ]; then
	fail deb_build "the package build left files git does not ignore: $dirty"
else
	pass deb_build
fi

ROOT=$T/root
dpkg -x "$DEB" "$ROOT"

# --- deb_version
got=$("$ROOT/usr/bin/esmeload" --version 2>&1)
if [ "$got" = "esmeload $VERSION" ]; then
	pass deb_version
else
	fail deb_version "usr/bin/esmeload --version printed '$got', not 'esmeload $VERSION'"
fi

# --- deb_files
bad=
for f in usr/share/man/man1/esmeload.1.gz usr/share/bash-completion/completions/esmeload \
	usr/share/doc/esmeload/README.md.gz usr/share/doc/esmeload/copyright \
	usr/share/doc/esmeload/changelog.gz; do
	[ -s "$ROOT/$f" ] || bad="$bad missing:$f"
done
if [ -z "$bad" ]; then
	page=$(zcat "$ROOT/usr/share/man/man1/esmeload.1.gz" | LC_ALL=C.UTF-8 MANWIDTH=80 \
		groff -man -Tutf8 -P-cbou 2>&1)
	for c in "ESMELOAD RUN" "ESMELOAD DEMO" "ESMELOAD SERVE" "ESMELOAD REPORT" "ESMELOAD COMPARE"; do
		grep -q "^$c" <<<"$page" || bad="$bad man-page-without:'$c'"
	done
	bash -n "$ROOT/usr/share/bash-completion/completions/esmeload" 2>/dev/null ||
		bad="$bad completion-not-bash"
	grep -q '^complete .*-F _esmeload esmeload$' "$ROOT/usr/share/bash-completion/completions/esmeload" ||
		bad="$bad completion-without-complete-line"
fi
if [ -z "$bad" ]; then pass deb_files; else fail deb_files "${bad# }"; fi

# --- deb_depends
info=$(dpkg-deb -I "$DEB")
dep=$(sed -n 's/^ Depends: //p' <<<"$info")
bad=
for lib in liburing libbearssl libc6; do
	grep -q "\\b$lib" <<<"$dep" || bad="$bad no-$lib-in-Depends"
done
grep -q "^ Version: $VERSION\$" <<<"$info" || bad="$bad Version-is-not-$VERSION"
grep -q "^ Architecture: $ARCH\$" <<<"$info" || bad="$bad Architecture-is-not-$ARCH"
if [ -z "$bad" ]; then pass deb_depends; else fail deb_depends "${bad# } (Depends: $dep)"; fi

# --- deb_lintian
if ! command -v lintian >/dev/null; then
	echo "SKIP deb_lintian: lintian is not installed (apt-get install lintian)"
else
	tags=$(lintian --pedantic -I "$DEB" 2>/dev/null | grep -E '^[EWIP]: ')
	if [ -z "$tags" ]; then
		pass deb_lintian
	else
		fail deb_lintian "$(tr '\n' ';' <<<"$tags")"
	fi
fi

[ "$fails" -eq 0 ]
