#!/bin/bash
# integrity: every byte crosses the tunnel (client role -> server role ->
# backend and back) unchanged, whatever the shape of the writes. The
# streams come from a deterministic generator (tcptool stream) and each
# end checks every byte it receives against it: nothing goes to disk, so
# GiBs are cheap.
#  1. tiny writes, slow: 3000 one-byte writes 1 ms apart, echoed back
#     byte-exact.
#  2. tiny writes, fast: 200000 one-byte writes as fast as the socket
#     takes them, echoed back byte-exact.
#  3. full duplex at full rate: 256 MiB each way at once, both checked.
#  4. a big transfer: BIG_GIB GiB (default 4) app -> backend, checked.
#  5. a big transfer the other way: BIG_GIB GiB backend -> app, checked.
#  6. the WebSocket transport: 256 MiB each way at once, both checked.
#  7. the daemons logged every connection closed cleanly with its exact
#     byte counts, and no warning or error.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

: "${BIG_GIB:=4}"
DUPLEX=$((256 * 1024 * 1024))
BIG=$((BIG_GIB * 1024 * 1024 * 1024))
BIG_DOWN=$BIG

make_pki
pick_ports BE_ECHO BE_DUP BE_UP BE_DOWN S1 S2 S3 S4 S5 C1 C2 C3 C4 C5
start_backend "$BE_ECHO" --mode echo
start_backend "$BE_DUP" --mode stream --send "$DUPLEX" --expect "$DUPLEX" \
	--ends-file "$T/ends.dup"
start_backend "$BE_UP" --mode stream --send 0 --expect "$BIG" \
	--ends-file "$T/ends.up"
start_backend "$BE_DOWN" --mode stream --send "$BIG_DOWN" --expect 0 \
	--ends-file "$T/ends.down"

ws='transport = "websocket";'
write_conf "$T/srv.conf" \
	"$(server_tunnel echo "127.0.0.1:$S1" "127.0.0.1:$BE_ECHO")" \
	"$(server_tunnel dup "127.0.0.1:$S2" "127.0.0.1:$BE_DUP")" \
	"$(server_tunnel up "127.0.0.1:$S3" "127.0.0.1:$BE_UP")" \
	"$(server_tunnel down "127.0.0.1:$S4" "127.0.0.1:$BE_DOWN")" \
	"$(server_tunnel wsdup "127.0.0.1:$S5" "127.0.0.1:$BE_DUP" "$ws")"
sn='server_name = "localhost";'
write_conf "$T/cli.conf" \
	"$(client_tunnel echo "127.0.0.1:$C1" "127.0.0.1:$S1" client1 "$sn")" \
	"$(client_tunnel dup "127.0.0.1:$C2" "127.0.0.1:$S2" client1 "$sn")" \
	"$(client_tunnel up "127.0.0.1:$C3" "127.0.0.1:$S3" client1 "$sn")" \
	"$(client_tunnel down "127.0.0.1:$C4" "127.0.0.1:$S4" client1 "$sn")" \
	"$(client_tunnel wsdup "127.0.0.1:$C5" "127.0.0.1:$S5" client1 "$sn $ws")"
LOG_LEVEL=info
start_daemon "$T/srv.conf" "$T/srv.log"
start_daemon "$T/cli.conf" "$T/cli.log"

# ends_ok FILE N: the backend's ends file says "ok" for N connections.
ends_ok() {
	[ -f "$1" ] && [ "$(grep -c ': ok, ' "$1")" -ge "$2" ]
}

# 1
"$TCPTOOL" -t 60 dribble 127.0.0.1 "$C1" 3000 1 >"$T/x1.out" ||
	fail "3000 slow one-byte writes: $(cat "$T/x1.out")"
say "ok: $(cat "$T/x1.out")"

# 2
"$TCPTOOL" -t 90 dribble 127.0.0.1 "$C1" 200000 0 >"$T/x2.out" ||
	fail "200000 fast one-byte writes: $(cat "$T/x2.out")"
say "ok: $(cat "$T/x2.out")"

# 3
"$TCPTOOL" -t 120 stream 127.0.0.1 "$C2" "$DUPLEX" "$DUPLEX" >"$T/x3.out" ||
	fail "full duplex, 256 MiB each way"
wait_until 10 ends_ok "$T/ends.dup" 1 ||
	fail "full duplex: the backend's side: $(cat "$T/ends.dup" 2>/dev/null)"
say "ok: full duplex: $(cat "$T/x3.out")"

# 4
"$TCPTOOL" -t 300 stream 127.0.0.1 "$C3" "$BIG" 0 >"$T/x4.out" ||
	fail "$BIG_GIB GiB app -> backend"
wait_until 10 ends_ok "$T/ends.up" 1 ||
	fail "$BIG_GIB GiB app -> backend: the backend: $(cat "$T/ends.up" 2>/dev/null)"
say "ok: $BIG_GIB GiB up: $(cat "$T/x4.out")"

# 5
"$TCPTOOL" -t 300 stream 127.0.0.1 "$C4" 0 "$BIG_DOWN" >"$T/x5.out" ||
	fail "$BIG_GIB GiB backend -> app"
wait_until 10 ends_ok "$T/ends.down" 1 ||
	fail "$BIG_GIB GiB backend -> app: the backend: $(cat "$T/ends.down" 2>/dev/null)"
say "ok: $BIG_GIB GiB down: $(cat "$T/x5.out")"

# 6
"$TCPTOOL" -t 120 stream 127.0.0.1 "$C5" "$DUPLEX" "$DUPLEX" >"$T/x6.out" ||
	fail "WebSocket: full duplex, 256 MiB each way"
wait_until 10 ends_ok "$T/ends.dup" 2 ||
	fail "WebSocket full duplex: the backend's side: $(cat "$T/ends.dup")"
say "ok: WebSocket full duplex: $(cat "$T/x6.out")"

# 7
for t in "dup $DUPLEX $DUPLEX" "up $BIG 0" "down 0 $BIG_DOWN" "wsdup $DUPLEX $DUPLEX"; do
	set -- $t
	assert_log_contains "$T/cli.log" "info: tunnel $1: 127\.0\.0\.1:[0-9]+: closed after [0-9]+ ms, $2 bytes up, $3 bytes down, "
done
assert_log_contains "$T/cli.log" "info: tunnel echo: 127\.0\.0\.1:[0-9]+: closed after [0-9]+ ms, 200000 bytes up, 200000 bytes down, "
assert_log_lacks "$T/srv.log" ": (error|warning): "
assert_log_lacks "$T/cli.log" ": (error|warning): "
say "ok: every connection closed cleanly with its exact byte counts"
say "PASS"
