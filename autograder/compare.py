"""Compare a student's array with the expected one and say how they differ.

The error of one entry is |a - e| / max(|a| + |e|, floor), the relative error cs231n uses,
with a floor proportional to the array's scale so that entries that should be ~0 do not
turn rounding noise into a huge relative error.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FLOOR = 1e-6  # times the largest |expected| entry
FACTOR_MIN = 0.01  # "times k" is said only when |k - 1| is at least this


@dataclass
class Verdict:
    ok: bool
    error: float          # max relative error (inf when shapes/types are wrong)
    message: str = ""     # where and how it differs (empty when ok)


def _fmt_index(name: str, idx) -> str:
    return f"{name}[{', '.join(str(int(i)) for i in idx)}]" if len(idx) else name


def _as_int(value, name: str) -> tuple[np.ndarray | None, str]:
    """An output the docstring calls an int: a Python or numpy integer (or a 0-d integer
    array), never a float or a bool."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return np.asarray(value, dtype=np.float64), ""
    if isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind in "iu":
        return value.astype(np.float64), ""
    what = getattr(value, "type_name", None) or type(value).__name__
    if isinstance(value, (float, np.floating)) or (isinstance(value, np.ndarray) and value.dtype.kind == "f"):
        return None, (f"{name} should be an int, as the docstring says; got the {what} {float(np.asarray(value))!r} "
                      "(`/` makes a float: use integer arithmetic, or int(...))")
    return None, f"{name} should be an int, as the docstring says; got a {what}"


def as_float_array(value, name: str, shape: tuple, axes: str = "",
                   integer: bool = False) -> tuple[np.ndarray | None, str]:
    """Validate a returned value; return (array, "") or (None, message for the student).
    `integer`: the value is a scalar the docstring calls an int."""
    if integer:
        return _as_int(value, name)
    if not isinstance(value, np.ndarray):
        if isinstance(value, (float, int)) and not isinstance(value, bool) and shape == ():
            return np.asarray(value, dtype=np.float64), ""
        what = type(value).__name__ if not hasattr(value, "type_name") else value.type_name
        return None, f"{name} should be a numpy array of shape {shape}, got a {what}"
    if value.dtype.kind not in "fiu":
        return None, f"{name} has dtype {value.dtype}; expected float64"
    if value.shape != tuple(shape):
        letters = f" ({', '.join(axes)})" if axes and len(axes) == len(shape) else ""
        hint = ""
        if sorted(value.shape) == sorted(shape) and value.shape != tuple(shape):
            hint = "; the same sizes in another order: an axis is transposed or swapped"
        elif value.size == int(np.prod(shape)):
            hint = "; the same number of entries: a reshape went wrong"
        return None, f"{name} has shape {value.shape}, expected {tuple(shape)}{letters}{hint}"
    if value.dtype != np.float64:
        return value.astype(np.float64), ""
    return value, ""


def rel_errors(actual: np.ndarray, expected: np.ndarray, floor: float | None = None) -> np.ndarray:
    """`floor`, when given, replaces the array's own floor (FLOOR times its largest entry)."""
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    floor = max(FLOOR * scale if floor is None else floor, 1e-300)
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.asarray(np.abs(actual - expected) / np.maximum(np.abs(actual) + np.abs(expected), floor))
    err[~np.isfinite(actual)] = np.inf   # (0-d arrays included)
    return err


def compare(actual, expected: np.ndarray, name: str, tol: float, axes: str = "",
            floor: float | None = None, integer: bool = False, reveal: bool = True,
            blocks: tuple[str, ...] = ()) -> Verdict:
    """Is `actual` the expected array within `tol`? If not, say where and how. `reveal`:
    the message may quote expected values (public cases; never hidden ones). `blocks`:
    the names of the gate blocks of a fused axis ("G" or "K" in `axes`)."""
    arr, problem = as_float_array(actual, name, expected.shape, axes, integer)
    if arr is None:
        return Verdict(False, np.inf, problem)
    if arr.size == 0:
        return Verdict(True, 0.0)
    err = rel_errors(arr, expected, floor)
    worst = float(np.max(err))
    if worst <= tol:
        return Verdict(True, worst)
    with np.errstate(all="ignore"):   # (inf entries: told in the message)
        message = describe(arr, expected, err, name, tol, axes, reveal, blocks)
    dtype = getattr(actual, "dtype", None)
    if not integer and dtype is not None and dtype != np.float64:
        low = dtype.kind == "f" and dtype.itemsize < 8
        close = float(np.max(rel_errors(arr, expected), initial=0)) < (1e-5 if low else 0.5)
        message = (f"{name} has dtype {dtype}, not float64"
                   + (f" (its values match to {dtype}'s precision only)" if low and close else
                      " (integers: the values were rounded or truncated)" if dtype.kind in "iub" else "")
                   + ": compute in float64 (an array made with a dtype, or an input cast?)\n" + message)
    return Verdict(False, worst, message)


