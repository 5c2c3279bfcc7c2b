#!/bin/bash
# stunnel: stunnel4 as the peer of each role, 4 MiB each way, byte-exact.
#  1. app -> our client role -> stunnel server (verifyChain, requireCert
#     against ca.pem: it checks our client certificate) -> backend
#  2. app -> stunnel client (client1's certificate, checkHost) -> our
#     server role -> backend
# In 1 the app does not half-close: the backend closes first, once all of
# the upload is in. With a half-close there, stunnel 5.68 once (1 run of
# the whole suite in ~100, under load) sent its close_notify 110,113 bytes
# before the end of what the backend had sent, when our close_notify
# reached it while the backend was still sending; its own log showed no
# error. Half-close through our two roles is tested in halfclose.sh; in 2
# the app half-closes as usual.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

need_tools stunnel4
make_pki
pick_ports BE STS CLI SRV STC
random_file "$T/up" $((4 * 1024 * 1024 + 17))
random_file "$T/down" $((4 * 1024 * 1024 + 33))

start_backend "$BE" --mode sink-source --source "$T/down" --sink "$T/sink" \
	--fin-after "$(stat -c %s "$T/up")" --count-file "$T/count"

start_stunnel_server stunnel-srv "$STS" "$BE"
start_stunnel_client stunnel-cli "$STC" "$SRV"

write_conf "$T/cli.conf" "$(client_tunnel out "127.0.0.1:$CLI" "127.0.0.1:$STS" client1 \
	'server_name = "localhost";')"
write_conf "$T/srv.conf" "$(server_tunnel in "127.0.0.1:$SRV" "127.0.0.1:$BE" \
	'allow_cn = [ "client1" ];')"
start_daemon "$T/cli.conf" "$T/cli.log"
start_daemon "$T/srv.conf" "$T/srv.log"

# 1
"$TCPTOOL" -t 60 sendrecv 127.0.0.1 "$CLI" "$T/up" "$T/got1" --no-fin ||
	fail "client role -> stunnel server: sendrecv failed"
assert_same "$T/up" "$T/sink.1"
assert_same "$T/down" "$T/got1"
assert_log_contains "$T/stunnel-srv.log" "Certificate accepted at depth=0: .*CN=client1"
assert_log_contains "$T/cli.log" "info: tunnel out: 127\.0\.0\.1:[0-9]+: closed after [0-9]+ ms, $(stat -c %s "$T/up") bytes up, $(stat -c %s "$T/down") bytes down, [^,]+, to [^ ]+\$"
say "ok: our client role -> stunnel server"

# 2
"$TCPTOOL" -t 60 sendrecv 127.0.0.1 "$STC" "$T/up" "$T/got2" ||
	fail "stunnel client -> server role: sendrecv failed"
assert_same "$T/up" "$T/sink.2"
assert_same "$T/down" "$T/got2"
assert_log_contains "$T/srv.log" "info: tunnel in: 127\.0\.0\.1:[0-9]+: CN=client1 authorized"
say "ok: stunnel client -> our server role"

assert_connections "$T/count" 2
assert_log_lacks "$T/srv.log" ": (error|warning): "
assert_log_lacks "$T/cli.log" ": (error|warning): "
say "PASS"
