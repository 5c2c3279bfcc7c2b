#!/bin/bash
# vm_paths: scripts/ktls-vm shows a tree that lives where the VM used to
# put scratch space. A copy of the checkout's scripts and tests, of the
# built daemon and of the kernel cache goes under /var/tmp; from there the
# VM runs the kernel-path matrix (AES-GCM needs the kernel to autoload gcm
# from the cache's module tree) with no writable share, so every file the
# run reads comes through the VM's view of the host's /var/tmp. Also: a
# working directory the VM cannot show (under /run) fails at once, before
# booting, with a message naming it.
# Exit 77 (skip) when qemu or the kernel image can't be had.
# A VM boot and six TLS pairs under emulation: more than the default.
: "${TEST_TIMEOUT:=1200}"
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/lib.sh"

[ "${KTLS_VM_INSIDE-}" = 1 ] && skip "runs the VM itself (host only)"
[ "$(id -u)" -eq 0 ] || skip "needs root (qemu's 9p shares the host's root)"

W=$(mktemp -d /var/tmp/ssltunnel-vm_paths.XXXXXX) || fail "mktemp under /var/tmp"
R=$(mktemp -d /run/ssltunnel-vm_paths.XXXXXX) || fail "mktemp under /run"
trap 'rc=$?; rm -rf "$W" "$R"; (exit $rc); on_exit' EXIT

# vm DIR OUT CMD...: scripts/ktls-vm from the copy, in DIR, output in OUT,
# in the background and tracked (so the watchdog stops it); its status.
vm() {
	local dir=$1 out=$2 pid rc
	shift 2
	(cd "$dir" && exec env KTLS_VM_FORCE=1 KTLS_VM_DIR="$W/build/vm" \
		KTLS_VM_RW= KTLS_VM_TIMEOUT=900 "$W/src/scripts/ktls-vm" -- "$@") \
		>"$out" 2>&1 </dev/null &
	pid=$!
	track "$pid"
	wait "$pid"
	rc=$?
	PIDS=${PIDS/ $pid/}
	return "$rc"
}

# The cache is set up (or reused) in the build tree, then copied: hard
# links where the file system allows, a plain copy otherwise.
vm=$top_builddir/vm
KTLS_VM_DIR=$vm "$top_srcdir/scripts/ktls-vm" --setup-only >"$T/setup.log" 2>&1
rc=$?
[ "$rc" = 77 ] && skip "no qemu or kernel image for the kTLS VM"
[ "$rc" = 0 ] || fail "ktls-vm --setup-only exited $rc"
mkdir -p "$W/src" "$W/build/daemon" "$W/build/tests/integration" "$W/build/vm"
cp -a "$top_srcdir/scripts" "$top_srcdir/tests" "$W/src/" || fail "copy the checkout"
cp -a "$SSLTUNNELD" "$W/build/daemon/" || fail "copy ssltunneld"
cp -a "$TCPTOOL" "$W/build/tests/integration/" || fail "copy tcptool"
cp -al "$vm/kernel" "$vm/busybox" "$W/build/vm/" 2>/dev/null ||
	cp -a "$vm/kernel" "$vm/busybox" "$W/build/vm/" || fail "copy the kernel cache"

# 1. A working directory under /run: refused before the VM boots.
start=$(date +%s)
vm "$R" "$T/run.out" true
rc=$?
[ "$rc" = 125 ] || fail "ktls-vm in $R exited $rc, expected 125"
grep -qF "$R is under /run, which the VM replaces" "$T/run.out" ||
	fail "no message naming $R: $(cat "$T/run.out")"
[ $(($(date +%s) - start)) -lt 60 ] || fail "the refusal took a VM boot's time"
say "ok: a working directory under /run is refused at once, named"

# 2. The matrix, from the copy, with nothing shared writable.
vm "$W/build" "$T/vm.out" env top_srcdir="$W/src" top_builddir="$W/build" \
	MATRIX_MIB=1 TEST_TIMEOUT=600 bash "$W/src/tests/ktls/matrix.sh"
rc=$?
cat "$T/vm.out"
[ "$rc" = 77 ] && grep -q 'cannot run a kTLS VM' "$T/vm.out" &&
	skip "no qemu or kernel image for the kTLS VM"
[ "$rc" = 0 ] || fail "matrix.sh from $W exited $rc in the VM"
n=$(grep -c 'MiB echoed byte-exact, kTLS both ends' "$T/vm.out")
[ "$n" = 6 ] || fail "expected 6 cipher x version cases on the kernel path, got $n"
grep -q 'AES-128-GCM: 1 MiB echoed byte-exact, kTLS both ends' "$T/vm.out" ||
	fail "AES-128-GCM did not take the kernel path"
say "PASS"
