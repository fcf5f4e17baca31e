"""Run student code in a separate, limited process and talk to it.

    with Sandbox(program) as student:
        h, cache = student.call("rnn_forward", x, h0, Wx, Wh, b)   # arrays come back
        grads = student.call("rnn_backward", dh, cache)             # cache stayed there

The process is forked from a fork server that has numpy loaded (a few ms per start),
runs in an empty scratch directory with limits on memory, CPU time, wall time, output
and processes, and can only send back plain data (`wire`). Every comparison that decides
a score happens in the caller's process.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

from autograder import wire
from autograder.child import UID_BASE
from autograder.zygote import Channel
from autograder.notebook import Program
from autograder.errors import NotDefined, StudentCrashed, StudentError, StudentTimeout  # noqa: F401  (re-exported)

# One BLAS thread per student process: predictable time, no oversubscription.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

NOBODY = 65534
COURSE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# What a student process must not see: the reference solutions, the grader (its hidden
# cases and fixtures), and the history that holds both. (The venv stays: numpy loads
# submodules lazily.)
SECRET_PATHS = tuple(os.path.join(COURSE_ROOT, p) for p in ("solutions", "autograder", ".git", "tests"))


@dataclass
class Limits:
    call_seconds: float = 2.0         # wall time for one call (about 100x the slowest reference call)
    # once a call has run out of time, later calls get this share of call_seconds (at least
    # 0.5 s): a loop in a helper that several exercises use would cost the full wait in each
    after_timeout: float = 0.25
    load_seconds: float = 20.0        # wall time to run the notebook's definitions
    cpu_seconds: int = 60             # CPU time for the whole process
    memory_bytes: int = 2 << 30       # address space
    output_bytes: int = 4 << 20       # stdout+stderr file, and any file it writes
    max_processes: int = 64           # processes/threads of the sandbox user
    reply_bytes: int = 256 << 20      # largest answer accepted
    # as root: drop to a uid of the sandbox's own ("unique"), or this uid; None: stay
    uid: int | str | None = "unique"
    # hidden from the student process (as root: its own mount namespace, and no network)
    hide: tuple[str, ...] = SECRET_PATHS

    def for_child(self) -> dict:
        return {"memory_bytes": self.memory_bytes, "cpu_seconds": self.cpu_seconds,
                "output_bytes": self.output_bytes, "max_processes": self.max_processes,
                "uid": self.uid, "hide": list(self.hide)}


class Zygote:
    """The fork server (see `zygote`), started on first use, one per grading process."""

    _instance = None

    def __init__(self):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        package_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        # a small environment: student code has no business with the grader's variables
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/nonexistent",
               "PYTHONPATH": package_root, "PYTHONDONTWRITEBYTECODE": "1",
               **{v: "1" for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "autograder.zygote", str(theirs.fileno())],
            pass_fds=[theirs.fileno()], env=env, cwd="/", stdin=subprocess.DEVNULL,
            # its own session: a Ctrl-C in the terminal reaches the grader, which stops
            # its students' processes itself; the fork server ends when the grader does
            start_new_session=True)
        theirs.close()
        self.control = ours

    @classmethod
    def get(cls) -> "Zygote":
        if cls._instance is None or cls._instance.proc.poll() is not None:
            cls._instance = cls()
        return cls._instance

    def spawn(self) -> tuple[int, Channel]:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        socket.send_fds(self.control, [b"spawn"], [theirs.fileno()])
        pid = int(self.control.recv(64))
        theirs.close()
        return pid, Channel(ours)

    def exit_status(self, pid: int, wait: float = 1.0) -> int | None:
        """The child's exit code (negative: killed by that signal), None if unknown."""
        deadline = time.monotonic() + wait
        while True:
            self.control.sendall(b"status %d" % pid)
            answer = self.control.recv(64)
            if answer != b"running":
                status = int(answer)
                return os.waitstatus_to_exitcode(status)
            if time.monotonic() > deadline:
                return None
            time.sleep(0.02)


_PROTECTED: set[str] = set()


def protect(paths) -> list[str]:
    """As root: take the "other" permission bits off each hidden path (a folder: nothing
    under it can then be reached) so the student's uid cannot read it whether or not the
    mount namespace that covers it can be made (it cannot without CAP_SYS_ADMIN, e.g. in
    Docker's default capability set). The owner and group keep their rights. Returns the
    paths changed (once per process and path)."""
    changed = []
    if os.getuid() != 0:
        return changed
    for path in paths:
        if path in _PROTECTED:
            continue
        _PROTECTED.add(path)
        try:
            st = os.stat(path)
            if st.st_mode & 0o007:
                os.chmod(path, st.st_mode & 0o7770)
                changed.append(path)
        except OSError:
            pass
    return changed


