#!/bin/bash
# tls_hostile: hostile TLS peers against a server tunnel whose one worker
# also carries a good transfer. For each: the daemon refuses or closes it
# with the reason at notice level, the backend gets no byte from it that
# was not a good record, and the good transfer (paced over the whole
# attack, through our client role) comes back byte-exact.
#  1. garbage bytes (not TLS)
#  2. a plain HTTP request to the TLS port
#  3. the first half of a ClientHello, silence, then close
#  4. the first half of a ClientHello, then silence past handshake_timeout
#  5. a handshake record longer than TLS allows (2^14 + 512 bytes)
#  6. after a good handshake and a good record, one whose ciphertext has a
#     byte flipped: bad_record_mac, the good record only reaches the backend
#  7. after a good handshake, an application-data record longer than TLS
#     allows (2^14 + 512)
#  8. a TLS 1.2 client that asks to renegotiate (openssl s_client "R"):
#     refused with a no_renegotiation alert, the connection closed, the
#     data before it delivered, nothing after
#  9. a flood of renegotiating clients (10 at once)
# 10. a TLS 1.3 KeyUpdate flood (openssl s_client "K", 40 at 20 a second):
#     closed once the limit (8 a second) is passed; a few KeyUpdates
#     are followed
# 11. the worker that took all this is the one that started, and still
#     serves
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

need_tools openssl
make_pki
pick_ports BE HBE SRV CLI
start_backend "$BE" --mode echo --count-file "$T/count"
start_backend "$HBE" --mode sink-source --after-eof --sink "$T/hsink" --count-file "$T/hcount"
write_conf "$T/srv.conf" \
	"$(server_tunnel in "127.0.0.1:$SRV" "127.0.0.1:$HBE" 'handshake_timeout = 3;')"
sed -i 's/workers = 2;/workers = 1;/' "$T/srv.conf"
# The good transfer's own tunnel on the same worker, to the echo backend.
pick_ports GSRV
sed -i "s|^tunnels = (|tunnels = (\n$(server_tunnel good "127.0.0.1:$GSRV" "127.0.0.1:$BE" | tr '\n' ' ' | sed 's/[|&]/\\&/g'),|" "$T/srv.conf"
write_conf "$T/cli.conf" "$(client_tunnel ok "127.0.0.1:$CLI" "127.0.0.1:$GSRV" client1 'server_name = "localhost";')"
start_daemon "$T/srv.conf" "$T/srv.log"
MASTER=$LAST_PID
WORKER=$(pgrep -P "$MASTER")
start_daemon "$T/cli.conf" "$T/cli.log"
PEER='127\.0\.0\.1:[0-9]+'
TP=("$PY" "$top_srcdir/tests/scenario/tlspeer.py")
CERT=(--cert "$PKI/client1.pem" --key "$PKI/client1.key" --ca "$PKI/ca.pem")

# good_start SECS / good_check NAME: the paced good transfer around an attack.
good_start() {
	timeout 60 "${TP[@]}" paced "$CLI" "$1" >"$T/good.out" 2>&1 &
	GOOD=$!
	track "$GOOD"
	sleep 0.3
}
good_check() {
	wait "$GOOD" || fail "$1: the good transfer beside it failed: $(cat "$T/good.out")"
	say "  ($1) $(cat "$T/good.out")"
}
# no_plaintext NAME: the hostile backend never got the marker.
no_plaintext() {
	if cat "$T"/hsink.* 2>/dev/null | grep -q HOSTILE-PLAINTEXT; then
		fail "$1: the backend got plaintext from the hostile peer"
	fi
}
hostile() {	# hostile NAME REGEX TLSPEER-ARGS...: run it, expect REGEX logged
	local name=$1 re=$2
	shift 2
	log_mark "$T/srv.log"
	good_start 2
	timeout 30 "${TP[@]}" "$@" >"$T/$name.out" 2>&1 || fail "$name: $(cat "$T/$name.out")"
	assert_log_since "$T/srv.log" "notice: tunnel in: $PEER: $re"
	good_check "$name"
	no_plaintext "$name"
	say "ok: $name: $(cat "$T/$name.out" | tail -n1); logged: $(tail -n "+$((LOG_MARK + 1))" "$T/srv.log" | grep -E -m1 "notice: tunnel in: " | sed 's/.*tunnel in: [^ ]*: //')"
}

hostile garbage "An unexpected TLS packet was received\.\$" garbage "$SRV"
hostile http "An unexpected TLS packet was received\.\$" http "$SRV"
hostile truncated "(peer closed the connection during the handshake|Error decoding the received TLS packet\.)\$" truncated "$SRV" 1
hostile truncated-timeout "handshake timed out after 3 s\$" truncated "$SRV" 5
hostile oversized "A TLS record packet with invalid length was received\.\$" oversized "$SRV"
hostile flip "relay failed after [0-9]+ ms: a record from the TLS peer failed authentication \(bad_record_mac: corrupted or forged\): Decryption has failed\.\$" \
	after "$SRV" flip "${CERT[@]}"
grep -q "the daemon's alert: .*BAD_RECORD_MAC" "$T/flip.out" || fail "flip: the daemon did not send bad_record_mac: $(cat "$T/flip.out")"
hostile flip12 "relay failed after [0-9]+ ms: a record from the TLS peer failed authentication \(bad_record_mac: corrupted or forged\): Decryption has failed\.\$" \
	after "$SRV" flip "${CERT[@]}" --tls 1.2
