#!/bin/bash
# reload_tunnels: a reload that removes one tunnel and adds another; the
# kept tunnel's listener stays open throughout (no refused connection).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

make_pki
pick_ports BE SRV A B
random_file "$T/in" 200000
start_backend "$BE" --mode echo --count-file "$T/count"
srv=$(server_tunnel in "127.0.0.1:$SRV" "127.0.0.1:$BE")
write_conf "$T/d.conf" "$srv" \
	"$(client_tunnel a "127.0.0.1:$A" "127.0.0.1:$SRV" client1)"
start_daemon "$T/d.conf" "$T/d.log"
MASTER=$LAST_PID
"$TCPTOOL" -t 20 sendrecv 127.0.0.1 "$A" "$T/in" "$T/out.a" || fail "tunnel a before the reload"
assert_same "$T/in" "$T/out.a"

# Connections to the kept tunnel keep coming while the reload happens.
(
	for i in $(seq 40); do
		"$TCPTOOL" -t 20 sendrecv 127.0.0.1 "$A" "$T/in" "$T/loop.out" || exit 1
		cmp -s "$T/in" "$T/loop.out" || exit 2
		sleep 0.05
	done
) &
LOOP=$!
track "$LOOP"
sleep 0.5
write_conf "$T/d.conf" "$srv" \
	"$(client_tunnel a "127.0.0.1:$A" "127.0.0.1:$SRV" client1)" \
	"$(client_tunnel b "127.0.0.1:$B" "127.0.0.1:$SRV" client1)"
log_mark "$T/d.log"
kill -HUP "$MASTER"
assert_log_since "$T/d.log" "notice: configuration reloaded: generation 2 with 3 tunnels" 10
wait "$LOOP" || fail "a connection to the kept tunnel failed during the reload (status $?)"
say "ok: 40 connections to the kept tunnel across the reload"
"$TCPTOOL" -t 20 sendrecv 127.0.0.1 "$B" "$T/in" "$T/out.b" || fail "the added tunnel b"
assert_same "$T/in" "$T/out.b"
say "ok: tunnel b added"

write_conf "$T/d.conf" "$srv" \
	"$(client_tunnel b "127.0.0.1:$B" "127.0.0.1:$SRV" client1)"
log_mark "$T/d.log"
kill -HUP "$MASTER"
assert_log_since "$T/d.log" "notice: configuration reloaded: generation 3 with 2 tunnels" 10
assert_log_since "$T/d.log" "info: generation 2 finished draining" 10
if timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$A" 2>/dev/null; then
	fail "tunnel a still accepts connections after it was removed"
fi
"$TCPTOOL" -t 20 sendrecv 127.0.0.1 "$B" "$T/in" "$T/out.b2" || fail "tunnel b after removing a"
assert_same "$T/in" "$T/out.b2"
say "ok: tunnel a removed, b kept"
stop_daemon "$MASTER"
say "PASS"
