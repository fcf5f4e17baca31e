"""Chapter 2 (the LSTM interface): initialisers graded by their properties, the parameter
count, the cell contract and the layer loop, each tested by mutation."""
from __future__ import annotations

import json

import numpy as np
import pytest

from autograder.exercises import lstm_interface
from autograder.grade import grade_notebook
from autograder.reference import reference
from conftest import ROOT

SOLUTION = ROOT / "solutions" / "02_lstm_interface.ipynb"
pytestmark = pytest.mark.skipif(not SOLUTION.exists(), reason="chapter 2 is not written yet")
FULL = sum(ex.max_points for ex in lstm_interface.EXERCISES)


def feedback(graded, exercise):
    return "\n".join(r.message for r in graded.results if r.exercise == exercise)


def test_reference_initialisers_have_the_documented_statistics():
    ref = reference(lstm_interface).namespace
    W = ref["glorot_uniform"]((300, 500), np.random.default_rng(0))
    limit = np.sqrt(6 / 800)
    assert np.abs(W).max() <= limit and W.var() == pytest.approx(limit ** 2 / 3, rel=0.02)
    for shape in ((6, 6), (3, 12), (12, 3)):
        Q = ref["orthogonal"](shape, np.random.default_rng(1))
        gram = Q.T @ Q if shape[0] >= shape[1] else Q @ Q.T
        np.testing.assert_allclose(gram, np.eye(min(shape)), atol=1e-12)
    assert ref["lstm_param_count"](32, 64) == 4 * (32 * 64 + 64 * 64 + 64) == 24832


def test_solution_full_marks_and_stubs_zero():
    solved = grade_notebook(SOLUTION)
    assert solved.score == FULL, [r.message for r in solved.results if not r.passed]
    stubs = grade_notebook(ROOT / "chapters" / "02_lstm_interface.ipynb")
    assert stubs.score == 0
    assert "not implemented yet" in feedback(stubs, "glorot_uniform")


MUTANTS = {
    "glorot with fan_in only": ("glorot_uniform", """
        def glorot_uniform(shape, rng):
            limit = np.sqrt(6 / shape[0])
            return rng.uniform(-limit, limit, size=shape)
        """, "sqrt(6 / fan_in)"),
    "glorot normal": ("glorot_uniform", """
        def glorot_uniform(shape, rng):
            return rng.normal(0, np.sqrt(2 / sum(shape)), size=shape)
        """, "normally distributed"),
    "glorot ignores rng": ("glorot_uniform", """
        def glorot_uniform(shape, rng):
            limit = np.sqrt(6 / sum(shape))
            return np.random.uniform(-limit, limit, size=shape)
        """, "draw from the `rng` argument"),
    "orthogonal not normalised": ("orthogonal", """
        def orthogonal(shape, rng):
            q, r = np.linalg.qr(rng.normal(size=(max(shape), min(shape))))
            q = 2 * q
            return q if shape[0] >= shape[1] else q.T
        """, "not of length 1"),
    "orthogonal per square block": ("orthogonal", """
        def orthogonal(shape, rng):
            n, m = min(shape), max(shape)
            blocks = [np.linalg.qr(rng.normal(size=(n, n)))[0] for _ in range(m // n)]
            if m % n:
                blocks.append(np.linalg.qr(rng.normal(size=(n, n)))[0][:, :m % n])
            q = np.concatenate(blocks, axis=1)
            return q if shape[0] <= shape[1] else q.T
        """, "orthogonal (5, 5) blocks side by side"),
    "glorot with a wrong limit": ("glorot_uniform", """
        def glorot_uniform(shape, rng):
            limit = np.sqrt(2 / sum(shape))
            return rng.uniform(-limit, limit, size=shape)
        """, "uniform in [-limit, limit] with the wrong limit"),
    "orthogonal is gaussian": ("orthogonal", """
        def orthogonal(shape, rng):
            return rng.normal(size=shape) / np.sqrt(shape[0])
        """, "differs from the identity"),
    "param count without biases": ("lstm_param_count", """
        def lstm_param_count(input_dim, units):
            return 4 * (input_dim * units + units * units)
        """, "biases are left out"),
    "param count torch style": ("lstm_param_count", """
        def lstm_param_count(input_dim, units):
            return 4 * (input_dim * units + units * units + 2 * units)
        """, "PyTorch's count"),
    "run_cell ignores initial_state": ("run_cell", """
        def run_cell(cell, x, initial_state=None, return_sequences=False, return_state=False):
            states = cell.get_initial_state(x.shape[0])
            outs = []
            for t in range(x.shape[1]):
                out, states = cell(x[:, t], states)
                outs.append(out)
            out = np.stack(outs, axis=1) if return_sequences else outs[-1]
            return (out, *states) if return_state else out
        """, "initial_state is ignored"),
    "run_cell assumes two states": ("run_cell", """
        def run_cell(cell, x, initial_state=None, return_sequences=False, return_state=False):
            states = initial_state if initial_state is not None else cell.get_initial_state(x.shape[0])
            outs = []
            for t in range(x.shape[1]):
                out, states = cell(x[:, t], states)
                outs.append(out)
            out = np.stack(outs, axis=1) if return_sequences else outs[-1]
            return (out, states[0], states[1]) if return_state else out
        """, "IndexError"),
    "run_cell returns the state h, not the output": ("run_cell", """
        def run_cell(cell, x, initial_state=None, return_sequences=False, return_state=False):
            states = initial_state if initial_state is not None else cell.get_initial_state(x.shape[0])
            outs = []
            for t in range(x.shape[1]):
                _, states = cell(x[:, t], states)
                outs.append(states[0])
            out = np.stack(outs, axis=1) if return_sequences else outs[-1]
            return (out, *states) if return_state else out
        """, "entries differ"),
}


