#!/bin/bash
# relay_examples: conf/examples/relay-{relay,listener,sender}.conf as
# written, on the topology they describe: the relay on 0.0.0.0:443, the
# laptop's sender on 127.0.0.1:5432, and the database host - its listener
# and a database on its own 127.0.0.1:5432 - in a second network namespace
# joined to the first by a veth pair. relay.example.com resolves (through
# /etc/hosts, bind-mounted in a mount namespace of the test's own) to the
# relay's side of the veth. Certificates and keys are made as the
# examples' comments say. The only change to the files: log_target is
# stderr instead of syslog, so the test can read the logs.
#  1. -t passes for the three files; all three run as written.
#  2. 1 MiB byte-exact through sender -> relay -> listener -> database,
#     and 20 connections at once.
if [ -z "${RELAY_EXAMPLES_NS:-}" ]; then
	command -v unshare >/dev/null 2>&1 || { echo "SKIP: relay_examples: no unshare" >&2; exit 77; }
	command -v nsenter >/dev/null 2>&1 || { echo "SKIP: relay_examples: no nsenter" >&2; exit 77; }
	[ "$(id -u)" = 0 ] || { echo "SKIP: relay_examples: network namespaces need root" >&2; exit 77; }
	exec env RELAY_EXAMPLES_NS=1 unshare -n -m --propagation private bash "$0" "$@"
fi
ip link set lo up || { echo "FAIL: relay_examples: ip link set lo up" >&2; exit 1; }
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"
need_tools ip

EX=$T/ex
mkdir -p "$EX"
for f in relay-relay relay-listener relay-sender; do
	sed 's/log_target = "syslog";/log_target = "stderr";/' \
		"$top_srcdir/conf/examples/$f.conf" >"$EX/$f.conf"
	grep -q 'log_target = "stderr";' "$EX/$f.conf" || fail "$f.conf: no log_target to change"
done
# As relay-relay.conf's comments say.
"$top_srcdir/scripts/mkcerts" --server-cn relay.example.com \
	--server-dns relay.example.com "$EX/certs" >"$T/mkcerts.log" 2>&1 ||
	fail "mkcerts: $(tail -n 3 "$T/mkcerts.log")"
(cd "$EX" && umask 077 && mkdir keys &&
	head -c 32 /dev/urandom | base64 >keys/listen-db.key &&
	head -c 32 /dev/urandom | base64 >keys/send-db.key) || fail "cannot make the keys"

# The database host: a namespace held by a sleeping process, a veth pair.
unshare -n sleep "$TEST_TIMEOUT" &
DBNS=$!
track "$DBNS"
wait_until 5 eval "[ \"\$(readlink /proc/$DBNS/ns/net)\" != \"\$(readlink /proc/self/ns/net)\" ]" ||
	fail "the database host's namespace did not come up"
# (the kTLS VM's kernel may have no veth module at hand: skip there)
ip link add ex-relay type veth peer name ex-db netns "$DBNS" 2>"$T/veth.err" ||
	skip "no veth pair here: $(cat "$T/veth.err")"
ip addr add 10.77.0.1/24 dev ex-relay && ip link set ex-relay up || fail "veth, relay side"
dbns() { nsenter -t "$DBNS" -n -- "$@"; }
dbns ip link set lo up && dbns ip addr add 10.77.0.2/24 dev ex-db &&
	dbns ip link set ex-db up || fail "veth, database side"
printf '127.0.0.1 localhost\n10.77.0.1 relay.example.com\n' >"$T/hosts"
mount --bind "$T/hosts" /etc/hosts || fail "cannot bind-mount /etc/hosts"

for f in relay-relay relay-listener relay-sender; do
	"$SSLTUNNELD" -t -c "$EX/$f.conf" >"$T/$f.t" 2>&1 || fail "-t $f.conf: $(cat "$T/$f.t")"
done
say "ok: the three examples pass -t"

# The database: an echo server on the database host's 127.0.0.1:5432.
dbns "$TCPTOOL" -t "$TEST_TIMEOUT" serve 5432 --mode echo --pid-file "$T/db.pid" \
	2>>"$T/db.log" &
track $!
wait_until 10 test -s "$T/db.pid" || fail "the database did not start"

start_daemon "$EX/relay-relay.conf" "$T/relay.log"
dbns "$SSLTUNNELD" -f -c "$EX/relay-listener.conf" >"$T/listener.out" 2>"$T/listener.log" &
LISTENER=$!
track "$LISTENER"
wait_until 20 grep -q 'notice: tunnel db: listening at wss://relay.example.com/\$hc/db' "$T/listener.log" ||
	fail "the listener did not reach the relay"
start_daemon "$EX/relay-sender.conf" "$T/sender.log"

random_file "$T/up" $((1024 * 1024))
"$TCPTOOL" -t 60 sendrecv 127.0.0.1 5432 "$T/up" "$T/down" ||
	fail "sender -> relay -> listener -> database failed"
assert_same "$T/up" "$T/down"
say "ok: 1 MiB byte-exact through the examples as written"
"$TCPTOOL" -t 60 many 127.0.0.1 5432 20 65536 >"$T/many.out" ||
	fail "20 at once through the examples: $(cat "$T/many.out")"
say "ok: 20 connections at once byte-exact"
assert_log_lacks "$T/relay.log" ": (error|warning): "
assert_log_lacks "$T/listener.log" ": (error|warning): "
say "PASS"
