# tests/ktls/lib.sh - for tests of the kernel path: they run only where the
# kernel takes TLS sessions (inside scripts/ktls-vm), and skip elsewhere.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

ktls_available() {
	grep -qw tls /proc/sys/net/ipv4/tcp_available_ulp 2>/dev/null
}
# KTLS_ON_HOST=1 runs the same peers over the userspace path, to debug a
# test outside the VM; the kernel's counters are then not checked.
if ktls_available; then
	export SSLTUNNEL_KTLS=on
	KTLS=1
elif [ -n "${KTLS_ON_HOST:-}" ]; then
	KTLS=0
else
	skip "the kernel has no kTLS here (scripts/ktls-vm runs this)"
fi

# assert_path LOG TUNNEL: the tunnel's connections took the kernel path
# (where there is one).
assert_path() {
	[ "$KTLS" = 1 ] || return 0
	assert_log_contains "$1" "debug: tunnel $2: [^ ]+: ktls=tx\+rx"
	assert_log_lacks "$1" "debug: tunnel $2: [^ ]+: userspace: "
}

# tls_stat NAME: a counter from the kernel's own /proc/net/tls_stat.
tls_stat() {
	awk -v n="$1" '$1 == n { print $2 }' /proc/net/tls_stat
}

# assert_tls_stat_grew NAME BEFORE MIN: the kernel counted at least MIN
# more sessions with keys in the kernel.
assert_tls_stat_grew() {
	local now
	[ "$KTLS" = 1 ] || return 0
	now=$(tls_stat "$1")
	[ $((now - $2)) -ge "$3" ] ||
		fail "/proc/net/tls_stat $1 went from $2 to $now, expected +$3 or more"
}
