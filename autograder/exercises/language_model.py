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

def _grader_numerical_gradient(kind, x, W, A, h):
    return globals()["numerical_gradient"](_grader_family(kind, W, A), x, float(h))
'''
KINDS = ("quadratic", "tanh", "logsumexp")


def known_gradient(kind: str, x, W, A):
    """The exact gradient of a FAMILY function (tests check the reference against it)."""
    if kind == "quadratic":
        return (0.5 * (A + A.T) @ x.ravel()).reshape(x.shape)
    if kind == "tanh":
        return W * (1.0 - np.tanh(x) ** 2)
    e = np.exp(x - x.max())
    return e / e.sum()


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
    value, after = student.call("_grader_numerical_gradient", str(inputs["kind"]), inputs["x"],
                                inputs["W"], inputs["A"], float(inputs["h"]), return_args=True)
    return {"grad": value}, ({"x": after[1]} if after is not None else {})


def _numgrad_mistake(how):
    def wrong(ref, i):
        f = family_function(str(i["kind"]), i["W"], i["A"])
        x, h = i["x"].copy(), float(i["h"])
        grad = np.zeros(x.shape)
        for k in np.ndindex(x.shape):
            old = x[k]
            if how == "forward":
                base = f(x)
                x[k] = old + h
                grad[k] = (f(x) - base) / h
                x[k] = old
            elif how == "no restore":
                x[k] = old + h
                up = f(x)
                x[k] = old - h
                grad[k] = (up - f(x)) / (2 * h)
            elif how == "divide by h":
                x[k] = old + h
                up = f(x)
                x[k] = old - h
                grad[k] = (up - f(x)) / h
                x[k] = old
        return {"grad": grad}
    return wrong


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
    mistakes={
        "a forward difference (f(x + h) - f(x)) / h; the centred difference "
        "(f(x + h) - f(x - h)) / (2h) is far more accurate": _numgrad_mistake("forward"),
        "x[i] is not put back after it was changed, so later entries are differentiated at "
        "a shifted point (restore x[i] = old before moving on)": _numgrad_mistake("no restore"),
        "the difference is divided by h; the two points are 2h apart, so divide by 2h":
            _numgrad_mistake("divide by h"),
    })


# -- 7.2 relative_error -----------------------------------------------------------------------

def _relerr_inputs(d, seed):
    rng = np.random.default_rng(seed)
    shape = (d["N"], d["M"])
    a = rng.normal(size=shape) * 10.0 ** rng.uniform(-6, 3, size=shape)
    b = a * (1 + rng.normal(size=shape) * 10.0 ** rng.uniform(-9, -1, size=shape))
    if d.get("zeros"):         # entries that are 0 in both, and a sign flip
        a.flat[0] = b.flat[0] = 0.0
        if a.size > 1:
            b.flat[-1] = -a.flat[-1]
    return {"a": a, "b": b}


def _relerr(a, b, how=""):
    num = (a - b) if how == "signed" else np.abs(a - b)
    den = {"no floor": np.abs(a) + np.abs(b), "one-sided": np.maximum(np.abs(b), 1e-8),
           "a + b": np.maximum(a + b, 1e-8)}.get(how, np.maximum(np.abs(a) + np.abs(b), 1e-8))
    with np.errstate(invalid="ignore", divide="ignore"):
        e = num / den
    return {"error": float(np.mean(e) if how == "mean" else np.max(e))}


def _relerr_mistake(how):
    return lambda ref, i: _relerr(i["a"], i["b"], how)


relative_error = Exercise(
    name="relative_error", number="7.2", args=(Arg("a", "NM"), Arg("b", "NM")),
    returns=("error",), axes={"error": ""}, points={"values": 6, "edges": 2, "no_modify": 2},
    inputs_fn=_relerr_inputs,
    hidden_dims=({"N": 3, "M": 4}, {"N": 5, "M": 2}, {"N": 2, "M": 7, "zeros": 1}),
    edge_dims=({"N": 1, "M": 1}, {"N": 1, "M": 1, "zeros": 1}, {"N": 4, "M": 3, "zeros": 1}),
    public_dims=({"N": 3, "M": 4, "zeros": 1}, {"N": 1, "M": 1}),
    mistakes={
        "the error is averaged over the entries; a gradient check reports the largest one":
            _relerr_mistake("mean"),
        "the absolute value of the difference is missing: |a - b|": _relerr_mistake("signed"),
        "the difference is divided by |b| only; the book's relative error divides by "
        "|a| + |b|": _relerr_mistake("one-sided"),
        "the denominator is a + b without absolute values (it can be negative or 0)":
            _relerr_mistake("a + b"),
    })


# -- 7.3 softmax_cross_entropy ----------------------------------------------------------------

def _softmax(s):
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _sce_inputs(d, seed):
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=(d["N"], d["T"], d["V"])) * 2.0
    if d.get("big"):           # exp overflows unless the largest score is subtracted first
        scores = scores + 1000.0
    return {"scores": scores, "y": rng.integers(0, d["V"], size=(d["N"], d["T"]))}


def _sce(scores, y, how=""):
    N, T, V = scores.shape
    p = _softmax(scores)
    n, t = np.indices((N, T))
    picked = p[n, t, y]
    loss = -float(np.mean(np.log(picked)))
    d = p.copy()
    if how != "no -1":
        d[n, t, y] -= 1.0
    scale = {"sum": 1.0, "batch only": float(N), "loss only": 1.0}.get(how, float(N * T))
    if how == "sum":
        loss *= N * T
    if how == "batch only":
        loss *= T
    if how == "sign":
        d = -d
    return {"loss": loss, "dscores": d / scale}


def _sce_mistake(how):
    return lambda ref, i: _sce(i["scores"], i["y"], how)


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
    mistakes={
        "the loss is summed over the N T predictions instead of averaged": _sce_mistake("sum"),
        "the loss is averaged over the batch only (CS231n's convention sums over time); this "
        "book averages over all N T predictions, so the loss is bits per character times ln 2":
            _sce_mistake("batch only"),
        "the loss is averaged but dscores is not divided by N T": _sce_mistake("loss only"),
        "dscores is missing the -1 at the target: it is (p - onehot(y)) / (N T), not p / (N T)":
            _sce_mistake("no -1"),
        "dscores has the wrong sign: it is (p - onehot(y)) / (N T)": _sce_mistake("sign"),
    })


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


def _lm_glue(ref, i, direct="all", out_sum="all", state="last", start="given"):
    """The reference training step with one switchable mistake, from the reference's LSTM."""
    V = i["Wx"].shape[0]
    N, H = i["h0"].shape
    X = np.eye(V)[i["x"]]
    h0, c0 = (i["h0"], i["c0"]) if start == "given" else (np.zeros((N, H)), np.zeros((N, H)))
    h, c, cache = ref.call("lstm_forward", X, h0, c0, i["Wx"], i["Wh"], i["b"])
    scores = h @ i["W_out"] + i["b_out"]
    sce = _sce(scores, i["y"])
    ds = sce["dscores"]
    dh = ds @ i["W_out"].T
    if direct == "last":
        dh[:, :-1] = 0.0
    back = ref.call("lstm_backward", dh, cache)
    if out_sum == "last":
        dW_out, db_out = h[:, -1].T @ ds[:, -1], ds[:, -1].sum(axis=0)
    else:
        dW_out, db_out = np.einsum("nth,ntv->hv", h, ds), ds.sum(axis=(0, 1))
    hT, cT = {"last": (h[:, -1], c[:, -1]), "first": (h[:, 0], c[:, 0]),
              "swapped": (c[:, -1], h[:, -1])}[state]
    return {"loss": sce["loss"], "dWx": back[-3], "dWh": back[-2], "db": back[-1],
            "dW_out": dW_out, "db_out": db_out, "h_T": hT, "c_T": cT}


def _lm_mistake(**change):
    return lambda ref, i: _lm_glue(ref, i, **change)


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
    mistakes={
        "only the last step's hidden state gets a gradient (chapter 6's glue); here every "
        "step has a loss, so dh = dscores W_out^T at every step": _lm_mistake(direct="last"),
        "dW_out and db_out use the last step only; the output layer is used at every step, so "
        "its gradients are summed over n and t": _lm_mistake(out_sum="last"),
        "the state returned is the first step's (h[:, 0], c[:, 0]); the next chunk starts from "
        "the last one, (h[:, -1], c[:, -1])": _lm_mistake(state="first"),
        "the state is returned as (c, h); return (h_T, c_T)": _lm_mistake(state="swapped"),
        "the forward starts from zero states instead of the given h0, c0 (the carried state)":
            _lm_mistake(start="zeros"),
    })


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


def _clip(i, how=""):
    grads = {k: i[k] for k in PARAMS}
    max_norm = float(i["max_norm"])
    sq = {k: float(np.sum(g**2)) for k, g in grads.items()}
    norm = float(np.sqrt(sum(sq.values())))
    if how == "each":
        out = {k: g * min(1.0, max_norm / np.sqrt(sq[k])) if sq[k] > 0 else g for k, g in grads.items()}
    elif how == "always":
        out = {k: g * (max_norm / norm) for k, g in grads.items()} if norm > 0 else grads
    elif how == "np.clip":
        out = {k: np.clip(g, -max_norm, max_norm) for k, g in grads.items()}
    elif how == "sum of norms":
        total = sum(np.sqrt(v) for v in sq.values())
        out = {k: g * min(1.0, max_norm / total) for k, g in grads.items()} if total > 0 else grads
        norm = float(total)
    else:
        out = {k: g * (max_norm / norm if norm > max_norm else 1.0) for k, g in grads.items()}
    result = {"norm": norm, **{f"clipped_{k}": v for k, v in out.items()}}
    if how == "norm after":
        result["norm"] = min(norm, max_norm)
    return result


def _clip_mistake(how):
    return lambda ref, i: _clip(i, how)


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
    mistakes={
        "each gradient is clipped on its own; clip them together by their joint norm "
        "sqrt(sum of all squares), so the direction of the step is kept": _clip_mistake("each"),
        "the gradients are rescaled to max_norm even when their norm is below it; scale only "
        "when norm > max_norm": _clip_mistake("always"),
        "the entries are clipped one by one (np.clip); that changes the direction: scale all "
        "gradients by max_norm / norm": _clip_mistake("np.clip"),
        "the norm is the sum of the gradients' norms; the joint norm is the square root of the "
        "sum of all squares": _clip_mistake("sum of norms"),
        "the norm returned is the one after clipping; return the norm before it":
            _clip_mistake("norm after"),
    })


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


def _tbptt(ref, i, carry=True, shift=1, drop_last=False, clip=True, once=False):
    params = {k: i[k].copy() for k in PARAMS}
    data, T = i["data"], int(i["T"])
    N, L = data.shape[0], data.shape[1] - 1
    H = params["Wh"].shape[0]
    zero = np.zeros((N, H))
    h, c = zero, zero
    losses, total = [], None
    for start in range(0, (L // T) * T if drop_last else L, T):
        stop = min(start + T, L)
        x = data[:, start:stop]
        y = data[:, start + shift:stop + shift]
        loss, grads, (h, c) = ref.call("lm_loss_and_grads", params, x, y,
                                       h if carry else zero, c if carry else zero)
        if clip:
            grads, _ = ref.call("clip_grad_norm", grads, float(i["max_norm"]))
        if once:
            total = grads if total is None else {k: total[k] + grads[k] for k in grads}
        else:
            params = {k: p - float(i["lr"]) * grads[k] for k, p in params.items()}
        losses.append(loss)
    if once and total is not None:
        params = {k: p - float(i["lr"]) * total[k] for k, p in params.items()}
    return {"losses": np.array(losses), **{f"new_{k}": params[k] for k in PARAMS}}


def _tbptt_mistake(**change):
    return lambda ref, i: _tbptt(ref, i, **change)


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
    mistakes={
        "the state is reset to zeros at every chunk; truncated BPTT carries (h, c) from one "
        "chunk to the next (only the gradient is cut)": _tbptt_mistake(carry=False),
        "the targets are not shifted: y must be the next characters, data[:, s+1 : s+T+1]":
            _tbptt_mistake(shift=0),
        "the last, shorter chunk is dropped; it still holds characters to learn from":
            _tbptt_mistake(drop_last=True),
        "the gradients are not clipped before the update": _tbptt_mistake(clip=False),
        "the gradients of all chunks are added up and applied once at the end; truncated BPTT "
        "updates after every chunk": _tbptt_mistake(once=True),
    })


# -- 7.7 sample -------------------------------------------------------------------------------

# The generator cannot cross the wire: it is made from the seed in the student's process.
WITH_RNG = '''
def _grader_sample(seed, params, h, c, start, n, temperature):
    import numpy
    return globals()["sample"](params, h, c, start, int(n), float(temperature),
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
    value, after = student.call("_grader_sample", int(inputs["seed"]), params, inputs["h0"],
                                inputs["c0"], inputs["start"], int(inputs["n"]),
                                float(inputs["temperature"]), return_args=True)
    args_after = {}
    if after is not None:
        args_after = {**_params_after(after[1]), "h0": after[2], "c0": after[3], "start": after[4]}
    return {"chars": value}, args_after


def _sample(ref, i, how=""):
    p = {k: i[k] for k in PARAMS}
    V = p["Wx"].shape[0]
    rng = np.random.default_rng(int(i["seed"]))
    h, c = i["h0"], i["c0"]
    current = np.asarray(i["start"])
    tau = float(i["temperature"])
    out = np.zeros((len(current), int(i["n"])), dtype=np.int64)
    for t in range(int(i["n"])):
        x = np.eye(V)[current if how != "same input" else i["start"]]
        if how == "reset":
            h, c = i["h0"], i["c0"]
        h, c, _ = ref.call("lstm_step_forward", x, h, c, p["Wx"], p["Wh"], p["b"])
        s = h @ p["W_out"] + p["b_out"]
        s = s * tau if how == "times" else s / tau
        probs = _softmax(s)
        if how == "greedy":
            current = np.argmax(probs, axis=1)
        else:
            current = np.array([rng.choice(V, p=row) for row in probs])
        out[:, t] = current
    return {"chars": out}


def _sample_mistake(how):
    return lambda ref, i: _sample(ref, i, how)


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
    mistakes={
        "the most likely character is taken at every step (greedy); draw it with "
        "rng.choice(V, p=p[i])": _sample_mistake("greedy"),
        "the scores are multiplied by the temperature; divide them: softmax(scores / temperature)":
            _sample_mistake("times"),
        "the start characters are fed at every step; feed back the characters just drawn":
            _sample_mistake("same input"),
        "the state is reset at every step; carry (h, c) from one step to the next":
            _sample_mistake("reset"),
    })


EXERCISES = (numerical_gradient, relative_error, softmax_cross_entropy, lm_loss_and_grads,
             clip_grad_norm, truncated_bptt, sample)
