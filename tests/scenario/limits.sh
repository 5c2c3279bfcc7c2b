#!/bin/bash
# limits: idle_timeout closes a tunnelled connection that moves no byte
# for that long, on every data path this host has (userspace, WebSocket,
# a relay's joined pairs; kTLS + splice only where the kernel has it); a
# trickle keeps one open.
#  1. client role, idle_timeout = 4: a silent connection is closed no
#     sooner than 3 s and within 8 s after its last byte, both sides, with
#     "idle timeout after 4 s" in the log.
#  2. client role: one byte every 2 s (idle_timeout/2) for 10 s keeps the
#     connection open and echoing; silence then closes it.
#  3. server role, idle_timeout = 3 (the client end without one): the
#     server closes a silent connection and logs it.
#  4. WebSocket on both ends, the server's idle_timeout = 3 with pings
#     every second: pings are no traffic, the connection is closed.
#  5. Hybrid Connections: our sender -> our relay (idle_timeout = 3) ->
#     our listener -> echo. The relay closes a silent joined pair (its
#     mover_hc) and logs it; the listener's control channels, idle far
#     longer, stay up: a new sender's connection still echoes.
# max_connections and max_connections_per_source count over all workers
# (2 here) and refuse at accept, before any handshake:
#  6. max_connections = 3: three connections relay, the fourth is closed
#     within 2 s, logged, and the server never sees its handshake.
#  7. a freed place (one holder leaves) admits exactly one more.
#  8. 20 refusals in a burst: at most 3 log lines, and
#     ssltunnel_limit_refused_total counts every one (22 in all).
#  9. max_connections_per_source = 2: 127.0.0.1 and 127.0.0.2 get two
#     each, the third from each is refused and logged.
# 10. SIGKILL to the worker holding most of 3 connections (max 3): once
#     the master replaced it, exactly the places it held are free again.
# 11. reload (SIGHUP): the 3 connections the draining generation holds
#     count against the new one's max_connections = 3; once they close
#     the new generation admits 3.
# 12. ssltunneld -t refuses idle_timeout = -1, max_connections = 2000000,
#     max_connections_per_source above max_connections and with
#     proxy_protocol = "accept", naming file:line and the setting.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

PEER=$top_srcdir/tests/scenario/limitpeer.py
make_pki
pick_ports BE S1 C1 S2 C2 S3 C3 CAP SRC KIL MX RLY HS
start_backend "$BE" --mode echo

sn='server_name = "localhost";'
write_conf "$T/srv.conf" \
	"$(server_tunnel plain "127.0.0.1:$S1" "127.0.0.1:$BE")" \
	"$(server_tunnel idle "127.0.0.1:$S2" "127.0.0.1:$BE" 'idle_timeout = 3;')" \
	"$(server_tunnel ws "127.0.0.1:$S3" "127.0.0.1:$BE" 'transport = "websocket"; ws_ping_interval = 1; idle_timeout = 3;')"
write_conf "$T/cli.conf" \
	"$(client_tunnel idle "127.0.0.1:$C1" "127.0.0.1:$S1" client1 "$sn idle_timeout = 4;")" \
	"$(client_tunnel plain "127.0.0.1:$C2" "127.0.0.1:$S2" client1 "$sn")" \
	"$(client_tunnel ws "127.0.0.1:$C3" "127.0.0.1:$S3" client1 "$sn transport = \"websocket\"; ws_ping_interval = 1;")"
start_daemon "$T/srv.conf" "$T/srv.log"
start_daemon "$T/cli.conf" "$T/cli.log"

# silence_s OUTPUT: the X.X of "closed after X.X s of silence", times 10
silence_ds() {
	sed -n 's/.*closed after \([0-9]*\)\.\([0-9]\) s of silence$/\1\2/p' "$1"
}

# idle_check N PORT LO HI WHAT: a silent connection through PORT closes
# after LO..HI seconds of silence.
idle_check() {
	local n=$1 port=$2 lo=$3 hi=$4 what=$5 ds
	timeout 60 "$PY" "$PEER" idle "$port" --max 20 >"$T/i$n.out" 2>&1 ||
		fail "$what: $(cat "$T/i$n.out")"
	ds=$(silence_ds "$T/i$n.out")
	[ -n "$ds" ] || fail "$what: $(cat "$T/i$n.out")"
	[ "$ds" -ge $((lo * 10)) ] && [ "$ds" -le $((hi * 10)) ] ||
		fail "$what: $(cat "$T/i$n.out"), expected $lo to $hi s"
	say "ok $n: $what: $(cat "$T/i$n.out")"
}