grep -q "the daemon's alert: .*BAD_RECORD_MAC" "$T/flip12.out" || fail "flip12: the daemon did not send bad_record_mac: $(cat "$T/flip12.out")"
hostile oversized-data "relay failed after [0-9]+ ms: receiving from TLS peer: A TLS record packet with invalid length was received\.\$" \
	after "$SRV" oversized "${CERT[@]}"
grep -q "the daemon's alert: .*RECORD_OVERFLOW" "$T/oversized-data.out" || fail "oversized-data: the daemon did not send record_overflow: $(cat "$T/oversized-data.out")"
[ "$(cat "$T"/hsink.* | grep -c GOOD-RECORD)" = 3 ] || fail "the good records before the bad ones did not all reach the backend"
say "ok: the good records before the bad ones reached the backend, nothing after them"

# s_client_cmds NAME VERSION SCRIPT: openssl s_client as client1 fed the
# lines SCRIPT prints (its command letters: R renegotiate, K KeyUpdate).
s_client_cmds() {
	local name=$1 ver=$2
	shift 2
	"$@" | timeout 30 openssl s_client -connect "127.0.0.1:$SRV" "$ver" \
		-cert "$PKI/client1.pem" -key "$PKI/client1.key" -CAfile "$PKI/ca.pem" \
		>"$T/$name.out" 2>&1
}
# s_client takes a command only when it reads the letter alone: the
# pauses keep the lines apart (and after the handshake) on a busy machine.
reneg_script() {
	sleep 1.5; printf 'before-reneg-%s\n' "$1"; sleep 1.5; printf 'R\n'; sleep 1.5
	printf 'HOSTILE-PLAINTEXT after renegotiation\n'; sleep 1
}
# 8.
log_mark "$T/srv.log"
good_start 5
s_client_cmds reneg -tls1_2 reneg_script 0
grep -q RENEGOTIATING "$T/reneg.out" || fail "s_client did not renegotiate: $(tail -n 5 "$T/reneg.out")"
grep -q "no renegotiation" "$T/reneg.out" || fail "s_client got no no_renegotiation alert: $(tail -n 5 "$T/reneg.out")"
assert_log_since "$T/srv.log" "notice: tunnel in: $PEER: relay failed after [0-9]+ ms: peer asked to renegotiate \(TLS 1\.2\): refused, renegotiation is not supported\$"
good_check reneg
no_plaintext reneg
cat "$T"/hsink.* | grep -q before-reneg-0 || fail "reneg: the data before the renegotiation did not reach the backend"
say "ok: a TLS 1.2 renegotiation is refused and the connection closed; data before it delivered"

# 9.
log_mark "$T/srv.log"
good_start 6
pids=""
for i in $(seq 10); do
	s_client_cmds "reneg$i" -tls1_2 reneg_script "$i" &
	pids="$pids $!"
	track "$!"
done
for p in $pids; do
	wait "$p"
done
# Every client that renegotiated was refused; on a loaded machine s_client
# may have read two lines at once and sent its "R" as data: allow 2 such.
NRENEG=$(cat "$T"/reneg[0-9]*.out | grep -c RENEGOTIATING)
[ "$NRENEG" -ge 8 ] || fail "reneg flood: only $NRENEG of 10 s_clients renegotiated"
refusals() {
	tail -n "+$((LOG_MARK + 1))" "$T/srv.log" | grep -c "peer asked to renegotiate"
}
wait_until 10 eval '[ "$(refusals)" -ge "$NRENEG" ]' ||
	fail "reneg flood: $(refusals) of $NRENEG renegotiations refused and logged"
good_check reneg-flood
no_plaintext reneg-flood
say "ok: 10 renegotiating clients at once: all $NRENEG that renegotiated refused and logged"

# 10.
ku_script() {	# ku_script N GAP: N KeyUpdates GAP s apart, data around them
	sleep 1.5; printf 'before-ku-%s\n' "$1"; sleep 1
	for i in $(seq "$1"); do printf 'K\n'; sleep "$2"; done
	printf 'after-ku-%s\n' "$1"; sleep 1
}
log_mark "$T/srv.log"
good_start 6
s_client_cmds ku-flood -tls1_3 ku_script 40 0.05
[ "$(grep -c KEYUPDATE "$T/ku-flood.out")" -ge 9 ] || fail "s_client sent $(grep -c KEYUPDATE "$T/ku-flood.out") KeyUpdates, expected 40"
assert_log_since "$T/srv.log" "notice: tunnel in: $PEER: relay failed after [0-9]+ ms: peer sent too many post-handshake messages \(KeyUpdate flood\? 8 a second are taken\): "
good_check ku-flood
cat "$T"/hsink.* | grep -q after-ku-40 && fail "ku-flood: data after the flood reached the backend"
cat "$T"/hsink.* | grep -q before-ku-40 || fail "ku-flood: data before the flood did not reach the backend"
s_client_cmds ku-few -tls1_3 ku_script 3 0.4
cat "$T"/hsink.* | grep -q after-ku-3 || fail "3 KeyUpdates 0.4 s apart: the data after them was lost: $(tail -n 5 "$T/ku-few.out")"
say "ok: a KeyUpdate flood is closed with the reason; 3 KeyUpdates are followed"

# 11.
[ "$(pgrep -P "$MASTER")" = "$WORKER" ] || fail "the worker changed: $WORKER then $(pgrep -P "$MASTER" | tr '\n' ' ')"
assert_log_lacks "$T/srv.log" "(worker [0-9]+ .*(killed|exited)|error: )"
good_start 1
good_check final
say "ok: the one worker took it all and still serves"
stop_daemon "$MASTER"
say "PASS"
