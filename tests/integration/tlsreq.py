#!/usr/bin/python3
"""tlsreq.py - a TLS client with a client certificate that sends a raw
HTTP request head (and bytes right behind it, in the same write), prints
the response head and saves what follows it.

  tlsreq.py PORT --cert C --key K --ca CA --request FILE
            [--data FILE] [--out FILE] [--expect BYTES] [--timeout S]
            [--elapsed FILE]

The response head (through the blank line) goes to stdout. With --out,
the bytes after it go to FILE until the server closes or --expect bytes
arrived. The request is sent as given: tests build it byte by byte.
--elapsed: the milliseconds from connecting to the end go to FILE.
Exit status: 0 when a response head arrived, 2 when the connection ended
without one (the head read so far goes to stdout), 1 on other errors.
"""
import argparse
import socket
import ssl
import select
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--sni", default="localhost")
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--request", required=True)
    ap.add_argument("--data")
    ap.add_argument("--out")
    ap.add_argument("--expect", type=int, default=-1)
    ap.add_argument("--timeout", type=float, default=30)
    ap.add_argument("--elapsed",
                    help="write the ms from connect to the end here "
                         "(python's own start left out)")
    a = ap.parse_args()

    ctx = ssl.create_default_context(cafile=a.ca)
    ctx.load_cert_chain(a.cert, a.key)
    t0 = time.monotonic()
    raw = socket.create_connection((a.host, a.port), timeout=a.timeout)
    s = ctx.wrap_socket(raw, server_hostname=a.sni)
    # The request and the bytes behind it go out as one stream without
    # waiting for the answer, read and written by one thread (an SSL
    # object must not be used by two at once) through select().
    out = open(a.request, "rb").read()
    if a.data:
        out += open(a.data, "rb").read()
    s.setblocking(False)
    sent = 0
    buf = b""
    head = None
    got = 0
    f = open(a.out, "wb") if a.out else None
    deadline = time.monotonic() + a.timeout
    eof = False
    while not eof:
        if head is not None and (not f or (a.expect >= 0 and got >= a.expect)):
            break
        if time.monotonic() > deadline:
            print("tlsreq: timed out", file=sys.stderr)
            return 1
        wr = [s] if sent < len(out) else []
        r, w, _ = select.select([s], wr, [], 1.0)
        if w:
            try:
                sent += s.send(out[sent:sent + 65536])
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError):
                pass
            except (ssl.SSLError, OSError):
                sent = len(out)
        while True:
            try:
                chunk = s.recv(1 << 20)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                break
            except (ssl.SSLError, OSError):
                chunk = b""
            if not chunk:
                eof = True
                break
            if head is None:
                buf += chunk
                if b"\r\n\r\n" in buf:
                    head, body = buf.split(b"\r\n\r\n", 1)
                    sys.stdout.buffer.write(head + b"\r\n\r\n")
                    sys.stdout.flush()
                    if f:
                        f.write(body)
                    got = len(body)
            elif f:
                f.write(chunk)
                got += len(chunk)
    if f:
        f.close()
    if a.elapsed:
        with open(a.elapsed, "w") as e:
            e.write("%d\n" % ((time.monotonic() - t0) * 1000))
    if head is None:
        sys.stdout.buffer.write(buf)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
