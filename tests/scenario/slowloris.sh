#!/bin/bash
# slowloris: connections that stall in the handshake cost the server role
# a descriptor and a little memory until handshake_timeout, and nothing
# else: real tunnelled traffic beside them keeps its latency.
#
#  1. 1,000 connections that never start a handshake are all closed by the
#     server role at handshake_timeout: none before it, none long after.
#  2. 1,000 connections that send half a ClientHello and stall are closed
#     at handshake_timeout the same way.
#  3. While those 2,000 are held, request/response latency through a
#     client+server tunnel pair (one connection, 64-byte echoes) stays
#     within 5x its unloaded median + 50 ms.
#  4. Same for new tunnelled connections (connect, full TLS handshake,
#     echo, close) while the 2,000 are held.
#  5. The server daemon's memory (RSS of master + workers) holding the
#     2,000 stays under SLOW_RSS_MAX_MB (default 64) MiB.
#  6. Every stalled connection is logged as a handshake timeout, and the
#     daemon's descriptors return to their idle count once they are gone.
#  7. The WebSocket server role: TLS connections that send part of their
#     HTTP request head and stall are closed handshake_timeout after the
#     TLS handshake ("no complete request"), and a whole request on the
#     same tunnel still works meanwhile.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

need_tools pgrep
make_pki
pick_ports BE SRV CLI WS
HS=${SLOW_HS:-6}
N=${SLOW_N:-1000}
RSS_MAX=${SLOW_RSS_MAX_MB:-64}
HANDSHAKE_TIMEOUT=$HS
LOG_LEVEL=info
start_backend "$BE" --mode echo
write_conf "$T/srv.conf" \
	"$(server_tunnel in "127.0.0.1:$SRV" "127.0.0.1:$BE")" \
	"$(server_tunnel ws "127.0.0.1:$WS" "127.0.0.1:$BE" 'transport = "websocket";')"
write_conf "$T/cli.conf" "$(client_tunnel out "127.0.0.1:$CLI" "127.0.0.1:$SRV" client1 \
	'server_name = "localhost";')"
start_daemon "$T/srv.conf" "$T/srv.log"; SRV_PID=$LAST_PID
start_daemon "$T/cli.conf" "$T/cli.log"

procs() { echo "$SRV_PID" $(pgrep -P "$SRV_PID"); }
rss_kib() {
	local p s=0 v
	for p in $(procs); do
		v=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
		s=$((s + ${v:-0}))
	done
	echo "$s"
}
nfds() {
	local p s=0
	for p in $(procs); do
		s=$((s + $(ls "/proc/$p/fd" 2>/dev/null | wc -l)))
	done
	echo "$s"
}
field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" "$2"; }

# Warm up, then the unloaded figures.
"$TCPTOOL" -t 30 pingpong 127.0.0.1 "$CLI" 20 >/dev/null || fail "tunnel not working"
"$TCPTOOL" -t 60 pingpong 127.0.0.1 "$CLI" 50 >"$T/before.out" || fail "pingpong before"
"$TCPTOOL" -t 60 pingpong 127.0.0.1 "$CLI" 10 --new >"$T/before-new.out" || fail "pingpong --new before"
FDS0=$(nfds)
RSS0=$(rss_kib)
say "before: $(cat "$T/before.out"); $(cat "$T/before-new.out"); fds $FDS0; rss $RSS0 KiB"

# Half a ClientHello: a handshake record that announces 512 bytes, its
# first 43 sent.
printf '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03' >"$T/partial"
head -c 32 /dev/urandom >>"$T/partial"

log_mark "$T/srv.log"
TMO=$((HS * 3 + 60))
"$TCPTOOL" -t "$TMO" stall 127.0.0.1 "$SRV" "$N" >"$T/silent.out" 2>"$T/silent.err" &
S1=$!; track "$S1"
"$TCPTOOL" -t "$TMO" stall 127.0.0.1 "$SRV" "$N" --send "$T/partial" >"$T/partial.out" 2>"$T/partial.err" &
S2=$!; track "$S2"
wait_until 30 grep -q connected "$T/silent.out" || fail "silent: $(cat "$T/silent.err")"
wait_until 30 grep -q connected "$T/partial.out" || fail "partial: $(cat "$T/partial.err")"
T_UP=$(date +%s%N)
say "$(head -n1 "$T/silent.out"); $(head -n1 "$T/partial.out")"

"$TCPTOOL" -t 60 pingpong 127.0.0.1 "$CLI" 50 >"$T/during.out" || fail "pingpong during"
"$TCPTOOL" -t 60 pingpong 127.0.0.1 "$CLI" 10 --new >"$T/during-new.out" || fail "pingpong --new during"
RSS1=$(rss_kib)
FDS1=$(nfds)
ELAPSED=$((($(date +%s%N) - T_UP) / 1000000))
say "during (${ELAPSED} ms into the stall): $(cat "$T/during.out"); $(cat "$T/during-new.out"); fds $FDS1; rss $RSS1 KiB"
[ "$ELAPSED" -lt $((HS * 1000 - 500)) ] ||
	say "note: the latency checks took $ELAPSED ms, part of them after the stalled connections closed"
[ "$FDS1" -ge $((FDS0 + 2 * N - 50)) ] ||
	fail "the daemon holds $FDS1 descriptors with $((2 * N)) stalled connections (idle: $FDS0): not all were accepted"

