"""Does check() in the notebook say what the grader gives on the same (public) cases?

A corpus of notebooks, built from every chapter's solution with edits: correct ones
written in unusual styles (lambdas, partial, decorators, computed constants, dicts of
parameters, helper classes, %%time cells, one big cell, redefinitions, demo cells) and
wrong ones written in common ways (stubs, None templates, a value set only in a loop, an
undefined helper, a small error, in-place changes, float32). For each notebook and each
exercise, the self-check's verdict (check() as the kernel runs it: the notebook's cells
loaded by the grader's rule, run in this process, on the stored public cases) must equal
the grader's (the file read by the grader, run in its sandbox, on the same public cases),
check by check.
"""
from __future__ import annotations

import ast
import json
import textwrap
from pathlib import Path

import pytest

from autograder.exercise import LocalStudent
from autograder.exercises import CHAPTERS
from autograder.grade import grade_notebook
from autograder.notebook import read_cells
from autograder.selfcheck import as_the_grader_loads, run_checks
from conftest import ROOT

# -- edits: each takes the notebook's cells and the chapter, and returns new cells ----------


def _function_exercises(chapter, cells):
    """Names of the chapter's exercises that are functions defined in these cells."""
    names = {ex.name for ex in chapter.EXERCISES}
    found = []
    for c in cells:
        if c["cell_type"] != "code":
            continue
        try:
            tree = ast.parse(_src(c))
        except SyntaxError:
            continue
        found += [s.name for s in tree.body if isinstance(s, ast.FunctionDef) and s.name in names]
    return found


