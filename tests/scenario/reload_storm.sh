#!/bin/bash
# reload_storm: SIGHUPs in a burst while long transfers run. Each reload
# starts a generation and drains the one before; the storm must cost no
# transfer, leave no worker behind and keep the daemon serving, also when
# a broken configuration shows up in the middle of it.
#
#  1. 16 paced transfers (6 MiB each in 8 s, echoed) through a client+
#     server pair are all byte-exact across 20 SIGHUPs in about 3 s (at
#     most 5 s, checked).
#  2. The storm's reloads all succeed, in order: generation numbers
#     logged strictly increasing, the last one above 1, no "reload failed".
#  3. Every old generation finishes draining within 20 s of the end of
#     the transfers (one "finished draining" line for each).
#  4. Only the newest generation's workers remain: exactly `workers` (2)
#     children of the master, each started after the last reload.
#  5. No worker leaked: every worker PID seen during the storm other than
#     those 2 is gone (no orphan ssltunneld left either, ps by PID).
#  6. New connections after the storm are served (32 echo connections).
#  7. A storm with a broken configuration in the middle (8 good SIGHUPs,
#     the file broken, 6 more, the file fixed; same pace): every reload
#     the master tries on the broken file (pending SIGHUPs coalesce) logs
#     "reload failed" and starts no generation, the 16 transfers of this
#     storm stay byte-exact, and new connections are served while the
#     file is broken.
#  8. The first SIGHUP after the fix starts a new generation, which serves;
#     all older generations drain, 2 workers remain.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

need_tools pgrep ps
make_pki
pick_ports BE SRV CLI
NT=16
BYTES=$((6 * 1024 * 1024))
PACE=$((768 * 1024))
start_backend "$BE" --mode echo
LOG_LEVEL=info
write_conf "$T/d.conf" \
	"$(server_tunnel in "127.0.0.1:$SRV" "127.0.0.1:$BE" 'allow_cn = [ "client1" ];')" \
	"$(client_tunnel out "127.0.0.1:$CLI" "127.0.0.1:$SRV" client1 'server_name = "localhost";')"
sed -i 's/^\tworkers = 2;/\tworkers = 2;\n\tdrain_timeout = 60;/' "$T/d.conf"
cp "$T/d.conf" "$T/good.conf"
start_daemon "$T/d.conf" "$T/d.log"
MASTER=$LAST_PID
SEEN="$(pgrep -P "$MASTER" | tr '\n' ' ')"

# storm N: N SIGHUPs, 0.15 s apart, noting every worker PID seen (from
# /proc). Builtins only: a fork and exec per step is too slow for the
# pace on a loaded host. The pause is a read with a timeout on a FIFO
# nobody writes.
mkfifo "$T/never"
exec {NEVER}<>"$T/never"
storm() {
	local i kids
	for i in $(seq "$1"); do
		kill -HUP "$MASTER" || fail "SIGHUP: the master is gone"
		read -r -t 0.15 -u "$NEVER" _
		read -r kids <"/proc/$MASTER/task/$MASTER/children"
		SEEN="$SEEN $kids"
	done
}

transfers() {	# NAME: NT paced transfers in the background
	"$TCPTOOL" -t 90 many 127.0.0.1 "$CLI" "$NT" "$BYTES" --pace "$PACE" \
		>"$T/$1.out" 2>"$T/$1.err" &
	XFER=$!
	track "$XFER"
	wait_until 20 eval '[ "$(ss -Htn state established "( sport = :$CLI )" | wc -l)" -ge "$NT" ]' ||
		fail "$1: the transfers did not start"
}

last_gen() {
	sed -n 's/.*configuration reloaded: generation \([0-9]*\) .*/\1/p' "$T/d.log" | tail -n1
}

# settled: 2 workers, each started after the last reload line.
settled() {
	local n w last
	n=$(pgrep -P "$MASTER" | wc -l)
	[ "$n" -eq 2 ] || return 1
	last=$(grep -n 'configuration reloaded: generation' "$T/d.log" | tail -n1 | cut -d: -f1)
	for w in $(pgrep -P "$MASTER"); do
		grep -n "worker [0-9]* started (pid $w)\$" "$T/d.log" |
			awk -F: -v l="$last" '$1 > l { ok = 1 } END { exit !ok }' || return 1
	done
}

drained_all() {	# every generation below the last has finished draining
	local g
	for g in $(seq 1 $(($(last_gen) - 1))); do
		grep -q "info: generation $g finished draining" "$T/d.log" || return 1
	done
}

# --- 1-6: the storm ---------------------------------------------------------
transfers storm
t0=$(date +%s%N)
storm 20
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$ms" -le 5000 ] || fail "20 SIGHUPs took $ms ms, not a storm"
say "20 SIGHUPs in $ms ms"
wait "$XFER" || fail "transfers across the storm: $(cat "$T/storm.out" "$T/storm.err" | head -n 6)"
say "ok: $(cat "$T/storm.out")"

