#!/bin/bash
# concurrent: 200 connections at once through client role -> server role
# -> echo backend, each with its own 64 KiB pattern checked byte for byte.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

make_pki
pick_ports BE SRV CLI
N=200
BYTES=65536

start_backend "$BE" --mode echo --count-file "$T/count"
write_conf "$T/srv.conf" "$(server_tunnel in "127.0.0.1:$SRV" "127.0.0.1:$BE")"
write_conf "$T/cli.conf" "$(client_tunnel out "127.0.0.1:$CLI" "127.0.0.1:$SRV" client1 \
	'server_name = "localhost";')"
start_daemon "$T/srv.conf" "$T/srv.log"
start_daemon "$T/cli.conf" "$T/cli.log"

"$TCPTOOL" -t 120 many 127.0.0.1 "$CLI" "$N" "$BYTES" >"$T/many.out" ||
	fail "many: $(cat "$T/many.out")"
cat "$T/many.out"
assert_connections "$T/count" "$N"

count_lines() {
	[ "$(grep -Ec -- "$2" "$1")" -eq "$3" ]
}
wait_until 10 count_lines "$T/srv.log" "info: tunnel in: 127\.0\.0\.1:[0-9]+: CN=client1 authorized" "$N" ||
	fail "server log: $(grep -Ec "CN=client1 authorized" "$T/srv.log") 'authorized' lines, expected $N"
wait_until 10 count_lines "$T/cli.log" "info: tunnel out: 127\.0\.0\.1:[0-9]+: closed after [0-9]+ ms, $BYTES bytes up, $BYTES bytes down, [^,]+, to [^ ]+\$" "$N" ||
	fail "client log: $(grep -Ec "closed after" "$T/cli.log") 'closed after' lines, expected $N with $BYTES bytes each way"
wait_until 10 count_lines "$T/srv.log" "info: tunnel in: 127\.0\.0\.1:[0-9]+: closed after [0-9]+ ms, $BYTES bytes up, $BYTES bytes down, [^,]+, to [^ ]+\$" "$N" ||
	fail "server log: $(grep -Ec "closed after" "$T/srv.log") 'closed after' lines, expected $N with $BYTES bytes each way"
assert_log_lacks "$T/srv.log" ": (error|warning): "
assert_log_lacks "$T/cli.log" ": (error|warning): "
say "PASS"
