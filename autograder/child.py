"""The student process: load the student's definitions, then answer calls.

Runs forked from a trusted fork server (`zygote`) that has numpy imported already (so a child
starts in milliseconds). Nothing here decides a score: it receives inputs, calls the
student's code and sends back plain data (see `wire`). The parent validates everything.
"""
from __future__ import annotations

import ast
import builtins
import os
import resource
import sys
import traceback

import numpy as np  # noqa: F401  (imported in the fork server, shared by every child)

from autograder import wire

OUTPUT_FILE = ".output.txt"
UID_BASE = 1_000_000   # far above real users' uids


def _limit(which, value):
    try:
        resource.setrlimit(which, (value, value))
    except (ValueError, OSError):
        pass


# Linux constants (linux/sched.h, linux/mount.h)
CLONE_NEWNS, CLONE_NEWNET = 0x00020000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 1 << 14, 1 << 18
MS_BIND = 1 << 12


def _hide(paths: list[str]) -> bool:
    """In a private mount namespace, cover each path with an empty read-only tmpfs (a
    file: with /dev/null), and leave the network namespace with no interface but lo.
    Needs root (the grader in a container or CI); returns False where it cannot."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(CLONE_NEWNS | CLONE_NEWNET) != 0:
            return False
        libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None)  # nothing leaks back out
        for path in paths:
            if os.path.isdir(path):
                libc.mount(b"tmpfs", path.encode(), b"tmpfs",
                           MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, b"size=4k,mode=555")
            elif os.path.isfile(path):
                libc.mount(b"/dev/null", path.encode(), None, MS_BIND, None)
        return True
    except (OSError, AttributeError):
        return False


def _inside(path: str, folders) -> bool:
    return any(path == f or path.startswith(f.rstrip("/") + "/") for f in folders)


def _keep_imports_reachable(hidden: list[str]) -> dict[str, str]:
    """Called as root, just before becoming the student's uid. Python's own folders (the
    standard library, site-packages) may lie under a folder only root can enter: pyenv in
    /root (mode 0700), a checkout in a `mktemp -d` folder. A directory descriptor opened
    now on each stays usable after the uid change, and /proc/self/fd/N/... reaches what is
    under it with the student's own rights (every file there is world-readable), without
    passing through the closed folder above. So student code imports what the grader's
    Python can import (statistics, decimal, numpy.ma...), and nothing more: folders that
    hold or contain a hidden path are not opened (they stay on sys.path as they were).
    Returns {original folder: /proc/self/fd/N}."""
    hidden_real = [os.path.realpath(h) for h in hidden]
    mapping: dict[str, str] = {}
    for entry in list(sys.path):
        real = os.path.realpath(entry or ".")
        if real in mapping or not os.path.isdir(real):
            continue
        if _inside(real, hidden_real) or any(_inside(h, [real]) for h in hidden_real):
            continue
        try:
            fd = os.open(real, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            continue
        mapping[real] = f"/proc/self/fd/{fd}"

    def moved(p: str) -> str:
        real = os.path.realpath(p)
        for old, new in mapping.items():
            if real == old or real.startswith(old + "/"):
                return new + real[len(old):]
        return p

    sys.path[:] = [moved(p) for p in sys.path]
    for module in list(sys.modules.values()):   # packages imported already (numpy...)
        search = getattr(module, "__path__", None)
        if isinstance(search, list):
            search[:] = [moved(p) if isinstance(p, str) else p for p in search]
    sys.path_importer_cache.clear()
    return mapping


def _apply_limits(limits: dict, scratch: str) -> None:
    os.setsid()  # own process group: the parent kills the whole group when done
    if os.getuid() == 0:
        _hide([p for p in limits.get("hide", ()) if not scratch.startswith(p.rstrip("/") + "/")])
    os.chdir(scratch)
    # student output goes to a file in the scratch dir, bounded by RLIMIT_FSIZE
    fd = os.open(OUTPUT_FILE, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW)  # made by the grader
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout = open(1, "w", buffering=1, closefd=False)
    sys.stderr = open(2, "w", buffering=1, closefd=False)
    sys.stdin = open(os.devnull)
    _limit(resource.RLIMIT_CORE, 0)
    _limit(resource.RLIMIT_AS, limits["memory_bytes"])
    _limit(resource.RLIMIT_CPU, limits["cpu_seconds"])
    _limit(resource.RLIMIT_FSIZE, limits["output_bytes"])
    if os.getuid() == 0 and limits.get("uid") is not None:
        # root ignores RLIMIT_NPROC: drop to an unprivileged user first. "unique": a uid of
        # its own (from this process's pid, unique among live processes), so that one
        # sandbox can neither signal another (kill(-1)) nor use up its process limit.
        uid = UID_BASE + os.getpid() if limits["uid"] == "unique" else int(limits["uid"])
        _keep_imports_reachable(list(limits.get("hide", ())))
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    _limit(resource.RLIMIT_NPROC, limits["max_processes"])


def _student_traceback(exc: BaseException, limit_chars: int = 4000) -> str:
    """The traceback restricted to frames in the student's cells."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith("<cell")]
    lines = traceback.format_list(frames) + traceback.format_exception_only(type(exc), exc)
    text = "".join(lines)
    return text[-limit_chars:]


