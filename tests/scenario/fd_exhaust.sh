#!/bin/bash
# fd_exhaust: a server-role worker out of descriptors (RLIMIT_NOFILE 40)
# says so at a bounded rate, does not spin, keeps its established
# connections going and recovers by itself: no restart, same PIDs.
# (tests/ops/fd_limit.sh covers the pause and the recovery once; this
# adds the log rate, the master, a live transfer, the PIDs and a second
# episode.)
#
#  1. Held out of descriptors for 3 s, the worker logs the accept failure
#     once, not once per retry (every 100 ms; it was once a second); once
#     descriptors are free, each shortage has its one "accepting again"
#     notice with the count of accepts that failed meanwhile (more in
#     all than lines logged: it did retry, quietly).
#  2. No busy loop: the worker uses under 0.5 s of CPU in those 3 s.
#  3. The master is not dragged in: under 0.2 s of CPU in those 3 s, and
#     no worker exits or restarts.
#  4. A tunnelled transfer started before the exhaustion (paced, 10 s)
#     finishes byte-exact through it.
#  5. Once the idle connections go, a new transfer works: recovered
#     without a restart (same master and worker PIDs).
#  6. A second exhaustion is logged again, once, with its own "accepting
#     again", and recovered from the same way.
HANDSHAKE_TIMEOUT=60
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

make_pki
pick_ports BE SRV CLI
random_file "$T/in" 100000
start_backend "$BE" --mode echo
LOG_LEVEL=info
write_conf "$T/s.conf" "$(server_tunnel in "127.0.0.1:$SRV" "127.0.0.1:$BE")"
write_conf "$T/c.conf" "$(client_tunnel out "127.0.0.1:$CLI" "127.0.0.1:$SRV" client1)"
sed -i 's/^\tworkers = 2;/\tworkers = 1;/' "$T/s.conf"
start_daemon "$T/c.conf" "$T/c.log"
(ulimit -n 40 && exec "$SSLTUNNELD" -f -c "$T/s.conf") >"$T/s.out" 2>"$T/s.log" &
S=$!
track "$S"
wait_port "$SRV" || fail "server daemon not listening"
wait_until 10 workers_ready "$S" 1 "$T/s.log" || fail "server daemon's worker did not start"
W=$(pgrep -P "$S")
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
WARN="warning: tunnel in: accept: Too many open files; not accepting for 100 ms"
AGAIN="notice: tunnel in: accepting again after [0-9]+ ms \(([0-9]+) failed accepts, retried every 100 ms\)"
# again_fails: the failed accepts the last "accepting again" counted.
again_fails() {
	grep -Eo "accepting again after [0-9]+ ms \([0-9]+ failed" "$T/s.log" |
		sed 's/.*(\([0-9]*\) failed/\1/' | awk '{ s += $1 } END { print s + 0 }'
}
# paired: as many "accepting again" as warnings (each shortage ends).
paired() {
	[ "$(grep -c "$WARN" "$T/s.log")" -eq "$(grep -c "accepting again" "$T/s.log")" ]
}

# exhaust: 60 silent connections, more than the worker can hold.
exhaust() {
	local i fd
	FDS=()
	for i in $(seq 60); do
		exec {fd}<>"/dev/tcp/127.0.0.1/$SRV" || fail "connect $i"
		FDS+=("$fd")
	done
}
release() {
	local fd
	for fd in "${FDS[@]}"; do
		exec {fd}>&-
	done
}
recovered() {
	wait_until 20 "$TCPTOOL" -t 10 sendrecv 127.0.0.1 "$CLI" "$T/in" "$T/out" >/dev/null ||
		fail "no connection through the tunnel once descriptors were free"
	assert_same "$T/in" "$T/out"
	[ "$(pgrep -P "$S")" = "$W" ] && alive "$S" ||
		fail "the daemon restarted: master $S alive? worker now $(pgrep -P "$S"), was $W"
}

"$TCPTOOL" -t 60 many 127.0.0.1 "$CLI" 1 $((2000 * 1024)) --pace $((200 * 1024)) \
	>"$T/live.out" 2>"$T/live.err" &
LIVE=$!
track "$LIVE"
wait_until 10 eval '[ "$(ss -Htn state established "( sport = :$SRV )" | wc -l)" -ge 1 ]' ||
	fail "the live transfer did not start"

exhaust
assert_log_contains "$T/s.log" "$WARN" 10
n0=$(grep -c "$WARN" "$T/s.log")
tw0=$(ticks "$W"); tm0=$(ticks "$S")
sleep 3
tw1=$(ticks "$W"); tm1=$(ticks "$S")
n1=$(grep -c "$WARN" "$T/s.log")
say "3 s out of descriptors: $((n1 - n0)) more warnings; worker $(((tw1 - tw0) * 10)) ms CPU, master $(((tm1 - tm0) * 10)) ms CPU"
[ "$n1" -eq 1 ] || fail "$n1 accept warnings in one shortage of 3 s, expected 1"
[ $((tw1 - tw0)) -lt 50 ] || fail "worker used $(((tw1 - tw0) * 10)) ms of CPU in 3 s out of descriptors: it spins"
[ $((tm1 - tm0)) -lt 20 ] || fail "master used $(((tm1 - tm0) * 10)) ms of CPU in 3 s"
assert_log_lacks "$T/s.log" "was killed|exited|starting another"
say "ok: one warning for the shortage, neither worker nor master spins"

wait "$LIVE" || fail "the live transfer: $(cat "$T/live.out" "$T/live.err")"
say "ok: live transfer through the exhaustion: $(cat "$T/live.out")"
release
recovered
assert_log_contains "$T/s.log" "$AGAIN"
wait_until 10 paired || fail "$(grep -c "$WARN" "$T/s.log") shortages logged, $(grep -c "accepting again" "$T/s.log") ends"
NW=$(grep -c "$WARN" "$T/s.log")
[ "$(again_fails)" -gt "$NW" ] || fail "$(again_fails) failed accepts in $NW shortages: no quiet retries?"
say "ok: recovered, same PIDs (master $S, worker $W); $NW shortage(s) logged (the backlog of idle connections can bring a short second one), $(again_fails) failed accepts"

log_mark "$T/s.log"
exhaust
assert_log_since "$T/s.log" "$WARN" 10
sleep 1.5
release
recovered
assert_log_since "$T/s.log" "$AGAIN"
wait_until 10 paired || fail "$(grep -c "$WARN" "$T/s.log") shortages logged, $(grep -c "accepting again" "$T/s.log") ends"
assert_log_lacks "$T/s.log" "was killed|exited|starting another"
say "ok: a second exhaustion logged and recovered from, same PIDs"
say "PASS"
