"""Chapter 3's known mistakes (instructor only; see autograder/mistakes/__init__.py).

An LSTM has many ways to be almost right (gate blocks in another order, tanh missing on
c, the input gate left out...), and the feedback names the one whose outputs the
student's match.
"""
from __future__ import annotations

from itertools import permutations

import numpy as np

from autograder.exercises.gates import ORDER, _call_cell

NAMED_ORDERS = {"ifog": " (CS231n's order)"}


def _sigmoid(a):
    return 0.5 * (1.0 + np.tanh(0.5 * a))   # an exact identity, never overflows


SIGMOID_MISTAKES = {
    "tanh instead of the logistic sigmoid": lambda ref, i: {"s": np.tanh(i["x"])},
    "1 / (1 + exp(x)): the sign in the exponent is flipped": lambda ref, i: {"s": _sigmoid(-i["x"])},
}


def _pre(i, s, bias=True, recurrent=True):
    a = i["x"] @ i[f"Wx_{s}"]                          # (N, H)
    if recurrent:
        a = a + i["h_prev"] @ i[f"Wh_{s}"]
    return a + i[f"b_{s}"] if bias else a


def _gate(s, act, wrong_act, wrong_name):
    out = s   # the gate's own letter names its output
    mistakes = {
        wrong_name: lambda ref, i: {out: wrong_act(_pre(i, s))},
        "the bias is left out": lambda ref, i: {out: act(_pre(i, s, bias=False))},
        "h_prev @ Wh is missing (the gate ignores the previous state)":
            lambda ref, i: {out: act(_pre(i, s, recurrent=False))},
    }
    return mistakes


GATE_MISTAKES = {
    "output_gate": _gate("o", _sigmoid, np.tanh, "tanh used for a gate (gates use sigmoid)"),
    "forget_gate": _gate("f", _sigmoid, np.tanh, "tanh used for a gate (gates use sigmoid)"),
    "input_gate": _gate("i", _sigmoid, np.tanh, "tanh used for a gate (gates use sigmoid)"),
    "candidate": _gate("g", np.tanh, _sigmoid, "sigmoid used for the candidate (it uses tanh: values in (-1, 1))"),
}


def _reorder(W, order: str):
    """The weights a student reading the blocks in `order` effectively uses."""
    H = W.shape[-1] // 4
    blocks = [W[..., k * H:(k + 1) * H] for k in range(4)]
    return np.concatenate([blocks[order.index(gate)] for gate in ORDER], axis=-1)


def _order_name(order: str) -> str:
    return (f"the gate blocks are read in the order {', '.join(order)}{NAMED_ORDERS.get(order, '')}; "
            f"this book's fused weights are in the order i, f, g, o")


def _step(i, h_rule="o*tanh(c)", c_rule="f*c+i*g", acts="ssts", bias=True):
    """An LSTM step with a switchable mistake (acts: i, f, g, o; s = sigmoid, t = tanh)."""
    act = {"s": _sigmoid, "t": np.tanh}
    a = i["x"] @ i["Wx"] + i["h_prev"] @ i["Wh"] + (i["b"] if bias else 0)   # (N, 4H)
    H = a.shape[1] // 4
    ig, fg, g, og = (act[acts[k]](a[:, k * H:(k + 1) * H]) for k in range(4))
    c_prev = i["c_prev"]
    c = {"f*c+i*g": fg * c_prev + ig * g, "i*c+f*g": ig * c_prev + fg * g,
         "f*c+g": fg * c_prev + g}[c_rule]
    h = {"o*tanh(c)": og * np.tanh(c), "o*c": og * c, "o*tanh(c_prev)": og * np.tanh(c_prev)}[h_rule]
    return {"h_next": h, "c_next": c}


def _step_with_order(order):
    return lambda ref, i: dict(zip(("h_next", "c_next"), ref.call(
        "lstm_step_forward", i["x"], i["h_prev"], i["c_prev"],
        _reorder(i["Wx"], order), _reorder(i["Wh"], order), _reorder(i["b"], order))[:2]))


def _swapped(out):
    return {"h_next": out["c_next"], "c_next": out["h_next"]}


ORDER_MISTAKES = {_order_name("".join(p)): "".join(p) for p in permutations(ORDER) if "".join(p) != ORDER}

