#!/bin/bash
# peers_openssl_gnutls: third-party TLS clients with client1's certificate
# talk to the server role; 64 KiB of random bytes reach the echo backend
# and come back byte-exact. The backend shuts its write side after echoing
# them, which ends each client's session (both wait for the server's close).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

need_tools openssl gnutls-cli
make_pki
pick_ports BE SRV
SIZE=65536
random_file "$T/data" "$SIZE"

start_backend "$BE" --mode echo --shut-after "$SIZE" --count-file "$T/count"
write_conf "$T/srv.conf" "$(server_tunnel in "127.0.0.1:$SRV" "127.0.0.1:$BE" \
	'allow_cn = [ "client1" ];')"
start_daemon "$T/srv.conf" "$T/srv.log"

# openssl s_client: -quiet (implies -ign_eof: stdin's end does not end the
# session), -nocommands (binary data holds no commands), verifying the
# server's chain and name.
rc=0
timeout 20 openssl s_client -connect "127.0.0.1:$SRV" -servername localhost \
	-CAfile "$PKI/ca.pem" -verify_return_error -verify_hostname localhost \
	-cert "$PKI/client1.pem" -key "$PKI/client1.key" \
	-quiet -nocommands <"$T/data" >"$T/openssl.data" 2>"$T/openssl.log" || rc=$?
[ "$rc" -eq 124 ] && fail "openssl s_client did not finish within 20 s"
assert_same "$T/data" "$T/openssl.data"
assert_connections "$T/count" 1
assert_log_contains "$T/srv.log" "info: tunnel in: 127\.0\.0\.1:[0-9]+: CN=client1 authorized \(TLS1\.3 "
say "ok: openssl s_client"

# gnutls-cli ends the session at the end of its stdin, so stdin is a FIFO
# held open until gnutls-cli has seen the server close.
mkfifo "$T/gnutls.in"
timeout 20 gnutls-cli --logfile="$T/gnutls.log" -p "$SRV" \
	--x509cafile="$PKI/ca.pem" --x509certfile="$PKI/client1.pem" \
	--x509keyfile="$PKI/client1.key" localhost \
	<"$T/gnutls.in" >"$T/gnutls.data" 2>"$T/gnutls.err" &
GNUTLS_PID=$!
track "$GNUTLS_PID"
exec 7>"$T/gnutls.in"
cat "$T/data" >&7
rc=0
wait "$GNUTLS_PID" || rc=$?
exec 7>&-
[ "$rc" -eq 124 ] && fail "gnutls-cli did not finish within 20 s"
assert_same "$T/data" "$T/gnutls.data"
assert_connections "$T/count" 2
say "ok: gnutls-cli"

# and a peer with the TLS 1.2 ceiling
rc=0
timeout 20 openssl s_client -connect "127.0.0.1:$SRV" -servername localhost \
	-CAfile "$PKI/ca.pem" -verify_return_error -tls1_2 \
	-cert "$PKI/client1.pem" -key "$PKI/client1.key" \
	-quiet -nocommands <"$T/data" >"$T/openssl12.data" 2>"$T/openssl12.log" || rc=$?
[ "$rc" -eq 124 ] && fail "openssl s_client -tls1_2 did not finish within 20 s"
assert_same "$T/data" "$T/openssl12.data"
assert_connections "$T/count" 3
assert_log_contains "$T/srv.log" "info: tunnel in: 127\.0\.0\.1:[0-9]+: CN=client1 authorized \(TLS1\.2 "
say "ok: openssl s_client -tls1_2"

assert_log_lacks "$T/srv.log" ": (error|warning): "
say "PASS"
