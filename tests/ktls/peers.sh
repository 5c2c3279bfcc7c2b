#!/bin/bash
# peers: foreign TLS stacks on both sides of the kernel path.
#  - openssl s_client and gnutls-cli as clients of our server role
#  - our client role to openssl s_server and gnutls-serv, both of which
#    send TLS 1.3 session tickets after the handshake (the kernel hands
#    them to us as control records: skipped, the data still flows)
#  - stunnel as client of our server role, and as server of our client role
#  - close_notify both ways: a client's close_notify reaches the backend as
#    a FIN, the backend's FIN comes back as our close_notify
. "${top_srcdir:-$(dirname "$0")/../..}/tests/ktls/lib.sh"

need_tools openssl gnutls-cli gnutls-serv stunnel4
make_pki
pick_ports BE SRV CLI OSS GSS CLI2 CLI3 STC STS CLI4 BE2
random_file "$T/blob" 300000
# gnutls-serv --echo treats what it gets as text: give it lines.
base64 "$T/blob" >"$T/text"
start_backend "$BE" --mode echo --count-file "$T/count"
write_conf "$T/s.conf" "$(server_tunnel in "127.0.0.1:$SRV" "127.0.0.1:$BE")"
start_daemon "$T/s.conf" "$T/s.log"

# --- foreign clients of our server role ---
# stdin stays open a moment: at its end s_client quits at once.
{ printf 'ping-openssl\n'; sleep 2; } | timeout 20 openssl s_client -connect "127.0.0.1:$SRV" \
	-cert "$PKI/client1.pem" -key "$PKI/client1.key" -CAfile "$PKI/ca.pem" \
	-verify_return_error -quiet -no_ign_eof >"$T/ossl.out" 2>"$T/ossl.err" ||
	fail "openssl s_client: $(tail -3 "$T/ossl.err")"
grep -qx "ping-openssl" "$T/ossl.out" || fail "openssl s_client got: $(cat "$T/ossl.out")"
say "ok: openssl s_client -> server role"
{ printf 'ping-gnutls\n'; sleep 2; } | timeout 20 gnutls-cli --port "$SRV" 127.0.0.1 \
	--x509certfile "$PKI/client1.pem" --x509keyfile "$PKI/client1.key" \
	--x509cafile "$PKI/ca.pem" --sni-hostname localhost --logfile /dev/null \
	>"$T/gnutls.out" 2>"$T/gnutls.err" || fail "gnutls-cli: $(tail -3 "$T/gnutls.err")"
grep -q "ping-gnutls" "$T/gnutls.out" || fail "gnutls-cli got: $(cat "$T/gnutls.out")"
say "ok: gnutls-cli -> server role"

# --- our client role to foreign servers that send session tickets ---
timeout 60 openssl s_server -accept "127.0.0.1:$OSS" -cert "$PKI/server.pem" \
	-key "$PKI/server.key" -CAfile "$PKI/ca.pem" -Verify 1 -rev -naccept 1 \
	>"$T/s_server.out" 2>&1 &
track $!
timeout 60 gnutls-serv --port "$GSS" --echo --x509certfile "$PKI/server.pem" \
	--x509keyfile "$PKI/server.key" --x509cafile "$PKI/ca.pem" \
	--require-client-cert >"$T/gnutls-serv.out" 2>&1 &
track $!
wait_port "$OSS" || fail "openssl s_server did not start"
wait_port "$GSS" || fail "gnutls-serv did not start"
write_conf "$T/c.conf" \
	"$(client_tunnel to-openssl "127.0.0.1:$CLI" "127.0.0.1:$OSS" client1)" \
	"$(client_tunnel to-gnutls "127.0.0.1:$CLI2" "127.0.0.1:$GSS" client1)"
start_daemon "$T/c.conf" "$T/c.log"
printf 'hello ticket\n' >"$T/line"
timeout 20 socat -t 5 - "TCP:127.0.0.1:$CLI" <"$T/line" >"$T/rev.out" 2>&1
grep -q "tekcit olleh" "$T/rev.out" || fail "through our client to openssl s_server -rev: got $(cat "$T/rev.out")"
say "ok: client role -> openssl s_server (tickets sent, data flows)"
"$TCPTOOL" -t 60 sendrecv 127.0.0.1 "$CLI2" "$T/text" "$T/text.gs" ||
	fail "client role -> gnutls-serv --echo"
assert_same "$T/text" "$T/text.gs"
say "ok: client role -> gnutls-serv --echo, $(stat -c %s "$T/text") bytes byte-exact"
assert_path "$T/c.log" to-openssl
assert_path "$T/c.log" to-gnutls
assert_log_lacks "$T/c.log" "relay failed"

# --- stunnel on either side ---
start_stunnel_client stunnel-client "$STC" "$SRV"
# Towards the stunnel server the app does not half-close: its backend
# closes once it has echoed everything (see tests/integration/stunnel.sh:
# stunnel once cut off the backend's last bytes after a half-close).
start_backend "$BE2" --mode echo --shut-after 300000 --count-file "$T/count2"
start_stunnel_server stunnel-server "$STS" "$BE2"
"$TCPTOOL" -t 60 sendrecv 127.0.0.1 "$STC" "$T/blob" "$T/blob.stc" || fail "stunnel -> server role"
assert_same "$T/blob" "$T/blob.stc"
say "ok: stunnel client -> server role"
write_conf "$T/c2.conf" "$(client_tunnel to-stunnel "127.0.0.1:$CLI4" "127.0.0.1:$STS" client1)"
start_daemon "$T/c2.conf" "$T/c2.log"
"$TCPTOOL" -t 60 sendrecv 127.0.0.1 "$CLI4" "$T/blob" "$T/blob.sts" --no-fin || fail "client role -> stunnel"
assert_same "$T/blob" "$T/blob.sts"
say "ok: client role -> stunnel server"
assert_path "$T/c2.log" to-stunnel

# --- close_notify both ways (our own pair) ---
write_conf "$T/c3.conf" "$(client_tunnel pair "127.0.0.1:$CLI3" "127.0.0.1:$SRV" client1)"
start_daemon "$T/c3.conf" "$T/c3.log"
"$TCPTOOL" -t 60 sendrecv 127.0.0.1 "$CLI3" "$T/blob" "$T/blob.pair" || fail "pair"
assert_same "$T/blob" "$T/blob.pair"
assert_log_contains "$T/c3.log" "debug: tunnel pair: [^ ]+: sent close_notify"
assert_log_contains "$T/s.log" "debug: tunnel in: [^ ]+: received close_notify"
assert_log_contains "$T/s.log" "debug: tunnel in: [^ ]+: sent close_notify"
assert_log_contains "$T/c3.log" "debug: tunnel pair: [^ ]+: received close_notify"
say "ok: close_notify both ways"
assert_path "$T/s.log" in
assert_log_lacks "$T/s.log" "relay failed"
say "PASS"
