#!/bin/bash
# crl: crl_file, CRLs from the CA that are read at start and at each
# reload, checked against ca_file, and applied inside the handshake.
#  1. -t accepts a config whose crl_file is a good CRL (PEM)
#  2. server role: a client certificate the CRL revokes is refused in the
#     handshake, logged at notice as "certificate revoked" with its
#     subject and serial; the backend sees no connection
#  3. server role: a client certificate the CRL does not list gets
#     through, byte-exact
#  4. client role: a server certificate its CRL (DER) revokes is refused,
#     logged with the server's subject and serial
#  5. -t refuses (78) an expired CRL, saying when it expired
#  6. -t refuses (78) a CRL signed by another CA than ca_file's
#  7. -t refuses (78) a crl_file that holds no CRL, and one that can't be
#     read
#  8. a reload onto an expired CRL fails with the reason; the running
#     generation keeps its workers and serves on
#  9. the CRL updated (a second certificate revoked) + SIGHUP: new
#     connections with that certificate are refused (resumed ones too:
#     the client role kept a session ticket), others still pass
# 10. the handshake failure is counted as "revoked" in ssltunnelctl status
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

need_tools certtool openssl
make_pki
pick_ports BE SRV OK C2 BADSRV SRV2
random_file "$T/in" 200000
valid="expiration_days = 30"
# A CA that may sign CRLs, and its certificates.
certtool_cert rca "ssltunnel CRL test CA" - ca cert_signing_key crl_signing_key "$valid"
certtool_cert rsrv localhost rca signing_key tls_www_server "$valid" \
	'dns_name = "localhost"' 'ip_address = "127.0.0.1"'
certtool_cert rsrv-revoked localhost rca signing_key tls_www_server "$valid" \
	'dns_name = "localhost"' 'ip_address = "127.0.0.1"'
certtool_cert rc1 client1 rca signing_key tls_www_client "$valid"
certtool_cert rc2 client2 rca signing_key tls_www_client "$valid"

