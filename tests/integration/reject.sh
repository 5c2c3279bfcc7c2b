#!/bin/bash
# reject: every peer that must not get through is turned away at the TLS
# layer, with the reason at notice level in the right daemon's log, and the
# backend never sees a connection:
#   client cert from a rogue CA, no client cert, CN not in allow_cn, expired
#   client cert, a client that never speaks (handshake_timeout), and on the
#   client role a server whose certificate does not name server_name.
# Last, a positive control through the same server tunnel.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

need_tools openssl
make_pki
pick_ports BE SRV ROGUE C2 WRONG OK

start_backend "$BE" --mode echo --count-file "$T/count"
write_conf "$T/srv.conf" "$(server_tunnel in "127.0.0.1:$SRV" "127.0.0.1:$BE" \
	'allow_cn = [ "client1" ]; handshake_timeout = 2;')"
write_conf "$T/cli.conf" \
	"$(client_tunnel rogue "127.0.0.1:$ROGUE" "127.0.0.1:$SRV" rogue-client1 'server_name = "localhost";')" \
	"$(client_tunnel c2 "127.0.0.1:$C2" "127.0.0.1:$SRV" client2 'server_name = "localhost";')" \
	"$(client_tunnel wrongname "127.0.0.1:$WRONG" "127.0.0.1:$SRV" client1 'server_name = "wrong.example";')" \
	"$(client_tunnel ok "127.0.0.1:$OK" "127.0.0.1:$SRV" client1 'server_name = "localhost";')"
start_daemon "$T/srv.conf" "$T/srv.log"
start_daemon "$T/cli.conf" "$T/cli.log"

PEER='127\.0\.0\.1:[0-9]+'
SRVLOG=$T/srv.log

# s_client_reject NAME [openssl s_client options]: a TLS client straight
# to the server role (it presents whatever certificate it is given); it
# must get nothing back.
s_client_reject() {
	local name=$1
	shift
	printf 'hello\n' | timeout 10 openssl s_client -connect "127.0.0.1:$SRV" \
		-servername localhost -CAfile "$PKI/ca.pem" -quiet -nocommands "$@" \
		>"$T/$name.data" 2>"$T/$name.err"
	[ $? -eq 124 ] && fail "$name: openssl s_client still connected after 10 s"
	[ -s "$T/$name.data" ] && fail "$name: openssl s_client got data back: $(head -c 100 "$T/$name.data")"
	return 0
}

# 1a. a client certificate from another CA
log_mark "$SRVLOG"
s_client_reject rogue -cert "$PKI/rogue-client1.pem" -key "$PKI/rogue-client1.key"
assert_log_since "$SRVLOG" "notice: tunnel in: $PEER: certificate .*CN=client1.* rejected: .*The certificate issuer is unknown\."
say "ok: rogue CA rejected"

# 1b. the same certificate in our client role. GnuTLS clients offer only a
# certificate whose issuer is among the CAs the server asks for, so the
# server may see no certificate at all; either way it is turned away.
log_mark "$SRVLOG"
"$TCPTOOL" -t 5 expect-closed 127.0.0.1 "$ROGUE" || fail "rogue CA via client role: app connection not closed"
assert_log_since "$SRVLOG" "notice: tunnel in: $PEER: (peer sent no certificate|certificate .*CN=client1.* rejected: .*The certificate issuer is unknown\.)"
say "ok: rogue CA via our client role rejected"

# 2. no client certificate at all
log_mark "$SRVLOG"
s_client_reject nocert
assert_log_since "$SRVLOG" "notice: tunnel in: $PEER: peer sent no certificate\$"
say "ok: no client certificate rejected"

# 3. CN not in allow_cn (through our client role)
log_mark "$SRVLOG"
"$TCPTOOL" -t 5 expect-closed 127.0.0.1 "$C2" || fail "allow_cn miss: app connection not closed"
assert_log_since "$SRVLOG" "notice: tunnel in: $PEER: CN=client2 is not in allow_cn\$"
# Our client role, whose TLS 1.3 handshake was over when the server
# refused it, learns why: the server read what the client had sent on,
# so it closed with a FIN, not a reset that would have lost the alert.
wait_until 5 grep -Eq "notice: tunnel c2: $PEER: relay failed after [0-9]+ ms: peer sent TLS alert: Certificate is bad\$" "$T/cli.log" ||
	fail "allow_cn miss: the client role did not log the server's alert: $(grep 'tunnel c2: 127' "$T/cli.log" | tail -n 3)"
say "ok: CN=client2 rejected by allow_cn; the client role logged the server's alert"

# 4. expired client certificate
log_mark "$SRVLOG"
s_client_reject expired -cert "$PKI/expired-client1.pem" -key "$PKI/expired-client1.key"
assert_log_since "$SRVLOG" "notice: tunnel in: $PEER: certificate .*CN=client1.* rejected: .*The certificate chain uses expired certificate\."
say "ok: expired client certificate rejected"

# 5. a client that connects and never speaks
log_mark "$SRVLOG"
"$TCPTOOL" -t 6 expect-closed 127.0.0.1 "$SRV" --silent ||
	fail "silent client: not closed within 6 s (handshake_timeout = 2)"
assert_log_since "$SRVLOG" "notice: tunnel in: $PEER: handshake timed out after 2 s\$"
say "ok: silent client dropped after handshake_timeout"

# 6. client role: the server's certificate does not name server_name
log_mark "$T/cli.log"
"$TCPTOOL" -t 5 expect-closed 127.0.0.1 "$WRONG" || fail "wrong server name: app connection not closed"
assert_log_since "$T/cli.log" "notice: tunnel wrongname: $PEER: certificate .*CN=localhost.* rejected: .*The name in the certificate does not match the expected\."
say "ok: server certificate without wrong.example rejected by the client role"

assert_connections "$T/count" 0
assert_log_lacks "$SRVLOG" "authorized"
assert_log_lacks "$SRVLOG" ": error: "
assert_log_lacks "$T/cli.log" ": error: "

# positive control: client1 gets through the same tunnel
printf 'ping through the tunnel\n' >"$T/ping"
"$TCPTOOL" -t 10 sendrecv 127.0.0.1 "$OK" "$T/ping" "$T/pong" || fail "client1 through tunnel ok failed"
assert_same "$T/ping" "$T/pong"
assert_connections "$T/count" 1
assert_log_contains "$SRVLOG" "info: tunnel in: $PEER: CN=client1 authorized"
say "PASS"
