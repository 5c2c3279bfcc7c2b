#!/bin/bash
# notify_usr1: systemd's protocol (READY=1, RELOADING=1, STOPPING=1 on
# $NOTIFY_SOCKET) and SIGUSR1 reopening a log file after rotation, in the
# master and in the workers.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

need_tools socat
make_pki
pick_ports BE SRV CLI
random_file "$T/in" 100000
start_backend "$BE" --mode echo --count-file "$T/count"
write_conf "$T/d.conf" \
	"$(server_tunnel in "127.0.0.1:$SRV" "127.0.0.1:$BE")" \
	"$(client_tunnel out "127.0.0.1:$CLI" "127.0.0.1:$SRV" client1)"
sed -i "s|log_target = \"stderr\";|log_target = \"$T/file.log\";|" "$T/d.conf"

have_notify=0
if "$SSLTUNNELD" -h >/dev/null && ldd "$SSLTUNNELD" | grep -q libsystemd; then
	have_notify=1
	socat -u "UNIX-RECV:$T/notify.sock" "OPEN:$T/notify.txt,creat,append" &
	track $!
	wait_until 5 test -S "$T/notify.sock" || fail "notify socket not made"
fi
NOTIFY_SOCKET=$T/notify.sock "$SSLTUNNELD" -f -c "$T/d.conf" 2>"$T/stderr.log" &
MASTER=$!
track "$MASTER"
wait_port "$CLI" || fail "daemon not listening"
if [ $have_notify = 1 ]; then
	wait_until 5 grep -q "READY=1" "$T/notify.txt" || fail "no READY=1 from the daemon"
	say "ok: READY=1"
fi

"$TCPTOOL" -t 20 sendrecv 127.0.0.1 "$CLI" "$T/in" "$T/out" || fail "transfer"
assert_log_contains "$T/file.log" "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z ssltunneld\[[0-9]+\]: info: tunnel out: .* closed after"
mv "$T/file.log" "$T/file.log.1"
kill -USR1 "$MASTER"
wait_until 5 test -f "$T/file.log" || fail "SIGUSR1 did not reopen the log file"
"$TCPTOOL" -t 20 sendrecv 127.0.0.1 "$CLI" "$T/in" "$T/out2" || fail "transfer after rotation"
assert_log_contains "$T/file.log" "info: tunnel (in|out): .* closed after" 5
say "ok: SIGUSR1 reopened the log file; workers write to the new one"

kill -HUP "$MASTER"
assert_log_contains "$T/file.log" "configuration reloaded: generation 2" 10
if [ $have_notify = 1 ]; then
	wait_until 5 grep -q "RELOADING=1" "$T/notify.txt" || fail "no RELOADING=1"
	# Datagrams arrive back to back, without newlines.
	wait_until 5 test "$(grep -o READY=1 "$T/notify.txt" | wc -l)" -ge 2 ||
		fail "no READY=1 after the reload: $(cat "$T/notify.txt")"
	say "ok: RELOADING=1 then READY=1"
fi
kill -TERM "$MASTER"
wait_until 10 eval "! alive $MASTER" || fail "daemon did not stop"
if [ $have_notify = 1 ]; then
	wait_until 5 grep -q "STOPPING=1" "$T/notify.txt" || fail "no STOPPING=1"
	say "ok: STOPPING=1"
fi
[ ! -s "$T/stderr.log" ] || fail "log_target is a file, yet stderr got: $(head -3 "$T/stderr.log")"
say "PASS"