# 1
log_mark "$T/cli.log"
idle_check 1 "$C1" 3 8 "client role, idle_timeout = 4"
assert_log_since "$T/cli.log" "notice: tunnel idle: 127\.0\.0\.1:[0-9]+: idle timeout after 4 s: closing both sides$"
# both sides: the server end saw its TLS peer go and closed its backend leg
assert_log_since "$T/srv.log" "info: tunnel plain: 127\.0\.0\.1:[0-9]+: closed after [0-9]+ ms" 10

# 2
timeout 60 "$PY" "$PEER" idle "$C1" --every 2 --for 10 --max 20 >"$T/i2.out" 2>&1 ||
	fail "a trickle every 2 s with idle_timeout = 4: $(cat "$T/i2.out")"
grep -Eq '^trickled [5-9] bytes; closed after [3-8]\.[0-9] s of silence$' "$T/i2.out" ||
	fail "a trickle every 2 s: $(cat "$T/i2.out")"
say "ok 2: a byte every 2 s kept it open: $(cat "$T/i2.out")"

# 3
log_mark "$T/srv.log"
idle_check 3 "$C2" 2 7 "server role, idle_timeout = 3"
assert_log_since "$T/srv.log" "notice: tunnel idle: 127\.0\.0\.1:[0-9]+: idle timeout after 3 s: closing both sides$"
assert_log_lacks "$T/cli.log" "tunnel plain: .*idle timeout"

# 4
log_mark "$T/srv.log"
idle_check 4 "$C3" 2 7 "WebSocket, idle_timeout = 3, pings every second"
assert_log_since "$T/srv.log" "notice: tunnel ws: 127\.0\.0\.1:[0-9]+: idle timeout after 3 s: closing both sides$"

