#!/bin/bash
# reload_broken: a reload with a broken config (syntax error, unknown
# setting, a key that doesn't match, a listen port taken by someone else)
# changes nothing: same workers, same tunnels, logged reason.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

make_pki
pick_ports BE SRV CLI TAKEN
random_file "$T/in" 300000
start_backend "$BE" --mode echo --count-file "$T/count"
write_conf "$T/d.conf" \
	"$(server_tunnel in "127.0.0.1:$SRV" "127.0.0.1:$BE")" \
	"$(client_tunnel out "127.0.0.1:$CLI" "127.0.0.1:$SRV" client1)"
cp "$T/d.conf" "$T/good.conf"
start_daemon "$T/d.conf" "$T/d.log"
MASTER=$LAST_PID
WORKERS=$(pgrep -P "$MASTER" | sort | tr '\n' ' ')
start_backend "$TAKEN" --mode echo --count-file "$T/count-taken"

try_broken() {
	local what=$1 expect=$2
	log_mark "$T/d.log"
	kill -HUP "$MASTER"
	assert_log_since "$T/d.log" "error: reload failed, still running the previous configuration: .*$expect" 10
	[ "$(pgrep -P "$MASTER" | sort | tr '\n' ' ')" = "$WORKERS" ] ||
		fail "$what: the workers changed"
	"$TCPTOOL" -t 20 sendrecv 127.0.0.1 "$CLI" "$T/in" "$T/out" ||
		fail "$what: the tunnel stopped working"
	assert_same "$T/in" "$T/out"
	rm -f "$T/out"
	say "ok: $what"
}

echo "tunnels = ( { name = " >"$T/d.conf"
try_broken "syntax error" "d\.conf:[0-9]+: syntax error"
sed 's/^\tworkers = 2;/\tworkers = 2;\n\tbogus = 1;/' "$T/good.conf" >"$T/d.conf"
try_broken "unknown setting" "d\.conf:[0-9]+: daemon\.bogus: unknown setting"
sed "s|$PKI/client1.key|$PKI/client2.key|" "$T/good.conf" >"$T/d.conf"
try_broken "key not matching its certificate" "tunnel out: cert_file .*client1\.pem / key_file .*client2\.key"
write_conf "$T/d.conf" \
	"$(server_tunnel in "127.0.0.1:$SRV" "127.0.0.1:$BE")" \
	"$(client_tunnel out "127.0.0.1:$CLI" "127.0.0.1:$SRV" client1)" \
	"$(client_tunnel extra "127.0.0.1:$TAKEN" "127.0.0.1:$SRV" client1)"
try_broken "listen port taken" "tunnel extra: cannot listen on 127\.0\.0\.1:$TAKEN: Address already in use"

assert_log_lacks "$T/d.log" "configuration reloaded"
cp "$T/good.conf" "$T/d.conf"
log_mark "$T/d.log"
kill -HUP "$MASTER"
assert_log_since "$T/d.log" "notice: configuration reloaded: generation 2 " 10
say "ok: the good config reloads afterwards"
stop_daemon "$MASTER"
say "PASS"
