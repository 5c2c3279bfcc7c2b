#!/usr/bin/python3
"""console.py - drive `ssltunneld connect` as a person would, through a
pseudo-terminal (--pty) or as a script through pipes (--pipe), and check
what it prints.

  console.py --pty|--pipe --backend PORT --listen PORT --user U
             --password P --wrong W -- SSLTUNNELD connect HOST:PORT ...

With --pty: expects the banner, "Username: ", "Password: " (and that the
password is not echoed), answers the wrong password first and expects
"Error: invalid credentials.", then the right one and "Authenticated
Successfully.". With --pipe the command line must carry --credentials.
Then, at the "> " prompt (pty) or line by line (pipe): help, `tunnel
LISTEN 127.0.0.1:BACKEND`, 1 MiB through it byte-exact (the backend
echoes), list (the tunnel's row, its bytes), close, the port refused,
a bad command's error, exit, and the exit status 0. Prints "ok: ..." per
step; exits 1 with "FAIL: ..." at the first surprise.
"""
import argparse
import hashlib
import os
import pty
import select
import signal
import socket
import subprocess
import sys
import time


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


class Peer:
    """The console's output, read with a deadline."""

    def __init__(self, rfd, wfd, proc):
        self.rfd, self.wfd, self.proc = rfd, wfd, proc
        self.buf = b""
        self.seen = b""

    def expect(self, text, timeout=20):
        want = text.encode()
        end = time.monotonic() + timeout
        while want not in self.buf:
            left = end - time.monotonic()
            if left <= 0:
                fail("waited %d s for %r; got %r" % (timeout, text, self.buf[-500:]))
            r, _, _ = select.select([self.rfd], [], [], left)
            if not r:
                continue
            try:
                chunk = os.read(self.rfd, 4096)
            except OSError:
                chunk = b""
            if not chunk:
                fail("the console ended while waiting for %r; got %r"
                     % (text, self.buf[-500:]))
            self.buf += chunk
            self.seen += chunk
        i = self.buf.index(want) + len(want)
        before, self.buf = self.buf[:i], self.buf[i:]
        return before.decode(errors="replace")

    def send(self, line):
        os.write(self.wfd, (line + "\n").encode())


def transfer(port, size):
    """size bytes through the tunnel to the echo backend and back."""
    data = os.urandom(size)
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    got = bytearray()
    off = 0
    s.setblocking(False)
    end = time.monotonic() + 30
    while len(got) < size:
        if time.monotonic() > end:
            fail("transfer: %d of %d bytes back after 30 s" % (len(got), size))
        w = [s] if off < size else []
        r, w, _ = select.select([s], w, [], 1)
        if w:
            off += s.send(data[off:off + 65536])
        if r:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    s.close()
    if hashlib.sha256(bytes(got)).digest() != hashlib.sha256(data).digest():
        fail("transfer: %d bytes back, not the %d sent" % (len(got), size))


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except OSError:
        return True
    return False


def main():
    ap = argparse.ArgumentParser()
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--pty", action="store_true")
    mode.add_argument("--pipe", action="store_true")
    ap.add_argument("--backend", type=int, required=True)
    ap.add_argument("--listen", type=int, required=True)
    ap.add_argument("--user", default="")
    ap.add_argument("--password", default="")
    ap.add_argument("--wrong", default="")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd

    if a.pty:
        pid, fd = pty.fork()
        if pid == 0:
            os.execv(cmd[0], cmd)
        proc = None
        p = Peer(fd, fd, None)
    else:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=None)
        pid = proc.pid
        p = Peer(proc.stdout.fileno(), proc.stdin.fileno(), proc)

    def reap(timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        fail("the console did not exit within %d s" % timeout)

    try:
        p.expect("ssltunnel console: server ")
        if a.pty:
            p.expect("Username: ")
            p.send(a.user)
            p.expect("Password: ")
            p.send(a.wrong)
            out = p.expect("Error: invalid credentials.")
            if a.wrong in out:
                fail("the password was echoed: %r" % out)
            p.expect("Username: ")
            p.send(a.user)
            p.expect("Password: ")
            p.send(a.password)
            out = p.expect("Authenticated Successfully.")
            if a.password in out:
                fail("the password was echoed: %r" % out)
            print("ok: wrong password refused, right one taken, neither echoed")
        else:
            p.expect("Authenticated Successfully.")
            print("ok: logged in with --credentials")
        prompt = "> " if a.pty else "\n"
        p.expect("Type help for the commands.")
        if a.pty:
            p.expect("> ")
        p.send("help")
        p.expect("close ID")
        if a.pty:
            p.expect("> ")
        p.send("tunnel %d 127.0.0.1:%d" % (a.listen, a.backend))
        p.expect("Tunnel created with id: 1")
        if a.pty:
            p.expect("> ")
        print("ok: tunnel %d 127.0.0.1:%d created" % (a.listen, a.backend))
        # The workers learn of it between two epoll rounds: a moment.
        end = time.monotonic() + 10
        while refused(a.listen):
            if time.monotonic() > end:
                fail("nothing listens on %d 10 s after the tunnel was made" % a.listen)
            time.sleep(0.1)
        transfer(a.listen, 1 << 20)
        print("ok: 1 MiB through the tunnel byte-exact")
        # The daemon counts a connection done once it has seen its end:
        # ask again (bounded) until the closed transfer is counted.
        for attempt in range(20):
            p.send("list")
            p.expect("BYTES_DOWN")
            p.expect("\n", 5)
            out = p.expect("\n", 5)
            if a.pty:
                p.expect("> ")
            row = out.split()
            if len(row) < 8 or row[0] != "1" or row[1] != "127.0.0.1:%d" % a.listen:
                fail("list: expected the row of tunnel 1, got %r" % out)
            if (int(row[4]) == 0 and int(row[5]) >= 1 and
                    int(row[6]) >= (1 << 20) and int(row[7]) >= (1 << 20)):
                break
            time.sleep(0.25)
        else:
            fail("list: expected 0 active, 1 or more in total and 1 MiB each way, got %r" % out)
        print("ok: list shows tunnel 1 with its bytes: %s" % out.strip())
        p.send("tunnel nonsense")
        p.expect("Error: ")
        p.send("close 7")
        p.expect("Error: no runtime tunnel with id 7")
        p.send("close 1")
        p.expect("Tunnel 1 closed.")
        end = time.monotonic() + 10
        while not refused(a.listen):
            if time.monotonic() > end:
                fail("port %d still accepts 10 s after close" % a.listen)
            time.sleep(0.1)
        print("ok: bad commands get an error; close 1 stops the listener")
        p.send("exit")
        rc = reap(20)
        if rc != 0:
            fail("the console exited with %d after exit" % rc)
        print("ok: exit leaves with status 0")
    finally:
        try:
            os.kill(pid, 0)
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


if __name__ == "__main__":
    main()
