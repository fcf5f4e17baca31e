"""Chapter 3 (the gates): the reference against torch.nn.LSTM, and the grader by mutation:
each classic LSTM mistake loses points on the right exercise with the right hint, and
correct implementations written differently get full marks."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from autograder.exercises import gates
from autograder.grade import grade_notebook
from autograder.reference import reference
from conftest import ROOT

SOLUTION = ROOT / "solutions" / "03_gates.ipynb"
pytestmark = pytest.mark.skipif(not SOLUTION.exists(), reason="chapter 3 is not written yet")
FULL = sum(ex.max_points for ex in gates.EXERCISES)


@pytest.fixture(scope="module")
def ref():
    return reference(gates).namespace


def feedback(graded, exercise):
    return "\n".join(r.message for r in graded.results if r.exercise == exercise)


def test_sigmoid_is_exact_at_zero_and_quiet_at_the_extremes(ref):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise"):
            s = ref["sigmoid"](np.array([0.0, 1e4, -1e4, 3.0]))
    assert s[0] == 0.5 and s[1] == 1.0 and s[2] == 0.0
    assert s[3] == pytest.approx(1 / (1 + np.exp(-3.0)), rel=1e-15)


@pytest.mark.torch
def test_lstm_agrees_with_torch(ref):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: the torch oracle "
                                "is skipped (.ci/run installs torch==2.13.0)")
    N, T, D, H = 3, 7, 4, 5
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(D, H, batch_first=True, dtype=torch.float64)
    rng = np.random.default_rng(3)
    x, h0, c0 = rng.normal(size=(N, T, D)), rng.normal(size=(N, H)), rng.normal(size=(N, H))
    out, (hT, cT) = lstm(torch.from_numpy(x), (torch.from_numpy(h0[None]), torch.from_numpy(c0[None])))
    Wx, Wh, b = ref["lstm_weights_from_torch"](*(p.detach().numpy() for p in (
        lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0)))
    h, c, _ = ref["lstm_forward"](x, h0, c0, Wx, Wh, b)
    np.testing.assert_allclose(h, out.detach().numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(c[:, -1], cT.detach().numpy()[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(h[:, -1], hT.detach().numpy()[0], rtol=0, atol=1e-12)


def test_darknet_view_equals_fused_view(ref):
    """Eight separate matrices (four on x, four on h) give the fused step's result."""
    rng = np.random.default_rng(5)
    N, D, H = 2, 3, 4
    x, h, c = rng.normal(size=(N, D)), rng.normal(size=(N, H)), rng.normal(size=(N, H))
    Wx, Wh, b = rng.normal(size=(D, 4 * H)), rng.normal(size=(H, 4 * H)), rng.normal(size=4 * H)
    blocks = {g: slice(k * H, (k + 1) * H) for k, g in enumerate("ifgo")}
    gate = {g: ref["sigmoid"](x @ Wx[:, s] + h @ Wh[:, s] + b[s]) for g, s in blocks.items()}
    gate["g"] = np.tanh(x @ Wx[:, blocks["g"]] + h @ Wh[:, blocks["g"]] + b[blocks["g"]])
    c_next = gate["f"] * c + gate["i"] * gate["g"]
    h_next, c_ref, _ = ref["lstm_step_forward"](x, h, c, Wx, Wh, b)
    np.testing.assert_allclose(c_ref, c_next, rtol=1e-13)
    np.testing.assert_allclose(h_next, gate["o"] * np.tanh(c_next), rtol=1e-13)


def test_solution_full_marks_and_stubs_zero():
    solved = grade_notebook(SOLUTION)
    assert solved.score == FULL, [r.message for r in solved.results if not r.passed]
    stubs = grade_notebook(ROOT / "chapters" / "03_gates.ipynb")
    assert stubs.score == 0
    assert "not implemented yet" in feedback(stubs, "lstm_step_forward")


# -- mutation -------------------------------------------------------------------------------

def step(body_c="f * c_prev + i * g", body_h="o * np.tanh(c_next)", order="ifgo",
         acts=("sigmoid", "sigmoid", "np.tanh", "sigmoid"), bias="+ b", ret="h_next, c_next"):
    return f"""
        def lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b):
            a = x @ Wx + h_prev @ Wh {bias}
            H = h_prev.shape[1]
            blocks = dict(zip("{order}", (a[:, k * H:(k + 1) * H] for k in range(4))))
            i = {acts[0]}(blocks["i"])
            f = {acts[1]}(blocks["f"])
            g = {acts[2]}(blocks["g"])
            o = {acts[3]}(blocks["o"])
            c_next = {body_c}
            h_next = {body_h}
            return {ret}, (x, h_prev, c_prev, Wx, Wh, i, f, g, o, c_next)
        """


