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
import re
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
    # the function returned a well-formed answer (right kinds and shapes) on some case:
    # only then does "inputs unchanged" mean anything
    answered: bool = False
    wrong: tuple[str, ...] = ()  # the compared outputs that differed on some case

    @property
    def passed(self) -> bool:
        return self.status == "passed"


# An oracle gives the expected outputs of a case; a mistake book gives {hint: outputs}.
Oracle = Callable[[Exercise, dict], dict]
MistakeBook = Callable[[Exercise, dict], dict]


_FRAME = re.compile(r'File "<cell (\d+)>", line (\d+), in (\S+)')


def raised_in(trace: str) -> tuple[str, str, str] | None:
    """(function, cell, line) of the innermost frame of the student's code in a traceback."""
    frames = _FRAME.findall(trace or "")
    if not frames:
        return None
    cell, line, fn = frames[-1]
    return fn, cell, line


def explain_error(e: StudentError, fn: str) -> str:
    if isinstance(e, NotDefined):
        return e.message
    if isinstance(e, StudentTimeout):
        return f"{fn} {e.message}"
    if e.kind == "Crash":
        return f"{fn} crashed: {e.message}"
    where = raised_in(e.trace)
    inner = where[0] if where and where[0] not in ("<module>", "<lambda>") else None
    at = f" (cell {where[1]}, line {where[2]})" if where else ""
    if e.kind == "NotImplementedError":
        if inner and inner != fn and inner not in ("__init__", "__call__"):
            return (f"{fn} calls your {inner}, which is not implemented yet (it raises "
                    f"NotImplementedError{at}): fix that first")
        return f"{fn} is not implemented yet (it still raises NotImplementedError{at})"
    trace = f"\n{e.trace.rstrip()}" if e.trace else ""
    place = ""
    if where:
        place = (f"\nraised in your {inner}, cell {where[1]}, line {where[2]}" if inner and inner != fn
                 else f"\nraised at cell {where[1]}, line {where[2]}")
    return f"{fn} raised {e.kind}: {e.message}{place}{trace}"


BLOCKS = {"G": ("i", "f", "g", "o"), "K": ("r", "z", "n")}


def gate_blocks(ex: Exercise) -> tuple[str, ...]:
    """The gate blocks of the exercise's fused axis (G = 4H: i, f, g, o; K = 3H: r, z, n)."""
    if ex.blocks is not None:
        return ex.blocks
    letters = "".join(ex.axes.values())
    return next((names for letter, names in BLOCKS.items() if letter in letters), ())


def _compare_outputs(ex: Exercise, outputs: dict, expected: dict, dims: dict, reveal: bool = True):
    """Return (worst error, list of (name, Verdict) that failed)."""
    worst, failed = 0.0, []
    for name in (n for n in expected if n in ex.axes):   # not the cache
        if name not in outputs:
            failed.append((name, compare.Verdict(False, np.inf, f"{name} is missing")))
            worst = np.inf
            continue
        v = compare.compare(outputs[name], np.asarray(expected[name], dtype=np.float64), name,
                            ex.tol, ex.axes.get(name, ""), integer=name in ex.integers,
                            reveal=reveal, blocks=gate_blocks(ex))
        worst = max(worst, v.error)
        if not v.ok:
            failed.append((name, v))
    return worst, failed


def _well_formed(ex: Exercise, outputs: dict, truth: dict) -> bool:
    """Every compared output is of the right kind and shape (its values may be wrong)."""
    return all(n in outputs and compare.as_float_array(
        outputs[n], n, np.shape(truth[n]), integer=n in ex.integers)[0] is not None
        for n in truth if n in ex.axes)


def _same_as(a, b) -> bool:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and float(np.max(compare.rel_errors(a, b), initial=0)) <= HINT_TOL


def _hint(ex: Exercise, outputs: dict, inputs: dict, mistakes: MistakeBook | None,
          expected: dict | None = None, failed: set[str] = frozenset()) -> str:
    """The known mistakes whose outputs the student's match. A mistake about some outputs
    about one or a few outputs ("dh0 is not returned": at most half of them) is named only
    when every other output is right; a mistake that leaves out outputs whose value it
    cannot tell (most of them given) is named as before."""
    if mistakes is None:
        return ""
    matches = []
    compared = {n for n in ex.axes if expected is None or n in expected}
    for hint, wrong in mistakes(ex, inputs).items():
        about = set(wrong) & compared
        if 2 * len(about) <= len(compared) and failed - about:
            continue   # an output the mistake does not touch is wrong too: not (only) this
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
    return f"looks like: {' / '.join(matches)}" if matches else ""


def wrap(text: str, width: int = 100) -> str:
    """Long lines broken at "; " (the parts of one difference), continued indented."""
    out = []
    for line in text.split("\n"):
        parts, current = line.split("; "), ""
        for part in parts:
            if current and len(current) + 2 + len(part) > width:
                out.append(current + ";")
                current = "    " + part
            else:
                current = f"{current}; {part}" if current else part
        out.append(current)
    return "\n  ".join(out)