for kind in "" -new; do
	b=$(field median_us "$T/before$kind.out")
	d=$(field median_us "$T/during$kind.out")
	lim=$((5 * b + 50000))
	[ "$d" -le "$lim" ] ||
		fail "latency${kind:+ (new connections)} while stalled: median $d us, more than 5 x $b + 50 ms"
done
say "ok: latency held (medians $(field median_us "$T/before.out") -> $(field median_us "$T/during.out") us, new connections $(field median_us "$T/before-new.out") -> $(field median_us "$T/during-new.out") us)"
[ "$RSS1" -le $((RSS_MAX * 1024)) ] ||
	fail "server daemon RSS $RSS1 KiB holding $((2 * N)) stalled connections, more than $RSS_MAX MiB"
say "ok: RSS $RSS0 -> $RSS1 KiB with $((2 * N)) stalled connections (limit $RSS_MAX MiB)"

wait "$S1" || fail "silent connections: $(cat "$T/silent.err")"
wait "$S2" || fail "partial ClientHello connections: $(cat "$T/partial.err")"
for k in silent partial; do
	line=$(tail -n1 "$T/$k.out")
	lo=$(echo "$line" | sed -n 's/.* after \([0-9]*\) to \([0-9]*\) ms/\1/p')
	hi=$(echo "$line" | sed -n 's/.* after \([0-9]*\) to \([0-9]*\) ms/\2/p')
	[ -n "$lo" ] || fail "$k: no close times: $line"
	[ "$lo" -ge $((HS * 1000 - 300)) ] ||
		fail "$k: a connection was closed after $lo ms, before handshake_timeout ($HS s)"
	[ "$hi" -le $((HS * 1000 + 3000)) ] ||
		fail "$k: a connection was closed only after $hi ms, handshake_timeout is $HS s"
	say "ok: $k: $line (handshake_timeout $HS s)"
done
wait_until 10 eval '[ "$(grep -c "handshake timed out after $HS s" "$T/srv.log")" -ge $((2 * N)) ]' ||
	fail "$(grep -c "handshake timed out" "$T/srv.log") handshake timeouts logged, expected $((2 * N))"
wait_until 10 eval '[ "$(nfds)" -le $((FDS0 + 2)) ]' ||
	fail "the server daemon holds $(nfds) descriptors after the stalled connections closed, $FDS0 before"
say "ok: $((2 * N)) handshake timeouts logged; descriptors back to $(nfds) ($FDS0 before)"

# 7. Slow headers on the WebSocket server role.
cat >"$T/slowhdr.py" <<'PYEOF'
import socket, ssl, sys, time, select
port, cert, key, ca, n = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
ctx = ssl.create_default_context(cafile=ca)
ctx.load_cert_chain(cert, key)
conns = []
for i in range(n):
    raw = socket.create_connection(("127.0.0.1", port), timeout=20)
    s = ctx.wrap_socket(raw, server_hostname="localhost")
    s.sendall(b"GET /tunnel HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n")
    s.setblocking(False)
    conns.append((s, time.monotonic()))
print("slowhdr: %d sent part of a request head" % n, flush=True)
times, deadline = [], time.monotonic() + 120
while conns and time.monotonic() < deadline:
    r, _, _ = select.select([c[0] for c in conns], [], [], 1)
    for s in r:
        try:
            d = s.recv(4096)
        except ssl.SSLWantReadError:
            continue
        except (ConnectionResetError, ssl.SSLError, OSError):
            d = b""
        if d:
            continue
        t0 = [c[1] for c in conns if c[0] is s][0]
        times.append(int((time.monotonic() - t0) * 1000))
        conns = [c for c in conns if c[0] is not s]
        s.close()
if conns:
    print("slowhdr: %d still open" % len(conns))
    sys.exit(1)
print("slowhdr: %d closed by the peer, after %d to %d ms" % (n, min(times), max(times)))
PYEOF
log_mark "$T/srv.log"
timeout $((HS * 2 + 120)) "$PY" "$T/slowhdr.py" "$WS" "$PKI/client1.pem" "$PKI/client1.key" \
	"$PKI/ca.pem" 50 >"$T/slowhdr.out" 2>"$T/slowhdr.err" &
SH=$!; track "$SH"
wait_until 30 grep -q 'sent part' "$T/slowhdr.out" || fail "slow headers: $(cat "$T/slowhdr.err")"
printf 'GET /tunnel HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n' >"$T/wsreq"
tlsreq "$WS" client1 "$T/wsreq" --timeout 10 >"$T/wsresp" 2>&1 ||
	fail "a whole WebSocket request failed while slow headers were held: $(cat "$T/wsresp")"
grep -q '^HTTP/1.1 101' "$T/wsresp" || fail "WebSocket upgrade answered: $(head -n1 "$T/wsresp")"
wait "$SH" || fail "slow headers: $(cat "$T/slowhdr.out" "$T/slowhdr.err")"
line=$(tail -n1 "$T/slowhdr.out")
lo=$(echo "$line" | sed -n 's/.* after \([0-9]*\) to \([0-9]*\) ms/\1/p')
hi=$(echo "$line" | sed -n 's/.* after \([0-9]*\) to \([0-9]*\) ms/\2/p')
[ -n "$lo" ] && [ "$lo" -ge $((HS * 1000 - 300)) ] && [ "$hi" -le $((HS * 1000 + 3000)) ] ||
	fail "slow headers: $line (handshake_timeout $HS s)"
assert_log_since "$T/srv.log" "tunnel ws: .*no complete request within handshake_timeout \($HS s\)"
say "ok: WebSocket slow headers: $line"
alive "$SRV_PID" || fail "server daemon died"
say "PASS"
