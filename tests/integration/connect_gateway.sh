#!/bin/bash
# connect_gateway: a server tunnel with connect = "dynamic" speaks HTTP
# CONNECT inside mutual TLS. curl (--proxy https://) fetches 64 MiB
# byte-exact through it; 64 MiB sent right behind the CONNECT (before the
# 200) come back byte-exact from an echo backend; the acl decides who
# reaches what, after resolving names with a DNS responder of our own, a
# name resolving into a range no rule allows is refused, a resolver that
# never answers delays only the connection that waits for it; 502, 504,
# 405, 400 and 431 answer what they should.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
need_tools curl
[ -x "$PY" ] || skip "no $PY"

make_pki
pick_ports BE DEAD WWW SRV DNS
start_backend "$BE" --mode echo
start_dnsd "$DNS" allowed.test=127.0.0.1 rebind.test=127.0.0.1 \
	a.wild.test=127.0.0.1 wild.test=127.0.0.1 range.test=127.0.0.1 \
	--silent silent.test
mkdir -p "$T/www"
random_file "$T/www/big.bin" $((${BULK_MIB:-64} * 1024 * 1024))
timeout "$TEST_TIMEOUT" "$PY" -m http.server --bind 127.0.0.1 \
	--directory "$T/www" "$WWW" >"$T/www.log" 2>&1 &
track $!
wait_port "$WWW" --pid "$LAST_PID" || fail "http.server did not start"

