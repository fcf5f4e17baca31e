"""Benchmark: the book's reference RNN, LSTM and GRU (numpy, from solutions/) against
PyTorch's nn.RNN / nn.LSTM / nn.GRU on the CPU of this machine, forward + backward.

    .venv/bin/python bench/rnn_torch_ratio.py [--repeats 9] [--json PATH] [--quick]
    .venv/bin/python bench/rnn_torch_ratio.py --profile LSTM [--size 100,64,128,256]

For each model and size (T, N, D, H) it builds one set of inputs and weights, gives the
same numbers to numpy and torch (float64, batch-first, one thread each), checks that the two
agree to 1e-10 on the hidden states and on every gradient of loss = sum(h * G) (G fixed and
random), and only then times both: the median of --repeats runs after warm-up, numpy and
torch interleaved so that a change in the machine's load hits both, on the process's CPU
clock (--clock wall for wall time). It prints one row per
model, size and variant: numpy ms, torch ms and the ratio numpy / torch, for the forward
pass alone (numpy's forward as used in training, keeping its cache; torch's under
no_grad) and for forward + backward, and whether forward + backward meets the 1.1x target
at the two larger sizes.

Not a test: it exits 0 whether or not the target is met, and without torch it only says
that the comparison needs torch. Chapter 4's cost figure takes its numbers from --json.

Rows besides "reference" are modified copies of the reference kept in this file, each
checked against torch like the reference (nothing in solutions/ is changed):
  "x@Wx hoisted"      the input products x_t Wx of all T steps as one (T*N, D) @ (D, KH)
                      product before the time loop, laid out time-major (T, N, KH) so that
                      each step's rows are contiguous (PyTorch's CPU RNNs do both); gates
                      and states written into arrays preallocated for the whole sequence.
                      Backward still step by step, weight gradients accumulated per step.
  "+ batched grads"   also the backward's dx, dWx, dWh and db as one product (or sum) each
                      after the time loop, from all steps' pre-activation gradients kept in
                      one (T, N, KH) array; only dh @ Wh^T stays in the loop.
  "+ tanh sigmoid"    also sigmoid(a) as 0.5 (1 + tanh(a / 2)) (one ufunc pass, exact)
                      instead of the reference's overflow-safe np.where of two branches.
  "ref fwd + stand-in bwd"  only while a chapter's backward does not exist yet: the
                      reference forward with this file's step-by-step backward.
--profile MODEL shows where the reference's time goes (cProfile, then the forward's parts).
GRU: nn.GRU applies the reset gate after its matrix product (reset-after), the book's
main GRU before it, so nn.GRU computes a different function of the same size and cost;
the GRU numbers are checked against torch autograd of the book's own equations instead,
and timed against nn.GRU.
"""
from __future__ import annotations

import os
import sys

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def pin_one_thread() -> None:
    """BLAS reads its thread count once, when numpy is first imported: set it before that,
    or run this script again in a fresh interpreter when numpy is already loaded."""
    if all(os.environ.get(v) == "1" for v in THREAD_VARS):
        return
    os.environ.update({v: "1" for v in THREAD_VARS})
    if "numpy" in sys.modules:
        os.execv(sys.executable, [sys.executable, os.path.abspath(__file__), *sys.argv[1:]])


if __name__ == "__main__":
    pin_one_thread()

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZES = ((50, 32, 64, 128), (100, 64, 128, 256), (20, 1, 16, 32))  # (T, N, D, H)
TARGETED = SIZES[:2]  # the target applies to the two larger sizes
QUICK_SIZES = ((4, 2, 3, 5),)
TARGET = 1.1
TOL = 1e-10
GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}
FUNCTIONS = {"RNN": ("rnn_forward", "rnn_backward"),
             "LSTM": ("lstm_forward", "lstm_backward"),
             "GRU": ("gru_forward", "gru_backward")}
GRAD_NAMES = {"RNN": ("dx", "dh0", "dWx", "dWh", "db"),
              "LSTM": ("dx", "dh0", "dc0", "dWx", "dWh", "db"),
              "GRU": ("dx", "dh0", "dWx", "dWh", "db")}


GRU_NOTE = ("timed against nn.GRU, which is reset-after (a different function of the same "
            "size and cost); agreement checked against torch autograd of the book's GRU")


class Skip(Exception):
    """A row that cannot be measured; the message says why."""


# -- the reference functions, from the solution notebooks ----------------------------------

