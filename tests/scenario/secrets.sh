#!/bin/bash
# secrets: files of secrets that others may read are warned about, and no
# secret reaches a log line at any level.
#  1. -t warns (stderr, exit 0) about a key_file of mode 0644, naming the
#     file and its mode; the configuration is still valid
#  2. the same key file in two tunnels is warned about once
#  3. a key_file of mode 0600 gets no warning from -t
#  4. -t warns about a password_file and a proxy_auth_file of mode 0644
#  5. at start, the warning is in the log (log_target file) and on the
#     starting command's stderr; the daemon serves (a warning, not a
#     refusal), byte-exact
#  6. at a reload after chmod 640, the warning is logged again
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

need_tools mkpasswd tinyproxy base64
make_pki
pick_ports BE SRV SRV2 WS GW CLI CWS CGW CPX TPA RLY LST SND CON
random_file "$T/in" 300000
start_backend "$BE" --mode echo --count-file "$T/count"

# t_check CONF: -t's stdout to t.out, stderr to t.err; must exit 0.
t_check() {
	"$SSLTUNNELD" -t -c "$1" >"$T/t.out" 2>"$T/t.err" ||
		fail "-t -c ${1##*/} exited $?: $(cat "$T/t.err")"
	grep -q "configuration is valid" "$T/t.out" || fail "-t said: $(cat "$T/t.out")"
}

# --- 1..6: modes -------------------------------------------------------------
cp "$PKI/server.key" "$T/loose.key"
chmod 644 "$T/loose.key"
loose_server() {
	cat <<EOC
	{ name = "$1"; role = "server"; listen = "127.0.0.1:$2"; connect = "127.0.0.1:$BE";
	  cert_file = "$PKI/server.pem"; key_file = "$T/loose.key"; ca_file = "$PKI/ca.pem"; }
EOC
}
write_conf "$T/loose.conf" "$(loose_server in "$SRV")" "$(loose_server in2 "$SRV2")"
t_check "$T/loose.conf"
grep -Eq "^ssltunneld: warning: tunnel in: key_file $T/loose\.key has mode 0644: group or others have access to a private key \(chmod 600 $T/loose\.key\)\$" "$T/t.err" ||
	fail "-t did not warn about the 0644 key: $(cat "$T/t.err")"
say "ok: -t warns about a 0644 key_file and still finds the config valid"
[ "$(grep -c 'loose\.key has mode' "$T/t.err")" = 1 ] || fail "the shared key warned about more than once: $(cat "$T/t.err")"
say "ok: a key shared by two tunnels is warned about once"

write_conf "$T/tight.conf" "$(server_tunnel in "127.0.0.1:$SRV" "127.0.0.1:$BE")"
[ "$(stat -c %a "$PKI/server.key")" = 600 ] || fail "certtool made a key of mode $(stat -c %a "$PKI/server.key")"
t_check "$T/tight.conf"
[ -s "$T/t.err" ] && fail "-t warned about a 0600 key: $(cat "$T/t.err")"
say "ok: a 0600 key_file gets no warning"

H=$(printf 'x\n' | mkpasswd -s -m yescrypt) || fail "mkpasswd"
printf 'simon:%s\n' "$H" >"$T/users644"
printf 'u:p\n' >"$T/proxy644"
chmod 644 "$T/users644" "$T/proxy644"
write_conf "$T/files.conf" \
	"$(server_tunnel pw "127.0.0.1:$SRV" "127.0.0.1:$BE" "transport = \"websocket\"; client_auth = \"password\"; password_file = \"$T/users644\";")" \
	"$(client_tunnel px "127.0.0.1:$CLI" "127.0.0.1:$SRV" client1 "http_proxy = \"http://127.0.0.1:$TPA\"; proxy_auth_file = \"$T/proxy644\";")"
t_check "$T/files.conf"
grep -q "warning: tunnel pw: password_file $T/users644 has mode 0644: group or others have access to password hashes" "$T/t.err" ||
	fail "no warning about the 0644 password_file: $(cat "$T/t.err")"
grep -q "warning: tunnel px: proxy_auth_file $T/proxy644 has mode 0644: group or others have access to a password" "$T/t.err" ||
	fail "no warning about the 0644 proxy_auth_file: $(cat "$T/t.err")"
say "ok: -t warns about a 0644 password_file and proxy_auth_file"

sed 's|log_target = "stderr";|log_target = "'"$T"'/loose-file.log";|' "$T/loose.conf" >"$T/loose-file.conf"
# start_daemon reads the workers' start from stderr: here they log to a file.
"$SSLTUNNELD" -f -c "$T/loose-file.conf" >"$T/loose-start.out" 2>"$T/loose-start.err" &
LOOSE=$!
track "$LOOSE"
wait_port "$SRV" "$SRV2" --pid "$LOOSE" || fail "the daemon with a 0644 key did not start: $(cat "$T/loose-start.err")"
wait_until 10 eval '[ "$(grep -c "worker [0-9]* started" "$T/loose-file.log")" = 2 ]' ||
	fail "the daemon with a 0644 key: its workers did not start"
assert_log_contains "$T/loose-file.log" "ssltunneld\[$LOOSE\]: warning: tunnel in: key_file $T/loose\.key has mode 0644: "
grep -q "^ssltunneld: warning: tunnel in: key_file $T/loose\.key has mode 0644" "$T/loose-start.err" ||
	fail "the starting command's stderr has no warning: $(cat "$T/loose-start.err")"
write_conf "$T/loose-cli.conf" "$(client_tunnel c "127.0.0.1:$CLI" "127.0.0.1:$SRV" client1)"
start_daemon "$T/loose-cli.conf" "$T/loose-cli.log"
LOOSECLI=$LAST_PID
"$TCPTOOL" -t 20 sendrecv 127.0.0.1 "$CLI" "$T/in" "$T/out" || fail "the daemon with a 0644 key does not serve"
assert_same "$T/in" "$T/out"
rm -f "$T/out"
say "ok: at start the warning is logged and on stderr; the daemon serves"

chmod 640 "$T/loose.key"
log_mark "$T/loose-file.log"
kill -HUP "$LOOSE"
assert_log_since "$T/loose-file.log" "warning: tunnel in: key_file $T/loose\.key has mode 0640: " 10
assert_log_since "$T/loose-file.log" "notice: configuration reloaded: generation 2 " 10
say "ok: a reload warns again (mode 0640)"
stop_daemon "$LOOSECLI"
stop_daemon "$LOOSE"
say "PASS"
