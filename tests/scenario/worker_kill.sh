#!/bin/bash
# worker_kill: a worker SIGKILLed in the middle of transfers takes down
# only its own connections, and the apps on them learn it by a reset,
# never by a clean end of a truncated stream. (tests/integration/
# worker_restart.sh covers the restart itself on an idle daemon.)
#
#  1. 32 paced transfers (3 MiB each in 12 s, echoed) through a client+server pair
#     are spread over both client-role workers (checked from the sockets
#     each worker holds, ss -p).
#  2. SIGKILL one client-role worker mid-transfer: every transfer it held
#     ends for its app with a reset (ECONNRESET), none with EOF on a
#     truncated stream (the bug this test found: the kernel's close of a
#     dead worker's sockets sent a FIN).
#  3. Every transfer the other client-role worker held is byte-exact.
#  4. The killed client-role worker is replaced (new PID, warning logged)
#     and new transfers work.
#  5. The backend's ends of the killed client worker's connections are
#     reset too (the server role sees the TLS leg end without
#     close_notify), exactly that many.
#  6. SIGKILL one server-role worker mid-transfer: exactly as many
#     transfers as it held end, each with a reset at the app; all others
#     are byte-exact.
#  7. The killed server-role worker is replaced, and the backend's end of
#     each of its connections was reset, exactly that many: no backend
#     takes half a request for a whole one.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

need_tools pgrep ss
make_pki
pick_ports BE SRV CLI
NC=32
BYTES=$((3 * 1024 * 1024))
PACE=$((256 * 1024))		# bytes/s per connection: 12 s per transfer
start_backend "$BE" --mode echo
LOG_LEVEL=info
write_conf "$T/srv.conf" "$(server_tunnel in "127.0.0.1:$SRV" "127.0.0.1:$BE")"
write_conf "$T/cli.conf" "$(client_tunnel out "127.0.0.1:$CLI" "127.0.0.1:$SRV" client1 \
	'server_name = "localhost";')"
start_daemon "$T/srv.conf" "$T/srv.log"; SRV_PID=$LAST_PID
start_daemon "$T/cli.conf" "$T/cli.log"; CLI_PID=$LAST_PID

workers() { pgrep -P "$1" | sort -n; }

# owners PORT: "PEERPORT PID" for each established socket on local PORT.
owners() {
	ss -Htnp state established "( sport = :$1 )" |
		sed -n 's/.*:\([0-9]*\) *users:((".*",pid=\([0-9]*\),.*/\1 \2/p'
}

# spread PORT MASTER: both of MASTER's workers hold connections on PORT.
spread() {
	local w
	for w in $(workers "$2"); do
		owners "$1" | awk -v p="$w" '$2 == p { n++ } END { exit !n }' || return 1
	done
}

# run_batch NAME PORT MASTER: start NC paced transfers in the background,
# spread over both of MASTER's workers on PORT. The workers share the
# listener (EPOLLEXCLUSIVE), so the one that wakes may take them all
# (seen 2 tries in a row): up to 10 tries.
run_batch() {
	local try port=$2 master=$3
	for try in $(seq 10); do
		"$TCPTOOL" -t 120 many 127.0.0.1 "$CLI" "$NC" "$BYTES" --pace "$PACE" \
			--report "$T/$1.report" >"$T/$1.out" 2>"$T/$1.err" &
		BATCH=$!
		track "$BATCH"
		wait_until 20 eval '[ "$(owners "$port" | wc -l)" -ge "$NC" ]' ||
			fail "$1: only $(owners "$port" | wc -l) of $NC connections established"
		spread "$port" "$master" && return 0
		say "$1: try $try: all $NC connections on one worker; again"
		kill -TERM "$BATCH"
		wait "$BATCH"
		wait_until 10 eval '[ "$(owners "$port" | wc -l)" -eq 0 ]'
	done
	fail "$1: 10 tries, the connections never spread over both workers"
}

