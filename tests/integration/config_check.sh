#!/bin/bash
# config_check: `ssltunneld -t` on the real binary. A good config exits 0
# without binding anything; bad ones exit 78 with one "FILE:LINE: WHERE:
# message" line. (The unit tests cover every parser path; this checks the
# binary's exit codes and messages, and certificate/key loading.)
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

make_pki
pick_ports P1 P2 P3

# check_ok CONF: -t exits 0 and says nothing on stderr.
check_ok() {
	local rc=0
	timeout 20 "$SSLTUNNELD" -t -c "$1" >"$T/t.out" 2>"$T/t.err" || rc=$?
	[ "$rc" -eq 0 ] || fail "ssltunneld -t -c ${1##*/}: exit $rc, expected 0: $(cat "$T/t.err")"
	[ -s "$T/t.err" ] && fail "ssltunneld -t -c ${1##*/}: unexpected stderr: $(cat "$T/t.err")"
	return 0
}

# check_bad CONF REGEX: -t exits 78 and stderr is exactly one line
# matching REGEX (anchored).
check_bad() {
	local rc=0
	timeout 20 "$SSLTUNNELD" -t -c "$1" >"$T/t.out" 2>"$T/t.err" || rc=$?
	[ "$rc" -eq 78 ] || fail "ssltunneld -t -c ${1##*/}: exit $rc, expected 78: $(cat "$T/t.err")"
	[ "$(wc -l <"$T/t.err")" -eq 1 ] ||
		fail "ssltunneld -t -c ${1##*/}: expected one line on stderr, got: $(cat "$T/t.err")"
	grep -Eq -- "^$2\$" "$T/t.err" ||
		fail "ssltunneld -t -c ${1##*/}: stderr \"$(cat "$T/t.err")\" does not match: $2"
	say "ok: $(cat "$T/t.err")"
}

# Escape a path for use in an extended regex.
re() {
	printf '%s' "$1" | sed 's/[][\.*^$+?(){}|/]/\\&/g'
}

# --- a good config, with paths relative to the config's folder ------------
cat >"$T/good.conf" <<EOF
daemon = { workers = 2; log_level = "info"; log_target = "stderr"; ktls = "off"; };
defaults = { handshake_timeout = 5; connect_timeout = 5;
             keepalive = { idle = 30; interval = 10; count = 3; }; };
tunnels = (
	{ name = "in"; role = "server"; listen = "127.0.0.1:$P1"; connect = "127.0.0.1:$P3";
	  cert_file = "pki/server.pem"; key_file = "pki/server.key"; ca_file = "pki/ca.pem";
	  allow_cn = [ "client1" ]; allow_dns = [ "client1.example" ]; },
	{ name = "out"; role = "client"; listen = "127.0.0.1:$P2"; connect = "127.0.0.1:$P1";
	  server_name = "localhost"; keepalive = false;
	  cert_file = "pki/client1.pem"; key_file = "pki/client1.key"; ca_file = "pki/ca.pem"; }
);
EOF
# -t binds nothing: it succeeds while another process holds the listen port.
start_backend "$P1" --mode echo
cd / && check_ok "$T/good.conf"
say "ok: good config, listen port held by another process"

# --- bad values, each naming file:line and the setting ------------------------
cat >"$T/role.conf" <<EOF
daemon = { log_target = "stderr"; };
tunnels = (
	{ name = "web";
	  role = "cleint";
	  listen = "127.0.0.1:$P2"; connect = "127.0.0.1:$P3";
	  cert_file = "pki/server.pem"; key_file = "pki/server.key"; ca_file = "pki/ca.pem"; }
);
EOF
check_bad "$T/role.conf" "ssltunneld: $(re "$T/role.conf"):4: tunnel web\.role: expected \"client\", \"server\", \"relay\" or \"listener\", got \"cleint\""

cat >"$T/workers.conf" <<EOF
daemon = {
	log_target = "stderr";
	workers = 5000;
};
tunnels = (
	{ name = "web"; role = "server"; listen = "127.0.0.1:$P2"; connect = "127.0.0.1:$P3";
	  cert_file = "pki/server.pem"; key_file = "pki/server.key"; ca_file = "pki/ca.pem"; }
);
EOF
check_bad "$T/workers.conf" "ssltunneld: $(re "$T/workers.conf"):3: daemon\.workers: expected an integer from 0 to 1024, got 5000"

