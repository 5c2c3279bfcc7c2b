#!/bin/bash
# backpressure: peers that never read. 100 tunnelled connections (app ->
# client role -> server role -> backend) stall in one direction while the
# other side keeps sending; the daemons must hold a bounded amount of
# memory for them, serve other connections meanwhile, and give the memory
# back once they end. Memory is the sum of VmRSS over both daemons'
# processes (masters and workers).
#  1. the backend floods, the apps never read: the daemons' memory grows
#     by at most MAX_KIB_PER_CONN (default 512) KiB per stuck connection.
#  2. meanwhile another connection through the same daemons carries
#     8 MiB each way byte-exact.
#  3. after the apps close, the daemons' memory is back within 8 MiB of
#     the baseline (within 10 s).
#  4. the reverse: the apps send, the backend never reads: at most
#     MAX_KIB_PER_CONN KiB per stuck connection.
#  5. meanwhile another connection carries 8 MiB each way byte-exact.
#  6. after the apps reset their connections (a FIN would wait behind the
#     bytes the backend never reads), memory is back within 8 MiB of the
#     baseline.
#  7. the same as 1 over the WebSocket transport (its own mover): at most
#     MAX_KIB_PER_CONN KiB per stuck connection.
#  8. meanwhile another connection carries 8 MiB each way byte-exact.
#  9. after the apps close, memory is back within 8 MiB of the baseline.
# 10. no error in the daemons' logs.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

: "${MAX_KIB_PER_CONN:=512}"
N=100
SLACK_KIB=$((8 * 1024))

make_pki
pick_ports BE_FLOOD BE_MUTE BE_ECHO S1 S2 S3 S4 C1 C2 C3 C4
random_file "$T/data" $((8 * 1024 * 1024))
start_backend "$BE_FLOOD" --mode flood
start_backend "$BE_MUTE" --mode mute
start_backend "$BE_ECHO" --mode echo

write_conf "$T/srv.conf" \
	"$(server_tunnel flood "127.0.0.1:$S1" "127.0.0.1:$BE_FLOOD")" \
	"$(server_tunnel mute "127.0.0.1:$S2" "127.0.0.1:$BE_MUTE")" \
	"$(server_tunnel echo "127.0.0.1:$S3" "127.0.0.1:$BE_ECHO")" \
	"$(server_tunnel wsflood "127.0.0.1:$S4" "127.0.0.1:$BE_FLOOD" 'transport = "websocket";')"
sn='server_name = "localhost";'
write_conf "$T/cli.conf" \
	"$(client_tunnel flood "127.0.0.1:$C1" "127.0.0.1:$S1" client1 "$sn")" \
	"$(client_tunnel mute "127.0.0.1:$C2" "127.0.0.1:$S2" client1 "$sn")" \
	"$(client_tunnel echo "127.0.0.1:$C3" "127.0.0.1:$S3" client1 "$sn")" \
	"$(client_tunnel wsflood "127.0.0.1:$C4" "127.0.0.1:$S4" client1 "$sn transport = \"websocket\";")"
LOG_LEVEL=info
start_daemon "$T/srv.conf" "$T/srv.log"
SRV_PID=$LAST_PID
start_daemon "$T/cli.conf" "$T/cli.log"
CLI_PID=$LAST_PID

# rss_kib: VmRSS summed over both daemons' masters and workers.
rss_kib() {
	local p k sum=0 v
	for p in "$SRV_PID" "$CLI_PID"; do
		for k in $p $(pgrep -P "$p"); do
			v=$(awk '/^VmRSS:/ { print $2 }' "/proc/$k/status" 2>/dev/null)
			sum=$((sum + ${v:-0}))
		done
	done
	echo "$sum"
}

