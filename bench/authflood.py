#!/usr/bin/python3
"""authflood.py - wrong-password logins against a ssltunneld server
tunnel, as a brute-force attacker would send them: N TLS connections,
each from its own loopback source address (127.0.1.1, 127.0.1.2, ...: so
the lockout, which counts per source, does not stop them early), each
sending GET /auth with a wrong password, CONC at a time.

  authflood.py PORT --ca CA [--n 200] [--conc 50] [--user U] [--no-password]

--no-password sends the same requests without credentials: the same TLS
handshakes and answers, no password to verify (the control figure).

Prints key=value lines: sent=, answered_401=, other=, secs=.
"""
import argparse
import base64
import os
import socket
import ssl
import sys
import threading
import time


def attempt(a, i, ctx, results):
    src = "127.0.%d.%d" % (1 + i // 250, 1 + i % 250)
    creds = base64.b64encode(("%s:wrong-%d" % (a.user, i)).encode()).decode()
    login = "" if a.no_password else "Authorization: Basic %s\r\n" % creds
    req = ("GET /auth HTTP/1.1\r\nHost: localhost\r\n"
           "%sConnection: close\r\n\r\n" % login)
    try:
        raw = socket.create_connection(("127.0.0.1", a.port), timeout=60,
                                       source_address=(src, 0))
        s = ctx.wrap_socket(raw, server_hostname="localhost")
        s.sendall(req.encode())
        head = b""
        while b"\r\n" not in head:
            chunk = s.recv(4096)
            if not chunk:
                break
            head += chunk
        s.close()
        results.append(head.split(b" ", 2)[1] if head.startswith(b"HTTP/1.1 ") else b"?")
    except OSError as e:
        results.append(("error %s" % e).encode())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--conc", type=int, default=50)
    ap.add_argument("--user", default="simon")
    ap.add_argument("--no-password", action="store_true")
    a = ap.parse_args()
    ctx = ssl.create_default_context(cafile=a.ca)
    results = []
    start = time.monotonic()
    sem = threading.Semaphore(a.conc)
    threads = []

    def run(i):
        with sem:
            attempt(a, i, ctx, results)

    for i in range(a.n):
        t = threading.Thread(target=run, args=(i,))
        t.start()
        threads.append(t)
    for t in threads:
        t.join(120)
    secs = time.monotonic() - start
    n401 = sum(1 for r in results if r == b"401")
    print("sent=%d" % a.n)
    print("answered_401=%d" % n401)
    print("other=%d" % (len(results) - n401))
    print("secs=%.3f" % secs)
    others = sorted(set(r for r in results if r != b"401"))
    if others:
        print("other_kinds=%s" % b",".join(others[:5]).decode(errors="replace"))
    return 0 if n401 == a.n else 1


if __name__ == "__main__":
    sys.exit(main())
