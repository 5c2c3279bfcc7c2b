#!/bin/bash
# websocket_server: a server tunnel with transport = "websocket" speaks
# node-websocket-tunnel's protocol to real WebSocket clients
# (python3-websockets): 64 MiB each way byte-exact through binary frames
# sent before "ready", fragmented messages, text messages that carry no
# data, ping/pong, close; GET / and the HTTP refusals; client-chosen
# destinations under the acl; frame conformance (unmasked, reserved bits
# and opcodes, oversized control frames, the 126/127 length encodings at
# their edges), each closed with the right code without disturbing a
# connection that is open meanwhile; pings; TLS 1.3 KeyUpdates asked for
# by the client (openssl s_client), answered.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
[ -x "$PY" ] && "$PY" -c 'import websockets' 2>/dev/null ||
	skip "python3-websockets is not installed"

make_pki
pick_ports BE SRV DYN PING
start_backend "$BE" --mode echo
LOG_LEVEL=debug write_conf "$T/s.conf" \
	"$(server_tunnel ws "127.0.0.1:$SRV" "127.0.0.1:$BE" 'transport = "websocket";')" \
	"$(server_tunnel dyn "127.0.0.1:$DYN" dynamic "transport = \"websocket\";
	  acl = ( { cn = [ \"client1\" ]; allow = [ \"127.0.0.1:$BE\" ]; } );")" \
	"$(server_tunnel ping "127.0.0.1:$PING" "127.0.0.1:$BE" 'transport = "websocket"; ws_ping_interval = 1;')"
start_daemon "$T/s.conf" "$T/s.log"

wsc() {
	local port=$1
	shift
	timeout 180 "$PY" "$top_srcdir/tests/integration/wsclient.py" "$port" \
		--cert "$PKI/client1.pem" --key "$PKI/client1.key" --ca "$PKI/ca.pem" "$@"
}
wsr() {
	local port=$1
	shift
	timeout 60 "$PY" "$top_srcdir/tests/integration/wsraw.py" "$port" \
		--cert "$PKI/client1.pem" --key "$PKI/client1.key" --ca "$PKI/ca.pem" "$@"
}

# 1. Bulk both ways, the bytes sent before "ready".
random_file "$T/up" $((${BULK_MIB:-64} * 1024 * 1024))
wsc "$SRV" --send "$T/up" --out "$T/down" --expect "$(stat -c %s "$T/up")" \
	--text-first --ping >"$T/w1" 2>"$T/w1.err" || fail "wsclient: $(cat "$T/w1.err")"
grep -qx 'status {"status":"ready","details":"Upstream socket connected"}' "$T/w1" ||
	fail "no ready message: $(cat "$T/w1")"
grep -qx pong "$T/w1" || fail "our ping got no pong: $(cat "$T/w1")"
assert_same "$T/up" "$T/down"
say "ok: ${BULK_MIB:-64} MiB each way byte-exact, sent before ready; ping answered"

# 2. Fragmented messages (3 fragments each) and small messages.
random_file "$T/frag" 300000
wsc "$SRV" --send "$T/frag" --out "$T/frag.bin" --expect 300000 \
	--chunk 100000 --fragments 3 >"$T/w2" 2>"$T/w2.err" || fail "wsclient: $(cat "$T/w2.err")"
assert_same "$T/frag" "$T/frag.bin"
say "ok: fragmented messages are relayed in order"

# 3. The client closes: the backend sees the FIN, echoes nothing more and
#    closes; the server ends with close 1000.
grep -q '^close 1000' "$T/w2" || fail "expected close 1000: $(cat "$T/w2")"
say "ok: close handshake ends with 1000"

# 4. HTTP answers on the WebSocket listener.
printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' >"$T/req"
tlsreq "$SRV" client1 "$T/req" --out "$T/page" >"$T/h1"
head -n1 "$T/h1" | grep -q '^HTTP/1.1 200 ' || fail "GET /: $(head -n1 "$T/h1")"
grep -q ssltunnel "$T/page" || fail "GET /: no text page: $(cat "$T/page")"
printf 'GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n' >"$T/req"
tlsreq "$SRV" client1 "$T/req" >"$T/h2"
head -n1 "$T/h2" | grep -q '^HTTP/1.1 404 ' || fail "GET /nothing: $(head -n1 "$T/h2")"
printf 'POST /tunnel HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n' >"$T/req"
tlsreq "$SRV" client1 "$T/req" >"$T/h3"
head -n1 "$T/h3" | grep -q '^HTTP/1.1 405 ' || fail "POST: $(head -n1 "$T/h3")"
printf 'GET /tunnel HTTP/1.1\r\nHost: x\r\n\r\n' >"$T/req"
tlsreq "$SRV" client1 "$T/req" >"$T/h4"
head -n1 "$T/h4" | grep -q '^HTTP/1.1 400 ' || fail "GET without upgrade: $(head -n1 "$T/h4")"
printf 'GET /tunnel HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n' >"$T/req"
tlsreq "$SRV" client1 "$T/req" >"$T/h5"
head -n1 "$T/h5" | grep -q '^HTTP/1.1 426 ' || fail "version 8: $(head -n1 "$T/h5")"
grep -qi '^Sec-WebSocket-Version: 13' "$T/h5" || fail "426 without Sec-WebSocket-Version"
printf 'GET / HTTP/1.1\r\nHost: x\r\n' >"$T/req"
start=$(date +%s)
tlsreq "$SRV" client1 "$T/req" --timeout $((${HANDSHAKE_TIMEOUT:-10} + 60)) >"$T/h6"
[ $? = 2 ] || fail "an incomplete request got an answer: $(cat "$T/h6")"
say "ok: GET / (200), 404, 405, 400, 426, an incomplete head is closed"

# 5. Client-chosen destinations: allowed, refused before the upgrade,
#    malformed.
printf 'hello' >"$T/hello"
wsc "$DYN" --path "/tunnel?port=$BE&host=127.0.0.1" --send "$T/hello" \
	--out "$T/o5" --expect 5 >"$T/w5" || fail "dynamic: $(cat "$T/w5")"
cmp -s "$T/hello" "$T/o5" || fail "dynamic: echo differs"
assert_log_contains "$T/s.log" "tunnel dyn: [^ ]+: CN=client1 -> 127.0.0.1:$BE \(127.0.0.1\): allowed by acl\[0\]"
wsc "$DYN" --path "/tunnel?host=127.0.0.1&port=$BE" --send "$T/hello" \
	--out "$T/o5b" --expect 5 >"$T/w5b" || fail "dynamic, other order: $(cat "$T/w5b")"
cmp -s "$T/hello" "$T/o5b" || fail "dynamic (host first): echo differs"
wsc "$DYN" --path "/tunnel?port=1" >"$T/w6"
grep -qx 'http 403' "$T/w6" || fail "127.0.0.1:1 was not refused: $(cat "$T/w6")"
wsc "$DYN" --path "/tunnel?host=127.0.0.1" >"$T/w7"
grep -qx 'http 400' "$T/w7" || fail "no port: $(cat "$T/w7")"
say "ok: host/port from the query in any order, 403 before the upgrade, 400 without port"

# 6. Frame conformance, with a connection open meanwhile.
wsc "$SRV" --send "$T/up" --out "$T/keep.bin" --expect "$(stat -c %s "$T/up")" \
	--chunk 1000000 >"$T/keep" 2>&1 &
keep=$!
track "$keep"
for n in 125 126 65535 65536; do
	wsr "$SRV" --expect-binary "$n" "mask:2:$n:0x61" >"$T/f$n"
	grep -qx done "$T/f$n" || fail "a $n-byte frame did not come back: $(cat "$T/f$n")"
	got=$(awk '$1 == "binary" { s += $2 } END { print s + 0 }' "$T/f$n")
	[ "$got" = "$n" ] || fail "a $n-byte frame came back as $got bytes"
done
say "ok: 125, 126, 65535 and 65536-byte frames (each length encoding at its edge)"

expect_close() {
	local name=$1 code=$2
	shift 2
	wsr "$SRV" "$@" >"$T/c.$name"
	grep -q "^close $code " "$T/c.$name" || fail "$name: expected close $code: $(cat "$T/c.$name")"
	assert_log_contains "$T/s.log" "relay failed after [0-9]+ ms: WebSocket: "
}
expect_close unmasked 1002 "820568656c6c6f"
expect_close rsv 1002 "c28000000000"
expect_close opcode 1002 "838000000000"
expect_close bigping 1002 "89fe007e00000000$(head -c 126 /dev/zero | od -v -An -tx1 | tr -d ' \n')"
expect_close fragping 1002 "098000000000"
expect_close badclosecode 1002 "88820000000003ed"
# 127-length encoding, 4 GiB + 1 announced: streamed, not gathered; the
# 5 bytes that follow reach the backend at once.
wsr "$SRV" --expect-binary 5 "82ff0000000100000001000000006869686968" >"$T/c.huge"
grep -qx done "$T/c.huge" || fail "bytes of a 4 GiB frame were not streamed: $(cat "$T/c.huge")"
wait "$keep" || fail "the connection open meanwhile failed: $(cat "$T/keep")"
assert_same "$T/up" "$T/keep.bin"
say "ok: bad frames close with 1002, a 4 GiB frame streams, other connections unaffected"

# 7. Pings every ws_ping_interval (1 s): a peer that answers stays, one
#    that does not is closed once the next ping is due.
wsc "$PING" --linger 3.5 --send "$T/hello" --out "$T/o7" --expect 5 >"$T/w8" ||
	fail "a peer answering pings: $(cat "$T/w8")"
cmp -s "$T/hello" "$T/o7" || fail "a peer answering pings lost its bytes"
start=$(date +%s%N)
wsr "$PING" >"$T/c.ping"
grep -qx ping "$T/c.ping" || fail "no ping came: $(cat "$T/c.ping")"
tail -n 1 "$T/c.ping" | grep -qx eof || fail "a silent peer was not closed: $(cat "$T/c.ping")"
ms=$((($(date +%s%N) - start) / 1000000))
[ "$ms" -ge 1500 ] || fail "a silent peer was closed after $ms ms, before its pong was due"
assert_log_contains "$T/s.log" "tunnel ping: [^ ]+: relay failed after [0-9]+ ms: WebSocket: no pong within 1 s"
say "ok: pings keep an answering peer, close a silent one"

# 8. TLS 1.3 KeyUpdate on a WebSocket connection (ssltunnel's record
#    layer behind the WebSocket mover): openssl s_client asks twice for
#    the server's KeyUpdate ("K"); after each, a masked binary frame
#    (mask 0) comes back from the echo backend, sealed under the
#    server's next key, which s_client can only read if the server
#    answered with its own KeyUpdate and moved to that key. On the
#    kernel path the KeyUpdate ends the connection instead, with the
#    reason logged.
ku_ws() {
	sleep 1
	printf 'GET /tunnel HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'
	for i in 1 2; do
		sleep 1.5; printf 'K\n'; sleep 1.5
		printf '\202\211\0\0\0\0after-ku%s' "$i"
	done
	sleep 2
}
log_mark "$T/s.log"
ku_ws | timeout 60 openssl s_client -msg -connect "127.0.0.1:$SRV" -tls1_3 \
	-cert "$PKI/client1.pem" -key "$PKI/client1.key" -CAfile "$PKI/ca.pem" \
	>"$T/ku.out" 2>&1
if grep -Eq "tunnel ws: [^ ]+: ktls=tx\+rx" "$T/s.log"; then
	# The kernel path (the kTLS VM): Linux cannot take new keys, so the
	# first KeyUpdate ends the connection, with the reason.
	assert_log_since "$T/s.log" "tunnel ws: [^ ]+: relay failed after [0-9]+ ms: peer sent a TLS KeyUpdate; kernel TLS here cannot take new keys"
	say "ok: (kernel path) a KeyUpdate ends the connection with the reason"
else
	[ "$(grep -c KEYUPDATE "$T/ku.out")" = 2 ] || fail "s_client sent $(grep -c KEYUPDATE "$T/ku.out") KeyUpdates, not 2: $(tail -n 5 "$T/ku.out")"
	[ "$(grep -ac '^<<< .*KeyUpdate' "$T/ku.out")" = 2 ] ||
		fail "the server answered $(grep -ac '^<<< .*KeyUpdate' "$T/ku.out") of 2 KeyUpdates"
	grep -qa "after-ku1" "$T/ku.out" && grep -qa "after-ku2" "$T/ku.out" ||
		fail "the echoes after the KeyUpdates did not come back: $(tail -n 8 "$T/ku.out" | tr -d '\000-\011')"
	grep -Eqi "bad.record.mac|decrypt|fatal" "$T/ku.out" && fail "s_client: $(grep -Ei 'bad.record.mac|decrypt|fatal' "$T/ku.out")"
	assert_log_since "$T/s.log" "tunnel ws: [^ ]+: records: ssltunnel's"
	assert_log_lacks "$T/s.log" "relay failed after [0-9]+ ms: (peer sent|a record|sealing|receiving)"
	say "ok: KeyUpdates asked for on a WebSocket connection are answered, the bytes after them intact"
fi
say "PASS"
