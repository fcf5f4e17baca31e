"""Chapter 6, the capstone: the training-step glue of each network, graded with values and
finite differences of the loss. References: solutions/06_capstone.ipynb.

Each `<kind>_loss_and_grads(params, x, y)` returns (loss, grads) with grads a dict keyed like
params. The grader passes params as a dict built from the flat inputs below and compares the
loss and the five gradients. The training itself is not graded (too slow for a class). Ships in the student package: the
known mistakes (the reference glue with one thing changed) are in autograder/mistakes/capstone.py.
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


def _exercise(kind, number):
    name = f"{kind}_loss_and_grads"
    return Exercise(
        name=name, number=number, args=ARGS, returns=("loss", "dWx", "dWh", "db", "dW_out", "db_out"),
        axes={"loss": "", "dWx": "DK", "dWh": "HK", "db": "K", "dW_out": "HO", "db_out": "O"},
        points=POINTS, inputs_fn=_inputs, call_fn=_call(name), loss_output="loss",
        grad_of=dict(GRADS),
        hidden_dims=(dims(kind, 3, 4, 2, 3), dims(kind, 4, 5, 3, 2), dims(kind, 2, 6, 1, 4)),
        edge_dims=(dims(kind, 1, 1, 1, 1), dims(kind, 1, 3, 2, 1), dims(kind, 2, 1, 2, 3)),
        public_dims=(dims(kind, 3, 4, 2, 3), dims(kind, 1, 1, 1, 1)),
        grad_dims=dims(kind, 2, 3, 2, 2),
        needs=CORE[kind])


rnn_loss_and_grads = _exercise("rnn", "6.1")
lstm_loss_and_grads = _exercise("lstm", "6.2")
gru_loss_and_grads = _exercise("gru", "6.3")

EXERCISES = (rnn_loss_and_grads, lstm_loss_and_grads, gru_loss_and_grads)
