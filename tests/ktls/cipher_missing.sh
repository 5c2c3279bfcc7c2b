#!/bin/bash
# cipher_missing: the kernel has TLS but cannot load the module of the
# negotiated cipher (seen under systemd, where nothing could autoload
# gcm). TLS_TX then fails with ENOENT and installs nothing, so:
#   ktls = "auto": that connection goes on in userspace, byte-exact, with
#                  the reason logged, while an AES-GCM tunnel of the same
#                  daemon still takes the kernel path;
#   ktls = "on":   that connection is refused with the reason logged.
# Made real by pointing /proc/sys/kernel/modprobe at /bin/false before the
# first CHACHA20-POLY1305 session of this kernel: only inside the
# throw-away kTLS VM (vm-suite.sh runs it first, alone).
# ktls-vm: alone
. "${top_srcdir:-$(dirname "$0")/../..}/tests/ktls/lib.sh"

[ "$KTLS" = 1 ] || skip "needs a kernel with kTLS"
[ "${KTLS_VM_INSIDE:-}" = 1 ] ||
	skip "changes /proc/sys/kernel/modprobe: runs only inside scripts/ktls-vm"
CHACHA='rfc7539(chacha20,poly1305)'
grep -q "^name *: $CHACHA\$" /proc/crypto &&
	skip "this kernel has loaded $CHACHA already (run this test first in a fresh VM)"
# Its connections are meant to take the userspace path: not counted in
# the suite's "every connection took kTLS".
PATH_REPORT=

need_tools openssl
make_pki
pick_ports BE SRV CLI SRVA CLIA SRVON
start_backend "$BE" --mode echo --count-file "$T/count"
CH='ciphers = [ "CHACHA20-POLY1305" ];'
AES='ciphers = [ "AES-128-GCM" ];'
SSLTUNNEL_KTLS=auto write_conf "$T/auto.conf" \
	"$(server_tunnel chacha-in "127.0.0.1:$SRV" "127.0.0.1:$BE" "$CH")" \
	"$(client_tunnel chacha-out "127.0.0.1:$CLI" "127.0.0.1:$SRV" client1 "$CH")" \
	"$(server_tunnel aes-in "127.0.0.1:$SRVA" "127.0.0.1:$BE" "$AES")" \
	"$(client_tunnel aes-out "127.0.0.1:$CLIA" "127.0.0.1:$SRVA" client1 "$AES")"
SSLTUNNEL_KTLS=on write_conf "$T/on.conf" \
	"$(server_tunnel chacha-on "127.0.0.1:$SRVON" "127.0.0.1:$BE" "$CH")"
# Started while modprobe works: their start-up probe loads gcm.
start_daemon "$T/auto.conf" "$T/auto.log"
start_daemon "$T/on.conf" "$T/on.log"

MODPROBE=$(cat /proc/sys/kernel/modprobe)
trap 'rc=$?; echo "$MODPROBE" >/proc/sys/kernel/modprobe; (exit $rc); on_exit' EXIT
echo /bin/false >/proc/sys/kernel/modprobe
say "modprobe blocked (was $MODPROBE)"

random_file "$T/in" 300000
"$TCPTOOL" -t 60 sendrecv 127.0.0.1 "$CLI" "$T/in" "$T/out" ||
	fail "auto: CHACHA20-POLY1305 connection failed"
assert_same "$T/in" "$T/out"
assert_log_contains "$T/auto.log" "debug: tunnel chacha-out: [^ ]+: userspace: TLS_TX: the kernel cannot provide CHACHA20-POLY1305 \(crypto module not loadable\?\)"
assert_log_contains "$T/auto.log" "debug: tunnel chacha-in: [^ ]+: userspace: TLS_TX: the kernel cannot provide CHACHA20-POLY1305"
grep -q "^name *: $CHACHA\$" /proc/crypto && fail "$CHACHA got loaded: the test did not block it"
say "ok: auto: CHACHA20-POLY1305 without its module goes on in userspace, byte-exact, reason logged"

rm -f "$T/out"
"$TCPTOOL" -t 60 sendrecv 127.0.0.1 "$CLIA" "$T/in" "$T/out" ||
	fail "auto: AES-128-GCM connection failed"
assert_same "$T/in" "$T/out"
assert_log_contains "$T/auto.log" "debug: tunnel aes-out: [^ ]+: ktls=tx\+rx"
assert_log_contains "$T/auto.log" "debug: tunnel aes-in: [^ ]+: ktls=tx\+rx"
say "ok: auto: the AES-128-GCM tunnel of the same daemon still takes the kernel path"

timeout 30 openssl s_client -connect "127.0.0.1:$SRVON" -tls1_3 \
	-ciphersuites TLS_CHACHA20_POLY1305_SHA256 \
	-cert "$PKI/client1.pem" -key "$PKI/client1.key" -CAfile "$PKI/ca.pem" \
	</dev/null >"$T/ossl.out" 2>&1 || true
wait_until 10 grep -Eq "warning: tunnel chacha-on: [^ ]+: kernel TLS hand-off failed: TLS_TX: the kernel cannot provide CHACHA20-POLY1305" "$T/on.log" ||
	fail "on: no 'kernel TLS hand-off failed: TLS_TX: the kernel cannot provide CHACHA20-POLY1305' in the log"
assert_log_lacks "$T/on.log" "tunnel chacha-on: [^ ]+: userspace: "
say "ok: on: the CHACHA20-POLY1305 connection is refused with the reason"
say "PASS"
