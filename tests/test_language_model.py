"""Chapter 7 (a language model): the reference against independent oracles (known gradients,
finite differences, torch autograd), the grader by mutation (each known mistake loses points
and is named; correct implementations written differently get full marks), and the
precomputed run (not stale, saying what the book says)."""
from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from autograder.exercises import language_model as lm
from autograder.mistakes.language_model import known_gradient
from autograder.grade import grade_notebook
from autograder.reference import reference
from conftest import ROOT, numeric_grad

SOLUTION = ROOT / "solutions" / "07_language_model.ipynb"
CHAPTER = ROOT / "chapters" / "07_language_model.ipynb"
DATA = ROOT / "autograder" / "data" / "07_language_model_runs.json"
pytestmark = pytest.mark.skipif(not SOLUTION.exists(), reason="chapter 7 is not written yet")
FULL = sum(ex.max_points for ex in lm.EXERCISES)


@pytest.fixture(scope="module")
def ref():
    return reference(lm).namespace


def feedback(graded, exercise):
    return "\n".join(r.message for r in graded.results if r.exercise == exercise)


def lm_problem(rng, N=2, T=4, V=5, H=3):
    params = {"Wx": rng.normal(size=(V, 4 * H)) / 2, "Wh": rng.normal(size=(H, 4 * H)) / 2,
              "b": rng.normal(size=4 * H) / 2, "W_out": rng.normal(size=(H, V)),
              "b_out": rng.normal(size=V) / 2}
    x, y = rng.integers(0, V, size=(N, T)), rng.integers(0, V, size=(N, T))
    return params, x, y, rng.normal(size=(N, H)) / 2, rng.normal(size=(N, H))


# -- the reference against independent oracles -----------------------------------------------

@pytest.mark.parametrize("kind", lm.KINDS)
@pytest.mark.parametrize("h", [1e-5, 1e-3])
def test_numerical_gradient_matches_the_known_gradients(ref, kind, h):
    """Does the reference checker give the exact gradients of the family the grader uses
    (centred differences: an error of order h^2, none at all for the quadratic)?"""
    inputs = lm._numgrad_inputs({"N": 3, "M": 4, "kind": lm.KINDS.index(kind), "h": h}, 5)
    x, W, A = inputs["x"], inputs["W"], inputs["A"]
    x_before = x.copy()
    got = ref["numerical_gradient"](lm.family_function(kind, W, A), x, h)
    np.testing.assert_allclose(got, known_gradient(kind, x, W, A), rtol=3 * h**2 + 1e-8, atol=1e-9)
    assert np.array_equal(x, x_before)


def test_relative_error_is_cs231n_s(ref):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    a[0, 0] = b[0, 0] = 0.0
    expected = np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b)))
    assert ref["relative_error"](a, b) == expected
    assert ref["relative_error"](a, a) == 0.0


@pytest.mark.parametrize("dims", [(2, 3, 5), (1, 1, 1), (3, 2, 4)])
def test_softmax_cross_entropy_matches_finite_differences(ref, dims):
    rng = np.random.default_rng(1)
    scores = rng.normal(size=dims) * 3
    y = rng.integers(0, dims[2], size=dims[:2])
    loss, dscores = ref["softmax_cross_entropy"](scores, y)
    p = np.exp(scores) / np.exp(scores).sum(axis=2, keepdims=True)
    direct = -np.mean(np.log(np.take_along_axis(p, y[..., None], axis=2)))
    assert loss == pytest.approx(direct, rel=1e-12)
    numeric = numeric_grad(lambda: ref["softmax_cross_entropy"](scores, y)[0], scores)
    np.testing.assert_allclose(dscores, numeric, rtol=1e-6, atol=1e-10)


