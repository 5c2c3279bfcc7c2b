#!/bin/bash
# backend_faults: backends (and apps) that misbehave, through the client
# role and the server role. A reset on one side is a reset on the other,
# never a clean EOF that would pass a truncated stream for a whole one:
# the side that saw the reset sends a fatal TLS alert and closes its TLS
# leg; the other daemon, on that alert, closes its plain leg with a reset.
#  1. the backend answers the app's first bytes with 1 MiB then resets:
#     the app reads a reset
#     (ECONNRESET), not an EOF, and the server logs the reset.
#  2. the backend accepts and resets at once: the app reads a reset.
#  3. the app sends 1 MiB then resets: the backend reads a reset.
#  4. the app resets while the backend is sending: the backend's send
#     fails with a reset (it never sees an EOF).
#  5. flapping backend, up: served byte-exact.
#  6. flapping backend, down: the app's connection is reset within 3 s
#     (the server role sends a fatal alert, the client role resets), the
#     server logs "Connection refused".
#  7. flapping backend, up again: served byte-exact by the same daemons.
#  8. a backend that accepts and never answers: the app's bytes reach it
#     and the tunnel stays open (4 s, bounded).
#  9. 20 connections idle at such a backend: the daemons use almost no
#     CPU meanwhile (no busy loop).
# 10. a backend that accepts and closes at once: the app sees an EOF
#     within 2 s.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

make_pki
pick_ports BE_RST BE_RST0 BE_SINK BE_FLOOD BE_FLAP BE_MUTE BE_CLOSE \
	S1 S2 S3 S4 S5 S6 S7 C1 C2 C3 C4 C5 C6 C7
random_file "$T/data" $((1024 * 1024))

start_backend "$BE_RST" --mode reset --reset-after $((1024 * 1024))
start_backend "$BE_RST0" --mode reset --reset-after 0
start_backend "$BE_SINK" --mode sink-source --fin-after 999999999999 \
	--sink "$T/sink" --ends-file "$T/ends.sink"
start_backend "$BE_FLOOD" --mode flood --ends-file "$T/ends.flood"
start_backend "$BE_MUTE" --mode sink-source --fin-after 999999999999 \
	--sink "$T/mute"
start_backend "$BE_CLOSE" --mode close

write_conf "$T/srv.conf" \
	"$(server_tunnel rst "127.0.0.1:$S1" "127.0.0.1:$BE_RST")" \
	"$(server_tunnel rst0 "127.0.0.1:$S2" "127.0.0.1:$BE_RST0")" \
	"$(server_tunnel sink "127.0.0.1:$S3" "127.0.0.1:$BE_SINK")" \
	"$(server_tunnel flood "127.0.0.1:$S4" "127.0.0.1:$BE_FLOOD")" \
	"$(server_tunnel flap "127.0.0.1:$S5" "127.0.0.1:$BE_FLAP")" \
	"$(server_tunnel mute "127.0.0.1:$S6" "127.0.0.1:$BE_MUTE")" \
	"$(server_tunnel close "127.0.0.1:$S7" "127.0.0.1:$BE_CLOSE")"
sn='server_name = "localhost";'
write_conf "$T/cli.conf" \
	"$(client_tunnel rst "127.0.0.1:$C1" "127.0.0.1:$S1" client1 "$sn")" \
	"$(client_tunnel rst0 "127.0.0.1:$C2" "127.0.0.1:$S2" client1 "$sn")" \
	"$(client_tunnel sink "127.0.0.1:$C3" "127.0.0.1:$S3" client1 "$sn")" \
	"$(client_tunnel flood "127.0.0.1:$C4" "127.0.0.1:$S4" client1 "$sn")" \
	"$(client_tunnel flap "127.0.0.1:$C5" "127.0.0.1:$S5" client1 "$sn")" \
	"$(client_tunnel mute "127.0.0.1:$C6" "127.0.0.1:$S6" client1 "$sn")" \
	"$(client_tunnel close "127.0.0.1:$C7" "127.0.0.1:$S7" client1 "$sn")"
start_daemon "$T/srv.conf" "$T/srv.log"
SRV_PID=$LAST_PID
start_daemon "$T/cli.conf" "$T/cli.log"
CLI_PID=$LAST_PID

# ends_has FILE REGEX: the backend's ends file has a matching line.
ends_has() {
	[ -f "$1" ] && grep -Eq -- "$2" "$1"
}

# cpu_ticks PID...: user + system clock ticks of these processes and
# their children (the workers).
cpu_ticks() {
	local p k sum=0
	for p in "$@"; do
		for k in $p $(pgrep -P "$p"); do
			sum=$((sum + $(awk '{ print $14 + $15 }' "/proc/$k/stat" 2>/dev/null || echo 0)))
		done
	done
	echo "$sum"
}

# 1
"$TCPTOOL" -t 20 expect-reset 127.0.0.1 "$C1" --send 100 >"$T/x1.out" ||
	fail "backend reset mid-stream: the app did not see a reset"
say "ok: backend reset after 1 MiB: $(cat "$T/x1.out")"
assert_log_contains "$T/srv.log" "notice: tunnel rst: 127\.0\.0\.1:[0-9]+: relay failed after [0-9]+ ms: reading plain side: Connection reset by peer\$"

# 2
"$TCPTOOL" -t 20 expect-reset 127.0.0.1 "$C2" >"$T/x2.out" ||
	fail "backend reset at once: the app did not see a reset"
