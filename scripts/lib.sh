# shellcheck shell=bash
# scripts/lib.sh - shared by scripts/test and scripts/demo: install what is
# missing from Debian's packages, then build out of tree in build/.
#
# Sourced, not run. Expects `set -euo pipefail` in the caller. The
# functions return 1 on failure (and say why on stderr) instead of relying
# on set -e, which bash ignores inside `if` conditions.
# Environment:
#   BUILD_DIR        build folder (default: <repo>/build)
#   CONFIGURE_FLAGS  extra ./configure arguments (default: --enable-werror)

ST_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ST_ROOT/build}
CONFIGURE_FLAGS=${CONFIGURE_FLAGS:---enable-werror}

st_log() { printf '==> %s\n' "$*" >&2; }
st_die() { printf '%s: %s\n' "${0##*/}" "$*" >&2; exit 1; }

# What the build, the tests and the demo use, as "probe:package" pairs.
# A probe is a command name, "pc:MODULE" for a pkg-config module or
# "file:PATH". Everything a test needs is here, so that on a machine where
# scripts/test did the installing no test skips for a missing tool.
ST_DEPS=(
	autoconf:autoconf
	automake:automake
	pkg-config:pkg-config
	gcc:gcc
	make:make
	pc:gnutls:libgnutls28-dev
	pc:libconfig:libconfig-dev
	pc:check:check
	pc:libsystemd:libsystemd-dev
	pc:libcares:libc-ares-dev
	pc:libseccomp:libseccomp-dev
	pc:jansson:libjansson-dev
	file:/usr/include/linux/tls.h:linux-libc-dev
	certtool:gnutls-bin
	gnutls-cli:gnutls-bin
	openssl:openssl
	stunnel4:stunnel4
	socat:socat
	curl:curl
	promtool:prometheus
	pgrep:procps
	# tests/scenario/seccomp.sh: make a worker call what its filter forbids
	strace:strace
	ss:iproute2
	timeout:coreutils
	sha256sum:coreutils
	mandoc:mandoc
	file:/usr/lib/python3/dist-packages/websockets/__init__.py:python3-websockets
	# scripts/deb-test: build, install and run the Debian package (its
	# systemd half boots this machine's systemd in the kTLS VM).
	dpkg-buildpackage:dpkg-dev
	dh:debhelper
	dh_autoreconf:dh-autoreconf
	file:/lib/systemd/systemd:systemd
	node:nodejs
	npm:npm
	tinyproxy:tinyproxy
	squid:squid
	# password hashes made by real tools (issue 10's tests)
	mkpasswd:whois
	htpasswd:apache2-utils
	file:/usr/include/crypt.h:libcrypt-dev
	# issue 11's tests: a real load balancer in front, a real Prometheus
	haproxy:haproxy
	prometheus:prometheus
	# issue 13: the fuzz pass (clang's libFuzzer; wslay, the WebSocket
	# decoder's differential) and the unit tests under valgrind
	clang:clang
	file:/usr/include/wslay/wslay.h:libwslay-dev
	valgrind:valgrind
)

# Run a command as root: directly, or through sudo when we are not root.
st_as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo -n "$@" || sudo "$@"
	else
		st_die "need root to run: $* (not root and no sudo)"
	fi
}

# True when the probe (see ST_DEPS) is satisfied.
st_have() {
	case $1 in
	pc:*)	command -v pkg-config >/dev/null 2>&1 &&
			pkg-config --exists "${1#pc:}" ;;
	file:*)	test -e "${1#file:}" ;;
	*)	command -v "$1" >/dev/null 2>&1 ;;
	esac
}

