"""Chapter 5 (backprop through the cell state): the reference backward passes against
finite differences and torch autograd, and the grader by mutation: each classic backward
mistake loses points and is named, correct backward passes written differently (and
paired with a forward of their own cache layout) get full marks."""
from __future__ import annotations

import json

import numpy as np
import pytest

from autograder.exercises import backprop
from autograder.grade import grade_notebook
from autograder.reference import reference
from autograder.release import exercise_names
from conftest import ROOT, assert_leaves_inputs_alone, numeric_grad

SOLUTION = ROOT / "solutions" / "05_backprop_cell_state.ipynb"
CHAPTER = ROOT / "chapters" / "05_backprop_cell_state.ipynb"
pytestmark = pytest.mark.skipif(not SOLUTION.exists(), reason="chapter 5 is not written yet")
FULL = sum(ex.max_points for ex in backprop.EXERCISES)
TOL = dict(rtol=1e-10, atol=1e-12)


@pytest.fixture(scope="module")
def ref():
    return reference(backprop).namespace


def feedback(graded, exercise):
    return "\n".join(r.message for r in graded.results if r.exercise == exercise)




def lstm_args(rng, N, D, H, T=None):
    x = rng.normal(size=(N, D) if T is None else (N, T, D))
    return [x, rng.normal(size=(N, H)), rng.normal(size=(N, H)), rng.normal(size=(D, 4 * H)) / 2,
            rng.normal(size=(H, 4 * H)) / 2, rng.normal(size=4 * H) / 2]


# -- the reference against independent oracles ---------------------------------------------

def assert_matches_finite_differences(grads, loss, args):
    """Each gradient equals the centred differences of loss() with respect to its argument."""
    for arg, grad in zip(args, grads, strict=True):
        np.testing.assert_allclose(grad, numeric_grad(loss, arg, step=1e-6), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("dims", [dict(N=3, D=4, H=5), dict(N=1, D=1, H=1)])
def test_lstm_step_backward_matches_finite_differences(ref, dims):
    """Are all six gradients of one step the centred differences of
    L = <h_next, dh> + <c_next, dc>?"""
    rng = np.random.default_rng(1)
    args = lstm_args(rng, **dims)
    dh, dc = rng.normal(size=(dims["N"], dims["H"])), rng.normal(size=(dims["N"], dims["H"]))
    grads = ref["lstm_step_backward"](dh, dc, ref["lstm_step_forward"](*args)[2])

    def loss():
        h, c, _ = ref["lstm_step_forward"](*args)
        return float(np.sum(h * dh) + np.sum(c * dc))

    assert_matches_finite_differences(grads, loss, args)


@pytest.mark.parametrize("dims", [dict(N=2, T=4, D=3, H=3), dict(N=1, T=1, D=1, H=1)])
def test_lstm_backward_matches_finite_differences(ref, dims):
    """Are dx, dh0, dc0, dWx, dWh, db the centred differences of L = <h, dh>?"""
    rng = np.random.default_rng(2)
    args = lstm_args(rng, **dims)
    dh = rng.normal(size=(dims["N"], dims["T"], dims["H"]))
    grads = ref["lstm_backward"](dh, ref["lstm_forward"](*args)[2])

    def loss():
        return float(np.sum(ref["lstm_forward"](*args)[0] * dh))

    assert_matches_finite_differences(grads, loss, args)


@pytest.mark.torch
def test_lstm_backward_agrees_with_torch_autograd(ref):
    """Do the LSTM gradients equal torch.nn.LSTM's autograd (float64, to 1e-10), including
    the gradients of the initial states?"""
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: the torch oracle "
                                "is skipped (.ci/run installs torch==2.13.0)")
    N, T, D, H = 3, 6, 4, 5
    rng = np.random.default_rng(3)
    x, h0, c0, Wx, Wh, b = lstm_args(rng, N, D, H, T)
    lstm = torch.nn.LSTM(D, H, batch_first=True, dtype=torch.float64)
    with torch.no_grad():   # torch: column vectors, the same gate order i, f, g, o
        lstm.weight_ih_l0.copy_(torch.from_numpy(Wx.T))
        lstm.weight_hh_l0.copy_(torch.from_numpy(Wh.T))
        lstm.bias_ih_l0.copy_(torch.from_numpy(b))
        lstm.bias_hh_l0.zero_()
    xt, h0t, c0t = (torch.from_numpy(a).requires_grad_() for a in (x, h0[None], c0[None]))
    out, _ = lstm(xt, (h0t, c0t))
    dh = rng.normal(size=out.shape)
    out.backward(torch.from_numpy(dh))

    h, _, cache = ref["lstm_forward"](x, h0, c0, Wx, Wh, b)
    dx, dh0, dc0, dWx, dWh, db = ref["lstm_backward"](dh, cache)
    np.testing.assert_allclose(h, out.detach().numpy(), **TOL)
    np.testing.assert_allclose(dx, xt.grad.numpy(), **TOL)
    np.testing.assert_allclose(dh0, h0t.grad.numpy()[0], **TOL)
    np.testing.assert_allclose(dc0, c0t.grad.numpy()[0], **TOL)
    np.testing.assert_allclose(dWx, lstm.weight_ih_l0.grad.numpy().T, **TOL)
    np.testing.assert_allclose(dWh, lstm.weight_hh_l0.grad.numpy().T, **TOL)
    np.testing.assert_allclose(db, lstm.bias_ih_l0.grad.numpy(), **TOL)


