"""Chapter 4's known mistakes (instructor only; see autograder/mistakes/__init__.py)."""
from __future__ import annotations

from itertools import permutations

import numpy as np

from autograder.exercises.gru import ORDER


def _sigmoid(a):
    return 0.5 * (1.0 + np.tanh(0.5 * a))


def _blocks(a):
    H = a.shape[-1] // 3
    return a[..., :H], a[..., H:2 * H], a[..., 2 * H:]


def _gru(i, reset="before", torch_z=False, bias=True, bh_inside=True, act=np.tanh, use_bh=True):
    """A GRU step with a switchable mistake (numpy, for feedback only)."""
    x, h = i["x"], i["h_prev"]
    bx = i["bx"] if "bx" in i else (i["b"] if bias else 0 * i["b"])
    bh = i["bh"] if "bh" in i and use_bh else 0.0
    xr, xz, xn = _blocks(x @ i["Wx"] + bx)                   # (N, H) each
    Whr, Whz, Whn = _blocks(i["Wh"])
    bhr, bhz, bhn = _blocks(bh) if np.ndim(bh) else (0.0, 0.0, 0.0)
    r = _sigmoid(xr + h @ Whr + bhr)
    z = _sigmoid(xz + h @ Whz + bhz)
    if reset == "before":
        n = act(xn + (r * h) @ Whn + bhn)
    elif reset == "after":
        n = act(xn + r * (h @ Whn + bhn)) if bh_inside else act(xn + r * (h @ Whn) + bhn)
    else:
        n = act(xn + h @ Whn + bhn)
    return {"h_next": z * h + (1 - z) * n if torch_z else (1 - z) * h + z * n}


def _reorder(W, order):
    H = W.shape[-1] // 3
    blocks = [W[..., k * H:(k + 1) * H] for k in range(3)]
    return np.concatenate([blocks[order.index(g)] for g in ORDER], axis=-1)


def _order_hint(order):
    return f"the gate blocks are read in the order {', '.join(order)}; the fused weights are in the order r, z, n"


ORDERS = ["".join(p) for p in permutations(ORDER) if "".join(p) != ORDER]
TORCH_Z = "z is used the PyTorch way, h = z*h_prev + (1-z)*n; this book mixes (1-z)*h_prev + z*n"


def _step_order(order):
    return lambda ref, i: {"h_next": ref.call(
        "gru_step_forward", i["x"], i["h_prev"], _reorder(i["Wx"], order), _reorder(i["Wh"], order),
        _reorder(i["b"], order))[0]}


STEP_MISTAKES = {
    **{_order_hint(o): _step_order(o) for o in ORDERS},
    TORCH_Z: lambda ref, i: _gru(i, torch_z=True),
    "the reset is applied after the product, r*(h_prev Wh_n): that is the reset-after form (Exercise 4.3); "
    "Exercise 4.1 resets h_prev before the product": lambda ref, i: _gru(i, reset="after"),
    "the reset gate is not used in the candidate": lambda ref, i: _gru(i, reset="none"),
    "the bias is left out": lambda ref, i: _gru(i, bias=False),
    "the candidate uses the sigmoid; it needs tanh, to propose values in (-1, 1)":
        lambda ref, i: _gru(i, act=_sigmoid),
}

def _seq(i, **change):
    args = {k: i[k] for k in ("x", "h0", "Wx", "Wh", "b")}
    args.update(change)
    return list(args.values())


def _shifted(ref, i):
    """h[:, t] holds the state before step t (h0 first), not after it."""
    h, _ = ref.call("gru_forward", *_seq(i))
    return {"h": np.concatenate([i["h0"][:, None], h[:, :-1]], axis=1)}


def _from_h0_every_step(ref, i):
    steps = [ref.call("gru_step_forward", i["x"][:, t], i["h0"], i["Wx"], i["Wh"], i["b"])[0]
             for t in range(i["x"].shape[1])]
    return {"h": np.stack(steps, axis=1)}


FORWARD_MISTAKES = {
    **{_order_hint(o): (lambda o: lambda ref, i: {"h": ref.call("gru_forward", *_seq(
        i, Wx=_reorder(i["Wx"], o), Wh=_reorder(i["Wh"], o), b=_reorder(i["b"], o)))[0]})(o)
       for o in ORDERS},
    "h is not carried: every step starts from h0": _from_h0_every_step,
    "h is one step late: h[:, t] must be the state after reading x[:, t], not before":
        _shifted,
    "the bias is left out": lambda ref, i: {"h": ref.call("gru_forward", *_seq(i, b=0 * i["b"]))[0]},
}

RESET_AFTER_MISTAKES = {
    TORCH_Z: lambda ref, i: _gru(i, reset="after", torch_z=True),
    "the reset is applied before the product (the original form of Exercise 4.1); here it multiplies "
    "h_prev Wh_n + bh_n": lambda ref, i: _gru(i, reset="before"),
    "bh_n is added outside the reset: r*(h_prev Wh_n) + bh_n; it belongs inside, r*(h_prev Wh_n + bh_n)":
        lambda ref, i: _gru(i, reset="after", bh_inside=False),
    "bh is left out: the reset-after step adds both biases, bx and bh":
        lambda ref, i: _gru(i, reset="after", use_bh=False),
}

TORCH_MISTAKES = {
    "z is not flipped: PyTorch's z is 1 - the book's z, so negate the z block of weights and biases":
        lambda ref, i: {"Wx": i["weight_ih"].T, "Wh": i["weight_hh"].T,
                        "bx": i["bias_ih"], "bh": i["bias_hh"]},
    "the z block of the biases is not negated (the weights' is)":
        lambda ref, i: {"bx": i["bias_ih"], "bh": i["bias_hh"]},
}


MISTAKES = {
    "gru_step_forward": STEP_MISTAKES,
    "gru_forward": FORWARD_MISTAKES,
    "gru_step_forward_reset_after": RESET_AFTER_MISTAKES,
    "gru_weights_from_torch": TORCH_MISTAKES,
}
