#!/usr/bin/python3
"""wsclient.py - a WebSocket tunnel client built on python3-websockets,
speaking node-websocket-tunnel's protocol to a server tunnel: it upgrades
wss://localhost:PORT/PATH (with a client certificate, Basic credentials
or both), sends a file as binary messages at once (without waiting for
"ready"), and saves the binary messages it receives.

  wsclient.py PORT [--cert C --key K] --ca CA [--path /tunnel?port=N]
              [--user U --password P]
              [--send FILE] [--out FILE] [--expect BYTES]
              [--chunk BYTES] [--fragments N] [--ping] [--text-first]
              [--linger SECONDS]

Without --cert/--key no client certificate is offered. With --user and
--password the upgrade carries "Authorization: Basic BASE64(U:P)".

Prints one line per event: "status {json}" for each text message,
"pong" after a ping was answered, "close CODE REASON" at the end, and
"http STATUS" when the upgrade is refused. Exit status 0, or 1.
"""
import argparse
import asyncio
import base64
import inspect
import ssl
import sys

import websockets


async def run(a):
    ctx = ssl.create_default_context(cafile=a.ca)
    if a.cert:
        ctx.load_cert_chain(a.cert, a.key)
    url = "wss://localhost:%d%s" % (a.port, a.path)
    kw = {}
    if a.user is not None:
        token = base64.b64encode(("%s:%s" % (a.user, a.password))
                                 .encode("utf-8")).decode("ascii")
        # websockets < 14 (legacy client): extra_headers; the newer
        # client calls it additional_headers.
        try:
            params = inspect.signature(websockets.connect).parameters
        except (TypeError, ValueError):
            params = {}
        name = ("additional_headers" if "additional_headers" in params
                else "extra_headers")
        kw[name] = [("Authorization", "Basic " + token)]
    try:
        ws = await websockets.connect(url, ssl=ctx, max_size=None,
                                      ping_interval=None, compression=None,
                                      open_timeout=a.timeout, **kw)
    except websockets.exceptions.InvalidStatusCode as e:
        print("http %d" % e.status_code)
        return 0
    data = open(a.send, "rb").read() if a.send else b""
    got = 0
    out = open(a.out, "wb") if a.out else None

    async def sender():
        if a.linger:
            await asyncio.sleep(a.linger)
        if a.text_first:
            await ws.send("this text carries no data")
        for i in range(0, len(data), a.chunk):
            piece = data[i:i + a.chunk]
            if a.fragments > 1:
                step = max(1, len(piece) // a.fragments)
                parts = [piece[j:j + step] for j in range(0, len(piece), step)]
                await ws.send(iter(parts))
            else:
                await ws.send(piece)

    send_task = asyncio.ensure_future(sender())
    if a.ping:
        waiter = await ws.ping(b"are you there")
        await asyncio.wait_for(waiter, a.timeout)
        print("pong", flush=True)
    try:
        while a.expect < 0 or got < a.expect:
            msg = await asyncio.wait_for(ws.recv(), a.timeout)
            if isinstance(msg, str):
                print("status " + msg, flush=True)
                continue
            got += len(msg)
            if out:
                out.write(msg)
    except websockets.exceptions.ConnectionClosed:
        pass
    await send_task
    if out:
        out.close()
    await ws.close()
    print("close %s %s" % (ws.close_code, ws.close_reason or "-"), flush=True)
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--ca", required=True)
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--path", default="/tunnel")
    ap.add_argument("--send")
    ap.add_argument("--out")
    ap.add_argument("--expect", type=int, default=-1)
    ap.add_argument("--chunk", type=int, default=65536)
    ap.add_argument("--fragments", type=int, default=1)
    ap.add_argument("--ping", action="store_true")
    ap.add_argument("--text-first", action="store_true")
    ap.add_argument("--linger", type=float, default=0,
                    help="seconds to wait before sending")
    ap.add_argument("--timeout", type=float, default=60)
    a = ap.parse_args()
    if (a.cert is None) != (a.key is None):
        ap.error("--cert and --key go together")
    if (a.user is None) != (a.password is None):
        ap.error("--user and --password go together")
    return asyncio.run(run(a))


if __name__ == "__main__":
    sys.exit(main())