STEP_MISTAKES = {
    **{hint: _step_with_order(order) for hint, order in ORDER_MISTAKES.items()},
    "tanh is missing on the cell state in h (h = o * c)": lambda ref, i: _step(i, h_rule="o*c"),
    "c_prev is used where c_next belongs (h = o * tanh(c_prev))":
        lambda ref, i: _step(i, h_rule="o*tanh(c_prev)"),
    "sigmoid used for the candidate g (it uses tanh)": lambda ref, i: _step(i, acts="ssss"),
    "tanh used for the input gate i (gates use sigmoid)": lambda ref, i: _step(i, acts="tsts"),
    "tanh used for the forget gate f (gates use sigmoid)": lambda ref, i: _step(i, acts="stts"),
    "tanh used for the output gate o (gates use sigmoid)": lambda ref, i: _step(i, acts="sstt"),
    "the forget gate is applied to the candidate instead of c_prev (c = i*c_prev + f*g)":
        lambda ref, i: _step(i, c_rule="i*c+f*g"),
    "the input gate is left out (c = f*c_prev + g)": lambda ref, i: _step(i, c_rule="f*c+g"),
    "the bias is left out": lambda ref, i: _step(i, bias=False),
    "the states are returned in the wrong order (c_next before h_next)":
        lambda ref, i: _swapped(_step(i)),
}


def _seq(i, **change):
    args = {k: i[k] for k in ("x", "h0", "c0", "Wx", "Wh", "b")}
    args.update(change)
    return list(args.values())


def _layer_with_order(order):
    return lambda ref, i: dict(zip(("h", "c"), ref.call("lstm_forward", *_seq(
        i, Wx=_reorder(i["Wx"], order), Wh=_reorder(i["Wh"], order), b=_reorder(i["b"], order)))[:2]))


def _c_from_c0_every_step(ref, i):
    hs, cs, h = [], [], i["h0"]
    for t in range(i["x"].shape[1]):
        h, c, _ = ref.call("lstm_step_forward", i["x"][:, t], h, i["c0"], i["Wx"], i["Wh"], i["b"])
        hs.append(h)
        cs.append(c)
    return {"h": np.stack(hs, axis=1), "c": np.stack(cs, axis=1)}


def _layer_swapped(ref, i):
    h, c, _ = ref.call("lstm_forward", *_seq(i))
    return {"h": c, "c": h}


LAYER_MISTAKES = {
    **{hint: _layer_with_order(order) for hint, order in ORDER_MISTAKES.items()},
    "c is not carried: every step starts from c0": _c_from_c0_every_step,
    "h and c are returned in the wrong order": _layer_swapped,
    "the bias is left out": lambda ref, i: dict(zip(("h", "c"), ref.call(
        "lstm_forward", *_seq(i, b=0 * i["b"]))[:2])),
}

CELL_MISTAKES = {
    "the new states are [c_next, h_next]; the contract is [h_next, c_next]":
        lambda ref, i: (lambda o: {"state h": o["c_next"], "c_next": o["state h"]})(_call_cell(ref, i)[0]),
}


def _from_torch(i, b):
    return {"Wx": i["weight_ih"].T, "Wh": i["weight_hh"].T, "b": b}


TORCH_MISTAKES = {
    "only bias_ih is used (PyTorch adds bias_ih and bias_hh)": lambda ref, i: _from_torch(i, i["bias_ih"]),
    "only bias_hh is used (PyTorch adds bias_ih and bias_hh)": lambda ref, i: _from_torch(i, i["bias_hh"]),
    "the weights are reshaped instead of transposed (reshape keeps the memory order; use .T)":
        lambda ref, i: {"Wx": i["weight_ih"].reshape(i["weight_ih"].shape[::-1]),
                        "Wh": i["weight_hh"].reshape(i["weight_hh"].shape[::-1])},
}


MISTAKES = {
    "sigmoid": SIGMOID_MISTAKES,
    **GATE_MISTAKES,
    "lstm_step_forward": STEP_MISTAKES,
    "lstm_forward": LAYER_MISTAKES,
    "LSTMCell": CELL_MISTAKES,
    "lstm_weights_from_torch": TORCH_MISTAKES,
}
