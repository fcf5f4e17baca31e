"""Chapter 7, a language model: a gradient checker, the softmax cross-entropy at every step,
the training step of an LSTM language model, clipping, truncated BPTT and sampling.
References: solutions/07_language_model.ipynb (the LSTM is carried there from chapters 3 and 5).

Two exercises take what the wire cannot carry: `numerical_gradient` takes a function and
`sample` a random generator. For both the grader sends arrays and a name, and a small helper
it defines in the student's process (FAMILY, WITH_RNG) builds the function from a fixed family
or the generator from a seed there, then calls the student's code. What comes back is plain
arrays, compared here with the reference run on the same inputs.
"""
from __future__ import annotations

import numpy as np

from autograder.exercise import Arg, Exercise, WrongReturn, fan_in, unpack

NOTEBOOK = "07_language_model.ipynb"
TITLE = "A language model"

PARAMS = ("Wx", "Wh", "b", "W_out", "b_out")
# What the letters of this chapter's case labels mean (with autograder.book_view.LABELS).
CASE_LABELS = {
    "M": "entries per row of x",
    "kind": "the test function: 0 the quadratic form 0.5 x^T A x, 1 sum(W tanh(x)), 2 log-sum-exp",
    "h": "the finite-difference step",
    "zeros": "1 if an entry is 0 in both arrays",
    "V": "characters in the vocabulary",
    "big": "1 if 1000 is added to every score (exp overflows unless the largest score is subtracted)",
    "ratio": "max_norm divided by the gradients' norm (below 1: they are clipped)",
    "zero": "1 if every gradient is 0",
    "L": "characters per stream that are read (data holds L + 1)",
    "K": "chunks, ceil(L / T)",
    "clip": "max_norm, the clipping threshold",
    "n": "characters drawn",
    "S": "characters drawn (n)",
    "temp": "the temperature",
}


# -- 7.1 numerical_gradient: a fixed family of functions with known gradients -----------------

# Run in the student's process (and in the reference's namespace, for the expected values).
# Each function of x (any shape, M entries) is smooth and its gradient is known:
#   quadratic  f = 0.5 v^T A v  (v = x flattened)      grad = 0.5 (A + A^T) v
#   tanh       f = sum(W * tanh(x))                     grad = W (1 - tanh(x)^2)
#   logsumexp  f = log(sum(exp(x)))                     grad = softmax(x)
FAMILY = '''
def _grader_family(kind, W, A):
    import numpy
    if kind == "quadratic":
        return lambda x: 0.5 * float(x.ravel() @ A @ x.ravel())
    if kind == "tanh":
        return lambda x: float(numpy.sum(W * numpy.tanh(x)))
    return lambda x: float(numpy.log(numpy.sum(numpy.exp(x))))

def _grader_numerical_gradient(fn_name, kind, x, W, A, h):
    return globals()[fn_name](_grader_family(kind, W, A), x, float(h))
'''
KINDS = ("quadratic", "tanh", "logsumexp")



def family_function(kind: str, W, A):
    scope: dict = {}
    exec(FAMILY, scope)   # the same source the student's process runs
    return scope["_grader_family"](kind, W, A)


def _numgrad_inputs(d, seed):
    rng = np.random.default_rng(seed)
    shape = (d["N"], d["M"])
    M = d["N"] * d["M"]
    return {"kind": KINDS[d["kind"]], "x": rng.normal(size=shape), "W": rng.normal(size=shape),
            "A": rng.normal(size=(M, M)), "h": float(d["h"])}


def _numgrad_call(student, inputs):
    student.define(FAMILY, names=("_grader_family", "_grader_numerical_gradient"))
    value, after = student.call("_grader_numerical_gradient", "numerical_gradient",
                                str(inputs["kind"]), inputs["x"], inputs["W"], inputs["A"],
                                float(inputs["h"]), return_args=True)
    return {"grad": value}, ({"x": after[2]} if after is not None else {})



def _numgrad_dims(N, M, kind, h):
    return {"N": N, "M": M, "kind": kind, "h": h}


numerical_gradient = Exercise(
    name="numerical_gradient", number="7.1", args=(), returns=("grad",), axes={"grad": "NM"},
    points={"values": 6, "edges": 2, "no_modify": 2}, tol=1e-7,
    inputs_fn=_numgrad_inputs, call_fn=_numgrad_call,
    hidden_dims=(_numgrad_dims(3, 4, 0, 1e-3), _numgrad_dims(2, 5, 1, 1e-3),
                 _numgrad_dims(4, 3, 2, 1e-5), _numgrad_dims(3, 3, 1, 1e-5)),
    edge_dims=(_numgrad_dims(1, 1, 1, 1e-3), _numgrad_dims(1, 6, 0, 1e-3),
               _numgrad_dims(5, 1, 2, 1e-3)),
    public_dims=(_numgrad_dims(2, 3, 1, 1e-3), _numgrad_dims(1, 1, 0, 1e-3)),
)


