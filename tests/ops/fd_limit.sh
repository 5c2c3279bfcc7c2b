#!/bin/bash
# fd_limit: a worker out of file descriptors says so, stops accepting for a
# moment instead of spinning on a listener that stays readable, and
# accepts again once descriptors are free. Raw TCP connections that never
# start a handshake hold one descriptor each in the server role.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

make_pki
pick_ports BE SRV CLI
random_file "$T/in" 100000
start_backend "$BE" --mode echo --count-file "$T/count"
write_conf "$T/s.conf" "$(server_tunnel in "127.0.0.1:$SRV" "127.0.0.1:$BE")"
write_conf "$T/c.conf" "$(client_tunnel out "127.0.0.1:$CLI" "127.0.0.1:$SRV" client1)"
sed -i 's/^\tworkers = 2;/\tworkers = 1;/' "$T/s.conf"
start_daemon "$T/c.conf" "$T/c.log"
# The server daemon gets 40 descriptors (soft and hard: the master can't
# raise it).
(ulimit -n 40 && exec "$SSLTUNNELD" -f -c "$T/s.conf") >"$T/s.out" 2>"$T/s.log" &
S=$!
track "$S"
wait_port "$SRV" || fail "server daemon not listening"
wait_until 10 workers_ready "$S" 1 "$T/s.log" || fail "server daemon's worker did not start"
W=$(pgrep -P "$S")

# 60 connections that never say anything: more than the worker can hold.
fds=()
for i in $(seq 60); do
	exec {fd}<>"/dev/tcp/127.0.0.1/$SRV" || fail "connect $i"
	fds+=("$fd")
done
assert_log_contains "$T/s.log" "warning: tunnel in: accept: Too many open files; not accepting for 100 ms" 10

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
t0=$(ticks "$W")
sleep 2
t1=$(ticks "$W")
[ $((t1 - t0)) -lt 50 ] ||
	fail "worker used $(((t1 - t0) * 10)) ms of CPU in 2 s while out of descriptors: it spins"
say "ok: out of descriptors, the worker waits ($(((t1 - t0) * 10)) ms of CPU in 2 s)"

for fd in "${fds[@]}"; do
	exec {fd}>&-
done
# The worker notices the closed ones (EOF in the handshake) and accepts
# the rest of the backlog, which closes too; then real traffic flows.
wait_until 15 "$TCPTOOL" -t 10 sendrecv 127.0.0.1 "$CLI" "$T/in" "$T/out" ||
	fail "no connection through the tunnel once descriptors were free"
assert_same "$T/in" "$T/out"
say "ok: accepting again once descriptors are free"
alive "$S" && alive "$W" || fail "the daemon or its worker died"
say "PASS"