def test_softmax_cross_entropy_survives_huge_scores(ref):
    """Scores above 709 overflow exp: the shifted form gives the same finite answer."""
    rng = np.random.default_rng(2)
    scores = rng.normal(size=(2, 3, 4))
    y = rng.integers(0, 4, size=(2, 3))
    with np.errstate(all="raise"):
        far = ref["softmax_cross_entropy"](scores + 1000.0, y)
    near = ref["softmax_cross_entropy"](scores, y)
    assert far[0] == pytest.approx(near[0], rel=1e-12)
    np.testing.assert_allclose(far[1], near[1], rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("dims", [dict(N=2, T=4, V=5, H=3), dict(N=1, T=1, V=2, H=1)])
def test_lm_loss_and_grads_matches_finite_differences(ref, dims):
    """Each parameter gradient is the centred difference of the loss; the state returned is
    the last step's of lstm_forward."""
    params, x, y, h0, c0 = lm_problem(np.random.default_rng(3), **dims)
    loss, grads, (hT, cT) = ref["lm_loss_and_grads"](params, x, y, h0, c0)
    assert set(grads) == set(params)
    for k, p in params.items():
        numeric = numeric_grad(lambda: ref["lm_loss_and_grads"](params, x, y, h0, c0)[0], p)
        np.testing.assert_allclose(grads[k], numeric, rtol=1e-6, atol=1e-9, err_msg=k)
    h, c, _ = ref["lstm_forward"](np.eye(dims["V"])[x], h0, c0, params["Wx"], params["Wh"], params["b"])
    assert np.array_equal(hT, h[:, -1]) and np.array_equal(cT, c[:, -1])


@pytest.mark.torch
def test_lm_loss_and_grads_agrees_with_torch(ref):
    """nn.LSTM (two biases, the second zero) plus F.cross_entropy, differentiated by autograd."""
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: the torch oracle is skipped")
    N, T, V, H = 3, 6, 7, 4
    params, x, y, h0, c0 = lm_problem(np.random.default_rng(4), N=N, T=T, V=V, H=H)
    loss, grads, (hT, cT) = ref["lm_loss_and_grads"](params, x, y, h0, c0)
    net = torch.nn.LSTM(V, H, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        net.weight_ih_l0.copy_(torch.from_numpy(params["Wx"].T))
        net.weight_hh_l0.copy_(torch.from_numpy(params["Wh"].T))
        net.bias_ih_l0.copy_(torch.from_numpy(params["b"]))
        net.bias_hh_l0.zero_()
    W_out = torch.tensor(params["W_out"], requires_grad=True)
    b_out = torch.tensor(params["b_out"], requires_grad=True)
    X = torch.nn.functional.one_hot(torch.from_numpy(x), V).double()
    out, (h_n, c_n) = net(X, (torch.from_numpy(h0)[None], torch.from_numpy(c0)[None]))
    scores = out @ W_out + b_out
    t_loss = torch.nn.functional.cross_entropy(scores.reshape(-1, V), torch.from_numpy(y).reshape(-1))
    t_loss.backward()
    assert loss == pytest.approx(float(t_loss), rel=1e-12)
    pairs = {"Wx": net.weight_ih_l0.grad.T, "Wh": net.weight_hh_l0.grad.T, "b": net.bias_ih_l0.grad,
             "W_out": W_out.grad, "b_out": b_out.grad}
    for k, g in pairs.items():
        np.testing.assert_allclose(grads[k], g.numpy(), rtol=1e-10, atol=1e-13, err_msg=k)
    np.testing.assert_allclose(hT, h_n[0].detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(cT, c_n[0].detach().numpy(), rtol=1e-12)


def test_clip_grad_norm_keeps_the_direction_and_bounds_the_norm(ref):
    rng = np.random.default_rng(5)
    grads = {"a": rng.normal(size=(3, 4)), "b": rng.normal(size=5)}
    copies = {k: g.copy() for k, g in grads.items()}
    norm = np.sqrt(sum(np.sum(g**2) for g in grads.values()))
    clipped, got = ref["clip_grad_norm"](grads, norm / 4)
    assert got == pytest.approx(norm, rel=1e-14)
    assert np.sqrt(sum(np.sum(g**2) for g in clipped.values())) == pytest.approx(norm / 4, rel=1e-12)
    for k in grads:
        np.testing.assert_allclose(clipped[k], grads[k] / 4, rtol=1e-12)
        assert np.array_equal(grads[k], copies[k])
    same, _ = ref["clip_grad_norm"](grads, norm * 2)
    assert all(np.array_equal(same[k], grads[k]) for k in grads)
    zeros, zero_norm = ref["clip_grad_norm"]({"a": np.zeros(3)}, 1.0)
    assert zero_norm == 0.0 and not np.any(zeros["a"])


def test_truncated_bptt_carries_the_state_but_not_the_gradient(ref):
    """Chunk k's gradient is that of lm_loss_and_grads started from chunk k-1's last state
    (carried), with nothing added from later chunks; the pass equals that loop written out."""
    rng = np.random.default_rng(6)
    params, _, _, _, _ = lm_problem(rng, V=4, H=3)
    data = rng.integers(0, 4, size=(2, 11))
    new, losses = ref["truncated_bptt"](params, data, 4, 0.3, 0.5)
    p, h, c = dict(params), np.zeros((2, 3)), np.zeros((2, 3))
    expected = []
    for s, e in ((0, 4), (4, 8), (8, 10)):
        loss, g, (h, c) = ref["lm_loss_and_grads"](p, data[:, s:e], data[:, s + 1:e + 1], h, c)
        norm = np.sqrt(sum(np.sum(v**2) for v in g.values()))
        p = {k: v - 0.3 * g[k] * min(1.0, 0.5 / norm) for k, v in p.items()}
        expected.append(loss)
    np.testing.assert_allclose(losses, expected, rtol=1e-12)
    for k in params:
        np.testing.assert_allclose(new[k], p[k], rtol=1e-12, atol=1e-15)


def test_sample_is_seeded_and_follows_the_temperature(ref):
    rng = np.random.default_rng(7)
    params, _, _, h0, c0 = lm_problem(rng, N=3, V=6, H=4)
    start = np.array([0, 1, 2])

    def draw(tau, seed, n=40):
        return ref["sample"](params, h0, c0, start, n, tau, np.random.default_rng(seed))
    assert np.array_equal(draw(1.0, 1), draw(1.0, 1)) and not np.array_equal(draw(1.0, 1), draw(1.0, 2))
    assert draw(1.0, 1).shape == (3, 40) and draw(1.0, 1).dtype.kind == "i"
    # a tiny temperature is the greedy choice
    h, c, current, greedy = h0, c0, start, []
    for _ in range(10):
        h, c, _ = ref["lstm_step_forward"](np.eye(6)[current], h, c, params["Wx"], params["Wh"], params["b"])
        current = np.argmax(h @ params["W_out"] + params["b_out"], axis=1)
        greedy.append(current)
    assert np.array_equal(draw(1e-3, 3, n=10), np.stack(greedy, axis=1))
    # a high temperature spreads the draws: the commonest character's share falls
    share = [np.bincount(draw(tau, 4, n=300).ravel(), minlength=6).max() / 900 for tau in (0.3, 3.0)]
    assert share[0] > share[1] + 0.1


# -- grading: solution, stubs, mutants, variants ---------------------------------------------

def test_solution_full_marks_and_stubs_zero():
    solved = grade_notebook(SOLUTION)
    assert solved.score == FULL, [r.message for r in solved.results if not r.passed]
    stubs = grade_notebook(CHAPTER)
    assert stubs.score == 0
    for ex in lm.EXERCISES:
        assert "not implemented yet" in feedback(stubs, ex.name), ex.name


def numgrad(body):
    return f"""
        def numerical_gradient(f, x, h=1e-5):
            grad = np.zeros(x.shape)
            base = f(x)
            for i in np.ndindex(x.shape):
                old = x[i]
                {body}
            return grad
        """


RESTORED = "x[i] = old + h; up = f(x); x[i] = old - h; down = f(x); x[i] = old"


def sce(loss="-np.mean(logp[n, t, y])", grad="(p - onehot) / (N * T)", shift="scores.max(axis=2, keepdims=True)"):
    return f"""
        def softmax_cross_entropy(scores, y):
            N, T, V = scores.shape
            s = scores - {shift}
            logp = s - np.log(np.sum(np.exp(s), axis=2, keepdims=True))
            p = np.exp(logp)
            n, t = np.meshgrid(np.arange(N), np.arange(T), indexing="ij")
            onehot = np.zeros_like(p)
            onehot[n, t, y] = 1.0
            return float({loss}), {grad}
        """


def glue(dh="ds @ params['W_out'].T", dW_out="np.einsum('nth,ntv->hv', h, ds)",
         db_out="ds.sum(axis=(0, 1))", state="(h[:, -1], c[:, -1])", start="h0, c0"):
    return f"""
        def lm_loss_and_grads(params, x, y, h0, c0):
            V = params['W_out'].shape[1]
            h, c, cache = lstm_forward(np.eye(V)[x], {start}, params['Wx'], params['Wh'], params['b'])
            loss, ds = softmax_cross_entropy(h @ params['W_out'] + params['b_out'], y)
            dh = {dh}
            _, _, _, dWx, dWh, db = lstm_backward(dh, cache)
            grads = dict(Wx=dWx, Wh=dWh, b=db, W_out={dW_out}, b_out={db_out})
            return loss, grads, {state}
        """


def clip(scale="max_norm / norm if norm > max_norm else 1.0",
         norm="np.sqrt(sum(np.sum(g * g) for g in grads.values()))",
         out="{k: g * scale for k, g in grads.items()}", ret="norm"):
    return f"""
        def clip_grad_norm(grads, max_norm):
            norm = float({norm})
            scale = {scale}
            clipped = {out}
            return clipped, {ret}
        """


def tbptt(x="data[:, s:e]", y="data[:, s + 1:e + 1]", state="h, c", clip_line="g, _ = clip_grad_norm(g, max_norm)",
          end="min(s + T, L)", cond="s < L", update="params = {k: v - lr * g[k] for k, v in params.items()}", after=""):
    return f"""
        def truncated_bptt(params, data, T, lr, max_norm):
            N, L = data.shape[0], data.shape[1] - 1
            H = params['Wh'].shape[0]
            h = c = np.zeros((N, H))
            losses = []
            s = 0
            while {cond}:
                e = {end}
                loss, g, (h, c) = lm_loss_and_grads(params, {x}, {y}, {state})
                {clip_line}
                {update}
                losses.append(loss)
                s += T
            {after}
            return params, np.array(losses)
        """


def sampler(feed="cur", scores="(h @ params['W_out'] + params['b_out']) / temperature",
            draw="np.array([rng.choice(V, p=row) for row in p])", state="h, c"):
    return f"""
        def sample(params, h, c, start, n, temperature, rng):
            V = params['W_out'].shape[1]
            h0, c0 = h, c
            cur = np.asarray(start)
            out = []
            for _ in range(n):
                h, c, _ = lstm_step_forward(np.eye(V)[{feed}], {state}, params['Wx'], params['Wh'], params['b'])
                s = {scores}
                p = np.exp(s - s.max(axis=1, keepdims=True))
                p = p / p.sum(axis=1, keepdims=True)
                cur = {draw}
                out.append(cur)
            return np.stack(out, axis=1)
        """


MUTANTS = {
    "numerical_gradient": {
        "forward difference": (numgrad("x[i] = old + h; grad[i] = (f(x) - base) / h; x[i] = old"),
                               "a forward difference"),
        "not restored": (numgrad("x[i] = old + h; up = f(x); x[i] = old - h; grad[i] = (up - f(x)) / (2 * h)"),
                         "is not put back"),
        "divided by h": (numgrad(RESTORED + "; grad[i] = (up - down) / h"), "divide by 2h"),
    },
    "relative_error": {
        "mean": ("def relative_error(a, b):\n    return float(np.mean(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), 1e-8)))",
                 "averaged over the entries"),
        "signed": ("def relative_error(a, b):\n    return float(np.max((a - b) / np.maximum(np.abs(a) + np.abs(b), 1e-8)))",
                   "absolute value of the difference is missing"),
        "one-sided": ("def relative_error(a, b):\n    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-8)))",
                      "divided by |b| only"),
        "a + b": ("def relative_error(a, b):\n    return float(np.max(np.abs(a - b) / np.maximum(a + b, 1e-8)))",
                  "without absolute values"),
    },
    "softmax_cross_entropy": {
        "summed": (sce(loss="-np.sum(logp[n, t, y])", grad="p - onehot"), "summed over the N T predictions"),
        "batch only": (sce(loss="-np.sum(logp[n, t, y]) / N", grad="(p - onehot) / N"),
                       "averaged over the batch only"),
        "gradient not averaged": (sce(grad="p - onehot"), "dscores is not divided by N T"),
        "no -1": (sce(grad="p / (N * T)"), "missing the -1 at the target"),
        "sign": (sce(grad="(onehot - p) / (N * T)"), "wrong sign"),
    },
    "lm_loss_and_grads": {
        "last step only": (glue(dh="np.concatenate([np.zeros_like(h[:, :-1]), (ds @ params['W_out'].T)[:, -1:]], axis=1)"),
                           "only the last step's hidden state gets a gradient"),
        "output layer from the last step": (glue(dW_out="h[:, -1].T @ ds[:, -1]", db_out="ds[:, -1].sum(axis=0)"),
                                            "use the last step only"),
        "first state": (glue(state="(h[:, 0], c[:, 0])"), "the state returned is the first step's"),
        "state swapped": (glue(state="(c[:, -1], h[:, -1])"), "returned as (c, h)"),
        "zero start": (glue(start="np.zeros_like(h0), np.zeros_like(c0)"), "starts from zero states"),
    },
    "clip_grad_norm": {
        "each on its own": (clip(out="{k: g * min(1.0, max_norm / max(np.sqrt(np.sum(g * g)), 1e-300)) for k, g in grads.items()}"),
                            "each gradient is clipped on its own"),
        "always rescaled": (clip(scale="max_norm / norm if norm > 0 else 1.0"), "even when their norm is below it"),
        "np.clip": (clip(out="{k: np.clip(g, -max_norm, max_norm) for k, g in grads.items()}"),
                    "clipped one by one"),
        "sum of norms": (clip(norm="sum(np.sqrt(np.sum(g * g)) for g in grads.values())"),
                         "the sum of the gradients' norms"),
        "norm after": (clip(ret="min(norm, max_norm)"), "the norm returned is the one after clipping"),
    },
    "truncated_bptt": {
        "state reset": (tbptt(state="np.zeros_like(h), np.zeros_like(c)"), "the state is reset to zeros"),
        "targets not shifted": (tbptt(y="data[:, s:e]"), "the targets are not shifted"),
        "last chunk dropped": (tbptt(cond="s + T <= L"), "the last, shorter chunk is dropped"),
        "not clipped": (tbptt(clip_line="pass"), "not clipped before the update"),
        "applied once": (tbptt(update="total = g if s == 0 else {k: total[k] + g[k] for k in g}",
                               after="params = {k: v - lr * total[k] for k, v in params.items()}"),
                         "applied once at the end"),
    },
    "sample": {
        "greedy": (sampler(draw="np.argmax(p, axis=1)"), "greedy"),
        "temperature multiplies": (sampler(scores="(h @ params['W_out'] + params['b_out']) * temperature"),
                                   "multiplied by the temperature"),
        "start fed every step": (sampler(feed="np.asarray(start)"), "the start characters are fed at every step"),
        "state reset": (sampler(state="h0, c0"), "the state is reset at every step"),
    },
}
def uses(name: str) -> set[str]:
    """The exercise and every function it calls through, directly or not."""
    ex = next((e for e in lm.EXERCISES if e.name == name), None)
    return {name}.union(*(uses(n) for n in (ex.needs if ex else ())))


CASES = [(ex, name) for ex, table in MUTANTS.items() for name in table]


@pytest.mark.parametrize("exercise,mutant", CASES, ids=[f"{e}: {m}" for e, m in CASES])
def test_mistake_loses_points_and_is_named(exercise, mutant, make_notebook):
    """Does each known-wrong implementation lose points on its own exercise (and only
    there), with the matching hint?"""
    source, hint = MUTANTS[exercise][mutant]
    graded = grade_notebook(make_notebook({exercise: source}, base=SOLUTION))
    assert graded.exercise_score(exercise) < 10, feedback(graded, exercise)
    assert hint in feedback(graded, exercise), feedback(graded, exercise)
    others = [ex.name for ex in lm.EXERCISES if exercise not in uses(ex.name)]
    for other in others:
        assert graded.exercise_score(other) == 10, (other, feedback(graded, other))


UNNAMED = {
    "numerical_gradient": numgrad("x[i] = old + h; up = f(x); x[i] = old - h; grad[i] = (up - f(x)) / (2 * h)"
                                  "; x[i] = old - h"),
    "softmax_cross_entropy": sce(shift="0.0"),                       # overflows on big scores
    "clip_grad_norm": """
        def clip_grad_norm(grads, max_norm):
            norm = float(np.sqrt(sum(np.sum(g * g) for g in grads.values())))
            if norm > max_norm:
                for g in grads.values():
                    g *= max_norm / norm                                # in place
            return grads, norm
        """,
    "sample": sampler(draw="np.array([np.random.choice(V, p=row) for row in p])"),   # not the rng argument
    "truncated_bptt": tbptt(update="[v.__isub__(lr * g[k]) for k, v in params.items()]"),
}


@pytest.mark.parametrize("exercise", UNNAMED)
def test_other_mistakes_lose_points(exercise, make_notebook):
    """Mistakes without a name in the catalogue still lose points: an input left modified,
    an overflow, a generator that is not the one given, an update in place."""
    graded = grade_notebook(make_notebook({exercise: UNNAMED[exercise]}, base=SOLUTION))
    assert graded.exercise_score(exercise) < 10, feedback(graded, exercise)


VARIANTS = {
    "copies instead of in-place changes": {"numerical_gradient": """
        def numerical_gradient(f, x, h=1e-5):
            grad = np.zeros_like(x, dtype=float)
            for i in np.ndindex(*x.shape):
                up, down = x.copy(), x.copy()
                up[i] += h
                down[i] -= h
                grad[i] = (f(up) - f(down)) / 2 / h
            return grad
        """},
    "CS231n's nditer loop": {"numerical_gradient": """
        def numerical_gradient(f, x, h=1e-5):
            grad = np.zeros_like(x)
            it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
            while not it.finished:
                ix = it.multi_index
                old = x[ix]
                x[ix] = old + h
                fxph = f(x)
                x[ix] = old - h
                fxmh = f(x)
                x[ix] = old
                grad[ix] = (fxph - fxmh) / (2 * h)
                it.iternext()
            return grad
        """},
    "relative error with np.where": {"relative_error": """
        def relative_error(a, b):
            size = np.abs(a) + np.abs(b)
            e = np.abs(a - b) / np.where(size > 1e-8, size, 1e-8)
            return e.max()
        """},
    "softmax on (N T, V) rows": {"softmax_cross_entropy": """
        def softmax_cross_entropy(scores, y):
            N, T, V = scores.shape
            s = scores.reshape(N * T, V)
            s = s - s.max(axis=1)[:, None]
            p = np.exp(s) / np.exp(s).sum(axis=1)[:, None]
            rows = np.arange(N * T)
            loss = -np.log(p[rows, y.ravel()]).mean()
            p[rows, y.ravel()] -= 1
            return loss, (p / (N * T)).reshape(N, T, V)
        """},
    "output layer by a loop over time": {"lm_loss_and_grads": """
        def lm_loss_and_grads(params, x, y, h0, c0):
            N, T = x.shape
            V = params['b_out'].shape[0]
            onehot = np.zeros((N, T, V))
            for n in range(N):
                onehot[n, np.arange(T), x[n]] = 1
            h, c, cache = lstm_forward(onehot, h0, c0, params['Wx'], params['Wh'], params['b'])
            scores = np.stack([h[:, t] @ params['W_out'] + params['b_out'] for t in range(T)], axis=1)
            loss, ds = softmax_cross_entropy(scores, y)
            dW_out, db_out = np.zeros_like(params['W_out']), np.zeros_like(params['b_out'])
            dh = np.zeros_like(h)
            for t in range(T):
                dW_out += h[:, t].T @ ds[:, t]
                db_out += ds[:, t].sum(axis=0)
                dh[:, t] = ds[:, t] @ params['W_out'].T
            dx, dh0, dc0, dWx, dWh, db = lstm_backward(dh, cache)
            return loss, {'Wx': dWx, 'Wh': dWh, 'b': db, 'W_out': dW_out, 'b_out': db_out}, (h[:, T - 1], c[:, T - 1])
        """},
    "clipping with a small epsilon, as chapter 6": {"clip_grad_norm": """
        def clip_grad_norm(grads, max_norm):
            flat = np.concatenate([g.ravel() for g in grads.values()])
            norm = np.linalg.norm(flat)
            return {k: g * min(1.0, max_norm / (norm + 1e-12)) for k, g in grads.items()}, float(norm)
        """},
    "chunks by index arithmetic": {"truncated_bptt": """
        def truncated_bptt(params, data, T, lr, max_norm):
            params = {k: v.copy() for k, v in params.items()}
            N, L = data.shape[0], data.shape[1] - 1
            state = (np.zeros((N, params['Wh'].shape[0])),) * 2
            losses = []
            for k in range(-(-L // T)):
                chunk = data[:, k * T:min((k + 1) * T, L) + 1]
                loss, grads, state = lm_loss_and_grads(params, chunk[:, :-1], chunk[:, 1:], *state)
                grads, _ = clip_grad_norm(grads, max_norm)
                for name in params:
                    params[name] = params[name] - lr * grads[name]
                losses.append(loss)
            return params, np.array(losses)
        """},
    "vectorised draw from rng.random": {"sample": """
        def sample(params, h, c, start, n, temperature, rng):
            V = params['b_out'].shape[0]
            chars = []
            x = np.asarray(start)
            for _ in range(n):
                h, c, _ = lstm_step_forward(np.eye(V)[x], h, c, params['Wx'], params['Wh'], params['b'])
                z = (h @ params['W_out'] + params['b_out']) / temperature
                p = np.exp(z - z.max(axis=1, keepdims=True))
                cdf = np.cumsum(p, axis=1)
                cdf /= cdf[:, -1:]
                x = np.argmax(rng.random(len(x))[:, None] < cdf, axis=1)
                chars.append(x)
            return np.array(chars).T
        """},
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_correct_variant_full_marks(variant, make_notebook):
    graded = grade_notebook(make_notebook(VARIANTS[variant], base=SOLUTION))
    for name in VARIANTS[variant]:
        assert graded.exercise_score(name) == 10, feedback(graded, name)


def test_templates_unchanged_are_correct(make_notebook):
    """The mutation templates with nothing changed get full marks (so a named mistake is the
    mistake, not a bug of the template)."""
    graded = grade_notebook(make_notebook({"numerical_gradient": numgrad(RESTORED + "; grad[i] = (up - down) / (2 * h)"),
                                           "softmax_cross_entropy": sce(), "lm_loss_and_grads": glue(),
                                           "clip_grad_norm": clip(), "truncated_bptt": tbptt(),
                                           "sample": sampler()}, base=SOLUTION))
    assert graded.score == FULL, [r.message for r in graded.results if not r.passed]


def test_the_gradient_checker_is_graded_without_sending_code(make_notebook):
    """The grader sends arrays and a family name; a checker that ignores f (and returns the
    gradient of something else) fails, so the function really is built in the student's process."""
    source = "def numerical_gradient(f, x, h=1e-5):\n    return np.cos(x)"
    graded = grade_notebook(make_notebook({"numerical_gradient": source}, base=SOLUTION))
    assert graded.exercise_score("numerical_gradient") <= 2


# -- the precomputed run ---------------------------------------------------------------------

def _data_script():
    spec = importlib.util.spec_from_file_location("language_model_data",
                                                  ROOT / "scripts" / "language_model_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def run():
    return json.loads(DATA.read_text())


def test_run_is_not_stale(run):
    """20 steps re-run with the reference give the recorded losses; the text is the one used."""
    assert _data_script().stale(run) == []


def test_stale_check_fails_on_a_changed_file(run):
    script = _data_script()
    changed = json.loads(json.dumps(run))
    changed["history"]["first_losses"][5] *= 1 + 1e-5
    assert any("first 20 losses" in p for p in script.stale(changed))
    changed = {**run, "text_sha256": "0" * 64}
    assert any("text snapshot changed" in p for p in script.stale(changed))


def test_run_says_what_the_book_says(run):
    """The LSTM beats both baselines on the held-out text, clearly, and keeps improving."""
    held = run["history"]["heldout_bpc"]
    base = run["baselines"]
    assert base["uniform"] > base["unigram"] > base["bigram"]
    assert held[-1] < base["bigram"] - 0.8
    assert min(held) == pytest.approx(held[-1], abs=0.05)
    assert held[0] > held[-1] + 0.5
    assert {s["step"] for s in run["samples"]} >= set(run["table_steps"][-1:])
    assert all(len(s["text"]) == 301 for s in run["samples"])
    assert DATA.stat().st_size < 100_000


def _markdown(path):
    nb = json.loads(path.read_text())
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


def test_numbers_in_the_text_come_from_the_data(run):
    """Every result section 7.9 and the summary quote is the stored run's."""
    text = " ".join(_markdown(SOLUTION).split())
    hist, base = run["history"], run["baselines"]
    held, last = hist["heldout_bpc"], hist["heldout_bpc"][-1]
    best = min(held)
    quotes = [f"reaches {last:.2f} bits per character after {hist['step'][-1]:,} steps",
              f"{base['bigram'] - last:.2f} bits below the bigram model's {base['bigram']:.2f}",
              f"{base['unigram'] - last:.2f} below the unigram model's {base['unigram']:.2f}",
              f"({held[0]:.2f} bits per character on the held-out text)",
              f"its best, {best:.2f}, at step {hist['step'][held.index(best)]:,}",
              f"({hist['train_bpc'][-1]:.2f} bits per character over the last 250 chunks)",
              f"between {min(hist['grad_norm']):.2f} and {max(hist['grad_norm']):.2f}",
              f"over the {run['V']} characters needs {base['uniform']:.2f} bits",
              f"reached {last:.2f} bits per character after {hist['step'][-1]:,} steps (its best, {best:.2f})"]
    missing = [q for q in quotes if q not in text]
    assert not missing, missing


def test_the_text_is_the_snapshot_the_chapter_describes():
    script = _data_script()
    snapshot = json.loads(script.TEXT.read_text(encoding="utf-8"))
    train, held = snapshot["train"], snapshot["heldout"]
    assert snapshot["modules"] == list(script.MODULES) and "Python Software Foundation" in snapshot["licence"]
    assert 250_000 < len(train) < 400_000 and 25_000 < len(held) < 50_000
    assert all(ch == "\n" or 32 <= ord(ch) < 127 for ch in train + held)
    assert f"{len(script.MODULES)} modules" in _markdown(SOLUTION)
    assert "Python Software Foundation License" in _markdown(SOLUTION)


def test_student_edition_ships_the_text_and_the_run(tmp_path):
    from autograder import data_path, student_dist
    written = student_dist.write(ROOT, tmp_path / "dist")
    for name in ("07_docstrings.json", "07_language_model_runs.json"):
        assert f"autograder/data/{name}" in written
        assert data_path(name).read_bytes() == (tmp_path / "dist" / "autograder" / "data" / name).read_bytes()


def test_gradescope_zip_grades_chapter_7(tmp_path):
    """The zip for this chapter, run as Gradescope runs it: the solution gets full marks."""
    import os
    import shutil
    import stat
    import subprocess
    import sys
    import zipfile

    from autograder.gradescope import build
    zip_path = build("07_language_model", tmp_path / "autograder.zip")
    root = tmp_path / "autograder"
    with zipfile.ZipFile(zip_path) as z:
        z.extractall(root / "source")
        names = set(z.namelist())
    assert {"solutions/07_language_model.ipynb", "autograder/fixtures/07_language_model.npz",
            "autograder/exercises/language_model.py"} <= names
    run = root / "source" / "run_autograder"
    run.chmod(run.stat().st_mode | stat.S_IEXEC)
    (root / "submission").mkdir(parents=True)
    shutil.copy(SOLUTION, root / "submission" / "homework.ipynb")
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "PYTHON": sys.executable}
    env.pop("PYTHONPATH", None)
    done = subprocess.run([str(run)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == FULL and all(t["status"] == "passed" for t in results["tests"])


def test_class_benchmark_builds_chapter_7_from_these_tables(tmp_path, capsys):
    """bench/grade_class.py takes this file's MUTANTS and VARIANTS: none is left out."""
    import sys
    sys.path.insert(0, str(ROOT / "bench"))
    import grade_class
    variants, mutants = grade_class.variants_and_mutants(lm)
    assert len(variants) == len(VARIANTS) and len(mutants) == len(CASES)
    cls = grade_class.make_class(lm, tmp_path, students=40)
    assert "left out" not in capsys.readouterr().out
    assert {s.category for s in cls.submissions} == {"correct", "wrong", "broken"}
