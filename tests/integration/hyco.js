// hyco.js - a peer of tests/integration/relay_hyco.sh built on hyco-ws,
// Microsoft's Azure Relay Hybrid Connections client for node (installed by
// scripts/lib.sh's st_install_hyco into $HYCO_DIR/node_modules).
//
//   node hyco.js token URI KEYNAME KEY SECONDS
//       print createRelayToken(URI, KEYNAME, KEY, SECONDS)
//   node hyco.js listen NS PATH KEYNAME KEY
//       a hyco listener (createRelayedServer) on wss://NS:443/$hc/PATH,
//       its token for http://NS/PATH renewed the way hyco renews it; every
//       accepted WebSocket echoes each message back with its own type.
//       Prints "listening" each time the control channel opens (hyco's
//       'listening' event), "accepted N" for each accept message the relay
//       sends, "closed N CODE" when that connection closes. Runs until
//       killed.
//   node hyco.js send NS PATH KEYNAME KEY BYTES [SEED]
//       relayedConnect to wss://NS:443/$hc/PATH?sb-hc-action=connect;
//       sends BYTES pseudo-random bytes (from SEED, default 1) as binary
//       messages of 1 byte .. 64 KiB, at most HYCO_WINDOW bytes (default
//       2 MiB) sent and not yet echoed, compares the echo as it arrives,
//       then closes with 1000. Exit 0: every byte came back in order and
//       the close handshake ended with 1000; 1: a failure (the first
//       mismatching offset is printed); 2: HYCO_TIMEOUT passed.
//
// Environment:
//   HYCO_DIR             where hyco-ws is installed (its node_modules), required
//   NODE_EXTRA_CA_CERTS  node's own: the CA that signed the relay's certificate
//                        (ws 1.1.5 passes no ca of its own, so node's default
//                        store, extra certificates included, is what it checks)
//   HYCO_CA_FILE         instead: the only CA trusted (set on https.globalAgent,
//                        the agent every hyco-ws connection goes through)
//   HYCO_TIMEOUT         send: seconds before giving up with exit 2 (default 60)
//   HYCO_EXPECT_STATUS   send: exit 0 only if the upgrade is refused with this
//                        HTTP status (printed as "status N MESSAGE")
//   HYCO_TOKEN_URI       send: the URI the token is made for (default http://NS/PATH)
//   HYCO_CLOSE_AFTER     listen: close each connection with 1000 once it has
//                        echoed this many bytes (for a TCP peer that cannot
//                        half-close: a WebSocket close is a full close)
//   HYCO_TOKEN_SECONDS   send: the token's lifetime (default 3600; negative: expired)
//   HYCO_WINDOW          send: bytes in flight at most (default 2 MiB)
//   HYCO_MAX_ATTEMPTS    listen: exit 4 once hyco has opened this many control
//                        channels (default 1000, 0: no limit). hyco reconnects at
//                        once, with no backoff, and twice for every failed dial
//                        (from its error and its close handler), so a relay that
//                        is down or refuses gets a storm that grows without end.
'use strict';

const fs = require('fs');
const https = require('https');
const path = require('path');

// ws 1.1.5 uses new Buffer(): one warning per process on stderr, noise.
process.noDeprecation = true;

function die(code, msg) {
	process.stderr.write('hyco.js: ' + msg + '\n');
	process.exit(code);
}

function usage() {
	die(3, 'usage: hyco.js token URI KEYNAME KEY SECONDS | ' +
		'listen NS PATH KEYNAME KEY | send NS PATH KEYNAME KEY BYTES [SEED]');
}

function loadHyco() {
	const dir = process.env.HYCO_DIR;
	if (!dir)
		die(3, 'HYCO_DIR is not set (the folder whose node_modules has hyco-ws)');
	if (process.env.HYCO_CA_FILE)
		https.globalAgent.options.ca = [fs.readFileSync(process.env.HYCO_CA_FILE)];
	return require(path.join(path.resolve(dir), 'node_modules', 'hyco-ws'));
}

