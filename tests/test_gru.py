"""Chapter 4 (GRU): the reference against torch.nn.GRU and GRUCell, properties that need no
finite differences, and the grader by mutation: each mistake of the catalogue in
autograder/mistakes/gru.py loses points and is named by its hint, while correct
implementations written differently get full marks."""
from __future__ import annotations

import numpy as np
import pytest

from autograder import mistakes
from autograder.exercises import gru
from autograder.mistakes import gru as gru_mistakes
from autograder.grade import grade_notebook
from autograder.reference import reference
from conftest import ROOT

SOLUTION = ROOT / "solutions" / "04_gru.ipynb"
FULL = sum(ex.max_points for ex in gru.EXERCISES)
TORCH_MISSING = "PyTorch is not installed: the torch oracle is skipped (.ci/run installs torch==2.13.0)"


def feedback(graded, exercise):
    return "\n".join(r.message for r in graded.results if r.exercise == exercise)


@pytest.fixture(scope="module")
def ref():
    return reference(gru).namespace


def sig(a):
    """The sigmoid written the textbook way, independent of the notebook's."""
    return 1 / (1 + np.exp(-a))


def random_gru(rng, N, D, H):
    return (rng.normal(size=(N, D)), rng.normal(size=(N, H)), rng.normal(size=(D, 3 * H)),
            rng.normal(size=(H, 3 * H)), rng.normal(size=3 * H))


# -- the reference against torch -------------------------------------------------------------

def torch_params(layer, suffix=""):
    return [getattr(layer, f"{name}{suffix}").detach().numpy()
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]


@pytest.mark.torch
def test_reset_after_gru_with_converted_weights_agrees_with_torch(ref):
    """Over a whole sequence: nn.GRU equals the converter followed by T reset-after steps."""
    torch = pytest.importorskip("torch", reason=TORCH_MISSING)
    N, T, D, H = 3, 6, 4, 5
    torch.manual_seed(1)
    layer = torch.nn.GRU(D, H, batch_first=True, dtype=torch.float64)
    rng = np.random.default_rng(2)
    x, h0 = rng.normal(size=(N, T, D)), rng.normal(size=(N, H))
    out, _ = layer(torch.from_numpy(x), torch.from_numpy(h0[None]))
    Wx, Wh, bx, bh = ref["gru_weights_from_torch"](*torch_params(layer, "_l0"))
    h = h0
    for t in range(T):
        h, _ = ref["gru_step_forward_reset_after"](x[:, t], h, Wx, Wh, bx, bh)
        np.testing.assert_allclose(h, out.detach().numpy()[:, t], rtol=0, atol=1e-12)


@pytest.mark.torch
@pytest.mark.parametrize("N, D, H", [(4, 3, 5), (1, 1, 1), (2, 7, 3)])
def test_reset_after_step_agrees_with_torch_gru_cell(ref, N, D, H):
    """One step, with random (not default) parameters and a random state, to 1e-12."""
    torch = pytest.importorskip("torch", reason=TORCH_MISSING)
    cell = torch.nn.GRUCell(D, H, dtype=torch.float64)
    rng = np.random.default_rng(10 * N + H)
    with torch.no_grad():
        for p in cell.parameters():
            p.copy_(torch.from_numpy(rng.normal(size=tuple(p.shape))))
    x, h = rng.normal(size=(N, D)), rng.normal(size=(N, H))
    expected = cell(torch.from_numpy(x), torch.from_numpy(h)).detach().numpy()
    params = torch_params(cell)
    before = [p.copy() for p in params]
    Wx, Wh, bx, bh = ref["gru_weights_from_torch"](*params)
    got, _ = ref["gru_step_forward_reset_after"](x, h, Wx, Wh, bx, bh)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    assert all(np.array_equal(p, q) for p, q in zip(params, before))
    assert not any(np.shares_memory(a, p) for a in (Wx, Wh, bx, bh) for p in params)