@pytest.mark.torch
def test_lstm_step_backward_agrees_with_torch_autograd_on_the_books_formulas(ref):
    """Does one step's backward, with a nonzero dc_next, equal autograd through the
    book's step equations written in torch?"""
    torch = pytest.importorskip("torch")
    N, D, H = 4, 3, 2
    rng = np.random.default_rng(4)
    args = lstm_args(rng, N, D, H)
    dh, dc = rng.normal(size=(N, H)), rng.normal(size=(N, H))
    t = [torch.from_numpy(a).requires_grad_() for a in args]
    x, h_prev, c_prev, Wx, Wh, b = t
    a = x @ Wx + h_prev @ Wh + b
    i, f, g, o = torch.sigmoid(a[:, :H]), torch.sigmoid(a[:, H:2 * H]), \
        torch.tanh(a[:, 2 * H:3 * H]), torch.sigmoid(a[:, 3 * H:])
    c = f * c_prev + i * g
    h = o * torch.tanh(c)
    (h * torch.from_numpy(dh)).sum().add((c * torch.from_numpy(dc)).sum()).backward()
    grads = ref["lstm_step_backward"](dh, dc, ref["lstm_step_forward"](*args)[2])
    for tensor, grad in zip(t, grads):
        np.testing.assert_allclose(grad, tensor.grad.numpy(), **TOL)


def test_reference_leaves_its_inputs_alone(ref):
    rng = np.random.default_rng(5)
    assert_leaves_inputs_alone(ref["lstm_forward"], ref["lstm_backward"],
                               lstm_args(rng, 2, 3, 4, T=5), rng)


# -- the chapter and its notebook -------------------------------------------------------------

def test_the_notebooks_exercises_are_the_chapters():
    """Are the notebook's exercises exactly the chapter's EXERCISES (the carried forwards
    are chapter 3's and 4's, not this chapter's)?"""
    nb = json.loads(SOLUTION.read_text())
    assert exercise_names(nb) == {ex.name for ex in backprop.EXERCISES}


def test_solution_full_marks_and_stubs_zero():
    """Does the chapter's solution get every point, and the student notebook none, with
    'not implemented' for each exercise?"""
    solved = grade_notebook(SOLUTION)
    assert (solved.score, solved.max_score) == (FULL, FULL), \
        [r.message for r in solved.results if not r.passed]
    stubs = grade_notebook(CHAPTER)
    assert stubs.score == 0 and stubs.max_score == FULL
    for ex in backprop.EXERCISES:
        assert "not implemented yet" in feedback(stubs, ex.name), feedback(stubs, ex.name)


# -- mutation: LSTM ---------------------------------------------------------------------------