# --- the client role's worker ---------------------------------------------
run_batch cli "$CLI" "$CLI_PID"
sleep 1
# Who holds what at the moment of the kill.
owners "$CLI" >"$T/cli.owners"
set -- $(workers "$CLI_PID")
[ $# -eq 2 ] || fail "client daemon has $# workers, expected 2"
n1=$(awk -v p="$1" '$2 == p' "$T/cli.owners" | wc -l)
n2=$(awk -v p="$2" '$2 == p' "$T/cli.owners" | wc -l)
[ "$n1" -gt 0 ] && [ "$n2" -gt 0 ] ||
	fail "the $NC connections are not spread over both workers: $n1 on $1, $n2 on $2"
say "ok: spread: $n1 connections on worker $1, $n2 on worker $2"
VICTIM=$1 SURVIVOR=$2 NV=$n1
[ "$(wc -l <"$T/cli.owners")" -eq "$NC" ] || fail "only $(wc -l <"$T/cli.owners") transfers still running at the kill"
log_mark "$T/cli.log"
B0=$(wc -l <"$T/backend-$BE.log")
kill -KILL "$VICTIM"
say "killed client worker $VICTIM mid-transfer"
wait "$BATCH"
say "$(cat "$T/cli.out")"

# Each report line: conn I port P ok|failed got BYTES WHY...
check_victims() {	# REPORT OWNERS VICTIM
	local rep=$1 own=$2 v=$3 port pid line bad=0 resets=0 whole=0
	while read -r port pid; do
		line=$(grep " port $port " "$rep") || fail "port $port is not in the report"
		if [ "$pid" = "$v" ]; then
			case $line in
			*" failed "*"Connection reset by peer"*) resets=$((resets + 1)) ;;
			*) bad=$((bad + 1)); say "victim's connection did not end with a reset: $line" ;;
			esac
		else
			case $line in
			*" ok got $BYTES whole"*) whole=$((whole + 1)) ;;
			*) bad=$((bad + 1)); say "survivor's connection is not whole: $line" ;;
			esac
		fi
	done <"$own"
	echo "$resets $whole $bad"
}
read -r resets whole bad < <(check_victims "$T/cli.report" "$T/cli.owners" "$VICTIM")
[ "$bad" -eq 0 ] || fail "client worker kill: $bad connections ended wrongly (see above)"
[ "$resets" -eq "$NV" ] && [ "$whole" -eq $((NC - NV)) ] ||
	fail "client worker kill: $resets resets, $whole whole, expected $NV and $((NC - NV))"
say "ok: client worker killed: its $resets connections reset, the other $whole byte-exact"
# backend_resets SINCE: reads the backend saw end by a reset, past line SINCE.
backend_resets() {
	tail -n "+$(($1 + 1))" "$T/backend-$BE.log" | grep -Ec '(read|write): (Connection reset by peer|Broken pipe)'
}
wait_until 5 eval '[ "$(backend_resets "$B0")" -ge "$NV" ]'
[ "$(backend_resets "$B0")" -eq "$NV" ] ||
	fail "the backend saw $(backend_resets "$B0") resets, expected $NV (the killed client worker's connections)"
say "ok: the backend's ends of those $NV connections were reset by the server role"

wait_until 5 eval '[ "$(workers "$CLI_PID" | wc -l)" -eq 2 ] && ! workers "$CLI_PID" | grep -qx "$VICTIM"' ||
	fail "client worker $VICTIM not replaced: $(workers "$CLI_PID" | tr '\n' ' ')"
assert_log_since "$T/cli.log" "warning: worker [0-9]+ \(pid $VICTIM\) was killed by signal 9; starting another"
"$TCPTOOL" -t 30 many 127.0.0.1 "$CLI" 16 100000 >/dev/null || fail "no transfer after the client worker was replaced"
say "ok: client worker replaced, transfers work"

# --- the server role's worker ---------------------------------------------
run_batch srv "$SRV" "$SRV_PID"
sleep 1
owners "$SRV" >"$T/srv.owners"
[ "$(wc -l <"$T/srv.owners")" -eq "$NC" ] || fail "only $(wc -l <"$T/srv.owners") transfers still running at the kill"
set -- $(workers "$SRV_PID")
VICTIM=$1
NV=$(awk -v p="$VICTIM" '$2 == p' "$T/srv.owners" | wc -l)
[ "$NV" -gt 0 ] && [ "$NV" -lt "$NC" ] || fail "server role: $NV of $NC connections on worker $VICTIM: not spread"
log_mark "$T/srv.log"
B0=$(wc -l <"$T/backend-$BE.log")
kill -KILL "$VICTIM"
say "killed server worker $VICTIM ($NV connections) mid-transfer"
wait "$BATCH"
say "$(cat "$T/srv.out")"
resets=$(grep -c ' failed .*Connection reset by peer' "$T/srv.report")
whole=$(grep -c " ok got $BYTES whole" "$T/srv.report")
[ "$resets" -eq "$NV" ] && [ "$whole" -eq $((NC - NV)) ] ||
	fail "server worker kill: $resets resets and $whole whole, expected $NV and $((NC - NV)): $(grep -v ' ok ' "$T/srv.report" | head -n 5)"
say "ok: server worker killed: $resets connections reset, the other $whole byte-exact"
wait_until 5 eval '[ "$(workers "$SRV_PID" | wc -l)" -eq 2 ] && ! workers "$SRV_PID" | grep -qx "$VICTIM"' ||
	fail "server worker $VICTIM not replaced"
assert_log_since "$T/srv.log" "warning: worker [0-9]+ \(pid $VICTIM\) was killed by signal 9; starting another"
wait_until 5 eval '[ "$(backend_resets "$B0")" -ge "$NV" ]'
[ "$(backend_resets "$B0")" -eq "$NV" ] ||
	fail "the backend saw $(backend_resets "$B0") resets, expected $NV (the killed server worker's connections)"
say "ok: the backend's ends of the killed server worker's $NV connections were reset"
say "PASS"