# apt-get install without starting services: squid and tinyproxy, which
# the tests run themselves on 127.0.0.1, would otherwise be started by
# their packages and listen on every interface. While apt-get runs, a
# policy-rc.d denies starts, unless the machine has one of its own.
st_apt_install() {
	local rc=0 own=0 p=/usr/sbin/policy-rc.d
	[ -e "$p" ] && own=1
	if [ "$own" = 0 ]; then
		printf '#!/bin/sh\n# scripts/lib.sh: no service starts while installing\nexit 101\n' |
			st_as_root tee "$p" >/dev/null && st_as_root chmod 755 "$p" ||
			return 1
	fi
	st_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends "$@" </dev/null || rc=$?
	[ "$own" = 1 ] || st_as_root rm -f "$p"
	return "$rc"
}

# Install, with apt-get, the packages whose probe fails. Does nothing (and
# never calls apt-get) when everything is there already.
st_install_deps() {
	local dep probe pkg missing=()

	for dep in "${ST_DEPS[@]}"; do
		pkg=${dep##*:}
		probe=${dep%:*}
		# pkg-config modules can only be probed once pkg-config exists;
		# the second pass below catches them.
		st_have "$probe" && continue
		case " ${missing[*]-} " in *" $pkg "*) continue ;; esac
		missing+=("$pkg")
	done
	[ ${#missing[@]} -eq 0 ] && return 0

	if ! command -v apt-get >/dev/null 2>&1; then
		st_log "missing ${missing[*]} and no apt-get to install them"
		return 1
	fi
	st_log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	st_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q \
		</dev/null || return 1
	st_apt_install "${missing[@]}" || return 1

	for dep in "${ST_DEPS[@]}"; do
		if ! st_have "${dep%:*}"; then
			st_log "still missing ${dep%:*} after installing ${dep##*:}"
			return 1
		fi
	done
}

# The npm peers of the tests and the benchmark (tests/peers: ws, and
# websocket, the library node-websocket-tunnel uses), installed from the
# lock file into $BUILD_DIR/peers/node_modules unless they are there.
st_install_peers() {
	local dir=$BUILD_DIR/peers src=$ST_ROOT/tests/peers
	if [ -d "$dir/node_modules/ws" ] && [ -d "$dir/node_modules/websocket" ] &&
		cmp -s "$src/package-lock.json" "$dir/package-lock.json"; then
		return 0
	fi
	st_log "npm ci (tests/peers) in $dir"
	mkdir -p "$dir" || return 1
	cp "$src/package.json" "$src/package-lock.json" "$dir/" || return 1
	(cd "$dir" && timeout 600 npm ci --ignore-scripts --no-audit --no-fund \
		</dev/null >&2) || { st_log "npm ci failed"; return 1; }
}

# hyco-ws, Microsoft's Azure Relay Hybrid Connections client for node, for
# tests/integration/relay_hyco.sh (through tests/integration/hyco.js), in
# $BUILD_DIR/peers/hyco/node_modules unless it loads from there already.
# `npm install hyco-ws` cannot work: its package.json names node's
# built-ins (http, crypto, events, util) as registry dependencies. So the
# package is fetched with `npm pack` and unpacked by hand, and only its
# real dependencies are installed: ws 1.1.x (it reaches into ws's lib/)
# and moment. npm prunes what no package.json asks for, so the
# dependencies go in first and hyco-ws is unpacked after them. npm's
# output is shown only when a step fails.
ST_HYCO_VERSION=1.0.5
ST_HYCO_DEPS=(ws@1.1.5 moment@2.31.0)

# True when hyco-ws loads from $1/node_modules in the versions wanted.
st_hyco_loads() {
	[ -d "$1/node_modules/hyco-ws" ] && (cd "$1" && timeout 60 node -e '
		const v = (m) => require(m + "/package.json").version;
		require("hyco-ws");
		if (v("hyco-ws") !== process.argv[1] || v("ws") !== process.argv[2])
			process.exit(1);' "$ST_HYCO_VERSION" "${ST_HYCO_DEPS[0]#ws@}" \
		</dev/null >/dev/null 2>&1)
}

st_install_hyco() {
	local dir=$BUILD_DIR/peers/hyco tmp rc=0
	if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
		st_log "hyco-ws: node and npm are needed to install it"
		return 1
	fi
	st_hyco_loads "$dir" && return 0
	st_log "npm: hyco-ws@$ST_HYCO_VERSION (${ST_HYCO_DEPS[*]}) in $dir"
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/st-hyco.XXXXXX") || return 1
	st_install_hyco_in "$dir" "$tmp" || rc=$?
	if [ "$rc" != 0 ] && [ -s "$tmp/npm.log" ]; then
		tail -n 40 "$tmp/npm.log" >&2
	fi
	rm -rf "$tmp"
	return "$rc"
}

# st_install_hyco_in DIR TMP: the steps of st_install_hyco, npm's output
# to TMP/npm.log.
st_install_hyco_in() {
	local dir=$1 tmp=$2 tgz npmq=(--no-audit --no-fund --no-update-notifier)
	rm -rf "$dir" && mkdir -p "$dir" "$tmp/pack" || return 1
	# Its own package.json, so that npm installs here and not into a
	# project found further up (such as $BUILD_DIR/peers).
	printf '%s\n' '{ "name": "ssltunnel-hyco-peer", "private": true,' \
		'  "description": "hyco-ws for tests/integration/hyco.js, installed by scripts/lib.sh (st_install_hyco)" }' \
		>"$dir/package.json" || return 1
	(cd "$dir" && timeout 600 npm install --no-save --no-package-lock \
		--ignore-scripts "${npmq[@]}" "${ST_HYCO_DEPS[@]}" \
		</dev/null >>"$tmp/npm.log" 2>&1) ||
		{ st_log "hyco-ws: npm install ${ST_HYCO_DEPS[*]} failed"; return 1; }
	tgz=$(cd "$tmp/pack" && timeout 600 npm pack --silent "${npmq[@]}" \
		"hyco-ws@$ST_HYCO_VERSION" </dev/null 2>>"$tmp/npm.log" | tail -n 1) ||
		tgz=
	if [ -z "$tgz" ] || [ ! -f "$tmp/pack/$tgz" ]; then
		st_log "hyco-ws: npm pack hyco-ws@$ST_HYCO_VERSION failed"
		return 1
	fi
	if ! mkdir -p "$dir/node_modules/hyco-ws" ||
		! tar -xzf "$tmp/pack/$tgz" -C "$dir/node_modules/hyco-ws" \
			--strip-components=1 --no-same-owner >>"$tmp/npm.log" 2>&1; then
		st_log "hyco-ws: cannot unpack $tgz"
		return 1
	fi
	st_hyco_loads "$dir" ||
		{ st_log "hyco-ws: installed in $dir but require(\"hyco-ws\") fails"; return 1; }
}

# autoreconf in the source tree, configure in $BUILD_DIR. With "fresh" as
# $1 both always run; otherwise only when the build folder has no Makefile
# yet (make re-runs the autotools itself when their inputs change).
st_configure() {
	if [ "${1-}" != fresh ] && [ -f "$BUILD_DIR/Makefile" ]; then
		return 0
	fi
	if [ -f "$ST_ROOT/config.status" ]; then
		st_log "$ST_ROOT was configured in place; run 'make distclean' there first (builds go to $BUILD_DIR)"
		return 1
	fi
	st_log "autoreconf -fi"
	# git keeps no empty folders, and aclocal wants the m4 folder
	# that configure.ac names.
	mkdir -p "$ST_ROOT/m4" || return 1
	(cd "$ST_ROOT" && autoreconf -fi) || return 1
	st_log "configure in $BUILD_DIR"
	mkdir -p "$BUILD_DIR" || return 1
	# shellcheck disable=SC2086 # CONFIGURE_FLAGS is a word list
	(cd "$BUILD_DIR" && "$ST_ROOT/configure" $CONFIGURE_FLAGS) || return 1
}

st_make() {
	make -C "$BUILD_DIR" -j"$(nproc)" "$@"
}
