"""`check(fn)`: the self-check a student runs in the notebook, right under an exercise.

It runs the student's function on the public cases stored in autograder/fixtures (no
solutions needed), plus the checks that need no reference at all (inputs unchanged,
gradients against finite differences of the student's own forward), prints a short table
and raises CheckFailed if anything fails, so a notebook run top to bottom stops at the
first broken exercise. The grader runs the same checks on hidden cases.
"""
from __future__ import annotations

import builtins
import inspect
import re

from autograder import cascade, checks, fixtures
from autograder.notebook import program_from_cells, run_cells
from autograder.exercise import LocalStudent
from autograder.exercises import all_names, chapter_of, find

MARK = {"passed": "pass", "failed": "FAIL", "error": "FAIL"}


class CheckFailed(AssertionError):
    """A self-check found a problem (the table above it says which)."""


def public_plan(ex, chapter, student, reference=None, memo=None) -> checks.Plan:
    """The plan of `ex` on its stored public cases: what check() runs, and what the grader
    runs with `public=True` (with its reference for the gradient check)."""
    public = fixtures.Public(chapter, ex)
    cases = public.cases
    forward_ok = None
    if ex.forward is not None:
        fwd_public = fixtures.Public(chapter_of(ex.forward) or chapter, ex.forward)
        verdict = {}

        def forward_ok():
            if "ok" not in verdict:
                verdict["ok"] = checks.value_check(ex.forward, "values", student, fwd_public.cases,
                                                   fwd_public.expected).passed
            return verdict["ok"]
    grad_inputs = ex.make_inputs(ex.grad_dims, fixtures.PUBLIC_SEED) if ex.grad_dims else None
    return checks.Plan(cases[:1], cases[1:], public.expected, public.mistakes, forward_ok,
                       grad_inputs, reference, memo)


def run_checks(ex, chapter, student) -> list[checks.CheckResult]:
    if ex.checks_fn is not None:  # property checks need no stored answers
        return ex.checks_fn(ex, student, fixtures.PUBLIC_SEED)
    return checks.run_plan(ex, student, public_plan(ex, chapter, student))


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


def kernel_history() -> list[list[tuple[int, str, str]]] | None:
    """The cells this kernel has run, in order, as (execution count, "code", source): from
    its input history, and (for front ends that run cells without storing history, such
    as nbval) from the compiled cells IPython keeps for tracebacks. None outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    if shell is None or not hasattr(shell, "history_manager"):
        return None
    raw = shell.history_manager.input_hist_raw
    stored = [(k, "code", src) for k, src in enumerate(raw) if k and isinstance(src, str)]
    compiled = []
    names = getattr(getattr(shell, "compile", None), "_filename_map", None)
    if isinstance(names, dict):
        import linecache
        for filename, count in names.items():
            entry = linecache.cache.get(filename)
            if entry and isinstance(entry[2], list):
                compiled.append((count, "code", "".join(entry[2])))
    return [stored, compiled]


def as_the_grader_loads(cells: list[tuple[int, str, str]]) -> tuple[dict, list[str]]:
    """Run `cells` exactly as the grader runs a notebook: the same selection of statements
    (notebook.program_from_cells) and the same loader (child.load), in a fresh namespace.
    Returns (namespace, messages for the student)."""
    program = program_from_cells(cells)
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    problems = program.problems + run_cells([c.runnable() for c in program.cells], namespace)
    return namespace, problems, program


def cascade_notes(ex, student, namespace: dict, uses: dict) -> list[str]:
    """The grader's pointers at failing functions `ex` depends on (see `cascade`)."""
    verdicts: dict[str, bool] = {}

    def fails(name: str) -> bool:
        if name not in verdicts:
            found = find(name, namespace)
            verdicts[name] = False
            if found is not None and name in namespace:
                chapter, other = found
                verdicts[name] = not all(r.passed for r in run_checks(other, chapter, student))
        return verdicts[name]
    return cascade.notes(ex.name, uses, cascade.forwards(), fails)


def in_kernel_words(message: str) -> str:
    """"cell 7" in the grader is the 7th cell of the file; in the kernel, the cell run as [7]."""
    return re.sub(r"\b([Cc])ell (\d+)", r"\1ell [\2]", message)


def check(fn, *helpers):
    """Check your exercise function, e.g. `check(rnn_forward)`.

    In a notebook, your definitions are loaded again from the cells you have run, by the
    grader's own rule (see the Setup section), so what passes here passes in the grader.
    Backward exercises are checked with the cache of your own forward, found the same way."""
    __tracebackhide__ = True  # noqa: F841  (IPython hides this frame in tracebacks)
    name = getattr(fn, "__name__", None)
    caller = inspect.currentframe().f_back
    while caller is not None and str(caller.f_globals.get("__name__", "")).startswith("autograder"):
        caller = caller.f_back   # skip autograder.check, the lazy wrapper
    if name not in all_names() and caller is not None:   # a lambda or partial: by its name
        name = next((k for k, v in caller.f_globals.items() if v is fn and k in all_names()), name)
    histories = kernel_history()
    history, problems, uses = None, [], {}
    for cells in histories or ():   # the first history that defines the function
        if name and any(name in src for _, _, src in cells):
            namespace, problems, program = as_the_grader_loads(cells)
            if name in namespace:
                history, uses = cells, program.uses
                break
    if history is None:   # plain Python (a script, a test): the caller's definitions as they are
        problems = []
        if histories is not None and name in all_names():
            problems = [f"`{name}` is not defined by a top-level def in the cells you have run, "
                        "and the grader looks for one there: it is checked here as the kernel "
                        "has it, the grader will not find it"]
        namespace = dict(caller.f_globals) if caller is not None else {}
        namespace.update({f.__name__: f for f in (fn, *helpers) if hasattr(f, "__name__")})
    if history is None and name:
        namespace.setdefault(name, fn)
    found = find(name, namespace) if name else None
    if found is None:
        raise CheckFailed(f"check() needs one of the exercise functions ({', '.join(all_names())}); "
                          f"got {name or repr(fn)}")
    chapter, ex = found
    for p in problems:   # what the grader will say about the notebook too
        print(f"Note (the grader will say this too): {in_kernel_words(p)}")
    student = LocalStudent(namespace)
    results = run_checks(ex, chapter, student)
    if not all(r.passed for r in results):
        cascade.add_notes(results, cascade_notes(ex, student, namespace, uses))
    if history is not None:
        for r in results:
            r.message = in_kernel_words(r.message)
    print(table(ex, results))
    failed = [r.check for r in results if not r.passed]
    if failed:
        raise CheckFailed(f"{ex.name}: {len(failed)} check(s) failed ({', '.join(failed)}); "
                          "see the table above")
    print("All public checks pass. The grader also runs hidden cases of other shapes.")
