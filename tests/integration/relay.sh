#!/bin/bash
# relay: Azure Relay Hybrid Connections with ssltunneld in all three parts:
# our sender (client role, transport = "relay") -> our relay (role
# "relay") -> our listener (role "listener") -> an echo backend. Neither
# end accepts connections from the other: both dial the relay.
#  1. 64 MiB each way, byte-exact; half-close (request, FIN, reply).
#  2. 200 concurrent connections, each byte-exact.
#  3. Two listener daemons (two workers, so two control channels, each)
#     share the senders, whichever of the relay's two workers holds each
#     channel; senders and listeners meet across the relay's workers.
#  4. Refusals: a path nobody listens on (404 at once), an expired token,
#     a wrong key, a send-only key used to listen (401), a backend that
#     is down (the listener refuses: 502 reaches the sender).
#  5. A listener killed: its control channels go, the senders fail fast
#     (404 at once); it comes back (its channels reconnect) and serves.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

make_pki
pick_ports BE RLY CLI CLI2 CLI3 DOWN
start_backend "$BE" --mode echo --count-file "$T/count"

key() {	# key FILE: a random SAS key, readable by its owner only
	head -c 32 /dev/urandom | base64 >"$1"
	chmod 600 "$1"
}
key "$T/listen.key"
key "$T/send.key"
key "$T/wrong.key"
key "$T/down-listen.key"

relay_conf() {
	cat <<EOF
	{ name = "relay"; role = "relay"; listen = "127.0.0.1:$RLY";
	  cert_file = "$PKI/server.pem"; key_file = "$PKI/server.key";
	  relay_accept_timeout = ${HANDSHAKE_TIMEOUT:-10};
	  relay_paths = (
	    { path = "db"; keys = (
	        { name = "listen-db"; key_file = "$T/listen.key"; rights = [ "listen" ]; },
	        { name = "send-db"; key_file = "$T/send.key"; rights = [ "send" ]; } ); },
	    { path = "nobody"; keys = (
	        { name = "send-db"; key_file = "$T/send.key"; rights = [ "send" ]; } ); },
	    { path = "down"; keys = (
	        { name = "listen-down"; key_file = "$T/down-listen.key"; rights = [ "listen" ]; },
	        { name = "send-db"; key_file = "$T/send.key"; rights = [ "send" ]; } ); } ); }
EOF
}
# listener_conf NAME PATH KEYNAME KEYFILE BACKEND
listener_conf() {
	cat <<EOF
	{ name = "$1"; role = "listener"; relay = "wss://127.0.0.1:$RLY/\$hc/$2";
	  relay_key_name = "$3"; relay_key_file = "$4";
	  ca_file = "$PKI/ca.pem"; connect = "$5"; }
EOF
}
# sender_conf NAME PORT PATH KEYNAME KEYFILE
sender_conf() {
	cat <<EOF
	{ name = "$1"; role = "client"; transport = "relay"; listen = "127.0.0.1:$2";
	  connect = "wss://127.0.0.1:$RLY/\$hc/$3";
	  relay_key_name = "$4"; relay_key_file = "$5"; ca_file = "$PKI/ca.pem"; }
EOF
}

write_conf "$T/relay.conf" "$(relay_conf)"
write_conf "$T/l1.conf" "$(listener_conf l1 db listen-db "$T/listen.key" "127.0.0.1:$BE")" \
	"$(listener_conf ldown down listen-down "$T/down-listen.key" "127.0.0.1:$DOWN")"
write_conf "$T/s.conf" "$(sender_conf s "$CLI" db send-db "$T/send.key")" \
	"$(sender_conf nobody "$CLI2" nobody send-db "$T/send.key")" \
	"$(sender_conf wrong "$CLI3" db send-db "$T/wrong.key")"
start_daemon "$T/relay.conf" "$T/relay.log"
"$SSLTUNNELD" -f -c "$T/l1.conf" >"$T/l1.out" 2>"$T/l1.log" &
L1=$!
track "$L1"
start_daemon "$T/s.conf" "$T/s.log"

channels() {	# channels LOG N: N listener control channels are up
	[ "$(grep -c 'info: tunnel relay: .*: listener on db (key listen-db)' "$1")" -ge "$2" ]
}
wait_until 15 channels "$T/relay.log" 2 ||
	fail "the listener's 2 control channels did not come up"