// Deterministic bytes: mulberry32, four bytes a step.
function Rng(seed) {
	this.s = seed >>> 0;
	this.buf = Buffer.alloc(4);
	this.left = 0;
}
Rng.prototype.next32 = function () {
	let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
	t = Math.imul(t ^ (t >>> 15), t | 1);
	t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
	return (t ^ (t >>> 14)) >>> 0;
};
Rng.prototype.fill = function (b) {
	for (let i = 0; i < b.length; i++) {
		if (this.left === 0) {
			this.buf.writeUInt32LE(this.next32(), 0);
			this.left = 4;
		}
		b[i] = this.buf[4 - this.left--];
	}
	return b;
};

// Message sizes: 1 byte and 64 KiB first, then a mix of tiny, small and
// large ones up to 64 KiB.
function Sizes(seed) {
	this.rng = new Rng((seed ^ 0x9e3779b9) >>> 0);
	this.n = 0;
}
Sizes.prototype.next = function () {
	const k = this.n++;
	if (k === 0) return 1;
	if (k === 1) return 65536;
	const r = this.rng.next32(), v = this.rng.next32();
	switch (r & 3) {
	case 0: return 1 + (v % 16);
	case 1: return 1 + (v % 1024);
	default: return 1 + (v % 65536);
	}
};

// At most one line a second of a repeating complaint, with a count.
function Throttled(what) {
	this.what = what;
	this.last = 0;
	this.quiet = 0;
}
Throttled.prototype.say = function (msg) {
	const now = Date.now();
	if (now - this.last < 1000) {
		this.quiet++;
		return;
	}
	process.stderr.write('hyco.js: ' + this.what + ': ' + msg +
		(this.quiet ? ' (and ' + this.quiet + ' more)' : '') + '\n');
	this.last = now;
	this.quiet = 0;
};

function token(args) {
	if (args.length !== 4) usage();
	const WS = loadHyco();
	console.log(WS.createRelayToken(args[0], args[1], args[2], Number(args[3])));
}

function listen(args) {
	if (args.length !== 4) usage();
	const [ns, hcPath, keyName, key] = args;
	const WS = loadHyco();
	const dials = new Throttled('control channel');
	const errors = new Throttled('control channel error');
	const maxAttempts = Number(process.env.HYCO_MAX_ATTEMPTS || 1000);
	const closeAfter = Number(process.env.HYCO_CLOSE_AFTER || 0);
	let attempts = 0, accepted = 0;

	// hyco calls this for every control channel it opens (the first, and
	// each reconnect), and every hour to renew the token on the open one.
	const makeToken = function () {
		attempts++;
		if (maxAttempts && attempts > maxAttempts)
			die(4, 'giving up: ' + maxAttempts + ' control channel attempts (HYCO_MAX_ATTEMPTS)');
		if (attempts > 1) dials.say('connecting, attempt ' + attempts);
		return WS.createRelayToken('http://' + ns + '/' + hcPath, keyName, key, 3600);
	};
	const server = WS.createRelayedServer({
		server: WS.createRelayListenUri(ns, hcPath),
		token: makeToken
	}, function (ws) {
		const n = ++accepted;
		let paused = false, echoed = 0;
		console.log('accepted ' + n);
		ws.on('message', function (data, flags) {
			ws.send(data, { binary: !!(flags && flags.binary) }, function (err) {
				if (err) process.stderr.write('hyco.js: connection ' + n + ': send: ' + err + '\n');
			});
			echoed += Buffer.isBuffer(data) ? data.length : Buffer.byteLength(data);
			if (closeAfter && echoed >= closeAfter && ws.readyState === WS.OPEN) {
				ws.close(1000, 'echoed');
				return;
			}
			// Backpressure: stop reading while 4 MiB wait to be written.
			const sock = ws._socket;
			if (!paused && sock && sock.writableLength > 4 * 1024 * 1024) {
				paused = true;
				ws.pause();
				sock.once('drain', function () {
					paused = false;
					if (ws.readyState === WS.OPEN) ws.resume();
				});
			}
		});
		ws.on('error', function (err) {
			process.stderr.write('hyco.js: connection ' + n + ': ' + err + '\n');
		});
		ws.on('close', function (code) {
			console.log('closed ' + n + ' ' + code);
		});
	});
	// hyco emits 'listening' when the control channel's upgrade succeeds.
	server.on('listening', function () {
		console.log('listening');
	});
	// Without a listener hyco's 'error' would throw. hyco reconnects by
	// itself, at once, on every error and every close of the channel.
	server.on('error', function (err) {
		errors.say(String(err && err.message ? err.message : err));
	});
}

