"""Tests for autograder/sandbox.py (+ child.py, zygote.py): running student code in a limited process."""
import ast
import dataclasses
import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from autograder.notebook import _bound_in, load_program
from autograder.sandbox import (Limits, NotDefined, Sandbox, StudentCrashed, StudentError,
                                StudentTimeout)

STUDENT = '''\
import os
import sys
import numpy as np

Y = 5
X = 1 / 0

def affine(x, W, b):
    return x @ W + b, (x.shape, W.T)

def double(v):
    return 2 * v

def pid():
    return os.getpid(), os.getuid()

def boom(d):
    return d["missing"]

def loop():
    while True:
        pass

def grow():
    chunks = []
    while True:
        chunks.append(" " * 10_000_000)

def huge():
    return np.ones((1 << 40,))

def die():
    os._exit(3)

def bye():
    sys.exit()

def say():
    print("hello from student")
    print("and on stderr", file=sys.stderr)
    return Y

def add1(a):
    a += 1

def pwn():
    with open("pwned.txt", "w") as f:
        f.write("x")
    return os.getcwd()

def write(path):
    with open(path, "w") as f:
        f.write("x")

class Counter:
    def __init__(self):
        self.n = 0
    def bump(self, k):
        self.n += k
        return self.n
'''

LIMITS = Limits(call_seconds=1.0, memory_bytes=512 << 20)


@pytest.fixture(scope="module")
def program(tmp_path_factory):
    path = tmp_path_factory.mktemp("student") / "student.py"
    path.write_text(STUDENT)
    return load_program(path, _bound_in(ast.parse(STUDENT).body))   # everything it defines


@pytest.fixture
def sb(program):
    with Sandbox(program, LIMITS) as sandbox:
        yield sandbox


def test_arrays_come_back_equal(sb):
    """A function given arrays returns arrays (and nested tuples) equal to numpy's own result."""
    rng = np.random.default_rng(0)
    x, W, b = rng.normal(size=(4, 3)), rng.normal(size=(3, 2)), rng.normal(size=2)
    out, (shape, WT) = sb.call("affine", x, W, b)
    np.testing.assert_allclose(out, x @ W + b, rtol=1e-12)
    assert shape == (4, 3)
    np.testing.assert_array_equal(WT, W.T)


def test_student_runs_in_another_process(sb):
    """The student's code runs in a separate process (as `nobody` when the grader is root)."""
    pid, uid = sb.call("pid")
    assert pid == sb.pid and pid != os.getpid()
    if os.getuid() == 0:
        assert uid >= 1_000_000 and uid != os.getuid()  # a uid of its own


def test_exception_becomes_student_error(tmp_path):
    """An exception is a StudentError with kind, message and a traceback naming the cell."""
    nb = tmp_path / "student.ipynb"
    cells = [{"cell_type": "markdown", "metadata": {}, "source": "# Ex 1"},
             {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
              "source": "def boom(d):\n    key = 'missing'\n    return d[key]\n"}]
    nb.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    with Sandbox(load_program(nb, {"boom"}), LIMITS) as sb:
        with pytest.raises(StudentError) as err:
            sb.call("boom", {"present": 1})
        assert sb.call("boom", {"missing": 7}) == 7   # the process survived
    e = err.value
    assert type(e) is StudentError
    assert e.kind == "KeyError" and "missing" in e.message
    assert "<cell 2>" in e.trace and "line 3" in e.trace and "in boom" in e.trace


def test_infinite_loop_times_out_and_sandbox_restarts(sb):
    """An infinite loop raises StudentTimeout near call_seconds; the next call gets a fresh process."""
    old_pid = sb.pid
    start = time.monotonic()
    with pytest.raises(StudentTimeout):
        sb.call("loop")
    assert time.monotonic() - start < 5
    assert sb.timeouts == 1
    assert sb.call("double", 21) == 42
    assert sb.restarts == 1 and sb.pid != old_pid