@pytest.mark.torch
def test_book_gru_agrees_with_torch_when_the_two_forms_coincide(ref):
    """With a diagonal W_hn and b_hn = 0, (r*h) W = r*(h W): the reset-before GRU of 4.1
    (gru_forward, one bias b = bx + bh) must then equal nn.GRU over a sequence."""
    torch = pytest.importorskip("torch", reason=TORCH_MISSING)
    N, T, D, H = 3, 8, 4, 5
    layer = torch.nn.GRU(D, H, batch_first=True, dtype=torch.float64)
    rng = np.random.default_rng(11)
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(torch.from_numpy(rng.normal(size=tuple(p.shape))))
        layer.weight_hh_l0[2 * H:] = torch.diag(torch.from_numpy(rng.normal(size=H)))
        layer.bias_hh_l0[2 * H:] = 0.0
    x, h0 = rng.normal(size=(N, T, D)), rng.normal(size=(N, H))
    out, _ = layer(torch.from_numpy(x), torch.from_numpy(h0[None]))
    Wx, Wh, bx, bh = ref["gru_weights_from_torch"](*torch_params(layer, "_l0"))
    h, _ = ref["gru_forward"](x, h0, Wx, Wh, bx + bh)
    np.testing.assert_allclose(h, out.detach().numpy(), rtol=0, atol=1e-12)


# -- the reference against formulas and properties (no finite differences) -------------------

def test_original_gru_is_the_formula(ref):
    rng = np.random.default_rng(4)
    N, D, H = 2, 3, 4
    x, h, Wx, Wh, b = random_gru(rng, N, D, H)
    r = sig(x @ Wx[:, :H] + h @ Wh[:, :H] + b[:H])
    z = sig(x @ Wx[:, H:2 * H] + h @ Wh[:, H:2 * H] + b[H:2 * H])
    n = np.tanh(x @ Wx[:, 2 * H:] + (r * h) @ Wh[:, 2 * H:] + b[2 * H:])
    h_next, _ = ref["gru_step_forward"](x, h, Wx, Wh, b)
    np.testing.assert_allclose(h_next, (1 - z) * h + z * n, rtol=1e-13)


def test_step_cache_has_the_layout_chapter_5_unpacks(ref):
    """Is the cache exactly (x, h_prev, Wx, Wh, r, z, n)?"""
    rng = np.random.default_rng(6)
    N, D, H = 3, 2, 4
    x, h, Wx, Wh, b = random_gru(rng, N, D, H)
    _, cache = ref["gru_step_forward"](x, h, Wx, Wh, b)
    assert isinstance(cache, tuple) and len(cache) == 7
    cx, ch, cWx, cWh, r, z, n = cache
    for got, want in ((cx, x), (ch, h), (cWx, Wx), (cWh, Wh)):
        np.testing.assert_array_equal(got, want)
    r_want = sig(x @ Wx[:, :H] + h @ Wh[:, :H] + b[:H])
    np.testing.assert_allclose(r, r_want, rtol=1e-13)
    np.testing.assert_allclose(z, sig(x @ Wx[:, H:2 * H] + h @ Wh[:, H:2 * H] + b[H:2 * H]), rtol=1e-13)
    np.testing.assert_allclose(n, np.tanh(x @ Wx[:, 2 * H:] + (r_want * h) @ Wh[:, 2 * H:] + b[2 * H:]),
                               rtol=1e-13)


def test_forward_chains_the_step_and_keeps_every_step_cache(ref):
    rng = np.random.default_rng(7)
    N, T, D, H = 2, 5, 3, 4
    x, h0 = rng.normal(size=(N, T, D)), rng.normal(size=(N, H))
    _, _, Wx, Wh, b = random_gru(rng, N, D, H)
    h, caches = ref["gru_forward"](x, h0, Wx, Wh, b)
    assert h.shape == (N, T, H) and len(caches) == T
    state = h0
    for t in range(T):
        r = sig(x[:, t] @ Wx[:, :H] + state @ Wh[:, :H] + b[:H])
        z = sig(x[:, t] @ Wx[:, H:2 * H] + state @ Wh[:, H:2 * H] + b[H:2 * H])
        n = np.tanh(x[:, t] @ Wx[:, 2 * H:] + (r * state) @ Wh[:, 2 * H:] + b[2 * H:])
        np.testing.assert_array_equal(caches[t][1], h[:, t - 1] if t else h0)   # the step's h_prev
        state = (1 - z) * state + z * n
        np.testing.assert_allclose(h[:, t], state, rtol=1e-12)


def _bias_with(b, H, r=None, z=None):
    b = b.copy()
    if r is not None:
        b[:H] = r
    if z is not None:
        b[H:2 * H] = z
    return b


