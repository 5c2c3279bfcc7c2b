// ws-client.js - a client of node-websocket-tunnel's protocol, with the
// `ws` package: the test's stand-in for the original connect.js.
//
//   node ws-client.js URL --cert F --key F --ca F [--servername NAME]
//                         [--send FILE] [--out FILE] [--chunk BYTES]
//
// Opens URL (wss://HOST:PORT/tunnel?...) with a client certificate and
// checks the server's certificate against --ca for --servername (default
// localhost). Right after the upgrade (without waiting for "ready") it
// sends FILE as binary messages of --chunk bytes, writes the binary
// messages it gets to --out until it has as many bytes as it sent, then
// closes with 1000. It prints one line per event:
//   status TEXT         a text message (the server's status)
//   close CODE REASON   the connection closed
//   received BYTES      at the end: binary bytes received
// Exit 0 when every sent byte came back and the close handshake completed,
// 1 otherwise.
'use strict';
const fs = require('fs');
const WebSocket = require('ws');

const args = { servername: 'localhost', chunk: '65536' };
let url = null;
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a.startsWith('--') && i + 1 < process.argv.length) {
    args[a.slice(2)] = process.argv[++i];
  } else if (!url) {
    url = a;
  } else {
    console.error('usage: ws-client.js URL --cert F --key F --ca F [--send FILE] [--out FILE]');
    process.exit(2);
  }
}
if (!url || !args.cert || !args.key || !args.ca) {
  console.error('usage: ws-client.js URL --cert F --key F --ca F [--send FILE] [--out FILE]');
  process.exit(2);
}

const input = args.send ? fs.readFileSync(args.send) : Buffer.alloc(0);
const out = args.out ? fs.openSync(args.out, 'w') : null;
const chunk = parseInt(args.chunk, 10);
let received = 0;
let closedCleanly = false;

const ws = new WebSocket(url, {
  cert: fs.readFileSync(args.cert),
  key: fs.readFileSync(args.key),
  ca: fs.readFileSync(args.ca),
  servername: args.servername,
  rejectUnauthorized: true,
  perMessageDeflate: false,
});

// Send INPUT in chunks, at most 4 MiB waiting in ws's buffers.
let off = 0;
function pump() {
  while (off < input.length && ws.readyState === WebSocket.OPEN) {
    const piece = input.subarray(off, Math.min(off + chunk, input.length));
    off += piece.length;
    if (ws.bufferedAmount + piece.length > 4 * 1024 * 1024) {
      ws.send(piece, { binary: true }, (err) => { if (!err) pump(); });
      return;
    }
    ws.send(piece, { binary: true });
  }
}

function maybeClose() {
  if (received >= input.length && ws.readyState === WebSocket.OPEN)
    ws.close(1000, 'done');
}

ws.on('open', () => {
  pump();
  maybeClose();	// nothing to send: close at once
});

ws.on('message', (data, isBinary) => {
  if (!isBinary) {
    console.log('status ' + data.toString('utf8'));
    return;
  }
  received += data.length;
  if (out !== null)
    fs.writeSync(out, data);
  maybeClose();
});

ws.on('unexpected-response', (req, res) => {
  console.log('http ' + res.statusCode);
  process.exitCode = 1;
  res.resume();
  ws.terminate();
});

ws.on('error', (err) => {
  console.error('ws-client: ' + err.message);
  process.exitCode = 1;
});

ws.on('close', (code, reason) => {
  console.log('close ' + code + ' ' + reason.toString('utf8'));
  console.log('received ' + received);
  closedCleanly = code === 1000;
  if (out !== null)
    fs.closeSync(out);
  if (received !== input.length || !closedCleanly)
    process.exitCode = 1;
});
