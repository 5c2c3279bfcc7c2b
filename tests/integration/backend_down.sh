#!/bin/bash
# backend_down: when the far side cannot be reached the app's connection is
# closed promptly and the log says why.
#  1. server role, backend port closed: closed well under connect_timeout,
#     "backend ADDR: Connection refused" in the server's log.
#  2. client role, the TLS server's port closed: closed promptly, the
#     client's log names the address and the reason.
#  3. server role, backend connect hangs (a full listen queue): closed after
#     connect_timeout, "connect timed out after 2 s" in the log.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

make_pki
pick_ports BE SRV CLI NOSRV BH SRV3 CLI3
# nothing listens on BE

# elapsed_ms OUTPUT: the "after N ms" of tcptool expect-closed's line
elapsed_ms() {
	sed -n 's/.* after \([0-9]*\) ms$/\1/p' "$1"
}

blackhole=yes
"$TCPTOOL" -t "$TEST_TIMEOUT" blackhole "$BH" --pid-file "$T/bh.pid" 2>"$T/bh.log" &
track $!
wait_until 10 pid_file_or_gone "$T/bh.pid" "$LAST_PID"
if [ ! -s "$T/bh.pid" ]; then
	running "$LAST_PID" && fail "blackhole did not start within 10 s"
	rc=0
	wait "$LAST_PID" || rc=$?
	[ "$rc" -eq 77 ] || fail "blackhole failed (exit $rc): $(cat "$T/bh.log")"
	blackhole=no
fi

write_conf "$T/srv.conf" \
	"$(server_tunnel down "127.0.0.1:$SRV" "127.0.0.1:$BE")" \
	"$(server_tunnel slow "127.0.0.1:$SRV3" "127.0.0.1:$BH" 'connect_timeout = 2;')"
write_conf "$T/cli.conf" \
	"$(client_tunnel out "127.0.0.1:$CLI" "127.0.0.1:$SRV" client1 'server_name = "localhost";')" \
	"$(client_tunnel nosrv "127.0.0.1:$NOSRV" "127.0.0.1:$BE" client1 'server_name = "localhost";')" \
	"$(client_tunnel slow "127.0.0.1:$CLI3" "127.0.0.1:$SRV3" client1 'server_name = "localhost";')"
start_daemon "$T/srv.conf" "$T/srv.log"
start_daemon "$T/cli.conf" "$T/cli.log"

# 1 (connect_timeout is 10 s; "promptly" is under 3 s)
"$TCPTOOL" -t 3 expect-closed 127.0.0.1 "$CLI" >"$T/x1.out" ||
	fail "backend down: the app's connection was not closed within 3 s"
cat "$T/x1.out"
assert_log_contains "$T/srv.log" "warning: tunnel down: 127\.0\.0\.1:[0-9]+: backend 127\.0\.0\.1:$BE: Connection refused\$"
assert_log_contains "$T/srv.log" "info: tunnel down: 127\.0\.0\.1:[0-9]+: CN=client1 authorized"

# 2 (tunnel nosrv connects to BE, where nothing listens)
"$TCPTOOL" -t 3 expect-closed 127.0.0.1 "$NOSRV" >"$T/x2.out" ||
	fail "TLS server down: the app's connection was not closed within 3 s"
cat "$T/x2.out"
assert_log_contains "$T/cli.log" "warning: tunnel nosrv: 127\.0\.0\.1:[0-9]+: .*127\.0\.0\.1:$BE: Connection refused\$"

# 3
if [ "$blackhole" = yes ]; then
	"$TCPTOOL" -t 8 expect-closed 127.0.0.1 "$CLI3" >"$T/x3.out" ||
		fail "backend connect hanging: the app's connection was not closed within 8 s (connect_timeout = 2)"
	cat "$T/x3.out"
	ms=$(elapsed_ms "$T/x3.out")
	[ "$ms" -ge 1500 ] || fail "closed after $ms ms, before connect_timeout = 2 s"
	assert_log_contains "$T/srv.log" "warning: tunnel slow: 127\.0\.0\.1:[0-9]+: backend 127\.0\.0\.1:$BH: connect timed out after 2 s\$"
else
	say "part 3 skipped: $(cat "$T/bh.log")"
fi
assert_log_lacks "$T/srv.log" ": error: "
assert_log_lacks "$T/cli.log" ": error: "
say "PASS"
