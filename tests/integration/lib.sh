# lib.sh - shared helpers for the integration tests; sourced by each test.
#
# Every test gets its own temporary folder ($T), its own certificates and
# its own ports, so `make check -j` runs tests side by side. Every process a
# test starts is recorded by PID and killed at exit; every wait is bounded.
#
# Runs under automake's test harness, which exports top_srcdir and
# top_builddir (absolute). By hand:
#   top_srcdir=/work/main top_builddir=/tmp/b tests/integration/bulk.sh

set -u

if [ -z "${top_builddir:-}" ]; then
	echo "lib.sh: top_builddir is not set (run through make check)" >&2
	exit 99
fi
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"

TEST_NAME=$(basename "$0" .sh)
TCPTOOL=$top_builddir/tests/integration/tcptool
SSLTUNNELD=$top_builddir/daemon/ssltunneld
# The whole test gives up after this many seconds (the watchdog below).
: "${TEST_TIMEOUT:=240}"

PIDS=""		# every background process started, killed at exit
LAST_PID=""	# the one started last (start_daemon, start_backend ...)

# --- output and verdicts ---------------------------------------------------

say() {
	printf '%s: %s\n' "$TEST_NAME" "$*"
}

# Print the tail of every log the test wrote, so a failure explains itself
# in the harness's NAME.log.
dump_logs() {
	local f
	for f in "$T"/*.log "$T"/*.out; do
		[ -s "$f" ] || continue
		echo "----- ${f##*/} (last 40 lines) -----"
		tail -n 40 "$f"
	done
}

fail() {
	echo "FAIL: $TEST_NAME: $*" >&2
	dump_logs >&2
	exit 1
}

skip() {
	echo "SKIP: $TEST_NAME: $*" >&2
	exit 77
}

# Skip (77) unless every named tool is installed.
need_tools() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || skip "$t is not installed"
	done
}

# --- processes ---------------------------------------------------------------

track() {
	PIDS="$PIDS $1"
	LAST_PID=$1
}

alive() {
	kill -0 "$1" 2>/dev/null
}

# running PID: alive and not a zombie (a process that is not our child may
# linger as a zombie when nobody reaps it).
running() {
	local st
	st=$(sed -n 's/.*) \(.\).*/\1/p' "/proc/$1/stat" 2>/dev/null)
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# Stop one process by PID: TERM, up to 5 s grace, then KILL. Its direct
# children (a daemon's workers) are looked up first and killed by PID too,
# in case they outlive it.
stop_pid() {
	local pid=$1 kids i
	alive "$pid" || { wait "$pid" 2>/dev/null; return 0; }
	kids=$(pgrep -P "$pid" 2>/dev/null)
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 50); do
		running "$pid" || break
		sleep 0.1
	done
	running "$pid" && kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	for i in $kids; do
		running "$i" && kill -KILL "$i" 2>/dev/null
	done
	return 0
}

stop_all() {
	local pid
	for pid in $PIDS; do
		stop_pid "$pid"
	done
	PIDS=""
}

