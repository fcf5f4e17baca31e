"""Chapter 1's known mistakes (instructor only; see autograder/mistakes/__init__.py).

fn(ref, inputs) -> outputs by name; `ref.call` runs a reference function.
"""
from __future__ import annotations

import numpy as np


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


# -- known mistakes: fn(ref, inputs) -> outputs; `ref.call` runs a reference function ----

def _step_outputs(ref, inp, **change):
    args = {**{k: inp[k] for k in ("x", "h_prev", "Wx", "Wh", "b")}, **change}
    h_next, _ = ref.call("rnn_step_forward", *args.values())
    return {"h_next": h_next}


def _pre_activation(inp):
    return inp["x"] @ inp["Wx"] + inp["h_prev"] @ inp["Wh"] + inp["b"]  # (N, H)


STEP_FORWARD_MISTAKES = {
    "the bias b is missing": lambda ref, i: _step_outputs(ref, i, b=0 * i["b"]),
    "h_prev @ Wh is missing (the previous state is ignored)":
        lambda ref, i: _step_outputs(ref, i, h_prev=0 * i["h_prev"]),
    "sigmoid used instead of tanh": lambda ref, i: {"h_next": _sigmoid(_pre_activation(i))},
    "tanh is missing (the pre-activation is returned)":
        lambda ref, i: {"h_next": _pre_activation(i)},
}


def _seq(inp):
    return [inp[k] for k in ("x", "h0", "Wx", "Wh", "b")]


def _every_step_from_h0(ref, inp):
    x, h0, Wx, Wh, b = _seq(inp)
    steps = [ref.call("rnn_step_forward", x[:, t], h0, Wx, Wh, b)[0] for t in range(x.shape[1])]
    return {"h": np.stack(steps, axis=1)}


def _shifted_by_one(ref, inp):
    h, _ = ref.call("rnn_forward", *_seq(inp))
    return {"h": np.concatenate([inp["h0"][:, None], h[:, :-1]], axis=1)}


FORWARD_MISTAKES = {
    "every step starts from h0 instead of the previous step's state": _every_step_from_h0,
    "off by one: h[:, t] holds the state before step t, not after it": _shifted_by_one,
    "the bias b is missing": lambda ref, i: {"h": ref.call("rnn_forward", *_seq(i)[:4], 0 * i["b"])[0]},
}


def _step_backward_with(inp, da):
    return {"dx": da @ inp["Wx"].T, "dh_prev": da @ inp["Wh"].T, "dWx": inp["x"].T @ da,
            "dWh": inp["h_prev"].T @ da, "db": da.sum(axis=0)}


STEP_BACKWARD_MISTAKES = {
    "the tanh derivative is missing (da = dh_next)":
        lambda ref, i: _step_backward_with(i, i["dh_next"]),
    "the tanh derivative uses h_prev instead of h_next (1 - h_prev**2)":
        lambda ref, i: _step_backward_with(i, i["dh_next"] * (1 - i["h_prev"] ** 2)),
    "the tanh derivative is written as 1 - tanh(h_next)**2":
        lambda ref, i: _step_backward_with(
            i, i["dh_next"] * (1 - np.tanh(np.tanh(_pre_activation(i))) ** 2)),
}


def steps_back(ref, inp, model: str, states: tuple[str, ...] = ("h0",),
               carry: tuple[str, ...] | None = None, accumulate: bool = True,
               direct: str = "all"):
    """BPTT with a switchable bug, for the RNN (and, in chapter 5, the GRU and the LSTM):
    runs the reference `<model>_forward`, then `<model>_step_backward` from the last step
    to the first. `states` are the initial states the network carries (("h0", "c0") for
    the LSTM); dh reaches the first of them at every step.
    - carry: the states whose gradient is carried from step t+1 to step t (default: all)
    - accumulate=False: dWx, dWh, db keep only one step's gradient
    - direct="last": only dh[:, T-1] is used"""
    carry = states if carry is None else carry
    Wx, Wh, b = inp["Wx"], inp["Wh"], inp["b"]
    *_, caches = ref.call(f"{model}_forward", inp["x"], *(inp[s] for s in states), Wx, Wh, b)
    dh = inp["dh"]
    T = dh.shape[1]
    dx = np.zeros_like(inp["x"])
    grads = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]
    carried = [np.zeros_like(inp[s]) for s in states]
    for t in reversed(range(T)):
        upstream = dh[:, t] if (direct == "all" or t == T - 1) else 0 * dh[:, t]
        dx[:, t], *back = ref.call(f"{model}_step_backward", upstream + carried[0], *carried[1:],
                                   caches[t])
        d_states, step = back[:len(states)], back[len(states):]
        carried = [d if s in carry else 0 * d for s, d in zip(states, d_states)]
        grads = [g + s for g, s in zip(grads, step)] if accumulate else step
    return {"dx": dx, **{f"d{s}": d for s, d in zip(states, d_states)},
            "dWx": grads[0], "dWh": grads[1], "db": grads[2]}


def _steps_back(ref, inp, carry: bool, accumulate: bool, direct: str = "all"):
    return steps_back(ref, inp, "rnn", carry=("h0",) if carry else (), accumulate=accumulate,
                      direct=direct)


BACKWARD_MISTAKES = {
    "the gradient carried from step t+1 is not added to dh[:, t]":
        lambda ref, i: _steps_back(ref, i, carry=False, accumulate=True),
    "dWx, dWh, db are not accumulated over time (only one step's gradient is kept)":
        lambda ref, i: {k: v for k, v in _steps_back(ref, i, carry=True, accumulate=False).items()
                        if k in ("dWx", "dWh", "db")},
    "only dh[:, T-1] is used (the loss reaches every hidden state, not only the last)":
        lambda ref, i: _steps_back(ref, i, carry=True, accumulate=True, direct="last"),
    "dh0 is not returned (it is zeros)": lambda ref, i: {"dh0": np.zeros_like(i["h0"])},
}


MISTAKES = {
    "rnn_step_forward": STEP_FORWARD_MISTAKES,
    "rnn_forward": FORWARD_MISTAKES,
    "rnn_step_backward": STEP_BACKWARD_MISTAKES,
    "rnn_backward": BACKWARD_MISTAKES,
}
