#!/bin/bash
# node_peers: node-websocket-tunnel's protocol against real node peers
# (tests/peers, the `ws` package): ws-client.js as a client of our
# WebSocket server tunnel (64 MiB each way, sent before "ready"), and
# orig-server.js (the original server.js redone with `ws` and mutual TLS)
# as the server of our WebSocket client tunnel (64 MiB each way, its
# "ready" logged; an upstream error's status logged and the local
# connection closed without data; a certificate from another CA refused).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
need_tools node
NM=$top_builddir/peers/node_modules
NODE_PATH=$NM timeout 20 node -e 'require("ws")' 2>/dev/null ||
	skip "the ws package is not installed in $NM (scripts/lib.sh: st_install_peers)"
PEERS=$top_srcdir/tests/peers
BULK=$((${BULK_MIB:-64} * 1024 * 1024))

# node_run SECS SCRIPT ARGS...: a peer of tests/peers, bounded by SECS.
node_run() {
	local secs=$1 script=$2
	shift 2
	NODE_PATH=$NM timeout "$secs" node "$PEERS/$script" "$@"
}

make_pki
server_tls=(--cert "$PKI/server.pem" --key "$PKI/server.key" --ca "$PKI/ca.pem")
client_tls=(--cert "$PKI/client1.pem" --key "$PKI/client1.key" --ca "$PKI/ca.pem")
pick_ports BE BE2 SRV ORIG CLI CERR CROG DEAD
start_backend "$BE" --mode echo
# For orig-server.js: a WebSocket close is a full close there (ws answers
# ours at once and drops what the socket still sends), so the local side
# must not half-close; this echo ends once it has echoed BULK bytes.
start_backend "$BE2" --mode echo --shut-after "$BULK"
write_conf "$T/s.conf" \
	"$(server_tunnel ws "127.0.0.1:$SRV" "127.0.0.1:$BE" 'transport = "websocket";')"
ws='transport = "websocket"; server_name = "localhost";'
write_conf "$T/c.conf" \
	"$(client_tunnel orig "127.0.0.1:$CLI" "127.0.0.1:$ORIG" client1 "$ws destination = \"127.0.0.1:$BE2\";")" \
	"$(client_tunnel origerr "127.0.0.1:$CERR" "127.0.0.1:$ORIG" client1 "$ws destination = \"127.0.0.1:$DEAD\";")" \
	"$(client_tunnel rogue "127.0.0.1:$CROG" "127.0.0.1:$ORIG" rogue-client1 "$ws destination = \"127.0.0.1:$BE2\";")"
start_daemon "$T/s.conf" "$T/s.log"
start_daemon "$T/c.conf" "$T/c.log"

# orig-server.js, its lifetime bounded by TEST_TIMEOUT; both timeout(1)
# and node are tracked by PID.
rm -f "$T/orig.pid"
node_run "$TEST_TIMEOUT" orig-server.js "$ORIG" "${server_tls[@]}" \
	--pid-file "$T/orig.pid" >"$T/orig.out" 2>&1 &
track $!
orig_pid=$LAST_PID
wait_until 10 pid_file_or_gone "$T/orig.pid" "$orig_pid"
[ -s "$T/orig.pid" ] || fail "orig-server.js did not start: $(cat "$T/orig.out")"
track "$(cat "$T/orig.pid")"
wait_port "$ORIG" --pid "$orig_pid" || fail "orig-server.js does not listen on $ORIG"

random_file "$T/up" "$BULK"

# 1. ws as a client of our server tunnel: the bytes go out before
#    "ready", come back byte-exact; the close handshake is 1000 both ways.
node_run 120 ws-client.js "wss://127.0.0.1:$SRV/tunnel" "${client_tls[@]}" \
	--servername localhost --send "$T/up" --out "$T/down1" >"$T/w1" 2>"$T/w1.err" ||
	fail "ws-client.js: $(cat "$T/w1" "$T/w1.err")"
grep -qx 'status {"status":"ready","details":"Upstream socket connected"}' "$T/w1" ||
	fail "ws-client.js got no ready message: $(cat "$T/w1")"
grep -qx 'close 1000 .*' "$T/w1" || fail "ws-client.js: expected close 1000: $(cat "$T/w1")"
assert_same "$T/up" "$T/down1"
assert_log_contains "$T/s.log" "tunnel ws: [^ ]+: WebSocket close 1000 from the peer"
say "ok: ws client: ${BULK_MIB:-64} MiB each way byte-exact, sent before ready; close 1000"

# 2. Our client tunnel against orig-server.js, mutual TLS: the backend's
#    end closes the WebSocket (1000), which reaches us as a FIN.
"$TCPTOOL" -t 120 sendrecv 127.0.0.1 "$CLI" "$T/up" "$T/down2" --no-fin ||
	fail "sendrecv through orig-server.js failed"
assert_same "$T/up" "$T/down2"
assert_log_contains "$T/orig.out" "^connected client1 -> 127.0.0.1:$BE2\$"
assert_log_contains "$T/orig.out" "^closed client1 -> 127.0.0.1:$BE2 \(1000\)\$"
assert_log_contains "$T/c.log" "info: tunnel orig: [^ ]+: the server says \{\"status\":\"ready\",\"details\":\"Upstream socket connected\"\}"
say "ok: orig-server.js: ${BULK_MIB:-64} MiB each way byte-exact; its ready logged"

# 3. A destination where nothing listens: the server's error status is
#    logged as a warning, the local connection closes without data. The
#    local side does not half-close: our FIN would become a close frame
#    that could reach the server before its connect fails, and then no
#    status is sent (ws does not send after a close).
printf 'hello' >"$T/hello"
"$TCPTOOL" -t 20 sendrecv 127.0.0.1 "$CERR" "$T/hello" "$T/got3" --no-fin 2>"$T/sr3.err"
rc=$?
[ $rc = 124 ] && fail "the local connection stayed open after the upstream error"
[ -s "$T/got3" ] && fail "an upstream error returned $(stat -c %s "$T/got3") bytes"
[ $rc = 0 ] || fail "the local connection did not end cleanly (tcptool status $rc): $(cat "$T/sr3.err")"
assert_log_contains "$T/orig.out" "^upstream error client1 -> 127.0.0.1:$DEAD: "
assert_log_contains "$T/c.log" "warning: tunnel origerr: [^ ]+: the server says \{\"status\":\"error\",\"details\":\"Upstream socket error; Error: connect ECONNREFUSED 127.0.0.1:$DEAD\"\}"
say "ok: an upstream error: its status logged as a warning, the connection closed without data"

# 4. orig-server.js checks our certificate: one from another CA is
#    refused in the TLS handshake, the local connection closes without data.
"$TCPTOOL" -t 20 sendrecv 127.0.0.1 "$CROG" "$T/hello" "$T/got4" --no-fin 2>"$T/sr4.err"
[ $? = 124 ] && fail "the local connection stayed open after orig-server.js refused our certificate"
[ -s "$T/got4" ] && fail "a refused certificate returned $(stat -c %s "$T/got4") bytes"
assert_log_contains "$T/c.log" "warning: tunnel rogue: [^ ]+: peer sent TLS alert: "
n=$(grep -c '^connected ' "$T/orig.out")
[ "$n" = 2 ] || fail "orig-server.js accepted $n WebSocket connections, expected 2 (sections 2 and 3)"
say "ok: orig-server.js refuses a certificate from another CA (mutual TLS)"

assert_log_lacks "$T/s.log" ": error: "
assert_log_lacks "$T/c.log" ": error: "
say "PASS"