def step_back(dc='dc_next + dh_next * o * (1.0 - tc**2)', d_i="dc * g * i * (1 - i)",
              d_f="dc * c_prev * f * (1 - f)", d_g="dc * i * (1 - g**2)",
              d_o="dh_next * tc * o * (1 - o)", order="d_i, d_f, d_g, d_o", dc_prev="dc * f"):
    return f"""
        def lstm_step_backward(dh_next, dc_next, cache):
            x, h_prev, c_prev, Wx, Wh, i, f, g, o, c_next = cache
            tc = np.tanh(c_next)
            dc = {dc}
            d_i = {d_i}
            d_f = {d_f}
            d_g = {d_g}
            d_o = {d_o}
            da = np.hstack([{order}])
            return da @ Wx.T, da @ Wh.T, {dc_prev}, x.T @ da, h_prev.T @ da, da.sum(0)
        """


def layer_back(carry_h="dh_prev", carry_c="dc_prev", add="+=", direct="dh[:, t]",
               ret="dh_carry, dc_carry"):
    return f"""
        def lstm_backward(dh, cache):
            N, T, H = dh.shape
            dx = np.zeros((N, T, cache[0][0].shape[1]))
            grads = [np.zeros_like(cache[0][3]), np.zeros_like(cache[0][4]), np.zeros(4 * H)]
            dh_carry, dc_carry = np.zeros((N, H)), np.zeros((N, H))
            for t in range(T - 1, -1, -1):
                upstream = {direct} if t < T - 1 else dh[:, t]
                dx[:, t], dh_prev, dc_prev, *step = lstm_step_backward(
                    upstream + dh_carry, dc_carry, cache[t])
                dh_carry, dc_carry = {carry_h}, {carry_c}
                for k in range(3):
                    if "{add}" == "+=":
                        grads[k] = grads[k] + step[k]
                    else:
                        grads[k] = step[k]
            return (dx, {ret}, *grads)
        """


LSTM_MUTANTS = {
    "lstm_step_backward": {
        "dc_next not added": (step_back(dc="dh_next * o * (1.0 - tc**2)"), "dc_next is not added"),
        "tanh' missing on h->c": (step_back(dc="dc_next + dh_next * o"),
                                  "tanh'(c) is missing on the path from h_next to c_next"),
        "1 - c**2": (step_back(dc="dc_next + dh_next * o * (1.0 - c_next**2)"),
                     "written 1 - c_next**2"),
        "candidate through sigmoid'": (step_back(d_g="dc * i * g * (1 - g)"),
                                       "candidate's gradient goes through the sigmoid's derivative"),
        "belt without f": (step_back(dc_prev="dc"), "dc_prev is not multiplied by the forget gate"),
        "o uses c": (step_back(d_o="dh_next * c_next * o * (1 - o)"),
                     "output gate's gradient uses c_next"),
        "f uses c_next": (step_back(d_f="dc * c_next * f * (1 - f)"),
                          "forget gate's gradient uses c_next where c_prev belongs"),
        "CS231n order": (step_back(order="d_i, d_f, d_o, d_g"), "in the order i, f, o, g"),
    },
    "lstm_backward": {
        "dc not carried": (layer_back(carry_c="0 * dc_prev"), "dc is not carried"),
        "dh not carried": (layer_back(carry_h="0 * dh_prev"),
                           "carried from step t+1 is not added to dh[:, t]"),
        "weights not accumulated": (layer_back(add="="), "not accumulated over time"),
        "last step only": (layer_back(direct="0 * dh[:, t]"), "only dh[:, T-1] is used"),
        "dc0 dropped": (layer_back(ret="dh_carry, 0 * dc_carry"), "dc0 is dropped"),
        "dh0 dropped": (layer_back(ret="0 * dh_carry, dc_carry"), "dh0 is dropped"),
        "dh0 and dc0 swapped": (layer_back(ret="dc_carry, dh_carry"),
                                "dh0 and dc0 are returned in the wrong order"),
    },
}
MUTANTS = [(ex, name) for ex, table in LSTM_MUTANTS.items() for name in table]


