"""Chapter 6, the capstone: the training-step glue of each network, graded with values and
finite differences of the loss. References: solutions/06_capstone.ipynb.

Each `<kind>_loss_and_grads(params, x, y)` returns (loss, grads) with grads a dict keyed like
params. The grader passes params as a dict built from the flat inputs below and compares the
loss and the five gradients. The training itself is not graded (too slow for a class).
"""
from __future__ import annotations

import numpy as np

from autograder.exercise import Arg, Exercise, WrongReturn, fan_in, unpack

NOTEBOOK = "06_capstone.ipynb"
TITLE = "Remembering across time"

POINTS = {"values": 5, "edges": 2, "gradcheck": 2, "no_modify": 1}
PARAMS = ("Wx", "Wh", "b", "W_out", "b_out")
GRADS = {"dWx": "Wx", "dWh": "Wh", "db": "b", "dW_out": "W_out", "db_out": "b_out"}
CORE = {"rnn": ("rnn_forward", "rnn_backward"), "lstm": ("lstm_forward", "lstm_backward"),
        "gru": ("gru_forward", "gru_backward")}
BLOCKS = {"rnn": 1, "lstm": 4, "gru": 3}

ARGS = (Arg("x", "NTD"), Arg("y", "NO", lambda d: 2.0), Arg("Wx", "DK", fan_in("D")),
        Arg("Wh", "HK", fan_in("H")), Arg("b", "K", lambda d: 0.5),
        Arg("W_out", "HO", fan_in("H")), Arg("b_out", "O", lambda d: 0.5))


def dims(kind, N, T, D, H):
    return {"N": N, "T": T, "D": D, "H": H, "K": BLOCKS[kind] * H, "O": 1}


def _inputs(dims_, seed):
    rng = np.random.default_rng(seed)
    inputs = {a.name: rng.normal(size=a.shape(dims_)) * a.scale(dims_) for a in ARGS}
    inputs["y"] = inputs["y"] + 1.0   # targets around 1, as in the adding problem
    return inputs


def _call_args(inputs):
    return {k: inputs[k] for k in PARAMS}, inputs["x"], inputs["y"]


def _call(name):
    def call(student, inputs):
        value, after = student.call(name, *_call_args(inputs), return_args=True)
        loss, grads = unpack(value, ("loss", "grads"), name).values()
        if not isinstance(grads, dict):
            raise WrongReturn(f"{name} should return (loss, grads) with grads a dict keyed like "
                              f"params ({', '.join(PARAMS)}); its second value is a "
                              f"{getattr(grads, 'type_name', type(grads).__name__)}")
        missing = [k for k in PARAMS if k not in grads]
        if missing:
            raise WrongReturn(f"the grads dict of {name} has no key {', '.join(map(repr, missing))}; "
                              f"it needs one gradient per parameter: {', '.join(PARAMS)}")
        outputs = {"loss": loss, **{g: grads[p] for g, p in GRADS.items()}}
        args_after = {}
        if after is not None:
            p_after, x_after, y_after = after
            args_after = {k: p_after.get(k) if isinstance(p_after, dict) else None for k in PARAMS}
            args_after.update(x=x_after, y=y_after)
        return outputs, args_after
    return call


# -- known mistakes: the reference glue with one thing changed --------------------------

def _glue(ref, kind, i, read=-1, spread=False, loss_scale=1.0, dpred_scale=1.0, sign=1.0,
          clip=None):
    fwd, bwd = CORE[kind]
    x, y = i["x"], i["y"]
    N, H = x.shape[0], i["Wh"].shape[0]
    zero = np.zeros((N, H))
    states = (x, zero, zero) if kind == "lstm" else (x, zero)
    out = ref.call(fwd, *states, i["Wx"], i["Wh"], i["b"])
    h, cache = out[0], out[-1]
    pred = h[:, read] @ i["W_out"] + i["b_out"]                 # (N, 1)
    err = pred - y
    loss = float(np.mean(err**2)) * loss_scale
    dpred = sign * 2.0 * err / N * dpred_scale                  # (N, 1)
    dh_last = dpred @ i["W_out"].T                              # (N, H)
    dh = np.zeros_like(h)
    if spread:
        dh[:] = dh_last[:, None, :]
    else:
        dh[:, read] = dh_last
    back = ref.call(bwd, dh, cache)
    grads = {"dWx": back[-3], "dWh": back[-2], "db": back[-1],
             "dW_out": h[:, read].T @ dpred, "db_out": dpred.sum(axis=0)}
    if clip is not None:
        norm = np.sqrt(sum(np.sum(g**2) for g in grads.values()))
        grads = {k: g * min(1.0, clip / norm) for k, g in grads.items()}
    return {"loss": loss, **grads}


def _exercise(kind, number):
    name = f"{kind}_loss_and_grads"

    def mistake(**change):
        def wrong(ref, i):
            N = i["x"].shape[0]
            fixed = {k: (N if v == "N" else v) for k, v in change.items()}
            return _glue(ref, kind, i, **fixed)
        return wrong

    hints = {
        "the loss is summed over the batch instead of averaged (divide by N)":
            mistake(loss_scale="N", dpred_scale="N"),
        "the loss is averaged but its gradient is not: dpred = 2 (pred - y) / N":
            mistake(dpred_scale="N"),
        "the factor 2 of the square is missing from dpred = 2 (pred - y) / N":
            mistake(dpred_scale=0.5),
        "the gradient has the wrong sign: dpred is 2 (pred - y) / N, not 2 (y - pred) / N":
            mistake(sign=-1.0),
        "the head's gradient is put at every step; the loss reads only the last state, so "
        "dh is zero except dh[:, -1]": mistake(spread=True),
        "the head reads h[:, 0], the state after the first step; it should read the last, h[:, -1]":
            mistake(read=0),
        "the gradients are clipped inside the function; clipping belongs to the training loop, "
        "after the full gradient is known": mistake(clip=1.0),
    }
    return Exercise(
        name=name, number=number, args=ARGS, returns=("loss", "dWx", "dWh", "db", "dW_out", "db_out"),
        axes={"loss": "", "dWx": "DK", "dWh": "HK", "db": "K", "dW_out": "HO", "db_out": "O"},
        points=POINTS, inputs_fn=_inputs, call_fn=_call(name), loss_output="loss",
        grad_of=dict(GRADS),
        hidden_dims=(dims(kind, 3, 4, 2, 3), dims(kind, 4, 5, 3, 2), dims(kind, 2, 6, 1, 4)),
        edge_dims=(dims(kind, 1, 1, 1, 1), dims(kind, 1, 3, 2, 1), dims(kind, 2, 1, 2, 3)),
        public_dims=(dims(kind, 3, 4, 2, 3), dims(kind, 1, 1, 1, 1)),
        grad_dims=dims(kind, 2, 3, 2, 2),
        needs=CORE[kind], mistakes=hints, blocks={"rnn": (), "lstm": ("i", "f", "g", "o"),
                                                  "gru": ("r", "z", "n")}[kind])


rnn_loss_and_grads = _exercise("rnn", "6.1")
lstm_loss_and_grads = _exercise("lstm", "6.2")
gru_loss_and_grads = _exercise("gru", "6.3")

EXERCISES = (rnn_loss_and_grads, lstm_loss_and_grads, gru_loss_and_grads)
