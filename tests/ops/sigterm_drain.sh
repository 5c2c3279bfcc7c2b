#!/bin/bash
# sigterm_drain: SIGTERM stops accepting at once, lets a live transfer
# finish byte-exact, then the master exits 0 and removes its pid file.
# A second daemon with a short drain_timeout cuts what is left.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

make_pki
pick_ports BE SRV CLI SRV2 CLI2
random_file "$T/in" $((8 * 256 * 1024))
start_backend "$BE" --mode echo --count-file "$T/count"
write_conf "$T/d.conf" \
	"$(server_tunnel in "127.0.0.1:$SRV" "127.0.0.1:$BE")" \
	"$(client_tunnel out "127.0.0.1:$CLI" "127.0.0.1:$SRV" client1)"
sed -i "s|^\tworkers = 2;|\tworkers = 2;\n\tpid_file = \"$T/d.pid\";|" "$T/d.conf"
start_daemon "$T/d.conf" "$T/d.log"
MASTER=$LAST_PID
[ "$(cat "$T/d.pid")" = "$MASTER" ] || fail "pid file says $(cat "$T/d.pid"), master is $MASTER"

paced_send() {	# FILE CHUNKS PORT OUT
	(
		for i in $(seq 0 $(($2 - 1))); do
			dd if="$1" bs=256K skip="$i" count=1 status=none
			sleep 0.5
		done
	) | timeout 60 socat -t 20 - "TCP:127.0.0.1:$3" >"$4" 2>>"$T/socat.log"
}
paced_send "$T/in" 8 "$CLI" "$T/out" &
SENDER=$!
track "$SENDER"
sleep 1
kill -TERM "$MASTER"
assert_log_contains "$T/d.log" "notice: Terminated: stopping; connections may finish" 5
assert_log_contains "$T/d.log" "info: worker [0-9]: draining" 5
sleep 0.5
if timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$CLI" 2>/dev/null; then
	fail "still accepting new connections after SIGTERM"
fi
say "ok: no new connections after SIGTERM"
wait "$SENDER" || fail "the live transfer failed: $(cat "$T/socat.log")"
assert_same "$T/in" "$T/out"
say "ok: the live transfer finished byte-exact after SIGTERM"
wait_until 10 eval "! alive $MASTER" || fail "master still running after the drain"
wait "$MASTER"
rc=$?
[ "$rc" -eq 0 ] || fail "master exit status $rc, expected 0"
[ ! -e "$T/d.pid" ] || fail "pid file left behind"
assert_log_contains "$T/d.log" "notice: all workers stopped; exiting"
say "ok: exit 0, pid file removed"

# drain_timeout: what is still open after it is closed, and the master
# still exits 0.
write_conf "$T/e.conf" \
	"$(server_tunnel in2 "127.0.0.1:$SRV2" "127.0.0.1:$BE")" \
	"$(client_tunnel out2 "127.0.0.1:$CLI2" "127.0.0.1:$SRV2" client1)"
sed -i "s|^\tworkers = 2;|\tworkers = 1;\n\tdrain_timeout = 1;|" "$T/e.conf"
start_daemon "$T/e.conf" "$T/e.log"
M2=$LAST_PID
paced_send "$T/in" 8 "$CLI2" "$T/out2" &
S2=$!
track "$S2"
sleep 1
kill -TERM "$M2"
assert_log_contains "$T/e.log" "notice: worker 1: drain_timeout passed; closing 2 connections" 5
wait_until 10 eval "! alive $M2" || fail "second master still running"
wait "$M2"
rc=$?
[ "$rc" -eq 0 ] || fail "second master exit status $rc"
say "ok: drain_timeout cuts the rest, exit 0"
say "PASS"