_PROBE = """
def _readable(paths):
    import os
    found = []
    for p in paths:
        try:
            if os.path.isdir(p):
                names = os.listdir(p)
                for n in names[:50]:
                    q = os.path.join(p, n)
                    if os.path.isfile(q):
                        with open(q, "rb") as f:
                            if f.read(16):
                                found.append(q)
                        break
                else:
                    if names:
                        found.append(p)
            elif os.path.exists(p):
                with open(p, "rb") as f:   # (a file covered by /dev/null reads empty)
                    if f.read(16):
                        found.append(p)
        except OSError:
            pass
    return found
"""


def readable_secrets(limits: "Limits", extra=()) -> list[str]:
    """Which hidden paths (and `extra`: the reference notebooks) a student process started
    with `limits` can read: asked of a real student process, so it holds whatever mix of
    uid change, modes and namespaces protects them on this machine."""
    from autograder.notebook import Cell, Program
    paths = [p for p in dict.fromkeys([*extra, *limits.hide]) if os.path.exists(p)]
    protect(limits.hide)
    program = Program(cells=[Cell(1, _PROBE, [0])], defined={"_readable": 1})
    with Sandbox(program, limits) as sandbox:
        return list(sandbox.call("_readable", paths))


SHARED_TMP = ("/tmp", "/var/tmp", "/dev/shm")


def _remove_files_of(uid: int) -> None:
    """Delete what a sandbox's own uid left at the top of the shared temporary folders."""
    for folder in SHARED_TMP:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.stat(follow_symlinks=False).st_uid != uid:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    os.unlink(entry.path)
            except OSError:
                pass


def _kill_uid(uid: int, rounds: int = 3) -> None:
    """SIGKILL every process of `uid` (a sandbox's own uid: nothing else runs as it)."""
    for _ in range(rounds):
        found = False
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                if entry.stat().st_uid == uid:
                    os.kill(int(entry.name), signal.SIGKILL)
                    found = True
            except (OSError, ProcessLookupError):
                pass
        if not found:
            return


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "the student process stopped answering"
    if code < 0:
        sig = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else -code
        why = {"SIGXCPU": " (CPU time limit)", "SIGKILL": " (killed: memory or time limit)",
               "SIGXFSZ": " (output or file size limit)", "SIGSEGV": " (a crash)"}.get(str(sig), "")
        return f"the student process was killed by {sig}{why}"
    return f"the student process exited with code {code} (sys.exit or os._exit in the code?)"


