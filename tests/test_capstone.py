"""Chapter 6 (the capstone): the training-step glue against independent oracles (torch
autograd, finite differences), the grader by mutation (each known mistake loses points and
is named, correct variants get full marks), and the precomputed learning curves (not stale,
and saying what the book says they say)."""
from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from autograder.exercises import capstone
from autograder.grade import grade_notebook
from autograder.reference import reference
from conftest import ROOT

SOLUTION = ROOT / "solutions" / "06_capstone.ipynb"
CHAPTER = ROOT / "chapters" / "06_capstone.ipynb"
DATA = ROOT / "autograder" / "data" / "06_capstone_curves.json"
pytestmark = pytest.mark.skipif(not SOLUTION.exists(), reason="chapter 6 is not written yet")
FULL = sum(ex.max_points for ex in capstone.EXERCISES)
KINDS = ("rnn", "lstm", "gru")


@pytest.fixture(scope="module")
def ref():
    return reference(capstone).namespace


def feedback(graded, exercise):
    return "\n".join(r.message for r in graded.results if r.exercise == exercise)


def problem(kind, N=3, T=5, D=2, H=4, seed=0):
    rng = np.random.default_rng(seed)
    K = capstone.BLOCKS[kind] * H
    params = {"Wx": rng.normal(size=(D, K)) / np.sqrt(D), "Wh": rng.normal(size=(H, K)) / np.sqrt(H),
              "b": rng.normal(size=K) * 0.5, "W_out": rng.normal(size=(H, 1)),
              "b_out": rng.normal(size=1)}
    return params, rng.normal(size=(N, T, D)), rng.normal(size=(N, 1)) + 1.0


# -- the reference against independent oracles -----------------------------------------------

def _torch_loss(torch, kind, params, x, y):
    """The loss of each network written directly in torch (autograd does the backward).
    The GRU is written out because torch.nn.GRU resets after the product and flips z."""
    P = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    N, T, _ = x.shape
    H = params["Wh"].shape[0]
    h = torch.zeros(N, H, dtype=torch.float64)
    c = torch.zeros(N, H, dtype=torch.float64)
    for t in range(T):
        a_x = xt[:, t] @ P["Wx"] + P["b"]
        if kind == "rnn":
            h = torch.tanh(a_x + h @ P["Wh"])
        elif kind == "lstm":
            a = a_x + h @ P["Wh"]
            i, f, g, o = a[:, :H].sigmoid(), a[:, H:2 * H].sigmoid(), a[:, 2 * H:3 * H].tanh(), a[:, 3 * H:].sigmoid()
            c = f * c + i * g
            h = o * torch.tanh(c)
        else:
            r = torch.sigmoid(a_x[:, :H] + h @ P["Wh"][:, :H])
            z = torch.sigmoid(a_x[:, H:2 * H] + h @ P["Wh"][:, H:2 * H])
            n = torch.tanh(a_x[:, 2 * H:] + (r * h) @ P["Wh"][:, 2 * H:])
            h = (1 - z) * h + z * n
    loss = ((h @ P["W_out"] + P["b_out"] - yt) ** 2).mean()
    loss.backward()
    return float(loss.detach()), {k: p.grad.numpy() for k, p in P.items()}


@pytest.mark.torch
@pytest.mark.parametrize("kind", KINDS)
def test_loss_and_grads_agree_with_torch(kind, ref):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: the torch oracle is skipped")
    params, x, y = problem(kind, seed=1)
    loss, grads = ref[f"{kind}_loss_and_grads"](params, x, y)
    t_loss, t_grads = _torch_loss(torch, kind, params, x, y)
    assert loss == pytest.approx(t_loss, rel=1e-12)
    assert set(grads) == set(params)
    for k in params:
        np.testing.assert_allclose(grads[k], t_grads[k], rtol=1e-10, atol=1e-13, err_msg=k)


