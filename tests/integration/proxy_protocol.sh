#!/bin/bash
# proxy_protocol: three server-role daemons behind a real HAProxy
# (send-proxy-v2, from 127.0.0.9): each daemon takes the client's real
# address from the PROXY header (proxy_protocol = "both", proxy_from)
# for its logs and acl decisions, and sends a v2 header of its own to the
# backend (read back by an independent parser, ppbackend.py: the client's
# address, the TLS version and the client certificate's CN as TLVs). A
# connection from outside proxy_from, or without a header, is refused and
# logged.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
need_tools haproxy

make_pki
pick_ports PB LB S1 S2 S3 CLI
"$PY" "$top_srcdir/tests/integration/ppbackend.py" "$PB" --log "$T/pb.log" \
	--pid-file "$T/pb.pid" 2>"$T/pb.err" &
track $!
wait_port "$PB" --pid "$!" || fail "ppbackend did not start: $(cat "$T/pb.err")"
for i in 1 2 3; do
	port_var=S$i
	LOG_LEVEL=debug write_conf "$T/s$i.conf" \
		"$(server_tunnel gw "127.0.0.1:${!port_var}" dynamic "
		  proxy_protocol = \"both\"; proxy_from = [ \"127.0.0.9\" ];
		  acl = ( { cn = [ \"client1\" ]; allow = [ \"127.0.0.1:$PB\" ]; } );")"
	start_daemon "$T/s$i.conf" "$T/s$i.log"
done
cat >"$T/haproxy.cfg" <<EOC
global
	log stderr format raw local0 info
defaults
	mode tcp
	log global
	timeout connect 5s
	timeout client 60s
	timeout server 60s
frontend fe
	bind 127.0.0.1:$LB
	default_backend be
backend be
	balance roundrobin
	source 127.0.0.9
	server s1 127.0.0.1:$S1 send-proxy-v2
	server s2 127.0.0.1:$S2 send-proxy-v2
	server s3 127.0.0.1:$S3 send-proxy-v2
EOC
haproxy -c -f "$T/haproxy.cfg" >"$T/haproxy.check" 2>&1 || fail "haproxy -c: $(cat "$T/haproxy.check")"
haproxy -db -f "$T/haproxy.cfg" >"$T/haproxy.log" 2>&1 &
track $!
wait_port "$LB" --pid "$!" || fail "haproxy did not start: $(tail -n 5 "$T/haproxy.log")"
write_conf "$T/c.conf" "$(client_tunnel out "127.0.0.1:$CLI" "localhost:$LB" client1 \
	"destination = \"127.0.0.1:$PB\";")"
start_daemon "$T/c.conf" "$T/c.log"

# 1. Six streams through the balancer: two per daemon, each byte-exact.
random_file "$T/up" 200000
for i in $(seq 6); do
	"$TCPTOOL" -t 30 sendrecv 127.0.0.1 "$CLI" "$T/up" "$T/down.$i" >/dev/null ||
		fail "stream $i through HAProxy failed"
	assert_same "$T/up" "$T/down.$i"
done
for i in 1 2 3; do
	n=$(grep -c "PROXY v2 from the load balancer 127\.0\.0\.9:" "$T/s$i.log")
	[ "$n" = 2 ] || fail "daemon $i read $n PROXY headers, expected 2"
	grep -Eq "tunnel gw: 127\.0\.0\.1:[0-9]+: CN=client1 -> 127\.0\.0\.1:$PB \(127\.0\.0\.1\): allowed by acl\[0\]" "$T/s$i.log" ||
		fail "daemon $i: no acl decision for the client's real address"
	assert_log_lacks "$T/s$i.log" "tunnel gw: 127\.0\.0\.9:[0-9]+: CN="
done
say "ok: HAProxy spread 6 streams over 3 daemons; each logged the client's address, not the balancer's, in its acl decisions"

# 2. What the daemons sent the backend: the same client addresses, the
#    TLS version, the certificate's CN, verified.
n=$(wc -l <"$T/pb.log")
[ "$n" = 6 ] || fail "the backend saw $n PROXY headers, expected 6: $(cat "$T/pb.log")"
"$PY" - "$T/pb.log" "$S1" "$S2" "$S3" <<'EOP' || fail "backend headers: $(cat "$T/pb.log")"
import json, sys
ports = set(sys.argv[2:])
for line in open(sys.argv[1]):
    r = json.loads(line)
    assert "error" not in r, r
    assert r["src"].startswith("127.0.0.1:"), r
    assert r["dst"].split(":")[-1] in ports, r
    assert r["ssl"] and r["client"] & 1 and r["verify"] == 0, r
    assert r["ssl_version"] in ("TLSv1.3", "TLSv1.2"), r
    assert r["cn"] == "client1", r
EOP
for src in $(sed -n 's/.*"src": "\([^"]*\)".*/\1/p' "$T/pb.log"); do
	cat "$T"/s[123].log | grep -q "tunnel gw: $src: CN=client1 authorized" ||
		fail "the backend's client $src is not the one a daemon logged"
done
say "ok: the backend got a v2 header per connection: the client's address (as the daemons logged it), TLSv1.3, CN=client1, verified"

# 3. Refusals: a direct connection (not from proxy_from), and one from the
#    balancer's address without a header.
log_mark "$T/s1.log"
"$TCPTOOL" -t 5 expect-closed 127.0.0.1 "$S1" >/dev/null || fail "a direct connection was not closed"
assert_log_since "$T/s1.log" "tunnel gw: 127\.0\.0\.1:[0-9]+: refused: proxy_protocol = \"accept\" and this address is not in proxy_from"
log_mark "$T/s1.log"
"$PY" - "$S1" <<'EOP' || fail "no-header client"
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10,
                             source_address=("127.0.0.9", 0))
s.sendall(b"\x16\x03\x01\x00\x05hello")
s.settimeout(10)
assert s.recv(100) == b"", "got data back"
EOP
assert_log_since "$T/s1.log" "tunnel gw: 127\.0\.0\.9:[0-9]+: refused: no valid PROXY header from the load balancer: "
say "ok: a connection from outside proxy_from, and one without a PROXY header, are refused and logged"
