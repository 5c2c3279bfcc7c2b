#!/bin/sh
# manlint.sh - the manual pages are clean under `mandoc -T lint -W warning`
# (no warning, error or unsupported macro). Skipped (77) without mandoc.
set -u

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
command -v mandoc >/dev/null 2>&1 ||
	{ echo "SKIP: manlint.sh: mandoc is not installed (Debian package mandoc)" >&2; exit 77; }

rc=0
for page in man/ssltunneld.8 man/ssltunnel.conf.5 man/ssltunnelctl.8; do
	f=$top_srcdir/$page
	if [ ! -r "$f" ]; then
		echo "FAIL: $page is missing" >&2
		rc=1
		continue
	fi
	out=$(mandoc -T lint -W warning "$f" 2>&1)
	st=$?
	if [ "$st" -ne 0 ] || [ -n "$out" ]; then
		echo "FAIL: mandoc -T lint -W warning $page (exit $st):" >&2
		printf '%s\n' "$out" >&2
		rc=1
	else
		echo "manlint.sh: $page: clean"
	fi
done
exit "$rc"
