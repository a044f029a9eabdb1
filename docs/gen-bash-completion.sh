#!/bin/sh
# Writes the bash completion of esmeload on stdout, from what the binary's
# own --help texts list, so it names every command and option the binary
# has (make builds it as $(BUILD)/esmeload.bash-completion; make install
# puts it in PREFIX/share/bash-completion/completions/esmeload).
#   docs/gen-bash-completion.sh BINARY
# An option line of a --help text starts with 2 to 4 spaces and a dash; its
# option column ends at the first run of two spaces and has at most four
# words (a longer one is a sentence that begins with an option). The word
# after an option is its argument: FILE and PATH complete file names, DIR
# directories, a|b the words a and b, anything else nothing.
# tests/integration/test_manpage.py checks the result against --help.
set -eu
bin=${1:?usage: gen-bash-completion.sh BINARY}

# Commands: each "esmeload NAME" of the top-level usage lines (the first
# block of `esmeload --help`, up to its first empty line).
cmds=$("$bin" --help | sed '/^$/q' | grep -o 'esmeload \[\{0,1\}[a-z][a-z]*' |
	sed 's/^esmeload \[\{0,1\}//' | awk '!seen[$0]++' | tr '\n' ' ')

# "opt|arg" per option of one command's --help ("arg" empty for a flag).
opts_of() {
	"$bin" "$1" --help | awk '
	/^(  |   |    )-/ {
		line = $0
		sub(/^ +/, "", line)
		n = index(line, "  ")
		if (n) line = substr(line, 1, n - 1)
		k = split(line, w, /[ ,]+/)
		if (k > 4) next
		for (i = 1; i <= k; i++) {
			if (w[i] !~ /^--?[A-Za-z]/) continue
			arg = (i < k && w[i + 1] !~ /^-/) ? w[i + 1] : ""
			print w[i] "|" arg
		}
	}'
}

cat <<'EOF'
# bash completion for esmeload(1): its commands and the options of each.
# Generated from esmeload's --help texts by docs/gen-bash-completion.sh.
_esmeload()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	local cmd=run opts i

	# The command is the first word; flags first mean run, the default.
	if ((COMP_CWORD > 1)); then
		case ${COMP_WORDS[1]} in
		-*) ;;
		*) cmd=${COMP_WORDS[1]} ;;
		esac
	fi
EOF
printf '\tcase $cmd in\n'
for c in $cmds; do
	case $c in help | version) continue ;; esac
	words=$(opts_of "$c" | cut -d'|' -f1 | awk '!seen[$0]++' | tr '\n' ' ')
	printf '\t%s) opts="%s" ;;\n' "$c" "${words% }"
done
printf '\t*) opts= ;;\n\tesac\n\n'

# The argument of the option before the cursor.
printf '\tcase "$cmd $prev" in\n'
for c in $cmds; do
	case $c in help | version) continue ;; esac
	opts_of "$c" | while IFS='|' read -r o a; do
		[ -n "$a" ] || continue
		case $a in
		*=*) continue ;;
		FILE | PATH) act='COMPREPLY=($(compgen -f -- "$cur"))' ;;
		DIR) act='COMPREPLY=($(compgen -d -- "$cur"))' ;;
		*'|'*) act="COMPREPLY=(\$(compgen -W \"$(echo "$a" | tr '|' ' ')\" -- \"\$cur\"))" ;;
		*) act='COMPREPLY=()' ;;
		esac
		# "$cmd $prev" for each command that takes these options
		printf '\t"%s %s") %s; return ;;\n' "$c" "$o" "$act"
	done
done
printf '\tesac\n\n'

cat <<EOF
	if ((COMP_CWORD == 1)); then
		case \$cur in
		-*) COMPREPLY=(\$(compgen -W "--help --version \$opts" -- "\$cur")) ;;
		*) COMPREPLY=(\$(compgen -W "${cmds% }" -- "\$cur")) ;;
		esac
		return
	fi
EOF
cat <<'EOF'
	case $cur in
	-*) COMPREPLY=($(compgen -W "$opts" -- "$cur")) ;;
	*)
		case $cmd in
		report | compare) COMPREPLY=($(compgen -f -- "$cur")) ;;
		*) COMPREPLY=() ;;
		esac
		;;
	esac
}
complete -o filenames -F _esmeload esmeload
EOF
