#!/bin/bash
# detach: without -f the starting command returns 0 only once the daemon
# listens, with its PID in pid_file; that PID is the master (its children
# are the workers). One daemon carries both roles here (app -> tunnel out
# -> tunnel in -> backend). SIGINT stops it and frees the ports.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

make_pki
pick_ports BE SRV CLI
start_backend "$BE" --mode echo --count-file "$T/count"
write_conf "$T/d.conf" \
	"$(server_tunnel in "127.0.0.1:$SRV" "127.0.0.1:$BE" 'allow_cn = [ "client1" ];')" \
	"$(client_tunnel out "127.0.0.1:$CLI" "127.0.0.1:$SRV" client1 'server_name = "localhost";')"
sed -i "s|^daemon = {|daemon = {\n\tpid_file = \"$T/ssltunneld.pid\";|" "$T/d.conf"

rc=0
timeout 20 "$SSLTUNNELD" -c "$T/d.conf" >"$T/d.out" 2>"$T/d.log" || rc=$?
[ "$rc" -eq 0 ] || fail "ssltunneld -c d.conf (detaching): exit $rc, expected 0"
[ -s "$T/ssltunneld.pid" ] || fail "no pid_file after the starting command returned"
PID=$(tr -d '[:space:]' <"$T/ssltunneld.pid")
case $PID in '' | *[!0-9]*) fail "pid_file holds \"$PID\", not a PID" ;; esac
track "$PID"
running "$PID" || fail "pid_file names $PID, which is not running"
# listening already when the starting command returned: no waiting here
"$TCPTOOL" -t 1 listening "$SRV" "$CLI" || fail "not listening when the starting command returned"

nkids() {
	[ "$(pgrep -P "$PID" | wc -l)" -eq "$1" ]
}
wait_until 5 nkids 2 || fail "pid_file's process $PID has $(pgrep -P "$PID" | wc -l) children, expected 2 workers"

random_file "$T/data" 200000
"$TCPTOOL" -t 20 sendrecv 127.0.0.1 "$CLI" "$T/data" "$T/got" || fail "sendrecv through the detached daemon failed"
assert_same "$T/data" "$T/got"
assert_connections "$T/count" 1

kill -INT "$PID"
wait_until 10 eval "! running $PID" || fail "daemon $PID still running 10 s after SIGINT"
"$TCPTOOL" -t 1 listening "$SRV" 2>/dev/null && fail "port $SRV still listening after the daemon stopped"
"$TCPTOOL" -t 1 listening "$CLI" 2>/dev/null && fail "port $CLI still listening after the daemon stopped"
say "PASS"