def reference_function(name: str):
    """`name` from the solution notebook of the chapter whose exercise it is (any chapter
    that defines it, failing that). Raises Skip with the reason when no notebook has it."""
    from autograder.exercises import CHAPTERS
    from autograder.reference import ReferenceMissing, reference
    owners = [c for c in CHAPTERS if any(ex.name == name for ex in c.EXERCISES)]
    reasons = []
    for chapter in owners + [c for c in CHAPTERS if c not in owners]:
        try:
            namespace = reference(chapter).namespace
        except ReferenceMissing as e:
            if chapter in owners:
                reasons.append(str(e).split(":")[0].replace(str(ROOT) + "/", ""))
            continue
        except Exception as e:  # noqa: BLE001  (a notebook being edited may not run)
            reasons.append(f"solutions/{chapter.NOTEBOOK} does not load ({type(e).__name__})")
            continue
        if name in namespace:
            return namespace[name]
        if chapter in owners:
            reasons.append(f"solutions/{chapter.NOTEBOOK} does not define it")
    if not owners:
        reasons.append("no chapter in autograder/exercises has it as an exercise yet")
    raise Skip(f"{name}: " + "; ".join(reasons))


# -- modified copies of the reference (see the module docstring) ---------------------------

def sigmoid(a):
    """The sigmoid of the reference being copied (the one its forward calls), so that a
    modified copy differs from the reference only where its label says."""
    return _SIGMOID(a)


def _tanh_sigmoid(a):
    return 0.5 * (1.0 + np.tanh(0.5 * a))


_SIGMOID = _tanh_sigmoid


def _time_major(x):
    """(N, T, D) -> a contiguous (T, N, D) copy: then every step's rows are contiguous."""
    return np.ascontiguousarray(x.transpose(1, 0, 2))


def _input_products(x_tm, Wx, b):
    """x_t Wx + b for every step at once: one (T*N, D) @ (D, KH) product, (T, N, KH)."""
    T, N, D = x_tm.shape
    a = (x_tm.reshape(T * N, D) @ Wx).reshape(T, N, -1)
    a += b
    return a


def _previous(h0, h_tm):
    """h_{t-1} for every t: h0 followed by h[:-1], shape (T, N, H)."""
    return np.concatenate([h0[None], h_tm[:-1]], axis=0)


def _batch_first(a_tm):
    return a_tm.transpose(1, 0, 2)  # (T, N, .) -> (N, T, .), a view


def _batched_weight_grads(x_tm, h_prev, da, Wx):
    """dx, dWx, dWh (from h_prev) and db from all steps' pre-activation gradients."""
    T, N, D = x_tm.shape
    da2 = da.reshape(T * N, -1)  # (T*N, KH)
    dx = _batch_first((da2 @ Wx.T).reshape(T, N, D))  # (N, T, D)
    dWx = x_tm.reshape(T * N, D).T @ da2  # (D, KH)
    dWh = h_prev.reshape(T * N, -1).T @ da2  # (H, KH)
    return dx, dWx, dWh, da2.sum(axis=0)


def rnn_forward_hoisted(x, h0, Wx, Wh, b):
    x_tm = _time_major(x)
    h = _input_products(x_tm, Wx, b)  # (T, N, H), overwritten step by step by h_t
    h_t = h0
    for t in range(h.shape[0]):
        h_t = np.tanh(np.add(h[t], h_t @ Wh, out=h[t]), out=h[t])
    return _batch_first(h), (x_tm, h0, Wx, Wh, h)


def rnn_backward_stepwise(dh, cache):
    x_tm, h0, Wx, Wh, h = cache
    h_prev = _previous(h0, h)
    dx = np.empty_like(x_tm)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(Wh.shape[1])
    carry = np.zeros_like(h0)
    for t in reversed(range(h.shape[0])):
        da = (dh[:, t] + carry) * (1.0 - h[t] ** 2)  # (N, H)
        dx[t] = da @ Wx.T
        carry = da @ Wh.T
        dWx += x_tm[t].T @ da
        dWh += h_prev[t].T @ da
        db += da.sum(axis=0)
    return _batch_first(dx), carry, dWx, dWh, db


def rnn_backward_batched(dh, cache):
    x_tm, h0, Wx, Wh, h = cache
    da = np.empty_like(h)  # (T, N, H)
    carry = np.zeros_like(h0)
    for t in reversed(range(h.shape[0])):
        da[t] = (dh[:, t] + carry) * (1.0 - h[t] ** 2)
        carry = da[t] @ Wh.T
    dx, dWx, dWh, db = _batched_weight_grads(x_tm, _previous(h0, h), da, Wx)
    return dx, carry, dWx, dWh, db


