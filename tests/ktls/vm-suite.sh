#!/bin/bash
# vm-suite OUTDIR: runs inside the kTLS VM (see vm.sh). Every integration,
# operations and kernel-path test with ktls = "on"; results and the path
# report go to OUTDIR, which the host can read.
set -u
out=$1
: "${top_srcdir:?}" "${top_builddir:?}"
export SSLTUNNEL_KTLS=on PATH_REPORT=$out/paths.txt TMPDIR=/tmp
# Emulated CPUs are slow: less bulk data, more patience.
export BULK_MIB=${BULK_MIB:-8} MATRIX_MIB=${MATRIX_MIB:-2} TEST_TIMEOUT=${TEST_TIMEOUT:-420}
# 200 handshakes at once take longer than 10 s on emulated CPUs.
export HANDSHAKE_TIMEOUT=${HANDSHAKE_TIMEOUT:-60}
: >"$PATH_REPORT"
log=$out/suite.log
: >"$log"
say() { echo "$*" | tee -a "$log"; }

grep -qw tls /proc/sys/net/ipv4/tcp_available_ulp ||
	{ say "vm-suite: the VM kernel offers no tls ULP"; exit 1; }
stat() { awk -v n="$1" '$1 == n { print $2 }' /proc/net/tls_stat; }
tx0=$(stat TlsTxSw)
rx0=$(stat TlsRxSw)

# run_one TEST: run it, leave "RESULT name seconds" in OUTDIR/results.
run_one() {
	local t=$1 name rc start secs logf
	name=${t#"$top_srcdir"/tests/}
	logf=$out/${name//\//_}.log
	start=$(date +%s)
	timeout 480 bash "$t" >"$logf" 2>&1
	rc=$?
	secs=$(($(date +%s) - start))
	case $rc in
	0) echo "PASS $name ${secs}s" ;;
	77) echo "SKIP $name $(grep -m1 SKIP "$logf")" ;;
	*) echo "FAIL $name status=$rc ${secs}s"; mv "$logf" "${logf%.log}.fail.log" ;;
	esac >>"$out/results"
	rm -f "$logf"
}
export -f run_one
export out top_srcdir top_builddir
: >"$out/results"
# Tests marked "# ktls-vm: alone" change the kernel's global state (e.g.
# /proc/sys/kernel/modprobe): first, one at a time, in the fresh VM. The
# rest two at a time: the VM has two virtual CPUs.
alone=() rest=()
for t in "$top_srcdir"/tests/integration/*.sh "$top_srcdir"/tests/ops/*.sh \
	 "$top_srcdir"/tests/ktls/*.sh; do
	case ${t##*/} in
	lib.sh|vm.sh|vm-suite.sh|vm_paths.sh) continue ;;
	esac
	if grep -qx '# ktls-vm: alone' "$t"; then
		alone+=("$t")
	else
		rest+=("$t")
	fi
done
for t in "${alone[@]}"; do
	run_one "$t"
done
printf '%s\0' "${rest[@]}" | xargs -0 -n1 -P2 bash -c 'run_one "$1"' _
sort -k2 "$out/results" | tee -a "$log"
pass=$(grep -c '^PASS' "$out/results")
fail=$(grep -c '^FAIL' "$out/results")
skip=$(grep -c '^SKIP' "$out/results")

tx=$(($(stat TlsTxSw) - tx0))
rx=$(($(stat TlsRxSw) - rx0))
k=$(awk '{ sub("ktls=", "", $2); s += $2 } END { print s + 0 }' "$PATH_REPORT")
u=$(awk '{ sub("userspace=", "", $3); s += $3 } END { print s + 0 }' "$PATH_REPORT")
say "kernel path: $k connections said ktls=tx+rx, $u said userspace"
say "/proc/net/tls_stat: TlsTxSw +$tx, TlsRxSw +$rx"
if [ "$u" -ne 0 ]; then
	say "FAIL: $u connections took the userspace path:"
	grep -v 'userspace=0$' "$PATH_REPORT" | tee -a "$log"
	fail=$((fail + 1))
fi
if [ "$k" -eq 0 ] || [ "$tx" -lt "$k" ] || [ "$rx" -lt "$k" ]; then
	say "FAIL: the kernel counted fewer kTLS sessions (tx $tx, rx $rx) than the daemons relayed ($k)"
	fail=$((fail + 1))
fi
say "vm-suite: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
