#!/usr/bin/env bash
# make install into a temporary root, as the package build does:
#   install_usr      make install DESTDIR=$T PREFIX=/usr installs exactly the
#                    binary (its --version is VERSION's), the man page
#                    (gzip'd, docs/esmeload.1 inside), the bash completion
#                    and the README, nothing else
#   install_prefix   another PREFIX puts the same four files under it
# It installs the build under test ($ESMELOAD's directory) and never
# rebuilds it (make -o).
set -u
cd "$(dirname "$0")/../.."
ESMELOAD=$(readlink -f "${ESMELOAD:-build/esmeload}")
B=$(dirname "$ESMELOAD")
VERSION=$(head -n 1 VERSION)
T=$(mktemp -d /tmp/esme-install.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; fails=$((fails + 1)); }

# check_tree NAME ROOT PREFIX: the four files under ROOT/PREFIX, and only them.
check_tree() {
	local name=$1 root=$2 p=$3 bad= want got
	want=$(printf '%s\n' "$p/bin/esmeload" "$p/share/bash-completion/completions/esmeload" \
		"$p/share/doc/esmeload/README.md" "$p/share/man/man1/esmeload.1.gz" | sort)
	got=$(cd "$root" && find . -type f | sed 's|^\.||' | sort)
	[ "$got" = "$want" ] || bad="$bad files:[$(tr '\n' ' ' <<<"$got")] not [$(tr '\n' ' ' <<<"$want")]"
	[ -x "$root$p/bin/esmeload" ] &&
		[ "$("$root$p/bin/esmeload" --version 2>&1)" = "esmeload $VERSION" ] ||
		bad="$bad bin/esmeload-does-not-print-'esmeload $VERSION'"
	zcat "$root$p/share/man/man1/esmeload.1.gz" 2>/dev/null | cmp -s - docs/esmeload.1 ||
		bad="$bad man-page-is-not-docs/esmeload.1-gzipped"
	cmp -s "$root$p/share/doc/esmeload/README.md" README.md || bad="$bad README-differs"
	grep -q '^complete .*-F _esmeload esmeload$' "$root$p/share/bash-completion/completions/esmeload" \
		2>/dev/null && bash -n "$root$p/share/bash-completion/completions/esmeload" ||
		bad="$bad completion-is-not-the-generated-bash-file"
	[ "$(stat -c %a "$root$p/share/man/man1/esmeload.1.gz" 2>/dev/null)" = 644 ] ||
		bad="$bad man-page-mode-is-not-644"
	if [ -z "$bad" ]; then pass "$name"; else fail "$name" "${bad# }"; fi
}

if ! make -s install BUILD="$B" -o "$B/esmeload" DESTDIR="$T/a" PREFIX=/usr >"$T/a.log" 2>&1; then
	fail install_usr "make install failed: $(tail -n 5 "$T/a.log" | tr '\n' ' ')"
else
	check_tree install_usr "$T/a" /usr
fi
if ! make -s install BUILD="$B" -o "$B/esmeload" DESTDIR="$T/b" PREFIX=/opt/esme >"$T/b.log" 2>&1; then
	fail install_prefix "make install failed: $(tail -n 5 "$T/b.log" | tr '\n' ' ')"
else
	check_tree install_prefix "$T/b" /opt/esme
fi
[ "$fails" -eq 0 ]