def lstm_forward_hoisted(x, h0, c0, Wx, Wh, b, sigmoid=sigmoid):
    x_tm = _time_major(x)
    T, N, _ = x_tm.shape
    H = h0.shape[1]
    a = _input_products(x_tm, Wx, b)  # (T, N, 4H), becomes the gates i, f, g, o in place
    h, c = np.empty((T, N, H)), np.empty((T, N, H))
    h_t, c_t = h0, c0
    for t in range(T):
        a_t = a[t]
        a_t += h_t @ Wh  # (N, 4H)
        a_t[:, :2 * H] = sigmoid(a_t[:, :2 * H])  # i, f
        a_t[:, 2 * H:3 * H] = np.tanh(a_t[:, 2 * H:3 * H])  # g
        a_t[:, 3 * H:] = sigmoid(a_t[:, 3 * H:])  # o
        c_t = c[t] = a_t[:, H:2 * H] * c_t + a_t[:, :H] * a_t[:, 2 * H:3 * H]
        h_t = h[t] = a_t[:, 3 * H:] * np.tanh(c_t)
    return _batch_first(h), _batch_first(c), (x_tm, h0, c0, Wx, Wh, a, h, c)


def _split(gates, k):
    H = gates.shape[-1] // k
    return [gates[..., j * H:(j + 1) * H] for j in range(k)]


def _lstm_step_grads(dh_t, dc_t, i, f, g, o, c_prev, c_t):
    """Pre-activation gradients (N, 4H) of one step, and the gradient into c_prev."""
    tc = np.tanh(c_t)
    dc = dc_t + dh_t * o * (1.0 - tc ** 2)  # (N, H): carried plus through h = o tanh(c)
    da = np.concatenate([dc * g * i * (1.0 - i), dc * c_prev * f * (1.0 - f),
                         dc * i * (1.0 - g ** 2), dh_t * tc * o * (1.0 - o)], axis=1)
    return da, dc * f


def lstm_backward_stepwise(dh, cache):
    x_tm, h0, c0, Wx, Wh, gates, h, c = cache
    h_prev, c_prev = _previous(h0, h), _previous(c0, c)
    dx = np.empty_like(x_tm)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(Wh.shape[1])
    dh_carry, dc_carry = np.zeros_like(h0), np.zeros_like(c0)
    for t in reversed(range(h.shape[0])):
        da, dc_carry = _lstm_step_grads(dh[:, t] + dh_carry, dc_carry,
                                        *_split(gates[t], 4), c_prev[t], c[t])
        dx[t] = da @ Wx.T
        dh_carry = da @ Wh.T
        dWx += x_tm[t].T @ da
        dWh += h_prev[t].T @ da
        db += da.sum(axis=0)
    return _batch_first(dx), dh_carry, dc_carry, dWx, dWh, db


def lstm_backward_batched(dh, cache):
    x_tm, h0, c0, Wx, Wh, gates, h, c = cache
    c_prev = _previous(c0, c)
    da = np.empty_like(gates)  # (T, N, 4H)
    dh_carry, dc_carry = np.zeros_like(h0), np.zeros_like(c0)
    for t in reversed(range(h.shape[0])):
        da[t], dc_carry = _lstm_step_grads(dh[:, t] + dh_carry, dc_carry,
                                           *_split(gates[t], 4), c_prev[t], c[t])
        dh_carry = da[t] @ Wh.T
    dx, dWx, dWh, db = _batched_weight_grads(x_tm, _previous(h0, h), da, Wx)
    return dx, dh_carry, dc_carry, dWx, dWh, db


def gru_forward_hoisted(x, h0, Wx, Wh, b, sigmoid=sigmoid):
    x_tm = _time_major(x)
    T, N, _ = x_tm.shape
    H = h0.shape[1]
    gates = _input_products(x_tm, Wx, b)  # (T, N, 3H), becomes r, z, n in place
    rh = np.empty((T, N, H))  # r * h_prev, the input of the candidate's product
    h = np.empty((T, N, H))
    h_t = h0
    for t in range(T):
        g_t = gates[t]
        g_t[:, :2 * H] = sigmoid(g_t[:, :2 * H] + h_t @ Wh[:, :2 * H])  # r, z
        np.multiply(g_t[:, :H], h_t, out=rh[t])
        g_t[:, 2 * H:] = np.tanh(g_t[:, 2 * H:] + rh[t] @ Wh[:, 2 * H:])  # n
        h_t = h[t] = h_t + g_t[:, H:2 * H] * (g_t[:, 2 * H:] - h_t)  # (1-z) h + z n
    return _batch_first(h), (x_tm, h0, Wx, Wh, gates, rh, h)


