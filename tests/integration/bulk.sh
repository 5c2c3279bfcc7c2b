#!/bin/bash
# bulk: app -> client role -> server role -> backend with 64 MiB of random
# bytes each way at the same time; both directions compared by SHA-256, the
# per-connection byte counts in both daemons' logs, and a clean SIGTERM stop.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

make_pki
pick_ports BE SRV CLI
UP=$((${BULK_MIB:-64} * 1024 * 1024))	# app -> backend (BULK_MIB: smaller in the kTLS VM)
DOWN=$((${BULK_MIB:-64} * 1024 * 1024 + 1001))	# backend -> app, an odd size on purpose
random_file "$T/up" "$UP"
random_file "$T/down" "$DOWN"

start_backend "$BE" --mode sink-source --source "$T/down" --sink "$T/sink" \
	--count-file "$T/count"
write_conf "$T/srv.conf" "$(server_tunnel in "127.0.0.1:$SRV" "127.0.0.1:$BE" \
	'allow_cn = [ "client1" ];')"
write_conf "$T/cli.conf" "$(client_tunnel out "127.0.0.1:$CLI" "127.0.0.1:$SRV" client1 \
	'server_name = "localhost";')"
start_daemon "$T/srv.conf" "$T/srv.log"; SRV_PID=$LAST_PID
start_daemon "$T/cli.conf" "$T/cli.log"; CLI_PID=$LAST_PID

assert_log_contains "$T/srv.log" "^ssltunneld\[$SRV_PID\]: notice: tunnel in: server role, listening on 127\.0\.0\.1:$SRV, forwarding to 127\.0\.0\.1:$BE\$"
assert_log_contains "$T/cli.log" "^ssltunneld\[$CLI_PID\]: notice: tunnel out: client role, listening on 127\.0\.0\.1:$CLI, forwarding to 127\.0\.0\.1:$SRV\$"

"$TCPTOOL" -t 120 sendrecv 127.0.0.1 "$CLI" "$T/up" "$T/got" ||
	fail "sendrecv through the tunnel failed"
assert_same "$T/up" "$T/sink.1"
assert_same "$T/down" "$T/got"
assert_connections "$T/count" 1

assert_log_contains "$T/srv.log" "info: tunnel in: 127\.0\.0\.1:[0-9]+: CN=client1 authorized \(TLS1\.[23] "
# client role: "up" is what the app sent
assert_log_contains "$T/cli.log" "info: tunnel out: 127\.0\.0\.1:[0-9]+: closed after [0-9]+ ms, $UP bytes up, $DOWN bytes down, [^,]+, to [^ ]+\$"
assert_log_contains "$T/srv.log" "info: tunnel in: 127\.0\.0\.1:[0-9]+: closed after [0-9]+ ms, ($UP bytes up, $DOWN|$DOWN bytes up, $UP) bytes down, [^,]+, to [^ ]+\$"
assert_log_lacks "$T/srv.log" ": (error|warning): "
assert_log_lacks "$T/cli.log" ": (error|warning): "

stop_daemon "$CLI_PID"
stop_daemon "$SRV_PID"

# which data path each connection took is always in the debug log
assert_log_contains "$T/srv.log" "debug: tunnel in: 127\.0\.0\.1:[0-9]+: (ktls=tx\+rx|userspace: .+)$"
assert_log_contains "$T/cli.log" "debug: tunnel out: 127\.0\.0\.1:[0-9]+: (ktls=tx\+rx|userspace: .+)$"
say "PASS"