@pytest.mark.parametrize("exercise,mutant", MUTANTS, ids=[f"{e}: {m}" for e, m in MUTANTS])
def test_mistake_loses_points_and_is_named(exercise, mutant, make_notebook):
    """Does each known-wrong backward lose points on its exercise, with the matching hint?"""
    source, hint = LSTM_MUTANTS[exercise][mutant]
    graded = grade_notebook(make_notebook({exercise: source}, base=SOLUTION,
                                          name="05_backprop_cell_state.ipynb"))
    assert graded.exercise_score(exercise) < 10, feedback(graded, exercise)
    assert hint in feedback(graded, exercise), feedback(graded, exercise)


def test_the_reference_mutants_are_correct_once_fixed(make_notebook):
    """Are the mutation templates, with nothing changed, correct (so a named mistake is the
    mistake and not a bug of the template)?"""
    graded = grade_notebook(make_notebook({"lstm_step_backward": step_back(),
                                           "lstm_backward": layer_back()}, base=SOLUTION,
                                          name="05_backprop_cell_state.ipynb"))
    assert graded.score == FULL, [r.message for r in graded.results if not r.passed]


# -- correct, written differently -------------------------------------------------------------

DARKNET_STYLE = {
    # separate gates, one (D, H) and one (H, H) matrix each, as darknet's eight sub-layers;
    # a forward with a cache of its own layout (a dict), and a backward that reads it
    "lstm_step_forward": """
        def sigmoid(x):
            return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=float)))


        def lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b):
            H = h_prev.shape[1]
            part = {k: slice(n * H, (n + 1) * H) for n, k in enumerate("ifgo")}
            act = {"i": sigmoid, "f": sigmoid, "g": np.tanh, "o": sigmoid}
            gate = {k: act[k](x @ Wx[:, s] + h_prev @ Wh[:, s] + b[s]) for k, s in part.items()}
            c_next = gate["f"] * c_prev + gate["i"] * gate["g"]
            h_next = gate["o"] * np.tanh(c_next)
            return h_next, c_next, {"x": x, "h": h_prev, "c": c_prev, "Wx": Wx, "Wh": Wh,
                                    "gate": gate, "part": part, "c_next": c_next}


        def lstm_forward(x, h0, c0, Wx, Wh, b):
            hs, cs, caches = [], [], []
            h, c = h0, c0
            for t in range(x.shape[1]):
                h, c, k = lstm_step_forward(x[:, t], h, c, Wx, Wh, b)
                hs.append(h); cs.append(c); caches.append(k)
            return np.stack(hs, 1), np.stack(cs, 1), caches
        """,
    "lstm_step_backward": """
        def lstm_step_backward(dh_next, dc_next, cache):
            gate, part = cache["gate"], cache["part"]
            squashed = np.tanh(cache["c_next"])
            temp2 = dh_next * gate["o"] * (1 - squashed * squashed) + dc_next
            local = {"o": dh_next * squashed, "g": temp2 * gate["i"],
                     "i": temp2 * gate["g"], "f": temp2 * cache["c"]}
            slope = {"o": gate["o"] * (1 - gate["o"]), "g": 1 - gate["g"] ** 2,
                     "i": gate["i"] * (1 - gate["i"]), "f": gate["f"] * (1 - gate["f"])}
            dx = np.zeros_like(cache["x"]); dh_prev = np.zeros_like(cache["h"])
            dWx = np.zeros_like(cache["Wx"]); dWh = np.zeros_like(cache["Wh"])
            db = np.zeros(cache["Wx"].shape[1])
            for k in "ogif":
                temp = local[k] * slope[k]
                s = part[k]
                dWx[:, s] += cache["x"].T @ temp
                dWh[:, s] += cache["h"].T @ temp
                db[s] += temp.sum(axis=0)
                dx += temp @ cache["Wx"][:, s].T
                dh_prev += temp @ cache["Wh"][:, s].T
            return dx, dh_prev, temp2 * gate["f"], dWx, dWh, db
        """,
    "lstm_backward": """
        def lstm_backward(dh, cache):
            T = dh.shape[1]
            delta = dh.copy()        # darknet's l.delta: the carried dh is added in place
            dc_cpu = np.zeros_like(dh[:, 0])
            out = [np.zeros((dh.shape[0], T, cache[0]["x"].shape[1]))]
            totals = None
            for t in range(T - 1, -1, -1):
                dx_t, dh_prev, dc_cpu, *w = lstm_step_backward(delta[:, t], dc_cpu, cache[t])
                out[0][:, t] = dx_t
                if t > 0:
                    delta[:, t - 1] += dh_prev
                totals = w if totals is None else [a + b for a, b in zip(totals, w)]
            return (out[0], dh_prev, dc_cpu, *totals)
        """,
}

