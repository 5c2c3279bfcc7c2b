#!/bin/bash
# scale_out: conf/examples/scale-out as written - HAProxy in front of
# three ssltunneld with PROXY v2, a client daemon, the service behind -
# in a network namespace of its own (the example's ports are fixed).
# 100 connections run through the balancer while gateway 1 is reloaded
# and gateway 2 stopped: every accepted connection gets all its bytes
# back. Each gateway's metrics answer, the Prometheus config passes
# promtool, and the gateways log the clients' addresses, not HAProxy's.
if [ -z "${SCALE_OUT_NETNS:-}" ]; then
	command -v unshare >/dev/null 2>&1 || { echo "SKIP: scale_out: no unshare" >&2; exit 77; }
	[ "$(id -u)" = 0 ] || { echo "SKIP: scale_out: a network namespace needs root" >&2; exit 77; }
	exec env SCALE_OUT_NETNS=1 unshare -n bash "$0" "$@"
fi
ip link set lo up || { echo "FAIL: scale_out: ip link set lo up" >&2; exit 1; }
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
need_tools haproxy promtool curl

EX=$T/scale-out
cp -r "$top_srcdir/conf/examples/scale-out" "$EX"
# The kTLS VM's emulated CPUs take longer than the default 10 s for 100
# handshakes at once (vm-suite.sh sets HANDSHAKE_TIMEOUT): only there the
# copies get more patience; elsewhere they run exactly as written.
if [ -n "${HANDSHAKE_TIMEOUT:-}" ]; then
	for f in "$EX"/*.conf; do
		printf 'defaults = { handshake_timeout = %s; connect_timeout = %s; };\n' \
			"$HANDSHAKE_TIMEOUT" "$HANDSHAKE_TIMEOUT" >>"$f"
	done
fi
"$top_srcdir/scripts/mkcerts" "$EX/certs" >"$T/mkcerts.log" 2>&1 || fail "mkcerts: $(tail -n 3 "$T/mkcerts.log")"
promtool check config "$EX/prometheus.yml" >"$T/pc" 2>&1 || fail "promtool check config: $(cat "$T/pc")"
haproxy -c -f "$EX/haproxy.cfg" >"$T/hc" 2>&1 || fail "haproxy -c: $(cat "$T/hc")"
for i in 1 2 3; do
	"$SSLTUNNELD" -t -c "$EX/ssltunnel-$i.conf" >"$T/t$i" 2>&1 || fail "-t ssltunnel-$i.conf: $(cat "$T/t$i")"
done

# The service the example forwards to.
start_backend 8080 --mode echo
for i in 1 2 3; do
	start_daemon "$EX/ssltunnel-$i.conf" "$T/gw$i.log"
	eval "GW$i=\$LAST_PID"
done
haproxy -db -f "$EX/haproxy.cfg" >"$T/haproxy.log" 2>&1 &
HA=$!
track "$HA"
wait_port 9443 --pid "$HA" || fail "haproxy did not listen on 9443: $(tail -n 5 "$T/haproxy.log")"
start_daemon "$EX/client.conf" "$T/client.log"

# 1. Everything is up: one stream, the metrics of each gateway.
random_file "$T/up" 100000
"$TCPTOOL" -t 30 sendrecv 127.0.0.1 5000 "$T/up" "$T/down" >/dev/null || fail "a stream through the example"
assert_same "$T/up" "$T/down"
for p in 9817 9818 9819; do
	curl -sS --max-time 10 "http://127.0.0.1:$p/metrics" | promtool check metrics >"$T/m$p" 2>&1 ||
		fail "metrics on $p: $(cat "$T/m$p")"
done
say "ok: the example runs as written: a stream through HAProxy and a gateway; each gateway's metrics pass promtool"

# 2. 100 connections through the balancer; meanwhile gateway 1 reloads
#    and gateway 2 stops. Every connection accepted gets its bytes back.
# 4 MiB each (512 KiB on the kTLS VM's emulated CPUs, BULK_MIB=8): all
# 100 run at once, so they are all in flight when the signals come.
"$TCPTOOL" -t 300 many 127.0.0.1 5000 100 $((${BULK_MIB:-64} * 64 * 1024)) >"$T/many.out" 2>&1 &
MANY=$!
track "$MANY"
sleep 0.5
log_mark "$T/gw1.log"
kill -HUP "$GW1"
kill -TERM "$GW2"
wait "$MANY"
rc=$?
[ "$rc" = 0 ] || fail "tcptool many: exit $rc: $(tail -n 5 "$T/many.out")"
assert_log_since "$T/gw1.log" "configuration reloaded: generation 2" 10
wait_until 40 eval '! running "$GW2"' || fail "gateway 2 did not stop"
grep -Eq "worker [0-9]+: draining [1-9][0-9]* connection" "$T/gw2.log" ||
	fail "gateway 2 had no connection to finish when it stopped: the test proved nothing"
say "ok: 100 connections through the balancer while gateway 1 reloaded and gateway 2 stopped: $(tail -n 1 "$T/many.out")"

# 3. The gateways saw the clients' addresses (the client daemon's, on
#    127.0.0.1), never HAProxy's 127.0.0.9, in their logs.
for i in 1 2 3; do
	assert_log_lacks "$T/gw$i.log" "tunnel gw: 127\\.0\\.0\\.9:[0-9]+: CN="
done
cat "$T"/gw[123].log | grep -Eq "tunnel gw: 127\\.0\\.0\\.1:[0-9]+: CN=client1 authorized" ||
	fail "no gateway logged the client's own address"
say "ok: the gateways logged the clients' addresses from the PROXY headers"