def _gru_step_grads(dh_t, r, z, n, h_prev, Wh):
    """Pre-activation gradients (N, 3H) of one step, and the gradient into h_prev."""
    H = h_prev.shape[1]
    dan = dh_t * z * (1.0 - n ** 2)  # (N, H)
    drh = dan @ Wh[:, 2 * H:].T  # (N, H), gradient of r * h_prev
    da_rz = np.concatenate([drh * h_prev * r * (1.0 - r),
                            dh_t * (n - h_prev) * z * (1.0 - z)], axis=1)  # (N, 2H)
    dh_prev = dh_t * (1.0 - z) + drh * r + da_rz @ Wh[:, :2 * H].T
    return np.concatenate([da_rz, dan], axis=1), dh_prev


def _gru_dWh(h_prev, rh, da):
    """Wh's gradient: r and z columns from h_prev, n columns from r * h_prev."""
    H = h_prev.shape[-1]
    hp, rh, da = (a.reshape(-1, a.shape[-1]) for a in (h_prev, rh, da))
    return np.concatenate([hp.T @ da[:, :2 * H], rh.T @ da[:, 2 * H:]], axis=1)


def gru_backward_stepwise(dh, cache):
    x_tm, h0, Wx, Wh, gates, rh, h = cache
    h_prev = _previous(h0, h)
    dx = np.empty_like(x_tm)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(Wh.shape[1])
    carry = np.zeros_like(h0)
    for t in reversed(range(h.shape[0])):
        da, carry = _gru_step_grads(dh[:, t] + carry, *_split(gates[t], 3), h_prev[t], Wh)
        dx[t] = da @ Wx.T
        dWx += x_tm[t].T @ da
        dWh += _gru_dWh(h_prev[t], rh[t], da)
        db += da.sum(axis=0)
    return _batch_first(dx), carry, dWx, dWh, db


def gru_backward_batched(dh, cache):
    x_tm, h0, Wx, Wh, gates, rh, h = cache
    h_prev = _previous(h0, h)
    da = np.empty_like(gates)  # (T, N, 3H)
    carry = np.zeros_like(h0)
    for t in reversed(range(h.shape[0])):
        da[t], carry = _gru_step_grads(dh[:, t] + carry, *_split(gates[t], 3), h_prev[t], Wh)
    dx, dWx, _, db = _batched_weight_grads(x_tm, h_prev, da, Wx)
    return dx, carry, dWx, _gru_dWh(h_prev, rh, da), db


def lstm_backward_standin(dh, cache):
    """A step-by-step LSTM backward in the style of chapter 1's rnn_backward, reading the
    reference lstm_forward's cache (a list of (x, h_prev, c_prev, Wx, Wh, i, f, g, o, c_next)):
    timed only while chapter 5's lstm_backward does not exist yet."""
    N, T, H = dh.shape
    _, _, _, Wx, Wh, *_ = cache[0]
    dx = np.zeros((N, T, Wx.shape[0]))
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(Wh.shape[1])
    dh_carry, dc_carry = np.zeros((N, H)), np.zeros((N, H))
    for t in reversed(range(T)):
        x, h_prev, c_prev, _, _, i, f, g, o, c_next = cache[t]
        da, dc_carry = _lstm_step_grads(dh[:, t] + dh_carry, dc_carry, i, f, g, o, c_prev, c_next)
        dx[:, t] = da @ Wx.T
        dh_carry = da @ Wh.T
        dWx += x.T @ da
        dWh += h_prev.T @ da
        db += da.sum(axis=0)
    return dx, dh_carry, dc_carry, dWx, dWh, db


def gru_backward_standin(dh, cache):
    """A step-by-step GRU backward reading the reference gru_forward's cache (a list of
    (x, h_prev, Wx, Wh, r, z, n)): timed only while chapter 5's gru_backward does not exist."""
    N, T, H = dh.shape
    _, _, Wx, Wh, *_ = cache[0]
    dx = np.zeros((N, T, Wx.shape[0]))
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(Wh.shape[1])
    carry = np.zeros((N, H))
    for t in reversed(range(T)):
        x, h_prev, _, _, r, z, n = cache[t]
        da, carry = _gru_step_grads(dh[:, t] + carry, r, z, n, h_prev, Wh)
        dx[:, t] = da @ Wx.T
        dWx += x.T @ da
        dWh += _gru_dWh(h_prev, r * h_prev, da)
        db += da.sum(axis=0)
    return dx, carry, dWx, dWh, db


