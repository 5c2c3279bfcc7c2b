#!/bin/bash
# relay_hyco: the relay role against Microsoft's own Hybrid Connections
# client, hyco-ws (node; scripts/lib.sh's st_install_hyco puts it in
# $top_builddir/peers/hyco), driven by tests/integration/hyco.js - in a
# network namespace of its own, since hyco-ws always dials port 443.
# One daemon runs the relay on 127.0.0.1:443 (paths db, db2, db3, each with
# a listen key and a send key), our listener role on db2 and our client
# role (the sender) on db3:
#   a. hyco sender -> relay -> hyco listener (db): 8 MiB byte-exact, then
#      4 senders at once; every rendezvous closes with 1000
#   b. hyco sender -> relay -> our listener (db2) -> echo backend: 8 MiB
#   c. our sender (db3) -> relay -> hyco listener: 8 MiB through tcptool
#   d. hyco's tokens: their form and signature checked by hand; refusals:
#      a wrong key, a key without the send right and an expired token get
#      401, an undeclared path and a path with no listener 404, a listen
#      with a send-only key never gets a control channel
if [ -z "${RELAY_HYCO_NETNS:-}" ]; then
	command -v unshare >/dev/null 2>&1 || { echo "SKIP: relay_hyco: no unshare" >&2; exit 77; }
	[ "$(id -u)" = 0 ] || { echo "SKIP: relay_hyco: a network namespace needs root" >&2; exit 77; }
	exec env RELAY_HYCO_NETNS=1 unshare -n bash "$0" "$@"
fi
ip link set lo up || { echo "FAIL: relay_hyco: ip link set lo up" >&2; exit 1; }
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
need_tools node openssl
# hyco.js finds hyco-ws in $HYCO_DIR/node_modules; node trusts the test CA
# (which signs the relay's certificate) through NODE_EXTRA_CA_CERTS.
export HYCO_DIR=$top_builddir/peers/hyco
HYCO_JS=$top_srcdir/tests/integration/hyco.js
timeout 20 node -e 'require(process.argv[1])' "$HYCO_DIR/node_modules/hyco-ws" 2>/dev/null ||
	skip "hyco-ws is not installed in $HYCO_DIR (scripts/lib.sh: st_install_hyco)"
BULK=$((${BULK_MIB:-8} * 1024 * 1024))
NS=127.0.0.1

make_pki
certtool_cert relay 127.0.0.1 ca signing_key tls_www_server "expiration_days = 30" \
	'ip_address = "127.0.0.1"'
export NODE_EXTRA_CA_CERTS=$PKI/ca.pem

# SAS keys: 32 random bytes as base64 text, readable by their owner only.
# hyco signs with the text itself (not the bytes it encodes), as Azure does.
for k in listen send listen2 send2 listen3 send3 wrong; do
	(umask 077 && head -c 32 /dev/urandom | base64 >"$T/$k.key") || fail "cannot write $k.key"
