#!/bin/bash
# metrics: daemon.metrics_listen serves GET /metrics in the Prometheus
# text format: `promtool check metrics` takes it; a real Prometheus on
# loopback scrapes a server and a client daemon, and its query API shows
# the byte and connection counters move after traffic, the handshake
# failures by reason, and the gauges (workers, generation, certificate
# expiry). Scraping never stalls the data: bytes keep flowing while a
# scraper holds a connection open without sending.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
need_tools promtool prometheus curl

make_pki
pick_ports BE SRV CLI MS MC PROM
start_backend "$BE" --mode echo
DAEMON_EXTRA="metrics_listen = \"127.0.0.1:$MS\";" write_conf "$T/s.conf" \
	"$(server_tunnel in "127.0.0.1:$SRV" "127.0.0.1:$BE" 'allow_cn = [ "client1" ]; accounting = true;')"
DAEMON_EXTRA="metrics_listen = \"127.0.0.1:$MC\";" write_conf "$T/c.conf" \
	"$(client_tunnel out "127.0.0.1:$CLI" "localhost:$SRV" client1)"
start_daemon "$T/s.conf" "$T/s.log"
start_daemon "$T/c.conf" "$T/c.log"
wait_port "$MS" "$MC" || fail "nothing listens on the metrics ports"

# 1. The page, checked by promtool.
curl -sS --max-time 10 -D "$T/h" -o "$T/m" "http://127.0.0.1:$MS/metrics" || fail "GET /metrics"
grep -qi '^content-type: text/plain; version=0.0.4' "$T/h" || fail "content type: $(cat "$T/h")"
promtool check metrics <"$T/m" >"$T/lint" 2>&1 || fail "promtool check metrics: $(cat "$T/lint")"
for f in ssltunnel_connections_total ssltunnel_bytes_total ssltunnel_handshake_failures_total \
	ssltunnel_acl_denied_total ssltunnel_connections_active ssltunnel_workers \
	ssltunnel_generation ssltunnel_certificate_expiry_seconds; do
	grep -q "^# TYPE $f " "$T/m" || fail "no family $f in /metrics"
done
grep -q '^ssltunnel_workers 2$' "$T/m" || fail "workers: $(grep ssltunnel_workers "$T/m")"
exp=$(sed -n 's/^ssltunnel_certificate_expiry_seconds{tunnel="in"} //p' "$T/m")
# make_pki's certificates are valid 30 days: between 29 and 31 days left.
awk -v e="$exp" 'BEGIN { exit !(e > 29 * 86400 && e < 31 * 86400) }' ||
	fail "certificate expiry $exp s, expected about 30 days"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$MS/nope")
[ "$code" = 404 ] || fail "GET /nope: $code"
say "ok: /metrics passes promtool check metrics, with every family; 404 elsewhere"

# 2. A scraper that connects and says nothing does not stall the data.
exec 7<>"/dev/tcp/127.0.0.1/$MS"
random_file "$T/up" 3000000
"$TCPTOOL" -t 30 sendrecv 127.0.0.1 "$CLI" "$T/up" "$T/down" >/dev/null || fail "stream"
assert_same "$T/up" "$T/down"
exec 7>&-
say "ok: bytes flow while a metrics client sits idle"

# 3. A real Prometheus scrapes both daemons every second.
cat >"$T/prom.yml" <<EOC
global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: ssltunnel
    static_configs:
      - targets: [ "127.0.0.1:$MS", "127.0.0.1:$MC" ]
EOC
promtool check config "$T/prom.yml" >"$T/pcheck" 2>&1 || fail "promtool check config: $(cat "$T/pcheck")"
prometheus --config.file="$T/prom.yml" --storage.tsdb.path="$T/tsdb" \
	--web.listen-address="127.0.0.1:$PROM" >"$T/prom.log" 2>&1 &
track $!
wait_port "$PROM" --pid "$!" || fail "prometheus did not start: $(tail -n 5 "$T/prom.log")"
q() {	# q PROMQL: the first value of an instant query, or empty
	curl -sS --max-time 5 -G "http://127.0.0.1:$PROM/api/v1/query" --data-urlencode "query=$1" |
		"$PY" -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")'
}
wait_until 30 eval '[ "$(q "count(up == 1)")" = 2 ]' || fail "Prometheus does not see both daemons up: $(q 'up')"
before=$(q 'ssltunnel_bytes_total{tunnel="out",direction="up"}')
"$TCPTOOL" -t 30 sendrecv 127.0.0.1 "$CLI" "$T/up" "$T/down2" >/dev/null || fail "stream 2"
want=$((before + 3000000))
wait_until 30 eval '[ "$(q "ssltunnel_bytes_total{tunnel=\"out\",direction=\"up\"}")" = "$want" ]' ||
	fail "Prometheus: client bytes up $(q 'ssltunnel_bytes_total{tunnel="out",direction="up"}'), expected $want"
wait_until 30 eval '[ "$(q "ssltunnel_bytes_total{tunnel=\"in\",direction=\"down\"}")" = 6000000 ]' ||
	fail "Prometheus: server bytes down $(q 'ssltunnel_bytes_total{tunnel="in",direction="down"}'), expected 6000000"
wait_until 30 eval '[ "$(q "ssltunnel_connections_total{tunnel=\"in\",result=\"accepted\"}")" = 2 ]' ||
	fail "Prometheus: server connections $(q 'ssltunnel_connections_total{tunnel="in",result="accepted"}')"
printf 'x' | timeout 10 openssl s_client -connect "127.0.0.1:$SRV" -servername localhost \
	-CAfile "$PKI/ca.pem" -quiet -nocommands >/dev/null 2>&1 || true
wait_until 30 eval '[ "$(q "ssltunnel_handshake_failures_total{tunnel=\"in\",reason=\"no_certificate\"}")" = 1 ]' ||
	fail "Prometheus: no_certificate failures $(q 'ssltunnel_handshake_failures_total{tunnel="in",reason="no_certificate"}')"
wait_until 30 eval '[ "$(q "ssltunnel_identity_bytes_total{tunnel=\"in\",identity=\"CN=client1\",direction=\"down\"}")" = 6000000 ]' ||
	fail "Prometheus: CN=client1 bytes down $(q 'ssltunnel_identity_bytes_total{tunnel="in",identity="CN=client1",direction="down"}')"
curl -sS --max-time 10 "http://127.0.0.1:$MS/metrics" | promtool check metrics >"$T/lint2" 2>&1 ||
	fail "promtool check metrics after traffic: $(cat "$T/lint2")"
say "ok: Prometheus scrapes both daemons; bytes, connections, handshake failures and per-identity bytes move as the traffic does"