VECTORISED = {
    # all gates at once through a (4, N, H) stack, derivatives from one table
    "lstm_step_backward": """
        def lstm_step_backward(dh_next, dc_next, cache):
            x, h_prev, c_prev, Wx, Wh, i, f, g, o, c_next = cache
            tanh_c = np.tanh(c_next)
            dc = dc_next + dh_next * o * (1 - tanh_c ** 2)
            gates_now = np.stack([i, f, g, o])                               # (4, N, H)
            local = np.stack([dc * g, dc * c_prev, dc * i, dh_next * tanh_c])
            slope = gates_now * (1 - gates_now)
            slope[2] = 1 - g ** 2
            da = np.concatenate(list(local * slope), axis=1)                 # (N, 4H)
            xh = np.concatenate([x, h_prev], axis=1)
            W = np.concatenate([Wx, Wh], axis=0)
            dxh = da @ W.T
            dW = xh.T @ da
            D = x.shape[1]
            return dxh[:, :D], dxh[:, D:], dc * f, dW[:D], dW[D:], np.einsum("nk->k", da)
        """,
    "lstm_backward": """
        def lstm_backward(dh, cache):
            N, T, H = dh.shape
            pieces, carry = [], (np.zeros((N, H)), np.zeros((N, H)))
            sums = 0
            for t in reversed(range(T)):
                dx_t, dh_p, dc_p, *w = lstm_step_backward(dh[:, t] + carry[0], carry[1], cache[t])
                pieces.insert(0, dx_t)
                carry = (dh_p, dc_p)
                sums = [s + v for s, v in zip(sums, w)] if sums else w
            return (np.stack(pieces, axis=1), *carry, *sums)
        """,
}


@pytest.mark.parametrize("variant", ["darknet-style", "vectorised"])
def test_correct_backward_written_differently_gets_full_marks(variant, make_notebook):
    """Do two correct implementations, one gate by gate with a cache of its own layout (as
    darknet does) and one vectorised over the gates, get full marks?"""
    replace = {"darknet-style": DARKNET_STYLE, "vectorised": VECTORISED}[variant]
    graded = grade_notebook(make_notebook(replace, base=SOLUTION, name="05_backprop_cell_state.ipynb"))
    assert graded.score == FULL, [r.message for r in graded.results if not r.passed]


def test_a_broken_carried_forward_is_blamed_in_the_backward_feedback(make_notebook):
    """When the carried forward is wrong, does the backward's feedback say to fix it first?"""
    broken = DARKNET_STYLE["lstm_step_forward"].replace('"f": sigmoid, "g": np.tanh',
                                                        '"f": sigmoid, "g": sigmoid')
    graded = grade_notebook(make_notebook({"lstm_step_forward": broken,
                                           "lstm_step_backward": DARKNET_STYLE["lstm_step_backward"],
                                           "lstm_backward": DARKNET_STYLE["lstm_backward"]},
                                          base=SOLUTION, name="05_backprop_cell_state.ipynb"))
    assert graded.exercise_score("lstm_step_backward") < 10
    assert "uses the cache from your lstm_step_forward, which fails its own checks" in \
        feedback(graded, "lstm_step_backward")


# -- GRU: the reference against independent oracles ---------------------------------------

def gru_args(rng, N, D, H, T=None):
    x = rng.normal(size=(N, D) if T is None else (N, T, D))
    return [x, rng.normal(size=(N, H)), rng.normal(size=(D, 3 * H)) / 2,
            rng.normal(size=(H, 3 * H)) / 2, rng.normal(size=3 * H) / 2]


