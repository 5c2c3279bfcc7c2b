#!/bin/bash
# start_errors: the daemon refuses to start, with the reason on stderr
# and a non-zero exit, when a listen port is taken (foreground and
# detached); detached start returns 0 only once listening, with the pid
# file written; ktls = "on" on a kernel without kTLS refuses to start.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

make_pki
pick_ports BE SRV CLI
start_backend "$SRV" --mode echo --count-file "$T/count-squatter"
write_conf "$T/d.conf" \
	"$(server_tunnel in "127.0.0.1:$SRV" "127.0.0.1:$BE")"

timeout 10 "$SSLTUNNELD" -f -c "$T/d.conf" >"$T/fg.out" 2>"$T/fg.err"
rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "foreground start with a taken port: exit $rc"
grep -q "ssltunneld: tunnel in: cannot listen on 127\.0\.0\.1:$SRV: Address already in use" "$T/fg.err" ||
	fail "foreground: no clear reason on stderr: $(cat "$T/fg.err")"
say "ok: foreground start refused (exit $rc): $(grep cannot "$T/fg.err" | head -1)"

timeout 10 "$SSLTUNNELD" -c "$T/d.conf" >"$T/bg.out" 2>"$T/bg.err"
rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "detached start with a taken port: exit $rc"
grep -q "cannot listen on 127\.0\.0\.1:$SRV: Address already in use" "$T/bg.err" ||
	fail "detached: no clear reason on stderr: $(cat "$T/bg.err")"
say "ok: detached start refused (exit $rc)"

# Detached, for real: exit 0 means listening and pid file written.
write_conf "$T/ok.conf" \
	"$(client_tunnel out "127.0.0.1:$CLI" "127.0.0.1:$SRV" client1)"
sed -i "s|^\tworkers = 2;|\tworkers = 2;\n\tpid_file = \"$T/ok.pid\";|" "$T/ok.conf"
timeout 10 "$SSLTUNNELD" -c "$T/ok.conf" >"$T/ok.out" 2>"$T/ok.err"
rc=$?
[ -s "$T/ok.pid" ] && track "$(cat "$T/ok.pid")"
[ "$rc" -eq 0 ] || fail "detached start: exit $rc: $(cat "$T/ok.err")"
[ -s "$T/ok.pid" ] || fail "detached start returned before writing the pid file"
PID=$(cat "$T/ok.pid")
alive "$PID" || fail "detached daemon $PID is not running"
"$TCPTOOL" -t 1 listening "$CLI" || fail "detached start returned before listening"
[ "$(awk '{ print $5 }' "/proc/$PID/stat")" = "$PID" ] ||
	fail "detached daemon is not a session leader"
say "ok: detached start returns 0 listening, pid $PID in the pid file"
kill -TERM "$PID"
wait_until 10 eval "! alive $PID" || fail "detached daemon ignores SIGTERM"
[ ! -e "$T/ok.pid" ] || fail "detached daemon left its pid file"
say "ok: SIGTERM stops it and removes the pid file"

if ! grep -qw tls /proc/sys/net/ipv4/tcp_available_ulp 2>/dev/null &&
   ! modinfo tls >/dev/null 2>&1; then
	sed -i 's/ktls = "[a-z]*";/ktls = "on";/' "$T/ok.conf"
	timeout 10 "$SSLTUNNELD" -f -c "$T/ok.conf" >"$T/k.out" 2>"$T/k.err"
	rc=$?
	[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "ktls = on without kTLS: exit $rc"
	grep -q 'daemon.ktls = "on" but ' "$T/k.err" || fail "ktls = on: reason: $(cat "$T/k.err")"
	say "ok: ktls = \"on\" refused: $(cat "$T/k.err")"
fi
say "PASS"
