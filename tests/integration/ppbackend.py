#!/usr/bin/python3
"""ppbackend.py - a backend that expects a PROXY protocol v2 header (as
ssltunneld's proxy_protocol = "send" writes it), records what it says,
then echoes the connection's bytes.

  ppbackend.py PORT --log FILE [--pid-file F]

Each connection appends one JSON line to FILE: {"src": "ip:port", "dst":
"ip:port", "ssl": bool, "ssl_version": "...", "cn": "...", "verify": N},
or {"error": "..."} (and is closed) when the header is missing or bad.
Parsed here from the spec (haproxy's proxy-protocol.txt), independently
of the daemon's own parser.
"""
import argparse
import ipaddress
import json
import os
import socket
import struct
import sys
import threading

SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        chunk = s.recv(n - len(b))
        if not chunk:
            raise EOFError("closed after %d of %d bytes" % (len(b), n))
        b += chunk
    return b


def parse(s):
    head = recv_exact(s, 16)
    if head[:12] != SIG:
        raise ValueError("no PROXY v2 signature")
    ver_cmd, fam, length = head[12], head[13], struct.unpack("!H", head[14:16])[0]
    if ver_cmd >> 4 != 2 or ver_cmd & 0xF != 1:
        raise ValueError("version/command 0x%02x" % ver_cmd)
    body = recv_exact(s, length)
    if fam == 0x11:
        src = ipaddress.IPv4Address(body[0:4]); dst = ipaddress.IPv4Address(body[4:8])
        sp, dp = struct.unpack("!HH", body[8:12]); tlvs = body[12:]
    elif fam == 0x21:
        src = ipaddress.IPv6Address(body[0:16]); dst = ipaddress.IPv6Address(body[16:32])
        sp, dp = struct.unpack("!HH", body[32:36]); tlvs = body[36:]
    else:
        raise ValueError("family 0x%02x" % fam)
    rec = {"src": "%s:%d" % (src, sp), "dst": "%s:%d" % (dst, dp), "ssl": False}
    while tlvs:
        t, l = tlvs[0], struct.unpack("!H", tlvs[1:3])[0]
        v, tlvs = tlvs[3:3 + l], tlvs[3 + l:]
        if len(v) != l:
            raise ValueError("TLV 0x%02x runs past the header" % t)
        if t == 0x20:
            rec["ssl"] = True
            rec["client"] = v[0]
            rec["verify"] = struct.unpack("!I", v[1:5])[0]
            sub = v[5:]
            while sub:
                st, sl = sub[0], struct.unpack("!H", sub[1:3])[0]
                sv, sub = sub[3:3 + sl], sub[3 + sl:]
                if st == 0x21:
                    rec["ssl_version"] = sv.decode()
                elif st == 0x22:
                    rec["cn"] = sv.decode()
    return rec


def serve(conn, log, lock):
    try:
        try:
            rec = parse(conn)
        except (ValueError, EOFError, struct.error) as e:
            rec = {"error": str(e)}
        with lock, open(log, "a") as f:
            f.write(json.dumps(rec) + "\n")
        if "error" in rec:
            return
        while True:
            data = conn.recv(65536)
            if not data:
                break
            conn.sendall(data)
        conn.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    finally:
        conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--log", required=True)
    ap.add_argument("--pid-file")
    a = ap.parse_args()
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", a.port))
    ls.listen(64)
    if a.pid_file:
        with open(a.pid_file, "w") as f:
            f.write("%d\n" % os.getpid())
    lock = threading.Lock()
    while True:
        conn, _ = ls.accept()
        threading.Thread(target=serve, args=(conn, a.log, lock), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