def test_closed_update_gate_keeps_the_state_exactly(ref):
    """z = 0 (a z bias of -1e4: sigmoid gives exactly 0) copies h_prev bit for bit, in both
    formulations and over a whole sequence."""
    rng = np.random.default_rng(8)
    N, T, D, H = 3, 4, 2, 5
    x, h, Wx, Wh, b = random_gru(rng, N, D, H)
    shut = _bias_with(b, H, z=-1e4)
    assert np.array_equal(ref["gru_step_forward"](x, h, Wx, Wh, shut)[0], h)
    assert np.array_equal(ref["gru_step_forward_reset_after"](x, h, Wx, Wh, shut, 0 * b)[0], h)
    xs = rng.normal(size=(N, T, D))
    hs, _ = ref["gru_forward"](xs, h, Wx, Wh, shut)
    assert all(np.array_equal(hs[:, t], h) for t in range(T))


def test_open_update_gate_with_closed_reset_forgets_the_state(ref):
    """z = 1 and r = 0: the new state is tanh(x Wx_n + b_n), whatever h_prev was."""
    rng = np.random.default_rng(9)
    N, D, H = 3, 4, 2
    x, h, Wx, Wh, b = random_gru(rng, N, D, H)
    fresh = _bias_with(b, H, r=-1e4, z=1e4)
    expected = np.tanh(x @ Wx[:, 2 * H:] + b[2 * H:])
    for h_prev in (h, -3 * h, np.zeros_like(h)):
        got, _ = ref["gru_step_forward"](x, h_prev, Wx, Wh, fresh)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-15)
        bh = rng.normal(size=3 * H)        # b_hn is inside the reset, so it must vanish too
        got, _ = ref["gru_step_forward_reset_after"](x, h_prev, Wx, Wh, fresh, _bias_with(bh, H, 0, 0))
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-15)


def test_state_stays_in_the_open_interval(ref):
    """A weighted average of h_prev in (-1, 1) and n in (-1, 1) stays in (-1, 1); with huge
    weights tanh rounds to +-1, and the state may reach, but never pass, 1."""
    rng = np.random.default_rng(12)
    x = rng.normal(size=(4, 30, 3))
    _, _, Wx, Wh, b = random_gru(rng, 4, 3, 6)
    h, _ = ref["gru_forward"](x, np.full((4, 6), 0.99), Wx / 3, Wh / 3, b / 3)
    assert np.all(np.abs(h) < 1)
    h, _ = ref["gru_forward"](50 * x, np.full((4, 6), 0.99), 50 * Wx, 50 * Wh, 50 * b)
    assert np.all(np.abs(h) <= 1) and np.any(np.abs(h) == 1)


def test_converter_twice_flips_z_back(ref):
    """Converting back (transpose, negate z again) gives PyTorch's arrays exactly."""
    rng = np.random.default_rng(13)
    H, D = 3, 2
    params = [rng.normal(size=s) for s in ((3 * H, D), (3 * H, H), (3 * H,), (3 * H,))]
    Wx, Wh, bx, bh = ref["gru_weights_from_torch"](*params)
    assert Wx.shape == (D, 3 * H) and Wh.shape == (H, 3 * H) and Wx.dtype == np.float64
    back = ref["gru_weights_from_torch"](Wx.T, Wh.T, bx, bh)
    for got, want in zip(back, (params[0].T, params[1].T, params[2], params[3])):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(Wx[:, H:2 * H], -params[0][H:2 * H].T)
    np.testing.assert_array_equal(bh[:H], params[3][:H])


def test_the_notebook_sigmoid_is_exact_and_quiet(ref):
    with np.errstate(all="raise"):
        s = ref["sigmoid"](np.array([0.0, 1e4, -1e4, 3.0, -3.0]))
    assert s[0] == 0.5 and s[1] == 1.0 and s[2] == 0.0
    np.testing.assert_allclose(s[3:], sig(np.array([3.0, -3.0])), rtol=1e-15)


# -- the grader by mutation -----------------------------------------------------------------

def test_solution_full_marks_and_stubs_zero():
    solved = grade_notebook(SOLUTION)
    assert solved.score == FULL, [r.message for r in solved.results if not r.passed]
    stubs = grade_notebook(ROOT / "chapters" / "04_gru.ipynb")
    assert stubs.score == 0 and "not implemented yet" in feedback(stubs, "gru_forward")


def step(order="rzn", mix="(1 - z) * h_prev + z * n", cand="(r * h_prev) @ Wh_n", bias="+ b",
         act="np.tanh"):
    """A student's gru_step_forward, written with a dict of blocks; parts can be wrong."""
    return f"""
        def gru_step_forward(x, h_prev, Wx, Wh, b):
            H = h_prev.shape[1]
            ax = x @ Wx {bias}
            blocks = dict(zip("{order}", range(3)))
            get = lambda a, g: a[:, blocks[g] * H:(blocks[g] + 1) * H]
            r = 1 / (1 + np.exp(-(get(ax, "r") + get(h_prev @ Wh, "r"))))
            z = 1 / (1 + np.exp(-(get(ax, "z") + get(h_prev @ Wh, "z"))))
            Wh_n = Wh[:, blocks["n"] * H:(blocks["n"] + 1) * H]
            n = {act}(get(ax, "n") + {cand})
            return {mix}, (x, h_prev, Wx, Wh, r, z, n)
        """