say "ok: backend reset at once: $(cat "$T/x2.out")"

# 3
"$TCPTOOL" -t 20 reset 127.0.0.1 "$C3" $((1024 * 1024)) >"$T/x3.out" ||
	fail "app reset: tcptool reset failed"
wait_until 10 ends_has "$T/ends.sink" "^connection 1: " ||
	fail "app reset: the backend's connection did not end within 10 s"
ends_has "$T/ends.sink" "^connection 1: reset, " ||
	fail "app reset: the backend saw \"$(cat "$T/ends.sink")\", expected a reset"
say "ok: app reset after 1 MiB: the backend saw $(cat "$T/ends.sink")"

# 4: the app reads nothing, sends 64 KiB, then resets
"$TCPTOOL" -t 20 reset 127.0.0.1 "$C4" 65536 >"$T/x4.out" ||
	fail "app reset while the backend sends: tcptool reset failed"
wait_until 10 ends_has "$T/ends.flood" "^connection 1: " ||
	fail "app reset while the backend sends: the backend's connection did not end within 10 s"
ends_has "$T/ends.flood" "^connection 1: reset, " ||
	fail "app reset while the backend sends: the backend saw \"$(cat "$T/ends.flood")\", expected a reset"
say "ok: app reset while the backend sends: $(cat "$T/ends.flood")"

# 5
start_backend "$BE_FLAP" --mode echo
FLAP_PID=$LAST_PID
"$TCPTOOL" -t 30 sendrecv 127.0.0.1 "$C5" "$T/data" "$T/flap1" ||
	fail "flapping backend, up: sendrecv failed"
assert_same "$T/data" "$T/flap1"
say "ok: flapping backend up: served"

# 6
stop_pid "$FLAP_PID"
log_mark "$T/srv.log"
"$TCPTOOL" -t 3 expect-closed 127.0.0.1 "$C5" >"$T/x6.out" ||
	fail "flapping backend, down: the app's connection was not closed within 3 s"
# (A resumed handshake is quick enough for the reset to come while
# tcptool still sees its connect through: "reset right after connecting".)
grep -Eq "\(reset( right after connecting)?\)" "$T/x6.out" ||
	fail "flapping backend, down: expected a reset (a refused backend is no clean end): $(cat "$T/x6.out")"
assert_log_since "$T/srv.log" "warning: tunnel flap: 127\.0\.0\.1:[0-9]+: backend 127\.0\.0\.1:$BE_FLAP: Connection refused\$"
say "ok: flapping backend down: $(cat "$T/x6.out"), refusal logged"

# 7
start_backend "$BE_FLAP" --mode echo
"$TCPTOOL" -t 30 sendrecv 127.0.0.1 "$C5" "$T/data" "$T/flap2" ||
	fail "flapping backend, up again: sendrecv failed"
assert_same "$T/data" "$T/flap2"
say "ok: flapping backend up again: served"

# 8: sendrecv --no-fin waits for an EOF that must not come: 124 after 4 s
rc=0
"$TCPTOOL" -t 4 sendrecv 127.0.0.1 "$C6" "$T/data" "$T/mute.got" --no-fin \
	2>"$T/x8.err" || rc=$?
[ "$rc" -eq 124 ] ||
	fail "silent backend: the tunnel did not stay open (tcptool exit $rc: $(cat "$T/x8.err"))"
[ -s "$T/mute.got" ] && fail "silent backend: the app received bytes"
assert_same "$T/data" "$T/mute.1"
say "ok: silent backend: the app's 1 MiB arrived, the tunnel stayed open 4 s"

# 9
rm -f "$T/release"
"$TCPTOOL" -t 60 hold 127.0.0.1 "$C6" 20 --until "$T/release" >"$T/hold.out" 2>&1 &
track $!
HOLD_PID=$!
wait_until 20 grep -q "^hold: ready" "$T/hold.out" ||
	fail "20 idle connections: not connected: $(cat "$T/hold.out")"
wait_until 20 eval '[ "$(ls "$T"/mute.* 2>/dev/null | wc -l)" -ge 22 ]' ||
	fail "20 idle connections: the backend accepted only $(ls "$T"/mute.* | wc -l) of 22"
t0=$(cpu_ticks "$SRV_PID" "$CLI_PID")
sleep 3
t1=$(cpu_ticks "$SRV_PID" "$CLI_PID")
touch "$T/release"
wait "$HOLD_PID" || fail "20 idle connections: $(cat "$T/hold.out")"
ticks=$((t1 - t0))
[ "$ticks" -le 10 ] ||
	fail "20 idle connections: the daemons used $ticks clock ticks of CPU in 3 s (a busy loop?)"
say "ok: 20 idle connections for 3 s: the daemons used $ticks clock ticks of CPU"

# 10
"$TCPTOOL" -t 2 expect-closed 127.0.0.1 "$C7" --silent >"$T/x10.out" ||
	fail "backend closing at once: the app's connection was not closed within 2 s"
grep -q "(EOF)" "$T/x10.out" ||
	fail "backend closing at once: expected an EOF: $(cat "$T/x10.out")"
say "ok: backend closing at once: $(cat "$T/x10.out")"

assert_log_lacks "$T/srv.log" ": error: "
assert_log_lacks "$T/cli.log" ": error: "
say "PASS"
