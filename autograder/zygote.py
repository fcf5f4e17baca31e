"""A fork server for student processes.

It is started once per grading process, imports numpy, and forks a child per request,
so a student process starts in a few milliseconds instead of a fresh interpreter's
~150 ms. It holds nothing secret: the reference solutions and expected values live only
in the grader, which never forks itself (a child of the grader would inherit them).

Control protocol (a UNIX socket): the grader sends b"spawn" with one file descriptor,
the child's end of a socket pair, and receives the child's pid; b"status PID" returns
the child's wait status once it has ended ("running" before).
"""
from __future__ import annotations

import os
import select
import signal
import socket
import struct
import sys
import time


class Channel:
    """Length-prefixed messages over a stream socket."""

    def __init__(self, sock: socket.socket):
        self.sock = sock

    def send_bytes(self, data: bytes) -> None:
        self.sock.sendall(struct.pack("<Q", len(data)) + data)

    def _read(self, n: int, deadline: float | None = None) -> bytes:
        chunks, got = [], 0
        while got < n:
            if deadline is not None:  # a half-sent message must not block us forever
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self.sock], [], [], left)[0]:
                    raise TimeoutError("the message did not arrive in time")
            b = self.sock.recv(min(n - got, 1 << 20))
            if not b:
                raise EOFError
            chunks.append(b)
            got += len(b)
        return b"".join(chunks)

    def recv_bytes(self, maxlength: int | None = None, deadline: float | None = None) -> bytes:
        (n,) = struct.unpack("<Q", self._read(8, deadline))
        if maxlength is not None and n > maxlength:
            raise OSError(f"message of {n} bytes is over the {maxlength}-byte limit")
        return self._read(n, deadline)

    def poll(self, timeout: float) -> bool:
        return bool(select.select([self.sock], [], [], timeout)[0])

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()


def serve(control: socket.socket) -> None:
    import numpy  # noqa: F401  (the point of the fork server: import once)
    from autograder import child
    # Warm up what student code commonly reaches for: the student's uid may not be able
    # to read the Python installation (e.g. under /root), so later imports could fail.
    import collections, functools, itertools, math, random, warnings, zlib  # noqa: F401,E401
    import numpy.fft, numpy.linalg, numpy.random  # noqa: F401,E401
    numpy.random.default_rng(0).uniform(size=2)
    numpy.linalg.qr(numpy.eye(2))

    statuses: dict[int, int] = {}
    while True:
        try:
            while True:  # reap ended children
                pid, status = os.waitpid(-1, os.WNOHANG)
                if pid == 0:
                    break
                statuses[pid] = status
        except ChildProcessError:
            pass
        if not select.select([control], [], [], 0.2)[0]:
            continue
        try:
            msg, fds, _, _ = socket.recv_fds(control, 1024, 1)
        except OSError:   # the grader has gone (stopped by Ctrl-C, or killed)
            return
        if not msg:
            return  # the grader has gone: so do we
        if msg.startswith(b"status "):
            pid = int(msg.split()[1])
            if not _answer(control, b"%d" % statuses.pop(pid) if pid in statuses else b"running"):
                return
            continue
        pid = os.fork()
        if pid == 0:
            control.close()
            code = 0
            try:
                child.main(Channel(socket.socket(fileno=fds[0])))
            except BaseException:  # noqa: BLE001
                code = 70
            os._exit(code)
        os.close(fds[0])
        if not _answer(control, b"%d" % pid):
            os.kill(pid, signal.SIGKILL)   # nobody will talk to it
            return


def _answer(control: socket.socket, data: bytes) -> bool:
    """Send to the grader; False when it has gone (stopped by Ctrl-C, or killed)."""
    try:
        control.sendall(data)
        return True
    except OSError:
        return False


if __name__ == "__main__":
    serve(socket.socket(fileno=int(sys.argv[1])))
