#!/bin/bash
# ipv6: the whole path on [::1]: app -> client role on [::1] -> server role
# on [::1] (server name checked against the IP SAN ::1, the default
# server_name for an IP literal) -> backend on [::1].
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

"$TCPTOOL" has-ipv6 >/dev/null || skip "no usable ::1 here"
make_pki
pick_ports BE SRV CLI
random_file "$T/up" 3000000
random_file "$T/down" 2000000

start_backend "$BE" --host ::1 --mode sink-source --source "$T/down" \
	--sink "$T/sink" --count-file "$T/count"
write_conf "$T/srv.conf" "$(server_tunnel in "[::1]:$SRV" "[::1]:$BE" 'allow_cn = [ "client1" ];')"
write_conf "$T/cli.conf" "$(client_tunnel out "[::1]:$CLI" "[::1]:$SRV" client1)"
start_daemon "$T/srv.conf" "$T/srv.log"
start_daemon "$T/cli.conf" "$T/cli.log"
assert_log_contains "$T/srv.log" "notice: tunnel in: server role, listening on \[::1\]:$SRV, forwarding to \[::1\]:$BE\$"

"$TCPTOOL" -t 30 sendrecv ::1 "$CLI" "$T/up" "$T/got" || fail "sendrecv over [::1] failed"
assert_same "$T/up" "$T/sink.1"
assert_same "$T/down" "$T/got"
assert_connections "$T/count" 1
grep -q 'from \[::1\]:' "$T/count" || fail "the backend's connection did not come from [::1]: $(cat "$T/count")"
assert_log_contains "$T/srv.log" "info: tunnel in: \[::1\]:[0-9]+: CN=client1 authorized"
assert_log_contains "$T/cli.log" "info: tunnel out: \[::1\]:[0-9]+: closed after [0-9]+ ms, 3000000 bytes up, 2000000 bytes down, [^,]+, to [^ ]+\$"

# the IPv4 loopback is not served by these tunnels
"$TCPTOOL" -t 2 expect-closed 127.0.0.1 "$CLI" >/dev/null 2>&1 &&
	fail "the client role also accepted on 127.0.0.1:$CLI"
assert_log_lacks "$T/srv.log" ": (error|warning): "
assert_log_lacks "$T/cli.log" ": (error|warning): "
say "PASS"