@pytest.mark.parametrize("dims", [dict(N=3, D=4, H=5), dict(N=1, D=1, H=1)])
def test_gru_step_backward_matches_finite_differences(ref, dims):
    rng = np.random.default_rng(11)
    args = gru_args(rng, **dims)
    dh = rng.normal(size=(dims["N"], dims["H"]))
    grads = ref["gru_step_backward"](dh, ref["gru_step_forward"](*args)[1])

    def loss():
        return float(np.sum(ref["gru_step_forward"](*args)[0] * dh))

    assert_matches_finite_differences(grads, loss, args)


@pytest.mark.parametrize("dims", [dict(N=2, T=4, D=3, H=3), dict(N=1, T=1, D=1, H=1)])
def test_gru_backward_matches_finite_differences(ref, dims):
    rng = np.random.default_rng(12)
    args = gru_args(rng, **dims)
    dh = rng.normal(size=(dims["N"], dims["T"], dims["H"]))
    grads = ref["gru_backward"](dh, ref["gru_forward"](*args)[1])

    def loss():
        return float(np.sum(ref["gru_forward"](*args)[0] * dh))

    assert_matches_finite_differences(grads, loss, args)


@pytest.mark.torch
def test_gru_backward_agrees_with_torch_autograd(ref):
    """Do the GRU gradients equal autograd through the book's GRU written in torch
    (reset before the product, the book's z), over a sequence, to 1e-10?
    (nn.GRU computes the reset-after form, a different function.)"""
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: the torch oracle "
                                "is skipped (.ci/run installs torch==2.13.0)")
    N, T, D, H = 3, 6, 4, 5
    rng = np.random.default_rng(13)
    args = gru_args(rng, N, D, H, T)
    x, h0, Wx, Wh, b = tensors = [torch.from_numpy(a).requires_grad_() for a in args]
    h, outs = h0, []
    for t in range(T):
        gx = x[:, t] @ Wx + b
        r = torch.sigmoid(gx[:, :H] + h @ Wh[:, :H])
        z = torch.sigmoid(gx[:, H:2 * H] + h @ Wh[:, H:2 * H])
        n = torch.tanh(gx[:, 2 * H:] + (r * h) @ Wh[:, 2 * H:])
        h = (1 - z) * h + z * n
        outs.append(h)
    out = torch.stack(outs, 1)
    dh = rng.normal(size=out.shape)
    (out * torch.from_numpy(dh)).sum().backward()
    h_ref, cache = ref["gru_forward"](*args)
    np.testing.assert_allclose(h_ref, out.detach().numpy(), **TOL)
    for tensor, grad in zip(tensors, ref["gru_backward"](dh, cache)):
        np.testing.assert_allclose(grad, tensor.grad.numpy(), **TOL)


# -- GRU: mutation and variants ---------------------------------------------------------------

def gru_step_back(d_z="dh_next * (n - h_prev) * z * (1 - z)", d_n="dh_next * z * (1 - n**2)",
                  d_r="dq * h_prev * r * (1 - r)", straight="dh_next * (1 - z)",
                  through_q="dq * r", q="r * h_prev"):
    return f"""
        def gru_step_backward(dh_next, cache):
            x, h_prev, Wx, Wh, r, z, n = cache
            H = h_prev.shape[1]
            d_n = {d_n}
            d_z = {d_z}
            dq = d_n @ Wh[:, 2 * H:].T
            d_r = {d_r}
            dh_prev = {straight} + {through_q} + d_r @ Wh[:, :H].T + d_z @ Wh[:, H:2 * H].T
            da = np.hstack([d_r, d_z, d_n])
            dWh = np.hstack([h_prev.T @ d_r, h_prev.T @ d_z, ({q}).T @ d_n])
            return da @ Wx.T, dh_prev, x.T @ da, dWh, da.sum(0)
        """


def gru_layer_back(carry="dh_prev", accumulate=True, direct="dh[:, t]", dh0="carry"):
    return f"""
        def gru_backward(dh, cache):
            N, T, H = dh.shape
            dx = np.zeros((N, T, cache[0][0].shape[1]))
            sums = None
            carry = np.zeros((N, H))
            for t in range(T - 1, -1, -1):
                upstream = {direct} if t < T - 1 else dh[:, t]
                dx[:, t], dh_prev, *w = gru_step_backward(upstream + carry, cache[t])
                carry = {carry}
                sums = w if (sums is None or not {accumulate}) else [a + b for a, b in zip(sums, w)]
            return (dx, {dh0}, *sums)
        """


