#!/bin/bash
# secrets: files of secrets that others may read are warned about, and no
# secret reaches a log line at any level.
#  1. -t warns (stderr, exit 0) about a key_file of mode 0644, naming the
#     file and its mode; the configuration is still valid
#  2. the same key file in two tunnels is warned about once; a second
#     file whose path starts with the first one's is warned about too
#  3. a key_file of mode 0600 gets no warning from -t
#  4. -t warns about a password_file and a proxy_auth_file of mode 0644
#  5. at start, the warning is in the log (log_target file) and on the
#     starting command's stderr; the daemon serves (a warning, not a
#     refusal), byte-exact
#  6. at a reload after chmod 640, the warning is logged again
#  7. every role at log_level debug: client and server, WebSocket client
#     and server with passwords, CONNECT gateway with a password, the
#     console (`ssltunneld connect --credentials`), an http_proxy with
#     user:password, relay + listener + sender with SAS keys; bytes
#     through each byte-exact
#  8. then no log and no output of any of them holds a line of a private
#     key's PEM body, a password, "user:password", its base64 (Basic),
#     a SAS key, a token or its signature
#  9. a key_file only readable by the group the workers run as (user
#     and group set), or owned by root and only readable by a group of
#     its own (the Debian package's root:ssltunnel 0640), gets no
#     warning; readable by root's group, or by others, it does
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
	  cert_file = "$PKI/server.pem"; key_file = "${3:-$T/loose.key}"; ca_file = "$PKI/ca.pem"; }
EOC
}
write_conf "$T/loose.conf" "$(loose_server in "$SRV")" "$(loose_server in2 "$SRV2")"
# A path that starts like another is another file, warned about too.
cp "$T/loose.key" "$T/loose.key2"
chmod 640 "$T/loose.key2"
write_conf "$T/loose2.conf" "$(loose_server in "$SRV")" "$(loose_server in2 "$SRV2" "$T/loose.key2")"
t_check "$T/loose2.conf"
grep -q "tunnel in2: key_file $T/loose\.key2 has mode 0640: " "$T/t.err" ||
	fail "-t did not warn about loose.key2 beside loose.key: $(cat "$T/t.err")"
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

# --- 7, 8: every role at debug, then no secret in any log -------------------
rand_pw() {
	head -c 32 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9' | head -c 20
}
PW=$(rand_pw) PXPW=$(rand_pw)
printf 'simon:%s\n' "$(printf '%s\n' "$PW" | mkpasswd -s -m yescrypt)" >"$T/users"
printf 'simon:%s\n' "$PW" >"$T/creds"
chmod 600 "$T/users" "$T/creds"
head -c 32 /dev/urandom | base64 >"$T/listen.key"
head -c 32 /dev/urandom | base64 >"$T/send.key"
chmod 600 "$T/listen.key" "$T/send.key"
cat >"$T/tinyproxy.conf" <<EOC
User root
Group root
Port $TPA
Listen 127.0.0.1
Timeout 60
LogFile "$T/tinyproxy.txt"
LogLevel Info
PidFile "$T/tinyproxy.pid"
MaxClients 20
Allow 127.0.0.1
BasicAuth tunneluser $PXPW
EOC
timeout "$TEST_TIMEOUT" tinyproxy -d -c "$T/tinyproxy.conf" >"$T/tinyproxy.stdout" 2>&1 &
track $!
wait_port "$TPA" --pid "$LAST_PID" || fail "tinyproxy did not start"

pwsrv() {	# pwsrv NAME LISTEN CONNECT EXTRA: client_auth = "password"
	cat <<EOC
	{ name = "$1"; role = "server"; listen = "$2"; connect = "$3";
	  cert_file = "$PKI/server.pem"; key_file = "$PKI/server.key";
	  client_auth = "password"; password_file = "$T/users"; $4 }
EOC
}
credcli() {	# credcli NAME LISTEN CONNECT EXTRA: credentials_file, no certificate
	cat <<EOC
	{ name = "$1"; role = "client"; listen = "$2"; connect = "$3";
	  ca_file = "$PKI/ca.pem"; server_name = "localhost";
	  credentials_file = "$T/creds"; $4 }
EOC
}
acl="acl = ( { user = [ \"simon\" ]; allow = [ \"127.0.0.1:$BE\" ]; } );"
write_conf "$T/d-srv.conf" \
	"$(server_tunnel tls-in "127.0.0.1:$SRV" "127.0.0.1:$BE")" \
	"$(pwsrv ws-in "127.0.0.1:$WS" "127.0.0.1:$BE" 'transport = "websocket";')" \
	"$(pwsrv gw "127.0.0.1:$GW" dynamic "$acl")" \
	"$(pwsrv console "127.0.0.1:$SRV2" dynamic "transport = \"websocket\"; $acl")"
write_conf "$T/d-cli.conf" \
	"$(client_tunnel tls-out "127.0.0.1:$CLI" "127.0.0.1:$SRV" client1)" \
	"$(credcli ws-out "127.0.0.1:$CWS" "127.0.0.1:$WS" 'transport = "websocket";')" \
	"$(credcli gw-out "127.0.0.1:$CGW" "127.0.0.1:$GW" "destination = \"127.0.0.1:$BE\";")" \
	"$(client_tunnel px-out "127.0.0.1:$CPX" "127.0.0.1:$SRV" client1 "server_name = \"localhost\"; http_proxy = \"http://tunneluser:$PXPW@127.0.0.1:$TPA\";")"
