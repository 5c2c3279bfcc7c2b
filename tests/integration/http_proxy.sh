#!/bin/bash
# http_proxy: a client tunnel reaches its server through a corporate HTTP
# proxy with CONNECT, as from inside a network that lets only the proxy
# out: tinyproxy without and with Basic authentication (credentials in
# http_proxy and in proxy_auth_file; none or wrong ones are refused with
# the proxy's 407 in the log, and the password is never logged), squid
# (its 403 for a port it does not allow logged with its status line), a
# WebSocket tunnel through the proxy, and stunnel4 with protocol =
# connect as another client through the same proxy to our server role.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
need_tools tinyproxy squid stunnel4 openssl

make_pki
pick_ports BE SRV SWS TP TPA SQ C1 C2 C3 C4 C5 C6 C7 C8 ST
start_backend "$BE" --mode echo
write_conf "$T/s.conf" \
	"$(server_tunnel raw "127.0.0.1:$SRV" "127.0.0.1:$BE")" \
	"$(server_tunnel ws "127.0.0.1:$SWS" "127.0.0.1:$BE" 'transport = "websocket";')"
start_daemon "$T/s.conf" "$T/s.log"

# tinyproxy, open and with Basic authentication.
for v in open auth; do
	port=$TP
	[ $v = auth ] && port=$TPA
	cat >"$T/tinyproxy-$v.conf" <<EOC
User root
Group root
Port $port
Listen 127.0.0.1
Timeout 60
LogFile "$T/tinyproxy-$v.log"
LogLevel Info
PidFile "$T/tinyproxy-$v.pid"
MaxClients 50
Allow 127.0.0.1
EOC
	[ $v = auth ] && echo 'BasicAuth tunneluser s3cret-Pa55' >>"$T/tinyproxy-$v.conf"
	timeout "$TEST_TIMEOUT" tinyproxy -d -c "$T/tinyproxy-$v.conf" >"$T/tinyproxy-$v.out" 2>&1 &
	track $!
	wait_port "$port" --pid "$LAST_PID" || fail "tinyproxy ($v) did not start"
done

# squid, allowing CONNECT to the raw tunnel's port only. It runs as user
# proxy: its files go in a folder of its own.
SQD=$T/squid
mkdir -p "$SQD"
chmod 711 "$T"
chown proxy "$SQD" 2>/dev/null || chmod 777 "$SQD"
cat >"$T/squid.conf" <<EOC
http_port 127.0.0.1:$SQ
acl allowed_port port $SRV
acl CONNECT method CONNECT
http_access deny CONNECT !allowed_port
http_access allow localhost
http_access deny all
cache deny all
cache_mem 8 MB
pid_filename $SQD/squid.pid
cache_log $SQD/cache.log
access_log $SQD/access.log
coredump_dir $SQD
dns_nameservers 127.0.0.1
shutdown_lifetime 1 seconds
EOC
timeout "$TEST_TIMEOUT" squid -N -f "$T/squid.conf" >"$T/squid.out" 2>&1 &
track $!
wait_port "$SQ" --pid "$LAST_PID" || fail "squid did not start: $(tail -n 5 "$SQD/cache.log")"

printf 'tunneluser:s3cret-Pa55\n' >"$T/proxy.auth"
chmod 600 "$T/proxy.auth"
sn='server_name = "localhost";'
write_conf "$T/c.conf" \
	"$(client_tunnel viatp "127.0.0.1:$C1" "127.0.0.1:$SRV" client1 "$sn http_proxy = \"http://127.0.0.1:$TP\";")" \
	"$(client_tunnel viatpa "127.0.0.1:$C2" "127.0.0.1:$SRV" client1 "$sn http_proxy = \"http://tunneluser:s3cret-Pa55@127.0.0.1:$TPA\";")" \
	"$(client_tunnel viafile "127.0.0.1:$C3" "127.0.0.1:$SRV" client1 "$sn http_proxy = \"http://127.0.0.1:$TPA\"; proxy_auth_file = \"$T/proxy.auth\";")" \
	"$(client_tunnel noauth "127.0.0.1:$C4" "127.0.0.1:$SRV" client1 "$sn http_proxy = \"http://127.0.0.1:$TPA\";")" \
	"$(client_tunnel badauth "127.0.0.1:$C5" "127.0.0.1:$SRV" client1 "$sn http_proxy = \"http://tunneluser:wrong-Pa55@127.0.0.1:$TPA\";")" \
	"$(client_tunnel viasquid "127.0.0.1:$C6" "127.0.0.1:$SRV" client1 "$sn http_proxy = \"http://127.0.0.1:$SQ\";")" \
	"$(client_tunnel squidws "127.0.0.1:$C7" "127.0.0.1:$SWS" client1 "$sn transport = \"websocket\"; http_proxy = \"http://127.0.0.1:$SQ\";")"
