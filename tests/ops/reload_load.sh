#!/bin/bash
# reload_load: a 30-second transfer through a client+server tunnel pair
# finishes byte-exact while the daemon is reloaded 5 times (SIGHUP), and
# connections made between reloads are served by the new generation.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

make_pki
pick_ports BE SRV CLI
CHUNKS=30
random_file "$T/in" $((CHUNKS * 256 * 1024))
random_file "$T/small" 100000
start_backend "$BE" --mode echo --count-file "$T/count"
DRAIN=${DRAIN:-60}
write_conf "$T/d.conf" \
	"$(server_tunnel in "127.0.0.1:$SRV" "127.0.0.1:$BE" 'allow_cn = [ "client1" ];')" \
	"$(client_tunnel out "127.0.0.1:$CLI" "127.0.0.1:$SRV" client1)"
sed -i "s/^\tworkers = 2;/\tworkers = 2;\n\tdrain_timeout = $DRAIN;/" "$T/d.conf"
start_daemon "$T/d.conf" "$T/d.log"
MASTER=$LAST_PID

# The paced sender: 256 KiB a second for 30 s; socat half-closes at the
# end and waits for the echo to finish.
(
	for i in $(seq 0 $((CHUNKS - 1))); do
		dd if="$T/in" bs=256K skip="$i" count=1 status=none
		sleep 1
	done
) | timeout 90 socat -t 30 - "TCP:127.0.0.1:$CLI" >"$T/out" 2>"$T/socat.log" &
SENDER=$!
track "$SENDER"

for r in 1 2 3 4 5; do
	sleep 4
	log_mark "$T/d.log"
	kill -HUP "$MASTER" || fail "SIGHUP: daemon gone"
	assert_log_since "$T/d.log" "notice: configuration reloaded: generation $((r + 1)) " 10
	# A new connection after each reload goes through the new workers.
	"$TCPTOOL" -t 20 sendrecv 127.0.0.1 "$CLI" "$T/small" "$T/small.$r" ||
		fail "a connection after reload $r failed"
	assert_same "$T/small" "$T/small.$r"
done
say "ok: 5 reloads, each followed by a good new connection"

wait "$SENDER" || fail "the long transfer failed (socat: $(cat "$T/socat.log"))"
assert_same "$T/in" "$T/out"
say "ok: the 30-second transfer across 5 reloads is byte-exact"
# Old generations finish once their connection ended.
assert_log_contains "$T/d.log" "info: generation 1 finished draining" 15
alive "$MASTER" || fail "the master died"
[ "$(pgrep -P "$MASTER" | wc -l)" -eq 2 ] ||
	fail "expected 2 workers after the drains, got: $(pgrep -P "$MASTER" | tr '\n' ' ')"
assert_log_lacks "$T/d.log" "relay failed|: error: "
stop_daemon "$MASTER"
say "PASS"