STANDINS = {"LSTM": lstm_backward_standin, "GRU": gru_backward_standin}


def _with_tanh_sigmoid(forward):
    return lambda *args: forward(*args, sigmoid=_tanh_sigmoid)


VARIANTS = {  # model -> [(label, forward, backward)], after the reference row
    "RNN": [("x@Wx hoisted", rnn_forward_hoisted, rnn_backward_stepwise),
            ("+ batched grads", rnn_forward_hoisted, rnn_backward_batched)],
    "LSTM": [("x@Wx hoisted", lstm_forward_hoisted, lstm_backward_stepwise),
             ("+ batched grads", lstm_forward_hoisted, lstm_backward_batched),
             ("+ tanh sigmoid", _with_tanh_sigmoid(lstm_forward_hoisted), lstm_backward_batched)],
    "GRU": [("x@Wx hoisted", gru_forward_hoisted, gru_backward_stepwise),
            ("+ batched grads", gru_forward_hoisted, gru_backward_batched)],
    # (no "+ tanh sigmoid" row: chapter 4's sigmoid already is 0.5 (1 + tanh(a / 2)))
}


# -- one problem, in numpy and in torch ----------------------------------------------------

class Problem:
    """Inputs, weights and the loss weights G of one model and size, in numpy and torch."""

    def __init__(self, model, T, N, D, H, seed=0):
        rng = np.random.default_rng(seed)
        K = GATES[model] * H
        self.model, self.size = model, (T, N, D, H)
        self.x = rng.normal(size=(N, T, D))
        self.h0 = 0.5 * rng.normal(size=(N, H))
        self.c0 = 0.5 * rng.normal(size=(N, H))
        self.Wx = rng.normal(size=(D, K)) / np.sqrt(D)
        self.Wh = rng.normal(size=(H, K)) / np.sqrt(H)
        self.b = 0.1 * rng.normal(size=K)
        self.G = rng.normal(size=(N, T, H))

    def numpy_forward(self, forward):
        p = self
        if p.model == "LSTM":
            h, _, cache = forward(p.x, p.h0, p.c0, p.Wx, p.Wh, p.b)
        else:
            h, cache = forward(p.x, p.h0, p.Wx, p.Wh, p.b)
        return h, cache

    def numpy_run(self, forward, backward):
        """Forward, loss and backward: h, loss and the gradients by name."""
        h, cache = self.numpy_forward(forward)
        loss = float(np.sum(h * self.G))
        grads = backward(self.G, cache)
        return h, loss, dict(zip(GRAD_NAMES[self.model], grads))