function send(args) {
	if (args.length !== 5 && args.length !== 6) usage();
	const [ns, hcPath, keyName, key] = args;
	const total = Number(args[4]);
	const seed = args.length === 6 ? Number(args[5]) : 1;
	if (!Number.isSafeInteger(total) || total < 0 || !Number.isSafeInteger(seed)) usage();
	const expect = process.env.HYCO_EXPECT_STATUS ? Number(process.env.HYCO_EXPECT_STATUS) : 0;
	const secs = Number(process.env.HYCO_TIMEOUT || 60);
	const windowBytes = Number(process.env.HYCO_WINDOW || 2 * 1024 * 1024);
	const WS = loadHyco();
	const tx = new Rng(seed), rx = new Rng(seed), sizes = new Sizes(seed);
	let sent = 0, recv = 0, msgs = 0, done = false, closing = false;

	setTimeout(function () {
		die(2, 'timeout after ' + secs + ' s: sent ' + sent + ', received ' + recv +
			' of ' + total + ' bytes');
	}, secs * 1000);

	const tokenUri = process.env.HYCO_TOKEN_URI || ('http://' + ns + '/' + hcPath);
	const ws = WS.relayedConnect(WS.createRelaySendUri(ns, hcPath),
		WS.createRelayToken(tokenUri, keyName, key,
			Number(process.env.HYCO_TOKEN_SECONDS || 3600)));

	// ws 1.1.5 emits 'unexpected-response' (req, res) when the upgrade is
	// answered with anything but 101; with no listener it would emit
	// 'error' "unexpected server response (N)" instead.
	ws.on('unexpected-response', function (req, res) {
		console.log('status ' + res.statusCode + ' ' + (res.statusMessage || ''));
		res.resume();
		req.destroy();
		if (expect)
			process.exit(res.statusCode === expect ? 0 : 1);
		die(1, 'the upgrade failed: HTTP ' + res.statusCode);
	});
	ws.on('error', function (err) {
		die(1, 'error: ' + (err && err.message ? err.message : err) +
			' (sent ' + sent + ', received ' + recv + ')');
	});

	function pump() {
		while (!closing && sent < total && sent - recv < windowBytes) {
			const n = Math.min(sizes.next(), total - sent);
			ws.send(tx.fill(Buffer.allocUnsafe(n)), { binary: true }, function (err) {
				if (err) die(1, 'send: ' + err);
			});
			sent += n;
			msgs++;
		}
	}

	function finish() {
		done = closing = true;
		ws.close(1000, 'done');
	}

	ws.on('open', function () {
		if (expect) {
			console.log('upgraded');
			die(1, 'the upgrade succeeded, expected HTTP status ' + expect);
		}
		console.log('open');
		if (total === 0) finish();
		else pump();
	});
	ws.on('message', function (data, flags) {
		if (!(flags && flags.binary))
			die(1, 'a text message came back at offset ' + recv + ', expected binary');
		if (recv + data.length > total)
			die(1, 'received more than sent: ' + (recv + data.length) + ' > ' + total + ' bytes');
		const want = rx.fill(Buffer.allocUnsafe(data.length));
		if (!want.equals(data)) {
			let i = 0;
			while (data[i] === want[i]) i++;
			die(1, 'mismatch at offset ' + (recv + i) + ': got ' + data[i] + ', expected ' + want[i]);
		}
		recv += data.length;
		if (recv === total) finish();
		else pump();
	});
	ws.on('close', function (code, reason) {
		console.log('close ' + code + (reason ? ' ' + reason : ''));
		if (!done)
			die(1, 'closed after ' + recv + ' of ' + total + ' bytes (' + sent + ' sent)');
		if (code !== 1000)
			die(1, 'the close handshake ended with ' + code + ', expected 1000');
		console.log('ok ' + total + ' bytes in ' + msgs + ' messages, echoed byte-exact');
		process.exit(0);
	});
}

const mode = process.argv[2];
const rest = process.argv.slice(3);
if (mode === 'token') token(rest);
else if (mode === 'listen') listen(rest);
else if (mode === 'send') send(rest);
else usage();