# -- 7.2 relative_error -----------------------------------------------------------------------

def _relerr_inputs(d, seed):
    rng = np.random.default_rng(seed)
    shape = (d["N"], d["M"])
    a = rng.normal(size=shape) * 10.0 ** rng.uniform(-6, 3, size=shape)
    b = a * (1 + rng.normal(size=shape) * 10.0 ** rng.uniform(-9, -1, size=shape))
    if d.get("zeros"):         # an entry that is 0 in both: 0/0 without the floor
        a.flat[0] = b.flat[0] = 0.0
    return {"a": a, "b": b}



relative_error = Exercise(
    name="relative_error", number="7.2", args=(Arg("a", "NM"), Arg("b", "NM")),
    returns=("error",), axes={"error": ""}, points={"values": 6, "edges": 2, "no_modify": 2},
    inputs_fn=_relerr_inputs,
    hidden_dims=({"N": 3, "M": 4}, {"N": 5, "M": 2}, {"N": 2, "M": 7, "zeros": 1}),
    edge_dims=({"N": 1, "M": 1}, {"N": 1, "M": 1, "zeros": 1}, {"N": 4, "M": 3, "zeros": 1}),
    public_dims=({"N": 3, "M": 4, "zeros": 1}, {"N": 1, "M": 1}),
)


# -- 7.3 softmax_cross_entropy ----------------------------------------------------------------


def _sce_inputs(d, seed):
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=(d["N"], d["T"], d["V"])) * 2.0
    if d.get("big"):           # exp overflows unless the largest score is subtracted first
        scores = scores + 1000.0
    return {"scores": scores, "y": rng.integers(0, d["V"], size=(d["N"], d["T"]))}



def _sce_dims(N, T, V, **flags):
    return {"N": N, "T": T, "V": V, **flags}


softmax_cross_entropy = Exercise(
    name="softmax_cross_entropy", number="7.3", args=(Arg("scores", "NTV"), Arg("y", "NT")),
    returns=("loss", "dscores"), axes={"loss": "", "dscores": "NTV"},
    points={"values": 4, "edges": 2, "gradcheck": 2, "no_modify": 2},
    inputs_fn=_sce_inputs, loss_output="loss", grad_of={"dscores": "scores"},
    hidden_dims=(_sce_dims(3, 4, 5), _sce_dims(2, 6, 3), _sce_dims(4, 2, 7)),
    edge_dims=(_sce_dims(1, 1, 1), _sce_dims(1, 3, 2), _sce_dims(2, 2, 4, big=1)),
    public_dims=(_sce_dims(3, 4, 5), _sce_dims(2, 2, 4, big=1)),
    grad_dims=_sce_dims(2, 3, 4),
)


# -- 7.4 lm_loss_and_grads --------------------------------------------------------------------

LM_ARGS = (Arg("Wx", "VG", fan_in("V")), Arg("Wh", "HG", fan_in("H")), Arg("b", "G", lambda d: 0.5),
           Arg("W_out", "HV", fan_in("H")), Arg("b_out", "V", lambda d: 0.5),
           Arg("h0", "NH", lambda d: 0.5), Arg("c0", "NH"))


def lm_dims(N, T, V, H, **flags):
    return {"N": N, "T": T, "V": V, "H": H, "G": 4 * H, **flags}


def _lm_inputs(d, seed):
    rng = np.random.default_rng(seed)
    inputs = {a.name: rng.normal(size=a.shape(d)) * a.scale(d) for a in LM_ARGS}
    inputs["x"] = rng.integers(0, d["V"], size=(d["N"], d["T"]))
    inputs["y"] = rng.integers(0, d["V"], size=(d["N"], d["T"]))
    return inputs


def _grads_dict(grads, name):
    if not isinstance(grads, dict):
        raise WrongReturn(f"{name} should return grads as a dict keyed like params "
                          f"({', '.join(PARAMS)}); it is a "
                          f"{getattr(grads, 'type_name', type(grads).__name__)}")
    missing = [k for k in PARAMS if k not in grads]
    if missing:
        raise WrongReturn(f"the grads dict of {name} has no key {', '.join(map(repr, missing))}; "
                          f"it needs one gradient per parameter: {', '.join(PARAMS)}")
    return grads


def _params_after(p_after):
    return {k: p_after.get(k) if isinstance(p_after, dict) else None for k in PARAMS}