def sequence(order="rzn", bias="+ b", restart=False, late=False):
    """A student's gru_forward that does the step inline; parts can be wrong."""
    return f"""
        def gru_forward(x, h0, Wx, Wh, b):
            N, T, _ = x.shape
            H = h0.shape[1]
            k = {{g: slice(i * H, (i + 1) * H) for i, g in enumerate("{order}")}}
            h = np.empty((N, T, H))
            prev, caches = h0, []
            for t in range(T):
                a = x[:, t] @ Wx {bias}
                r = 1 / (1 + np.exp(-(a[:, k["r"]] + prev @ Wh[:, k["r"]])))
                z = 1 / (1 + np.exp(-(a[:, k["z"]] + prev @ Wh[:, k["z"]])))
                n = np.tanh(a[:, k["n"]] + (r * prev) @ Wh[:, k["n"]])
                new = (1 - z) * prev + z * n
                h[:, t] = prev if {late} else new
                caches.append((x[:, t], prev, Wx, Wh, r, z, n))
                prev = h0 if {restart} else new
            return h, caches
        """


def after(mix="(1 - z) * h_prev + z * n", cand="r * (gh[:, 2*H:] + bh[2*H:])"):
    return f"""
        def gru_step_forward_reset_after(x, h_prev, Wx, Wh, bx, bh):
            H = h_prev.shape[1]
            gx = x @ Wx + bx
            gh = h_prev @ Wh
            r = 1 / (1 + np.exp(-(gx[:, :H] + gh[:, :H] + bh[:H])))
            z = 1 / (1 + np.exp(-(gx[:, H:2*H] + gh[:, H:2*H] + bh[H:2*H])))
            n = np.tanh(gx[:, 2*H:] + {cand})
            return {mix}, None
        """


def _order_mutants():
    out = {}
    for order in gru_mistakes.ORDERS:
        named = f"order {', '.join(order)}"
        out[f"step, blocks {order}"] = ("gru_step_forward", step(order=order), named)
        out[f"forward, blocks {order}"] = ("gru_forward", sequence(order=order), named)
    return out


MUTANTS = {
    **_order_mutants(),
    "torch z convention": ("gru_step_forward", step(mix="z * h_prev + (1 - z) * n"), "PyTorch way"),
    "reset after the product": ("gru_step_forward", step(cand="r * (h_prev @ Wh_n)"),
                                "reset is applied after the product"),
    "reset not used": ("gru_step_forward", step(cand="h_prev @ Wh_n"), "reset gate is not used"),
    "no bias": ("gru_step_forward", step(bias=""), "bias is left out"),
    "sigmoid candidate": ("gru_step_forward", step(act="sigmoid"), "candidate uses the sigmoid"),
    "forward restarts from h0": ("gru_forward", sequence(restart=True), "every step starts from h0"),
    "forward without bias": ("gru_forward", sequence(bias=""), "bias is left out"),
    "forward one step late": ("gru_forward", sequence(late=True), "one step late"),
    "reset-after with torch z": ("gru_step_forward_reset_after", after(mix="z * h_prev + (1 - z) * n"),
                                 "PyTorch way"),
    "reset-after, reset before": ("gru_step_forward_reset_after",
                                  after(cand="(r * h_prev) @ Wh[:, 2*H:] + bh[2*H:]"),
                                  "reset is applied before the product"),
    "reset-after, bh_n outside": ("gru_step_forward_reset_after",
                                  after(cand="r * gh[:, 2*H:] + bh[2*H:]"), "bh_n is added outside"),
    "reset-after without bh": ("gru_step_forward_reset_after",
                               after(cand="r * gh[:, 2*H:]").replace("+ bh[:H]", "").replace(
                                   "+ bh[H:2*H]", ""), "bh is left out"),
    "converter without the z flip": ("gru_weights_from_torch", """
        def gru_weights_from_torch(weight_ih, weight_hh, bias_ih, bias_hh):
            return weight_ih.T.copy(), weight_hh.T.copy(), bias_ih.copy(), bias_hh.copy()
        """, "z is not flipped"),
    "converter flips the weights only": ("gru_weights_from_torch", """
        def gru_weights_from_torch(weight_ih, weight_hh, bias_ih, bias_hh):
            H = weight_hh.shape[1]
            Wx, Wh = weight_ih.T.copy(), weight_hh.T.copy()
            Wx[:, H:2 * H] *= -1
            Wh[:, H:2 * H] *= -1
            return Wx, Wh, bias_ih.copy(), bias_hh.copy()
        """, "biases is not negated"),
}


