#!/bin/bash
# seccomp: once set up, every worker confines itself with a seccomp filter
# (daemon.seccomp, daemon/sandbox.c); the master never does.
#  1. seccomp not set: every worker of every role (server, WebSocket
#     server, CONNECT gateway, client, relay, relay listener, relay
#     sender) shows "Seccomp: 2" in /proc/PID/status and the master
#     "Seccomp: 0"; bytes cross client -> server, a CONNECT to
#     localhost (the resolver reads /etc/hosts while confined) and
#     sender -> relay -> listener, byte-exact.
#  2. SIGHUP: the unconfined master forks a new generation; its workers
#     are confined and serve.
#  3. SIGUSR1 with a log file: confined workers reopen it after rotation
#     and write to the new file.
#  4. A worker made to call getppid (strace swaps one epoll_wait for it):
#     it logs "seccomp: system call getppid (N) is not allowed", exits
#     159; the master logs that and starts another, confined, that
#     serves. Skipped without strace or where it can't attach.
#  5. seccomp = false: no worker is confined; the start-up log says so.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

make_pki
pick_ports BE SRV WS GW CLI RLY SND

seccomp_of() {	# seccomp_of PID: the mode in /proc/PID/status
	awk '/^Seccomp:/ { print $2 }' "/proc/$1/status" 2>/dev/null
}

# confined MASTER MODE WHAT: the master is not filtered, each of its (2)
# workers is in MODE.
confined() {
	local m=$1 mode=$2 what=$3 k n=0
	[ "$(seccomp_of "$m")" = 0 ] ||
		fail "$what: the master $m has Seccomp: $(seccomp_of "$m")"
	for k in $(pgrep -P "$m"); do
		[ "$(seccomp_of "$k")" = "$mode" ] ||
			fail "$what: worker $k has Seccomp: $(seccomp_of "$k"), expected $mode"
		n=$((n + 1))
	done
	[ "$n" -eq 2 ] || fail "$what: $n workers, expected 2"
}