@pytest.mark.parametrize("mutant", MUTANTS)
def test_mistake_loses_points_with_a_hint(mutant, make_notebook):
    name, source, hint = MUTANTS[mutant]
    graded = grade_notebook(make_notebook({name: source}, base=SOLUTION))
    assert graded.exercise_score(name) < 10
    assert hint in feedback(graded, name), feedback(graded, name)
    if name != "glorot_uniform" and name != "orthogonal":
        assert graded.exercise_score("glorot_uniform") == 10


VARIANTS = {
    "glorot via scaled unit uniform, orthogonal via SVD": {
        "glorot_uniform": """
            def glorot_uniform(shape, rng):
                fan_in, fan_out = shape
                return (2 * rng.random(shape) - 1) * (6 / (fan_in + fan_out)) ** 0.5
            """,
        "orthogonal": """
            def orthogonal(shape, rng):
                u, _, vt = np.linalg.svd(rng.standard_normal(shape), full_matrices=False)
                return u @ vt
            """},
    "run_cell with a while loop and a list of states": {
        "run_cell": """
            def run_cell(cell, x, initial_state=None, return_sequences=False, return_state=False):
                N, T = x.shape[:2]
                states = list(initial_state) if initial_state is not None else cell.get_initial_state(N)
                outputs, t = [], 0
                while t < T:
                    y, states = cell(x[:, t, :], states)
                    outputs.append(y)
                    t += 1
                result = np.stack(outputs, 1) if return_sequences else outputs[T - 1]
                return tuple([result] + list(states)) if return_state else result
            """},
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_correct_variant_full_marks(variant, make_notebook):
    graded = grade_notebook(make_notebook(VARIANTS[variant], base=SOLUTION))
    assert graded.score == FULL, [r.message for r in graded.results if not r.passed]


# -- issue 13 item 6: what the docstrings state is checked ----------------------------------

DOCSTRING_MUTANTS = {
    "orthogonal without the sign correction": ("orthogonal", """
        def orthogonal(shape, rng):
            rows, cols = shape
            A = rng.standard_normal((max(rows, cols), min(rows, cols)))
            Q, R = np.linalg.qr(A)
            return Q if rows >= cols else Q.T
        """, "the sign correction is missing"),
}


@pytest.mark.parametrize("mutant", DOCSTRING_MUTANTS)
def test_a_requirement_the_docstring_states_is_checked(mutant, make_notebook):
    name, source, hint = DOCSTRING_MUTANTS[mutant]
    graded = grade_notebook(make_notebook({name: source}, base=SOLUTION))
    assert graded.exercise_score(name) < 10
    assert hint in feedback(graded, name), feedback(graded, name)


def test_build_order_and_built_attribute_are_checked(make_notebook):
    """build draws Wx before Wh, and sets `built` (LSTMCell's docstring)."""
    nb = json.loads(SOLUTION.read_text())
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        if "class LSTMCell" in src:
            src = src.replace("        self.Wx = glorot_uniform((input_dim, 4 * H), rng)  # (D, 4H)\n"
                              "        self.Wh = orthogonal((H, 4 * H), rng)  # (H, 4H), orthonormal rows\n",
                              "        self.Wh = orthogonal((H, 4 * H), rng)\n"
                              "        self.Wx = glorot_uniform((input_dim, 4 * H), rng)\n")
            assert "self.Wh = orthogonal((H, 4 * H), rng)\n        self.Wx" in src
            cell["source"] = src
    path = make_notebook(name="swapped.ipynb")
    path.write_text(json.dumps(nb))
    graded = grade_notebook(path)
    assert "build draws Wh before Wx" in feedback(graded, "LSTMCell")


def test_per_gate_orthogonal_blocks_are_named_as_such(make_notebook):
    """Issue 13: Wh made of four orthogonal (H, H) gate blocks was told 'the vectors are
    orthogonal but not of length 1'."""
    nb = json.loads(SOLUTION.read_text())
    old = "        self.Wh = orthogonal((H, 4 * H), rng)  # (H, 4H), orthonormal rows\n"
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        if "class LSTMCell" in src:
            assert old in src
            cell["source"] = src.replace(old, "        self.Wh = np.concatenate([orthogonal((H, H), rng) "
                                              "for _ in range(4)], axis=1)\n")
    path = make_notebook(name="per_gate.ipynb")
    path.write_text(json.dumps(nb))
    text = feedback(grade_notebook(path), "LSTMCell")
    assert "it is 4 orthogonal (3, 3) blocks side by side" in text, text
    assert "not of length 1" not in text
