"""`check(fn)`: the self-check a student runs in the notebook, right under an exercise.

It runs the student's function on the public cases stored in autograder/fixtures (no
solutions needed), plus the checks that need no reference at all (inputs unchanged,
gradients against finite differences of the student's own forward), prints a short table
and raises CheckFailed if anything fails, so a notebook run top to bottom stops at the
first broken exercise. The grader runs the same checks on hidden cases.
"""
from __future__ import annotations

import inspect

from autograder import checks, fixtures
from autograder.exercise import LocalStudent
from autograder.exercises import all_names, chapter_of, find

MARK = {"passed": "pass", "failed": "FAIL", "error": "FAIL"}


class CheckFailed(AssertionError):
    """A self-check found a problem (the table above it says which)."""


def run_checks(ex, chapter, student) -> list[checks.CheckResult]:
    if ex.checks_fn is not None:  # property checks need no stored answers
        return ex.checks_fn(ex, student, fixtures.PUBLIC_SEED)
    public = fixtures.Public(chapter, ex)
    cases = public.cases
    regular, edge = cases[:1], cases[1:]
    forward_ok = None
    if ex.forward is not None:
        fwd_public = fixtures.Public(chapter_of(ex.forward) or chapter, ex.forward)

        def forward_ok():
            return checks.value_check(ex.forward, "values", student, fwd_public.cases,
                                      fwd_public.expected).passed
    grad_inputs = ex.make_inputs(ex.grad_dims, fixtures.PUBLIC_SEED) if ex.grad_dims else None
    plan = checks.Plan(regular, edge, public.expected, public.mistakes, forward_ok, grad_inputs)
    return checks.run_plan(ex, student, plan)


def table(ex, results: list[checks.CheckResult]) -> str:
    got = sum(r.score for r in results)
    total = sum(r.points for r in results)
    lines = [f"Exercise {ex.number} {ex.name}: {got:g}/{total:g} points on the public checks",
             f"  {'check':<10} {'result':<6} {'points':>6}  {'max rel err':>11}  {'tolerance':>9}"]
    for r in results:
        err = "-" if r.error is None else ("inf" if r.error == float("inf") else f"{r.error:.1e}")
        tol = "-" if r.tol is None else f"{r.tol:.0e}"
        lines.append(f"  {r.check:<10} {MARK[r.status]:<6} {f'{r.score:g}/{r.points:g}':>6}  "
                     f"{err:>11}  {tol:>9}")
    shown = set()
    for r in results:
        if not r.passed and r.message not in shown:  # "not implemented yet" once, not 4 times
            shown.add(r.message)
            detail = r.message.replace("\n", "\n      ")
            lines.append(f"  {r.check}: {detail}")
    return "\n".join(lines)


def check(fn, *helpers):
    """Check your exercise function, e.g. `check(rnn_forward)`.

    Backward exercises are checked with the cache of your own forward: pass it too,
    `check(rnn_backward, rnn_forward)` (otherwise it is looked up in the notebook)."""
    __tracebackhide__ = True  # noqa: F841  (IPython hides this frame in tracebacks)
    name = getattr(fn, "__name__", None)
    caller = inspect.currentframe().f_back
    while caller is not None and str(caller.f_globals.get("__name__", "")).startswith("autograder"):
        caller = caller.f_back   # skip autograder.check, the lazy wrapper
    namespace = dict(caller.f_globals) if caller is not None else {}
    found = find(name, namespace) if name else None
    if found is None:
        raise CheckFailed(f"check() needs one of the exercise functions ({', '.join(all_names())}); "
                          f"got {name or repr(fn)}")
    chapter, ex = found
    namespace.update({f.__name__: f for f in (fn, *helpers) if hasattr(f, "__name__")})
    results = run_checks(ex, chapter, LocalStudent(namespace))
    print(table(ex, results))
    failed = [r.check for r in results if not r.passed]
    if failed:
        raise CheckFailed(f"{ex.name}: {len(failed)} check(s) failed ({', '.join(failed)}); "
                          "see the table above")
    print("All public checks pass. The grader also runs hidden cases of other shapes.")
