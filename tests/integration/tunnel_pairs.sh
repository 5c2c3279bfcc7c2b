#!/bin/bash
# tunnel_pairs: ssltunneld's client role against its server role over the
# new transports: WebSocket (fixed backend, and a destination asked for
# in the upgrade) and HTTP CONNECT (destination = "host:port"). Each
# carries 64 MiB each way byte-exact, passes a FIN either way without
# cutting the other direction, and 200 connections at once; a
# destination the server's acl refuses closes the local connection with
# the server's reason in the client's log.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

make_pki
pick_ports BE BE1 BE2 SWS SDW SCN C1 C2 C3 C4 C5 C6 C7 C8
random_file "$T/request" 100003
random_file "$T/reply" $((1024 * 1024))
random_file "$T/big" $((8 * 1024 * 1024))
start_backend "$BE" --mode echo
start_backend "$BE1" --mode sink-source --after-eof --source "$T/reply" --sink "$T/sink1"
start_backend "$BE2" --mode sink-source --source "$T/reply" --sink "$T/sink2"

acl="acl = ( { cn = [ \"client1\" ]; allow = [ \"127.0.0.1:$BE\", \"127.0.0.1:$BE1\", \"127.0.0.1:$BE2\" ]; } );"
write_conf "$T/s.conf" \
	"$(server_tunnel sws "127.0.0.1:$SWS" "127.0.0.1:$BE" 'transport = "websocket";')" \
	"$(server_tunnel sdw "127.0.0.1:$SDW" dynamic "transport = \"websocket\"; $acl")" \
	"$(server_tunnel scn "127.0.0.1:$SCN" dynamic "$acl")"
ws='transport = "websocket"; server_name = "localhost";'
cn='server_name = "localhost";'
write_conf "$T/c.conf" \
	"$(client_tunnel wsfix "127.0.0.1:$C1" "127.0.0.1:$SWS" client1 "$ws")" \
	"$(client_tunnel wsdyn "127.0.0.1:$C2" "127.0.0.1:$SDW" client1 "$ws destination = \"127.0.0.1:$BE\";")" \
	"$(client_tunnel conn "127.0.0.1:$C3" "127.0.0.1:$SCN" client1 "$cn destination = \"127.0.0.1:$BE\";")" \
	"$(client_tunnel wsrr "127.0.0.1:$C4" "127.0.0.1:$SDW" client1 "$ws destination = \"127.0.0.1:$BE1\";")" \
	"$(client_tunnel wsearly "127.0.0.1:$C5" "127.0.0.1:$SDW" client1 "$ws destination = \"127.0.0.1:$BE2\";")" \
	"$(client_tunnel cnrr "127.0.0.1:$C6" "127.0.0.1:$SCN" client1 "$cn destination = \"127.0.0.1:$BE1\";")" \
	"$(client_tunnel cnearly "127.0.0.1:$C7" "127.0.0.1:$SCN" client1 "$cn destination = \"127.0.0.1:$BE2\";")" \
	"$(client_tunnel denied "127.0.0.1:$C8" "127.0.0.1:$SCN" client1 "$cn destination = \"127.0.0.1:1\";")"
start_daemon "$T/s.conf" "$T/s.log"
start_daemon "$T/c.conf" "$T/c.log"

assert_log_contains "$T/c.log" "notice: tunnel wsdyn: client role, listening on 127.0.0.1:$C2, forwarding to 127.0.0.1:$SDW \(WebSocket on /tunnel\) asking for 127.0.0.1:$BE\$"
assert_log_contains "$T/s.log" "notice: tunnel scn: server role, listening on 127.0.0.1:$SCN, forwarding to the destinations clients ask for, as the acl allows\$"

random_file "$T/up" $((${BULK_MIB:-64} * 1024 * 1024))
for p in "wsfix $C1" "wsdyn $C2" "conn $C3"; do
	set -- $p
	"$TCPTOOL" -t 120 sendrecv 127.0.0.1 "$2" "$T/up" "$T/down.$1" ||
		fail "$1: sendrecv failed"
	assert_same "$T/up" "$T/down.$1"
	say "ok: $1: ${BULK_MIB:-64} MiB each way byte-exact"
done
assert_log_contains "$T/s.log" "tunnel sdw: [^ ]+: CN=client1 -> 127.0.0.1:$BE \(127.0.0.1\): allowed by acl\[0\]"
assert_log_contains "$T/s.log" "tunnel scn: [^ ]+: CN=client1 -> 127.0.0.1:$BE \(127.0.0.1\): allowed by acl\[0\]"

n=0
for p in "wsrr $C4 wsearly $C5" "cnrr $C6 cnearly $C7"; do
	set -- $p
	n=$((n + 1))
	"$TCPTOOL" -t 30 sendrecv 127.0.0.1 "$2" "$T/request" "$T/got.$1" ||
		fail "$1: sendrecv failed"
	assert_same "$T/reply" "$T/got.$1"
	assert_same "$T/request" "$T/sink1.$n"
	"$TCPTOOL" -t 30 sendrecv 127.0.0.1 "$4" "$T/big" "$T/got.$3" ||
		fail "$3: sendrecv failed"
	assert_same "$T/reply" "$T/got.$3"
	assert_same "$T/big" "$T/sink2.$n"
	say "ok: $1/$3: a FIN crosses either way, the other direction flows on"
done

for p in "wsfix $C1" "conn $C3"; do
	set -- $p
	"$TCPTOOL" -t 120 many 127.0.0.1 "$2" 200 65536 >"$T/many.$1" 2>&1 ||
		fail "$1: 200 concurrent: $(tail -n 3 "$T/many.$1")"
	say "ok: $1: 200 concurrent connections echoed byte-exact"
done

"$TCPTOOL" -t 10 sendrecv 127.0.0.1 "$C8" "$T/request" "$T/got.denied" 2>/dev/null
[ -s "$T/got.denied" ] && fail "a refused destination returned bytes"
assert_log_contains "$T/c.log" "tunnel denied: [^ ]+: server 127.0.0.1:$SCN refused 127.0.0.1:1: HTTP/1.1 403 Forbidden: 403 Forbidden: 127.0.0.1:1 is not allowed"
say "ok: a refused destination closes the local connection, the server's reason logged"
assert_log_lacks "$T/s.log" ": (error): "
say "PASS"
