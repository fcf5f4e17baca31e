"""Chapter 4 (GRU): the reference against torch.nn.GRU, and the grader by mutation."""
from __future__ import annotations

import numpy as np
import pytest

from autograder.exercises import gru
from autograder.grade import grade_notebook
from autograder.reference import reference
from conftest import ROOT

SOLUTION = ROOT / "solutions" / "04_gru.ipynb"
FULL = sum(ex.max_points for ex in gru.EXERCISES)


def feedback(graded, exercise):
    return "\n".join(r.message for r in graded.results if r.exercise == exercise)


@pytest.fixture(scope="module")
def ref():
    return reference(gru).namespace


@pytest.mark.torch
def test_reset_after_gru_with_converted_weights_agrees_with_torch(ref):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: the torch oracle "
                                "is skipped (.ci/run installs torch==2.13.0)")
    N, T, D, H = 3, 6, 4, 5
    torch.manual_seed(1)
    layer = torch.nn.GRU(D, H, batch_first=True, dtype=torch.float64)
    rng = np.random.default_rng(2)
    x, h0 = rng.normal(size=(N, T, D)), rng.normal(size=(N, H))
    out, _ = layer(torch.from_numpy(x), torch.from_numpy(h0[None]))
    Wx, Wh, bx, bh = ref["gru_weights_from_torch"](*(p.detach().numpy() for p in (
        layer.weight_ih_l0, layer.weight_hh_l0, layer.bias_ih_l0, layer.bias_hh_l0)))
    h = h0
    for t in range(T):
        h, _ = ref["gru_step_forward_reset_after"](x[:, t], h, Wx, Wh, bx, bh)
        np.testing.assert_allclose(h, out.detach().numpy()[:, t], rtol=0, atol=1e-12)


def test_original_gru_is_the_formula(ref):
    rng = np.random.default_rng(4)
    N, D, H = 2, 3, 4
    x, h = rng.normal(size=(N, D)), rng.normal(size=(N, H))
    Wx, Wh, b = rng.normal(size=(D, 3 * H)), rng.normal(size=(H, 3 * H)), rng.normal(size=3 * H)
    sig = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    r = sig(x @ Wx[:, :H] + h @ Wh[:, :H] + b[:H])
    z = sig(x @ Wx[:, H:2 * H] + h @ Wh[:, H:2 * H] + b[H:2 * H])
    n = np.tanh(x @ Wx[:, 2 * H:] + (r * h) @ Wh[:, 2 * H:] + b[2 * H:])
    h_next, _ = ref["gru_step_forward"](x, h, Wx, Wh, b)
    np.testing.assert_allclose(h_next, (1 - z) * h + z * n, rtol=1e-13)


def test_solution_full_marks_and_stubs_zero():
    solved = grade_notebook(SOLUTION)
    assert solved.score == FULL, [r.message for r in solved.results if not r.passed]
    stubs = grade_notebook(ROOT / "chapters" / "04_gru.ipynb")
    assert stubs.score == 0 and "not implemented yet" in feedback(stubs, "gru_forward")


def step(order="rzn", mix="(1 - z) * h_prev + z * n", cand="(r * h_prev) @ Wh[:, 2*H:]", bias="+ b"):
    return f"""
        def gru_step_forward(x, h_prev, Wx, Wh, b):
            H = h_prev.shape[1]
            ax = x @ Wx {bias}
            blocks = dict(zip("{order}", range(3)))
            get = lambda a, g: a[:, blocks[g] * H:(blocks[g] + 1) * H]
            r = 1 / (1 + np.exp(-(get(ax, "r") + get(h_prev @ Wh, "r"))))
            z = 1 / (1 + np.exp(-(get(ax, "z") + get(h_prev @ Wh, "z"))))
            Wh_n = Wh[:, blocks["n"] * H:(blocks["n"] + 1) * H]
            n = np.tanh(get(ax, "n") + {cand.replace("Wh[:, 2*H:]", "Wh_n")})
            return {mix}, (x, h_prev, Wx, Wh, r, z, n)
        """


MUTANTS = {
    "torch z convention": ("gru_step_forward", step(mix="z * h_prev + (1 - z) * n"), "PyTorch way"),
    "reset after the product": ("gru_step_forward", step(cand="r * (h_prev @ Wh[:, 2*H:])"),
                                "reset is applied after the product"),
    "reset not used": ("gru_step_forward", step(cand="h_prev @ Wh[:, 2*H:]"), "reset gate is not used"),
    "z and r swapped": ("gru_step_forward", step(order="zrn"), "order z, r, n"),
    "no bias": ("gru_step_forward", step(bias=""), "bias is left out"),
    "converter without the z flip": ("gru_weights_from_torch", """
        def gru_weights_from_torch(weight_ih, weight_hh, bias_ih, bias_hh):
            return weight_ih.T.copy(), weight_hh.T.copy(), bias_ih.copy(), bias_hh.copy()
        """, "z is not flipped"),
}


@pytest.mark.parametrize("mutant", MUTANTS)
def test_mistake_is_caught_and_named(mutant, make_notebook):
    name, source, hint = MUTANTS[mutant]
    graded = grade_notebook(make_notebook({name: source}, base=SOLUTION))
    assert graded.exercise_score(name) < 10
    assert hint in feedback(graded, name), feedback(graded, name)


def test_correct_variant_written_differently(make_notebook):
    graded = grade_notebook(make_notebook({
        "gru_step_forward": step(),
        "gru_weights_from_torch": """
            def gru_weights_from_torch(weight_ih, weight_hh, bias_ih, bias_hh):
                H = weight_hh.shape[1]
                sign = np.concatenate([np.ones(H), -np.ones(H), np.ones(H)])   # flip z
                return (weight_ih * sign[:, None]).T, (weight_hh * sign[:, None]).T, \\
                    bias_ih * sign, bias_hh * sign
            """}, base=SOLUTION))
    assert graded.score == FULL, [r.message for r in graded.results if not r.passed]