# make_crl OUT TEMPLATE_LINE CERT...: a CRL of rca revoking CERTs
# (PKI names), PEM; OUT.der beside it.
CRLNUM=0
make_crl() {
	local out=$1 line=$2 c args=()
	shift 2
	CRLNUM=$((CRLNUM + 1))
	printf '%s\ncrl_number = %d\n' "$line" "$CRLNUM" >"$T/crl.tmpl"
	for c in "$@"; do
		cat "$PKI/$c.pem"
	done >"$T/revoke.pem"
	[ $# -gt 0 ] && args=(--load-certificate "$T/revoke.pem")
	certtool --generate-crl --load-ca-privkey "$PKI/${CRL_CA:-rca}.key" \
		--load-ca-certificate "$PKI/${CRL_CA:-rca}.pem" "${args[@]}" \
		--template "$T/crl.tmpl" --outfile "$out.new" >/dev/null 2>&1 ||
		fail "certtool --generate-crl $out"
	certtool --crl-info --infile "$out.new" --outder --outfile "$out.der" \
		>/dev/null 2>&1 || fail "certtool: $out as DER"
	mv "$out.new" "$out"
}

serial_of() {
	openssl x509 -in "$PKI/$1.pem" -noout -serial | sed 's/^serial=0*//' |
		tr 'A-F' 'a-f'
}

make_crl "$T/crl.pem" "crl_next_update = 7" rc2 rsrv-revoked
start_backend "$BE" --mode echo --count-file "$T/count"

srv_block() {
	cat <<EOC
	{ name = "in"; role = "server"; listen = "127.0.0.1:$SRV"; connect = "127.0.0.1:$BE";
	  cert_file = "$PKI/rsrv.pem"; key_file = "$PKI/rsrv.key";
	  ca_file = "$PKI/rca.pem"; crl_file = "$T/crl.pem"; }
EOC
}
cli_block() {
	cat <<EOC
	{ name = "$1"; role = "client"; listen = "127.0.0.1:$2"; connect = "127.0.0.1:$3";
	  cert_file = "$PKI/$4.pem"; key_file = "$PKI/$4.key"; ca_file = "$PKI/rca.pem";
	  server_name = "localhost"; ${5:-} }
EOC
}
DAEMON_EXTRA="control_socket = \"$T/ctl.sock\";" write_conf "$T/srv.conf" "$(srv_block)"
write_conf "$T/cli.conf" "$(cli_block ok "$OK" "$SRV" rc1)" "$(cli_block c2 "$C2" "$SRV" rc2)"

# 1.
"$SSLTUNNELD" -t -c "$T/srv.conf" >"$T/t1.out" 2>&1 || fail "-t refused a good crl_file: $(cat "$T/t1.out")"
say "ok: -t accepts a good CRL"

start_daemon "$T/srv.conf" "$T/srv.log"
MASTER=$LAST_PID
start_daemon "$T/cli.conf" "$T/cli.log"
PEER='127\.0\.0\.1:[0-9]+'

# 2.
log_mark "$T/srv.log"
"$TCPTOOL" -t 10 expect-closed 127.0.0.1 "$C2" || fail "revoked client2: the app connection was not closed"
assert_log_since "$T/srv.log" "notice: tunnel in: $PEER: certificate revoked: ([^,]*,)*CN=client2, serial 0*$(serial_of rc2) \(crl_file $T/crl\.pem\)\$"
assert_connections "$T/count" 0 "revoked client2"
say "ok: a revoked client certificate is refused and logged with subject and serial"

# 3.
"$TCPTOOL" -t 20 sendrecv 127.0.0.1 "$OK" "$T/in" "$T/out" || fail "client1 (not revoked) did not get through"
assert_same "$T/in" "$T/out"
rm -f "$T/out"
assert_connections "$T/count" 1 "client1"
say "ok: a certificate the CRL does not list gets through"

# 4. client role, its server revoked; a DER CRL.
cat >"$T/bad-srv.conf" <<EOC
daemon = { workers = 1; log_level = "debug"; log_target = "stderr"; };
tunnels = (
	{ name = "revoked-srv"; role = "server"; listen = "127.0.0.1:$SRV2"; connect = "127.0.0.1:$BE";
	  cert_file = "$PKI/rsrv-revoked.pem"; key_file = "$PKI/rsrv-revoked.key";
	  ca_file = "$PKI/rca.pem"; },
	{ name = "to-revoked"; role = "client"; listen = "127.0.0.1:$BADSRV"; connect = "127.0.0.1:$SRV2";
	  cert_file = "$PKI/rc1.pem"; key_file = "$PKI/rc1.key"; ca_file = "$PKI/rca.pem";
	  server_name = "localhost"; crl_file = "$T/crl.pem.der"; }
);
EOC
start_daemon "$T/bad-srv.conf" "$T/bad-srv.log"
"$TCPTOOL" -t 10 expect-closed 127.0.0.1 "$BADSRV" || fail "revoked server: the app connection was not closed"
assert_log_contains "$T/bad-srv.log" "notice: tunnel to-revoked: $PEER: certificate revoked: ([^,]*,)*CN=localhost, serial 0*$(serial_of rsrv-revoked) \(crl_file $T/crl\.pem\.der\)\$"
assert_connections "$T/count" 1 "revoked server"
say "ok: client role: a revoked server certificate is refused (DER CRL)"

# t_refuses WHAT REGEX: -t on srv.conf with crl_file as it now is exits 78
# saying REGEX.
t_refuses() {
	"$SSLTUNNELD" -t -c "$T/t.conf" >"$T/t.out" 2>&1
	local rc=$?
	[ $rc -eq 78 ] || fail "$1: -t exited $rc, expected 78: $(cat "$T/t.out")"
	grep -Eq -- "$2" "$T/t.out" || fail "$1: -t said: $(cat "$T/t.out")"
}
# 5.
make_crl "$T/old.pem" 'crl_this_update_date = "2020-01-01 00:00:00"
crl_next_update_date = "2020-02-01 00:00:00"' rc2
sed "s|$T/crl.pem|$T/old.pem|" "$T/srv.conf" >"$T/t.conf"
t_refuses "expired CRL" "tunnel in: crl_file $T/old\.pem: the CRL of ([^,]*,)*CN=ssltunnel CRL test CA expired on 2020-02-01 00:00:00 UTC"
say "ok: -t refuses an expired CRL"
# 6.
CRL_CA=rogue-ca make_crl "$T/rogue.pem" "crl_next_update = 7" rc2
sed "s|$T/crl.pem|$T/rogue.pem|" "$T/srv.conf" >"$T/t.conf"
t_refuses "CRL of another CA" "tunnel in: crl_file $T/rogue\.pem: the CRL of ([^,]*,)*CN=ssltunnel rogue CA is not signed by a CA of ca_file"
say "ok: -t refuses a CRL signed by another CA"
# 7.
cp "$PKI/rc1.pem" "$T/notcrl.pem"
sed "s|$T/crl.pem|$T/notcrl.pem|" "$T/srv.conf" >"$T/t.conf"
t_refuses "no CRL in the file" "tunnel in: crl_file $T/notcrl\.pem: expected CRLs \(PEM or DER\)"
sed "s|$T/crl.pem|$T/missing.pem|" "$T/srv.conf" >"$T/t.conf"
t_refuses "missing file" "crl_file.*missing\.pem"
say "ok: -t refuses a file without CRLs, and a missing one"

# 8.
WORKERS=$(pgrep -P "$MASTER" | sort | tr '\n' ' ')
cp "$T/crl.pem" "$T/crl.good"
cp "$T/old.pem" "$T/crl.pem"
log_mark "$T/srv.log"
kill -HUP "$MASTER"
assert_log_since "$T/srv.log" "error: reload failed, still running the previous configuration: tunnel in: crl_file $T/crl\.pem: the CRL of .* expired on " 10
[ "$(pgrep -P "$MASTER" | sort | tr '\n' ' ')" = "$WORKERS" ] || fail "expired CRL on reload: the workers changed"
"$TCPTOOL" -t 20 sendrecv 127.0.0.1 "$OK" "$T/in" "$T/out" || fail "expired CRL on reload: the tunnel stopped working"
assert_same "$T/in" "$T/out"
rm -f "$T/out"
say "ok: a reload onto an expired CRL fails; the old generation serves on"

# 9.
make_crl "$T/crl.pem" "crl_next_update = 7" rc2 rsrv-revoked rc1
log_mark "$T/srv.log"
kill -HUP "$MASTER"
assert_log_since "$T/srv.log" "notice: configuration reloaded: generation 2 " 10
log_mark "$T/srv.log"
"$TCPTOOL" -t 10 expect-closed 127.0.0.1 "$OK" || fail "client1 revoked by the new CRL: the app connection was not closed"
# A client worker that kept a ticket from before resumes, and is refused
# right after the handshake for the same reason; one without does a full
# handshake, refused inside it.
assert_log_since "$T/srv.log" "notice: tunnel in: $PEER: (resumed session refused: )?certificate revoked: ([^,]*,)*CN=client1, serial 0*$(serial_of rc1) "
assert_connections "$T/count" 2 "client1 after the new CRL"
say "ok: CRL updated + SIGHUP: the second certificate is refused for new connections"

# 10.
"$top_builddir/ctl/ssltunnelctl" -s "$T/ctl.sock" status >"$T/status.out" 2>&1 ||
	fail "ssltunnelctl status: $(cat "$T/status.out")"
grep -Eq "handshake failures:.* revoked [0-9]+" "$T/status.out" || fail "status counts no revoked handshake: $(grep 'handshake failures' "$T/status.out")"
say "ok: revoked handshakes are counted in status"
stop_daemon "$MASTER"
say "PASS"
