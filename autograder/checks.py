"""The checks every exercise gets, each with its points and a message for the student.

    values     the returned arrays match the reference on randomized cases
    edges      the same with N=1, T=1, H=1, D=1 shapes
    gradcheck  (backward) the gradients match centred finite differences of the forward
               (the reference's in the grader, the student's own in the self-check)
    no_modify  the function leaves its inputs unchanged

`expected` is an oracle: in the grader it runs the reference live on hidden inputs; in
the notebook it reads the committed fixtures. `mistakes` returns, for the same inputs,
the outputs of known-wrong implementations, so feedback can name the likely bug.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable

import numpy as np

from autograder import compare
from autograder.exercise import Exercise, WrongReturn, run, unpack
from autograder.errors import NotDefined, StudentCrashed, StudentError, StudentTimeout

FD_STEP = 1e-5
FD_TOL = 1e-6
# Centred differences resolve a gradient entry only to about 1e-10 of the loss's scale: an
# entry far smaller than the largest gradient is compared on that largest gradient's scale
# (times this floor), not on its own. A loss the exercise returns itself (a mean over a
# batch, through a head) is differenced less precisely than <output, dout>.
FD_FLOOR = 1e-4
LOSS_FD_FLOOR = 1e-3
HINT_TOL = 1e-6


@dataclass
class CheckResult:
    exercise: str
    check: str
    points: float
    score: float
    status: str                 # "passed", "failed" or "error"
    message: str = ""
    error: float | None = None  # max relative error seen
    tol: float | None = None

    @property
    def passed(self) -> bool:
        return self.status == "passed"


# An oracle gives the expected outputs of a case; a mistake book gives {hint: outputs}.
Oracle = Callable[[Exercise, dict], dict]
MistakeBook = Callable[[Exercise, dict], dict]


def explain_error(e: StudentError, fn: str) -> str:
    if isinstance(e, NotDefined):
        return e.message
    if e.kind == "NotImplementedError":
        return f"{fn} is not implemented yet (it still raises NotImplementedError)"
    if isinstance(e, StudentTimeout):
        return f"{fn} {e.message}"
    if e.kind == "Crash":
        return f"{fn} crashed: {e.message}"
    trace = f"\n{e.trace.rstrip()}" if e.trace else ""
    return f"{fn} raised {e.kind}: {e.message}{trace}"


def _compare_outputs(ex: Exercise, outputs: dict, expected: dict, dims: dict):
    """Return (worst error, list of (name, Verdict) that failed)."""
    worst, failed = 0.0, []
    for name in (n for n in expected if n in ex.axes):   # not the cache
        if name not in outputs:
            failed.append((name, compare.Verdict(False, np.inf, f"{name} is missing")))
            worst = np.inf
            continue
        v = compare.compare(outputs[name], np.asarray(expected[name], dtype=np.float64), name,
                            ex.tol, ex.axes.get(name, ""))
        worst = max(worst, v.error)
        if not v.ok:
            failed.append((name, v))
    return worst, failed


def _same_as(a, b) -> bool:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and float(np.max(compare.rel_errors(a, b), initial=0)) <= HINT_TOL


def _hint(ex: Exercise, outputs: dict, inputs: dict, mistakes: MistakeBook | None,
          expected: dict | None = None) -> str:
    if mistakes is None:
        return ""
    matches = []
    for hint, wrong in mistakes(ex, inputs).items():
        if expected is not None and all(_same_as(wrong[n], expected[n]) for n in ex.axes
                                        if n in wrong and n in expected):
            continue   # on this case the mistake changes nothing it is compared on (T = 1)
        same = True
        for name in ex.axes:
            if name not in wrong:
                continue
            a = outputs[name]
            if isinstance(a, (int, float)) and not isinstance(a, bool):
                a = np.asarray(a, dtype=np.float64)   # a count or a loss
            w = np.asarray(wrong[name], dtype=np.float64)
            if not isinstance(a, np.ndarray) or a.shape != w.shape or \
                    float(np.max(compare.rel_errors(a.astype(np.float64), w), initial=0)) > HINT_TOL:
                same = False
                break
        if same:
            matches.append(hint)
    return f"; looks like: {' / '.join(matches)}" if matches else ""


def value_check(ex: Exercise, check: str, student, cases: list[tuple[dict, dict]],
                expected: Oracle, mistakes: MistakeBook | None = None,
                forward_ok: Callable[[], bool] | None = None) -> CheckResult:
    """Compare outputs with the oracle on each (dims, inputs) case; credit per case."""
    points = ex.points[check]
    passed, worst, notes, blocking = 0, 0.0, [], None
    for dims, inputs in cases:
        label = ", ".join(f"{k}={v}" for k, v in dims.items() if k != "seed")
        try:
            outputs, _ = run(ex, student, inputs)
        except StudentError as e:
            notes.append(explain_error(e, ex.name))
            worst = np.inf
            if isinstance(e, (NotDefined, StudentTimeout, StudentCrashed)) or \
                    e.kind == "NotImplementedError":
                blocking = notes[-1]
                break  # the same would happen on every other case
            continue
        except WrongReturn as e:
            notes.append(str(e))
            worst, blocking = np.inf, str(e)
            break
        truth = expected(ex, inputs)
        err, failed = _compare_outputs(ex, outputs, truth, dims)
        worst = max(worst, err)
        if not failed:
            passed += 1
            continue
        msg = "; ".join(v.message for _, v in failed) + _hint(ex, outputs, inputs, mistakes, truth)
        notes.append(f"[{label}] {msg}")
    if passed < len(cases) and ex.forward is not None and forward_ok is not None and not forward_ok():
        # first: the three failing cases shown after it would otherwise hide it
        notes.insert(0, f"note: this uses the cache from your {ex.forward.name}, which fails "
                        "its own checks: fix it first")
    score = round(points * passed / len(cases), 2) if cases else 0.0
    status = "passed" if passed == len(cases) else ("error" if worst == np.inf and not passed else "failed")
    head = f"{passed}/{len(cases)} cases pass"
    message = head if not notes else head + "\n" + "\n".join(notes[:3])
    if blocking is not None and not passed:
        message = blocking  # nothing ran: say why, once
    return CheckResult(ex.name, check, points, score, status, message, worst, ex.tol)


def no_modify_check(ex: Exercise, student, dims: dict, inputs: dict) -> CheckResult:
    """Does the function leave its array arguments unchanged?"""
    points = ex.points["no_modify"]
    try:
        _, after = run(ex, student, inputs, return_args=True)
    except (StudentError, WrongReturn) as e:
        msg = explain_error(e, ex.name) if isinstance(e, StudentError) else str(e)
        return CheckResult(ex.name, "no_modify", points, 0.0, "error", msg)
    changed = [name for name, value in after.items()
               if isinstance(value, np.ndarray) and name in inputs
               and (value.shape != inputs[name].shape or not np.array_equal(value, inputs[name]))]
    if changed:
        return CheckResult(ex.name, "no_modify", points, 0.0, "failed",
                           f"{ex.name} modified its input{'s' if len(changed) > 1 else ''} "
                           f"{', '.join(changed)} in place (e.g. `+=` on an argument); "
                           "work on a copy or build a new array")
    return CheckResult(ex.name, "no_modify", points, points, "passed", "inputs unchanged")


def _forward_outputs(ex: Exercise, student, args: dict) -> dict:
    fwd = ex.forward
    return unpack(student.call(fwd.name, *(args[a.name] for a in fwd.args)), fwd.returns, fwd.name)


def _digest(inputs: dict) -> str:
    h = hashlib.sha256()
    for name in sorted(inputs):
        a = np.ascontiguousarray(inputs[name])
        h.update(f"{name}{a.dtype}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def grad_check(ex: Exercise, student, dims: dict, inputs: dict, reference=None,
               memo: dict | None = None) -> CheckResult:
    """Compare the student's backward with centred finite differences of the forward:
    L = sum over outputs of <output, dout>. An exercise with a `loss_output` returns its own
    loss with the gradients: then L is that output.

    In the grader (`reference` given) the differences are taken of the reference forward,
    in this process: nothing the student's code computes enters them, and the student's
    process is called a few times, not twice per entry. The student's forward must give the same
    loss at the point checked, or its backward could not be expected to match. In the
    notebook's self-check (no reference) they are taken of the student's own forward.
    `memo` keeps the reference's differences for inputs seen before (a class shares them)."""
    points = ex.points["gradcheck"]
    fwd = ex.forward or ex   # what is differentiated, and whose arguments
    oracle = student if reference is None else reference
    try:
        analytic, _ = run(ex, student, inputs)

        def loss_of(who, args, out=None):
            if ex.loss_output is not None:
                value = (run(ex, who, args)[0] if out is None else out)[ex.loss_output]
                try:
                    loss = float(value) if np.ndim(value) == 0 else np.nan
                except (TypeError, ValueError):
                    loss = np.nan
                if not np.isfinite(loss):
                    raise WrongReturn(f"{ex.name} should return the loss as one finite number")
                return loss
            out = _forward_outputs(ex, who, args) if out is None else out
            total = 0.0
            for oname, dname in ex.dout_of.items():
                o = out[oname]
                if not isinstance(o, np.ndarray) or o.shape != inputs[dname].shape:
                    raise WrongReturn(f"{fwd.name} returned {oname} with the wrong shape")
                with np.errstate(all="ignore"):   # inf or NaN outputs: told below
                    total += float(np.sum(o.astype(np.float64) * inputs[dname]))
            return total

        base = {a.name: inputs[a.name].copy() for a in fwd.args}

        def differences():
            numerics = {}
            for gname, aname in ex.grad_of.items():
                numeric = np.zeros_like(base[aname])
                for i in np.ndindex(base[aname].shape):
                    plus = dict(base); plus[aname] = base[aname].copy(); plus[aname][i] += FD_STEP
                    minus = dict(base); minus[aname] = base[aname].copy(); minus[aname][i] -= FD_STEP
                    numeric[i] = (loss_of(oracle, plus) - loss_of(oracle, minus)) / (2 * FD_STEP)
                numerics[gname] = numeric
            return numerics, (loss_of(reference, base) if reference is not None else None)

        if reference is not None and memo is not None:
            key = (ex.name, id(getattr(reference, "namespace", reference)), _digest(inputs))
            if key not in memo:
                memo[key] = differences()
            numerics, true = memo[key]
        else:
            numerics, true = differences()
        mismatch = 0.0
        if reference is not None:
            mine = loss_of(student, base, analytic if ex.loss_output is not None else None)
            mismatch = abs(mine - true) / max(abs(true), 1e-12)
            mismatch = mismatch if np.isfinite(mismatch) else np.inf
        worst, notes = 0.0, []
        largest = max(float(np.max(np.abs(n), initial=0)) for n in numerics.values())
        floor = (FD_FLOOR if ex.loss_output is None else LOSS_FD_FLOOR) * largest
        for gname, aname in ex.grad_of.items():
            v = compare.compare(analytic[gname], numerics[gname], gname, FD_TOL, "".join(
                a.axes for a in fwd.args if a.name == aname), floor=floor)
            worst = max(worst, v.error)
            if not v.ok:
                notes.append(f"{gname} vs finite differences: {v.message}")
    except StudentError as e:
        return CheckResult(ex.name, "gradcheck", points, 0.0, "error", explain_error(e, ex.name))
    except WrongReturn as e:
        return CheckResult(ex.name, "gradcheck", points, 0.0, "error", str(e))
    if mismatch > 1e-8:
        notes.insert(0, f"your {fwd.name} does not give the expected outputs (relative "
                        f"difference {mismatch:.2g} in the loss the check differentiates), so "
                        f"its gradients cannot match: fix {fwd.name} first")
    if notes:
        return CheckResult(ex.name, "gradcheck", points, 0.0, "failed",
                           "\n".join(notes[:3]), worst, FD_TOL)
    return CheckResult(ex.name, "gradcheck", points, points, "passed",
                       "gradients match finite differences of the forward", worst, FD_TOL)