def describe(a: np.ndarray, e: np.ndarray, err: np.ndarray, name: str, tol: float, axes: str,
             reveal: bool = True, blocks: tuple[str, ...] = ()) -> str:
    """A few sentences a student can act on, one per line."""
    bad = err > tol
    idx = np.unravel_index(int(np.argmax(err)), err.shape)
    parts = []
    if not np.all(np.isfinite(a)):
        k = int(np.sum(~np.isfinite(a)))
        first = np.argwhere(~np.isfinite(a))[0]
        parts.append(f"{name} contains NaN or inf in {k} of {a.size} entries "
                     f"(first at {_fmt_index(name, first)})")
    else:
        value = (f"got {a[idx]:.6g}, expected {e[idx]:.6g}" if reveal else
                 f"got {a[idx]:.6g}, relative error {err[idx]:.2g}")
        parts.append(f"{int(bad.sum())} of {a.size} entries differ; worst at "
                     f"{_fmt_index(name, idx)}: {value}")
    # which step of time is the first to differ (axis T), a strong hint for loop bugs
    if "T" in axes and len(axes) == a.ndim and a.shape[axes.index("T")] > 1:
        t_axis = axes.index("T")
        per_t = np.any(bad, axis=tuple(i for i in range(a.ndim) if i != t_axis))
        wrong = np.flatnonzero(per_t)
        if len(wrong) and len(wrong) < len(per_t):
            parts.append(f"timesteps {_ranges(wrong)} differ, the others match")
        elif len(wrong):
            parts.append("every timestep differs")
    parts.extend(_by_block(bad, axes, blocks, name))
    parts.extend(_patterns(a, e, tol))
    return "; ".join(parts)


def _by_block(bad: np.ndarray, axes: str, blocks: tuple[str, ...], name: str) -> list[str]:
    """Which gate blocks of a fused axis (i, f, g, o along 4H) hold the differences."""
    fused = next((k for k, letter in enumerate(axes) if letter in "GK"), None)
    if fused is None or len(blocks) < 2 or len(axes) != bad.ndim or bad.shape[fused] % len(blocks):
        return []
    per = np.split(bad, len(blocks), axis=fused)
    wrong = [b for b, part in zip(blocks, per) if part.any()]
    if not wrong or len(wrong) == len(blocks):
        return []
    right = [b for b in blocks if b not in wrong]
    return [f"by gate block: the {', '.join(wrong)} block{'s' if len(wrong) > 1 else ''} of "
            f"{name} differ{'' if len(wrong) > 1 else 's'}; {', '.join(right)} match"
            f"{'es' if len(right) == 1 else ''}"]


def _ranges(ts) -> str:
    ts = list(map(int, ts))
    out, start = [], ts[0]
    for prev, cur in zip(ts, ts[1:] + [None]):
        if cur != prev + 1:
            out.append(f"t={start}" if start == prev else f"t={start}..{prev}")
            start = cur
    return ", ".join(out)


def _close(a, b, tol=1e-6) -> bool:
    return a.shape == b.shape and float(np.max(rel_errors(a, b), initial=0.0)) <= tol


def _patterns(a: np.ndarray, e: np.ndarray, tol: float) -> list[str]:
    """Simple relations between the two arrays that point at a kind of bug."""
    if not np.all(np.isfinite(a)):
        return []
    if not np.any(a) and np.any(e):
        return ["it is all zeros (never filled in, or a gradient not accumulated?)"]
    if _close(a, -e):
        return ["it is exactly the negative of the expected value (a sign error)"]
    if np.any(e) and e.size > 1:
        k = float(np.sum(a * e) / np.sum(e * e))
        # only a factor clearly not 1: a ratio of 1.0004 is some other bug that happens to
        # scale a tiny case (H=1) uniformly, and "times 1" would read as no difference at all
        if abs(k) > 1e-12 and abs(k - 1) >= FACTOR_MIN and _close(a, k * e):
            return [f"it is the expected value times {_factor(k)} (a missing or extra factor)"]
    return []


def _factor(k: float) -> str:
    """k with enough digits that it never reads as 1 (|k - 1| >= FACTOR_MIN)."""
    for digits in range(4, 10):
        text = f"{k:.{digits}g}"
        if float(text) != 1.0:
            return text
    return repr(k)


def nan_free(*arrays) -> bool:
    return all(np.all(np.isfinite(x)) for x in arrays if isinstance(x, np.ndarray))