acl="acl = (
	  { cn = [ \"client1\" ]; allow = [ \"127.0.0.1:$BE\", \"127.0.0.1:$WWW\",
	      \"allowed.test:$BE\", \"127.0.0.1:$DEAD\" ]; },
	  { cn = [ \"client2\" ]; allow = [ \"10.0.0.0/8:$BE\", \"rebind.other:$BE\",
	      \"*.wild.test:$BE\", \"range.test:$((BE - 1))-$((BE + 1))\", \"[::1]:$BE\" ]; },
	  { allow = [ \"silent.test:$BE\" ]; }
	);"
# connect_timeout, which a silent resolver runs out (part 4): longer on
# the kTLS VM's emulated CPUs (it sets HANDSHAKE_TIMEOUT), yet short of
# c-ares's own 6 s (2 tries, 2 s then 4 s: daemon/resolve.c), after
# which the answer would be 502.
CT=3
[ -z "${HANDSHAKE_TIMEOUT:-}" ] || CT=5
DAEMON_EXTRA="dns_servers = [ \"127.0.0.1:$DNS\" ];" CONNECT_TIMEOUT=$CT \
	write_conf "$T/s.conf" "$(server_tunnel gw "127.0.0.1:$SRV" dynamic "$acl")"
start_daemon "$T/s.conf" "$T/s.log"

# connect_req FILE AUTHORITY: a CONNECT request head in FILE.
connect_req() {
	printf 'CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n' "$2" "$2" >"$1"
}
# status OUTPUT: the status code of a response head.
status() {
	head -n 1 "$1" | cut -d' ' -f2
}

# 1. curl, as an HTTPS proxy's client, fetching through the tunnel.
curl -sS --max-time 120 -p --proxy "https://localhost:$SRV" \
	--proxy-cacert "$PKI/ca.pem" --proxy-cert "$PKI/client1.pem" \
	--proxy-key "$PKI/client1.key" -o "$T/got.bin" \
	"http://127.0.0.1:$WWW/big.bin" 2>"$T/curl.err" ||
	fail "curl through the CONNECT tunnel failed: $(cat "$T/curl.err")"
assert_same "$T/www/big.bin" "$T/got.bin"
assert_log_contains "$T/s.log" "tunnel gw: [^ ]+: CN=client1 -> 127.0.0.1:$WWW \(127.0.0.1\): allowed by acl\[0\]: allow 127.0.0.1:$WWW"
say "ok: curl --proxy https:// fetched ${BULK_MIB:-64} MiB byte-exact"

# 2. Bytes right behind the CONNECT, before the 200: all delivered, in
#    order, and echoed back.
connect_req "$T/req" "127.0.0.1:$BE"
random_file "$T/up.bin" $((${BULK_MIB:-64} * 1024 * 1024))
tlsreq "$SRV" client1 "$T/req" --data "$T/up.bin" --out "$T/down.bin" \
	--expect "$(stat -c %s "$T/up.bin")" >"$T/r2" || fail "tlsreq: $(cat "$T/r2")"
[ "$(status "$T/r2")" = 200 ] || fail "CONNECT 127.0.0.1:$BE: $(head -n1 "$T/r2")"
grep -q '^HTTP/1.1 200 Connection established' "$T/r2" || fail "200 line: $(head -n1 "$T/r2")"
assert_same "$T/up.bin" "$T/down.bin"
say "ok: ${BULK_MIB:-64} MiB pipelined behind CONNECT came back byte-exact"

# 3. The acl. A name rule, after resolving through dns_servers.
connect_req "$T/req" "allowed.test:$BE"
printf 'hello\n' >"$T/hello"
tlsreq "$SRV" client1 "$T/req" --data "$T/hello" --out "$T/o3" --expect 6 >"$T/r3"
[ "$(status "$T/r3")" = 200 ] || fail "CONNECT allowed.test: $(head -n1 "$T/r3")"
cmp -s "$T/hello" "$T/o3" || fail "allowed.test: the echo differs"
assert_log_contains "$T/s.log" "CN=client1 -> allowed.test:$BE \(127.0.0.1\): allowed by acl\[0\]"
grep -q "query allowed.test" "$T/dnsd.log" || fail "allowed.test was not resolved by dns_servers"
say "ok: a name rule allows the name, resolved by dns_servers"

# Another client's entry allows only 10.0.0.0/8: 127.0.0.1 is refused.
connect_req "$T/req" "127.0.0.1:$BE"
tlsreq "$SRV" client2 "$T/req" >"$T/r4"
[ "$(status "$T/r4")" = 403 ] || fail "client2 to 127.0.0.1: $(head -n1 "$T/r4")"
assert_log_contains "$T/s.log" "CN=client2 -> 127.0.0.1:$BE \(127.0.0.1\): denied: "
say "ok: an address outside the client's CIDR rule is refused (403)"

# A name that resolves into a range nobody allowed (DNS rebinding):
# client2 may reach 10.0.0.0/8; rebind.test says 127.0.0.1.
connect_req "$T/req" "rebind.test:$BE"
tlsreq "$SRV" client2 "$T/req" >"$T/r5"
[ "$(status "$T/r5")" = 403 ] || fail "rebind.test: $(head -n1 "$T/r5")"
assert_log_contains "$T/s.log" "CN=client2 -> rebind.test:$BE \(127.0.0.1\): denied: .*resolves to 127.0.0.1"
say "ok: a name resolving into a range no rule allows is refused (403)"

# A wildcard rule allows names below its domain, not the domain itself.
connect_req "$T/req" "a.wild.test:$BE"
tlsreq "$SRV" client2 "$T/req" --data "$T/hello" --out "$T/o5w" --expect 6 >"$T/r5w"
[ "$(status "$T/r5w")" = 200 ] || fail "a.wild.test: $(head -n1 "$T/r5w")"
assert_log_contains "$T/s.log" "CN=client2 -> a.wild.test:$BE \(127.0.0.1\): allowed by acl\[1\]: allow \*.wild.test:$BE"
connect_req "$T/req" "wild.test:$BE"
tlsreq "$SRV" client2 "$T/req" >"$T/r5x"
[ "$(status "$T/r5x")" = 403 ] || fail "wild.test itself: $(head -n1 "$T/r5x")"
say "ok: *.wild.test allows a.wild.test, not wild.test"

# A port range: in it, allowed; one past it, refused before DNS.
connect_req "$T/req" "range.test:$BE"
tlsreq "$SRV" client2 "$T/req" --data "$T/hello" --out "$T/o5r" --expect 6 >"$T/r5r"
[ "$(status "$T/r5r")" = 200 ] || fail "range.test:$BE: $(head -n1 "$T/r5r")"
connect_req "$T/req" "range.test:$((BE + 2))"
tlsreq "$SRV" client2 "$T/req" >"$T/r5s"
[ "$(status "$T/r5s")" = 403 ] || fail "range.test past the range: $(head -n1 "$T/r5s")"
say "ok: a port range allows its ports only"

# An IPv6 literal, matched by an IPv6 rule (nothing listens there: 502).
if "$TCPTOOL" has-ipv6 >/dev/null; then
	connect_req "$T/req" "[::1]:$BE"
	tlsreq "$SRV" client2 "$T/req" >"$T/r5v"
	[ "$(status "$T/r5v")" = 502 ] || fail "[::1]:$BE: $(head -n1 "$T/r5v")"
	assert_log_contains "$T/s.log" "CN=client2 -> \[::1\]:$BE \(::1\): allowed by acl\[1\]: allow \[::1\]:$BE"
	connect_req "$T/req" "[::ffff:127.0.0.1]:$BE"
	tlsreq "$SRV" client2 "$T/req" >"$T/r5m"
	[ "$(status "$T/r5m")" = 403 ] || fail "an IPv4-mapped address dodged the acl: $(head -n1 "$T/r5m")"
	say "ok: IPv6 rules match IPv6 literals; an IPv4-mapped one meets the IPv4 rules"
fi

# A destination no rule can allow (no rule has its port) is refused
# without asking DNS.
connect_req "$T/req" "nobody.test:1"
tlsreq "$SRV" client1 "$T/req" >"$T/r6"
[ "$(status "$T/r6")" = 403 ] || fail "nobody.test: $(head -n1 "$T/r6")"
grep -q "query nobody.test" "$T/dnsd.log" && fail "nobody.test was looked up although no rule could allow it"
assert_log_contains "$T/s.log" "CN=client1 -> nobody.test:1: denied: "
say "ok: a destination no rule allows is refused before DNS (403)"

# A name that does not resolve: 502, saying so.
connect_req "$T/req" "nxdomain.test:$BE"
tlsreq "$SRV" client1 "$T/req" --out "$T/b6b" >"$T/r6b"
[ "$(status "$T/r6b")" = 502 ] || fail "nxdomain.test: $(head -n1 "$T/r6b")"
grep -q "cannot resolve nxdomain.test: no such name" "$T/b6b" || fail "502 without the reason: $(cat "$T/b6b")"
say "ok: a name that does not resolve is 502"

# 4. A resolver that never answers: that connection gets 504 after
#    connect_timeout; one started meanwhile is served at once.
connect_req "$T/req" "silent.test:$BE"
start=$(date +%s%N)
tlsreq "$SRV" client1 "$T/req" >"$T/r7" &
slow=$!
track "$slow"
connect_req "$T/req2" "127.0.0.1:$BE"
wait_until 5 grep -q "query silent.test" "$T/dnsd.log" || fail "silent.test was not asked"
tlsreq "$SRV" client1 "$T/req2" --data "$T/hello" --out "$T/o8" --expect 6 \
	--elapsed "$T/ms8" >"$T/r8"
[ "$(status "$T/r8")" = 200 ] || fail "the other connection: $(head -n1 "$T/r8")"
# Served while the other still waits for its name, well before the
# connect_timeout that ends the other (timed from its connect: a fresh
# python takes seconds to start on the VM's emulated CPUs).
ms=$(cat "$T/ms8")
running "$slow" && [ "$ms" -lt $((CT * 1000 - 1000)) ] ||
	fail "a connection waited $ms ms behind the silent resolver (connect_timeout $CT s)"
wait "$slow"
[ "$(status "$T/r7")" = 504 ] || fail "silent.test: $(head -n1 "$T/r7")"
[ $((($(date +%s%N) - start) / 1000000)) -ge $((CT * 1000 - 500)) ] || fail "504 came before connect_timeout ($CT s)"
say "ok: a dead resolver delays only its own connection (504 after connect_timeout)"

# 5. 502: allowed, but nothing listens there.
connect_req "$T/req" "127.0.0.1:$DEAD"
tlsreq "$SRV" client1 "$T/req" --out "$T/b9" >"$T/r9"
[ "$(status "$T/r9")" = 502 ] || fail "refused destination: $(head -n1 "$T/r9")"
grep -q "Connection refused" "$T/b9" || fail "502 without the reason: $(cat "$T/b9")"
say "ok: a refused destination is 502, with the reason"

# 6. Requests that are not one CONNECT.
printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' >"$T/req"
tlsreq "$SRV" client1 "$T/req" >"$T/r10"
[ "$(status "$T/r10")" = 405 ] || fail "GET: $(head -n1 "$T/r10")"
grep -qi '^Allow: CONNECT' "$T/r10" || fail "405 without Allow: CONNECT"
printf 'CONNECT 127.0.0.1 HTTP/1.1\r\n\r\n' >"$T/req"
tlsreq "$SRV" client1 "$T/req" >"$T/r11"
[ "$(status "$T/r11")" = 400 ] || fail "CONNECT without port: $(head -n1 "$T/r11")"
{ printf 'CONNECT 127.0.0.1:%s HTTP/1.1\r\n' "$BE"
  head -c 9000 /dev/zero | tr '\0' a | sed 's/^/X-Big: /'
  printf '\r\n\r\n'; } >"$T/req"
tlsreq "$SRV" client1 "$T/req" >"$T/r12"
[ "$(status "$T/r12")" = 431 ] || fail "9000-byte header: $(head -n1 "$T/r12")"
say "ok: 405 (with Allow), 400 and 431"
say "PASS"
