"""Chapter 6's known mistakes (instructor only; see autograder/mistakes/__init__.py)."""
from __future__ import annotations

import numpy as np

from autograder.exercises.capstone import CORE


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


def _hints(kind):
    def mistake(**change):
        def wrong(ref, i):
            N = i["x"].shape[0]
            fixed = {k: (N if v == "N" else v) for k, v in change.items()}
            return _glue(ref, kind, i, **fixed)
        return wrong

    return {
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


MISTAKES = {f"{kind}_loss_and_grads": _hints(kind) for kind in CORE}
