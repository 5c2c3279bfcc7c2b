#!/bin/bash
# status: `ssltunnelctl status` and `status --json` on a running pair.
# 16 streams at once through a client tunnel to a server tunnel; status
# answers while they run, and once they are done its bytes and
# connection counts are exactly what the clients sent, on both daemons.
# Refused handshakes are counted by reason (unknown CA, no certificate,
# allow-list miss, expired), and the data path is counted with its
# reason.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

CTL=$top_builddir/ctl/ssltunnelctl
make_pki
pick_ports BE SRV CLI ACC A1 A2
start_backend "$BE" --mode echo
SS=$T/s.sock CS=$T/c.sock
DAEMON_EXTRA="control_socket = \"$SS\";" LOG_LEVEL=info write_conf "$T/s.conf" \
	"$(server_tunnel in "127.0.0.1:$SRV" "127.0.0.1:$BE" 'allow_cn = [ "client1" ];')" \
	"$(server_tunnel acc "127.0.0.1:$ACC" "127.0.0.1:$BE" 'allow_cn = [ "client1", "client2" ];
	  accounting = true; accounting_max_identities = 1;')"
DAEMON_EXTRA="control_socket = \"$CS\";" write_conf "$T/c.conf" \
	"$(client_tunnel out "127.0.0.1:$CLI" "localhost:$SRV" client1)" \
	"$(client_tunnel a1 "127.0.0.1:$A1" "localhost:$ACC" client1)" \
	"$(client_tunnel a2 "127.0.0.1:$A2" "localhost:$ACC" client2)"
start_daemon "$T/s.conf" "$T/s.log"
SPID=$LAST_PID
start_daemon "$T/c.conf" "$T/c.log"

# jq-free: one figure from status --json, with python.
fig() {	# fig SOCKET TUNNEL KEY [SUBKEY]
	timeout 30 "$CTL" -s "$1" status --json | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
t = [t for t in d["tunnels"] if t["name"] == sys.argv[1]][0]
v = t[sys.argv[2]]
print(v[sys.argv[3]] if len(sys.argv) > 3 else v)' "${@:2}"
}

# 1. 16 streams of 2 MiB (+ a few bytes) at once; status during them.
size=$((2 * 1024 * 1024 + 7))
random_file "$T/up" "$size"
pids=""
for i in $(seq 16); do
	"$TCPTOOL" -t 120 sendrecv 127.0.0.1 "$CLI" "$T/up" "$T/down.$i" >/dev/null &
	pids="$pids $!"
done
timeout 30 "$CTL" -s "$CS" status >"$T/st-during" || fail "status during the load: $(cat "$T/st-during")"
grep -q "^tunnel out: client role, tls, listen 127.0.0.1:$CLI, connect localhost:$SRV" "$T/st-during" ||
	fail "status during the load: $(cat "$T/st-during")"
for p in $pids; do
	wait "$p" || fail "a stream failed"
done
for i in $(seq 16); do
	assert_same "$T/up" "$T/down.$i"
done
want=$((16 * size))
# Both daemons count a connection done once they saw its end: bounded wait.
wait_until 10 eval "[ \"\$(fig $CS out active)\" = 0 ] && [ \"\$(fig $SS in active)\" = 0 ]" ||
	fail "connections still active after the streams ended: $(timeout 10 "$CTL" -s "$CS" status)"
for s in "$CS out" "$SS in"; do
	set -- $s
	[ "$(fig "$1" "$2" connections)" = 16 ] || fail "$2: $(fig "$1" "$2" connections) connections, expected 16"
	[ "$(fig "$1" "$2" bytes_up)" = "$want" ] || fail "$2: bytes_up $(fig "$1" "$2" bytes_up), expected $want"
	[ "$(fig "$1" "$2" bytes_down)" = "$want" ] || fail "$2: bytes_down $(fig "$1" "$2" bytes_down), expected $want"
	paths=$(( $(fig "$1" "$2" kernel_path) + $(fig "$1" "$2" userspace_path) ))
	[ "$paths" = 16 ] || fail "$2: $paths connections on a data path, expected 16"
done
if [ "$(fig "$SS" in kernel_path)" = 0 ]; then
	why=$( [ "${SSLTUNNEL_KTLS:-auto}" = off ] && echo ktls_off || echo no_kernel_tls )
	[ "$(fig "$SS" in userspace_why "$why")" = 16 ] ||
		fail "userspace path counted without its reason $why: $(timeout 10 "$CTL" -s "$SS" status --json)"
fi
say "ok: 16 streams of $size bytes: status answered during them; after, 16 connections and $want bytes each way on both daemons, each on a counted data path"