cat >"$T/unknown.conf" <<EOF
tunnels = (
	{ name = "web"; role = "server"; listen = "127.0.0.1:$P2"; connect = "127.0.0.1:$P3";
	  cert_file = "pki/server.pem"; key_file = "pki/server.key"; ca_file = "pki/ca.pem";
	  bogus = 1; }
);
EOF
check_bad "$T/unknown.conf" "ssltunneld: $(re "$T/unknown.conf"):4: tunnel web\.bogus: unknown setting"

cat >"$T/missing.conf" <<EOF
tunnels = (
	{ name = "web"; role = "server"; listen = "127.0.0.1:$P2"; connect = "127.0.0.1:$P3";
	  key_file = "pki/server.key"; ca_file = "pki/ca.pem"; }
);
EOF
check_bad "$T/missing.conf" "ssltunneld: $(re "$T/missing.conf"):[0-9]+: tunnel web\.cert_file: missing: a server tunnel needs it"

cat >"$T/syntax.conf" <<EOF
daemon = { log_target = "stderr"; };

tunnels = (
	{ name = "web"; role = = "server"; }
);
EOF
check_bad "$T/syntax.conf" "ssltunneld: $(re "$T/syntax.conf"):4: syntax error"

cat >"$T/dup.conf" <<EOF
tunnels = (
	{ name = "web"; role = "server"; listen = "127.0.0.1:$P2"; connect = "127.0.0.1:$P3";
	  cert_file = "pki/server.pem"; key_file = "pki/server.key"; ca_file = "pki/ca.pem"; },
	{ name = "web"; role = "server"; listen = "127.0.0.1:$P1"; connect = "127.0.0.1:$P3";
	  cert_file = "pki/server.pem"; key_file = "pki/server.key"; ca_file = "pki/ca.pem"; }
);
EOF
check_bad "$T/dup.conf" "ssltunneld: $(re "$T/dup.conf"):4: tunnel(s\[1\]| web)\.name: .*already.*"

# --- certificates and keys are loaded by -t --------------------------------------
cat >"$T/keymismatch.conf" <<EOF
tunnels = (
	{ name = "web"; role = "server"; listen = "127.0.0.1:$P2"; connect = "127.0.0.1:$P3";
	  cert_file = "pki/server.pem"; key_file = "pki/client1.key"; ca_file = "pki/ca.pem"; }
);
EOF
check_bad "$T/keymismatch.conf" "ssltunneld: tunnel web: cert_file $(re "$PKI/server.pem") / key_file $(re "$PKI/client1.key"): .+"

cat >"$T/nocert.conf" <<EOF
tunnels = (
	{ name = "web"; role = "client"; listen = "127.0.0.1:$P2"; connect = "127.0.0.1:$P3";
	  cert_file = "pki/nonexistent.pem"; key_file = "pki/client1.key"; ca_file = "pki/ca.pem"; }
);
EOF
check_bad "$T/nocert.conf" "ssltunneld: .*$(re "$PKI/nonexistent.pem").*"

echo "this is not a certificate" >"$T/garbage-ca.pem"
cat >"$T/badca.conf" <<EOF
tunnels = (
	{ name = "web"; role = "server"; listen = "127.0.0.1:$P2"; connect = "127.0.0.1:$P3";
	  cert_file = "pki/server.pem"; key_file = "pki/server.key"; ca_file = "garbage-ca.pem"; }
);
EOF
check_bad "$T/badca.conf" "ssltunneld: .*$(re "$T/garbage-ca.pem").*"

# A rejected config binds nothing and leaves no process behind: starting it
# for real fails the same way.
rc=0
timeout 20 "$SSLTUNNELD" -f -c "$T/keymismatch.conf" >/dev/null 2>"$T/run.err" || rc=$?
[ "$rc" -eq 78 ] || fail "ssltunneld -f -c keymismatch.conf: exit $rc, expected 78: $(cat "$T/run.err")"
"$TCPTOOL" -t 1 listening "$P2" 2>/dev/null && fail "port $P2 is listening after a failed start"

say "PASS"