start_daemon "$T/c.conf" "$T/c.log"

random_file "$T/up" $((8 * 1024 * 1024))
for p in "viatp $C1" "viatpa $C2" "viafile $C3" "viasquid $C6"; do
	set -- $p
	"$TCPTOOL" -t 120 sendrecv 127.0.0.1 "$2" "$T/up" "$T/down.$1" ||
		fail "$1: sendrecv through the proxy failed"
	assert_same "$T/up" "$T/down.$1"
	say "ok: $1: 8 MiB each way byte-exact through the proxy"
done
grep -q "CONNECT.*127.0.0.1:$SRV" "$SQD/access.log" ||
	wait_until 5 grep -q "CONNECT 127.0.0.1:$SRV" "$SQD/access.log" ||
	fail "squid did not log the CONNECT"
grep -q "Established connection to host \"127.0.0.1\" using file descriptor" "$T/tinyproxy-auth.log" ||
	grep -qi "connect" "$T/tinyproxy-auth.log" || fail "tinyproxy (auth) saw no CONNECT"

# squid refuses CONNECT to another port: 403, logged with its status line.
"$TCPTOOL" -t 30 sendrecv 127.0.0.1 "$C7" "$T/up" "$T/down.squidws" 2>/dev/null
[ -s "$T/down.squidws" ] && fail "squid let a CONNECT to a port it denies through"
assert_log_contains "$T/c.log" "tunnel squidws: [^ ]+: http_proxy 127.0.0.1:$SQ refused CONNECT 127.0.0.1:$SWS: HTTP/1.1 403 Forbidden"
say "ok: the proxy's 403 is logged with its status line"

# Missing and wrong credentials: 407.
for t in "noauth $C4 set user" "badauth $C5 the proxy rejected"; do
	set -- $t
	"$TCPTOOL" -t 30 sendrecv 127.0.0.1 "$2" "$T/up" "$T/down.$1" 2>/dev/null
	[ -s "$T/down.$1" ] && fail "$1: bytes came through without credentials"
	# tinyproxy answers wrong credentials with 401, not 407
	assert_log_contains "$T/c.log" "tunnel $1: [^ ]+: http_proxy 127.0.0.1:$TPA refused CONNECT 127.0.0.1:$SRV: HTTP/1.[01] 40[17] .*\(${3}"
done
say "ok: missing or wrong proxy credentials: the proxy's 407 (or 401), logged"
assert_log_lacks "$T/c.log" "s3cret|wrong-Pa55"

# The WebSocket transport through the open tinyproxy.
write_conf "$T/c2.conf" \
	"$(client_tunnel wstp "127.0.0.1:$C8" "127.0.0.1:$SWS" client1 "$sn transport = \"websocket\"; http_proxy = \"http://127.0.0.1:$TP\";")"
start_daemon "$T/c2.conf" "$T/c2.log"
"$TCPTOOL" -t 120 sendrecv 127.0.0.1 "$C8" "$T/up" "$T/down.wstp" || fail "wstp: sendrecv failed"
assert_same "$T/up" "$T/down.wstp"
say "ok: a WebSocket tunnel through tinyproxy, byte-exact"

# stunnel4, protocol = connect, through tinyproxy to our server role.
cat >"$T/st.conf" <<EOC
foreground = yes
pid =
debug = info
output = $T/st.log
[c]
client = yes
accept = 127.0.0.1:$ST
connect = 127.0.0.1:$TP
protocol = connect
protocolHost = 127.0.0.1:$SRV
sni = localhost
cert = $PKI/client1.pem
key = $PKI/client1.key
CAfile = $PKI/ca.pem
verifyChain = yes
checkHost = localhost
EOC
run_stunnel st "$ST"
"$TCPTOOL" -t 120 sendrecv 127.0.0.1 "$ST" "$T/up" "$T/down.st" || fail "stunnel: sendrecv failed"
assert_same "$T/up" "$T/down.st"
say "ok: stunnel4 (protocol = connect) through tinyproxy to our server role"
say "PASS"