class TorchSide:
    """The same problem as a torch module (nn.RNN / nn.LSTM / nn.GRU) with our weights."""

    def __init__(self, torch, p: Problem):
        self.torch, self.p = torch, p
        T, N, D, H = p.size
        kind = {"RNN": torch.nn.RNN, "LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU}[p.model]
        extra = {"nonlinearity": "tanh"} if p.model == "RNN" else {}
        self.module = kind(D, H, batch_first=True, dtype=torch.float64, **extra)
        Wx, Wh, b = p.Wx.copy(), p.Wh.copy(), p.b.copy()
        if p.model == "GRU":  # PyTorch's z is 1 - ours: sigmoid(-a) = 1 - sigmoid(a)
            for w in (Wx, Wh, b):
                w[..., H:2 * H] *= -1
        m = self.module
        with torch.no_grad():
            m.weight_ih_l0.copy_(torch.from_numpy(Wx.T))
            m.weight_hh_l0.copy_(torch.from_numpy(Wh.T))
            m.bias_ih_l0.copy_(torch.from_numpy(b))
            m.bias_hh_l0.zero_()
        self.x = torch.from_numpy(p.x).requires_grad_()
        self.h0 = torch.from_numpy(p.h0[None]).requires_grad_()
        self.c0 = torch.from_numpy(p.c0[None]).requires_grad_()
        self.G = torch.from_numpy(p.G)
        self.state = (self.h0, self.c0) if p.model == "LSTM" else self.h0
        self.leaves = [self.x, self.h0, *m.parameters()] + [self.c0] * (p.model == "LSTM")

    def forward(self):
        with self.torch.no_grad():
            return self.module(self.x, self.state)[0]

    def run(self):
        """Forward, loss and backward, as in training (the gradients are left in .grad)."""
        for leaf in self.leaves:
            leaf.grad = None
        out, _ = self.module(self.x, self.state)
        loss = (out * self.G).sum()
        loss.backward()
        return out, loss

    def grads(self):
        m = self.module
        g = {"dx": lambda: self.x.grad, "dh0": lambda: self.h0.grad[0],
             "dc0": lambda: self.c0.grad[0], "dWx": lambda: m.weight_ih_l0.grad.T,
             "dWh": lambda: m.weight_hh_l0.grad.T, "db": lambda: m.bias_ih_l0.grad}
        return {k: g[k]().numpy() for k in GRAD_NAMES[self.p.model]}


def torch_gru_book(torch, p: Problem):
    """The book's GRU (reset before the product, z takes the candidate) in torch autograd:
    the oracle for the GRU rows, since nn.GRU is reset-after."""
    T, N, D, H = p.size
    x, h0, Wx, Wh, b = (torch.from_numpy(a.copy()).requires_grad_()
                        for a in (p.x, p.h0, p.Wx, p.Wh, p.b))
    h_t, hs = h0, []
    for t in range(T):
        xa = x[:, t] @ Wx + b
        rz = torch.sigmoid(xa[:, :2 * H] + h_t @ Wh[:, :2 * H])
        r, z = rz[:, :H], rz[:, H:]
        n = torch.tanh(xa[:, 2 * H:] + (r * h_t) @ Wh[:, 2 * H:])
        h_t = (1 - z) * h_t + z * n
        hs.append(h_t)
    h = torch.stack(hs, dim=1)
    (h * torch.from_numpy(p.G)).sum().backward()
    grads = {"dx": x.grad, "dh0": h0.grad, "dWx": Wx.grad, "dWh": Wh.grad, "db": b.grad}
    return h.detach().numpy(), {k: v.numpy() for k, v in grads.items()}


def oracle(torch, p: Problem, side: TorchSide):
    """Hidden states and gradients the numpy side must reproduce."""
    if p.model == "GRU":
        return torch_gru_book(torch, p)
    out, _ = side.run()
    return out.detach().numpy(), side.grads()


def max_error(h, grads, h_ref, grads_ref) -> float:
    """Largest difference over h and every gradient, relative to the array's scale (>= 1)."""
    pairs = [(h, h_ref)] + [(grads[k], grads_ref[k]) for k in grads_ref]
    return max(float(np.max(np.abs(a - b))) / max(1.0, float(np.max(np.abs(b))))
               for a, b in pairs)


# -- timing --------------------------------------------------------------------------------

CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}
CLOCK = "cpu"


def interleaved_medians(first, second, repeats: int, warmup: int) -> tuple[float, float]:
    """Median time in ms of each of two functions, run alternately (order swapped on every
    repeat) after `warmup` runs of each. The clock is the process's CPU time by default:
    both sides run on one thread, and CPU time is far less disturbed than wall time by
    other programs sharing the machine (--clock wall for wall time)."""
    clock = CLOCKS[CLOCK]
    for _ in range(warmup):
        first()
        second()
    times = ([], [])
    for k in range(repeats):
        order = (0, 1) if k % 2 == 0 else (1, 0)
        for j in order:
            start = clock()
            (first, second)[j]()
            times[j].append(1e3 * (clock() - start))
    return statistics.median(times[0]), statistics.median(times[1])


def measure(torch, model, size, variant, forward, backward, repeats, warmup) -> dict:
    T, N, D, H = size
    row = {"model": model, "variant": variant, "T": T, "N": N, "D": D, "H": H}
    p = Problem(model, T, N, D, H)
    side = TorchSide(torch, p)
    if model == "GRU":
        row["torch_note"] = GRU_NOTE
    # the forward alone (the backward may not exist yet)
    try:
        h, _ = p.numpy_forward(forward)
    except Exception as e:  # noqa: BLE001
        raise Skip(f"the numpy forward raised {type(e).__name__}: {e}") from None
    h_ref, grads_ref = oracle(torch, p, side)
    err = float(np.max(np.abs(h - h_ref)))
    if not err <= TOL:
        raise Skip(f"numpy and torch hidden states differ by {err:.1e} > {TOL:g}")
    np_f, t_f = interleaved_medians(lambda: p.numpy_forward(forward), side.forward,
                                    repeats, warmup)
    row.update(numpy_forward_ms=np_f, torch_forward_ms=t_f, forward_ratio=np_f / t_f)
    if isinstance(backward, Skip):
        row["skipped"] = f"backward: {backward}"
        return row
    try:
        h, _, grads = p.numpy_run(forward, backward)
    except Exception as e:  # noqa: BLE001
        row["skipped"] = f"the numpy backward raised {type(e).__name__}: {e}"
        return row
    err = max_error(h, grads, h_ref, grads_ref)
    row["max_error"] = err
    if not err <= TOL:
        row["skipped"] = f"numpy and torch gradients differ by {err:.1e} > {TOL:g}"
        return row
    np_fb, t_fb = interleaved_medians(lambda: p.numpy_run(forward, backward), side.run,
                                      repeats, warmup)
    row.update(numpy_ms=np_fb, torch_ms=t_fb, ratio=np_fb / t_fb)
    if size in TARGETED:
        row["meets_target"] = row["ratio"] <= TARGET
    return row


