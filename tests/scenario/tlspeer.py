#!/usr/bin/python3
"""tlspeer.py - hostile and well-behaved peers for tests/scenario.

  tlspeer.py garbage PORT            random bytes, not TLS
  tlspeer.py http PORT               a plain HTTP request to a TLS port
  tlspeer.py truncated PORT SECS     the first half of a real ClientHello,
                                     then SECS of silence, then close
  tlspeer.py oversized PORT          a handshake record header announcing
                                     2^14+512 bytes, and those bytes
  tlspeer.py after PORT MODE --cert C --key K --ca CA [--tls 1.2|1.3]
                                     a real handshake (memory BIOs), one
                                     good record "GOOD-RECORD\\n", then per
                                     MODE: "flip" a record whose ciphertext
                                     has one byte flipped, "oversized" an
                                     application-data record of 2^14+512
                                     bytes; both carry HOSTILE-PLAINTEXT
  tlspeer.py paced PORT SECS         a good plain-TCP client: 16 KiB every
                                     10 ms for SECS, the echo compared

Each hostile mode then waits (at most 10 s) for the daemon to close the
connection and prints "closed after N ms" (or what the peer sent: a TLS
alert); exit 0 if it closed, 1 if it did not. paced exits 0 when every
byte came back in order.
"""
import os
import socket
import ssl
import sys
import threading
import time

MARK = b"HOSTILE-PLAINTEXT"


def die(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def connect(port):
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def wait_closed(s, start=None):
    """Read until the daemon closes; say how and when."""
    start = start or time.monotonic()
    got = b""
    s.settimeout(10)
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            got += d
    except ConnectionResetError:
        pass
    except socket.timeout:
        die("the daemon did not close the connection within 10 s")
    ms = int((time.monotonic() - start) * 1000)
    alert = ""
    # A plaintext TLS alert record: 0x15, version, length 2, level, code.
    if len(got) >= 7 and got[0] == 0x15:
        alert = " with TLS alert %d" % got[6]
    print("closed after %d ms (%d bytes back%s)" % (ms, len(got), alert),
          flush=True)
    return got


def client_hello(ctx=None):
    """A real ClientHello, from a TLS client on memory BIOs."""
    ctx = ctx or ssl.create_default_context()
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def tls_session(port, args):
    """A completed handshake through memory BIOs: (socket, SSLObject,
    incoming BIO, outgoing BIO)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(args["--ca"])
    ctx.load_cert_chain(args["--cert"], args["--key"])
    v = args.get("--tls", "1.3")
    ver = ssl.TLSVersion.TLSv1_3 if v == "1.3" else ssl.TLSVersion.TLSv1_2
    ctx.minimum_version = ctx.maximum_version = ver
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    s = connect(port)
    while True:
        try:
            obj.do_handshake()
            break
        except ssl.SSLWantReadError:
            d = out.read()
            if d:
                s.sendall(d)
            d = s.recv(65536)
            if not d:
                die("the daemon closed during the handshake")
            inc.write(d)
    d = out.read()
    if d:
        s.sendall(d)
    return s, obj, inc, out


def record(obj, out, data):
    obj.write(data)
    return out.read()


def after(port, mode, args):
    s, obj, inc, out = tls_session(port, args)
    s.sendall(record(obj, out, b"GOOD-RECORD\n"))
    time.sleep(0.5)
    if mode == "flip":
        r = bytearray(record(obj, out, MARK + b"\n"))
        r[5 + (len(r) - 5) // 2] ^= 0x5a
        s.sendall(bytes(r))
    elif mode == "oversized":
        body = os.urandom(2 ** 14 + 512)
        # Encrypted records are type 23 in TLS 1.3 and 1.2 alike.
        s.sendall(bytes([23, 3, 3]) + len(body).to_bytes(2, "big") + MARK + body)
    else:
        die("unknown mode " + mode)
    got = wait_closed(s)
    # What the daemon said, decrypted: its alert.
    if got:
        inc.write(got)
    try:
        d = obj.read(65536)
        print("the daemon sent no alert (%r)" % d, flush=True)
    except ssl.SSLError as e:
        print("the daemon's alert: %s" % (e.reason or e), flush=True)


def paced(port, secs):
    s = connect(port)
    s.settimeout(30)
    sent = bytearray()
    got = bytearray()
    err = []

    def reader():
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    return
                got.extend(d)
        except OSError as e:
            err.append(str(e))

    t = threading.Thread(target=reader)
    t.start()
    end = time.monotonic() + secs
    while time.monotonic() < end:
        chunk = os.urandom(16384)
        try:
            s.sendall(chunk)
        except OSError as e:
            die("paced: send failed after %d bytes: %s" % (len(sent), e))
        sent.extend(chunk)
        time.sleep(0.01)
    s.shutdown(socket.SHUT_WR)
    t.join(30)
    if t.is_alive():
        die("paced: the echo did not end within 30 s of our FIN")
    if err:
        die("paced: receive failed: " + err[0])
    if got != sent:
        die("paced: sent %d bytes, got %d back, %s" % (
            len(sent), len(got),
            "differing" if len(got) == len(sent) else "short"))
    print("paced: %d bytes echoed byte-exact over %.1f s" % (len(sent), secs),
          flush=True)


def main():
    a = sys.argv[1:]
    if len(a) < 2:
        die(__doc__)
    cmd, port = a[0], int(a[1])
    opts = {}
    rest = []
    i = 2
    while i < len(a):
        if a[i].startswith("--") and i + 1 < len(a):
            opts[a[i]] = a[i + 1]
            i += 2
        else:
            rest.append(a[i])
            i += 1
    if cmd == "garbage":
        s = connect(port)
        # Not a TLS record type (20..24) in the first byte.
        s.sendall(b"\x42" + os.urandom(4095))
        wait_closed(s)
    elif cmd == "http":
        s = connect(port)
        s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n"
                  b"User-Agent: " + MARK + b"\r\n\r\n")
        wait_closed(s)
    elif cmd == "truncated":
        hello = client_hello()
        s = connect(port)
        s.sendall(hello[:len(hello) // 2])
        time.sleep(float(rest[0]))
        s.close()
        print("sent %d of %d bytes of a ClientHello, then closed" %
              (len(hello) // 2, len(hello)), flush=True)
    elif cmd == "oversized":
        s = connect(port)
        body = os.urandom(2 ** 14 + 512)
        s.sendall(bytes([22, 3, 1]) + len(body).to_bytes(2, "big") + body)
        wait_closed(s)
    elif cmd == "after":
        after(port, rest[0], opts)
    elif cmd == "paced":
        paced(port, float(rest[0]))
    else:
        die("unknown command " + cmd)


if __name__ == "__main__":
    main()
