#!/usr/bin/python3
"""hclisten.py - a Hybrid Connections listener held by hand, for the relay's
edge cases: it opens the control channel and never accepts anyone.

  hclisten.py PORT PATH TOKEN --ca CA [--renew TOKEN2 --renew-after S]
              [--hold S]

It connects to wss://127.0.0.1:PORT/$hc/PATH?sb-hc-action=listen with
TOKEN in the ServiceBusAuthorization header, prints "listening", then
for HOLD seconds (default 5) prints "accept ADDRESS" for every accept
message (and does nothing with it: the sender waits for
relay_accept_timeout). With --renew it sends {"renewToken": TOKEN2}
after S seconds and prints "renewed". At the end it prints "open" if the
channel is still up, or "closed CODE REASON" as soon as the relay closes
it. Pings from the relay are answered by the websockets library; it
sends none of its own. Exit status 0, or 1 when it could not connect.
"""
import argparse
import asyncio
import json
import ssl
import sys
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("path")
    ap.add_argument("token")
    ap.add_argument("--ca", required=True)
    ap.add_argument("--renew")
    ap.add_argument("--renew-after", type=float, default=1.0)
    ap.add_argument("--hold", type=float, default=5.0)
    a = ap.parse_args()
    sys.exit(asyncio.run(run(a)))


if __name__ == "__main__":
    main()
