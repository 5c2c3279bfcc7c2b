#!/bin/bash
# console: node-websocket-tunnel's console session end to end against a
# ssltunneld server that keeps yescrypt hashes: `ssltunneld connect`
# through a pseudo-terminal (banner, Username/Password without echo, a
# wrong password refused, the right one taken, `tunnel`, bytes through it
# byte-exact, list, close, bad commands, exit), then the same scripted
# through pipes with --credentials; the server's log names the user and
# the acl's verdict, and never the password.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
need_tools mkpasswd

make_pki
pick_ports BE SRV L1 L2
start_backend "$BE" --mode echo
PASS='c0rrect horse'
printf 'simon:%s\n' "$(printf '%s' "$PASS" | mkpasswd -m yescrypt -s)" >"$T/users"
LOG_LEVEL=info write_conf "$T/s.conf" \
	"$(server_tunnel gw "127.0.0.1:$SRV" dynamic "transport = \"websocket\";
	  client_auth = \"password\"; password_file = \"$T/users\";
	  acl = ( { user = [ \"simon\" ]; allow = [ \"127.0.0.1:$BE\" ]; } );")"
start_daemon "$T/s.conf" "$T/s.log"

# 1. A person at a terminal.
timeout 120 "$PY" "$top_srcdir/tests/integration/console.py" --pty \
	--backend "$BE" --listen "$L1" --user simon --password "$PASS" \
	--wrong 'not it' -- "$SSLTUNNELD" connect "localhost:$SRV" \
	--ca "$PKI/ca.pem" --workers 2 >"$T/pty.out" 2>&1 ||
	fail "console through a pty: $(cat "$T/pty.out")"
cat "$T/pty.out"
assert_log_contains "$T/s.log" "user=simon: login failed: wrong password or unknown user"
assert_log_contains "$T/s.log" "user=simon authorized"
assert_log_contains "$T/s.log" "user=simon -> 127\.0\.0\.1:$BE \(127\.0\.0\.1\): allowed by acl\[0\]"
say "ok: the server logged the failed login, the user and the acl's verdict"

# 2. The same as a script: credentials from a file, commands from a pipe.
printf 'simon:%s\n' "$PASS" >"$T/creds"
chmod 600 "$T/creds"
timeout 120 "$PY" "$top_srcdir/tests/integration/console.py" --pipe \
	--backend "$BE" --listen "$L2" -- "$SSLTUNNELD" connect "localhost:$SRV" \
	--ca "$PKI/ca.pem" --credentials "$T/creds" --workers 1 >"$T/pipe.out" 2>&1 ||
	fail "console through pipes: $(cat "$T/pipe.out")"
cat "$T/pipe.out"

# 3. Refusals before any prompt: no terminal and no --credentials; a
#    credentials file others can read; a wrong password from the file.
out=$("$SSLTUNNELD" connect "localhost:$SRV" --ca "$PKI/ca.pem" </dev/null 2>&1) &&
	fail "connect without a terminal or --credentials succeeded: $out"
grep -q -- "--credentials" <<<"$out" || fail "expected a hint to --credentials: $out"
chmod 644 "$T/creds"
out=$("$SSLTUNNELD" connect "localhost:$SRV" --ca "$PKI/ca.pem" \
	--credentials "$T/creds" </dev/null 2>&1) && fail "a 0644 credentials file was taken"
grep -q "mode 0644" <<<"$out" || fail "expected the file's mode named: $out"
printf 'simon:wrong\n' >"$T/bad"
chmod 600 "$T/bad"
out=$(timeout 30 "$SSLTUNNELD" connect "localhost:$SRV" --ca "$PKI/ca.pem" \
	--credentials "$T/bad" </dev/null 2>&1) && fail "a wrong password was taken"
grep -q "Error: invalid credentials." <<<"$out" || fail "expected invalid credentials: $out"
say "ok: no terminal, a readable credentials file, a wrong password: refused, named"

# The password is in no log line and no output but what the test typed.
for f in "$T/s.log" "$T/pty.out" "$T/pipe.out"; do
	grep -qF "$PASS" "$f" && fail "the password appears in ${f##*/}"
done
say "ok: the password appears in no log or output"
stop_daemon "$LAST_PID"
