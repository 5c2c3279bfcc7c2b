#!/bin/bash
# relay_edges: the relay's timers and the listener's connect = "dynamic".
#  1. A listener that never accepts (tests/integration/hclisten.py): the
#     relay sends it the accept message, and the sender gets 404 once
#     relay_accept_timeout (2 s) has passed, not before.
#     Control channels are pinged; one that never answers is dropped.
#  2. A listener's token that expires without renewToken: the relay closes
#     the control channel (1008); one renewed in time stays open past the
#     first token's expiry.
#  3. A listener with connect = "dynamic" and an acl: a sender that names
#     an allowed destination (destination = "host:port", sent as the
#     host/port query the relay passes on) is carried byte-exact; one
#     that names a destination the acl does not allow gets 403 and the
#     backend sees no connection; one that names none gets 400.
#     The listener's tokens live 4 s (relay_token_lifetime; 12 s on the
#     kTLS VM): it renews them, and its channels outlive them.
#  4. The relay restarted under a listener: its control channels come back
#     (backoff with jitter) and serve again.
#  5. One of the relay's workers SIGKILLed: its control channels leave the
#     shared directory, the worker is replaced, the listener's channel
#     comes back, and senders are served again.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

# Token lifetimes short enough to watch expire, with room for emulated
# CPUs (the kTLS VM sets HANDSHAKE_TIMEOUT): 4 s here, 12 s there.
TOK=4
[ -z "${HANDSHAKE_TIMEOUT:-}" ] || TOK=12

make_pki
pick_ports BE OTHER RLY RLY2 C1 C2 C3 C4
start_backend "$BE" --mode echo
start_backend "$OTHER" --mode echo --count-file "$T/other.count"

for k in listen send; do
	(umask 077 && head -c 32 /dev/urandom | base64 >"$T/$k.key") || fail "cannot write $k.key"
done

relay_path() {	# relay_path NAME: a path with the listen and send keys
	cat <<EOF
	    { path = "$1"; keys = (
	        { name = "listen"; key_file = "$T/listen.key"; rights = [ "listen" ]; },
	        { name = "send"; key_file = "$T/send.key"; rights = [ "send" ]; } ); }
EOF
}
# The lazy path on a relay tunnel of its own with a short
# relay_accept_timeout; the others get what emulated CPUs need (the kTLS
# VM sets HANDSHAKE_TIMEOUT).
LOG_LEVEL=info write_conf "$T/relay.conf" \
	"	{ name = \"relay\"; role = \"relay\"; listen = \"127.0.0.1:$RLY\";
	  cert_file = \"$PKI/server.pem\"; key_file = \"$PKI/server.key\";
	  relay_accept_timeout = ${HANDSHAKE_TIMEOUT:-10};
	  relay_paths = (
$(relay_path expiring),
$(relay_path dyn) ); }" \
	"	{ name = \"lazyrelay\"; role = \"relay\"; listen = \"127.0.0.1:$RLY2\";
	  cert_file = \"$PKI/server.pem\"; key_file = \"$PKI/server.key\";
	  relay_accept_timeout = 2; ws_ping_interval = 1;
	  relay_paths = (
$(relay_path lazy),
$(relay_path pinged) ); }"
sender_conf() {	# sender_conf NAME PORT PATH [EXTRA [RELAYPORT]]
	cat <<EOF
	{ name = "$1"; role = "client"; transport = "relay"; listen = "127.0.0.1:$2";
	  connect = "wss://127.0.0.1:${5:-$RLY}/\$hc/$3"; relay_key_name = "send";
	  relay_key_file = "$T/send.key"; ca_file = "$PKI/ca.pem"; ${4:-} }
EOF
}
write_conf "$T/s.conf" "$(sender_conf lazy "$C1" lazy "" "$RLY2")" \
	"$(sender_conf ok "$C2" dyn "destination = \"127.0.0.1:$BE\";")" \
	"$(sender_conf denied "$C3" dyn "destination = \"127.0.0.1:$OTHER\";")" \
	"$(sender_conf none "$C4" dyn)"