# 5
key() {	# key FILE: a random SAS key, readable by its owner only
	head -c 32 /dev/urandom | base64 >"$1"
	chmod 600 "$1"
}
key "$T/listen.key"
key "$T/send.key"
write_conf "$T/relay.conf" "	{ name = \"relay\"; role = \"relay\"; listen = \"127.0.0.1:$RLY\";
	  cert_file = \"$PKI/server.pem\"; key_file = \"$PKI/server.key\";
	  idle_timeout = 3;
	  relay_paths = ( { path = \"db\"; keys = (
	    { name = \"listen-db\"; key_file = \"$T/listen.key\"; rights = [ \"listen\" ]; },
	    { name = \"send-db\"; key_file = \"$T/send.key\"; rights = [ \"send\" ]; } ); } ); }"
write_conf "$T/hl.conf" "	{ name = \"l\"; role = \"listener\"; relay = \"wss://127.0.0.1:$RLY/\$hc/db\";
	  relay_key_name = \"listen-db\"; relay_key_file = \"$T/listen.key\";
	  ca_file = \"$PKI/ca.pem\"; connect = \"127.0.0.1:$BE\"; }"
write_conf "$T/hs.conf" "	{ name = \"s\"; role = \"client\"; transport = \"relay\"; listen = \"127.0.0.1:$HS\";
	  connect = \"wss://127.0.0.1:$RLY/\$hc/db\";
	  relay_key_name = \"send-db\"; relay_key_file = \"$T/send.key\"; ca_file = \"$PKI/ca.pem\"; }"
start_daemon "$T/relay.conf" "$T/relay.log"
RELAY=$LAST_PID
"$SSLTUNNELD" -f -c "$T/hl.conf" >"$T/hl.out" 2>"$T/hl.log" &
HL=$!
track "$HL"
start_daemon "$T/hs.conf" "$T/hs.log"
HSD=$LAST_PID
wait_until 15 eval '[ "$(grep -c "info: tunnel relay: .*: listener on db (key listen-db)" "$T/relay.log")" -ge 2 ]' ||
	fail "the listener's control channels did not come up"
chans=$(grep -c "info: tunnel relay: .*: listener on db (key listen-db)" "$T/relay.log")
log_mark "$T/relay.log"
idle_check 5 "$HS" 2 8 "relay, idle_timeout = 3"
assert_log_since "$T/relay.log" "notice: tunnel relay: 127\.0\.0\.1:[0-9]+: idle timeout after 3 s: closing both sides$"
timeout 30 "$PY" "$PEER" idle "$HS" --every 1 --for 2 --max 20 >"$T/i5b.out" 2>&1 ||
	fail "relay: a new sender after the idle close: $(cat "$T/i5b.out")"
[ "$(grep -c "idle timeout" "$T/hl.log")" -eq 0 ] || fail "the listener idle-closed: $(grep "idle timeout" "$T/hl.log")"
[ "$(grep -c "info: tunnel relay: .*: listener on db (key listen-db)" "$T/relay.log")" -eq "$chans" ] ||
	fail "the listener's control channels were opened again: $(grep "listener on db" "$T/relay.log")"
say "ok 5: relay: the idle pair closed, the control channels stayed: $(cat "$T/i5b.out")"
stop_daemon "$HSD"
stop_pid "$HL"
stop_daemon "$RELAY"

# --- limits ----------------------------------------------------------------
DAEMON_EXTRA="metrics_listen = \"127.0.0.1:$MX\";" write_conf "$T/lim.conf" \
	"$(client_tunnel cap "127.0.0.1:$CAP" "127.0.0.1:$S1" client1 "$sn max_connections = 3;")" \
	"$(client_tunnel src "127.0.0.1:$SRC" "127.0.0.1:$S1" client1 "$sn max_connections_per_source = 2;")" \
	"$(client_tunnel kil "127.0.0.1:$KIL" "127.0.0.1:$S1" client1 "$sn max_connections = 3;")"
start_daemon "$T/lim.conf" "$T/lim.log"
LIM=$LAST_PID

# hold NAME PORT N [--src ADDR]: limitpeer.py hold in the background,
# once it has tried all N; unhold NAME stops it (its connections close).
hold() {
	local name=$1 port=$2 n=$3
	shift 3
	rm -f "$T/$name.st"
	timeout 200 "$PY" "$PEER" hold "$port" "$n" "$T/$name.st" --max 180 "$@" \
		>"$T/$name.out" 2>&1 &
	track $!
	echo $! >"$T/$name.pid"
	wait_until 30 test -s "$T/$name.st" ||
		fail "hold $name: no status after 30 s: $(cat "$T/$name.out")"
}

unhold() {
	stop_pid "$(cat "$T/$1.pid")"
}

# st NAME KEY: a number from NAME's status line
st() {
	sed -n "s/.*$2=\([0-9]*\).*/\1/p" "$T/$1.st"
}

# expect_st NAME A R WHAT: NAME admitted A and was refused R
expect_st() {
	[ "$(st "$1" admitted)" = "$2" ] && [ "$(st "$1" refused)" = "$3" ] ||
		fail "$4: $(cat "$T/$1.st"), expected admitted=$2 refused=$3"
}

# metric NAME{LABELS}: its value in GET /metrics
metric() {
	curl -sS --max-time 10 "http://127.0.0.1:$MX/metrics" |
		awk -v k="$1" '$1 == k { print $2 }'
}

# refused_fast PORT WHAT: a new connection is closed within 2 s, unanswered
refused_fast() {
	"$TCPTOOL" -t 2 expect-closed 127.0.0.1 "$1" --silent >"$T/rf.out" 2>&1 ||
		fail "$2: not closed within 2 s: $(cat "$T/rf.out")"
}

# 6
log_mark "$T/srv.log"
hs0=$(grep -c "tunnel plain: .*CN=client1 authorized" "$T/srv.log")
hold a "$CAP" 2
hold b "$CAP" 1
expect_st a 2 0 "max_connections = 3, first two"
expect_st b 1 0 "max_connections = 3, third"
log_mark "$T/lim.log"
refused_fast "$CAP" "max_connections = 3, the fourth"
assert_log_since "$T/lim.log" "notice: tunnel cap: 127\.0\.0\.1:[0-9]+: refused: max_connections \(3\) reached$"
sleep 1
hs=$(grep -c "tunnel plain: .*CN=client1 authorized" "$T/srv.log")
[ $((hs - hs0)) -eq 3 ] ||
	fail "max_connections: the server saw $((hs - hs0)) handshakes, expected 3 (none for the refused one)"
say "ok 6: max_connections = 3: 3 relayed, the fourth closed at once: $(cat "$T/rf.out")"

# 7
unhold b
hold c "$CAP" 2
expect_st c 1 1 "a freed place"
say "ok 7: one place freed, one admitted, the next refused"

# 8
log_mark "$T/lim.log"
for i in $(seq 20); do
	refused_fast "$CAP" "refusal $i of a burst"
done
sleep 1
n=$(tail -n "+$((LOG_MARK + 1))" "$T/lim.log" | grep -c "tunnel cap: .*refused: max_connections")
[ "$n" -le 3 ] || fail "20 refusals in a burst logged $n lines, expected at most 3"
wait_until 10 eval '[ "$(metric "ssltunnel_limit_refused_total{tunnel=\"cap\",limit=\"max_connections\"}")" = 22 ]' ||
	fail "ssltunnel_limit_refused_total for cap: $(metric 'ssltunnel_limit_refused_total{tunnel="cap",limit="max_connections"}'), expected 22"
say "ok 8: 20 refusals, $n log lines, all 22 counted"
unhold a
unhold c

# 9
log_mark "$T/lim.log"
hold s1 "$SRC" 3 --src 127.0.0.1
expect_st s1 2 1 "max_connections_per_source = 2 from 127.0.0.1"
hold s2 "$SRC" 3 --src 127.0.0.2
expect_st s2 2 1 "max_connections_per_source = 2 from 127.0.0.2"
assert_log_since "$T/lim.log" "notice: tunnel src: 127\.0\.0\.1:[0-9]+: refused: max_connections_per_source \(2\) reached for this address$"
assert_log_since "$T/lim.log" "notice: tunnel src: 127\.0\.0\.2:[0-9]+: refused: max_connections_per_source \(2\) reached for this address$"
[ "$(metric 'ssltunnel_limit_refused_total{tunnel="src",limit="max_connections_per_source"}')" = 2 ] ||
	fail "per-source refusals counted: $(metric 'ssltunnel_limit_refused_total{tunnel="src",limit="max_connections_per_source"}'), expected 2"
say "ok 9: two sources, two places each"
unhold s1
unhold s2

# 10
hold k "$KIL" 3
expect_st k 3 0 "max_connections = 3 before the kill"
victim=$(ss -Htnp state established "( sport = :$KIL )" |
	grep -o 'pid=[0-9]*' | sort | uniq -c | sort -rn | awk 'NR == 1 { sub("pid=", "", $2); print $2 }')
[ -n "$victim" ] || fail "no worker holds the connections of tunnel kil: $(ss -Htnp state established)"
log_mark "$T/lim.log"
kill -KILL "$victim"
wait_until 10 eval '[ "$(st k open)" -lt 3 ]' || fail "the killed worker's connections stayed open: $(cat "$T/k.st")"
assert_log_since "$T/lim.log" "worker [0-9] \(pid $victim\) was killed by signal 9; starting another"
wait_until 15 workers_ready "$LIM" 2 "$T/lim.log" || fail "the killed worker was not replaced"
lost=$((3 - $(st k open)))
hold k2 "$KIL" $((lost + 1))
expect_st k2 "$lost" 1 "after SIGKILL of a worker holding $lost"
say "ok 10: SIGKILL freed the $lost places the dead worker held, no more"
unhold k
unhold k2

# 11
hold r1 "$CAP" 3
expect_st r1 3 0 "max_connections = 3 before the reload"
log_mark "$T/lim.log"
kill -HUP "$LIM"
assert_log_since "$T/lim.log" "notice: configuration reloaded: generation 2 " 10
wait_until 15 eval '[ "$(pgrep -P "$LIM" | wc -l)" -ge 3 ]' || fail "no new workers after the reload"
sleep 1
refused_fast "$CAP" "after a reload, with 3 held by the draining generation"
unhold r1
assert_log_since "$T/lim.log" "info: generation 1 finished draining" 15
hold r2 "$CAP" 4
expect_st r2 3 1 "the new generation alone"
say "ok 11: a reload keeps max_connections"
unhold r2

# 12
check_t() {
	local what=$1 want=$2
	shift 2
	write_conf "$T/bad.conf" "$@"
	rc=0
	"$SSLTUNNELD" -t -c "$T/bad.conf" >"$T/bad.out" 2>&1 || rc=$?
	[ "$rc" -eq 78 ] || fail "-t with $what: exit $rc, expected 78: $(cat "$T/bad.out")"
	grep -Eq -- "$want" "$T/bad.out" || fail "-t with $what: $(cat "$T/bad.out")"
}
check_t "idle_timeout = -1" "bad\.conf:[0-9]+: tunnel x\.idle_timeout: expected an integer from 0 to 604800, got -1" \
	"$(server_tunnel x "127.0.0.1:$S1" "127.0.0.1:$BE" 'idle_timeout = -1;')"
check_t "max_connections = 2000000" "bad\.conf:[0-9]+: tunnel x\.max_connections: expected an integer from 0 to 1000000, got 2000000" \
	"$(server_tunnel x "127.0.0.1:$S1" "127.0.0.1:$BE" 'max_connections = 2000000;')"
check_t "max_connections_per_source > max_connections" "bad\.conf:[0-9]+: .*max_connections_per_source: 5 is more than max_connections \(4\)" \
	"$(server_tunnel x "127.0.0.1:$S1" "127.0.0.1:$BE" 'max_connections = 4; max_connections_per_source = 5;')"
check_t "max_connections_per_source with proxy_protocol accept" "bad\.conf:[0-9]+: .*max_connections_per_source: not with proxy_protocol = \"accept\"" \
	"$(server_tunnel x "127.0.0.1:$S1" "127.0.0.1:$BE" 'max_connections_per_source = 5; proxy_protocol = "accept"; proxy_from = [ "127.0.0.1" ];')"
say "ok 12: ssltunneld -t names the setting and where"
stop_daemon "$LIM"
say "ok: idle timeouts and connection limits"