# rss_detail: each daemon process's VmRSS and heap (for RSS_DETAIL=1).
rss_detail() {
	local p k
	for p in "$SRV_PID" "$CLI_PID"; do
		for k in $p $(pgrep -P "$p"); do
			echo "pid $k: $(grep -E '^(VmRSS|RssAnon|RssFile)' "/proc/$k/status" | tr -s ' \t\n' ' ') heap $(awk '/\[heap\]/ { h = 1 } h && /^Rss:/ { print $2; exit }' "/proc/$k/smaps") KiB"
		done
	done
}

rss_near() {
	[ "$(rss_kib)" -le $(($1 + SLACK_KIB)) ]
}

# closed_count LOG TUNNEL: connections of TUNNEL the log saw end.
closed_count() {
	grep -Ec "tunnel $2: [^ ]+: (closed after|relay failed after)" "$1"
}

# good_transfer N: 8 MiB each way through the echo tunnel, byte-exact.
good_transfer() {
	"$TCPTOOL" -t 60 sendrecv 127.0.0.1 "$C3" "$T/data" "$T/good.$1" >"$T/good.$1.out" ||
		fail "a transfer beside the stuck connections failed"
	assert_same "$T/data" "$T/good.$1"
}

# stuck ROUND TUNNEL PORT [HOLD OPTIONS]: N connections that never read, held until
# the round's release file appears; checks memory while they are stuck,
# a good transfer meanwhile, and memory after they closed.
stuck() {
	local round=$1 tunnel=$2 port=$3 base stuck_kib per hold prev i
	shift 3
	good_transfer "$round.warm"
	base=$(rss_kib)
	"$TCPTOOL" -t 120 hold 127.0.0.1 "$port" "$N" "$@" --until "$T/release.$round" \
		>"$T/hold.$round.out" 2>&1 &
	hold=$!
	track "$hold"
	wait_until 60 grep -q "^hold: ready" "$T/hold.$round.out" ||
		fail "round $round: $N connections not ready: $(cat "$T/hold.$round.out")"
	# the buffers fill up: wait until memory holds still for a second
	stuck_kib=$(rss_kib)
	for i in $(seq 10); do
		sleep 1
		prev=$stuck_kib
		stuck_kib=$(rss_kib)
		[ $((stuck_kib - prev)) -gt 256 ] || break
	done
	per=$(((stuck_kib - base) / N))
	say "round $round ($tunnel): baseline $base KiB, $N stuck connections $stuck_kib KiB: $per KiB per connection ($(sed -n 's/^hold: ready, //p' "$T/hold.$round.out"))"
	[ "$per" -le "$MAX_KIB_PER_CONN" ] ||
		fail "round $round: $per KiB per stuck connection, more than $MAX_KIB_PER_CONN"
	good_transfer "$round"
	say "ok: round $round: 8 MiB each way byte-exact beside the stuck connections"
	touch "$T/release.$round"
	wait "$hold" || fail "round $round: hold: $(cat "$T/hold.$round.out")"
	wait_until 20 eval '[ "$(closed_count "$T/cli.log" $tunnel)" -ge $N ] && [ "$(closed_count "$T/srv.log" $tunnel)" -ge $N ]' ||
		fail "round $round: the daemons closed $(closed_count "$T/cli.log" $tunnel) and $(closed_count "$T/srv.log" $tunnel) of $N connections"
	wait_until 10 rss_near "$base" ||
		fail "round $round: memory $(rss_kib) KiB 10 s after the connections closed, baseline $base KiB (more than $SLACK_KIB KiB above)"
	say "ok: round $round: memory back to $(rss_kib) KiB (baseline $base KiB)"
	[ -z "${RSS_DETAIL:-}" ] || rss_detail
}

# 1, 2, 3
stuck 1 flood "$C1"
# 4, 5, 6
stuck 2 mute "$C2" --send --reset
# 7, 8, 9
stuck 3 wsflood "$C4"

# 10
assert_log_lacks "$T/srv.log" ": error: "
assert_log_lacks "$T/cli.log" ": error: "
say "PASS"
