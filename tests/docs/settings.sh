#!/bin/sh
# settings.sh - ssltunnel.conf(5) documents exactly the settings the parser
# knows: every name `ssltunneld --list-settings` prints (daemon.workers,
# tunnels.allow_cn, tunnels.keepalive.idle ...) has one ".It Cm NAME" entry
# in the man page, and every such entry is a setting the parser knows. Each
# entry's head line says its type and its default (or that it is required).
#
# Entries are read from the sections DAEMON SETTINGS (prefix "daemon.") and
# TUNNEL SETTINGS (prefix "tunnels."); an entry in a list nested under
# another entry gets that entry's name as a further prefix, as
# tunnels.keepalive.idle. ".It Cm" anywhere else is an error, so the man
# page can't hide a setting where this check doesn't look.
#
# Runs under automake's test harness (top_srcdir, top_builddir exported).
set -u

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
if [ -z "${top_builddir:-}" ]; then
	echo "settings.sh: top_builddir is not set (run through make check)" >&2
	exit 99
fi
bin=$top_builddir/daemon/ssltunneld
man=$top_srcdir/man/ssltunnel.conf.5
[ -x "$bin" ] || { echo "settings.sh: $bin is not built" >&2; exit 99; }
[ -r "$man" ] || { echo "settings.sh: $man is missing" >&2; exit 99; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ssltunnel-settings.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT

if ! "$bin" --list-settings >"$tmp/parser.raw" 2>"$tmp/err"; then
	echo "FAIL: ssltunneld --list-settings failed: $(cat "$tmp/err")" >&2
	exit 1
fi
sort "$tmp/parser.raw" >"$tmp/parser"

# One line per entry: "NAME" for a setting, "! message" for a problem.
awk '
/^\.Sh / {
	sec = substr($0, 5); gsub(/"/, "", sec)
	prefix = ""
	if (sec == "DAEMON SETTINGS") prefix = "daemon."
	if (sec == "TUNNEL SETTINGS") prefix = "tunnels."
	depth = 0; top = ""
	next
}
/^\.Bl([ \t]|$)/ { depth++; next }
/^\.El([ \t]|$)/ { depth--; next }
/^\.It Cm / {
	name = $3; gsub(/[^A-Za-z0-9_]/, "", name)
	if (prefix == "") {
		printf "! line %d: .It Cm %s outside DAEMON SETTINGS and TUNNEL SETTINGS (in %s)\n", NR, name, sec
		next
	}
	if (depth == 1) {
		top = name; full = prefix name
	} else if (depth == 2 && top != "") {
		full = prefix top "." name
	} else {
		printf "! line %d: .It Cm %s nested %d lists deep\n", NR, name, depth
		next
	}
	print full
	if ($0 !~ / Pq / || $0 !~ /(default|required)/)
		printf "! line %d: entry %s: its head line should say, in Pq, its type and its default (or \"required\")\n", NR, full
}
' "$man" >"$tmp/man.raw"

rc=0
if grep -q '^!' "$tmp/man.raw"; then
	sed -n 's/^! /FAIL: ssltunnel.conf.5: /p' "$tmp/man.raw" >&2
	rc=1
fi
grep -v '^!' "$tmp/man.raw" | sort >"$tmp/man"

dups=$(uniq -d "$tmp/man")
if [ -n "$dups" ]; then
	for d in $dups; do
		echo "FAIL: ssltunnel.conf.5 has more than one entry for $d" >&2
	done
	rc=1
fi
sort -u "$tmp/man" -o "$tmp/man"

if [ "$(wc -l <"$tmp/parser")" -lt 10 ] || [ "$(wc -l <"$tmp/man")" -lt 10 ]; then
	echo "FAIL: too few settings: $(wc -l <"$tmp/parser") from the parser, $(wc -l <"$tmp/man") in the man page" >&2
	exit 1
fi

missing=$(comm -23 "$tmp/parser" "$tmp/man")
extra=$(comm -13 "$tmp/parser" "$tmp/man")
for s in $missing; do
	echo "FAIL: $s is a setting of the parser but has no entry in ssltunnel.conf(5)" >&2
	rc=1
done
for s in $extra; do
	echo "FAIL: ssltunnel.conf(5) documents $s, which the parser does not know" >&2
	rc=1
done

[ "$rc" -eq 0 ] &&
	echo "settings.sh: PASS: $(wc -l <"$tmp/parser") settings, all documented, nothing else documented"
exit "$rc"