grep -q 'notice: tunnel l1: listening at wss://' "$T/l1.log" ||
	fail "the listener did not log that it listens"

# 1. Bulk and half-close.
random_file "$T/up" $((${BULK_MIB:-64} * 1024 * 1024))
"$TCPTOOL" -t 120 sendrecv 127.0.0.1 "$CLI" "$T/up" "$T/down" ||
	fail "bulk through the relay failed"
assert_same "$T/up" "$T/down"
say "ok: ${BULK_MIB:-64} MiB each way byte-exact through sender -> relay -> listener"
random_file "$T/small" 100003
"$TCPTOOL" -t 30 sendrecv 127.0.0.1 "$CLI" "$T/small" "$T/small.out" ||
	fail "half-close through the relay failed"
assert_same "$T/small" "$T/small.out"
say "ok: the FIN crosses the relay and the reply comes back whole"

# 2. Concurrency, with a second listener daemon on path db beside the
# first: four control channels in all.
write_conf "$T/l2.conf" "$(listener_conf l2 db listen-db "$T/listen.key" "127.0.0.1:$BE")"
"$SSLTUNNELD" -f -c "$T/l2.conf" >"$T/l2.out" 2>"$T/l2.log" &
L2=$!
track "$L2"
wait_until 15 channels "$T/relay.log" 4 ||
	fail "the second listener's control channels did not come up"
"$TCPTOOL" -t 120 many 127.0.0.1 "$CLI" 200 65536 >"$T/many.out" ||
	fail "200 concurrent through the relay: $(cat "$T/many.out")"
say "ok: 200 concurrent connections byte-exact"

# 3. All four workers of the two listeners (one control channel each) got
# senders: the round robin spans the channels whichever relay worker
# holds them. Every relay worker took senders, and senders met their
# listeners across workers: offered to a channel in another worker, and
# joined to a rendezvous that another worker accepted.
n=$(grep -hE 'tunnel l[12]: [^ ]+: sender offered by the relay' "$T/l1.log" "$T/l2.log" |
	grep -Eo '^ssltunneld\[[0-9]+\]' | sort -u | wc -l)
[ "$n" -ge 4 ] || fail "the senders went to $n of the 4 workers of the two listeners"
n=$(grep -E 'tunnel relay: [^ ]+: sender on db, offered to' "$T/relay.log" |
	grep -Eo '^ssltunneld\[[0-9]+\]' | sort -u | wc -l)
[ "$n" -ge 2 ] || fail "senders came to $n of the relay's 2 workers"
grep -q 'sender on db, offered to a listener in worker [12]$' "$T/relay.log" ||
	fail "no sender was offered to a control channel of another worker"
grep -q 'sender joined to a listener.s rendezvous in worker [12]$' "$T/relay.log" ||
	fail "no sender was joined to a rendezvous of another worker"
say "ok: two listeners shared the senders (all 4 channels), across the relay's workers"
stop_daemon "$L2"

# 4. Refusals.
expect_refused() {	# expect_refused PORT LOGPATTERN WHAT
	log_mark "$T/s.log"
	"$TCPTOOL" -t 20 sendrecv 127.0.0.1 "$1" "$T/small" "$T/refused.out" >/dev/null 2>&1
	[ ! -s "$T/refused.out" ] || fail "$3: bytes came back"
	wait_until 10 log_since_has "$T/s.log" "$LOG_MARK" "$2" || fail "$3: the sender did not log: $2"
}
expect_refused "$CLI2" "HTTP/1.1 404 Not Found: (404 Not Found: )?path nobody: no listener" "a path nobody listens on"
say "ok: a path nobody listens on: 404"
expect_refused "$CLI3" "HTTP/1.1 401 Unauthorized: (401 Unauthorized: )?path db, key send-db: " "a wrong key"
say "ok: a token signed with the wrong key: 401"

printf 'GET /$hc/db?sb-hc-action=listen HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nServiceBusAuthorization: %s\r\n\r\n' \
	"$("$SSLTUNNELD" relay-token "http://127.0.0.1/db" send-db "$T/send.key" 3600)" >"$T/req"
