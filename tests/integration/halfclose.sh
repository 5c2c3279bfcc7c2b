#!/bin/bash
# halfclose: a FIN crosses the tunnel in either direction without cutting
# the other one.
#  1. request/response: the app sends a request and shuts its write side;
#     the backend answers 1 MiB only after it saw that EOF.
#  2. the same with an empty request (FIN straight away).
#  3. the other way round: the backend sends 1 MiB and shuts its write side
#     at once, while the app is still sending 8 MiB, which must all arrive.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

make_pki
pick_ports BE1 BE2 SRV1 SRV2 CLI1 CLI2
random_file "$T/request" 100003
random_file "$T/reply" $((1024 * 1024))
random_file "$T/big" $((8 * 1024 * 1024))
: >"$T/empty"

start_backend "$BE1" --mode sink-source --after-eof --source "$T/reply" \
	--sink "$T/sink1" --count-file "$T/count1"
start_backend "$BE2" --mode sink-source --source "$T/reply" \
	--sink "$T/sink2" --count-file "$T/count2"
write_conf "$T/srv.conf" \
	"$(server_tunnel reqresp "127.0.0.1:$SRV1" "127.0.0.1:$BE1")" \
	"$(server_tunnel early "127.0.0.1:$SRV2" "127.0.0.1:$BE2")"
write_conf "$T/cli.conf" \
	"$(client_tunnel reqresp "127.0.0.1:$CLI1" "127.0.0.1:$SRV1" client1 'server_name = "localhost";')" \
	"$(client_tunnel early "127.0.0.1:$CLI2" "127.0.0.1:$SRV2" client1)"
start_daemon "$T/srv.conf" "$T/srv.log"
start_daemon "$T/cli.conf" "$T/cli.log"

# 1
"$TCPTOOL" -t 30 sendrecv 127.0.0.1 "$CLI1" "$T/request" "$T/got1" ||
	fail "request/response: sendrecv failed"
assert_same "$T/request" "$T/sink1.1"
assert_same "$T/reply" "$T/got1"
say "ok: request, FIN, then a 1 MiB reply"

# 2
"$TCPTOOL" -t 30 sendrecv 127.0.0.1 "$CLI1" "$T/empty" "$T/got2" ||
	fail "empty request: sendrecv failed"
assert_same "$T/empty" "$T/sink1.2"
assert_same "$T/reply" "$T/got2"
say "ok: FIN at once, then a 1 MiB reply"

# 3
"$TCPTOOL" -t 30 sendrecv 127.0.0.1 "$CLI2" "$T/big" "$T/got3" ||
	fail "backend FIN first: sendrecv failed"
assert_same "$T/reply" "$T/got3"
assert_same "$T/big" "$T/sink2.1"
say "ok: backend's FIN first, 8 MiB still flowed the other way"

assert_connections "$T/count1" 2
assert_connections "$T/count2" 1
assert_log_contains "$T/cli.log" "info: tunnel reqresp: 127\.0\.0\.1:[0-9]+: closed after [0-9]+ ms, 100003 bytes up, 1048576 bytes down, [^,]+, to [^ ]+\$"
assert_log_contains "$T/cli.log" "info: tunnel reqresp: 127\.0\.0\.1:[0-9]+: closed after [0-9]+ ms, 0 bytes up, 1048576 bytes down, [^,]+, to [^ ]+\$"
assert_log_contains "$T/cli.log" "info: tunnel early: 127\.0\.0\.1:[0-9]+: closed after [0-9]+ ms, 8388608 bytes up, 1048576 bytes down, [^,]+, to [^ ]+\$"
assert_log_lacks "$T/srv.log" ": (error|warning): "
assert_log_lacks "$T/cli.log" ": (error|warning): "
say "PASS"
