// orig-server.js - node-websocket-tunnel's server side (server.js of
// sstur/node-websocket-tunnel), redone with the `ws` package and mutual
// TLS instead of Basic auth, as a peer for ssltunnel's client role.
//
//   node orig-server.js PORT --cert F --key F --ca F [--pid-file F]
//
// Listens on 127.0.0.1:PORT (HTTPS; a client certificate chaining to --ca
// is required). wss://.../tunnel?port=P&host=H (host defaults to
// 127.0.0.1) connects to H:P; once connected it sends
// {"status":"ready","details":"Upstream socket connected"}; on an upstream
// error {"status":"error","details":"Upstream socket error; ..."} and a
// close. Binary messages go to the socket (what comes before the socket
// is connected waits), the socket's data comes back as binary messages.
// The socket's end closes the WebSocket (1000); the WebSocket's close
// ends the socket. One line per connection event on stdout.
'use strict';
const fs = require('fs');
const net = require('net');
const https = require('https');
const { WebSocketServer } = require('ws');

const port = parseInt(process.argv[2], 10);
const args = {};
for (let i = 3; i + 1 < process.argv.length; i += 2)
  args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
if (!port || !args.cert || !args.key || !args.ca) {
  console.error('usage: orig-server.js PORT --cert F --key F --ca F [--pid-file F]');
  process.exit(2);
}

const server = https.createServer({
  cert: fs.readFileSync(args.cert),
  key: fs.readFileSync(args.key),
  ca: fs.readFileSync(args.ca),
  requestCert: true,
  rejectUnauthorized: true,
}, (req, res) => {
  res.writeHead(404, { 'Content-Type': 'text/plain' });
  res.end('404 Not Found.\n');
});
const wss = new WebSocketServer({ server, path: '/tunnel', perMessageDeflate: false });

wss.on('connection', (ws, req) => {
  const q = new URL(req.url, 'https://x').searchParams;
  const host = q.get('host') || '127.0.0.1';
  const dport = parseInt(q.get('port'), 10);
  const who = req.socket.getPeerCertificate().subject.CN + ' -> ' + host + ':' + dport;
  const early = [];
  let connected = false;

  console.log('connected ' + who);
  const sock = net.connect(dport, host, () => {
    connected = true;
    ws.send(JSON.stringify({ status: 'ready', details: 'Upstream socket connected' }));
    for (const b of early.splice(0))
      sock.write(b);
  });
  sock.on('error', (err) => {
    console.log('upstream error ' + who + ': ' + err.message);
    if (ws.readyState === ws.OPEN)
      ws.send(JSON.stringify({ status: 'error', details: 'Upstream socket error; ' + err }));
    ws.close(1000);
  });
  // socket -> WebSocket, pausing the socket while ws's buffers are full
  sock.on('data', (data) => {
    if (ws.readyState !== ws.OPEN)
      return;
    ws.send(data, { binary: true }, () => { if (ws.bufferedAmount < 4194304) sock.resume(); });
    if (ws.bufferedAmount >= 4194304)
      sock.pause();
  });
  sock.on('end', () => ws.close(1000));
  // WebSocket -> socket, pausing the WebSocket while the socket is full
  ws.on('message', (data, isBinary) => {
    if (!isBinary)
      return;	// text carries no data in this protocol
    if (!connected) {
      early.push(data);
      return;
    }
    if (!sock.write(data)) {
      ws.pause();
      sock.once('drain', () => ws.resume());
    }
  });
  ws.on('close', (code) => {
    console.log('closed ' + who + ' (' + code + ')');
    sock.end();
  });
  ws.on('error', (err) => console.log('ws error ' + who + ': ' + err.message));
});

server.listen(port, '127.0.0.1', () => {
  if (args['pid-file'])
    fs.writeFileSync(args['pid-file'], process.pid + '\n');
  console.log('listening on 127.0.0.1:' + port);
});