@pytest.mark.torch
def test_lstm_and_rnn_agree_with_torch_modules(ref):
    """nn.LSTM and nn.RNN (not our equations) give the same last state as the reference."""
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    for kind, module in (("lstm", torch.nn.LSTM), ("rnn", torch.nn.RNN)):
        params, x, y = problem(kind, N=2, T=6, D=3, H=4, seed=2)
        net = module(3, 4, batch_first=True, dtype=torch.float64)
        with torch.no_grad():
            net.weight_ih_l0.copy_(torch.from_numpy(params["Wx"].T))
            net.weight_hh_l0.copy_(torch.from_numpy(params["Wh"].T))
            net.bias_ih_l0.copy_(torch.from_numpy(params["b"]))
            net.bias_hh_l0.zero_()
        out = net(torch.from_numpy(x))[0][:, -1].detach().numpy()
        pred = out @ params["W_out"] + params["b_out"]
        loss, _ = ref[f"{kind}_loss_and_grads"](params, x, y)
        assert loss == pytest.approx(float(np.mean((pred - y) ** 2)), rel=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_loss_and_grads_agree_with_finite_differences(kind, ref):
    params, x, y = problem(kind, N=2, T=4, D=2, H=3, seed=3)
    fn = ref[f"{kind}_loss_and_grads"]
    _, grads = fn(params, x, y)
    eps = 1e-6
    for k, p in params.items():
        numeric = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            plus = {**params, k: p.copy()}
            minus = {**params, k: p.copy()}
            plus[k][idx] += eps
            minus[k][idx] -= eps
            numeric[idx] = (fn(plus, x, y)[0] - fn(minus, x, y)[0]) / (2 * eps)
        np.testing.assert_allclose(grads[k], numeric, rtol=1e-6, atol=1e-9, err_msg=k)


def test_only_the_last_state_gets_a_gradient(ref):
    """Changing x at the last step changes the loss; the head reads h[:, -1] only."""
    params, x, y = problem("gru", seed=4)
    fn = ref["gru_loss_and_grads"]
    x2 = x.copy()
    x2[:, -1] += 0.1
    assert fn(params, x2, y)[0] != pytest.approx(fn(params, x, y)[0], rel=1e-9)


# -- grading -------------------------------------------------------------------------------

def test_solution_full_marks_and_stubs_zero():
    solved = grade_notebook(SOLUTION)
    assert solved.score == FULL, [r.message for r in solved.results if not r.passed]
    stubs = grade_notebook(CHAPTER)
    assert stubs.score == 0
    assert "not implemented yet" in feedback(stubs, "lstm_loss_and_grads")


def test_gradient_check_calls_the_students_code_a_few_times_not_once_per_point(monkeypatch):
    """The finite differences (about 60 points per exercise) are of the reference, in the
    grader; the student's process is asked for the gradients and the loss, not for every
    point (a round trip costs about a millisecond, and nothing it returns enters them)."""
    from autograder.sandbox import Sandbox
    trips = [0]
    real = Sandbox._request

    def counted(self, *a, **k):
        trips[0] += 1
        return real(self, *a, **k)
    monkeypatch.setattr(Sandbox, "_request", counted)
    graded = grade_notebook(SOLUTION)
    assert graded.score == FULL
    names = [a.name for a in capstone.ARGS]
    points = sum(2 * sum(np.prod(capstone.ARGS[names.index(p)].shape(ex.grad_dims))
                         for p in ex.grad_of.values()) for ex in capstone.EXERCISES)
    assert points > 150
    # per exercise: 3 hidden and 3 edge cases, the inputs-unchanged call, the gradient check
    assert trips[0] <= 10 * len(capstone.EXERCISES), (trips[0], points)


CORE = {"rnn": ("h, cache = rnn_forward(x, zero, params['Wx'], params['Wh'], params['b'])",
                "_, _, dWx, dWh, db = rnn_backward(dh_seq, cache)"),
        "lstm": ("h, _, cache = lstm_forward(x, zero, zero, params['Wx'], params['Wh'], params['b'])",
                 "_, _, _, dWx, dWh, db = lstm_backward(dh_seq, cache)"),
        "gru": ("h, cache = gru_forward(x, zero, params['Wx'], params['Wh'], params['b'])",
                "_, _, dWx, dWh, db = gru_backward(dh_seq, cache)")}


def glue(kind, read="-1", loss="np.mean(err ** 2)", dpred="2 * err / N",
         fill="dh_seq[:, {read}] = dpred @ params['W_out'].T", post=""):
    """A student's glue, written independently of the reference, with one part swappable."""
    forward, backward = CORE[kind]
    fill = fill.format(read=read)
    return f"""
        def {kind}_loss_and_grads(params, x, y):
            N = len(x)
            zero = np.zeros((N, params['Wh'].shape[0]))
            {forward}
            h_read = h[:, {read}]
            pred = h_read @ params['W_out'] + params['b_out']
            err = pred - y
            loss = {loss}
            dpred = {dpred}
            dh_seq = np.zeros(h.shape)
            {fill}
            {backward}
            grads = dict(Wx=dWx, Wh=dWh, b=db, W_out=h_read.T @ dpred, b_out=dpred.sum(0))
            {post}
            return loss, grads
        """


CLIP = ("total = np.sqrt(sum((g ** 2).sum() for g in grads.values()))\n"
        "            grads = {k: g * min(1, 1 / total) for k, g in grads.items()}")

MUTANTS = {
    "summed loss": (dict(loss="np.sum(err ** 2)", dpred="2 * err"), "summed over the batch instead of averaged"),
    "gradient not averaged": (dict(dpred="2 * err"), "its gradient is not"),
    "no factor 2": (dict(dpred="err / N"), "factor 2 of the square is missing"),
    "sign": (dict(dpred="2 * (y - pred) / N"), "wrong sign"),
    "every step": (dict(fill="dh_seq[:] = (dpred @ params['W_out'].T)[:, None, :]"),
                   "put at every step"),
    "first step": (dict(read="0"), "reads h[:, 0]"),
    "clipped inside": (dict(post=CLIP), "clipped inside the function"),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mutant", MUTANTS)
def test_glue_mistake_is_caught_and_named(kind, mutant, make_notebook):
    change, hint = MUTANTS[mutant]
    name = f"{kind}_loss_and_grads"
    graded = grade_notebook(make_notebook({name: glue(kind, **change)}, base=SOLUTION))
    assert graded.exercise_score(name) < 10, feedback(graded, name)
    assert hint in feedback(graded, name), feedback(graded, name)
    for other in KINDS:
        if other != kind:
            assert graded.exercise_score(f"{other}_loss_and_grads") == 10


def test_missing_gradient_key_is_named(make_notebook):
    source = glue("rnn", post="del grads['b_out']")
    graded = grade_notebook(make_notebook({"rnn_loss_and_grads": source}, base=SOLUTION))
    assert graded.exercise_score("rnn_loss_and_grads") == 0
    assert "no key 'b_out'" in feedback(graded, "rnn_loss_and_grads")


def test_in_place_update_of_params_loses_the_no_modify_point(make_notebook):
    source = glue("gru", post="params['Wh'] -= 0.1 * grads['Wh']")
    graded = grade_notebook(make_notebook({"gru_loss_and_grads": source}, base=SOLUTION))
    assert graded.exercise_score("gru_loss_and_grads") == 9
    assert "modified its input" in feedback(graded, "gru_loss_and_grads")


VARIANTS = {
    "plain": {},
    "loss as a float, sum divided by N": dict(loss="float(((pred - y) ** 2).sum() / N)",
                                              dpred="(pred - y) * (2.0 / N)"),
    "dh built by concatenation": dict(
        fill="dh_seq = np.concatenate([np.zeros_like(h[:, :-1]), (dpred @ params['W_out'].T)[:, None]], axis=1)"),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_correct_variant_full_marks(kind, variant, make_notebook):
    name = f"{kind}_loss_and_grads"
    graded = grade_notebook(make_notebook({name: glue(kind, **VARIANTS[variant])}, base=SOLUTION))
    assert graded.exercise_score(name) == 10, feedback(graded, name)


# -- the precomputed curves ------------------------------------------------------------------

def _data_script():
    spec = importlib.util.spec_from_file_location("capstone_data", ROOT / "scripts" / "capstone_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_curves_are_not_stale():
    """20 steps of the LSTM run, re-run with the reference, give the recorded losses."""
    script = _data_script()
    data = json.loads(DATA.read_text())
    assert script.stale(data) == []


def test_stale_check_fails_on_a_changed_file():
    script = _data_script()
    data = json.loads(DATA.read_text())
    changed = json.loads(DATA.read_text())
    changed["runs"]["lstm"]["first_losses"][5] *= 1 + 1e-5
    assert any("first 20 losses" in p for p in script.stale(changed))
    changed = {**data, "config": {**data["config"], "lr": 1e-3}}
    assert any("config" in p for p in script.stale(changed))


def test_curves_say_what_the_book_says():
    """LSTM and GRU solve the adding problem, the RNN does not; the first-symbol runs show
    the initialisation story of section 6.8."""
    script = _data_script()
    data = json.loads(DATA.read_text())
    runs = data["runs"]
    assert runs["lstm"]["steps_to_95"] is not None and runs["gru"]["steps_to_95"] is not None
    for rnn in ("rnn", "rnn_long", "rnn_noclip"):
        assert runs[rnn]["steps_to_95"] is None and max(runs[rnn]["accuracy"]) < 0.95
    for name, run in runs.items():
        steps = script.LONGER.get(name, data["config"]["steps"])
        assert run["step"] == list(range(50, steps + 1, 50))
        assert len(run["first_losses"]) == 20
    first = data["first_symbol"]
    stds = data["first_symbol_config"]["input_std"]
    # the zero-bias gated networks stay at chance (25%) at every input scale but one
    for name in ("lstm_forget0", "gru_update0"):
        stuck = [first[f"{name}@{s}"] for s in stds if first[f"{name}@{s}"]["steps_to_95"] is None]
        assert len(stuck) >= 2 and all(r["accuracy"][-1] < 0.3 for r in stuck)
    # the same networks biased to keep learn it; the RNN learns it at the smallest input scale
    assert all(first[f"gru_update-1@{s}"]["steps_to_95"] for s in stds)
    assert first[f"rnn@{stds[0]}"]["steps_to_95"] is not None
    assert DATA.stat().st_size < 200_000


def _markdown(path):
    nb = json.loads(path.read_text())
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


def test_numbers_in_the_text_come_from_the_data():
    """The lesson quotes steps to 95%; they must be the recorded ones."""
    runs = json.loads(DATA.read_text())["runs"]
    text = _markdown(SOLUTION)
    for name in ("lstm", "gru", "lstm_noclip", "gru_noclip", "lstm_forget0", "gru_update-1"):
        assert f"{runs[name]['steps_to_95']:,} steps" in text or f"{runs[name]['steps_to_95']:,}" in text, name
    assert f"peaks at {max(runs['rnn_long']['accuracy']):.0%}" in text


def test_student_edition_ships_the_curves_in_the_package(tmp_path):
    """The student notebook plots the stored curves, so the student package carries them
    (tests/test_student_dist.py runs the notebook alone, outside chapters/, with it)."""
    from autograder import data_path, student_dist
    written = student_dist.write(ROOT, tmp_path / "dist")
    assert "autograder/data/06_capstone_curves.json" in written
    assert (tmp_path / "dist" / "autograder" / "data" / "06_capstone_curves.json").read_bytes() == DATA.read_bytes()
    assert data_path("06_capstone_curves.json") == DATA.resolve()
    with pytest.raises(FileNotFoundError, match="06_capstone_curves.json"):
        data_path("07_no_such_data.json")


def test_a_capstone_notebook_is_recognised_whatever_its_name(tmp_path):
    """It also defines every exercise of chapter 1 (carried), but chapter 6 is its chapter."""
    from autograder.grade import guess_chapter
    from autograder.notebook import load_program
    path = tmp_path / "my_homework.ipynb"
    path.write_bytes(SOLUTION.read_bytes())
    assert guess_chapter(path, load_program(path)) is capstone