# -- the table -----------------------------------------------------------------------------

def cell(row, key, width):
    return format(format(row[key], ".2f") if key in row else "-", f">{width}")


def format_row(row) -> str:
    size = "T={T} N={N} D={D} H={H}".format(**row)
    text = (f"{row['model']:<5} {row['variant']:<22} {size:<26}"
            f"{cell(row, 'numpy_forward_ms', 9)}{cell(row, 'torch_forward_ms', 9)}"
            f"{cell(row, 'forward_ratio', 7)}  "
            f"{cell(row, 'numpy_ms', 9)}{cell(row, 'torch_ms', 9)}{cell(row, 'ratio', 7)}")
    if "meets_target" in row:
        text += "   met" if row["meets_target"] else "   MISSED"
    elif "ratio" in row:
        text += "   (not targeted)"
    if "skipped" in row:
        text += f"   skipped: {row['skipped']}"
    return text


HEADER = (f"{'model':<5} {'variant':<22} {'size':<26}{'fwd np':>9}{'fwd pt':>9}{'ratio':>7}  "
          f"{'f+b np':>9}{'f+b pt':>9}{'ratio':>7}   target <= {TARGET}x torch")


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def machine() -> dict:
    info = {"python": platform.python_version(), "numpy": np.__version__,
            "machine": platform.machine(), "processor": cpu_name(),
            "cpus": os.cpu_count(), **{v: os.environ.get(v) for v in THREAD_VARS[:3]}}
    if hasattr(os, "getloadavg"):
        info["load_average"] = round(os.getloadavg()[0], 2)
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        info["blas"] = f"{blas.get('name')} {blas.get('version')}"
    except Exception:  # noqa: BLE001
        pass
    return info


