"""Chapter 5's known mistakes (instructor only; see autograder/mistakes/__init__.py): the
cell gradient from the next step not added, tanh'(c) missing on the way from h to c, a
gradient of the candidate through the sigmoid, weight gradients not accumulated, dh0 or
dc0 dropped."""
from __future__ import annotations

import numpy as np

from autograder.mistakes import rnn_review


def _step_inputs(i):
    return [i[k] for k in ("x", "h_prev", "c_prev", "Wx", "Wh", "b")]


def _lstm_step_back(cache, dh_next, dc_next, bug=""):
    """The LSTM step backward with a switchable mistake, from the reference's cache
    (x, h_prev, c_prev, Wx, Wh, i, f, g, o, c_next)."""
    x, h_prev, c_prev, Wx, Wh, i, f, g, o, c = cache
    tc = np.tanh(c)
    slope = {"no tanh'": 1.0, "1-c^2": 1.0 - c**2}.get(bug, 1.0 - tc**2)   # tanh' on h -> c
    dc = dh_next * o * slope + (0.0 if bug == "no dc_next" else dc_next)   # (N, H)
    d_i = dc * g * i * (1 - i)
    d_f = dc * (c if bug == "f uses c_next" else c_prev) * f * (1 - f)
    d_g = dc * i * (g * (1 - g) if bug == "candidate sigmoid'" else 1 - g**2)
    d_o = dh_next * (c if bug == "o uses c_next" else tc) * o * (1 - o)
    blocks = [d_i, d_f, d_o, d_g] if bug == "ifog" else [d_i, d_f, d_g, d_o]
    da = np.concatenate(blocks, axis=1)                                     # (N, 4H)
    dc_prev = dc if bug == "no f on the belt" else dc * f
    return {"dx": da @ Wx.T, "dh_prev": da @ Wh.T, "dc_prev": dc_prev, "dWx": x.T @ da,
            "dWh": h_prev.T @ da, "db": da.sum(axis=0)}


def _step_mistake(bug):
    def wrong(ref, i):
        _, _, cache = ref.call("lstm_step_forward", *_step_inputs(i))
        return _lstm_step_back(cache, i["dh_next"], i["dc_next"], bug)
    return wrong


LSTM_STEP_MISTAKES = {
    "dc_next is not added: the cell-state gradient from the next step is dropped "
    "(dc = dc_next + dh_next * o * (1 - tanh(c_next)**2))": _step_mistake("no dc_next"),
    "tanh'(c) is missing on the path from h_next to c_next (dc = dc_next + dh_next * o)":
        _step_mistake("no tanh'"),
    "the derivative of tanh(c_next) is written 1 - c_next**2; it is 1 - tanh(c_next)**2":
        _step_mistake("1-c^2"),
    "the candidate's gradient goes through the sigmoid's derivative g*(1-g); g is a tanh, "
    "so its derivative is 1 - g**2": _step_mistake("candidate sigmoid'"),
    "dc_prev is not multiplied by the forget gate; along the belt dc_prev = dc * f":
        _step_mistake("no f on the belt"),
    "the output gate's gradient uses c_next where tanh(c_next) belongs": _step_mistake("o uses c_next"),
    "the forget gate's gradient uses c_next where c_prev belongs (df = dc * c_prev)":
        _step_mistake("f uses c_next"),
    "the gate gradients are put together in the order i, f, o, g (CS231n's); this book's "
    "blocks are i, f, g, o": _step_mistake("ifog"),
}


def _lstm_through_time(ref, i, carry_h=True, carry_c=True, **options):
    """BPTT with a switchable mistake, using the reference's step functions."""
    carry = ("h0",) * carry_h + ("c0",) * carry_c
    return rnn_review.steps_back(ref, i, "lstm", ("h0", "c0"), carry, **options)


def _only(keys, **options):
    return lambda ref, i: {k: v for k, v in _lstm_through_time(ref, i, **options).items()
                           if k in keys}


def _lstm_swapped_initial(ref, i):
    out = _lstm_through_time(ref, i)
    return {"dh0": out["dc0"], "dc0": out["dh0"]}