# With PATH_REPORT set (the kTLS VM run), add one line to it: how many
# relayed connections of this test's daemons took the kernel path and how
# many the userspace one, from their debug logs.
path_report() {
	local k u
	[ -n "${PATH_REPORT:-}" ] || return 0
	k=$(cat "$T"/*.log 2>/dev/null | grep -Ec ': ktls=tx\+rx$')
	u=$(cat "$T"/*.log 2>/dev/null | grep -Ec ': userspace: ')
	echo "$TEST_NAME ktls=$k userspace=$u" >>"$PATH_REPORT"
}

on_exit() {
	local rc=$?
	trap - EXIT
	[ -n "${WATCHDOG:-}" ] && kill -TERM "$WATCHDOG" 2>/dev/null
	stop_all
	[ -n "${WATCHDOG:-}" ] && wait "$WATCHDOG" 2>/dev/null
	path_report
	"$TCPTOOL" release-ports $$
	if [ -n "${KEEP_TMP:-}" ]; then
		echo "$TEST_NAME: keeping $T" >&2
	else
		rm -rf "$T"
	fi
	exit "$rc"
}

# Run "$@" until it succeeds, at most SECS seconds (fractions allowed).
wait_until() {
	local secs=$1 i n
	shift
	n=$(awk -v s="$secs" 'BEGIN { print int(s * 10) }')
	for i in $(seq "$n"); do
		"$@" && return 0
		sleep 0.1
	done
	"$@"
}

# wait_port PORT... [--pid PID]: wait up to 10 s until each PORT listens;
# with --pid, give up as soon as process PID (which should open them) is
# gone. tcptool reads the kernel's socket table instead of connecting, so
# the daemon never sees a probe connection.
wait_port() {
	"$TCPTOOL" -t 10 listening "$@"
}

# pick_ports VAR...: set each VAR to a distinct free port, reserved for
# this test (tcptool's reservation folder) until it exits, so tests
# running side by side never pick the same port.
pick_ports() {
	local v
	read -r "$@" < <("$TCPTOOL" freeport $# --owner $$ | tr '\n' ' ')
	for v in "$@"; do
		[ -n "${!v}" ] || fail "tcptool freeport found no port for $v"
	done
}

# --- the daemon and the backends --------------------------------------------

# start_daemon CONF LOGFILE: run ssltunneld -f -c CONF in the background,
# stderr (the log) to LOGFILE, stdout to LOGFILE's .out; wait until every
# listen port of CONF is listening and its workers have started. Sets
# LAST_PID to the master's PID.
start_daemon() {
	local conf=$1 log=$2 pid port ports n said
	"$SSLTUNNELD" -f -c "$conf" >"${log%.log}.out" 2>"$log" &
	pid=$!
	track "$pid"
	ports=$(grep -Eo '(^|[^_[:alnum:]])listen[[:space:]]*=[[:space:]]*"[^"]*:[0-9]+"' "$conf" |
		sed 's/.*:\([0-9]*\)"$/\1/')
	[ -n "$ports" ] || fail "start_daemon: no listen = \"...:PORT\" in $conf"
	wait_port $ports --pid "$pid" ||
		fail "ssltunneld -c ${conf##*/} did not start listening on $(echo $ports)"
	# The master listens before it forks: wait for the workers too, so a
	# test that looks at them sees all of them.
	n=$(sed -n 's/^[[:space:]]*workers[[:space:]]*=[[:space:]]*\([0-9]*\);.*/\1/p' "$conf" | head -n 1)
	said=$log
	grep -Eq '^[[:space:]]*log_level[[:space:]]*=[[:space:]]*"(info|debug)"' "$conf" || said=-
	if [ -n "$n" ]; then
		wait_until 10 workers_ready "$pid" "$n" "$said" ||
			fail "ssltunneld -c ${conf##*/}: $(workers_ready "$pid" "$n" "$said" -v) of $n workers started after 10 s"
	fi
	LAST_PID=$pid
}

# workers_ready MASTER N LOG [-v]: true when MASTER has N running children
# and each has logged "worker K started (pid P)" to LOG (a worker says so
# once it has dropped privileges, before it serves anything). LOG "-":
# count the children only (a log level above info). With -v, print how
# many are ready.
workers_ready() {
	local pid=$1 n=$2 log=$3 k c=0
	for k in $(pgrep -P "$pid"); do
		running "$k" || continue
		[ "$log" = - ] || grep -q "worker [0-9]* started (pid $k)" "$log" || continue
		c=$((c + 1))
	done
	[ "${4:-}" != -v ] || echo "$c"
	[ "$c" -eq "$n" ]
}

# Send SIGTERM to a daemon's master and check it stops within 10 s with
# exit status 0 and takes its workers with it.
stop_daemon() {
	local pid=$1 kids rc i k
	kids=$(pgrep -P "$pid")
	kill -TERM "$pid" || fail "daemon $pid is not running"
	for i in $(seq 100); do
		running "$pid" || break
		sleep 0.1
	done
	running "$pid" && fail "daemon $pid still running 10 s after SIGTERM"
	wait "$pid"
	rc=$?
	[ "$rc" -eq 0 ] || fail "daemon $pid exited with status $rc after SIGTERM, expected 0"
	for k in $kids; do
		wait_until 5 eval "! running $k" || fail "worker $k outlived its master"
	done
}

# start_backend PORT ARGS...: tcptool serve in the background (a test
# backend), its lifetime bounded by TEST_TIMEOUT. Waits until it listens.
start_backend() {
	local port=$1
	shift
	rm -f "$T/backend-$port.pid"
	"$TCPTOOL" -t "$TEST_TIMEOUT" serve "$port" --pid-file "$T/backend-$port.pid" \
		"$@" 2>>"$T/backend-$port.log" &
	track $!
	wait_until 10 pid_file_or_gone "$T/backend-$port.pid" "$LAST_PID"
	[ -s "$T/backend-$port.pid" ] || fail "backend on port $port did not start"
}

# pid_file_or_gone FILE PID: FILE was written, or PID has exited.
pid_file_or_gone() {
	[ -s "$1" ] || ! running "$2"
}

# --- configuration ------------------------------------------------------------