STEP_MUTANTS = {
    "CS231n gate order": (step(order="ifog"), "order i, f, o, g (CS231n's order)"),
    "another gate order": (step(order="fiog"), "order f, i, o, g"),
    "tanh missing on c": (step(body_h="o * c_next"), "tanh is missing on the cell state"),
    "c_prev in h": (step(body_h="o * np.tanh(c_prev)"), "c_prev is used where c_next belongs"),
    "sigmoid candidate": (step(acts=("sigmoid", "sigmoid", "sigmoid", "sigmoid")),
                          "sigmoid used for the candidate"),
    "tanh forget gate": (step(acts=("sigmoid", "np.tanh", "np.tanh", "sigmoid")),
                         "tanh used for the forget gate"),
    "forget on candidate": (step(body_c="i * c_prev + f * g"), "forget gate is applied to the candidate"),
    "no input gate": (step(body_c="f * c_prev + g"), "input gate is left out"),
    "no bias": (step(bias=""), "bias is left out"),
    "states swapped": (step(ret="c_next, h_next"), "returned in the wrong order"),
}


@pytest.mark.parametrize("mutant", STEP_MUTANTS)
def test_lstm_step_mistake_is_caught_and_named(mutant, make_notebook):
    source, hint = STEP_MUTANTS[mutant]
    graded = grade_notebook(make_notebook({"lstm_step_forward": source}, base=SOLUTION))
    assert graded.exercise_score("lstm_step_forward") < 10
    assert hint in feedback(graded, "lstm_step_forward"), feedback(graded, "lstm_step_forward")
    for other in ("sigmoid", "forget_gate", "candidate", "lstm_weights_from_torch"):
        assert graded.exercise_score(other) == 10


GATE_MUTANTS = {
    "forget_gate": ("""
        def forget_gate(x, h_prev, Wx_f, Wh_f, b_f):
            return np.tanh(x @ Wx_f + h_prev @ Wh_f + b_f)
        """, "tanh used for a gate"),
    "candidate": ("""
        def candidate(x, h_prev, Wx_g, Wh_g, b_g):
            return sigmoid(x @ Wx_g + h_prev @ Wh_g + b_g)
        """, "sigmoid used for the candidate"),
    "input_gate": ("""
        def input_gate(x, h_prev, Wx_i, Wh_i, b_i):
            return sigmoid(x @ Wx_i + h_prev @ Wh_i)
        """, "bias is left out"),
    "sigmoid": ("""
        def sigmoid(x):
            return 1 / (1 + np.exp(-x))
        """, "FloatingPointError"),
    "lstm_weights_from_torch": ("""
        def lstm_weights_from_torch(weight_ih, weight_hh, bias_ih, bias_hh):
            return weight_ih.T, weight_hh.T, bias_ih
        """, "only bias_ih is used"),
}


@pytest.mark.parametrize("name", GATE_MUTANTS)
def test_gate_mistake_is_caught_and_named(name, make_notebook):
    source, hint = GATE_MUTANTS[name]
    graded = grade_notebook(make_notebook({name: source}, base=SOLUTION))
    assert graded.exercise_score(name) < 10
    assert hint in feedback(graded, name), feedback(graded, name)


def test_cell_returning_states_in_the_wrong_order(make_notebook, ref):
    import json
    nb = json.loads(SOLUTION.read_text())
    src = next("".join(c["source"]) for c in nb["cells"] if "class LSTMCell" in "".join(c["source"]))
    start = src.index("### BEGIN SOLUTION")
    indent = src[:start].rsplit("\n", 1)[1]
    end = src.index("### END SOLUTION") + len("### END SOLUTION")
    wrong = src[:start] + (
        "h_next, c_next, _ = lstm_step_forward(x, states[0], states[1], self.Wx, self.Wh, self.b)\n"
        f"{indent}return h_next, [c_next, h_next]") + src[end:]
    graded = grade_notebook(make_notebook({"LSTMCell": wrong}, base=SOLUTION))
    assert graded.exercise_score("LSTMCell") == 0
    assert "[c_next, h_next]" in feedback(graded, "LSTMCell")