GRU_MUTANTS = {
    "gru_step_backward": {
        "PyTorch's z": (gru_step_back(d_z="dh_next * (h_prev - n) * z * (1 - z)"), "dz has the wrong sign"),
        "no straight path": (gru_step_back(straight="0"), "the straight path is missing"),
        "no path through r*h": (gru_step_back(through_q="0"),
                                "path through the reset product is missing"),
        "dWh_n with h_prev": (gru_step_back(q="h_prev"), "dWh's candidate block uses h_prev"),
        "dr without h_prev": (gru_step_back(d_r="dq * r * (1 - r)"),
                              "reset gate's gradient is missing h_prev"),
        "candidate through sigmoid'": (gru_step_back(d_n="dh_next * z * n * (1 - n)"),
                                       "candidate's gradient goes through the sigmoid's derivative"),
    },
    "gru_backward": {
        "not carried": (gru_layer_back(carry="0 * dh_prev"),
                        "carried from step t+1 is not added to dh[:, t]"),
        "not accumulated": (gru_layer_back(accumulate=False), "not accumulated over time"),
        "last step only": (gru_layer_back(direct="0 * dh[:, t]"), "only dh[:, T-1] is used"),
        "dh0 dropped": (gru_layer_back(dh0="0 * carry"), "dh0 is dropped"),
    },
}
GRU_CASES = [(ex, name) for ex, table in GRU_MUTANTS.items() for name in table]


@pytest.mark.parametrize("exercise,mutant", GRU_CASES, ids=[f"{e}: {m}" for e, m in GRU_CASES])
def test_gru_mistake_loses_points_and_is_named(exercise, mutant, make_notebook):
    source, hint = GRU_MUTANTS[exercise][mutant]
    graded = grade_notebook(make_notebook({exercise: source}, base=SOLUTION,
                                          name="05_backprop_cell_state.ipynb"))
    assert graded.exercise_score(exercise) < 10, feedback(graded, exercise)
    assert hint in feedback(graded, exercise), feedback(graded, exercise)


def test_the_gru_mutation_templates_are_correct_once_fixed(make_notebook):
    graded = grade_notebook(make_notebook({"gru_step_backward": gru_step_back(),
                                           "gru_backward": gru_layer_back()}, base=SOLUTION,
                                          name="05_backprop_cell_state.ipynb"))
    assert graded.score == FULL, [r.message for r in graded.results if not r.passed]