tlsreq "$RLY" client1 "$T/req" >"$T/h1"
head -n1 "$T/h1" | grep -q '^HTTP/1.1 401 ' || fail "a send key used to listen: $(head -n1 "$T/h1")"
grep -q 'key send-db has no right to listen' "$T/relay.log" || fail "no log line for the send key used to listen"
say "ok: a send-only key used to listen: 401"

printf 'GET /$hc/db?sb-hc-action=connect HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nServiceBusAuthorization: %s\r\n\r\n' \
	"$("$SSLTUNNELD" relay-token "http://127.0.0.1/db" send-db "$T/send.key" -10)" >"$T/req"
tlsreq "$RLY" client1 "$T/req" >"$T/h2"
head -n1 "$T/h2" | grep -q '^HTTP/1.1 401 ' || fail "an expired token: $(head -n1 "$T/h2")"
say "ok: an expired token: 401"

wait_until 15 eval "grep -q 'listener on down (key listen-down)' '$T/relay.log'" ||
	fail "the listener of path down did not come up"
write_conf "$T/s2.conf" "$(sender_conf sdown "$CLI2" down send-db "$T/send.key")"
stop_daemon "$(pgrep -f -- "-c $T/s.conf" | head -n1)"
start_daemon "$T/s2.conf" "$T/s2.log"
log_mark "$T/s2.log"
"$TCPTOOL" -t 20 sendrecv 127.0.0.1 "$CLI2" "$T/small" "$T/refused.out" >/dev/null 2>&1
wait_until 10 log_since_has "$T/s2.log" "$LOG_MARK" "HTTP/1.1 502 Bad Gateway: (502 Bad Gateway: )?path down: the listener refused: backend 127.0.0.1:$DOWN" ||
	fail "a backend that is down: the sender did not get the listener's 502"
say "ok: a backend that is down: the listener refuses, the sender gets 502"

# 5. The listener killed: the senders fail fast; it comes back.
write_conf "$T/s3.conf" "$(sender_conf s3 "$CLI" db send-db "$T/send.key")"
start_daemon "$T/s3.conf" "$T/s3.log"
# The workers first: a master killed first would have them told to
# drain (PR_SET_PDEATHSIG), and they might close their channels cleanly.
kids=$(pgrep -P "$L1") || fail "the listener has no workers"
kill -KILL $kids
kill -KILL "$L1"
wait_until 10 eval "! running $L1" || fail "the listener did not die"
wait_until 10 eval "[ \$(grep -c 'listener on db went away\|listener control channel ended' '$T/relay.log') -ge 2 ]" ||
	fail "the relay did not notice the listener's channels end"
start=$(date +%s%N)
"$TCPTOOL" -t 20 sendrecv 127.0.0.1 "$CLI" "$T/small" "$T/refused.out" >/dev/null 2>&1
ms=$((($(date +%s%N) - start) / 1000000))
[ ! -s "$T/refused.out" ] || fail "bytes came back with no listener"
# Well before relay_accept_timeout: 3 s here, 30 s on the kTLS VM's
# emulated CPUs (HANDSHAKE_TIMEOUT 60 there).
fast=$((${HANDSHAKE_TIMEOUT:-6} * 500))
[ "$ms" -lt "$fast" ] || fail "with the listener gone a sender took $ms ms to fail (limit $fast)"
say "ok: the listener killed: a sender fails in $ms ms"
"$SSLTUNNELD" -f -c "$T/l1.conf" >"$T/l1b.out" 2>"$T/l1b.log" &
track $!
wait_until 15 eval "grep -q 'notice: tunnel l1: listening at' '$T/l1b.log'" ||
	fail "the listener did not come back"
"$TCPTOOL" -t 30 sendrecv 127.0.0.1 "$CLI" "$T/small" "$T/back.out" ||
	fail "no transfer after the listener came back"
assert_same "$T/small" "$T/back.out"
say "ok: the listener came back and serves"
assert_log_lacks "$T/relay.log" ": error: "
assert_no_secrets "$T/listen.key" "$T/send.key" "$T/wrong.key" "$T/down-listen.key"
say "ok: no key and no token in any log (log_level debug)"
say "PASS"