G=$(last_gen)
[ -n "$G" ] && [ "$G" -gt 1 ] || fail "no reload logged"
sed -n 's/.*configuration reloaded: generation \([0-9]*\) .*/\1/p' "$T/d.log" |
	awk 'NR > 1 && $1 <= p { exit 1 } { p = $1 }' || fail "generation numbers not increasing"
assert_log_lacks "$T/d.log" "reload failed"
say "ok: $(grep -c 'configuration reloaded' "$T/d.log") reloads logged for 20 SIGHUPs, last generation $G"

wait_until 20 drained_all || fail "generations not drained 20 s after the transfers: $(grep -c 'finished draining' "$T/d.log") of $((G - 1))"
wait_until 10 settled || fail "workers after the storm: $(pgrep -P "$MASTER" | tr '\n' ' ')"
NOW=$(pgrep -P "$MASTER" | tr '\n' ' ')
say "ok: $((G - 1)) generations drained; workers now: $NOW"

leaked=""
for p in $(echo $SEEN | tr ' ' '\n' | sort -un); do
	case " $NOW " in *" $p "*) continue ;; esac
	running "$p" && leaked="$leaked $p"
done
[ -z "$leaked" ] || fail "workers of old generations still running:$leaked ($(ps -o pid,ppid,etime,args -p ${leaked// /,} | tail -n +2))"
orphans=$(ps -eo pid,ppid,args | awk -v c="$T/d.conf" 'index($0, c) && $2 == 1')
[ -z "$orphans" ] || fail "orphaned ssltunneld processes: $orphans"
say "ok: none of the $(echo $SEEN | tr ' ' '\n' | sort -un | wc -l) worker PIDs seen is left but the 2 current ones"

"$TCPTOOL" -t 30 many 127.0.0.1 "$CLI" 32 20000 >/dev/null || fail "new connections after the storm"
say "ok: new connections served after the storm"

# --- 7-8: a broken configuration in the middle ------------------------------
log_mark "$T/d.log"
FAIL0=$(grep -c 'reload failed' "$T/d.log")
transfers broken
# quiet: the master has answered every SIGHUP it took (pending ones
# coalesce: the count of reloads may be below that of signals).
quiet() {
	[ "$(grep -c 'SIGHUP: reading' "$T/d.log")" -eq \
	  "$(grep -Ec 'configuration reloaded|reload failed' "$T/d.log")" ]
}
settle_hups() {
	wait_until 10 quiet && read -r -t 0.5 -u "$NEVER" _ && quiet ||
		wait_until 10 quiet || fail "the master did not answer its SIGHUPs"
}
storm 8
settle_hups
echo 'this is not a setting;' >>"$T/d.conf"
G1=$(last_gen)
R0=$(grep -c 'SIGHUP: reading' "$T/d.log")
storm 6
settle_hups
nr=$(($(grep -c 'SIGHUP: reading' "$T/d.log") - R0))
nf=$(($(grep -c 'reload failed' "$T/d.log") - FAIL0))
[ "$nr" -ge 1 ] && [ "$nf" -eq "$nr" ] ||
	fail "6 SIGHUPs on the broken file: $nr reloads tried, $nf logged \"reload failed\""
[ "$(last_gen)" = "$G1" ] || fail "a generation started from the broken file: $(last_gen) after $G1"
"$TCPTOOL" -t 30 many 127.0.0.1 "$CLI" 16 20000 >/dev/null || fail "new connections while the file is broken"
say "ok: 6 SIGHUPs on a broken file ($nr taken): reload failed each time, generation stays $G1, new connections served"
cp "$T/good.conf" "$T/d.conf"
kill -HUP "$MASTER"
wait_until 10 eval '[ "$(last_gen)" -gt "$G1" ]' || fail "no reload after the file was fixed"
wait "$XFER" || fail "transfers across the broken storm: $(cat "$T/broken.out" "$T/broken.err" | head -n 6)"
say "ok: $(cat "$T/broken.out")"
wait_until 20 drained_all || fail "generations not drained after the broken storm"
wait_until 10 settled || fail "workers after the broken storm: $(pgrep -P "$MASTER" | tr '\n' ' ')"
"$TCPTOOL" -t 30 many 127.0.0.1 "$CLI" 32 20000 >/dev/null || fail "new connections after the fix"
say "ok: generation $(last_gen) after the fix serves; all older drained; workers $(pgrep -P "$MASTER" | tr '\n' ' ')"
assert_log_lacks "$T/d.log" "relay failed|drain_timeout passed"
stop_daemon "$MASTER"
say "PASS"