@dataclass
class Sandbox:
    program: Program
    limits: Limits = field(default_factory=Limits)

    def __post_init__(self):
        self.pid = None
        self.conn = None
        self.scratch = None
        self.names: set[str] = set()
        self.load_problems: list[str] = []
        self.output = ""           # what the student's code printed (for feedback only)
        self.restarts = 0
        self.timeouts = 0          # calls that ran out of time (the grader stops early)
        self.busy = 0.0            # seconds spent waiting for this process's answers
        self._read_to = 0          # how much of the output file `take_output` has read

    # -- life cycle -------------------------------------------------------------
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()

    def start(self):
        protect(self.limits.hide)
        self.scratch = tempfile.mkdtemp(prefix="lstm-grade-")
        os.chmod(self.scratch, 0o777)  # the student process runs as an unprivileged user
        # The output file is made here and read back only through this descriptor: the
        # student may replace the name with a FIFO or a symlink, never our inode.
        path = os.path.join(self.scratch, ".output.txt")
        self.output_fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)
        os.fchmod(self.output_fd, 0o666)
        self._read_to, self.busy = 0, 0.0
        cells = [c.runnable() for c in self.program.cells]
        self.pid, self.conn = Zygote.get().spawn()
        self.conn.send_bytes(wire.encode(("setup", cells, self.limits.for_child(), self.scratch)))
        try:
            status, problems, names = self._receive(self.limits.load_seconds)
        except StudentError:
            self.close()   # nothing of a failed start stays behind
            raise
        if status != "loaded":
            self.close()
            raise StudentCrashed("the notebook could not be loaded")
        self.load_problems, self.names = list(problems), set(names)

    def close(self):
        if self.pid is not None:
            self._kill()
            self._collect_output()
            shutil.rmtree(self.scratch, ignore_errors=True)
            if os.path.exists(self.scratch):  # something still wrote there while dying:
                Zygote.get().exit_status(self.pid, wait=2.0)  # wait until it is gone
                if os.getuid() == 0 and self.limits.uid == "unique":
                    _kill_uid(UID_BASE + self.pid)
                shutil.rmtree(self.scratch, ignore_errors=True)
            if os.getuid() == 0 and self.limits.uid == "unique":
                _remove_files_of(UID_BASE + self.pid)
            self.pid = None

    def _kill(self):
        for kill in (os.killpg, os.kill):  # the child's group (what it started), then itself
            try:
                kill(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if os.getuid() == 0 and self.limits.uid == "unique":
            _kill_uid(UID_BASE + self.pid)  # and whatever left the group (setsid, double fork)
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def _read_new_output(self, limit: int = 20_000) -> str:
        """What was printed since the last read (at most `limit` bytes of it); the rest of
        a long output is skipped, not read later."""
        fd = getattr(self, "output_fd", None)
        if fd is None:
            return ""
        try:
            size = os.fstat(fd).st_size
            data = os.pread(fd, min(limit, max(size - self._read_to, 0)), self._read_to)
        except OSError:
            return ""
        self._read_to = max(size, self._read_to + len(data))
        return data.decode("utf-8", errors="replace")

    def _collect_output(self):
        text = self._read_new_output()
        fd, self.output_fd = getattr(self, "output_fd", None), None
        if fd is not None:
            os.close(fd)
        if text:
            self.output += text

    def take_output(self) -> str:
        """What the student's code printed since the last call of this (for feedback)."""
        text, self.output = self.output + self._read_new_output(), ""
        return text

    def restart(self):
        """A fresh process after a timeout or crash (handles from the old one are gone)."""
        self.close()
        self.restarts += 1
        self.start()

    # -- talking ----------------------------------------------------------------
    def _ended(self) -> str:
        return _describe_exit(Zygote.get().exit_status(self.pid))

    def _receive(self, seconds: float):
        started = time.monotonic()
        try:
            return self._receive_until(started + seconds, seconds)
        finally:
            self.busy += time.monotonic() - started

    def _receive_until(self, deadline: float, seconds: float):
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self._kill()
                self.timeouts += 1
                raise StudentTimeout(seconds)
            try:
                if self.conn.poll(min(left, 0.5)):
                    data = self.conn.recv_bytes(self.limits.reply_bytes, deadline=deadline)
                    break
            except TimeoutError:
                self._kill()
                self.timeouts += 1
                raise StudentTimeout(seconds) from None
            except (EOFError, OSError) as e:
                too_large = isinstance(e, OSError) and "limit" in str(e)
                detail = f"the answer was too large ({e})" if too_large else self._ended()
                self._kill()
                raise StudentCrashed(detail) from None
        try:
            return wire.decode(data, max_bytes=self.limits.reply_bytes)
        except wire.WireError as e:
            self._kill()
            raise StudentCrashed(f"the answer could not be read ({e})") from None

    def _request(self, kind, target, args=(), kwargs=None, return_args=False, seconds=None):
        if self.conn is None:
            self.restart()
        try:
            self.conn.send_bytes(wire.encode((kind, target, tuple(args), kwargs or {}, return_args)))
        except OSError:
            detail = self._ended()
            self._kill()
            raise StudentCrashed(detail) from None
        limit = seconds or self.call_limit()
        try:
            reply = self._receive(limit)
        except StudentTimeout:
            if limit < self.limits.call_seconds:
                raise StudentTimeout(limit, "an infinite loop? An earlier call had already run "
                                     f"out of its {self.limits.call_seconds:g} s, so later calls "
                                     f"get {limit:g} s") from None
            raise
        if not isinstance(reply, tuple) or not reply:
            raise StudentCrashed("the answer was not understood")
        if reply[0] == "error" and len(reply) == 4:
            raise StudentError(*(str(x) for x in reply[1:]))
        if reply[0] != "ok" or len(reply) != 3:
            raise StudentCrashed("the answer was not understood")
        return reply[1], reply[2]

    def call_limit(self) -> float:
        """Seconds allowed for the next call (see `Limits.after_timeout`)."""
        full = self.limits.call_seconds
        return full if not self.timeouts else min(full, max(0.5, full * self.limits.after_timeout))

    def has(self, name: str) -> bool:
        return name in self.names

    def call(self, name: str, *args, return_args: bool = False, **kwargs):
        """Call the student's function `name`; with return_args, also get the arguments
        back as they are after the call (to see if the code modified them)."""
        if name not in self.names:
            raise NotDefined(name)
        value, after = self._request("name", name, args, kwargs, return_args)
        return (value, after) if return_args else value

    def call_method(self, obj: wire.Remote, method: str, *args, **kwargs):
        return self._request("method", (obj, method), args, kwargs)[0]

    def getattr(self, obj: wire.Remote, attr: str):
        return self._request("getattr", (obj, attr))[0]

    def setattr(self, obj: wire.Remote, attr: str, value):
        self._request("setattr", (obj, attr), (value,))

    def define(self, source: str, names=()):
        """Run grader-supplied helper code (e.g. a cell class) in the student process;
        `names` are the names it defines, callable afterwards with `call`."""
        self._request("define", source)
        self.names.update(names)