def _error(exc: BaseException) -> tuple:
    msg = str(exc)[:2000] if not isinstance(exc, MemoryError) else "out of memory"
    return ("error", type(exc).__name__[:80], msg, _student_traceback(exc))


def load(cells: list, namespace: dict) -> list[str]:
    """Run the kept top-level statements of each cell; report failures, go on."""
    problems = []
    for index, source, keep in cells:
        body = ast.parse(source).body
        for k in keep:
            stmt = body[k]
            code = compile(ast.Module(body=[stmt], type_ignores=[]), f"<cell {index}>", "exec")
            try:
                exec(code, namespace)
            except BaseException as e:  # noqa: BLE001  (SystemExit too: report, go on)
                what = ast.get_source_segment(source, stmt) or ""
                first = what.splitlines()[0][:80] if what else "a statement"
                problems.append(f"Cell {index}, line {stmt.lineno} (`{first}`) raised "
                                f"{type(e).__name__}: {str(e)[:300]}")
    return problems


def main(conn) -> None:
    """Serve one sandbox: the first message says what to load and which limits apply."""
    _, cells, limits, scratch = wire.decode(conn.recv_bytes())
    _apply_limits(limits, scratch)
    handles: dict[int, object] = {}
    send, recv = conn.send_bytes, conn.recv_bytes  # keep our own references

    def to_remote(obj):
        handles[len(handles) + 1] = obj
        return wire.Remote(len(handles), type(obj).__name__)

    def resolve(v):
        if type(v) is wire.Remote:
            return handles[v.id]
        if type(v) in (list, tuple):
            return type(v)(resolve(x) for x in v)
        if type(v) is dict:
            return {k: resolve(x) for k, x in v.items()}
        return v

    namespace = {"__name__": "__main__", "__builtins__": builtins}
    problems = load(cells, namespace)
    names = sorted(k for k in namespace if not k.startswith("__"))
    send(wire.encode(("loaded", problems, names)))
    while True:
        try:
            request = wire.decode(recv())
        except EOFError:
            return
        kind, target, args, kwargs, return_args = request
        try:
            if kind == "define":  # grader-supplied helper code (e.g. a test cell class)
                exec(compile(target, "<grader>", "exec"), namespace)
                reply = ("ok", None, None)
            else:
                real_args, real_kwargs = resolve(args), resolve(kwargs)
                if kind == "name":      # call a function or class the student defined
                    value = namespace[target](*real_args, **real_kwargs)
                elif kind == "method":  # call a method of an object that stayed here
                    value = getattr(resolve(target[0]), target[1])(*real_args, **real_kwargs)
                elif kind == "getattr":
                    value = getattr(resolve(target[0]), target[1])
                elif kind == "setattr":
                    value = setattr(resolve(target[0]), target[1], real_args[0])
                else:
                    raise ValueError(f"unknown request {kind!r}")
                after = real_args if return_args else None  # the same objects, maybe modified
                reply = ("ok", value, after)
            data = wire.encode(reply, to_remote=to_remote)
        except BaseException as e:  # noqa: BLE001  (SystemExit and KeyboardInterrupt included)
            data = wire.encode(_error(e))
        send(data)