def test_every_mistake_of_the_catalogue_has_a_mutant():
    """Is each hint in gru.py exercised by at least one mutant below (so none is untested)?"""
    for ex in gru.EXERCISES:
        for hint in mistakes.book(ex):
            assert any(name == ex.name and needle in hint for name, _, needle in MUTANTS.values()), \
                f"no mutant for {ex.name}: {hint}"


@pytest.mark.parametrize("mutant", MUTANTS)
def test_mistake_is_caught_and_named(mutant, make_notebook):
    name, source, hint = MUTANTS[mutant]
    graded = grade_notebook(make_notebook({name: source}, base=SOLUTION))
    assert graded.exercise_score(name) < 10
    assert hint in feedback(graded, name), feedback(graded, name)
    for other in gru.EXERCISES:       # the other exercises are untouched and keep full marks
        if other.name != name and name not in other.needs:
            assert graded.exercise_score(other.name) == 10, feedback(graded, other.name)


VARIANTS = {
    "dict of blocks, textbook sigmoid, sign vector": {
        "gru_step_forward": step(),
        "gru_forward": sequence(),
        "gru_step_forward_reset_after": after(),
        "gru_weights_from_torch": """
            def gru_weights_from_torch(weight_ih, weight_hh, bias_ih, bias_hh):
                H = weight_hh.shape[1]
                sign = np.concatenate([np.ones(H), -np.ones(H), np.ones(H)])   # flip z
                return (weight_ih * sign[:, None]).T, (weight_hh * sign[:, None]).T, \\
                    bias_ih * sign, bias_hh * sign
            """},
    "concatenated [x, r*h], einsum, list of blocks": {
        "gru_step_forward": """
            def gru_step_forward(x, h_prev, Wx, Wh, b):
                Wr, Wz, Wn = np.split(np.vstack([Wx, Wh]), 3, axis=1)     # (D+H, H) each
                br, bz, bn = np.split(b, 3)
                xh = np.hstack([x, h_prev])
                r = sigmoid(xh @ Wr + br)
                z = sigmoid(xh @ Wz + bz)
                n = np.tanh(np.hstack([x, r * h_prev]) @ Wn + bn)
                return z * n + (1 - z) * h_prev, (x, h_prev, Wx, Wh, r, z, n)
            """,
        "gru_forward": """
            def gru_forward(x, h0, Wx, Wh, b):
                outs, caches, h = [], [], h0
                t = 0
                while t < x.shape[1]:
                    h, c = gru_step_forward(x[:, t, :], h, Wx, Wh, b)
                    outs.append(h)
                    caches.append(c)
                    t += 1
                return np.transpose(np.array(outs), (1, 0, 2)), caches
            """,
        "gru_step_forward_reset_after": """
            def gru_step_forward_reset_after(x, h_prev, Wx, Wh, bx, bh):
                H = h_prev.shape[-1]
                ax = np.einsum("nd,dk->nk", x, Wx) + bx
                ah = np.einsum("nh,hk->nk", h_prev, Wh) + bh
                r, z = (sigmoid(ax[:, s] + ah[:, s]) for s in (slice(0, H), slice(H, 2 * H)))
                n = np.tanh(ax[:, 2 * H:] + r * ah[:, 2 * H:])
                return h_prev - z * h_prev + z * n, (r, z, n)
            """,
        "gru_weights_from_torch": """
            def gru_weights_from_torch(weight_ih, weight_hh, bias_ih, bias_hh):
                def flip(a):
                    r, z, n = np.split(np.array(a, dtype=float), 3, axis=0)
                    return np.concatenate([r, -z, n], axis=0)
                return flip(weight_ih).T, flip(weight_hh).T, flip(bias_ih), flip(bias_hh)
            """},
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_correct_variant_written_differently(variant, make_notebook):
    graded = grade_notebook(make_notebook(VARIANTS[variant], base=SOLUTION))
    assert graded.score == FULL, [r.message for r in graded.results if not r.passed]
