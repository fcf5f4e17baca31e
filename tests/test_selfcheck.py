"""`check(fn)` in the notebook: a table a student can act on, raising CheckFailed when
something is wrong, working from the committed fixtures without solutions/."""
from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest

from autograder import check
from autograder.exercises import rnn_review
from autograder.notebook import source_of
from autograder.reference import reference
from autograder.selfcheck import CheckFailed
from conftest import ROOT, SOLUTION

REF = reference(rnn_review).namespace
rnn_step_forward = REF["rnn_step_forward"]
rnn_forward = REF["rnn_forward"]
rnn_step_backward = REF["rnn_step_backward"]
rnn_backward = REF["rnn_backward"]


@pytest.mark.parametrize("fn, helpers", [(rnn_step_forward, ()), (rnn_forward, ()),
                                         (rnn_step_backward, (rnn_step_forward,)),
                                         (rnn_backward, (rnn_forward,))])
def test_reference_passes_every_public_check(fn, helpers, capsys):
    check(fn, *helpers)
    out = capsys.readouterr().out
    assert "All public checks pass" in out and "FAIL" not in out
    assert f"{fn.__name__}: 10/10 points" in out


def test_backward_finds_its_forward_in_the_notebook_namespace(capsys):
    check(rnn_backward)  # rnn_forward is a global of this module, as in a notebook
    assert "All public checks pass" in capsys.readouterr().out


def test_a_bug_gives_a_table_with_where_and_a_hint(capsys):
    def rnn_forward(x, h0, Wx, Wh, b):  # noqa: F811  (the student's version)
        h, cache = REF["rnn_forward"](x, h0, Wx, Wh, b)
        h = h.copy()
        h[:, 2:] = 0.0  # stops writing after two steps
        return h, cache
    with pytest.raises(CheckFailed, match="values"):
        check(rnn_forward)
    out = capsys.readouterr().out
    assert "values     FAIL" in out
    assert "timesteps t=2..3 differ, the others match" in out


def test_a_known_mistake_is_named(capsys):
    def rnn_step_forward(x, h_prev, Wx, Wh, b):  # noqa: F811
        return np.tanh(x @ Wx + h_prev @ Wh), None
    with pytest.raises(CheckFailed):
        check(rnn_step_forward)
    assert "looks like: the bias b is missing" in capsys.readouterr().out


def test_a_stub_says_not_implemented_once(capsys):
    def rnn_backward(dh, cache):  # noqa: F811
        raise NotImplementedError("Student exercise: implement rnn_backward")
    with pytest.raises(CheckFailed):
        check(rnn_backward, rnn_forward)
    out = capsys.readouterr().out
    assert out.count("not implemented yet") == 1
    assert "0/10 points" in out


def test_in_place_modification_fails_no_modify_only(capsys):
    def rnn_step_backward(dh_next, cache):  # noqa: F811
        dh_next *= 1.0  # harmless value, but writes into the caller's array
        dh_next[...] = dh_next
        out = REF["rnn_step_backward"](dh_next, cache)
        dh_next += 0.5
        return out
    with pytest.raises(CheckFailed, match="no_modify"):
        check(rnn_step_backward, rnn_step_forward)
    assert "modified its input dh_next in place" in capsys.readouterr().out


def test_check_of_something_else_says_what_it_accepts():
    with pytest.raises(CheckFailed, match="rnn_step_forward, rnn_forward"):
        check(print)


def test_self_check_works_without_solutions(tmp_path):
    """A student's copy of the course has the package and fixtures, not solutions/."""
    shutil.copytree(ROOT / "autograder", tmp_path / "autograder",
                    ignore=shutil.ignore_patterns("__pycache__"))
    student = "import numpy as np\nfrom autograder import check\n" + "\n\n".join(
        source_of(SOLUTION, n) for n in ("rnn_step_forward", "rnn_forward",
                                          "rnn_step_backward", "rnn_backward"))
    student += "\ncheck(rnn_forward)\ncheck(rnn_backward)\n"
    (tmp_path / "student.py").write_text(student)
    done = subprocess.run([sys.executable, "student.py"], cwd=tmp_path, capture_output=True,
                          text=True, env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("All public checks pass") == 2
    assert not (tmp_path / "solutions").exists()