done
chmod 600 "$T"/*.key

pick_ports BE P
start_backend "$BE" --mode echo

# relay_path NAME N: a relay path with its listen and send keys.
relay_path() {
	cat <<EOF
	  { path = "$1";
	    keys = ( { name = "listen-$1"; key_file = "$T/listen$2.key"; rights = [ "listen" ]; },
		     { name = "send-$1"; key_file = "$T/send$2.key"; rights = [ "send" ]; } ); }
EOF
}
LOG_LEVEL=debug write_conf "$T/r.conf" \
	"	{ name = \"relay\"; role = \"relay\"; listen = \"127.0.0.1:443\";
	  cert_file = \"$PKI/relay.pem\"; key_file = \"$PKI/relay.key\";
	  relay_paths = (
$(relay_path db ""),
$(relay_path db2 2),
$(relay_path db3 3)
	  );
	  relay_accept_timeout = 5;
	}" \
	"	{ name = \"listener\"; role = \"listener\"; relay = \"wss://127.0.0.1/\$hc/db2\";
	  relay_key_name = \"listen-db2\"; relay_key_file = \"$T/listen2.key\";
	  ca_file = \"$PKI/ca.pem\";
	  connect = \"127.0.0.1:$BE\";
	}" \
	"	{ name = \"sender\"; role = \"client\"; transport = \"relay\"; listen = \"127.0.0.1:$P\";
	  connect = \"wss://127.0.0.1/\$hc/db3\"; relay_key_name = \"send-db3\";
	  relay_key_file = \"$T/send3.key\"; ca_file = \"$PKI/ca.pem\";
	}"
"$SSLTUNNELD" -t -c "$T/r.conf" >"$T/t.out" 2>&1 || fail "ssltunneld -t -c r.conf: $(cat "$T/t.out")"
start_daemon "$T/r.conf" "$T/r.log"

# --- hyco.js -----------------------------------------------------------------

# start_hyco_listener NAME PATH KEYNAME KEYFILE: a hyco listener echoing
# every message, its lifetime bounded by TEST_TIMEOUT (stop_pid stops the
# node under timeout(1) too), until it prints "listening": hyco's
# 'listening' event, emitted when the control channel's upgrade succeeded.
# Leaves LAST_PID at the listener's.
start_hyco_listener() {
	timeout "$TEST_TIMEOUT" node "$HYCO_JS" listen "$NS" "$2" "$3" "$(cat "$4")" \
		>"$T/$1.out" 2>"$T/$1.log" &
	track $!
	wait_until 10 listening_or_gone "$T/$1.out" "$LAST_PID"
	grep -qx listening "$T/$1.out" ||
		fail "hyco listener $1 on $2 got no control channel: $(tail -n 5 "$T/$1.log")"
}

listening_or_gone() {
	grep -qx listening "$1" || ! running "$2"
}

# hyco_send NAME PATH KEYNAME KEYFILE BYTES SEED: hyco.js send, its stdout
# to NAME.out and stderr to NAME.log (HYCO_* from the caller's environment).
hyco_send() {
	HYCO_TIMEOUT=${HYCO_TIMEOUT:-120} timeout 150 node "$HYCO_JS" send "$NS" "$2" "$3" "$(cat "$4")" \
		"$5" "$6" >"$T/$1.out" 2>"$T/$1.log"
}

# hyco_refused NAME STATUS PATH KEYNAME KEYFILE: a hyco sender is refused
# with HTTP STATUS (hyco.js reads it from ws's 'unexpected-response').
hyco_refused() {
	HYCO_EXPECT_STATUS=$2 HYCO_TIMEOUT=20 hyco_send "$1" "$3" "$4" "$5" 1 1
}

# count_lines FILE REGEX: how many lines of FILE match.
count_lines() {
	grep -Ec -- "$2" "$1"
}

count_is() {
	[ "$(count_lines "$1" "$2")" -eq "$3" ]
}

# --- a. hyco sender -> relay -> hyco listener ------------------------------------

start_hyco_listener ldb db listen-db "$T/listen.key"
HL_DB=$LAST_PID
hyco_send a1 db send-db "$T/send.key" "$BULK" 1 ||
	fail "a: hyco send of $BULK bytes on db: $(cat "$T/a1.out" "$T/a1.log")"
grep -qx 'close 1000 done' "$T/a1.out" || fail "a: the sender's close did not end with 1000: $(cat "$T/a1.out")"
say "ok: a. hyco sender -> relay -> hyco listener: ${BULK_MIB:-8} MiB byte-exact, closed with 1000"

pids=()
for s in 2 3 4 5; do
	hyco_send "a$s" db send-db "$T/send.key" "$BULK" "$s" &
	pids+=($!)
	track $!
done
for i in "${!pids[@]}"; do
	wait "${pids[$i]}" || fail "a: concurrent hyco sender $((i + 2)): $(cat "$T/a$((i + 2)).out" "$T/a$((i + 2)).log")"
done
count_is "$T/ldb.out" '^accepted [0-9]+$' 5 ||
	fail "a: the hyco listener accepted $(count_lines "$T/ldb.out" '^accepted ') connections, expected 5"
# ws 1.1.5 ends a close only when the server closes the TCP connection
# (else 1006 after 30 s): the relay must do that on the rendezvous too.
wait_until 10 count_is "$T/ldb.out" '^closed [0-9]+ 1000$' 5 ||
	fail "a: $(count_lines "$T/ldb.out" '^closed [0-9]+ 1000$') of 5 rendezvous closed with 1000: $(grep '^closed' "$T/ldb.out")"
say "ok: a. 4 hyco senders at once: each ${BULK_MIB:-8} MiB byte-exact; 5 rendezvous, each closed with 1000"

# --- b. hyco sender -> relay -> our listener role -> echo backend -------------

# Our listener dials the relay when the daemon starts; until its control
# channel is up a sender gets 404. Probe with one byte until it goes
# through, at most 20 s.
deadline=$((SECONDS + 20))
until HYCO_TIMEOUT=5 hyco_send b0 db2 send-db2 "$T/send2.key" 1 9; do
	[ "$SECONDS" -lt "$deadline" ] ||
		fail "b: our listener on db2 never took a connection: $(cat "$T/b0.out" "$T/b0.log")"
	sleep 0.2
done
hyco_send b1 db2 send-db2 "$T/send2.key" "$BULK" 11 ||
	fail "b: hyco send of $BULK bytes on db2: $(cat "$T/b1.out" "$T/b1.log")"
grep -qx 'close 1000 done' "$T/b1.out" || fail "b: the sender's close did not end with 1000: $(cat "$T/b1.out")"
say "ok: b. hyco sender -> relay -> our listener -> echo backend: ${BULK_MIB:-8} MiB byte-exact, closed with 1000"

# --- c. our sender (client role) -> relay -> hyco listener ---------------------

# A WebSocket close is a full close (ws answers one at once and sends
# nothing after it), so the local side does not half-close (--no-fin):
# the hyco listener closes with 1000 once it has echoed BULK bytes, and
# that close ends the local connection.
HYCO_CLOSE_AFTER=$BULK start_hyco_listener ldb3 db3 listen-db3 "$T/listen3.key"
HL_DB3=$LAST_PID
random_file "$T/up" "$BULK"
"$TCPTOOL" -t 120 sendrecv 127.0.0.1 "$P" "$T/up" "$T/down" --no-fin >"$T/c.out" 2>&1 ||
	fail "c: tcptool sendrecv through our sender on $P: $(cat "$T/c.out")"
assert_same "$T/up" "$T/down"
grep -qx 'accepted 1' "$T/ldb3.out" || fail "c: the hyco listener on db3 accepted no connection: $(cat "$T/ldb3.out")"
wait_until 10 grep -qx 'closed 1 1000' "$T/ldb3.out" ||
	fail "c: the rendezvous on db3 did not close with 1000: $(cat "$T/ldb3.out")"
say "ok: c. our sender -> relay -> hyco listener: ${BULK_MIB:-8} MiB byte-exact; its close ended the local connection"

# --- d. tokens and refusals ---------------------------------------------------------

# hyco's token: sr is the URL-encoded http://NS/PATH, sig the base64
# HMAC-SHA256, keyed with the key's text, of "<sr as encoded>\n<se>".
key=$(cat "$T/send.key")
now=$(date +%s)
tok=$(timeout 20 node "$HYCO_JS" token "http://$NS/db" send-db "$key" 60) || fail "d: hyco.js token failed"
# node can take seconds to start (the kTLS VM's emulated CPUs): the
# token was made between now and then
then=$(date +%s)
re='^SharedAccessSignature sr=(http%3A%2F%2F127\.0\.0\.1%2Fdb)&sig=([A-Za-z0-9%]+)&se=([0-9]+)&skn=send-db$'
[[ $tok =~ $re ]] || fail "d: hyco's token has an unexpected form: $tok"
sr=${BASH_REMATCH[1]} sig=${BASH_REMATCH[2]} se=${BASH_REMATCH[3]}
if [ "$se" -lt $((now + 59)) ] || [ "$se" -gt $((then + 61)) ]; then
	fail "d: token expiry $se is not 60 s after the token was made ($now..$then)"
fi
sig=${sig//%2B/+} sig=${sig//%2F//} sig=${sig//%3D/=}
want=$(printf '%s\n%s' "$sr" "$se" | openssl dgst -sha256 -hmac "$key" -binary | base64)
[ "$sig" = "$want" ] || fail "d: token signature $sig, computed $want"
say "ok: d. hyco's token: SharedAccessSignature sr=...&sig=...&se=...&skn=..., its signature checks"

hyco_refused d1 401 db send-db "$T/wrong.key" ||
	fail "d: a wrong key: expected 401: $(cat "$T/d1.out" "$T/d1.log")"
hyco_refused d2 401 db listen-db "$T/listen.key" ||
	fail "d: a key without the send right: expected 401: $(cat "$T/d2.out" "$T/d2.log")"
HYCO_TOKEN_SECONDS=-120 hyco_refused d3 401 db send-db "$T/send.key" ||
	fail "d: an expired token: expected 401: $(cat "$T/d3.out" "$T/d3.log")"
hyco_refused d4 404 nobody send-db "$T/send.key" ||
	fail "d: an undeclared path: expected 404: $(cat "$T/d4.out" "$T/d4.log")"
say "ok: d. refused with 401: a wrong key, a key without send, an expired token; 404: an undeclared path"

# No listener on db once ours is gone (the relay sees its control channel
# close; give it a moment).
stop_pid "$HL_DB"
wait_until 5 hyco_refused d5 404 db send-db "$T/send.key" ||
	fail "d: a path with no listener: expected 404: $(cat "$T/d5.out" "$T/d5.log")"
# A listen with a send-only key: refused, so no control channel; hyco
# retries at once, hyco.js gives up after 3 (exit 4).
HYCO_MAX_ATTEMPTS=3 timeout 20 node "$HYCO_JS" listen "$NS" db send-db "$(cat "$T/send.key")" \
	>"$T/d6.out" 2>"$T/d6.log"
rc=$?
[ "$rc" = 4 ] || fail "d: a listen with a send-only key: hyco.js exit $rc, expected 4: $(cat "$T/d6.out" "$T/d6.log")"
grep -qx listening "$T/d6.out" && fail "d: a listen with a send-only key got a control channel"
say "ok: d. 404 on a path with no listener; a listen with a send-only key gets no control channel"

stop_pid "$HL_DB3"
assert_log_lacks "$T/r.log" ": error: "
# Our daemon's log (at debug), not hyco.js's output: no key, no token.
SECRET_LOGS="$T/r.log" assert_no_secrets "$T"/*.key
say "ok: no key and no token in ssltunneld's log (log_level debug)"
say "PASS"
