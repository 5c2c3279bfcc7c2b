#!/usr/bin/env python3
"""limitpeer.py - a plain-TCP client for limits.sh, in front of an echo
backend reached through a tunnel.

  limitpeer.py idle PORT [--every S] [--for S] [--max S]
      One connection: an echo round trip, then (with --every) one byte and
      its echo every S seconds for --for seconds, then silence until the
      peer closes, at most --max seconds. Prints
      "trickled N bytes; closed after X.X s of silence" or exits 1 with
      "still open after X.X s of silence" / "echo failed ...".

  limitpeer.py hold PORT N STATUSFILE [--src ADDR] [--max S]
      Opens N connections one after another (from ADDR), each with an echo
      round trip (3 s). A connection whose round trip fails, closed
      unanswered, is refused. Writes "admitted=A refused=R open=O" to
      STATUSFILE (atomically) after the last and whenever an admitted
      connection is closed by the peer; keeps the admitted ones open until
      SIGTERM or --max seconds.

Every wait is bounded; exit 0 unless stated.
"""
import argparse
import os
import select
import signal
import socket
import sys
import time


def connect(port, src=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if src:
        s.bind((src, 0))
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    return s


def echo(s, data, secs=3.0):
    """Send data and read it back: True, or False if closed/reset/late."""
    try:
        s.sendall(data)
        got = b""
        deadline = time.monotonic() + secs
        while len(got) < len(data):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            s.settimeout(left)
            b = s.recv(len(data) - len(got))
            if not b:
                return False
            got += b
        return got == data
    except OSError:
        return False


def cmd_idle(a):
    s = connect(a.port)
    if not echo(s, b"hello\n"):
        print("echo failed on the first round trip")
        return 1
    n = 0
    start = time.monotonic()
    while a.every and time.monotonic() - start < a.trickle_for:
        time.sleep(a.every)
        if not echo(s, b"."):
            print("echo failed after %d trickled bytes, %.1f s" %
                  (n, time.monotonic() - start))
            return 1
        n += 1
    quiet = time.monotonic()
    s.settimeout(None)
    r, _, _ = select.select([s], [], [], a.max)
    gone = time.monotonic() - quiet
    if not r:
        print("still open after %.1f s of silence" % gone)
        return 1
    try:
        extra = s.recv(16)
    except OSError:
        extra = b""
    if extra:
        print("unexpected data %r after %.1f s" % (extra, gone))
        return 1
    print("trickled %d bytes; closed after %.1f s of silence" % (n, gone))
    return 0


def write_status(path, admitted, refused, live):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("admitted=%d refused=%d open=%d\n" % (admitted, refused, live))
    os.rename(tmp, path)


def cmd_hold(a):
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    conns, refused = [], 0
    for _ in range(a.n):
        try:
            s = connect(a.port, a.src)
        except OSError:
            refused += 1
            continue
        if echo(s, b"x"):
            conns.append(s)
        else:
            refused += 1
            s.close()
    admitted = len(conns)
    write_status(a.statusfile, admitted, refused, len(conns))
    deadline = time.monotonic() + a.max
    while conns and not stop and time.monotonic() < deadline:
        try:
            r, _, _ = select.select(conns, [], [], 0.2)
        except InterruptedError:
            continue
        for s in r:
            try:
                b = s.recv(16)
            except OSError:
                b = b""
            if not b:
                conns.remove(s)
                s.close()
                write_status(a.statusfile, admitted, refused, len(conns))
    while not stop and time.monotonic() < deadline:
        time.sleep(0.2)
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    i = sub.add_parser("idle")
    i.add_argument("port", type=int)
    i.add_argument("--every", type=float, default=0)
    i.add_argument("--for", dest="trickle_for", type=float, default=0)
    i.add_argument("--max", type=float, default=30)
    h = sub.add_parser("hold")
    h.add_argument("port", type=int)
    h.add_argument("n", type=int)
    h.add_argument("statusfile")
    h.add_argument("--src")
    h.add_argument("--max", type=float, default=120)
    a = p.parse_args()
    return cmd_idle(a) if a.cmd == "idle" else cmd_hold(a)


if __name__ == "__main__":
    sys.exit(main())
