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
say "PASS"
