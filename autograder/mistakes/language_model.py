"""Chapter 7's known mistakes (instructor only; see autograder/mistakes/__init__.py).

Each is the reference with one thing switched: a forward difference, a loss summed or
averaged over the batch only, the output layer's gradient from the last step only, a state
not carried, clipping per parameter, a greedy draw...
"""
from __future__ import annotations

import numpy as np

from autograder.exercises.language_model import PARAMS, family_function


def known_gradient(kind: str, x, W, A):
    """The exact gradient of a FAMILY function (tests check the reference against it)."""
    if kind == "quadratic":
        return (0.5 * (A + A.T) @ x.ravel()).reshape(x.shape)
    if kind == "tanh":
        return W * (1.0 - np.tanh(x) ** 2)
    e = np.exp(x - x.max())
    return e / e.sum()


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


def _relerr(a, b, how=""):
    num = (a - b) if how == "signed" else np.abs(a - b)
    den = {"no floor": np.abs(a) + np.abs(b), "one-sided": np.maximum(np.abs(b), 1e-8),
           "a + b": np.maximum(a + b, 1e-8)}.get(how, np.maximum(np.abs(a) + np.abs(b), 1e-8))
    with np.errstate(invalid="ignore", divide="ignore"):
        e = num / den
    return {"error": float(np.mean(e) if how == "mean" else np.max(e))}


def _relerr_mistake(how):
    return lambda ref, i: _relerr(i["a"], i["b"], how)


def _softmax(s):
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


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


MISTAKES = {
    "numerical_gradient": {
        "a forward difference (f(x + h) - f(x)) / h; the centred difference "
        "(f(x + h) - f(x - h)) / (2h) is far more accurate": _numgrad_mistake("forward"),
        "x[i] is not put back after it was changed, so later entries are differentiated at "
        "a shifted point (restore x[i] = old before moving on)": _numgrad_mistake("no restore"),
        "the difference is divided by h; the two points are 2h apart, so divide by 2h":
            _numgrad_mistake("divide by h"),
    },
    "relative_error": {
        "the error is averaged over the entries; a gradient check reports the largest one":
            _relerr_mistake("mean"),
        "the absolute value of the difference is missing: |a - b|": _relerr_mistake("signed"),
        "the difference is divided by |b| only; the book's relative error divides by "
        "|a| + |b|": _relerr_mistake("one-sided"),
        "the denominator is a + b without absolute values (it can be negative or 0)":
            _relerr_mistake("a + b"),
    },
    "softmax_cross_entropy": {
        "the loss is summed over the N T predictions instead of averaged": _sce_mistake("sum"),
        "the loss is averaged over the batch only (CS231n's convention sums over time); this "
        "book averages over all N T predictions, so the loss is bits per character times ln 2":
            _sce_mistake("batch only"),
        "the loss is averaged but dscores is not divided by N T": _sce_mistake("loss only"),
        "dscores is missing the -1 at the target: it is (p - onehot(y)) / (N T), not p / (N T)":
            _sce_mistake("no -1"),
        "dscores has the wrong sign: it is (p - onehot(y)) / (N T)": _sce_mistake("sign"),
    },
    "lm_loss_and_grads": {
        "only the last step's hidden state gets a gradient (chapter 6's glue); here every "
        "step has a loss, so dh = dscores W_out^T at every step": _lm_mistake(direct="last"),
        "dW_out and db_out use the last step only; the output layer is used at every step, so "
        "its gradients are summed over n and t": _lm_mistake(out_sum="last"),
        "the state returned is the first step's (h[:, 0], c[:, 0]); the next chunk starts from "
        "the last one, (h[:, -1], c[:, -1])": _lm_mistake(state="first"),
        "the state is returned as (c, h); return (h_T, c_T)": _lm_mistake(state="swapped"),
        "the forward starts from zero states instead of the given h0, c0 (the carried state)":
            _lm_mistake(start="zeros"),
    },
    "clip_grad_norm": {
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
    },
    "truncated_bptt": {
        "the state is reset to zeros at every chunk; truncated BPTT carries (h, c) from one "
        "chunk to the next (only the gradient is cut)": _tbptt_mistake(carry=False),
        "the targets are not shifted: y must be the next characters, data[:, s+1 : s+T+1]":
            _tbptt_mistake(shift=0),
        "the last, shorter chunk is dropped; it still holds characters to learn from":
            _tbptt_mistake(drop_last=True),
        "the gradients are not clipped before the update": _tbptt_mistake(clip=False),
        "the gradients of all chunks are added up and applied once at the end; truncated BPTT "
        "updates after every chunk": _tbptt_mistake(once=True),
    },
    "sample": {
        "the most likely character is taken at every step (greedy); draw it with "
        "rng.choice(V, p=p[i])": _sample_mistake("greedy"),
        "the scores are multiplied by the temperature; divide them: softmax(scores / temperature)":
            _sample_mistake("times"),
        "the start characters are fed at every step; feed back the characters just drawn":
            _sample_mistake("same input"),
        "the state is reset at every step; carry (h, c) from one step to the next":
            _sample_mistake("reset"),
    },
}