def value_check(ex: Exercise, check: str, student, cases: list[tuple[dict, dict]],
                expected: Oracle, mistakes: MistakeBook | None = None,
                forward_ok: Callable[[], bool] | None = None, reveal: bool = True) -> CheckResult:
    """Compare outputs with the oracle on each (dims, inputs) case; credit per case.
    `reveal`: messages may quote expected values (public cases only)."""
    points = ex.points[check]
    passed, worst, notes, blocking, answered, wrong = 0, 0.0, [], None, False, set()
    for dims, inputs in cases:
        label = ", ".join(f"{k}={v}" for k, v in dims.items() if k not in ("seed", "np"))
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
        answered = answered or _well_formed(ex, outputs, truth)
        err, failed = _compare_outputs(ex, outputs, truth, dims, reveal)
        wrong.update(n for n, _ in failed)
        worst = max(worst, err)
        if not failed:
            passed += 1
            continue
        hint = _hint(ex, outputs, inputs, mistakes, truth, {n for n, _ in failed})
        # one difference per line: several outputs in one line made 600-character lines
        notes.append("\n  ".join([f"[{label}]"] + [wrap(v.message) for _, v in failed]
                                 + ([wrap(hint)] if hint else [])))
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
    return CheckResult(ex.name, check, points, score, status, message, worst, ex.tol, answered,
                       tuple(sorted(wrong)))


# Run in the student's process, where the arrays are (shared memory does not travel): call
# the function, keep copies of its outputs, then change every input in place. The grader
# decides: an output that changed with the inputs shares memory with them.
SHARE_PROBE = '''
def _grader_after_inputs_change(fn_name, *args):
    import numpy
    out = globals()[fn_name](*args)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    before = [numpy.array(o, copy=True) if isinstance(o, numpy.ndarray) else None for o in outs]
    for a in args:
        if isinstance(a, numpy.ndarray):
            a += 1.0
    return before, outs
'''


def _shared_outputs(ex: Exercise, student, inputs: dict) -> list[str]:
    """The outputs of `ex` that change when its inputs are changed after the call."""
    try:
        student.define(SHARE_PROBE, names=("_grader_after_inputs_change",))
        before, after = student.call("_grader_after_inputs_change", ex.name,
                                     *(np.array(inputs[a.name], copy=True) for a in ex.args))
    except StudentError:
        return []   # (a crash is told by the other checks)
    return [name for name, b, o in zip(ex.returns, before, after)
            if isinstance(b, np.ndarray) and isinstance(o, np.ndarray) and b.shape == o.shape
            and not np.array_equal(b, o)]


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
    shared = _shared_outputs(ex, student, inputs) if ex.no_share else []
    if shared:
        return CheckResult(ex.name, "no_modify", points, 0.0, "failed",
                           f"{', '.join(shared)} share{'s' if len(shared) == 1 else ''} memory with "
                           f"{ex.name}'s inputs (a view such as `.T` or a slice): changing an input "
                           "changes it too. The docstring says the outputs share no memory with "
                           "the inputs: return a copy (`.copy()` or np.ascontiguousarray)")
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
                a.axes for a in fwd.args if a.name == aname), floor=floor,
                reveal=reference is None, blocks=gate_blocks(ex))   # the grader's: hidden
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


# -- the check plan: one arrangement of the checks, for the notebook and for the grader ------

@dataclass
class Plan:
    """What one exercise is checked on. The notebook's check() fills it from the stored
    public cases, the grader from hidden cases it makes; `run_plan` is the same for both."""
    regular: list                       # (dims, inputs) of the "values" check
    edges: list                         # (dims, inputs) of the "edges" check
    expected: Oracle
    mistakes: MistakeBook | None = None
    forward_ok: Callable[[], bool] | None = None
    grad_inputs: dict | None = None     # the gradient check's point
    reference: object = None            # the grader's reference (finite differences of it)
    memo: dict | None = None
    reveal: bool = True                 # messages may quote expected values (not hidden ones)


def not_scored(r: CheckResult, why: str) -> CheckResult:
    return CheckResult(r.exercise, r.check, r.points, 0.0, "failed", why, r.error, r.tol)


def run_plan(ex: Exercise, student, plan: Plan,
             interrupted: Callable[[list], str | None] = lambda done: None) -> list[CheckResult]:
    """Every check of `ex`, in the order of its points; `interrupted(results so far)` says
    why the rest is not run (the grader stops after a timeout)."""
    results: list[CheckResult] = []
    for check, points in ex.points.items():
        why = interrupted(results)
        if why:
            results.append(CheckResult(ex.name, check, points, 0.0, "error", why))
            continue
        if check in ("values", "edges"):
            cases = plan.regular if check == "values" else plan.edges
            r = value_check(ex, check, student, cases, plan.expected, plan.mistakes, plan.forward_ok,
                            plan.reveal)
        elif check == "gradcheck":
            r = grad_check(ex, student, ex.grad_dims, plan.grad_inputs, plan.reference, plan.memo)
            if r.passed and ex.forward is not None and plan.forward_ok is not None and \
                    not plan.forward_ok():
                # gradients of a wrong forward are not the expected ones: in the grader (it
                # differentiates the reference) and in the notebook alike, whatever the case
                r = not_scored(r, f"your {ex.forward.name} does not give the expected outputs, so "
                                  f"its gradients cannot match the expected ones: fix "
                                  f"{ex.forward.name} first")
            if r.passed and ex.loss_output is not None and any(
                    ex.loss_output in x.wrong for x in results if x.check in ("values", "edges")):
                r = not_scored(r, f"the {ex.loss_output} {ex.name} returns is not the expected one, "
                                  "so its gradients cannot match the expected ones: fix the "
                                  f"{ex.loss_output} first")
        elif check == "no_modify":
            r = no_modify_check(ex, student, *plan.regular[0])
            answered = [x for x in results if x.check in ("values", "edges")]
            if r.passed and answered and not any(x.answered for x in answered):
                # a stub returning None leaves its inputs alone too: no points for that
                r = not_scored(r, f"not scored: {ex.name} returned no answer of the right kind "
                                  "and shape on any case, so leaving its inputs alone earns "
                                  "nothing yet")
        else:
            raise ValueError(f"{ex.name}: no check called {check!r}")
        results.append(r)
    return results
