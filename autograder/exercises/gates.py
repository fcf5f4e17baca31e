"""Chapter 3, the gates: sigmoid, one function per gate, the fused LSTM step and layer,
LSTMCell.__call__, and PyTorch's weight layout. References: solutions/03_gates.ipynb.

The mistake catalogue is the point of this file: an LSTM has many ways to be almost
right (gate blocks in another order, tanh missing on c, the input gate left out...),
and the feedback names the one whose outputs the student's match.
"""
from __future__ import annotations

from itertools import permutations

import numpy as np

from autograder.exercise import Arg, Exercise, WrongReturn, fan_in, unpack

NOTEBOOK = "03_gates.ipynb"
TITLE = "The gates"

POINTS = {"values": 6, "edges": 2, "no_modify": 2}
ORDER = "ifgo"                       # this book's fused order, as PyTorch and Keras
NAMED_ORDERS = {"ifog": " (CS231n's order)"}


def dims(N, D, H, T=None, **flags):
    d = {"N": N, "D": D, "H": H, "G": 4 * H, **flags}
    return d if T is None else {**d, "T": T}


STEP_DIMS = (dims(3, 5, 4), dims(4, 2, 6), dims(2, 7, 3))
STEP_EDGES = (dims(1, 1, 1), dims(1, 4, 2), dims(3, 1, 1))
SEQ_DIMS = (dims(3, 5, 4, T=4), dims(2, 3, 5, T=6), dims(4, 2, 3, T=3))
SEQ_EDGES = (dims(1, 1, 1, T=1), dims(2, 3, 4, T=1), dims(1, 2, 1, T=5))


def _sigmoid(a):
    return 0.5 * (1.0 + np.tanh(0.5 * a))   # an exact identity, never overflows


# -- 3.1 sigmoid ---------------------------------------------------------------------------

def _sigmoid_inputs(d, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(d["N"], d["H"])) * 4.0
    if d.get("big"):  # the values that break a naive exp: 0 exactly, and |x| up to 1e4
        x = x * 2500.0
        x.flat[0] = 0.0
        x.flat[-1] = -1e4
        if x.size > 2:
            x.flat[1] = 1e4
    return {"x": x}


STRICT = '''
def _grader_strict(fn_name, *args):
    """Call with overflow and invalid operations as errors (underflow to 0 is fine)."""
    import warnings
    import numpy
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with numpy.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
            return globals()[fn_name](*args)
'''


def _call_strict(student, inp):
    student.define(STRICT, names=("_grader_strict",))
    value, after = student.call("_grader_strict", "sigmoid", inp["x"], return_args=True)
    return unpack(value, ("s",), "sigmoid"), {"x": after[1]}


SIGMOID_MISTAKES = {
    "tanh instead of the logistic sigmoid": lambda ref, i: {"s": np.tanh(i["x"])},
    "1 / (1 + exp(x)): the sign in the exponent is flipped": lambda ref, i: {"s": _sigmoid(-i["x"])},
}

sigmoid = Exercise(
    name="sigmoid", number="3.1", args=(Arg("x", "NH"),), returns=("s",), axes={"s": "NH"},
    points=POINTS, tol=1e-12, inputs_fn=_sigmoid_inputs, call_fn=_call_strict,
    hidden_dims=({"N": 3, "H": 4}, {"N": 5, "H": 2}), public_dims=({"N": 3, "H": 4}, {"N": 3, "H": 5, "big": 1}),
    edge_dims=({"N": 1, "H": 1}, {"N": 3, "H": 5, "big": 1}, {"N": 2, "H": 4, "big": 1}),
    mistakes=SIGMOID_MISTAKES)


# -- 3.2-3.5 one gate at a time ---------------------------------------------------------------

def _gate_args(s):
    return (Arg("x", "ND"), Arg("h_prev", "NH", lambda d: 0.5), Arg(f"Wx_{s}", "DH", fan_in("D")),
            Arg(f"Wh_{s}", "HH", fan_in("H")), Arg(f"b_{s}", "H", lambda d: 0.5))


def _pre(i, s, bias=True, recurrent=True):
    a = i["x"] @ i[f"Wx_{s}"]                          # (N, H)
    if recurrent:
        a = a + i["h_prev"] @ i[f"Wh_{s}"]
    return a + i[f"b_{s}"] if bias else a


def _gate(name, number, s, act, wrong_act, wrong_name):
    out = s   # the gate's own letter names its output
    mistakes = {
        wrong_name: lambda ref, i: {out: wrong_act(_pre(i, s))},
        "the bias is left out": lambda ref, i: {out: act(_pre(i, s, bias=False))},
        "h_prev @ Wh is missing (the gate ignores the previous state)":
            lambda ref, i: {out: act(_pre(i, s, recurrent=False))},
    }
    return Exercise(name=name, number=number, args=_gate_args(s), returns=(out,), axes={out: "NH"},
                    points=POINTS, hidden_dims=STEP_DIMS, edge_dims=STEP_EDGES,
                    public_dims=(STEP_DIMS[0], STEP_EDGES[0]), mistakes=mistakes)