GRU_VARIANTS = {
    # gate by gate, with separate (D, H) and (H, H) matrices, and a forward with a dict cache
    "separate gates": {
        "gru_step_forward": """
            def gru_step_forward(x, h_prev, Wx, Wh, b):
                H = h_prev.shape[1]
                s = {k: slice(j * H, (j + 1) * H) for j, k in enumerate("rzn")}
                r = sigmoid(x @ Wx[:, s["r"]] + h_prev @ Wh[:, s["r"]] + b[s["r"]])
                z = sigmoid(x @ Wx[:, s["z"]] + h_prev @ Wh[:, s["z"]] + b[s["z"]])
                n = np.tanh(x @ Wx[:, s["n"]] + (r * h_prev) @ Wh[:, s["n"]] + b[s["n"]])
                return z * n + (1 - z) * h_prev, {"x": x, "h": h_prev, "W": (Wx, Wh), "s": s,
                                                  "g": (r, z, n)}


            def gru_forward(x, h0, Wx, Wh, b):
                out, caches, h = [], [], h0
                for t in range(x.shape[1]):
                    h, c = gru_step_forward(x[:, t], h, Wx, Wh, b)
                    out.append(h); caches.append(c)
                return np.stack(out, 1), caches
            """,
        "gru_step_backward": """
            def gru_step_backward(dh_next, cache):
                (Wx, Wh), s, (r, z, n) = cache["W"], cache["s"], cache["g"]
                x, h = cache["x"], cache["h"]
                local = {"n": dh_next * z * (1 - n * n), "z": dh_next * (n - h) * z * (1 - z)}
                dq = local["n"] @ Wh[:, s["n"]].T
                local["r"] = dq * h * r * (1 - r)
                inputs_h = {"r": h, "z": h, "n": r * h}
                dx, dh = np.zeros_like(x), dh_next * (1 - z) + dq * r
                dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(Wx.shape[1])
                for k in "rzn":
                    dWx[:, s[k]] = x.T @ local[k]
                    dWh[:, s[k]] = inputs_h[k].T @ local[k]
                    db[s[k]] = local[k].sum(axis=0)
                    dx = dx + local[k] @ Wx[:, s[k]].T
                    if k != "n":
                        dh = dh + local[k] @ Wh[:, s[k]].T
                return dx, dh, dWx, dWh, db
            """,
        "gru_backward": """
            def gru_backward(dh, cache):
                delta = dh.copy()
                dxs, totals = [], None
                for t in range(dh.shape[1] - 1, -1, -1):
                    dx_t, dh_prev, *w = gru_step_backward(delta[:, t], cache[t])
                    dxs.append(dx_t)
                    if t:
                        delta[:, t - 1] = delta[:, t - 1] + dh_prev
                    totals = w if totals is None else [a + c for a, c in zip(totals, w)]
                return (np.stack(dxs[::-1], axis=1), dh_prev, *totals)
            """,
    },
    # all three blocks at once, with one einsum for the weight gradients
    "vectorised": {
        "gru_step_backward": """
            def gru_step_backward(dh_next, cache):
                x, h_prev, Wx, Wh, r, z, n = cache
                H = h_prev.shape[1]
                d_n = dh_next * z * (1 - n * n)
                d_z = dh_next * (n - h_prev) * z * (1 - z)
                dq = np.einsum("nk,hk->nh", d_n, Wh[:, 2 * H:])
                da = np.concatenate([dq * h_prev * r * (1 - r), d_z, d_n], axis=1)
                hidden_in = np.stack([h_prev, h_prev, r * h_prev])                 # (3, N, H)
                blocks = da.reshape(len(x), 3, H).transpose(1, 0, 2)              # (3, N, H)
                dWh = np.einsum("gni,gnj->igj", hidden_in, blocks).reshape(H, 3 * H)
                Wh_rz = Wh[:, :2 * H]
                dh_prev = dh_next * (1 - z) + dq * r + np.einsum("nk,hk->nh", da[:, :2 * H], Wh_rz)
                return da @ Wx.T, dh_prev, np.einsum("nd,nk->dk", x, da), dWh, da.sum(0)
            """,
        "gru_backward": """
            def gru_backward(dh, cache):
                N, T, H = dh.shape
                carry, parts, acc = np.zeros((N, H)), [None] * T, [0.0, 0.0, 0.0]
                for t in reversed(range(T)):
                    parts[t], carry, *w = gru_step_backward(dh[:, t] + carry, cache[t])
                    acc = [a + v for a, v in zip(acc, w)]
                return (np.stack(parts, 1), carry, *acc)
            """,
    },
}


@pytest.mark.parametrize("variant", GRU_VARIANTS)
def test_correct_gru_backward_written_differently_gets_full_marks(variant, make_notebook):
    graded = grade_notebook(make_notebook(GRU_VARIANTS[variant], base=SOLUTION,
                                          name="05_backprop_cell_state.ipynb"))
    assert graded.score == FULL, [r.message for r in graded.results if not r.passed]


@pytest.mark.parametrize("exercise,mutant", [("lstm_backward", "dh0 dropped"),
                                             ("lstm_backward", "dc0 dropped")])
def test_a_mistake_invisible_on_a_case_is_not_offered_as_a_hint(exercise, mutant, make_notebook):
    """On T = 1 cases, 'not accumulated over time' and 'not carried' change nothing: is
    such a hint left out, so that only the real mistake is named?"""
    source, hint = LSTM_MUTANTS[exercise][mutant]
    graded = grade_notebook(make_notebook({exercise: source}, base=SOLUTION,
                                          name="05_backprop_cell_state.ipynb"))
    text = feedback(graded, exercise)
    assert hint in text
    assert "not accumulated over time" not in text and "not carried" not in text \
        and "is not added to dh[:, t]" not in text, text