LSTM_MISTAKES = {
    # (dc0 or dh0 left out of the comparison: a student who zeroes the carry may return
    # zeros or the last step's value there, and both are this mistake)
    "dc is not carried: each step gets dc_next = 0 instead of the dc_prev of the step after it":
        _only(("dx", "dh0", "dWx", "dWh", "db"), carry_c=False),
    "the gradient carried from step t+1 is not added to dh[:, t]":
        _only(("dx", "dc0", "dWx", "dWh", "db"), carry_h=False),
    "dWx, dWh, db are not accumulated over time (only one step's gradient is kept)":
        _only(("dWx", "dWh", "db"), accumulate=False),
    "only dh[:, T-1] is used (the loss reaches every hidden state, not only the last)":
        lambda ref, i: _lstm_through_time(ref, i, direct="last"),
    "dc0 is dropped (returned as zeros): return the cell gradient carried out of step 0":
        lambda ref, i: {"dc0": np.zeros_like(i["c0"])},
    "dh0 is dropped (returned as zeros): return the hidden gradient carried out of step 0":
        lambda ref, i: {"dh0": np.zeros_like(i["h0"])},
    "dh0 and dc0 are returned in the wrong order": _lstm_swapped_initial,
}

def _gru_step_back(cache, dh_next, bug=""):
    """The GRU step backward with a switchable mistake, from the reference's cache
    (x, h_prev, Wx, Wh, r, z, n)."""
    x, h, Wx, Wh, r, z, n = cache
    H = h.shape[1]
    d_n = dh_next * z * (n * (1 - n) if bug == "candidate sigmoid'" else 1 - n**2)
    d_z = dh_next * ((h - n) if bug == "torch z" else (n - h)) * z * (1 - z)
    dq = d_n @ Wh[:, 2 * H:].T
    d_r = dq * (1.0 if bug == "no h_prev in dr" else h) * r * (1 - r)
    da = np.concatenate([d_r, d_z, d_n], axis=1)                            # (N, 3H)
    straight = 0.0 if bug == "no straight path" else dh_next * (1 - z)
    through_q = 0.0 if bug == "no dq*r" else dq * r
    dh_prev = straight + through_q + da[:, :2 * H] @ Wh[:, :2 * H].T
    q = h if bug == "dWh_n uses h_prev" else r * h
    dWh = np.concatenate([h.T @ da[:, :2 * H], q.T @ d_n], axis=1)
    return {"dx": da @ Wx.T, "dh_prev": dh_prev, "dWx": x.T @ da, "dWh": dWh, "db": da.sum(axis=0)}


def _gru_step_mistake(bug):
    def wrong(ref, i):
        _, cache = ref.call("gru_step_forward", i["x"], i["h_prev"], i["Wx"], i["Wh"], i["b"])
        return _gru_step_back(cache, i["dh_next"], bug)
    return wrong


GRU_STEP_MISTAKES = {
    "dz has the wrong sign: with this book's z, h_next = (1-z)*h_prev + z*n, so "
    "dz = dh_next * (n - h_prev); (h_prev - n) is PyTorch's convention": _gru_step_mistake("torch z"),
    "the straight path is missing: dh_prev gets dh_next * (1 - z) directly":
        _gru_step_mistake("no straight path"),
    "the path through the reset product is missing from dh_prev (dq * r, where dq = da_n Wh_n^T)":
        _gru_step_mistake("no dq*r"),
    "dWh's candidate block uses h_prev; the candidate's hidden weights multiplied r * h_prev":
        _gru_step_mistake("dWh_n uses h_prev"),
    "the reset gate's gradient is missing h_prev (da_r = dq * h_prev * r * (1 - r))":
        _gru_step_mistake("no h_prev in dr"),
    "the candidate's gradient goes through the sigmoid's derivative n*(1-n); n is a tanh, "
    "so its derivative is 1 - n**2": _gru_step_mistake("candidate sigmoid'"),
}


def _gru_through_time(ref, i, carry=True, **options):
    return rnn_review.steps_back(ref, i, "gru", carry=("h0",) if carry else (), **options)


def _gru_only(keys, **options):
    return lambda ref, i: {k: v for k, v in _gru_through_time(ref, i, **options).items() if k in keys}


GRU_MISTAKES = {
    "the gradient carried from step t+1 is not added to dh[:, t]":
        _gru_only(("dx", "dWx", "dWh", "db"), carry=False),
    "dWx, dWh, db are not accumulated over time (only one step's gradient is kept)":
        _gru_only(("dWx", "dWh", "db"), accumulate=False),
    "only dh[:, T-1] is used (the loss reaches every hidden state, not only the last)":
        lambda ref, i: _gru_through_time(ref, i, direct="last"),
    "dh0 is dropped (returned as zeros): return the gradient carried out of step 0":
        lambda ref, i: {"dh0": np.zeros_like(i["h0"])},
}


MISTAKES = {
    "lstm_step_backward": LSTM_STEP_MISTAKES,
    "lstm_backward": LSTM_MISTAKES,
    "gru_step_backward": GRU_STEP_MISTAKES,
    "gru_backward": GRU_MISTAKES,
}