# 2. Refused handshakes, by reason.
refuse() {
	printf 'x' | timeout 10 openssl s_client -connect "127.0.0.1:$SRV" \
		-servername localhost -CAfile "$PKI/ca.pem" -quiet -nocommands "$@" \
		>/dev/null 2>&1 || true
}
refuse -cert "$PKI/rogue-client1.pem" -key "$PKI/rogue-client1.key"
refuse
refuse -cert "$PKI/client2.pem" -key "$PKI/client2.key"
refuse -cert "$PKI/expired-client1.pem" -key "$PKI/expired-client1.key"
refuse -cert "$PKI/expired-client1.pem" -key "$PKI/expired-client1.key"
for kv in unknown_ca=1 no_certificate=1 allow_list=1 expired=2; do
	k=${kv%=*} v=${kv#*=}
	wait_until 10 eval "[ \"\$(fig $SS in handshake_failures $k)\" = $v ]" ||
		fail "handshake_failures.$k is $(fig "$SS" in handshake_failures "$k"), expected $v"
done
[ "$(fig "$SS" in refused)" = 5 ] || fail "refused $(fig "$SS" in refused), expected 5"
timeout 30 "$CTL" -s "$SS" status >"$T/st-s" || fail "status: $(cat "$T/st-s")"
grep -q "handshake failures: unknown_ca 1, no_certificate 1, allow_list 1, expired 2" "$T/st-s" ||
	fail "status text: $(cat "$T/st-s")"
grep -Eq "^worker [12]: pid [0-9]+, generation 1, 0 connections" "$T/st-s" || fail "status workers: $(cat "$T/st-s")"
say "ok: refused handshakes counted by reason: unknown CA, no certificate, allow-list miss, expired"

# 3. The counters carry across a reload (the old generation's are kept
#    until it drains; the new one starts at 0 for new connections).
log_mark "$T/s.log"
kill -HUP "$SPID"
assert_log_since "$T/s.log" "configuration reloaded: generation 2" 10
"$TCPTOOL" -t 30 sendrecv 127.0.0.1 "$CLI" "$T/up" "$T/down.x" >/dev/null || fail "stream after reload"
wait_until 10 eval "[ \"\$(fig $CS out connections)\" = 17 ]" || fail "client connections after reload: $(fig "$CS" out connections)"
out=$(timeout 30 "$CTL" -s "$SS" status --json) || fail "status --json after reload"
"$PY" -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["generation"] == 2, d' "$out" ||
	fail "status --json after reload: $out"
out=$(timeout 10 "$CTL" -s "$SS" status --bogus 2>&1) && fail "status --bogus succeeded"
grep -q "status takes --json or nothing" <<<"$out" || fail "status --bogus: $out"
say "ok: after a reload status says generation 2; a bad option is one error line"

# 4. accounting = true: per identity, bounded; the rest is "other". The
#    closing log line names the identity and the destination.
small=$((100 * 1024 + 3))
random_file "$T/small" "$small"
for i in 1 2 3; do
	"$TCPTOOL" -t 30 sendrecv 127.0.0.1 "$A1" "$T/small" "$T/s1.$i" >/dev/null || fail "a1 stream"
done
"$TCPTOOL" -t 30 sendrecv 127.0.0.1 "$A2" "$T/small" "$T/s2" >/dev/null || fail "a2 stream"
ident() {	# ident IDENTITY KEY: a figure of the acc tunnel's identity
	timeout 30 "$CTL" -s "$SS" status --json | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
t = [t for t in d["tunnels"] if t["name"] == "acc"][0]
i = [i for i in t["identities"] if i["identity"] == sys.argv[1]]
print(i[0][sys.argv[2]] if i else "none")' "$1" "$2"
}
wait_until 10 eval '[ "$(ident CN=client1 connections)" = 3 ] && [ "$(ident other connections)" = 1 ]' ||
	fail "accounting: CN=client1 $(ident CN=client1 connections) connections, other $(ident other connections): $(timeout 10 "$CTL" -s "$SS" status --json)"
[ "$(ident CN=client1 bytes_down)" = $((3 * small)) ] || fail "accounting: CN=client1 bytes_down $(ident CN=client1 bytes_down)"
[ "$(ident other bytes_up)" = "$small" ] || fail "accounting: other bytes_up $(ident other bytes_up)"
[ "$(ident CN=client2 connections)" = none ] || fail "accounting kept more than accounting_max_identities"
assert_log_contains "$T/s.log" "info: tunnel acc: 127\.0\.0\.1:[0-9]+: closed after [0-9]+ ms, $small bytes up, $small bytes down, CN=client2, to 127\.0\.0\.1:$BE\$"
say "ok: accounting: CN=client1 3 connections and its bytes; client2 past the bound counted as other; the log line names both"