def profile(model: str, size, standin: bool) -> None:
    """Where the reference's time goes: cProfile of forward + backward (CPU time), by the
    time spent in each function itself."""
    import cProfile
    import pstats
    global _SIGMOID
    forward = reference_function(FUNCTIONS[model][0])
    _SIGMOID = forward.__globals__.get("sigmoid", _tanh_sigmoid)
    try:
        backward = reference_function(FUNCTIONS[model][1])
    except Skip:
        if not standin:
            raise
        backward = STANDINS[model]
        print(f"({FUNCTIONS[model][1]} is missing: profiling the bench's stand-in backward)")
    p = Problem(model, *size)
    p.numpy_run(forward, backward)  # warm-up
    prof = cProfile.Profile(time.process_time)
    prof.runcall(p.numpy_run, forward, backward)
    pstats.Stats(prof).sort_stats("tottime").print_stats(12)
    # cProfile does not see inside numpy: time the forward's parts one by one
    T, N, D, H = size
    K, S = GATES[model] * H, (GATES[model] - 1) * H  # S: columns that go through a sigmoid
    a = np.random.default_rng(1).normal(size=(N, K))

    def ms(f):
        f()
        times = []
        for _ in range(5):
            start = time.process_time()
            f()
            times.append(1e3 * (time.process_time() - start))
        return statistics.median(times)

    parts = {
        f"forward + backward ({FUNCTIONS[model][0]} + backward)":
            ms(lambda: p.numpy_run(forward, backward)),
        f"forward ({FUNCTIONS[model][0]})": ms(lambda: p.numpy_forward(forward)),
        "  T products x[:, t] @ Wx, one per step": ms(lambda: [p.x[:, t] @ p.Wx for t in range(T)]),
        "  the same as one (N*T, D) @ Wx product": ms(lambda: p.x.reshape(N * T, D) @ p.Wx),
        "  T products h @ Wh": ms(lambda: [p.h0 @ p.Wh for _ in range(T)]),
    }
    if S:
        parts[f"  T reference sigmoids on (N, {S // H}H)"] = ms(
            lambda: [sigmoid(a[:, :S]) for _ in range(T)])
        parts[f"  T sigmoids 0.5(1 + tanh(a/2)) on (N, {S // H}H)"] = ms(
            lambda: [_tanh_sigmoid(a[:, :S]) for _ in range(T)])
    print(f"{model} at T={T} N={N} D={D} H={H}, CPU ms (median of 5):")
    for name, value in parts.items():
        print(f"  {name:<52}{value:9.2f}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=9, help="timed runs per row (median)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the table here, as JSON")
    parser.add_argument("--quick", action="store_true",
                        help="one tiny size, 2 repeats: checks the script runs, times nothing useful")
    parser.add_argument("--models", default="RNN,LSTM,GRU")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="cpu",
                        help="cpu: process CPU time (default, robust to a busy machine); wall")
    parser.add_argument("--no-variants", action="store_true",
                        help="only the reference rows")
    parser.add_argument("--profile", metavar="MODEL",
                        help="instead of the table: cProfile the reference MODEL at --size")
    parser.add_argument("--size", default="100,64,128,256", help="T,N,D,H for --profile")
    args = parser.parse_args(argv)
    if args.profile:
        try:
            profile(args.profile, tuple(int(v) for v in args.size.split(",")), standin=True)
        except Skip as e:
            print(f"skipped: {e}")
        return 0
    try:
        import torch
    except ImportError:
        print("This comparison needs PyTorch (pip install torch, CPU build); it is not "
              "installed, so nothing was measured.")
        return 0
    torch.set_num_threads(1)
    sizes = QUICK_SIZES if args.quick else SIZES
    repeats, warmup = (2, 1) if args.quick else (args.repeats, args.warmup)
    global CLOCK, _SIGMOID
    CLOCK = args.clock
    info = machine()
    info["torch"] = torch.__version__
    info["torch_threads"] = torch.get_num_threads()
    print("numpy reference (solutions/) vs PyTorch, float64, one thread; "
          f"median of {repeats} after {warmup} warm-up; {CLOCK} time in ms")
    print(", ".join(f"{k} {v}" for k, v in info.items()))
    print(HEADER)
    rows = []
    for model in args.models.split(","):
        fwd_name, bwd_name = FUNCTIONS[model]
        try:
            forward = reference_function(fwd_name)
        except Skip as e:
            forward = e
        try:
            backward = reference_function(bwd_name)
        except Skip as e:
            backward = e
        if not isinstance(forward, Skip):
            _SIGMOID = forward.__globals__.get("sigmoid", _tanh_sigmoid)
        candidates = [("reference", forward, backward)]
        if isinstance(backward, Skip) and not isinstance(forward, Skip) and model in STANDINS:
            candidates.append(("ref fwd + stand-in bwd", forward, STANDINS[model]))
        if not args.no_variants:
            candidates += VARIANTS[model]
        for size in sizes:
            for variant, fwd, bwd in candidates:
                T, N, D, H = size
                base = {"model": model, "variant": variant, "T": T, "N": N, "D": D, "H": H}
                if isinstance(fwd, Skip):
                    row = {**base, "skipped": str(fwd)
                           + (f"; {bwd}" if isinstance(bwd, Skip) else "")}
                else:
                    try:
                        row = measure(torch, model, size, variant, fwd, bwd, repeats, warmup)
                    except Skip as e:
                        row = {**base, "skipped": str(e)}
                rows.append(row)
                print(format_row(row), flush=True)
    if "GRU" in args.models.split(","):
        print(f"\nGRU: {GRU_NOTE}.")
    print("fwd: numpy's forward as used in training (it keeps its cache), torch's under "
          "no_grad. f+b: forward, loss sum(h * G) and backward on both sides.")
    targeted = [r for r in rows if "meets_target" in r and r["variant"] == "reference"]
    if targeted:
        met = sum(r["meets_target"] for r in targeted)
        print(f"\nreference rows at the targeted sizes meeting <= {TARGET}x torch: "
              f"{met} of {len(targeted)} (a report, not a test: the exit status is 0 either way)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "description": "numpy reference vs PyTorch CPU, forward and forward+backward of "
                           "loss = sum(h * G), float64, one thread, median ms of the clock below",
            "target_ratio": TARGET, "targeted_sizes": [list(s) for s in TARGETED],
            "repeats": repeats, "warmup": warmup, "clock": CLOCK, "machine": info, "rows": rows}, indent=1))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
