"""Chapter 3, the gates: sigmoid, one function per gate, the fused LSTM step and layer,
LSTMCell.__call__, and PyTorch's weight layout. References: solutions/03_gates.ipynb.

Ships in the student package, so nothing here computes an answer: the mistake
catalogue (gate blocks in another order, tanh missing on c, ...) is instructor-only, in
autograder/mistakes/gates.py.
"""
from __future__ import annotations

import numpy as np

from autograder.exercise import Arg, Exercise, WrongReturn, fan_in, unpack

NOTEBOOK = "03_gates.ipynb"
TITLE = "The gates"

POINTS = {"values": 6, "edges": 2, "no_modify": 2}
ORDER = "ifgo"                       # this book's fused order, as PyTorch and Keras


def dims(N, D, H, T=None, **flags):
    d = {"N": N, "D": D, "H": H, "G": 4 * H, **flags}
    return d if T is None else {**d, "T": T}


STEP_DIMS = (dims(3, 5, 4), dims(4, 2, 6), dims(2, 7, 3))
STEP_EDGES = (dims(1, 1, 1), dims(1, 4, 2), dims(3, 1, 1))
SEQ_DIMS = (dims(3, 5, 4, T=4), dims(2, 3, 5, T=6), dims(4, 2, 3, T=3))
SEQ_EDGES = (dims(1, 1, 1, T=1), dims(2, 3, 4, T=1), dims(1, 2, 1, T=5))


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


sigmoid = Exercise(
    name="sigmoid", number="3.1", args=(Arg("x", "NH"),), returns=("s",), axes={"s": "NH"},
    # tol 1e-9, not tighter: a correct float64 sigmoid may be off by 1e-16 absolute where
    # s < 1e-6 (0.5 * (1 + tanh(x / 2)) cancels there), which is 1e-10 relative to the
    # comparison's floor (1e-6 times the largest |s|); 1e-12 failed that correct variant on
    # about 2% of submissions' hidden cases. The named mistakes (tanh, a flipped sign) are
    # off by O(1), a float32 sigmoid by 1e-7.
    points=POINTS, tol=1e-9, inputs_fn=_sigmoid_inputs, call_fn=_call_strict,
    hidden_dims=({"N": 3, "H": 4}, {"N": 5, "H": 2}), public_dims=({"N": 3, "H": 4}, {"N": 3, "H": 5, "big": 1}),
    edge_dims=({"N": 1, "H": 1}, {"N": 3, "H": 5, "big": 1}, {"N": 2, "H": 4, "big": 1}))


# -- 3.2-3.5 one gate at a time ---------------------------------------------------------------

def _gate_args(s):
    return (Arg("x", "ND"), Arg("h_prev", "NH", lambda d: 0.5), Arg(f"Wx_{s}", "DH", fan_in("D")),
            Arg(f"Wh_{s}", "HH", fan_in("H")), Arg(f"b_{s}", "H", lambda d: 0.5))


def _gate(name, number, s):
    out = s   # the gate's own letter names its output
    return Exercise(name=name, number=number, args=_gate_args(s), returns=(out,), axes={out: "NH"},
                    points=POINTS, hidden_dims=STEP_DIMS, edge_dims=STEP_EDGES,
                    public_dims=(STEP_DIMS[0], STEP_EDGES[0]))


output_gate = _gate("output_gate", "3.2", "o")
forget_gate = _gate("forget_gate", "3.3", "f")
input_gate = _gate("input_gate", "3.4", "i")
candidate = _gate("candidate", "3.5", "g")


# -- 3.6-3.7 the fused step and the layer --------------------------------------------------

STEP_ARGS = (Arg("x", "ND"), Arg("h_prev", "NH", lambda d: 0.5), Arg("c_prev", "NH"),
             Arg("Wx", "DG", fan_in("D")), Arg("Wh", "HG", fan_in("H")), Arg("b", "G", lambda d: 0.5))
SEQ_ARGS = (Arg("x", "NTD"), Arg("h0", "NH", lambda d: 0.5), Arg("c0", "NH"),
            Arg("Wx", "DG", fan_in("D")), Arg("Wh", "HG", fan_in("H")), Arg("b", "G", lambda d: 0.5))


lstm_step_forward = Exercise(
    name="lstm_step_forward", number="3.6", args=STEP_ARGS, returns=("h_next", "c_next", "cache"),
    axes={"h_next": "NH", "c_next": "NH"}, points=POINTS, hidden_dims=STEP_DIMS,
    edge_dims=STEP_EDGES, public_dims=(STEP_DIMS[0], STEP_EDGES[0]))

lstm_forward = Exercise(
    name="lstm_forward", number="3.7", args=SEQ_ARGS, returns=("h", "c", "cache"),
    axes={"h": "NTH", "c": "NTH"}, points=POINTS, hidden_dims=SEQ_DIMS, edge_dims=SEQ_EDGES,
    public_dims=(SEQ_DIMS[0], SEQ_EDGES[0]), needs=("lstm_step_forward",))


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
    public_dims=(STEP_DIMS[0], STEP_EDGES[0]), needs=("lstm_step_forward",))


# -- 3.9 PyTorch's layout ------------------------------------------------------------------

TORCH_ARGS = (Arg("weight_ih", "GD", fan_in("D")), Arg("weight_hh", "GH", fan_in("H")),
              Arg("bias_ih", "G"), Arg("bias_hh", "G"))


lstm_weights_from_torch = Exercise(
    name="lstm_weights_from_torch", number="3.9", args=TORCH_ARGS, returns=("Wx", "Wh", "b"),
    axes={"Wx": "DG", "Wh": "HG", "b": "G"}, points=POINTS, hidden_dims=STEP_DIMS,
    edge_dims=STEP_EDGES, public_dims=(STEP_DIMS[0], STEP_EDGES[0]), no_share=True)

EXERCISES = (sigmoid, output_gate, forget_gate, input_gate, candidate, lstm_step_forward,
             lstm_forward, lstm_cell, lstm_weights_from_torch)
