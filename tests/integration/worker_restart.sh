#!/bin/bash
# worker_restart: the master re-forks a worker killed by SIGKILL, logs it,
# and the tunnel keeps working; workers die with their master.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

need_tools pgrep
make_pki
pick_ports BE SRV CLI

start_backend "$BE" --mode echo --count-file "$T/count"
write_conf "$T/srv.conf" "$(server_tunnel in "127.0.0.1:$SRV" "127.0.0.1:$BE")"
write_conf "$T/cli.conf" "$(client_tunnel out "127.0.0.1:$CLI" "127.0.0.1:$SRV" client1 \
	'server_name = "localhost";')"
start_daemon "$T/srv.conf" "$T/srv.log"; SRV_PID=$LAST_PID
start_daemon "$T/cli.conf" "$T/cli.log"; CLI_PID=$LAST_PID

# workers MASTER: the PIDs of its running children, sorted.
workers() {
	local p
	for p in $(pgrep -P "$1"); do
		running "$p" && echo "$p"
	done | sort -n
}

nworkers_is() {
	[ "$(workers "$1" | wc -l)" -eq "$2" ]
}

wait_until 5 nworkers_is "$SRV_PID" 2 ||
	fail "server daemon: $(workers "$SRV_PID" | wc -l) workers, expected 2 (workers = 2)"
for w in $(workers "$SRV_PID"); do
	assert_log_contains "$T/srv.log" "^ssltunneld\[[0-9]+\]: info: worker [0-9]+ started \(pid $w\)\$"
done
"$TCPTOOL" -t 30 many 127.0.0.1 "$CLI" 20 10000 || fail "tunnel not working before the kill"

BEFORE=$(workers "$SRV_PID" | tr '\n' ' ')
VICTIM=$(workers "$SRV_PID" | head -n 1)
SURVIVOR=$(workers "$SRV_PID" | tail -n 1)
say "workers: $BEFORE; killing $VICTIM"
kill -KILL "$VICTIM"

replaced() {
	local w
	w=$(workers "$SRV_PID")
	[ "$(echo "$w" | wc -l)" -eq 2 ] && ! echo "$w" | grep -qx "$VICTIM" &&
		echo "$w" | grep -qx "$SURVIVOR"
}
wait_until 5 replaced || fail "no replacement worker within 5 s: workers now: $(workers "$SRV_PID" | tr '\n' ' ')"
NEW=$(workers "$SRV_PID" | grep -vx "$SURVIVOR")
say "workers: $(workers "$SRV_PID" | tr '\n' ' '); new worker $NEW"
assert_log_contains "$T/srv.log" "^ssltunneld\[$SRV_PID\]: warning: worker [0-9]+ \(pid $VICTIM\) was killed by signal 9; starting another"
assert_log_contains "$T/srv.log" "^ssltunneld\[[0-9]+\]: info: worker [0-9]+ started \(pid $NEW\)\$"

"$TCPTOOL" -t 30 many 127.0.0.1 "$CLI" 50 20000 || fail "tunnel not working after the worker was replaced"
assert_connections "$T/count" 70

# Kill the client daemon's master with SIGKILL: its workers must notice
# and exit, and its port must stop accepting.
CLI_WORKERS=$(workers "$CLI_PID")
[ -n "$CLI_WORKERS" ] || fail "client daemon has no workers"
kill -KILL "$CLI_PID"
wait "$CLI_PID" 2>/dev/null
none_running() {
	local w
	for w in $CLI_WORKERS; do
		running "$w" && return 1
	done
	return 0
}
wait_until 5 none_running || fail "workers $(echo $CLI_WORKERS) still running 5 s after their master was killed"
# Another test running beside this one may take the freed port at once:
# what must be gone is a listener held by one of the daemon's processes.
ours_listening() {
	local p
	for p in $CLI_PID $CLI_WORKERS; do
		ss -Hltnp "sport = :$CLI" | grep -q "pid=$p," && return 0
	done
	return 1
}
wait_until 2 eval '! ours_listening' ||
	fail "port $CLI still listening in the dead client daemon: $(ss -Hltnp "sport = :$CLI")"

stop_daemon "$SRV_PID"
say "PASS"