@pytest.mark.parametrize("name", ["grow", "huge"])
def test_memory_limit_is_reported(program, name):
    """Running out of memory is a StudentError that says so, not a hang."""
    # A generous wall limit: on a loaded CI machine `grow` once needed more than the 1 s of
    # LIMITS to reach the memory limit, and the test is about memory, not time.
    limits = dataclasses.replace(LIMITS, call_seconds=8.0)
    start = time.monotonic()
    with Sandbox(program, limits) as sb, pytest.raises(StudentError) as err:
        sb.call(name)
    assert time.monotonic() - start < 10
    assert "memory" in str(err.value).lower()
    assert not isinstance(err.value, StudentTimeout)


def test_os_exit_is_a_crash_with_its_code(sb):
    """os._exit(3) in student code is a StudentCrashed naming exit code 3."""
    with pytest.raises(StudentCrashed, match="code 3"):
        sb.call("die")
    assert sb.call("double", 1) == 2   # a new process takes over


def test_sys_exit_is_reported_not_fatal(sb):
    """sys.exit() inside a student function is a StudentError, and the process keeps serving."""
    pid = sb.pid
    with pytest.raises(StudentError) as err:
        sb.call("bye")
    assert err.value.kind == "SystemExit"
    assert sb.call("double", 3) == 6 and sb.pid == pid


def test_prints_are_captured(program):
    """What the student prints (stdout and stderr) is in sandbox.output after close."""
    sb = Sandbox(program, LIMITS)
    sb.start()
    assert sb.call("say") == 5
    sb.close()
    assert "hello from student" in sb.output and "and on stderr" in sb.output


def test_undefined_name_raises_not_defined(sb):
    """Calling a name the notebook does not define raises NotDefined (a StudentError)."""
    with pytest.raises(NotDefined) as err:
        sb.call("lstm_forward", 1)
    assert err.value.name == "lstm_forward" and isinstance(err.value, StudentError)
    assert not sb.has("lstm_forward") and sb.has("affine")


def test_failing_definition_is_a_load_problem(sb):
    """`X = 1 / 0` is reported in load_problems (with its line); everything else still loads."""
    assert len(sb.load_problems) == 1
    problem = sb.load_problems[0]
    assert "line 6" in problem and "ZeroDivisionError" in problem
    assert not sb.has("X") and sb.has("Y")
    assert sb.call("double", np.arange(3)).tolist() == [0, 2, 4]


def test_return_args_gives_arguments_after_the_call(sb):
    """With return_args, an argument modified in place comes back modified; ours is untouched."""
    a = np.zeros(2)
    value, after = sb.call("add1", a, return_args=True)
    assert value is None
    assert type(after) is tuple and after[0].tolist() == [1.0, 1.0]
    assert a.tolist() == [0.0, 0.0]


def test_objects_stay_in_the_student_process(sb):
    """A returned object becomes a handle whose methods run (and keep state) in the student process."""
    counter = sb.call("Counter")
    assert sb.call_method(counter, "bump", 2) == 2
    assert sb.call_method(counter, "bump", 3) == 5
    assert sb.getattr(counter, "n") == 5


def test_relative_writes_land_in_scratch(sb, tmp_path, monkeypatch):
    """A file the student writes by relative path lands in the scratch dir, not our cwd."""
    monkeypatch.chdir(tmp_path)
    cwd = sb.call("pwn")
    assert os.path.realpath(cwd) == os.path.realpath(sb.scratch)
    assert (Path(sb.scratch) / "pwned.txt").exists()
    assert not (tmp_path / "pwned.txt").exists()
    scratch = sb.scratch
    sb.close()
    assert not os.path.exists(scratch)


@pytest.mark.skipif(os.getuid() != 0, reason="the uid drop happens only when grading as root")
def test_student_cannot_write_into_grader_directory(sb, tmp_path):
    """Even by absolute path, the unprivileged student cannot write into the grader's files."""
    with pytest.raises(StudentError) as err:
        sb.call("write", str(tmp_path / "pwned.txt"))
    assert err.value.kind == "PermissionError"
    assert not (tmp_path / "pwned.txt").exists()


def test_close_ends_the_student_process(program):
    """After close(), the student process is gone (killed and reaped)."""
    sb = Sandbox(program, LIMITS)
    sb.start()
    pid = sb.pid
    os.kill(pid, 0)   # alive now
    sb.close()
    deadline = time.monotonic() + 3
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        assert time.monotonic() < deadline, f"student process {pid} still exists"
        time.sleep(0.05)