VARIANTS = {
    "separate gate matrices, stable sigmoid by tanh": {
        "sigmoid": """
            def sigmoid(x):
                return 0.5 * (1.0 + np.tanh(0.5 * x))
            """,
        "lstm_step_forward": """
            def lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b):
                H = h_prev.shape[1]
                pre = [x @ Wx[:, k*H:(k+1)*H] + h_prev @ Wh[:, k*H:(k+1)*H] + b[k*H:(k+1)*H]
                       for k in range(4)]
                i, f, o = sigmoid(pre[0]), sigmoid(pre[1]), sigmoid(pre[3])
                g = np.tanh(pre[2])
                c_next = c_prev * f + g * i
                return o * np.tanh(c_next), c_next, {"i": i, "f": f, "g": g, "o": o}
            """},
    "split stable sigmoid, hstack weights": {
        "sigmoid": """
            def sigmoid(x):
                out = np.empty_like(x, dtype=float)
                pos = x >= 0
                out[pos] = 1 / (1 + np.exp(-x[pos]))
                e = np.exp(x[~pos])
                out[~pos] = e / (1 + e)
                return out
            """,
        "lstm_step_forward": """
            def lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b):
                a = np.hstack([x, h_prev]) @ np.vstack([Wx, Wh]) + b
                i, f, g, o = np.split(a, 4, axis=1)
                c_next = sigmoid(f) * c_prev + sigmoid(i) * np.tanh(g)
                return sigmoid(o) * np.tanh(c_next), c_next, None
            """},
    "layer with preallocated arrays, x @ Wx for all steps at once": {
        "lstm_forward": """
            def lstm_forward(x, h0, c0, Wx, Wh, b):
                N, T, D = x.shape
                H = h0.shape[1]
                xw = (x.reshape(N * T, D) @ Wx).reshape(N, T, 4 * H)
                h, c = np.empty((N, T, H)), np.empty((N, T, H))
                hp, cp = h0, c0
                for t in range(T):
                    a = xw[:, t] + hp @ Wh + b
                    i, f, o = (1 / (1 + np.exp(-a[:, k*H:(k+1)*H])) for k in (0, 1, 3))
                    cp = f * cp + i * np.tanh(a[:, 2*H:3*H])
                    hp = o * np.tanh(cp)
                    h[:, t], c[:, t] = hp, cp
                return h, c, (x, h0, c0, Wx, Wh, b)
            """},
    "torch weights via copies and sum": {
        "lstm_weights_from_torch": """
            def lstm_weights_from_torch(weight_ih, weight_hh, bias_ih, bias_hh):
                return (np.ascontiguousarray(weight_ih.T), np.array(weight_hh).transpose(),
                        np.add(bias_ih, bias_hh))
            """},
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_correct_variant_full_marks(variant, make_notebook):
    graded = grade_notebook(make_notebook(VARIANTS[variant], base=SOLUTION))
    assert graded.score == FULL, [r.message for r in graded.results if not r.passed]


def test_torch_weights_returned_as_views_lose_the_inputs_points(make_notebook):
    """Issue 13 item 6: lstm_weights_from_torch's docstring says new arrays (no shared
    memory); returning `.T` views passed. The reference keeps full marks (above)."""
    graded = grade_notebook(make_notebook({"lstm_weights_from_torch": """
        def lstm_weights_from_torch(weight_ih, weight_hh, bias_ih, bias_hh):
            return weight_ih.T, weight_hh.T, bias_ih + bias_hh
        """}, base=SOLUTION))
    r = next(r for r in graded.results
             if r.exercise == "lstm_weights_from_torch" and r.check == "no_modify")
    assert not r.passed and r.score == 0, r.message
    assert "Wx, Wh share memory with lstm_weights_from_torch's inputs" in r.message, r.message
    assert graded.exercise_score("lstm_weights_from_torch") == gates.lstm_weights_from_torch.max_points - r.points


def test_torch_weights_views_fail_in_the_self_check_too(capsys):
    from autograder import check
    from autograder.selfcheck import CheckFailed

    def lstm_weights_from_torch(weight_ih, weight_hh, bias_ih, bias_hh):
        return weight_ih.T, weight_hh.T, bias_ih + bias_hh
    with pytest.raises(CheckFailed):
        check(lstm_weights_from_torch)
    out = capsys.readouterr().out
    assert "share memory with lstm_weights_from_torch's inputs" in out, out

    def lstm_weights_from_torch(weight_ih, weight_hh, bias_ih, bias_hh):   # noqa: F811
        return weight_ih.T.copy(), weight_hh.T.copy(), bias_ih + bias_hh
    check(lstm_weights_from_torch)