def _lm_call(student, inputs):
    params = {k: inputs[k] for k in PARAMS}
    value, after = student.call("lm_loss_and_grads", params, inputs["x"], inputs["y"],
                                inputs["h0"], inputs["c0"], return_args=True)
    loss, grads, state = unpack(value, ("loss", "grads", "state"), "lm_loss_and_grads").values()
    grads = _grads_dict(grads, "lm_loss_and_grads")
    hT, cT = unpack(state, ("h_T", "c_T"), "the state lm_loss_and_grads returns").values()
    outputs = {"loss": loss, **{f"d{k}": grads[k] for k in PARAMS}, "h_T": hT, "c_T": cT}
    args_after = {}
    if after is not None:
        args_after = {**_params_after(after[0]), "x": after[1], "y": after[2], "h0": after[3],
                      "c0": after[4]}
    return outputs, args_after



LM_OUT = {"loss": "", "dWx": "VG", "dWh": "HG", "db": "G", "dW_out": "HV", "db_out": "V",
          "h_T": "NH", "c_T": "NH"}

lm_loss_and_grads = Exercise(
    name="lm_loss_and_grads", number="7.4", args=LM_ARGS + (Arg("x", "NT"), Arg("y", "NT")), returns=tuple(LM_OUT), axes=LM_OUT,
    points={"values": 4, "edges": 2, "gradcheck": 2, "no_modify": 2},
    inputs_fn=_lm_inputs, call_fn=_lm_call, loss_output="loss",
    grad_of={f"d{k}": k for k in PARAMS},
    hidden_dims=(lm_dims(3, 4, 5, 3), lm_dims(2, 5, 4, 2), lm_dims(4, 3, 3, 4)),
    edge_dims=(lm_dims(1, 1, 1, 1), lm_dims(1, 3, 2, 1), lm_dims(2, 1, 3, 2)),
    public_dims=(lm_dims(3, 4, 5, 3), lm_dims(1, 1, 1, 1)),
    grad_dims=lm_dims(2, 3, 3, 2),
    needs=("lstm_forward", "lstm_backward", "softmax_cross_entropy"),
)


# -- 7.5 clip_grad_norm -----------------------------------------------------------------------

CLIP_ARGS = (Arg("Wx", "VG"), Arg("Wh", "HG"), Arg("b", "G"), Arg("W_out", "HV"), Arg("b_out", "V"))


def _clip_inputs(d, seed):
    rng = np.random.default_rng(seed)
    grads = {a.name: rng.normal(size=a.shape(d)) for a in CLIP_ARGS}
    norm = float(np.sqrt(sum(np.sum(g**2) for g in grads.values())))
    if d.get("zero"):
        grads = {k: np.zeros_like(g) for k, g in grads.items()}
    return {**grads, "max_norm": norm * d["ratio"]}   # ratio < 1: clipped; > 1: unchanged


def _clip_call(student, inputs):
    grads = {k: inputs[k] for k in PARAMS}
    value, after = student.call("clip_grad_norm", grads, float(inputs["max_norm"]), return_args=True)
    clipped, norm = unpack(value, ("clipped", "norm"), "clip_grad_norm").values()
    clipped = _grads_dict(clipped, "clip_grad_norm")
    outputs = {"norm": norm, **{f"clipped_{k}": clipped[k] for k in PARAMS}}
    return outputs, (_params_after(after[0]) if after is not None else {})



def clip_dims(V, H, ratio, **flags):
    return {"V": V, "H": H, "G": 4 * H, "ratio": ratio, **flags}


CLIP_OUT = {"norm": "", **{f"clipped_{a.name}": a.axes for a in CLIP_ARGS}}

clip_grad_norm = Exercise(
    name="clip_grad_norm", number="7.5", args=CLIP_ARGS, returns=tuple(CLIP_OUT), axes=CLIP_OUT,
    points={"values": 6, "edges": 2, "no_modify": 2},
    inputs_fn=_clip_inputs, call_fn=_clip_call,
    hidden_dims=(clip_dims(5, 3, 0.3), clip_dims(4, 2, 2.5), clip_dims(6, 4, 0.05)),
    edge_dims=(clip_dims(1, 1, 0.5), clip_dims(3, 2, 1.0, zero=1), clip_dims(1, 1, 3.0)),
    public_dims=(clip_dims(5, 3, 0.3), clip_dims(3, 2, 1.0, zero=1)),
)


# -- 7.6 truncated_bptt -----------------------------------------------------------------------

def _tbptt_inputs(d, seed):
    rng = np.random.default_rng(seed)
    inputs = {a.name: rng.normal(size=a.shape(d)) * a.scale(d) for a in LM_ARGS[:5]}
    inputs["data"] = rng.integers(0, d["V"], size=(d["N"], d["L"] + 1))
    inputs["T"] = int(d["T"])
    inputs["lr"] = 0.5
    inputs["max_norm"] = float(d["clip"])
    return inputs