output_gate = _gate("output_gate", "3.2", "o", _sigmoid, np.tanh, "tanh used for a gate (gates use sigmoid)")
forget_gate = _gate("forget_gate", "3.3", "f", _sigmoid, np.tanh, "tanh used for a gate (gates use sigmoid)")
input_gate = _gate("input_gate", "3.4", "i", _sigmoid, np.tanh, "tanh used for a gate (gates use sigmoid)")
candidate = _gate("candidate", "3.5", "g", np.tanh, _sigmoid,
                  "sigmoid used for the candidate (it uses tanh: values in (-1, 1))")


# -- 3.6-3.7 the fused step and the layer --------------------------------------------------

STEP_ARGS = (Arg("x", "ND"), Arg("h_prev", "NH", lambda d: 0.5), Arg("c_prev", "NH"),
             Arg("Wx", "DG", fan_in("D")), Arg("Wh", "HG", fan_in("H")), Arg("b", "G", lambda d: 0.5))
SEQ_ARGS = (Arg("x", "NTD"), Arg("h0", "NH", lambda d: 0.5), Arg("c0", "NH"),
            Arg("Wx", "DG", fan_in("D")), Arg("Wh", "HG", fan_in("H")), Arg("b", "G", lambda d: 0.5))


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

lstm_step_forward = Exercise(
    name="lstm_step_forward", number="3.6", args=STEP_ARGS, returns=("h_next", "c_next", "cache"),
    axes={"h_next": "NH", "c_next": "NH"}, points=POINTS, hidden_dims=STEP_DIMS,
    edge_dims=STEP_EDGES, public_dims=(STEP_DIMS[0], STEP_EDGES[0]), mistakes=STEP_MISTAKES)

lstm_forward = Exercise(
    name="lstm_forward", number="3.7", args=SEQ_ARGS, returns=("h", "c", "cache"),
    axes={"h": "NTH", "c": "NTH"}, points=POINTS, hidden_dims=SEQ_DIMS, edge_dims=SEQ_EDGES,
    public_dims=(SEQ_DIMS[0], SEQ_EDGES[0]), mistakes=LAYER_MISTAKES, needs=("lstm_step_forward",))


# -- 3.8 LSTMCell.__call__ --------------------------------------------------------------------

def _call_cell(student, i):
    """Make the student's LSTMCell, give it known weights, call it once."""
    units = int(np.shape(i["h_prev"])[1])
    cell = student.call("LSTMCell", units)
    for attr in ("Wx", "Wh", "b"):
        student.setattr(cell, attr, i[attr])
    value = student.call_method(cell, "__call__", i["x"], [i["h_prev"], i["c_prev"]])
    shape = "LSTMCell.__call__ should return (h_next, [h_next, c_next])"
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise WrongReturn(f"{shape}; it returned {type(value).__name__}"
                          + (f" of length {len(value)}" if isinstance(value, (tuple, list)) else ""))
    h, states = value
    if not isinstance(states, (tuple, list)) or len(states) != 2:
        raise WrongReturn(f"{shape}; its second value should be the list of the two new states")
    return {"h_next": h, "state h": states[0], "c_next": states[1]}, {}


lstm_cell = Exercise(
    name="LSTMCell", number="3.8", args=STEP_ARGS, returns=("h_next", "state h", "c_next"),
    axes={"h_next": "NH", "state h": "NH", "c_next": "NH"}, points={"values": 7, "edges": 3},
    call_fn=_call_cell, hidden_dims=STEP_DIMS, edge_dims=STEP_EDGES,
    public_dims=(STEP_DIMS[0], STEP_EDGES[0]), needs=("lstm_step_forward",),
    mistakes={"the new states are [c_next, h_next]; the contract is [h_next, c_next]":
              lambda ref, i: (lambda o: {"state h": o["c_next"], "c_next": o["state h"]})(
                  _call_cell(ref, i)[0])})


# -- 3.9 PyTorch's layout ------------------------------------------------------------------

TORCH_ARGS = (Arg("weight_ih", "GD", fan_in("D")), Arg("weight_hh", "GH", fan_in("H")),
              Arg("bias_ih", "G"), Arg("bias_hh", "G"))


def _from_torch(i, b):
    return {"Wx": i["weight_ih"].T, "Wh": i["weight_hh"].T, "b": b}


lstm_weights_from_torch = Exercise(
    name="lstm_weights_from_torch", number="3.9", args=TORCH_ARGS, returns=("Wx", "Wh", "b"),
    axes={"Wx": "DG", "Wh": "HG", "b": "G"}, points=POINTS, hidden_dims=STEP_DIMS,
    edge_dims=STEP_EDGES, public_dims=(STEP_DIMS[0], STEP_EDGES[0]),
    mistakes={
        "only bias_ih is used (PyTorch adds bias_ih and bias_hh)": lambda ref, i: _from_torch(i, i["bias_ih"]),
        "only bias_hh is used (PyTorch adds bias_ih and bias_hh)": lambda ref, i: _from_torch(i, i["bias_hh"]),
        "the weights are reshaped instead of transposed (reshape keeps the memory order; use .T)":
            lambda ref, i: {"Wx": i["weight_ih"].reshape(i["weight_ih"].shape[::-1]),
                            "Wh": i["weight_hh"].reshape(i["weight_hh"].shape[::-1])},
    })

EXERCISES = (sigmoid, output_gate, forget_gate, input_gate, candidate, lstm_step_forward,
             lstm_forward, lstm_cell, lstm_weights_from_torch)
