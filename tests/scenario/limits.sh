#!/bin/bash
# limits: idle_timeout closes a tunnelled connection that moves no byte
# for that long, on every data path this host has; a trickle keeps one
# open.
#  1. client role, idle_timeout = 4: a silent connection is closed no
#     sooner than 3 s and within 8 s after its last byte, both sides, with
#     "idle timeout after 4 s" in the log.
#  2. client role: one byte every 2 s (idle_timeout/2) for 10 s keeps the
#     connection open and echoing; silence then closes it.
#  3. server role, idle_timeout = 3 (the client end without one): the
#     server closes a silent connection and logs it.
#  4. WebSocket on both ends, the server's idle_timeout = 3 with pings
#     every second: pings are no traffic, the connection is closed.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

PEER=$top_srcdir/tests/scenario/limitpeer.py
make_pki
pick_ports BE S1 C1 S2 C2 S3 C3
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
say "ok: idle timeouts"