def _tbptt_call(student, inputs):
    params = {k: inputs[k] for k in PARAMS}
    value, after = student.call("truncated_bptt", params, inputs["data"], int(inputs["T"]),
                                float(inputs["lr"]), float(inputs["max_norm"]), return_args=True)
    new, losses = unpack(value, ("params", "losses"), "truncated_bptt").values()
    new = _grads_dict(new, "truncated_bptt")
    outputs = {"losses": np.asarray(losses, dtype=np.float64) if isinstance(losses, (list, tuple))
               else losses, **{f"new_{k}": new[k] for k in PARAMS}}
    args_after = {}
    if after is not None:
        args_after = {**_params_after(after[0]), "data": after[1]}
    return outputs, args_after



def tbptt_dims(N, L, T, V, H, clip=0.5):
    return {"N": N, "L": L, "T": T, "V": V, "H": H, "G": 4 * H, "K": -(-L // T), "clip": clip}


TBPTT_OUT = {"losses": "K", **{f"new_{a.name}": a.axes for a in LM_ARGS[:5]}}

truncated_bptt = Exercise(
    name="truncated_bptt", number="7.6", args=LM_ARGS[:5], returns=tuple(TBPTT_OUT), axes=TBPTT_OUT,
    points={"values": 6, "edges": 2, "no_modify": 2}, tol=1e-6,
    inputs_fn=_tbptt_inputs, call_fn=_tbptt_call,
    hidden_dims=(tbptt_dims(2, 10, 3, 4, 3), tbptt_dims(3, 8, 4, 5, 2), tbptt_dims(2, 9, 2, 3, 3, clip=100.0)),
    edge_dims=(tbptt_dims(1, 1, 1, 2, 1), tbptt_dims(1, 5, 7, 3, 2), tbptt_dims(2, 6, 1, 2, 1)),
    public_dims=(tbptt_dims(2, 10, 3, 4, 3), tbptt_dims(1, 5, 7, 3, 2)),
    needs=("lm_loss_and_grads", "clip_grad_norm"),
)


# -- 7.7 sample -------------------------------------------------------------------------------

# The generator cannot cross the wire: it is made from the seed in the student's process.
WITH_RNG = '''
def _grader_sample(fn_name, params, h, c, start, n, temperature, seed):
    import numpy
    return globals()[fn_name](params, h, c, start, int(n), float(temperature),
                              numpy.random.default_rng(int(seed)))
'''


def _sample_inputs(d, seed):
    rng = np.random.default_rng(seed)
    inputs = {a.name: rng.normal(size=a.shape(d)) * a.scale(d) * 2.0 for a in LM_ARGS}
    inputs["start"] = rng.integers(0, d["V"], size=d["N"])
    inputs["n"] = int(d["n"])
    inputs["temperature"] = float(d["temp"])
    inputs["seed"] = int(rng.integers(0, 2**31))
    return inputs


def _sample_call(student, inputs):
    student.define(WITH_RNG, names=("_grader_sample",))
    params = {k: inputs[k] for k in PARAMS}
    value, after = student.call("_grader_sample", "sample", params, inputs["h0"], inputs["c0"],
                                inputs["start"], int(inputs["n"]), float(inputs["temperature"]),
                                int(inputs["seed"]), return_args=True)
    args_after = {}
    if after is not None:
        args_after = {**_params_after(after[1]), "h0": after[2], "c0": after[3], "start": after[4]}
    return {"chars": value}, args_after



def sample_dims(N, V, H, n, temp):
    return {"N": N, "V": V, "H": H, "G": 4 * H, "n": n, "temp": temp, "S": n}


sample = Exercise(
    name="sample", number="7.7", args=LM_ARGS, returns=("chars",), axes={"chars": "NS"},
    points={"values": 6, "edges": 2, "no_modify": 2}, tol=0.0,
    inputs_fn=_sample_inputs, call_fn=_sample_call,
    hidden_dims=(sample_dims(3, 6, 4, 12, 0.7), sample_dims(2, 5, 3, 15, 1.5),
                 sample_dims(4, 8, 2, 10, 1.0)),
    edge_dims=(sample_dims(1, 1, 1, 1, 1.0), sample_dims(1, 4, 2, 20, 0.05),
               sample_dims(2, 3, 1, 1, 2.0)),
    public_dims=(sample_dims(3, 6, 4, 12, 0.7), sample_dims(1, 4, 2, 20, 0.05)),
    needs=("lstm_step_forward",),
)


EXERCISES = (numerical_gradient, relative_error, softmax_cross_entropy, lm_loss_and_grads,
             clip_grad_norm, truncated_bptt, sample)
