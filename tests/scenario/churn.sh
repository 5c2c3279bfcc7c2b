#!/bin/bash
# churn: many short tunnelled connections (app -> client role -> server
# role -> backend, each a TCP connect, a full mutual-TLS handshake between
# the daemons, a 32-byte request and its echo, and the close) leave no
# descriptors and no memory behind in any of the daemons' processes.
#
#  1. CHURN_N short connections, 8 at a time, all whole: every echo
#     byte-exact, every close clean. Default 25000: about 1 min at the
#     ~450 handshakes/s of a 2-core host, 2 min when it is shared (220/s
#     seen); CHURN_N=100000 is the issue's figure (4 to 8 min there).
#  2. No process of either daemon (masters and workers) holds more
#     descriptors after the churn than after the warm-up.
#  3. No process of either daemon grew its RSS by more than
#     CHURN_RSS_SLACK_KB (default 4096) KiB between warm-up and the end.
#  4. Neither daemon logged a failed relay, a warning or an error over
#     the whole churn (log_level notice).
# CHURN_N=100000 (what scripts/test, and so CI, runs) takes 4 to 8 min
# here: the watchdog then allows 15.
: "${TEST_TIMEOUT:=$(( ${CHURN_N:-25000} > 25000 ? 900 : 600 ))}"
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

need_tools pgrep
make_pki
pick_ports BE SRV CLI
N=${CHURN_N:-25000}
SLACK=${CHURN_RSS_SLACK_KB:-4096}
LOG_LEVEL=notice
start_backend "$BE" --mode echo
write_conf "$T/srv.conf" "$(server_tunnel in "127.0.0.1:$SRV" "127.0.0.1:$BE")"
write_conf "$T/cli.conf" "$(client_tunnel out "127.0.0.1:$CLI" "127.0.0.1:$SRV" client1 \
	'server_name = "localhost";')"
start_daemon "$T/srv.conf" "$T/srv.log"; SRV_PID=$LAST_PID
start_daemon "$T/cli.conf" "$T/cli.log"; CLI_PID=$LAST_PID
wait_until 10 eval '[ "$(pgrep -P "$SRV_PID" | wc -l)" -eq 2 ] && [ "$(pgrep -P "$CLI_PID" | wc -l)" -eq 2 ]' ||
	fail "workers did not start"
PROCS="$SRV_PID $(pgrep -P "$SRV_PID" | tr '\n' ' ')$CLI_PID $(pgrep -P "$CLI_PID" | tr '\n' ' ')"

# snapshot FILE: "PID FDS RSS_KIB" for every process of both daemons.
snapshot() {
	local p
	for p in $PROCS; do
		[ -d "/proc/$p" ] || fail "process $p of the daemons is gone"
		echo "$p $(ls "/proc/$p/fd" | wc -l) $(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status")"
	done >"$1"
}

# Warm-up: caches, session state, allocator arenas reach their size.
"$TCPTOOL" -t 120 churn 127.0.0.1 "$CLI" 3000 --parallel 8 >"$T/warm.out" ||
	fail "warm-up churn failed"
sleep 1
snapshot "$T/before"
say "warm-up: $(cat "$T/warm.out")"

"$TCPTOOL" -t $((TEST_TIMEOUT - 60)) churn 127.0.0.1 "$CLI" "$N" --parallel 8 >"$T/churn.out" 2>"$T/churn.err" ||
	fail "churn: $(cat "$T/churn.out" "$T/churn.err" | tail -n 8)"
say "$(cat "$T/churn.out")"
# The daemons close their ends right after the app's: let them settle.
sleep 2
snapshot "$T/after"

while read -r p f0 r0; do
	read -r _ f1 r1 < <(grep "^$p " "$T/after")
	say "pid $p: fds $f0 -> $f1, rss $r0 -> $r1 KiB"
	[ "$f1" -le "$f0" ] || fail "process $p holds $f1 descriptors after $N connections, $f0 before"
	[ "$r1" -le $((r0 + SLACK)) ] ||
		fail "process $p grew from $r0 to $r1 KiB over $N connections (slack $SLACK KiB)"
done <"$T/before"
say "ok: no descriptor or memory growth in $(echo $PROCS | wc -w) processes"
assert_log_lacks "$T/srv.log" "relay failed|: error: |warning: "
assert_log_lacks "$T/cli.log" "relay failed|: error: |warning: "
say "PASS"