write_conf "$T/d-relay.conf" "	{ name = \"relay\"; role = \"relay\"; listen = \"127.0.0.1:$RLY\";
	  cert_file = \"$PKI/server.pem\"; key_file = \"$PKI/server.key\";
	  relay_paths = ( { path = \"db\"; keys = (
	    { name = \"listen-db\"; key_file = \"$T/listen.key\"; rights = [ \"listen\" ]; },
	    { name = \"send-db\"; key_file = \"$T/send.key\"; rights = [ \"send\" ]; } ); } ); }"
write_conf "$T/d-listener.conf" "	{ name = \"l\"; role = \"listener\"; relay = \"wss://127.0.0.1:$RLY/\$hc/db\";
	  relay_key_name = \"listen-db\"; relay_key_file = \"$T/listen.key\";
	  ca_file = \"$PKI/ca.pem\"; connect = \"127.0.0.1:$BE\"; }"
write_conf "$T/d-sender.conf" "	{ name = \"s\"; role = \"client\"; transport = \"relay\"; listen = \"127.0.0.1:$SND\";
	  connect = \"wss://127.0.0.1:$RLY/\$hc/db\";
	  relay_key_name = \"send-db\"; relay_key_file = \"$T/send.key\"; ca_file = \"$PKI/ca.pem\"; }"
for c in srv cli relay listener sender; do
	"$SSLTUNNELD" -t -c "$T/d-$c.conf" >"$T/d-t-$c.out" 2>&1 ||
		fail "-t -c d-$c.conf: $(cat "$T/d-t-$c.out")"
done
start_daemon "$T/d-srv.conf" "$T/d-srv.log"
start_daemon "$T/d-cli.conf" "$T/d-cli.log"
start_daemon "$T/d-relay.conf" "$T/d-relay.log"
"$SSLTUNNELD" -f -c "$T/d-listener.conf" >"$T/d-listener.out" 2>"$T/d-listener.log" &
track $!
start_daemon "$T/d-sender.conf" "$T/d-sender.log"
wait_until 15 grep -q 'info: tunnel relay: .*: listener on db (key listen-db)' "$T/d-relay.log" ||
	fail "the listener's control channel did not come up"

for p in "client/server $CLI" "websocket+password $CWS" "CONNECT+password $CGW" \
	"http_proxy+password $CPX" "relay $SND"; do
	set -- $p
	"$TCPTOOL" -t 30 sendrecv 127.0.0.1 "$2" "$T/in" "$T/out" || fail "$1: sendrecv failed"
	assert_same "$T/in" "$T/out"
	rm -f "$T/out"
done
timeout 120 "$PY" "$top_srcdir/tests/integration/console.py" --pipe \
	--backend "$BE" --listen "$CON" -- "$SSLTUNNELD" connect "localhost:$SRV2" \
	--ca "$PKI/ca.pem" --credentials "$T/creds" --workers 1 >"$T/d-console.out" 2>&1 ||
	fail "console: $(cat "$T/d-console.out")"
assert_log_contains "$T/d-srv.log" "tunnel ws-in: [^ ]+: user=simon authorized"
assert_log_contains "$T/d-srv.log" "tunnel gw: [^ ]+: user=simon -> 127.0.0.1:$BE"
assert_log_contains "$T/d-srv.log" "tunnel console: [^ ]+: user=simon"
grep -q "Established connection" "$T/tinyproxy.txt" || fail "px-out did not go through tinyproxy"
for f in "$T"/d-*.log; do
	grep -q ": debug: " "$f" || fail "${f##*/} has no debug line: is it at log_level debug?"
done
say "ok: every role at debug: client/server, WebSocket and CONNECT with passwords, the console, http_proxy with a password, relay; byte-exact"

LOGS=("$T"/d-*.log "$T"/d-*.out)
SECRET_LOGS="${LOGS[*]}" assert_no_secrets "$PKI/server.key" "$PKI/client1.key" \
	"$T/listen.key" "$T/send.key"
for secret in "$PW" "$PXPW" "simon:$PW" "tunneluser:$PXPW" \
	"$(printf 'simon:%s' "$PW" | base64 -w0)" \
	"$(printf 'tunneluser:%s' "$PXPW" | base64 -w0)" \
	"$(grep -v '^\$' "$T/users" | cut -d: -f2-)"; do
	secret_absent "a password, user:password, its base64 or its hash" "$secret" "${LOGS[@]}"
done
say "ok: no log or output holds a private key, a password, user:password, Basic base64, a hash, a SAS key or a token (${#LOGS[@]} files)"
# --- 9: the workers' own group -------------------------------------------
cp "$PKI/server.key" "$T/group.key"
chgrp nogroup "$T/group.key"
chmod 640 "$T/group.key"
DAEMON_EXTRA='user = "nobody"; group = "nogroup";' \
	write_conf "$T/group.conf" "$(loose_server in "$SRV" "$T/group.key")"
t_check "$T/group.conf"
if grep -q "group\.key has mode" "$T/t.err"; then
	fail "-t warned about a key readable by the workers' own group: $(cat "$T/t.err")"
fi
chmod 644 "$T/group.key"
t_check "$T/group.conf"
grep -q "key_file $T/group\.key has mode 0644: " "$T/t.err" ||
	fail "-t did not warn about the workers' key readable by others: $(cat "$T/t.err")"
chmod 640 "$T/group.key"
chgrp root "$T/group.key"
t_check "$T/group.conf"
grep -q "key_file $T/group\.key has mode 0640: " "$T/t.err" ||
	fail "-t did not warn about a key readable by root's group: $(cat "$T/t.err")"
write_conf "$T/group2.conf" "$(loose_server in "$SRV" "$T/group.key")"
chgrp nogroup "$T/group.key"
t_check "$T/group2.conf"
if grep -q "group\.key has mode" "$T/t.err"; then
	fail "-t warned about root's key shared read-only with a group of its own: $(cat "$T/t.err")"
fi
say "ok: the workers' own group, or a group root shares its key with, may read it; root's group or others get the warning"
say "PASS"
