#!/usr/bin/python3
"""hclisten.py - a Hybrid Connections listener held by hand, for the relay's
edge cases: it opens the control channel and never accepts anyone.

  hclisten.py PORT PATH TOKEN --ca CA [--renew TOKEN2 --renew-after S]
              [--hold S] [--deaf]

It connects to wss://127.0.0.1:PORT/$hc/PATH?sb-hc-action=listen with
TOKEN in the ServiceBusAuthorization header, prints "listening", then
for HOLD seconds (default 5) prints "accept ADDRESS" for every accept
message (and does nothing with it: the sender waits for
relay_accept_timeout). With --renew it sends {"renewToken": TOKEN2}
after S seconds and prints "renewed". At the end it prints "open" if the
channel is still up, or "closed CODE REASON" as soon as the relay closes
it. Pings from the relay are answered by the websockets library; it
sends none of its own. Exit status 0, or 1 when it could not connect.

With --deaf it speaks WebSocket by hand and never answers a ping: it
prints "listening", then "ping" for each ping frame, "close CODE" for a
close frame and "eof" when the relay drops the connection, for HOLD
seconds at most.
"""
import argparse
import asyncio
import base64
import json
import os
import socket
import ssl
import struct
import sys
import time
import uuid

import websockets


async def run(a):
    ctx = ssl.create_default_context(cafile=a.ca)
    uri = "wss://127.0.0.1:%d/$hc/%s?sb-hc-action=listen&sb-hc-id=%s" % (
        a.port, a.path, uuid.uuid4().hex)
    try:
        ws = await websockets.connect(
            uri, ssl=ctx, ping_interval=None, open_timeout=10,
            extra_headers={"ServiceBusAuthorization": a.token})
    except Exception as e:  # the status line is what the test wants
        print("refused %s" % e, flush=True)
        return 1
    print("listening", flush=True)
    loop = asyncio.get_running_loop()
    end = loop.time() + a.hold
    renew_at = loop.time() + a.renew_after if a.renew else None
    while True:
        now = loop.time()
        if now >= end:
            print("open", flush=True)
            await ws.close()
            return 0
        wake = end if renew_at is None else min(end, renew_at)
        try:
            msg = await asyncio.wait_for(ws.recv(), max(0.01, wake - now))
        except asyncio.TimeoutError:
            if renew_at is not None and loop.time() >= renew_at:
                await ws.send(json.dumps({"renewToken": {"token": a.renew}}))
                print("renewed", flush=True)
                renew_at = None
            continue
        except websockets.ConnectionClosed as e:
            print("closed %s %s" % (e.code, e.reason), flush=True)
            return 0
        if isinstance(msg, str):
            m = json.loads(msg)
            if "accept" in m:
                print("accept %s" % m["accept"]["address"], flush=True)
                continue
        print("other %r" % (msg[:80],), flush=True)


def deaf(a):
    ctx = ssl.create_default_context(cafile=a.ca)
    raw = socket.create_connection(("127.0.0.1", a.port), timeout=10)
    s = ctx.wrap_socket(raw, server_hostname="localhost")
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((
        "GET /$hc/%s?sb-hc-action=listen&sb-hc-id=%s HTTP/1.1\r\n"
        "Host: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
        "ServiceBusAuthorization: %s\r\n\r\n"
        % (a.path, uuid.uuid4().hex, key, a.token)).encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            print("refused eof", flush=True)
            return 1
        buf += chunk
    head, buf = buf.split(b"\r\n\r\n", 1)
    if not head.startswith(b"HTTP/1.1 101"):
        print("refused %s" % head.split(b"\r\n")[0].decode(), flush=True)
        return 1
    print("listening", flush=True)
    end = time.monotonic() + a.hold
    while time.monotonic() < end:
        # one whole frame from the relay (unmasked, short payloads)
        while len(buf) < 2 or len(buf) < 2 + (buf[1] & 0x7f):
            s.settimeout(max(0.01, end - time.monotonic()))
            try:
                chunk = s.recv(4096)
            except (socket.timeout, TimeoutError):
                print("open", flush=True)
                return 0
            except (ssl.SSLError, OSError):
                chunk = b""
            if not chunk:
                print("eof", flush=True)
                return 0
            buf += chunk
        op, n = buf[0] & 0x0f, buf[1] & 0x7f
        body, buf = buf[2:2 + n], buf[2 + n:]
        if op == 9:
            print("ping", flush=True)
        elif op == 8:
            print("close %d" % (struct.unpack("!H", body[:2])[0]
                                if len(body) >= 2 else 1005), flush=True)
        else:
            print("frame %d" % op, flush=True)
    print("open", flush=True)
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("path")
    ap.add_argument("token")
    ap.add_argument("--ca", required=True)
    ap.add_argument("--renew")
    ap.add_argument("--renew-after", type=float, default=1.0)
    ap.add_argument("--hold", type=float, default=5.0)
    ap.add_argument("--deaf", action="store_true")
    a = ap.parse_args()
    sys.exit(deaf(a) if a.deaf else asyncio.run(run(a)))


if __name__ == "__main__":
    main()
