#!/bin/bash
# ctl: ssltunnelctl against a running daemon's control socket: add a
# tunnel through a configured client tunnel (which logs in with a
# password), bytes through it byte-exact, list it with its counters,
# survive a SIGHUP reload and a `reload` command, close it; bad commands
# change nothing; a user outside the socket's group is refused, by the
# file's mode and, when the mode is opened up, by the daemon's
# SO_PEERCRED check (logged).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
need_tools mkpasswd setpriv

CTL=$top_builddir/ctl/ssltunnelctl
make_pki
pick_ports BE SRV CLI L1 L2
start_backend "$BE" --mode echo
printf 'ops:%s\n' "$(printf 'pw-ops' | mkpasswd -m sha-512 -s)" >"$T/users"
printf 'ops:pw-ops\n' >"$T/creds"
chmod 600 "$T/creds"
LOG_LEVEL=info write_conf "$T/s.conf" \
	"$(server_tunnel gw "127.0.0.1:$SRV" dynamic "transport = \"websocket\";
	  client_auth = \"password\"; password_file = \"$T/users\";
	  acl = ( { user = [ \"ops\" ]; allow = [ \"127.0.0.1:$BE\" ]; } );")"
start_daemon "$T/s.conf" "$T/s.log"
SOCK=$T/run/control
client_conf() {
	LOG_LEVEL=info DAEMON_EXTRA="control_socket = \"$SOCK\";" write_conf "$T/c.conf" \
	"{ name = \"out\"; role = \"client\"; listen = \"127.0.0.1:$CLI\";
	   connect = \"localhost:$SRV\"; transport = \"websocket\";
	   destination = \"127.0.0.1:$BE\"; ca_file = \"$PKI/ca.pem\";
	   credentials_file = \"$T/creds\"; $1 }"
}
client_conf ""
start_daemon "$T/c.conf" "$T/c.log"
CPID=$LAST_PID
[ -S "$SOCK" ] || fail "no control socket at $SOCK"
[ "$(stat -c %a "$SOCK")" = 660 ] || fail "control socket mode $(stat -c %a "$SOCK"), expected 660"

ctl() { timeout 40 "$CTL" -s "$SOCK" "$@"; }
through() {	# through PORT BYTES: BYTES to the echo backend and back
	random_file "$T/up" "$2"
	"$TCPTOOL" -t 30 sendrecv 127.0.0.1 "$1" "$T/up" "$T/down" >/dev/null ||
		fail "tcptool through port $1 failed"
	assert_same "$T/up" "$T/down"
}

# 1. Add a tunnel; bytes through it; list.
out=$(ctl tunnel add "127.0.0.1:$L1" "127.0.0.1:$BE" --via out) || fail "tunnel add: $out"
[ "$out" = "Tunnel created with id: 1" ] || fail "tunnel add said: $out"
wait_port "$L1" --pid "$CPID" || fail "nothing listens on $L1 after tunnel add"
through "$L1" 300000
out=$(ctl tunnels) || fail "tunnels: $out"
grep -Eq "^1 +127\.0\.0\.1:$L1 +127\.0\.0\.1:$BE +out +[0-9]+ +1 +300000 +300000\$" <<<"$out" ||
	fail "tunnels does not show tunnel 1 with 1 connection and 300000 bytes each way: $out"
grep -Eq "^out +127\.0\.0\.1:$CLI " <<<"$out" || fail "tunnels does not show the configured tunnel: $out"
assert_log_contains "$T/c.log" "control: connection from uid $(id -u)"
assert_log_contains "$T/c.log" "tunnel 1 added: listening on 127.0.0.1:$L1"
say "ok: tunnel add, bytes through it, tunnels lists it with its counters"

# 2. A bad command gets one line and changes nothing.
for bad in "tunnel add 99999 x" "tunnel add $L2 127.0.0.1:$BE --via nope" \
	"tunnel add $L2 127.0.0.1:$BE --via" "tunnel close 5" "frobnicate" \
	"tunnel add 127.0.0.1:$CLI 127.0.0.1:$BE"; do
	# shellcheck disable=SC2086
	out=$(ctl $bad 2>&1) && fail "\"$bad\" succeeded: $out"
	[ "$(wc -l <<<"$out")" -eq 1 ] || fail "\"$bad\": expected one line, got: $out"
	grep -q '^ssltunnelctl: ' <<<"$out" || fail "\"$bad\": $out"
done
[ "$(ctl tunnels | wc -l)" -eq 3 ] || fail "bad commands changed the tunnels: $(ctl tunnels)"
say "ok: bad commands get one error line each and change nothing"

# 3. Reloads: SIGHUP, and the reload command; the tunnel stays, served
#    by the new generation's workers, and its counters carry on.
log_mark "$T/c.log"
kill -HUP "$CPID"
assert_log_since "$T/c.log" "configuration reloaded: generation 2" 10
out=$(ctl reload) || fail "reload: $out"
grep -q "configuration reloaded: generation 3" <<<"$out" || fail "reload said: $out"
wait_until 10 eval "[ \$(pgrep -P $CPID | wc -l) -eq 2 ]" || fail "workers after reload"
through "$L1" 200000
out=$(ctl tunnels)
grep -Eq "^1 +127\.0\.0\.1:$L1 .* 2 +500000 +500000\$" <<<"$out" ||
	fail "after two reloads tunnel 1 should count 2 connections, 500000 bytes each way: $out"
say "ok: the tunnel survives SIGHUP and reload, its counters carry on"

# 4. A reload that drops the via tunnel closes the runtime tunnel.
out=$(ctl tunnel add "$L2" "127.0.0.1:$BE") || fail "tunnel add without --via: $out"
[ "$out" = "Tunnel created with id: 2" ] || fail "second tunnel: $out"
wait_port "$L2" --pid "$CPID" || fail "nothing listens on $L2"
through "$L2" 1000
out=$(ctl tunnel close 1) || fail "close: $out"
[ "$out" = "Tunnel 1 closed." ] || fail "close said: $out"
wait_until 10 eval "! \"$TCPTOOL\" -t 1 listening $L1 >/dev/null 2>&1" ||
	fail "port $L1 still accepts after close"
say "ok: tunnel close stops its listener"

# 4b. ssltunnelctl console, scripted: the console's own words against the
#     daemon, one connection for the session.
out=$(printf 'list\ntunnel %s 127.0.0.1:%s\nclose 3\nbogus\nexit\n' "$L1" "$BE" |
	timeout 40 "$CTL" -s "$SOCK" console 2>&1) || fail "ssltunnelctl console: $out"
grep -Eq "^2 +127\.0\.0\.1:$L2 " <<<"$out" || fail "console list: $out"
grep -qx "Tunnel created with id: 3" <<<"$out" || fail "console tunnel: $out"
grep -qx "Tunnel 3 closed." <<<"$out" || fail "console close: $out"
grep -q "^Error: unknown command \"bogus\"" <<<"$out" || fail "console bogus: $out"
say "ok: ssltunnelctl console: list, tunnel, close, an unknown command"

# 5. Who may use the socket: not a user outside its group (the mode says
#    no), nor, with the mode opened up, by the daemon's own check.
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$CTL" -s "$SOCK" tunnels 2>&1) &&
	fail "uid 65534 used the control socket: $out"
grep -q "Permission denied" <<<"$out" || fail "expected EACCES for uid 65534: $out"
chmod o+x "$T"
chmod 0777 "$T/run"
chmod 0666 "$SOCK"
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$CTL" -s "$SOCK" tunnels 2>&1) &&
	fail "uid 65534 used the opened-up control socket: $out"
grep -q "not allowed" <<<"$out" || fail "expected the daemon to refuse uid 65534: $out"
assert_log_contains "$T/c.log" "control: refused uid 65534"
chmod 0660 "$SOCK"
say "ok: a user outside the group is refused by the mode and by SO_PEERCRED, logged"

# 6. The runtime tunnel ends with the daemon; the socket file goes.
client_conf ""
sed -i "s/name = \"out\"/name = \"renamed\"/" "$T/c.conf"
log_mark "$T/c.log"
kill -HUP "$CPID"
assert_log_since "$T/c.log" "runtime tunnel 2 \(127\.0\.0\.1:$L2 -> 127\.0\.0\.1:$BE\) closed by the reload: tunnel out is not in the configuration any more" 10
stop_daemon "$CPID"
[ -e "$SOCK" ] && fail "the control socket outlived the daemon"
grep -q "pw-ops" "$T/c.log" "$T/s.log" && fail "the password is in a log"
say "ok: a reload without the via tunnel closes its runtime tunnels; the socket goes with the daemon"
stop_daemon "$(pgrep -f "ssltunneld -f -c $T/s.conf" | head -n 1)"
