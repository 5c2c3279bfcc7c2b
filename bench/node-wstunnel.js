#!/usr/bin/env node
// bench/node-wstunnel.js - the seed's own figure for bench/run: a minimal
// equivalent of node-websocket-tunnel (its tunnel client, lib/tunnel.js,
// and its server.js) on the npm `websocket` package it is built on, with
// mutual TLS like the other contestants.
//
//   node-wstunnel.js server TLS-OPTIONS LISTEN...
//   node-wstunnel.js client TLS-OPTIONS LISTEN=SERVER=HOST:PORT...
//   TLS-OPTIONS: --cert FILE --key FILE --ca FILE [--servername NAME]
//
// server: one https server (requestCert, rejectUnauthorized: a client
//   certificate chaining to --ca is required) on every LISTEN address,
//   WebSockets through the package's WebSocketServer. An upgrade of
//   /tunnel?port=P&host=H connects to H:P, sends the text message
//   {"status":"ready","details":"Upstream socket connected"} and relays:
//   binary messages to the socket, socket data as binary messages.
// client: for each tunnel, listens on LISTEN (plain TCP); each connection
//   opens wss://SERVER/tunnel?port=P&host=H (the package's
//   WebSocketClient, client certificate, --servername checked and sent
//   as SNI) and relays the same way; an {"status":"error"} message closes.
//
// Like the original: a close on either side closes the other (no
// half-close: a FIN from the local side ends the WebSocket), no flow
// control (data is queued in memory as fast as it comes), the package's
// defaults (16 KiB fragments, pings). Differences, so that it can be
// measured: TLS 1.3 with AES-128-GCM and X25519 like the other pairs, no
// session resumption (the package's client uses agent: false), mutual TLS
// instead of Basic authentication, TCP_NODELAY on the plain sockets (as
// the other contestants), binary messages that arrive before the upstream
// socket is connected are queued instead of dropped, and errors are
// logged instead of thrown. NODE_PATH must lead to the `websocket` package.
'use strict';

const fs = require('fs');
const net = require('net');
const https = require('https');
const websocket = require('websocket');

function usage() {
	process.stderr.write('usage: node-wstunnel.js server|client ' +
		'--cert FILE --key FILE --ca FILE [--servername NAME] ' +
		'LISTEN... | LISTEN=SERVER=HOST:PORT...\n');
	process.exit(64);
}

function log(s) {
	process.stderr.write(`node-wstunnel ${role}: ${s}\n`);
}

function addr(s) {
	const i = s.lastIndexOf(':');
	if (i < 1) usage();
	return { host: s.slice(0, i), port: Number(s.slice(i + 1)) };
}

const role = process.argv[2];
const opt = {};
const args = [];
for (let i = 3; i < process.argv.length; i++) {
	const a = process.argv[i];
	if (a.startsWith('--')) {
		if (i + 1 >= process.argv.length) usage();
		opt[a.slice(2)] = process.argv[++i];
	} else {
		args.push(a);
	}
}
if ((role !== 'server' && role !== 'client') || !opt.cert || !opt.key ||
    !opt.ca || args.length === 0)
	usage();

const tls = {
	cert: fs.readFileSync(opt.cert),
	key: fs.readFileSync(opt.key),
	ca: fs.readFileSync(opt.ca),
	minVersion: 'TLSv1.3',
	ciphers: 'TLS_AES_128_GCM_SHA256',
	ecdhCurve: 'X25519',
	rejectUnauthorized: true,
};

function server() {
	const servers = args.map(a => {
		const s = https.createServer({ ...tls, requestCert: true });
		s.on('request', (req, res) => {
			if (req.url === '/') {
				res.writeHead(200, { 'Content-Type': 'text/plain' });
				res.end('This is a secure HTTP/1.1 WebSocket server.\n');
			} else {
				res.writeHead(404, { 'Content-Type': 'text/plain' });
				res.end('404 Not Found.\n');
			}
		});
		s.on('tlsClientError', () => {});
		const { host, port } = addr(a);
		s.listen(port, host);
		return s;
	});
	const wss = new websocket.server({ httpServer: servers });
	wss.on('request', request => {
		const url = new URL(request.resource, 'https://localhost');
		if (url.pathname !== '/tunnel') {
			request.reject(404);
			return;
		}
		tunnel(request.accept(), Number(url.searchParams.get('port')),
			url.searchParams.get('host') || '127.0.0.1');
	});
}

function tunnel(ws, port, host) {
	const tcp = new net.Socket();
	let queue = [];		// binary messages before the connect, then null

	tcp.setNoDelay(true);
	ws.on('message', msg => {
		if (msg.type !== 'binary') return;
		if (queue) queue.push(msg.binaryData);
		else tcp.write(msg.binaryData);
	});
	ws.on('close', () => tcp.destroy());
	ws.on('error', err => log(`websocket: ${err.message}`));
	tcp.on('data', data => ws.sendBytes(data));
	tcp.on('close', () => ws.close());
	tcp.on('error', err => {
		if (ws.connected)
			ws.sendUTF(JSON.stringify({ status: 'error',
				details: 'Upstream socket error; ' + err }));
	});
	tcp.connect(port, host, () => {
		for (const b of queue) tcp.write(b);
		queue = null;
		ws.sendUTF(JSON.stringify({ status: 'ready',
			details: 'Upstream socket connected' }));
	});
}

function client() {
	for (const spec of args) {
		const parts = spec.split('=');
		if (parts.length !== 3) usage();
		const listen = addr(parts[0]), dest = addr(parts[2]);
		const url = `wss://${parts[1]}/tunnel?port=${dest.port}` +
			`&host=${dest.host}`;
		const tlsOptions = { ...tls };
		if (opt.servername) tlsOptions.servername = opt.servername;
		net.createServer(tcp => {
			const wsClient = new websocket.client({ tlsOptions });
			let ws = null, closed = false, buffer = [];

			tcp.setNoDelay(true);
			tcp.on('data', data => {
				if (ws) ws.sendBytes(data);
				else buffer.push(data);
			});
			tcp.on('close', () => {
				closed = true;
				if (ws) ws.close();
			});
			tcp.on('error', () => {});
			wsClient.on('connect', conn => {
				for (const b of buffer) conn.sendBytes(b);
				buffer = null;
				if (closed) {
					conn.close();
					return;
				}
				ws = conn;
				ws.on('message', msg => {
					if (msg.type === 'binary') {
						tcp.write(msg.binaryData);
						return;
					}
					let m = {};
					try { m = JSON.parse(msg.utf8Data); } catch (e) { /* */ }
					if (m.status === 'error') {
						log(m.details);
						ws.close();
					}
				});
				ws.on('close', () => tcp.destroy());
				ws.on('error', err => log(`websocket: ${err.message}`));
			});
			wsClient.on('connectFailed', err => {
				log(`WebSocket connection failed: ${err}`);
				tcp.destroy();
			});
			wsClient.connect(url);
		}).listen(listen.port, listen.host);
	}
}

if (role === 'server') server();
else client();
