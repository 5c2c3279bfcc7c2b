#!/usr/bin/python3
"""wsraw.py - WebSocket frames built by hand, for conformance tests: a TLS
client (with a client certificate) that sends an upgrade request for
PATH and, in the same write, the frames given as hex (so they arrive
before the server's answer), then prints what the server sends: the
status line, then one line per frame ("text PAYLOAD", "binary LEN
SHA256", "close CODE REASON", "ping", "pong"), and "eof" at the end.

  wsraw.py PORT --cert C --key K --ca CA [--path P] [--expect-binary N]
           [HEX...]

A HEX argument "mask:OP:LEN:FILLBYTE" builds a masked frame of LEN bytes
of FILLBYTE (opcode OP, FIN set) instead of taking literal hex.
"""
import argparse
import base64
import hashlib
import os
import socket
import ssl
import struct
import sys


def frame(op, payload, mask=True, fin=True):
    b0 = (0x80 if fin else 0) | op
    n = len(payload)
    m = 0x80 if mask else 0
    if n < 126:
        hdr = struct.pack("!BB", b0, m | n)
    elif n < 65536:
        hdr = struct.pack("!BBH", b0, m | 126, n)
    else:
        hdr = struct.pack("!BBQ", b0, m | 127, n)
    if not mask:
        return hdr + payload
    key = os.urandom(4)
    return hdr + key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))


def build(arg):
    if arg.startswith("mask:"):
        _, op, n, fill = arg.split(":")
        return frame(int(op, 0), bytes([int(fill, 0)]) * int(n))
    return bytes.fromhex(arg)


def read_exact(s, n, buf):
    while len(buf) < n:
        chunk = s.recv(65536)
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--path", default="/tunnel")
    ap.add_argument("--timeout", type=float, default=30)
    ap.add_argument("--expect-binary", type=int, default=-1,
                    help="stop once this many binary payload bytes came")
    ap.add_argument("frames", nargs="*")
    a = ap.parse_intermixed_args()
    ctx = ssl.create_default_context(cafile=a.ca)
    ctx.load_cert_chain(a.cert, a.key)
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", a.port),
                                                 timeout=a.timeout),
                        server_hostname="localhost")
    key = base64.b64encode(os.urandom(16)).decode()
    req = ("GET %s HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
           "Sec-WebSocket-Version: 13\r\n\r\n" % (a.path, key)).encode()
    s.sendall(req + b"".join(build(f) for f in a.frames))
    buf = b""
    got = 0
    try:
        while b"\r\n\r\n" not in buf:
            buf = read_exact(s, len(buf) + 1, buf)
        head, buf = buf.split(b"\r\n\r\n", 1)
        print(head.split(b"\r\n")[0].decode())
        want = base64.b64encode(hashlib.sha1(
            (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
        if b" 101 " in head.split(b"\r\n")[0] and want not in head:
            print("bad Sec-WebSocket-Accept")
            return 1
        while True:
            buf = read_exact(s, 2, buf)
            op, n = buf[0] & 0x0F, buf[1] & 0x7F
            off = 2
            if n == 126:
                buf = read_exact(s, 4, buf)
                n, off = struct.unpack("!H", buf[2:4])[0], 4
            elif n == 127:
                buf = read_exact(s, 10, buf)
                n, off = struct.unpack("!Q", buf[2:10])[0], 10
            buf = read_exact(s, off + n, buf)
            p, buf = buf[off:off + n], buf[off + n:]
            if op == 1:
                print("text " + p.decode())
            elif op == 2:
                print("binary %d %s" % (n, hashlib.sha256(p).hexdigest()))
                got += n
                if 0 <= a.expect_binary <= got:
                    print("done")
                    return 0
            elif op == 8:
                code = struct.unpack("!H", p[:2])[0] if len(p) >= 2 else 1005
                print("close %d %s" % (code, p[2:].decode() or "-"))
            elif op == 9:
                print("ping")
            elif op == 10:
                print("pong")
            sys.stdout.flush()
    except (EOFError, ssl.SSLError, OSError):
        print("eof")
    return 0


if __name__ == "__main__":
    sys.exit(main())