def _src(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _code(src):
    return {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
            "source": textwrap.dedent(src).strip() + "\n"}


def _map_functions(cells, names, edit):
    """Apply edit(FunctionDef) -> list of statements to each top-level def in `names`."""
    out = []
    for c in cells:
        if c["cell_type"] != "code":
            out.append(c)
            continue
        src = _src(c)
        try:
            tree = ast.parse(src)
        except SyntaxError:
            out.append(c)
            continue
        if not any(isinstance(s, ast.FunctionDef) and s.name in names for s in tree.body):
            out.append(c)
            continue
        body = []
        for s in tree.body:
            body += edit(s) if isinstance(s, ast.FunctionDef) and s.name in names else [s]
        out.append({**c, "source": ast.unparse(ast.Module(body=body, type_ignores=[])) + "\n"})
    return out


def _stmts(src):
    return ast.parse(textwrap.dedent(src)).body


def _prepend_to_body(fn, src):
    """Insert statements at the start of a function's body (after its docstring)."""
    first = 1 if fn.body and isinstance(fn.body[0], ast.Expr) and isinstance(
        getattr(fn.body[0], "value", None), ast.Constant) else 0
    fn.body[first:first] = _stmts(src)
    return [fn]


def _first(chapter, cells):
    return _function_exercises(chapter, cells)[:1]


def lambda_wrappers(chapter, cells):
    names = _function_exercises(chapter, cells)

    def edit(fn):
        real = fn.name
        fn.name = f"_{real}_impl"
        return [fn] + _stmts(f"{real} = lambda *args: _{real}_impl(*args)")
    return _map_functions(cells, names, edit)


def partial_wrappers(chapter, cells):
    names = _function_exercises(chapter, cells)

    def edit(fn):
        real = fn.name
        fn.name = f"_{real}_impl"
        return [fn] + _stmts(f"import functools\n{real} = functools.partial(_{real}_impl)")
    return _map_functions(cells, names, edit)


def decorated(chapter, cells):
    helper = _code("""
        import functools

        def _traced(fn):
            @functools.wraps(fn)
            def inner(*args, **kwargs):
                return fn(*args, **kwargs)
            return inner
        """)

    def edit(fn):
        fn.decorator_list.append(ast.Name("_traced", ast.Load()))
        return [fn]
    return [helper] + _map_functions(cells, _function_exercises(chapter, cells), edit)


def computed_constants(chapter, cells):
    helper = _code("""
        import numpy as np
        _ONE = float(np.array([1.0, -1.0, 1.0])[0])
        _CFG = {"scale": np.sqrt(1.0), "shift": [0.0][0]}

        class _Helper:
            k = np.float64(1.0)

        _H = _Helper()
        """)
    return [helper] + _map_functions(cells, _function_exercises(chapter, cells), lambda fn: _prepend_to_body(
        fn, "assert _ONE * _CFG['scale'] * _H.k + _CFG['shift'] == 1.0"))


def demo_cells_and_magics(chapter, cells):
    names = _function_exercises(chapter, cells)
    timed = [({**c, "source": "%%time\n" + _src(c)} if c["cell_type"] == "code" and any(
        f"def {n}(" in _src(c) for n in names) else c) for c in cells]
    return timed + [_code("for i in range(3):\n    print('demo', i)"),
                    _code("print('a demo that would fail', undefined_name)"),
                    _code("slow = [i * i for i in range(10)]\nresult = 1 / 0")]


def one_big_cell(chapter, cells):
    code = [c for c in cells if c["cell_type"] == "code" and not _src(c).lstrip().startswith("%")]
    return [_code("\n\n".join(_src(c) for c in code))]


def redefined(chapter, cells):
    names = _function_exercises(chapter, cells)
    early = _code("\n\n".join(f"def {n}(*args):\n    raise NotImplementedError" for n in names))
    return cells[:1] + [early] + cells[1:]


def stubs(chapter, cells):
    stub = ROOT / "chapters" / chapter.NOTEBOOK
    return json.loads(stub.read_text())["cells"]


def none_template(chapter, cells):
    def edit(fn):
        fn.body = _stmts("result = None\nreturn result")
        return [fn]
    return _map_functions(cells, _function_exercises(chapter, cells), edit)


def set_in_a_loop(chapter, cells):
    names = _first(chapter, cells)
    return [_code("for _k in range(1):\n    _SCALE = 1.0")] + _map_functions(
        cells, names, lambda fn: _prepend_to_body(fn, "assert _SCALE == 1.0"))


def undefined_helper(chapter, cells):
    return _map_functions(cells, _first(chapter, cells),
                          lambda fn: _prepend_to_body(fn, "_unused = _missing_helper"))


PERTURB = _code("""
    import numpy as np

    def _off(fn, how):
        def inner(*args):
            out = fn(*args)
            return change(out, how)
        inner.__name__ = fn.__name__
        return inner

    def change(o, how):
        if isinstance(o, tuple):
            return tuple(change(v, how) for v in o)
        if isinstance(o, dict):
            return {k: change(v, how) for k, v in o.items()}
        if isinstance(o, float) or (isinstance(o, np.ndarray) and o.dtype.kind == "f"):
            return how(np.asarray(o))
        return o

    def _unused(fn):
        def inner(*args):
            return fn(*args)
        inner.__name__ = fn.__name__
        return inner

    def _in_place(fn):
        def inner(*args):
            out = fn(*args)
            first = next((a for a in args if isinstance(a, np.ndarray) and a.size), None)
            if first is not None:
                first[...] = 0.0
            return out
        inner.__name__ = fn.__name__
        return inner
    """)


def _wrapped(decorator, check=None):
    """Decorate the chapter's first function exercise (with `check` among its checks)."""
    def variant(chapter, cells):
        def edit(fn):
            fn.decorator_list.append(ast.parse(decorator, mode="eval").body)
            return [fn]
        points = {ex.name: ex.points for ex in chapter.EXERCISES}
        target = [n for n in _function_exercises(chapter, cells) if check is None or check in points[n]]
        return [PERTURB] + _map_functions(cells, target[:1], edit)
    return variant


STYLES = {
    "solution": lambda chapter, cells: cells,
    "lambda wrappers": lambda_wrappers,
    "functools.partial": partial_wrappers,
    "decorators": decorated,
    "computed constants, dict, helper class": computed_constants,
    "%%time cells and demo cells": demo_cells_and_magics,
    "one big cell": one_big_cell,
    "stub defined first, then the solution": redefined,
}
MISTAKES = {
    "the chapter's stubs": stubs,
    "None template": none_template,
    "a value set only in a loop": set_in_a_loop,
    "an undefined helper": undefined_helper,
    "outputs off by 0.1%": _wrapped("lambda f: _off(f, lambda o: o * 1.001)"),
    "outputs in float32": _wrapped("lambda f: _off(f, lambda o: o.astype(np.float32))"),
    "modifies an input in place": _wrapped("_in_place", "no_modify"),
}
VARIANTS = {**STYLES, **MISTAKES}
# float32 answers pass where the exercise's tolerance is above float32's precision
WITHIN_TOLERANCE = {"outputs in float32"}


def corpus():
    return [pytest.param(chapter, style, id=f"{Path(chapter.NOTEBOOK).stem}: {style}")
            for chapter in CHAPTERS for style in VARIANTS]


def self_check_verdicts(path: Path, chapter) -> dict:
    """check() for each exercise, as the kernel that ran the notebook's cells in order would."""
    namespace, _, _ = as_the_grader_loads([c for c in read_cells(path) if c[1] == "code"])
    student = LocalStudent(namespace)
    out = {}
    for ex in chapter.EXERCISES:
        if ex.name not in namespace:   # the grader: "not defined in the notebook"
            out[ex.name] = {check: False for check in ex.points}
            continue
        out[ex.name] = {r.check: r.passed for r in run_checks(ex, chapter, student)}
    return out


def grader_verdicts(path: Path, chapter) -> dict:
    graded = grade_notebook(path, chapter=Path(chapter.NOTEBOOK).stem, public=True)
    return {ex.name: {r.check: r.passed for r in graded.results if r.exercise == ex.name}
            for ex in chapter.EXERCISES}


@pytest.mark.parametrize("chapter, style", corpus())
def test_check_and_the_grader_agree_on_the_public_cases(chapter, style, tmp_path):
    nb = json.loads((ROOT / "solutions" / chapter.NOTEBOOK).read_text())
    nb["cells"] = VARIANTS[style](chapter, nb["cells"])
    path = tmp_path / chapter.NOTEBOOK
    path.write_text(json.dumps(nb))
    mine, theirs = self_check_verdicts(path, chapter), grader_verdicts(path, chapter)
    assert mine == theirs
    passed = sum(all(v.values()) for v in mine.values())
    if style in STYLES:   # correct in an unusual style: full marks in both
        assert passed == len(chapter.EXERCISES), mine
    elif style not in WITHIN_TOLERANCE:   # wrong in a common way: some exercise fails in both
        assert passed < len(chapter.EXERCISES), mine


def test_the_corpus_is_large_enough():
    assert len(list(corpus())) >= 60 and len(STYLES) >= 6 and len(MISTAKES) >= 6
