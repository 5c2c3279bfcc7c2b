#!/bin/bash
# seed_cli: the node tool's command line. Self-signed certificates pinned
# on both sides; the exact start-up lines on stdout; data byte-exact; a
# client presenting another self-signed certificate is turned away; a
# missing flag is named and exits 64.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

make_pki
pick_ports BE SP CP CP2

# The seed's server role forwards to localhost, whichever address that
# resolves to: serve both loopbacks when ::1 exists.
hosts="--host 127.0.0.1"
"$TCPTOOL" has-ipv6 >/dev/null && hosts="$hosts --host ::1"
start_backend "$BE" --mode echo $hosts --count-file "$T/count"

"$SSLTUNNELD" -r server --proxy_port "$SP" --server_port "$BE" \
	--srv_pub_cert "$PKI/seed-server.pem" --srv_prv_cert "$PKI/seed-server.key" \
	--clt_pub_cert "$PKI/seed-client.pem" --log_level info \
	>"$T/srv.out" 2>"$T/srv.log" &
track $!; SRV_PID=$!
wait_port "$SP" --pid "$SRV_PID" || fail "seed server role does not listen on $SP"

# dashes instead of underscores, and an explicit --server_host
"$SSLTUNNELD" -r client --proxy-port "$CP" --server-port "$SP" --server-host localhost \
	--srv-pub-cert "$PKI/seed-server.pem" --clt-pub-cert "$PKI/seed-client.pem" \
	--clt-prv-cert "$PKI/seed-client.key" --keep-alive 5000 --log-level log \
	>"$T/cli.out" 2>"$T/cli.log" &
track $!; CLI_PID=$!
wait_port "$CP" --pid "$CLI_PID" || fail "seed client role does not listen on $CP"

# a client with a different self-signed certificate (same CN)
"$SSLTUNNELD" -r client --proxy_port "$CP2" --server_port "$SP" \
	--srv_pub_cert "$PKI/seed-server.pem" --clt_pub_cert "$PKI/seed-other.pem" \
	--clt_prv_cert "$PKI/seed-other.key" \
	>"$T/other.out" 2>"$T/other.log" &
track $!
wait_port "$CP2" --pid "$LAST_PID" || fail "second seed client role does not listen on $CP2"

# listens_on HEXADDR PORT: /proc/net/tcp has a listener on exactly that
# address (00000000 = 0.0.0.0, 0100007F = 127.0.0.1).
listens_on() {
	grep -Eq "^ *[0-9]+: $1:$(printf %04X "$2") 00000000:0000 0A " /proc/net/tcp
}
listens_on 00000000 "$SP" || fail "the seed server role does not listen on 0.0.0.0:$SP"
listens_on 0100007F "$CP" || fail "the seed client role does not listen on 127.0.0.1:$CP"

expect_stdout() {
	local file=$1
	shift
	printf '%s\n' "$@" >"$T/expected.out"
	wait_until 5 file_size_ge "$file" "$(stat -c %s "$T/expected.out")"
	cmp -s "$T/expected.out" "$file" ||
		fail "${file##*/}: expected exactly:
$(cat "$T/expected.out")
got:
$(cat "$file")"
}
expect_stdout "$T/srv.out" \
	"Running 'server' role. Listening on $SP, decrypting and forwarding to real server machine on localhost:$BE" \
	"ssltunnel's server is listening on port: $SP"
expect_stdout "$T/cli.out" \
	"Running 'client' role. Listening on $CP, encrypting and forwarding to ssltunnel's server on localhost:$SP" \
	"ssltunnel's client is listening on port: $CP"

random_file "$T/data" 1000000
"$TCPTOOL" -t 30 sendrecv 127.0.0.1 "$CP" "$T/data" "$T/got" || fail "sendrecv through the seed tunnel failed"
assert_same "$T/data" "$T/got"
"$TCPTOOL" -t 30 many 127.0.0.1 "$CP" 20 10000 || fail "20 connections through the seed tunnel failed"
assert_connections "$T/count" 21
assert_log_contains "$T/srv.log" "info: tunnel server: 127\.0\.0\.1:[0-9]+: CN=seed-client authorized"
say "ok: pinned self-signed certificates, data byte-exact"

"$TCPTOOL" -t 5 expect-closed 127.0.0.1 "$CP2" || fail "a client with another self-signed certificate got through"
assert_log_contains "$T/srv.log" "notice: tunnel server: 127\.0\.0\.1:[0-9]+: certificate .*CN=seed-client.* rejected: "
assert_connections "$T/count" 21
say "ok: another self-signed client certificate rejected"

# a missing flag: named on stderr, exit 64
rc=0
timeout 10 "$SSLTUNNELD" -r server --proxy_port "$SP" \
	--srv_pub_cert "$PKI/seed-server.pem" --srv_prv_cert "$PKI/seed-server.key" \
	--clt_pub_cert "$PKI/seed-client.pem" >"$T/bad.out" 2>"$T/bad.err" || rc=$?
[ "$rc" -eq 64 ] || fail "missing --server_port: exit $rc, expected 64: $(cat "$T/bad.err")"
grep -q -- "--server_port" "$T/bad.err" || fail "missing --server_port: stderr does not name it: $(cat "$T/bad.err")"
say "ok: missing --server_port: $(cat "$T/bad.err")"
say "PASS"
