#!/usr/bin/python3
"""dnsd.py - a tiny authoritative DNS responder on 127.0.0.1 (UDP), for
tests that point the daemon's dns_servers at it.

  dnsd.py PORT [--pid-file F] [--log F] NAME=ADDR... [--silent NAME]...

Answers A and AAAA queries for each NAME with its ADDRs (IPv4 or IPv6;
a name may be given several times), NXDOMAIN for names it does not
know, and never answers a --silent NAME (a resolver that hangs).
"""
import argparse
import ipaddress
import os
import socket
import struct
import sys


def qname(msg, off):
    labels = []
    while True:
        n = msg[off]
        off += 1
        if n == 0:
            return ".".join(labels).lower(), off
        if n & 0xC0:
            raise ValueError("compressed question")
        labels.append(msg[off:off + n].decode("ascii", "replace"))
        off += n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--pid-file")
    ap.add_argument("--log")
    ap.add_argument("--silent", action="append", default=[])
    ap.add_argument("records", nargs="*")
    a = ap.parse_intermixed_args()
    recs = {}
    for r in a.records:
        name, addr = r.split("=", 1)
        recs.setdefault(name.lower().rstrip("."), []).append(
            ipaddress.ip_address(addr))
    silent = {n.lower().rstrip(".") for n in a.silent}
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", a.port))
    log = open(a.log, "a") if a.log else None
    if a.pid_file:
        with open(a.pid_file + ".tmp", "w") as f:
            f.write("%d\n" % os.getpid())
        os.rename(a.pid_file + ".tmp", a.pid_file)
    while True:
        msg, peer = s.recvfrom(4096)
        try:
            qid, flags, qd = struct.unpack("!HHH", msg[:6])
            name, off = qname(msg, 12)
            qtype, qclass = struct.unpack("!HH", msg[off:off + 4])
        except (ValueError, IndexError, struct.error):
            continue
        if log:
            log.write("query %s type %d\n" % (name, qtype))
            log.flush()
        if name in silent:
            continue
        question = msg[12:off + 4]
        answers = b""
        count = 0
        rcode = 3 if name not in recs else 0
        for addr in recs.get(name, []):
            if (qtype == 1 and addr.version == 4) or \
               (qtype == 28 and addr.version == 6):
                rdata = addr.packed
                answers += struct.pack("!HHHIH", 0xC00C, qtype, 1, 5,
                                       len(rdata)) + rdata
                count += 1
        hdr = struct.pack("!HHHHHH", qid, 0x8400 | (flags & 0x0100) | rcode,
                          1, count, 0, 0)
        s.sendto(hdr + question + answers, peer)


if __name__ == "__main__":
    sys.exit(main())
