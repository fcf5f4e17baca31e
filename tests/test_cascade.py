"""Tests for autograder/cascade.py: one bug is pointed at where it is."""
from __future__ import annotations

import pytest

from autograder import cascade
from autograder.grade import grade_notebook
from autograder.selfcheck import CheckFailed, as_the_grader_loads, run_checks, cascade_notes
from autograder.exercise import LocalStudent
from autograder.exercises import rnn_review
from conftest import ROOT, write_notebook

NO_BIAS_STEP = """
    def rnn_step_forward(x, h_prev, Wx, Wh, b):
        h_next = np.tanh(x @ Wx + h_prev @ Wh)
        return h_next, (x, h_prev, Wx, Wh, h_next)
    """


def feedback(graded, name):
    return "\n".join(r.message for r in graded.results if r.exercise == name and not r.passed)


def test_one_bug_in_rnn_step_forward_is_pointed_at_from_every_exercise_that_uses_it(make_notebook):
    graded = grade_notebook(make_notebook({"rnn_step_forward": NO_BIAS_STEP}))
    assert feedback(graded, "rnn_forward").startswith(
        "note: rnn_forward calls your rnn_step_forward, which fails its own checks: fix that first")
    assert "uses the cache from your rnn_step_forward" in feedback(graded, "rnn_step_backward")
    assert feedback(graded, "rnn_backward").startswith(
        "note: rnn_backward uses your rnn_step_forward (through your rnn_forward), which fails "
        "its own checks: fix that first")
    # the bug's own exercise has no pointer: it is the cause
    assert "note:" not in feedback(graded, "rnn_step_forward")


def test_no_pointer_when_the_called_function_passes(make_notebook):
    graded = grade_notebook(make_notebook({"rnn_forward": """
        def rnn_forward(x, h0, Wx, Wh, b):
            h, cache = [], []
            prev = h0
            for t in range(x.shape[1]):
                prev, c = rnn_step_forward(x[:, t], h0, Wx, Wh, b)   # always from h0
                h.append(prev); cache.append(c)
            return np.stack(h, axis=1), cache
        """}))
    assert graded.exercise_score("rnn_forward") < 10
    assert "note:" not in feedback(graded, "rnn_forward")


def test_a_helper_in_between_is_looked_through(make_notebook):
    """rnn_forward -> my_step (the student's own helper) -> rnn_step_forward."""
    graded = grade_notebook(make_notebook({"rnn_step_forward": NO_BIAS_STEP, "rnn_forward": """
        def my_step(*args):
            return rnn_step_forward(*args)

        def rnn_forward(x, h0, Wx, Wh, b):
            h, cache, prev = [], [], h0
            for t in range(x.shape[1]):
                prev, c = my_step(x[:, t], prev, Wx, Wh, b)
                h.append(prev); cache.append(c)
            return np.stack(h, axis=1), cache
        """}))
    assert "rnn_forward calls your rnn_step_forward" in feedback(graded, "rnn_forward")


def test_a_pasted_earlier_chapter_stub_is_named_with_its_cell(make_notebook, tmp_path):
    """Chapter 5's lstm_step_backward uses the pasted lstm_step_forward: when that still
    raises NotImplementedError, the message names it (and its cell), not the backward."""
    solution = ROOT / "solutions" / "05_backprop_cell_state.ipynb"
    path = write_notebook(tmp_path / "05_backprop_cell_state.ipynb", {"lstm_step_forward": """
        def lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b):
            raise NotImplementedError("Student exercise: lstm_step_forward")
        """}, base=solution)
    graded = grade_notebook(path)
    text = feedback(graded, "lstm_step_backward")
    assert "lstm_step_backward calls your lstm_step_forward, which is not implemented yet" in text
    assert "(it raises NotImplementedError (cell" in text or "NotImplementedError (cell" in text


def test_an_exception_names_the_function_and_cell_where_it_was_raised(make_notebook):
    graded = grade_notebook(make_notebook({"rnn_step_forward": """
        def rnn_step_forward(x, h_prev, Wx, Wh, b):
            return helper(x, h_prev, Wx, Wh, b)

        def helper(x, h_prev, Wx, Wh, b):
            return {}["missing"]
        """}))
    text = feedback(graded, "rnn_step_forward")
    assert "rnn_step_forward raised KeyError" in text
    assert "raised in your helper, cell" in text and ", line 5" in text


def test_check_gives_the_same_pointer_as_the_grader():
    """check() loads the cells as the grader does and gives the same pointer."""
    cells = [(1, "code", "import numpy as np"),
             (2, "code", "def rnn_step_forward(x, h_prev, Wx, Wh, b):\n"
                         "    h = np.tanh(x @ Wx + h_prev @ Wh)\n    return h, (x, h_prev, Wx, Wh, h)"),
             (3, "code", "def rnn_forward(x, h0, Wx, Wh, b):\n    h, c, prev = [], [], h0\n"
                         "    for t in range(x.shape[1]):\n"
                         "        prev, k = rnn_step_forward(x[:, t], prev, Wx, Wh, b)\n"
                         "        h.append(prev); c.append(k)\n    return np.stack(h, 1), c")]
    namespace, problems, program = as_the_grader_loads(cells)
    student = LocalStudent(namespace)
    assert not all(r.passed for r in run_checks(rnn_review.rnn_forward, rnn_review, student))
    assert cascade_notes(rnn_review.rnn_forward, student, namespace, program.uses) == [
        "note: rnn_forward calls your rnn_step_forward, which fails its own checks: fix that first"]


def test_dependencies_follow_calls_and_caches():
    uses = {"rnn_backward": {"rnn_step_backward", "np"}, "rnn_forward": {"rnn_step_forward"},
            "rnn_step_backward": {"np"}, "rnn_step_forward": {"np"}}
    deps = cascade.dependencies("rnn_backward", uses, cascade.forwards())
    assert deps == {"rnn_step_backward": [], "rnn_forward": [],
                    "rnn_step_forward": ["rnn_forward"]}


def test_readme_states_the_cascade_policy_as_it_is():
    readme = (ROOT / "README.md").read_text()
    assert "we grade each exercise on its own)" not in readme
    assert "rnn_forward calls your rnn_step_forward, which fails its own checks: fix that first" \
        in " ".join(readme.split())