start_backend "$BE" --mode echo
write_conf "$T/s.conf" \
	"$(server_tunnel srv "127.0.0.1:$SRV" "127.0.0.1:$BE")" \
	"$(server_tunnel ws "127.0.0.1:$WS" "127.0.0.1:$BE" 'transport = "websocket";')" \
	"$(server_tunnel gw "127.0.0.1:$GW" dynamic \
		"acl = ( { allow = [ \"localhost:$BE\" ]; } );")"
start_daemon "$T/s.conf" "$T/s.log"
S=$LAST_PID
if grep -q 'workers: no seccomp filter: ' "$T/s.log"; then
	skip "$(sed -n 's/.*workers: no seccomp filter: //p' "$T/s.log" | head -n 1)"
fi
assert_log_contains "$T/s.log" "info: workers: seccomp filter on"
write_conf "$T/c.conf" "$(client_tunnel cli "127.0.0.1:$CLI" "127.0.0.1:$SRV" client1)"
start_daemon "$T/c.conf" "$T/c.log"
C=$LAST_PID

key() {	# key FILE: a random SAS key, readable by its owner only
	head -c 32 /dev/urandom | base64 >"$1"
	chmod 600 "$1"
}
key "$T/listen.key"
key "$T/send.key"
write_conf "$T/r.conf" "
	{ name = \"relay\"; role = \"relay\"; listen = \"127.0.0.1:$RLY\";
	  cert_file = \"$PKI/server.pem\"; key_file = \"$PKI/server.key\";
	  relay_paths = ( { path = \"db\"; keys = (
	    { name = \"listen-db\"; key_file = \"$T/listen.key\"; rights = [ \"listen\" ]; },
	    { name = \"send-db\"; key_file = \"$T/send.key\"; rights = [ \"send\" ]; } ); } ); }"
start_daemon "$T/r.conf" "$T/r.log"
R=$LAST_PID
write_conf "$T/l.conf" "
	{ name = \"l\"; role = \"listener\"; relay = \"wss://127.0.0.1:$RLY/\$hc/db\";
	  relay_key_name = \"listen-db\"; relay_key_file = \"$T/listen.key\";
	  ca_file = \"$PKI/ca.pem\"; connect = \"127.0.0.1:$BE\"; }"
"$SSLTUNNELD" -f -c "$T/l.conf" >"$T/l.out" 2>"$T/l.log" &
L=$!
track "$L"
write_conf "$T/snd.conf" "
	{ name = \"snd\"; role = \"client\"; transport = \"relay\"; listen = \"127.0.0.1:$SND\";
	  connect = \"wss://127.0.0.1:$RLY/\$hc/db\";
	  relay_key_name = \"send-db\"; relay_key_file = \"$T/send.key\"; ca_file = \"$PKI/ca.pem\"; }"
start_daemon "$T/snd.conf" "$T/snd.log"
SN=$LAST_PID
channels() {
	[ "$(grep -c 'info: tunnel relay: .*: listener on db (key listen-db)' "$T/r.log")" -ge 2 ]
}
wait_until 15 channels || fail "the listener's control channels did not come up"
wait_until 10 workers_ready "$L" 2 "$T/l.log" || fail "the listener's workers did not start"

# 1. Every role confined, and serving.
confined "$S" 2 "server, WebSocket server and CONNECT gateway"
confined "$C" 2 "client"
confined "$R" 2 "relay"
confined "$L" 2 "relay listener"
confined "$SN" 2 "relay sender"
random_file "$T/up" $((4 * 1024 * 1024))
"$TCPTOOL" -t 60 sendrecv 127.0.0.1 "$CLI" "$T/up" "$T/down" ||
	fail "client -> server failed"
assert_same "$T/up" "$T/down"
"$TCPTOOL" -t 60 sendrecv 127.0.0.1 "$SND" "$T/up" "$T/down2" ||
	fail "sender -> relay -> listener failed"
assert_same "$T/up" "$T/down2"
printf 'CONNECT localhost:%s HTTP/1.1\r\nHost: localhost:%s\r\n\r\n' "$BE" "$BE" >"$T/req"
printf 'hello\n' >"$T/hello"
tlsreq "$GW" client1 "$T/req" --data "$T/hello" --out "$T/o" --expect 6 >"$T/r" ||
	fail "CONNECT localhost: $(cat "$T/r")"
grep -q '^HTTP/1.1 200' "$T/r" || fail "CONNECT localhost: $(head -n 1 "$T/r")"
assert_same "$T/hello" "$T/o"
for f in s c r l snd; do
	assert_log_lacks "$T/$f.log" "seccomp: system call|made a system call"
done
confined "$S" 2 "after traffic: server roles"
say "ok: the workers of all 7 roles have Seccomp: 2, the masters 0; client, CONNECT (localhost) and relay traffic byte-exact"

# 2. Reload.
log_mark "$T/s.log"
kill -HUP "$S"
assert_log_since "$T/s.log" "configuration reloaded: generation 2" 10
wait_until 10 workers_ready "$S" 2 "$T/s.log" || fail "generation 2 did not start"
wait_until 10 eval '[ "$(pgrep -P "$S" | wc -l)" -eq 2 ]' ||
	fail "generation 1 did not finish"
confined "$S" 2 "generation 2"
"$TCPTOOL" -t 60 sendrecv 127.0.0.1 "$CLI" "$T/up" "$T/down3" ||
	fail "client -> server after the reload failed"
assert_same "$T/up" "$T/down3"
say "ok: SIGHUP: the master forked generation 2, confined, serving"

# 3. SIGUSR1: the log file reopened from inside the filter.
sed -i "s|log_target = \"stderr\";|log_target = \"$T/file.log\";|" "$T/c.conf"
stop_daemon "$C"
"$SSLTUNNELD" -f -c "$T/c.conf" >"$T/c2.out" 2>"$T/c2.err" &
C=$!
track "$C"
wait_until 10 workers_ready "$C" 2 "$T/file.log" || fail "the client did not start with a log file"
mv "$T/file.log" "$T/file.log.1"
kill -USR1 "$C"
wait_until 5 test -f "$T/file.log" || fail "SIGUSR1 did not reopen the log file"
"$TCPTOOL" -t 60 sendrecv 127.0.0.1 "$CLI" "$T/up" "$T/down4" ||
	fail "client -> server after SIGUSR1 failed"
assert_log_contains "$T/file.log" "info: tunnel cli: .* closed after" 5
confined "$C" 2 "after SIGUSR1"
assert_log_lacks "$T/file.log" "seccomp: system call|made a system call"
say "ok: SIGUSR1: confined workers reopened the log file and write to it"

# 4. A forbidden call.
if [ "$(uname -m)" = x86_64 ]; then wait_call=epoll_wait; else wait_call=epoll_pwait; fi
W=$(pgrep -P "$S" | head -n 1)
GETPPID="ssltunneld\[$W\]: error: seccomp: system call getppid \([0-9]+\) is not allowed in a worker; it exits"
if ! command -v strace >/dev/null 2>&1; then
	say "skipped 4: no strace"
else
	log_mark "$T/s.log"
	timeout 30 strace -qq -o /dev/null -p "$W" -e trace="$wait_call" -e signal=none \
		-e inject="$wait_call":syscall=getppid:error=EINTR:when=1 \
		</dev/null 2>"$T/strace.err" &
	track $!
	# Wake the workers in case W sleeps in the call strace caught it in.
	for i in 1 2 3; do
		"$TCPTOOL" -t 5 sendrecv 127.0.0.1 "$SRV" "$T/hello" "$T/o2" >/dev/null 2>&1
	done
	if ! wait_until 15 log_since_has "$T/s.log" "$LOG_MARK" "$GETPPID" &&
		grep -q 'attach' "$T/strace.err"; then
		say "skipped 4: strace can't attach here: $(head -n 1 "$T/strace.err")"
	else
		assert_log_since "$T/s.log" "$GETPPID" 1
		assert_log_since "$T/s.log" "worker [12] \(pid $W\) made a system call its seccomp filter forbids \(logged above\); starting another" 10
		wait_until 10 eval '! running "$W"' || fail "worker $W still runs"
		wait_until 15 workers_ready "$S" 2 "$T/s.log" || fail "no worker replaced $W"
		confined "$S" 2 "the replacement"
		"$TCPTOOL" -t 60 sendrecv 127.0.0.1 "$CLI" "$T/up" "$T/down5" ||
			fail "client -> server after the replacement failed"
		assert_same "$T/up" "$T/down5"
		say "ok: a forbidden getppid: named in the log, the worker exited 159 and was replaced, confined"
	fi
fi

# 5. seccomp = false.
stop_daemon "$C"
DAEMON_EXTRA="seccomp = false;" write_conf "$T/c3.conf" \
	"$(client_tunnel cli "127.0.0.1:$CLI" "127.0.0.1:$SRV" client1)"
start_daemon "$T/c3.conf" "$T/c3.log"
C=$LAST_PID
assert_log_contains "$T/c3.log" "notice: workers: no seccomp filter \(seccomp = false\)"
confined "$C" 0 "seccomp = false"
"$TCPTOOL" -t 60 sendrecv 127.0.0.1 "$CLI" "$T/up" "$T/down6" ||
	fail "client -> server with seccomp = false failed"
assert_same "$T/up" "$T/down6"
say "ok: seccomp = false: workers have Seccomp: 0"

for p in "$S" "$R" "$SN" "$C"; do
	stop_daemon "$p"
done
say "PASS"
