#!/bin/bash
# matrix: with ktls = "on", each cipher x TLS version moves 8 MiB each way
# byte-exact through a client+server pair, the daemon says ktls=tx+rx for
# both ends, and the kernel's own counters show the sessions in kTLS.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/ktls/lib.sh"

make_pki
random_file "$T/up" $((${MATRIX_MIB:-8} * 1024 * 1024))
for v in 1.2 1.3; do
	for c in AES-128-GCM AES-256-GCM CHACHA20-POLY1305; do
		pick_ports BE SRV CLI
		start_backend "$BE" --mode echo --count-file "$T/count.$v.$c"
		BEPID=$LAST_PID
		opts="tls_versions = [ \"$v\" ]; ciphers = [ \"$c\" ];"
		write_conf "$T/s.conf" "$(server_tunnel in "127.0.0.1:$SRV" "127.0.0.1:$BE" "$opts")"
		write_conf "$T/c.conf" "$(client_tunnel out "127.0.0.1:$CLI" "127.0.0.1:$SRV" client1 "$opts")"
		start_daemon "$T/s.conf" "$T/s.$v.$c.log"
		S=$LAST_PID
		start_daemon "$T/c.conf" "$T/c.$v.$c.log"
		C=$LAST_PID
		tx=$(tls_stat TlsTxSw)
		rx=$(tls_stat TlsRxSw)
		"$TCPTOOL" -t 120 sendrecv 127.0.0.1 "$CLI" "$T/up" "$T/down" ||
			fail "TLS $v $c: transfer failed"
		assert_same "$T/up" "$T/down"
		assert_tls_stat_grew TlsTxSw "$tx" 2
		assert_tls_stat_grew TlsRxSw "$rx" 2
		assert_log_contains "$T/s.$v.$c.log" "authorized \(TLS$v $c\)"
		assert_path "$T/s.$v.$c.log" in
		assert_path "$T/c.$v.$c.log" out
		stop_daemon "$C"
		stop_daemon "$S"
		stop_pid "$BEPID"
		rm -f "$T/down"
		say "ok: TLS $v $c: ${MATRIX_MIB:-8} MiB echoed byte-exact, kTLS both ends"
	done
done
say "PASS"