# server_tunnel NAME LISTEN CONNECT [EXTRA]: a server-role tunnel block
# with the test PKI (server certificate, clients checked against ca.pem).
server_tunnel() {
	cat <<EOF
	{ name = "$1"; role = "server"; listen = "$2"; connect = "$3";
	  cert_file = "$PKI/server.pem"; key_file = "$PKI/server.key";
	  ca_file = "$PKI/ca.pem";
	  ${4:-}
	}
EOF
}

# client_tunnel NAME LISTEN CONNECT CERT [EXTRA]: a client-role tunnel
# block presenting PKI/CERT.pem.
client_tunnel() {
	cat <<EOF
	{ name = "$1"; role = "client"; listen = "$2"; connect = "$3";
	  cert_file = "$PKI/$4.pem"; key_file = "$PKI/$4.key";
	  ca_file = "$PKI/ca.pem";
	  ${5:-}
	}
EOF
}

# write_conf FILE TUNNEL_BLOCK...: a whole config, logging to stderr;
# DAEMON_EXTRA goes into its daemon group, WORKER_COUNT (2) is its workers.
write_conf() {
	local file=$1 first=1 b
	shift
	{
		cat <<EOF
daemon = {
	workers = ${WORKER_COUNT:-2};
	log_level = "${LOG_LEVEL:-debug}";
	log_target = "stderr";
	ktls = "${SSLTUNNEL_KTLS:-auto}";
	${DAEMON_EXTRA:-}
};
defaults = {
	handshake_timeout = ${HANDSHAKE_TIMEOUT:-10};
	connect_timeout = ${CONNECT_TIMEOUT:-10};
};
tunnels = (
EOF
		for b in "$@"; do
			[ $first = 1 ] || echo ","
			first=0
			printf '%s\n' "$b"
		done
		echo ");"
	} >"$file"
}

# --- certificates ----------------------------------------------------------

# certtool_cert NAME CN SIGNER [TEMPLATE LINES...]: key + certificate
# PKI/NAME.{key,pem}, signed by PKI/SIGNER (or self-signed if SIGNER is -).
certtool_cert() {
	local name=$1 cn=$2 signer=$3 tmpl
	shift 3
	tmpl=$PKI/$name.tmpl
	{
		echo "cn = \"$cn\""
		echo "organization = \"ssltunnel tests\""
		echo "serial = $(od -An -N4 -tu4 /dev/urandom | tr -d ' ')"
		printf '%s\n' "$@"
	} >"$tmpl"
	certtool --generate-privkey --key-type ecdsa --outfile "$PKI/$name.key" \
		>/dev/null 2>&1 || fail "certtool: key for $name"
	if [ "$signer" = - ]; then
		certtool --generate-self-signed --load-privkey "$PKI/$name.key" \
			--template "$tmpl" --outfile "$PKI/$name.pem" >/dev/null 2>&1
	else
		certtool --generate-certificate --load-privkey "$PKI/$name.key" \
			--load-ca-certificate "$PKI/$signer.pem" \
			--load-ca-privkey "$PKI/$signer.key" \
			--template "$tmpl" --outfile "$PKI/$name.pem" >/dev/null 2>&1
	fi || fail "certtool: certificate $name"
}

# make_pki: PKI=$T/pki with
#   ca, rogue-ca                    two unrelated CAs
#   server                          CN=localhost, SAN localhost 127.0.0.1 ::1 (ca)
#   client1, client2                client certificates (ca)
#   rogue-client1                   CN=client1 signed by rogue-ca
#   expired-client1                 CN=client1 (ca), valid 2001..2002 only
#   seed-server, seed-client, seed-other   self-signed, for the seed mode
make_pki() {
	need_tools certtool
	PKI=$T/pki
	mkdir -p "$PKI"
	local ca="ca" cs="cert_signing_key" usage="signing_key"
	local valid="expiration_days = 30"
	certtool_cert ca "ssltunnel test CA" - "$ca" "$cs" "$valid"
	certtool_cert rogue-ca "ssltunnel rogue CA" - "$ca" "$cs" "$valid"
	certtool_cert server localhost ca "$usage" tls_www_server "$valid" \
		'dns_name = "localhost"' 'ip_address = "127.0.0.1"' \
		'ip_address = "::1"'
	certtool_cert client1 client1 ca "$usage" tls_www_client "$valid"
	certtool_cert client2 client2 ca "$usage" tls_www_client "$valid"
	certtool_cert rogue-client1 client1 rogue-ca "$usage" tls_www_client "$valid"
	certtool_cert expired-client1 client1 ca "$usage" tls_www_client \
		'activation_date = "2001-01-01 00:00:00"' \
		'expiration_date = "2002-01-01 00:00:00"'
	certtool_cert seed-server localhost - "$usage" tls_www_server "$valid" \
		'dns_name = "localhost"' 'ip_address = "127.0.0.1"'
	certtool_cert seed-client seed-client - "$usage" tls_www_client "$valid"
	certtool_cert seed-other seed-client - "$usage" tls_www_client "$valid"
}

# --- stunnel as a peer ---------------------------------------------------------

# run_stunnel NAME PORT: stunnel4 in the foreground on $T/NAME.conf, until
# it listens on PORT.
run_stunnel() {
	stunnel4 "$T/$1.conf" >"$T/$1.out" 2>&1 &
	track $!
	wait_port "$2" --pid "$LAST_PID" || fail "stunnel $1 does not listen on $2"
}

# start_stunnel_server NAME ACCEPT_PORT CONNECT_PORT: stunnel4 in the
# foreground as a TLS server that requires a client certificate chaining
# to the test CA; waits until it listens.
start_stunnel_server() {
	cat >"$T/$1.conf" <<EOC
foreground = yes
pid =
debug = info
output = $T/$1.log
[server]
accept = 127.0.0.1:$2
connect = 127.0.0.1:$3
cert = $PKI/server.pem
key = $PKI/server.key
CAfile = $PKI/ca.pem
verifyChain = yes
requireCert = yes
EOC
	run_stunnel "$1" "$2"
}

# start_stunnel_client NAME ACCEPT_PORT CONNECT_PORT: stunnel4 as a TLS
# client presenting client1's certificate and checking the server's
# chain and name (localhost); waits until it listens.
start_stunnel_client() {
	cat >"$T/$1.conf" <<EOC
foreground = yes
pid =
debug = info
output = $T/$1.log
[client]
client = yes
accept = 127.0.0.1:$2
connect = 127.0.0.1:$3
sni = localhost
cert = $PKI/client1.pem
key = $PKI/client1.key
CAfile = $PKI/ca.pem
verifyChain = yes
checkHost = localhost
EOC
	run_stunnel "$1" "$2"
}

# --- HTTP, WebSocket and DNS peers -----------------------------------------

# Debian's Python, which has python3-websockets (python3 on PATH may not).
PY=/usr/bin/python3

# start_dnsd PORT ARGS...: tests/integration/dnsd.py on 127.0.0.1:PORT
# (NAME=ADDR records, --silent NAME), its queries logged to $T/dnsd.log.
start_dnsd() {
	local port=$1
	shift
	rm -f "$T/dnsd.pid"
	timeout "$TEST_TIMEOUT" "$PY" "$top_srcdir/tests/integration/dnsd.py" "$port" \
		--pid-file "$T/dnsd.pid" --log "$T/dnsd.log" "$@" 2>>"$T/dnsd.err" &
	track $!
	wait_until 10 pid_file_or_gone "$T/dnsd.pid" "$LAST_PID"
	[ -s "$T/dnsd.pid" ] || fail "dnsd on port $port did not start"
}

# tlsreq PORT CERT REQUEST_FILE [ARGS...]: tests/integration/tlsreq.py as
# PKI/CERT; the response head goes to stdout.
tlsreq() {
	local port=$1 cert=$2 req=$3
	shift 3
	timeout 120 "$PY" "$top_srcdir/tests/integration/tlsreq.py" "$port" \
		--cert "$PKI/$cert.pem" --key "$PKI/$cert.key" --ca "$PKI/ca.pem" \
		--request "$req" "$@"
}

# --- assertions -----------------------------------------------------------------

# assert_log_contains FILE REGEX [SECS]: an extended regex matches a line
# of FILE within SECS (default 5) seconds - the daemon logs asynchronously.
assert_log_contains() {
	wait_until "${3:-5}" grep -Eq -- "$2" "$1" ||
		fail "${1##*/} has no line matching: $2"
}

# log_mark FILE: remember how many lines FILE has now, so that
# assert_log_since FILE REGEX [SECS] only looks at lines logged after it.
log_mark() {
	LOG_MARK=$(wc -l <"$1")
}

log_since_has() {
	tail -n "+$(($2 + 1))" "$1" | grep -Eq -- "$3"
}

assert_log_since() {
	wait_until "${3:-5}" log_since_has "$1" "$LOG_MARK" "$2" ||
		fail "${1##*/} has no new line matching: $2"
}

assert_log_lacks() {
	if grep -Eq -- "$2" "$1"; then
		fail "${1##*/} has a line matching: $2: $(grep -E -m1 -- "$2" "$1")"
	fi
}

# assert_no_secrets KEYFILE...: no log of this test (all at log_level
# debug or info; SECRET_LOGS, default every $T/*.log) holds the key in any
# KEYFILE (a PEM file: any line of its body, and of the hex dump certtool
# writes above it; else its first line), nor a SAS token or its signature.
assert_no_secrets() {
	local k f key logs
	# shellcheck disable=SC2206 # a list of paths, split on purpose
	logs=(${SECRET_LOGS:-"$T"/*.log})
	for k in "$@"; do
		if grep -q '^-----BEGIN' "$k"; then
			# Body lines long enough not to match by chance.
			while IFS= read -r key; do
				secret_absent "PEM body of ${k##*/}" "$key" "${logs[@]}"
			done < <({ sed -n '/^-----BEGIN/,/^-----END/p' "$k" |
				   grep -v '^-----'
				   sed -n '/^private key:/,/^$/p' "$k" |
				   tr -d ' \t' | grep ':..:'
				 } | grep -E '^.{16,}$')
			continue
		fi
		key=$(head -n1 "$k")
		[ -n "$key" ] || fail "assert_no_secrets: $k is empty"
		secret_absent "the key of ${k##*/}" "$key" "${logs[@]}"
	done
	for f in "${logs[@]}"; do
		[ -f "$f" ] || continue
		if grep -Eq -- 'SharedAccessSignature|[?&]sig=|sb-hc-token=' "$f"; then
			fail "${f##*/} holds a token: $(grep -Eo -m1 -- '.{0,40}(SharedAccessSignature|sig=|sb-hc-token=)' "$f")"
		fi
	done
}

# secret_absent WHAT TEXT FILE...: no FILE holds TEXT (WHAT names it in
# the failure, which never prints TEXT itself).
secret_absent() {
	local what=$1 text=$2 f
	shift 2
	[ -n "$text" ] || fail "secret_absent: $what is empty"
	for f in "$@"; do
		[ -f "$f" ] || continue
		if grep -qF -- "$text" "$f"; then
			fail "${f##*/} holds $what (line $(grep -nF -- "$text" "$f" | head -n1 | cut -d: -f1))"
		fi
	done
}

file_size_ge() {
	[ -f "$1" ] && [ "$(stat -c %s "$1")" -ge "$2" ]
}

# assert_same EXPECTED GOT: byte-exact, compared by SHA-256. GOT may be a
# backend's sink still being written (the app can see the backend's EOF
# before the backend has read the app's last bytes), so wait up to 10 s
# for it to reach EXPECTED's size first.
assert_same() {
	local a b
	wait_until 10 file_size_ge "$2" "$(stat -c %s "$1")"
	[ -f "$2" ] || fail "$2 does not exist"
	a=$(sha256sum <"$1" | cut -d' ' -f1)
	b=$(sha256sum <"$2" | cut -d' ' -f1)
	[ "$a" = "$b" ] || fail "${2##*/} ($(stat -c %s "$2") bytes, sha256 $b) differs from ${1##*/} ($(stat -c %s "$1") bytes, sha256 $a)"
}

# assert_connections COUNTFILE N [WHY]: the backend accepted exactly N
# connections.
assert_connections() {
	local n
	n=$(wc -l <"$1")
	[ "$n" -eq "$2" ] || fail "${3:+$3: }backend accepted $n connections, expected $2: $(head -n 3 "$1")"
}

# random_file FILE BYTES
random_file() {
	head -c "$2" /dev/urandom >"$1" || fail "cannot write $1"
}

# --- set up -----------------------------------------------------------------------

[ -x "$TCPTOOL" ] || { echo "lib.sh: $TCPTOOL is not built" >&2; exit 99; }
[ -x "$SSLTUNNELD" ] || { echo "lib.sh: $SSLTUNNELD is not built" >&2; exit 99; }
T=$(mktemp -d "${TMPDIR:-/tmp}/ssltunnel-$TEST_NAME.XXXXXX") || exit 99
trap on_exit EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
trap 'exit 129' HUP

# The watchdog: past TEST_TIMEOUT it stops the test (the EXIT trap then
# kills everything). Its sleep is killed by PID when the watchdog is.
(
	trap 'kill "${sp:-}" 2>/dev/null; exit 0' TERM
	sleep "$TEST_TIMEOUT" &
	sp=$!
	wait "$sp" || exit 0
	echo "FAIL: $TEST_NAME: watchdog: still running after $TEST_TIMEOUT s" >&2
	kill -TERM $$
) &
WATCHDOG=$!