LOG_LEVEL=info write_conf "$T/l.conf" \
	"	{ name = \"dyn\"; role = \"listener\"; relay = \"wss://127.0.0.1:$RLY/\$hc/dyn\";
	  relay_key_name = \"listen\"; relay_key_file = \"$T/listen.key\";
	  ca_file = \"$PKI/ca.pem\"; connect = \"dynamic\"; relay_token_lifetime = $TOK;
	  acl = ( { allow = [ \"127.0.0.1:$BE\" ]; } ); }"
"$SSLTUNNELD" -t -c "$T/l.conf" >"$T/t.out" 2>&1 || fail "ssltunneld -t -c l.conf: $(cat "$T/t.out")"
start_daemon "$T/relay.conf" "$T/relay.log"
RELAY=$LAST_PID
start_daemon "$T/s.conf" "$T/s.log"

token() {	# token PATH KEY SECONDS
	"$SSLTUNNELD" relay-token "http://127.0.0.1/$1" "$2" "$T/$2.key" "$3"
}
hclisten() {	# hclisten OUT PORT PATH TOKEN ARGS...: in the background
	local out=$1
	shift
	timeout 60 /usr/bin/python3 "$top_srcdir/tests/integration/hclisten.py" \
		"$@" --ca "$PKI/ca.pem" >"$out" 2>"$out.err" &
	track $!
	wait_until 20 grep -q '^listening\|^refused' "$out" ||
		fail "hclisten.py $2 did not connect: $(cat "$out" "$out.err")"
	grep -q '^listening' "$out" || fail "hclisten.py $2: $(cat "$out")"
}

# 1. A listener that never accepts.
hclisten "$T/lazy.out" "$RLY2" lazy "$(token lazy listen 3600)" --hold 8
HL=$LAST_PID
random_file "$T/small" 10007
start=$(date +%s%N)
"$TCPTOOL" -t 20 sendrecv 127.0.0.1 "$C1" "$T/small" "$T/lazy.data" >/dev/null 2>&1
ms=$((($(date +%s%N) - start) / 1000000))
[ ! -s "$T/lazy.data" ] || fail "bytes came back from a listener that never accepted"
assert_log_contains "$T/s.log" "HTTP/1.1 404 Not Found: (404 Not Found: )?path lazy: no listener accepted within relay_accept_timeout \(2 s\)" 10
[ "$ms" -ge 1800 ] || fail "the sender was refused after $ms ms, before relay_accept_timeout (2 s)"
[ "$ms" -lt 10000 ] || fail "the sender was refused after $ms ms, long after relay_accept_timeout (2 s)"
grep -q "^accept wss://127.0.0.1:$RLY2/\$hc/lazy?sb-hc-action=accept&sb-hc-id=" "$T/lazy.out" ||
	fail "the listener got no accept message: $(cat "$T/lazy.out")"
say "ok: a listener that never accepts: the accept message came, the sender got 404 after $ms ms"
stop_pid "$HL"

# 1b. Control channels are pinged (every ws_ping_interval, 1 s on that
# relay tunnel); one that never answers is dropped at the next ping.
hclisten "$T/deaf.out" "$RLY2" pinged "$(token pinged listen 3600)" --deaf --hold 10
D=$LAST_PID
wait_until 15 eval "! running $D" || fail "hclisten.py --deaf did not end"
grep -q '^ping' "$T/deaf.out" || fail "the relay sent no ping: $(cat "$T/deaf.out")"
grep -q '^eof\|^close' "$T/deaf.out" ||
	fail "a listener that never answers pings was not dropped: $(cat "$T/deaf.out")"
assert_log_contains "$T/relay.log" "listener control channel: no pong within 1 s"
say "ok: control channels are pinged; one that does not answer is dropped"

# 2. Token expiry and renewToken.
hclisten "$T/exp.out" "$RLY" expiring "$(token expiring listen "$TOK")" --hold $((TOK * 2))
E1=$LAST_PID
hclisten "$T/ren.out" "$RLY" expiring "$(token expiring listen "$TOK")" --hold $((TOK * 2)) \
	--renew "$(token expiring listen 3600)" --renew-after 1
E2=$LAST_PID
wait_until $((TOK * 3)) eval "! running $E1 && ! running $E2" || fail "hclisten.py did not end"
grep -q '^closed 1008 token expired' "$T/exp.out" ||
	fail "an unrenewed token: the channel was not closed: $(cat "$T/exp.out")"
assert_log_contains "$T/relay.log" "listener on expiring: its token expired without renewToken"
grep -q '^renewed' "$T/ren.out" && grep -q '^open' "$T/ren.out" ||
	fail "a renewed token: the channel did not stay open: $(cat "$T/ren.out")"
assert_log_contains "$T/relay.log" "listener on expiring: token renewed \(key listen\)"
say "ok: an unrenewed token ends the control channel (1008); a renewed one keeps it open"

# 3. connect = "dynamic" behind the listener's acl.
"$SSLTUNNELD" -f -c "$T/l.conf" >"$T/l.out" 2>"$T/l.log" &
L=$!
track "$L"
wait_until 15 eval "[ \$(grep -c 'listener on dyn (key listen)' '$T/relay.log') -ge 2 ]" ||
	fail "the dynamic listener's control channels did not come up"
random_file "$T/big" $((8 * 1024 * 1024))
"$TCPTOOL" -t 60 sendrecv 127.0.0.1 "$C2" "$T/big" "$T/big.out" ||
	fail "an allowed destination through a dynamic listener failed"
assert_same "$T/big" "$T/big.out"
assert_log_contains "$T/l.log" "tunnel dyn: [^ ]+: sender -> 127.0.0.1:$BE \(127.0.0.1\): allowed by acl\[0\]"
say "ok: a destination the acl allows: 8 MiB byte-exact through a dynamic listener"

"$TCPTOOL" -t 20 sendrecv 127.0.0.1 "$C3" "$T/small" "$T/denied.out" >/dev/null 2>&1
[ ! -s "$T/denied.out" ] || fail "bytes came back from a destination the acl denies"
assert_log_contains "$T/s.log" "HTTP/1.1 403 Forbidden: (403 Forbidden: )?path dyn: the listener refused: 127.0.0.1:$OTHER is not allowed" 10
assert_log_contains "$T/l.log" "tunnel dyn: [^ ]+: sender -> 127.0.0.1:$OTHER \(127.0.0.1\): denied"
[ ! -s "$T/other.count" ] || fail "the denied destination was connected to"
# The relay takes the refusal with 410 Gone, as Azure's does.
assert_log_contains "$T/l.log" "tunnel dyn: [^ ]+: refusal sent to the relay \(it answered 410\)"
say "ok: a destination the acl does not allow: 403, and nothing reached it"

"$TCPTOOL" -t 20 sendrecv 127.0.0.1 "$C4" "$T/small" "$T/none.out" >/dev/null 2>&1
[ ! -s "$T/none.out" ] || fail "bytes came back without a destination"
assert_log_contains "$T/s.log" "HTTP/1.1 400 Bad Request: (400 Bad Request: )?path dyn: the listener refused: query port: missing" 10
say "ok: no destination named: 400"

# 3b. The listener signs its tokens for TOK s (relay_token_lifetime) and
# renews them at three quarters: its channels outlive several tokens.
wait_until $((TOK * 4)) eval "[ \$(grep -c 'tunnel dyn: token renewed' '$T/l.log') -ge 4 ]" ||
	fail "the listener did not renew its tokens: $(grep -c 'token renewed' "$T/l.log") renewals"
assert_log_contains "$T/relay.log" "listener on dyn: token renewed \(key listen\)"
assert_log_lacks "$T/relay.log" "listener on dyn: its token expired"
"$TCPTOOL" -t 60 sendrecv 127.0.0.1 "$C2" "$T/small" "$T/renewed.out" ||
	fail "no transfer after the listener's tokens were renewed"
assert_same "$T/small" "$T/renewed.out"
say "ok: the listener renews its tokens before they expire; its channels stay up"

# 4. The relay restarts under the listener.
stop_daemon "$RELAY"
wait_until 10 eval "[ \$(grep -c 'control channel closed; again in' '$T/l.log') -ge 2 ]" ||
	fail "the listener did not notice the relay going away"
mv "$T/relay.log" "$T/relay-1.log"
start_daemon "$T/relay.conf" "$T/relay.log"
RELAY=$LAST_PID
wait_until 20 eval "[ \$(grep -c 'listener on dyn (key listen)' '$T/relay.log') -ge 2 ]" ||
	fail "the listener's control channels did not come back to the restarted relay"
"$TCPTOOL" -t 60 sendrecv 127.0.0.1 "$C2" "$T/small" "$T/again.out" ||
	fail "no transfer after the relay came back"
assert_same "$T/small" "$T/again.out"
say "ok: the relay restarted: the listener reconnected and serves"

# 5. A relay worker killed: the master takes its control channels out of
# the directory and starts another; the listener's channels come back and
# every sender after that is served, whichever worker it lands in.
victim=$(pgrep -P "$RELAY" | head -n1)
[ -n "$victim" ] || fail "the relay has no workers"
log_mark "$T/l.log"
kill -KILL "$victim"
wait_until 10 log_since_has "$T/relay.log" 0 "worker [0-9]+ \\(pid $victim\\) was killed by signal 9" ||
	fail "the relay's master did not see its worker die"
wait_until 15 eval "[ \$(pgrep -P $RELAY | wc -l) -ge 2 ]" || fail "the relay's worker was not replaced"
# Each of the listener's channels that was in the killed worker (the
# kernel closed them at once) has come back: as many "listening" lines
# as "closed" ones since the kill.
since() { tail -n "+$((LOG_MARK + 1))" "$T/l.log" | grep -c -- "$1" || true; }
channels_back() { [ "$(since 'control channel closed')" -le "$(since 'listening at')" ]; }
sleep 1
wait_until 20 channels_back ||
	fail "the listener's channels did not come back: $(since 'control channel closed') closed, $(since 'listening at') back"
for i in $(seq 20); do
	"$TCPTOOL" -t 30 sendrecv 127.0.0.1 "$C2" "$T/small" "$T/k.out" ||
		fail "transfer $i after a relay worker was killed failed"
	assert_same "$T/small" "$T/k.out"
done
say "ok: a relay worker killed: it was replaced and 20 transfers after it were whole"
assert_log_lacks "$T/relay.log" ": error: "
assert_log_lacks "$T/l.log" ": error: "
assert_log_lacks "$T/l.log" "closed before answering"
assert_no_secrets "$T/listen.key" "$T/send.key"
say "ok: no key and no token in any log"
say "PASS"
