#!/bin/bash
# user: with daemon.user/group the master stays root (it binds and reads
# keys) while every worker runs as the user before serving anything.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

[ "$(id -u)" -eq 0 ] || skip "needs root to change user"
getent passwd nobody >/dev/null || skip "no user nobody"
GROUP=$(id -gn nobody)
make_pki
pick_ports BE SRV CLI
random_file "$T/in" 500000
start_backend "$BE" --mode echo --count-file "$T/count"
write_conf "$T/d.conf" \
	"$(server_tunnel in "127.0.0.1:$SRV" "127.0.0.1:$BE")" \
	"$(client_tunnel out "127.0.0.1:$CLI" "127.0.0.1:$SRV" client1)"
sed -i "s/^\tworkers = 2;/\tworkers = 2;\n\tuser = \"nobody\";\n\tgroup = \"$GROUP\";/" "$T/d.conf"
chmod 600 "$PKI"/*.key	# only root reads keys: the master loads them
start_daemon "$T/d.conf" "$T/d.log"
MASTER=$LAST_PID
UID_NOBODY=$(id -u nobody)
GID_GROUP=$(getent group "$GROUP" | cut -d: -f3)

uid_of() { awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$1/status"; }
gid_of() { awk '/^Gid:/ { print $2, $3, $4, $5 }' "/proc/$1/status"; }
groups_of() { awk '/^Groups:/ { $1 = ""; print }' "/proc/$1/status" | tr -d ' '; }

[ "$(uid_of "$MASTER")" = "0 0 0 0" ] || fail "master uid: $(uid_of "$MASTER")"
WORKERS=$(pgrep -P "$MASTER")
[ "$(echo "$WORKERS" | wc -w)" -eq 2 ] || fail "expected 2 workers, got $WORKERS"
for w in $WORKERS; do
	u="$UID_NOBODY $UID_NOBODY $UID_NOBODY $UID_NOBODY"
	g="$GID_GROUP $GID_GROUP $GID_GROUP $GID_GROUP"
	[ "$(uid_of "$w")" = "$u" ] || fail "worker $w: Uid $(uid_of "$w"), expected $u"
	[ "$(gid_of "$w")" = "$g" ] || fail "worker $w: Gid $(gid_of "$w"), expected $g"
	[ -z "$(groups_of "$w")" ] || fail "worker $w keeps supplementary groups: $(groups_of "$w")"
done
say "ok: master uid 0, workers uid $UID_NOBODY gid $GID_GROUP, no extra groups"

"$TCPTOOL" -t 20 sendrecv 127.0.0.1 "$CLI" "$T/in" "$T/out" || fail "transfer through unprivileged workers"
assert_same "$T/in" "$T/out"
say "ok: unprivileged workers relay"

# Reload: the root master reads the keys again; new workers drop too.
log_mark "$T/d.log"
kill -HUP "$MASTER"
assert_log_since "$T/d.log" "configuration reloaded: generation 2" 10
wait_until 10 test "$(pgrep -P "$MASTER" | wc -l)" -eq 2
for w in $(pgrep -P "$MASTER"); do
	[ "$(uid_of "$w")" = "$u" ] || fail "worker $w after reload: Uid $(uid_of "$w")"
done
say "ok: workers of the new generation are unprivileged too"

sed -i 's/user = "nobody";/user = "no-such-user-here";/' "$T/d.conf"
log_mark "$T/d.log"
kill -HUP "$MASTER"
assert_log_since "$T/d.log" "reload failed.*daemon\.user: no such user \"no-such-user-here\"" 10
stop_daemon "$MASTER"

# A log file rotated under unprivileged workers: on SIGUSR1 the root master
# makes the new file and gives it to the user, so the workers can open it.
sed -i 's/user = "no-such-user-here";/user = "nobody";/' "$T/d.conf"
mkdir -m 0755 "$T/logs"
chmod 0711 "$T"
sed -i "s|log_target = \"stderr\";|log_target = \"$T/logs/file.log\";|" "$T/d.conf"
grep -q "log_target = \"$T/logs/file.log\"" "$T/d.conf" || fail "log_target not set in d.conf"
# (the daemon's stderr goes to the same file: it writes nothing there)
start_daemon "$T/d.conf" "$T/logs/file.log"
MASTER=$LAST_PID
mv "$T/logs/file.log" "$T/logs/file.log.1"
kill -USR1 "$MASTER"
wait_until 5 test -f "$T/logs/file.log" || fail "SIGUSR1 did not make a new log file"
owner=$(stat -c %u "$T/logs/file.log")
[ "$owner" = "$UID_NOBODY" ] || fail "new log file owned by uid $owner, not the workers' $UID_NOBODY"
"$TCPTOOL" -t 20 sendrecv 127.0.0.1 "$CLI" "$T/in" "$T/out3" || fail "transfer after rotation"
assert_same "$T/in" "$T/out3"
assert_log_contains "$T/logs/file.log" "info: tunnel (in|out): .* closed after" 5
! grep -q "reopening the log file" "$T/logs/file.log" "$T/logs/file.log.1" ||
	fail "a process could not reopen the log: $(grep -h 'reopening the log file' "$T/logs/file.log" "$T/logs/file.log.1" | head -3)"
say "ok: log rotated with SIGUSR1: the new file is the workers', their lines go there"
stop_daemon "$MASTER"
say "PASS"
