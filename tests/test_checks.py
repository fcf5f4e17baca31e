"""Tests for autograder/checks.py: the check plan shared by check() and the grader."""
from __future__ import annotations

import re
import textwrap

import numpy as np
import pytest

from autograder import check
from autograder.grade import grade_notebook
from autograder.selfcheck import CheckFailed

# CS231n's rnn_layers.py template: each body assigns None and returns it.
CS231N_TEMPLATE = {
    "rnn_step_forward": """
        def rnn_step_forward(x, prev_h, Wx, Wh, b):
            next_h, cache = None, None
            return next_h, cache
        """,
    "rnn_forward": """
        def rnn_forward(x, h0, Wx, Wh, b):
            h, cache = None, None
            return h, cache
        """,
    "rnn_step_backward": """
        def rnn_step_backward(dnext_h, cache):
            dx, dprev_h, dWx, dWh, db = None, None, None, None, None
            return dx, dprev_h, dWx, dWh, db
        """,
    "rnn_backward": """
        def rnn_backward(dh, cache):
            dx, dh0, dWx, dWh, db = None, None, None, None, None
            return dx, dh0, dWx, dWh, db
        """,
}


def test_cs231n_template_scores_zero(make_notebook):
    """Does a template that returns None everywhere get no points, "inputs unchanged" included?"""
    graded = grade_notebook(make_notebook(CS231N_TEMPLATE))
    assert graded.score == 0
    no_modify = [r for r in graded.results if r.check == "no_modify"]
    assert len(no_modify) == 4
    assert all("not scored" in r.message and "right kind and shape" in r.message for r in no_modify)


def test_wrong_values_of_the_right_shape_still_earn_inputs_unchanged(make_notebook):
    """An answer of the right shape (wrong values) is an answer: its inputs-unchanged points stay."""
    graded = grade_notebook(make_notebook({"rnn_step_forward": """
        def rnn_step_forward(x, h_prev, Wx, Wh, b):
            return np.tanh(x @ Wx + h_prev @ Wh + 2 * b), None
        """}))
    r = next(r for r in graded.results if r.exercise == "rnn_step_forward" and r.check == "no_modify")
    assert r.passed and r.score == 2
    assert graded.exercise_score("rnn_step_forward") == 2


def test_cs231n_template_scores_zero_in_the_self_check_too(capsys):
    def rnn_step_forward(x, prev_h, Wx, Wh, b):
        next_h, cache = None, None
        return next_h, cache
    with pytest.raises(CheckFailed):
        check(rnn_step_forward)
    out = capsys.readouterr().out
    assert "0/10 points" in out and "not scored" in out


# -- types as the docstring says (lstm_param_count: "a Python int") ---------------------

def _count_variants():
    def python_int(input_dim, units):
        return int(4 * (input_dim * units + units * units + units))

    def numpy_int(input_dim, units):
        return np.int64(4) * (np.int64(input_dim) * units + units * units + units)

    def plain_arithmetic(input_dim, units):
        D, H = input_dim, units
        return 4 * (D * H + H * H + H)
    return [python_int, numpy_int, plain_arithmetic]


@pytest.mark.parametrize("fn", _count_variants(), ids=lambda f: f.__name__)
def test_param_count_accepts_python_and_numpy_ints(fn, capsys):
    fn.__name__ = "lstm_param_count"
    check(fn)
    assert "10/10 points" in capsys.readouterr().out


def test_param_count_refuses_a_float_and_says_why(capsys):
    def lstm_param_count(input_dim, units):
        return 4.0 * units * (input_dim + units + 1)
    with pytest.raises(CheckFailed):
        check(lstm_param_count)
    out = capsys.readouterr().out
    assert "count should be an int, as the docstring says" in out and "got the float 24832.0" in out
    assert "numpy array" not in out   # no message contradicts the docstring


def test_param_count_gets_python_and_numpy_ints_in_hidden_cases():
    """The docstring says int: the grader passes both kinds (a shape read from an array is
    a numpy int), so a solution that only works for one loses points."""
    from autograder.exercises.lstm_interface import lstm_param_count as ex
    kinds = {type(ex.make_inputs(d, 0)["units"]) for d in ex.hidden_dims + ex.edge_dims}
    assert kinds == {int, np.int64}


# -- hints: single-output mistakes, and what hidden-case feedback shows ------------------

ZERO_BACKWARD = """
    def rnn_backward(dh, cache):
        x0, _, Wx, Wh, _ = cache[0]
        N, T, H = dh.shape
        return (np.zeros((N, T, x0.shape[1])), np.zeros((N, H)), np.zeros_like(Wx),
                np.zeros_like(Wh), np.zeros(H))
    """
NO_DH0 = """
    def rnn_backward(dh, cache):
        dx, dh0, dWx, dWh, db = _solution_rnn_backward(dh, cache)
        return dx, 0 * dh0, dWx, dWh, db
    """


def _with_solution_backward(replace):
    return {"rnn_backward": "_solution_rnn_backward = rnn_backward\n" + replace}


def test_a_hint_about_one_output_needs_the_others_to_match(make_notebook):
    all_zero = grade_notebook(make_notebook({"rnn_backward": ZERO_BACKWARD}))
    text = "\n".join(r.message for r in all_zero.results if r.exercise == "rnn_backward")
    assert "dh0 is not returned" not in text
    only_dh0 = grade_notebook(make_notebook(extra_cells=[
        "_solution_rnn_backward = rnn_backward\n" + textwrap.dedent(NO_DH0)]))
    text = "\n".join(r.message for r in only_dh0.results if r.exercise == "rnn_backward")
    assert "looks like: dh0 is not returned (it is zeros)" in text


def test_hidden_case_feedback_never_quotes_expected_values(make_notebook, capsys):
    """README: feedback gives 'never the hidden cases' expected values'; check() quotes the
    public ones."""
    wrong = """
        def rnn_step_forward(x, h_prev, Wx, Wh, b):
            h_next = np.tanh(x @ Wx + h_prev @ Wh + 2 * b)
            return h_next, (x, h_prev, Wx, Wh, h_next)
        """
    graded = grade_notebook(make_notebook({"rnn_step_forward": wrong}))
    text = "\n".join(r.message for r in graded.results)
    assert "differ" in text and not re.search(r"expected -?\d", text)

    def rnn_step_forward(x, h_prev, Wx, Wh, b):
        h_next = np.tanh(x @ Wx + h_prev @ Wh + 2 * b)
        return h_next, None
    with pytest.raises(CheckFailed):
        check(rnn_step_forward)
    assert re.search(r"expected -?\d", capsys.readouterr().out)


def test_a_missing_bias_upstream_is_not_called_a_factor_of_1(make_notebook):
    """Issue 13: rnn_step_backward's edge case [N=1, D=4, H=1] after a forward without `+ b`
    said 'it is the expected value times 1 (a missing or extra factor)'."""
    graded = grade_notebook(make_notebook({"rnn_step_forward": """
        def rnn_step_forward(x, h_prev, Wx, Wh, b):
            h_next = np.tanh(x @ Wx + h_prev @ Wh)
            return h_next, (x, h_prev, Wx, Wh, h_next)
        """}))
    text = "\n".join(r.message for r in graded.results if r.exercise == "rnn_step_backward")
    assert "entries differ" in text, text
    assert "times 1 " not in text and "times 1." not in text, text
