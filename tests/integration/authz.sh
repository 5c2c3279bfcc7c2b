#!/bin/bash
# authz: the identity checks after the chain: allow_dns (case-insensitive
# SAN dNSName), allow_uri (exact SAN URI), pin_sha256 as hex with colons
# and as sha256//BASE64 on the server role, and pin_sha256 on the client
# role. Each admitted client's bytes come back; each refused one is closed
# with the reason at notice level and its backend sees nothing.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

need_tools openssl
make_pki
certtool_cert client3 client3 ca signing_key tls_www_client "expiration_days = 30" \
	'dns_name = "client3.example.com"' 'uri = "spiffe://test/client3"'

pick_ports BE_DNS BE_URI BE_PIN BE_B64 BE_ANY S_DNS S_URI S_PIN S_B64 S_ANY \
	DNS_OK DNS_NO URI_OK URI_NO PIN_OK PIN_NO B64_OK CPIN_OK CPIN_NO

# spki_hex CERT / spki_b64 CERT: SHA-256 of the SubjectPublicKeyInfo
spki_hex() {
	openssl x509 -in "$1" -pubkey -noout | openssl pkey -pubin -outform DER |
		sha256sum | cut -d' ' -f1
}
spki_b64() {
	openssl x509 -in "$1" -pubkey -noout | openssl pkey -pubin -outform DER |
		openssl dgst -sha256 -binary | base64
}
# aa:bb:... upper case, as openssl/browsers print fingerprints
colons() {
	echo "$1" | tr a-f A-F | sed 's/../&:/g; s/:$//'
}
CLIENT1_PIN=$(colons "$(spki_hex "$PKI/client1.pem")")
CLIENT2_HEX=$(spki_hex "$PKI/client2.pem")
CLIENT2_B64=$(spki_b64 "$PKI/client2.pem")
SERVER_HEX=$(spki_hex "$PKI/server.pem")
[ ${#CLIENT2_HEX} -eq 64 ] && [ -n "$CLIENT2_B64" ] || fail "cannot compute SPKI pins"

for be in BE_DNS BE_URI BE_PIN BE_B64 BE_ANY; do
	start_backend "${!be}" --mode echo --count-file "$T/count-$be"
done
write_conf "$T/srv.conf" \
	"$(server_tunnel dns "127.0.0.1:$S_DNS" "127.0.0.1:$BE_DNS" 'allow_dns = [ "CLIENT3.Example.COM" ];')" \
	"$(server_tunnel uri "127.0.0.1:$S_URI" "127.0.0.1:$BE_URI" 'allow_uri = [ "spiffe://test/client3" ];')" \
	"$(server_tunnel pin "127.0.0.1:$S_PIN" "127.0.0.1:$BE_PIN" "pin_sha256 = [ \"$CLIENT1_PIN\" ];")" \
	"$(server_tunnel b64 "127.0.0.1:$S_B64" "127.0.0.1:$BE_B64" "pin_sha256 = [ \"sha256//$CLIENT2_B64\" ];")" \
	"$(server_tunnel any "127.0.0.1:$S_ANY" "127.0.0.1:$BE_ANY")"
SN='server_name = "localhost";'
write_conf "$T/cli.conf" \
	"$(client_tunnel dns_ok "127.0.0.1:$DNS_OK" "127.0.0.1:$S_DNS" client3 "$SN")" \
	"$(client_tunnel dns_no "127.0.0.1:$DNS_NO" "127.0.0.1:$S_DNS" client1 "$SN")" \
	"$(client_tunnel uri_ok "127.0.0.1:$URI_OK" "127.0.0.1:$S_URI" client3 "$SN")" \
	"$(client_tunnel uri_no "127.0.0.1:$URI_NO" "127.0.0.1:$S_URI" client2 "$SN")" \
	"$(client_tunnel pin_ok "127.0.0.1:$PIN_OK" "127.0.0.1:$S_PIN" client1 "$SN")" \
	"$(client_tunnel pin_no "127.0.0.1:$PIN_NO" "127.0.0.1:$S_PIN" client2 "$SN")" \
	"$(client_tunnel b64_ok "127.0.0.1:$B64_OK" "127.0.0.1:$S_B64" client2 "$SN")" \
	"$(client_tunnel cpin_ok "127.0.0.1:$CPIN_OK" "127.0.0.1:$S_ANY" client1 "$SN pin_sha256 = [ \"$SERVER_HEX\" ];")" \
	"$(client_tunnel cpin_no "127.0.0.1:$CPIN_NO" "127.0.0.1:$S_ANY" client1 "$SN pin_sha256 = [ \"$CLIENT2_HEX\" ];")"
start_daemon "$T/srv.conf" "$T/srv.log"
start_daemon "$T/cli.conf" "$T/cli.log"

PEER='127\.0\.0\.1:[0-9]+'
printf 'who goes there?\n' >"$T/ping"

admitted() {	# NAME PORT
	"$TCPTOOL" -t 10 sendrecv 127.0.0.1 "$2" "$T/ping" "$T/pong-$1" >/dev/null ||
		fail "$1: sendrecv failed"
	assert_same "$T/ping" "$T/pong-$1"
	say "ok: $1 admitted"
}

refused() {	# NAME PORT LOG REGEX
	log_mark "$3"
	"$TCPTOOL" -t 5 expect-closed 127.0.0.1 "$2" >/dev/null || fail "$1: not closed"
	assert_log_since "$3" "$4"
	say "ok: $1 refused"
}

admitted dns_ok "$DNS_OK"
refused dns_no "$DNS_NO" "$T/srv.log" "notice: tunnel dns: $PEER: .*CN=client1.* is not in allow_dns\$"
admitted uri_ok "$URI_OK"
refused uri_no "$URI_NO" "$T/srv.log" "notice: tunnel uri: $PEER: .*CN=client2.* is not in allow_uri\$"
admitted pin_ok "$PIN_OK"
refused pin_no "$PIN_NO" "$T/srv.log" "notice: tunnel pin: $PEER: .*$CLIENT2_HEX.* is not in pin_sha256\$"
admitted b64_ok "$B64_OK"
admitted cpin_ok "$CPIN_OK"
refused cpin_no "$CPIN_NO" "$T/cli.log" "notice: tunnel cpin_no: $PEER: .*$SERVER_HEX.* is not in pin_sha256\$"

assert_connections "$T/count-BE_DNS" 1
assert_connections "$T/count-BE_URI" 1
assert_connections "$T/count-BE_PIN" 1
assert_connections "$T/count-BE_B64" 1
# The client role must refuse a server whose key is not pinned during the
# handshake, as it does for a bad chain or name, so that the server never
# completes it and never opens its backend connection. (The server side
# of that refused connection settles within milliseconds; allow 1 s.)
sleep 1
assert_connections "$T/count-BE_ANY" 1 \
	"client role pin_sha256 mismatch: the server role still completed the handshake"
assert_log_lacks "$T/srv.log" ": error: "
assert_log_lacks "$T/cli.log" ": error: "
say "PASS"
