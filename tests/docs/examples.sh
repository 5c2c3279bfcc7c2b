#!/bin/sh
# examples.sh - every file in conf/examples passes `ssltunneld -t` with
# throwaway certificates (scripts/mkcerts) in its certs/ folder. Names
# under example.com / corp.example in connect and http_proxy are made
# localhost first: -t resolves them, and these machines have no DNS.
set -u

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
bin=${top_builddir:?}/daemon/ssltunneld
command -v certtool >/dev/null 2>&1 || { echo "SKIP: examples.sh: no certtool" >&2; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ssltunnel-examples.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT

"$top_srcdir/scripts/mkcerts" --client-cn ops-laptop "$tmp/certs" >"$tmp/mkcerts.log" 2>&1 ||
	{ echo "FAIL: scripts/mkcerts: $(tail -n 3 "$tmp/mkcerts.log")" >&2; exit 1; }
printf 'user:password\n' >"$tmp/proxy.auth"
printf 'simon:%s\n' "$(printf 'a password\n' | "$bin" --hash-password)" >"$tmp/users" ||
	{ echo "FAIL: ssltunneld --hash-password" >&2; exit 1; }
# The relay examples' SAS keys (keys/, owner-only like real ones).
mkdir -p "$tmp/keys" && chmod 700 "$tmp/keys"
for k in listen-db send-db; do
	head -c 32 /dev/urandom | base64 >"$tmp/keys/$k.key"
	chmod 600 "$tmp/keys/$k.key"
done
rc=0 n=0
for f in "$top_srcdir"/conf/examples/*.conf; do
	name=${f##*/}
	# The control socket goes to the scratch folder (-t does not open it).
	sed -E -e '/^[[:space:]]*(connect|http_proxy|relay)[[:space:]]*=/s/[A-Za-z0-9.-]*(example\.com|\.example)/localhost/' \
		-e "s|/run/ssltunnel/control|$tmp/control|" \
		"$f" >"$tmp/$name"
	if out=$("$bin" -t -c "$tmp/$name" 2>&1); then
		echo "examples.sh: $name: valid"
		n=$((n + 1))
	else
		echo "FAIL: conf/examples/$name: $out" >&2
		rc=1
	fi
done
[ "$n" -gt 0 ] || [ "$rc" -ne 0 ] || { echo "FAIL: no examples found" >&2; rc=1; }
exit "$rc"
