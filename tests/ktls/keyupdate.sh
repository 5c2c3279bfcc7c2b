#!/bin/bash
# keyupdate: a TLS 1.3 peer that sends a KeyUpdate after some data. On the
# kernel path (kernels before 6.14 can't take new receive keys) the
# connection is closed with a logged reason and nothing garbled reaches
# the backend; on the userspace path GnuTLS follows the new keys.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/ktls/lib.sh"

need_tools openssl
make_pki
pick_ports BE SRV
start_backend "$BE" --mode echo --count-file "$T/count"
write_conf "$T/s.conf" "$(server_tunnel in "127.0.0.1:$SRV" "127.0.0.1:$BE" 'tls_versions = [ "1.3" ];')"
start_daemon "$T/s.conf" "$T/s.log"

# s_client's command mode: a line "K" sends a KeyUpdate (update_requested).
{
	printf 'before-update\n'
	sleep 1
	printf 'K\n'
	sleep 1
	printf 'after-update\n'
	sleep 1
} | timeout 30 openssl s_client -connect "127.0.0.1:$SRV" -tls1_3 \
	-cert "$PKI/client1.pem" -key "$PKI/client1.key" -CAfile "$PKI/ca.pem" \
	>"$T/ossl.out" 2>&1
grep -q "KEYUPDATE" "$T/ossl.out" || fail "s_client did not send a KeyUpdate: $(tail -5 "$T/ossl.out")"
# The backend echoes: what s_client printed back is what the backend got.
# s_client may print a session ticket's hex dump just before the echo,
# on the same line.
grep -q "before-update$" "$T/ossl.out" || fail "no echo of the data before the KeyUpdate"
if [ "$KTLS" = 1 ]; then
	assert_log_contains "$T/s.log" "notice: tunnel in: [^ ]+: relay failed after [0-9]+ ms: peer sent a TLS KeyUpdate; kernel TLS here cannot take new keys"
	if grep -q "after-update" "$T/ossl.out"; then
		fail "data after the KeyUpdate came through the kernel path"
	fi
	say "ok: KeyUpdate on the kernel path closes the connection with a reason; backend got only clean data"
else
	grep -q "after-update$" "$T/ossl.out" || fail "userspace path: data after the KeyUpdate lost"
	say "ok: KeyUpdate on the userspace path is followed"
fi
say "PASS"
