"""Tests for autograder/notebook.py: reading a student's notebook into a Program."""
import ast
import json
import sys

import numpy as np

import pytest

from autograder import notebook
from autograder.notebook import NotebookError, read_cells, source_of

# the graded functions of these small notebooks
ROOTS = {"f", "g", "good", "later", "Cell"}


def load_program(path, roots=ROOTS):
    return notebook.load_program(path, roots)


# --------------------------------------------------------------------------- helpers

def code(source):
    return {"cell_type": "code", "metadata": {}, "source": source, "outputs": [],
            "execution_count": None}


def md(source):
    return {"cell_type": "markdown", "metadata": {}, "source": source}


def write_nb(tmp_path, *cells, name="student.ipynb"):
    path = tmp_path / name
    path.write_text(json.dumps({"cells": list(cells), "metadata": {}, "nbformat": 4,
                                "nbformat_minor": 5}))
    return path


def kept(prog):
    """The top-level statements the grader would run, as source text."""
    out = []
    for cell in prog.cells:
        body = ast.parse(cell.source).body
        out += [ast.get_source_segment(cell.source, body[k]) for k in cell.keep]
    return out


@pytest.fixture(params=["ipython", "no-ipython"])
def magic_mode(request, monkeypatch):
    """Run a test with IPython's transformer, and with the fallback used when it is absent."""
    if request.param == "ipython":
        pytest.importorskip("IPython.core.inputtransformer2")
    else:
        monkeypatch.setitem(sys.modules, "IPython.core.inputtransformer2", None)
    return request.param


# --------------------------------------------------------------------------- bad files

def test_broken_json_names_line_and_column(tmp_path):
    """A truncated/hand-edited notebook gives NotebookError pointing at the broken spot."""
    path = tmp_path / "broken.ipynb"
    path.write_text('{\n  "cells": [\n    oops\n  ]\n}')
    with pytest.raises(NotebookError) as err:
        read_cells(path)
    assert "broken.ipynb" in str(err.value)
    assert "line 3" in str(err.value) and "column 5" in str(err.value)


@pytest.mark.parametrize("content", [[1, 2, 3], {"metadata": {}, "nbformat": 4},
                                     {"cells": "not a list"}])
def test_json_that_is_not_a_notebook(tmp_path, content):
    """Valid JSON without a list of cells is refused with a message saying so."""
    path = tmp_path / "x.ipynb"
    path.write_text(json.dumps(content))
    with pytest.raises(NotebookError, match="not a Jupyter notebook"):
        load_program(path)


def test_v3_notebook_is_recognised(tmp_path):
    """An old nbformat-3 notebook (cells inside worksheets) is refused with a v3 hint."""
    path = tmp_path / "old.ipynb"
    path.write_text(json.dumps({"nbformat": 3, "worksheets": [{"cells": []}], "metadata": {}}))
    with pytest.raises(NotebookError, match="v3"):
        load_program(path)


def test_missing_file_is_a_notebook_error(tmp_path):
    """A file that cannot be read is a NotebookError, not an OSError."""
    with pytest.raises(NotebookError, match="could not read"):
        load_program(tmp_path / "nothing.ipynb")


@pytest.mark.parametrize("cells", [[], [md("# Only prose")]])
def test_no_code_cells_is_a_problem(tmp_path, cells):
    """An empty notebook, or one with only markdown, loads with a problem message."""
    prog = load_program(write_nb(tmp_path, *cells))
    assert prog.cells == [] and prog.defined == {}
    assert any("no code cells" in p for p in prog.problems)


def test_source_as_list_of_lines(tmp_path):
    """nbformat stores sources as lists of lines; they are joined before parsing."""
    prog = load_program(write_nb(tmp_path, code(["def f(x):\n", "    return x + 1\n"])))
    assert prog.defined == {"f": 1} and prog.problems == []


# --------------------------------------------------------------------------- magics

MAGIC_CELLS = {
    "line magic": "%matplotlib inline\ndef f(): return 1\n",
    "shell": "!pip install x\ndef f(): return 1\n",
    "shell assign": "files = !ls\ndef f(): return 1\n",
    "help": "np?\ndef f(): return 1\n",
}


@pytest.mark.parametrize("kind", MAGIC_CELLS)
def test_magics_do_not_hide_definitions(tmp_path, magic_mode, kind, request):
    """IPython syntax in a cell does not break parsing: the function in it is found."""
    prog = load_program(write_nb(tmp_path, code(MAGIC_CELLS[kind])))
    assert prog.problems == []
    assert prog.defined.get("f") == 1


def test_cell_magic_time_keeps_definitions(tmp_path, magic_mode):
    """A function in a `%%time` cell is defined when the kernel runs it, so it is found."""
    prog = load_program(write_nb(tmp_path, code("%%time\ndef g():\n    return 2\n")))
    assert prog.defined.get("g") == 1


def test_magic_lines_are_not_run(tmp_path, magic_mode):
    """The magics themselves are not kept (there is no get_ipython in the sandbox)."""
    prog = load_program(write_nb(tmp_path, code(
        "%matplotlib inline\n!pip install x\ndef f(): return 1\n")))
    assert kept(prog) == ["def f(): return 1"]


# --------------------------------------------------------------------------- what is kept

def test_syntax_error_cell_is_reported_and_others_load(tmp_path):
    """A cell that does not parse is named (cell index, line); the other cells still load."""
    prog = load_program(write_nb(tmp_path,
                                 md("# Chapter"),
                                 code("def good():\n    return 1\n"),
                                 code("x = 1\ndef bad(:\n    pass\n"),
                                 code("def later():\n    return 2\n")))
    assert len(prog.problems) == 1
    assert "Cell 3" in prog.problems[0] and "line 2" in prog.problems[0]
    assert prog.defined == {"good": 2, "later": 4}


def test_only_what_the_graded_functions_need_is_kept(tmp_path):
    """Imports, defs, classes and constants the graded functions use are kept, however they
    are computed; checks, plots, prints, loops and unused demo values are not."""
    prog = load_program(write_nb(tmp_path, code(
        "import numpy as np\n"
        "from math import sqrt\n"
        "import os\n"
        "N = 3\n"
        "SHAPE = (N, -2 * N)\n"
        "EPS: float = 1e-5\n"
        "def f(x):\n    return x * sqrt(EPS) + SHAPE[0] + Cell.k\n"
        "class Cell:\n    k = 1\n"
        "check(f)\n"
        "plt.show()\n"
        "print('demo')\n"
        "y = f(2)\n"
        "data = np.random.randn(1000, 1000)\n"
        "for i in range(3):\n    pass\n")))
    assert set(prog.defined) == {"sqrt", "N", "SHAPE", "EPS", "f", "Cell"}
    assert {"y", "data", "np", "os"} <= set(prog.unrun)
    text = "\n".join(kept(prog))
    for dropped in ("check(f)", "plt.show()", "print(", "y =", "randn", "for i", "import os"):
        assert dropped not in text


@pytest.mark.parametrize("helper, use", [
    ("sig = lambda a: 1 / (1 + np.exp(-a))", "sig(x)"),
    ("SIGNS = np.array([1.0, -1.0, 1.0])", "SIGNS[0] * x"),
    ("import functools\ndef _act(a, k):\n    return k * a\ndouble = functools.partial(_act, k=2.0)",
     "double(x)"),
    ("PARAMS = {'scale': np.sqrt(4.0), 'shift': [0.5][0]}", "PARAMS['scale'] * x + PARAMS['shift']"),
    ("class Helper:\n    def __init__(self, k):\n        self.k = k\n    def __call__(self, a):\n"
     "        return self.k * a\nscale = Helper(3.0)", "scale(x)"),
    ("def twice(fn):\n    return lambda a: 2 * fn(a)", None),
    ("last_only = lambda h, d: h[:, -1] * d", "last_only(x[None], 1.0)"),
    ("try:\n    from scipy.special import expit as sig\nexcept ImportError:\n    sig = None", "x"),
], ids=["lambda", "np.array constant", "partial", "dict of params", "helper class", "decorator",
        "chapter-6 lambda", "try import"])
def test_every_kind_of_helper_a_correct_solution_uses_is_kept(tmp_path, helper, use):
    """Lambdas, computed constants, functools.partial, decorators, dicts of parameters and
    helper classes the graded function uses all run, so it works as in the kernel."""
    if use is None:   # a decorator
        graded = "@twice\ndef f(x):\n    return x\n"
    else:
        graded = f"def f(x):\n    return {use}\n"
    path = write_nb(tmp_path, code("import numpy as np\n"), code(helper + "\n"), code(graded),
                    code("print(f(np.ones(2)))\n"))
    prog = load_program(path)
    assert prog.problems == []
    ns = {"__name__": "__main__"}
    from autograder.child import load
    assert load([c.runnable() for c in prog.cells], ns) == []
    assert ns["f"](np.ones((2, 2))) is not None
    assert "print" not in "\n".join(kept(prog))


def test_a_name_only_a_loop_sets_is_reported_in_the_students_words(tmp_path):
    prog = load_program(write_nb(tmp_path, code("for k in range(3):\n    SCALE = k\n"),
                                 code("def f(x):\n    return SCALE * x\n")))
    assert len(prog.problems) == 1
    assert prog.problems[0].startswith("`SCALE` is used by your functions but is set only by a "
                                       "`for` loop in cell 1 (line 1)")


def test_demo_code_the_graded_functions_do_not_use_is_not_run(tmp_path):
    """A training run assigned to a name nothing graded uses costs nothing."""
    prog = load_program(write_nb(tmp_path, code("def f(x):\n    return x\n"),
                                 code("losses = train(f, epochs=10**9)\nimport torch\n")))
    assert kept(prog) == ["def f(x):\n    return x"]


def test_display_imports_run_only_when_a_graded_function_uses_them(tmp_path):
    prog = load_program(write_nb(tmp_path, code(
        "import matplotlib.pyplot as plt\nfrom IPython.display import display\n"
        "import numpy as np\ndef f(x):\n    return np.tanh(x)\n")))
    assert kept(prog) == ["import numpy as np", "def f(x):\n    return np.tanh(x)"]


def test_course_package_import_is_skipped(tmp_path):
    """`from autograder import check` (the self-check) is not run by the grader."""
    prog = load_program(write_nb(tmp_path, code(
        "from autograder import check\nimport autograder.checks\nimport numpy as np\n"
        "def f():\n    return check, np\n")))
    assert kept(prog) == ["import numpy as np", "def f():\n    return check, np"]
    assert "check" not in prog.defined and "autograder" not in prog.defined


def test_student_process_gets_only_the_kept_lines_at_their_line_numbers(tmp_path):
    """What the sandbox runs: the kept statements on their own lines (a traceback points at
    the student's line), every other line blank, so figure code is not even parsed there."""
    src = ("import numpy as np\n"
           "fig = plot(\n    np.arange(3),\n)\n"
           "@staticmethod\n"
           "def f(x):\n    return np.tanh(x) + 1\n"
           "print(f(1))\n")
    prog = load_program(write_nb(tmp_path, code(src)))
    index, run, keep = prog.cells[0].runnable()
    assert run.split("\n")[:4] == ["import numpy as np", "", "", ""]
    body = ast.parse(run).body
    assert [type(body[k]).__name__ for k in keep] == ["Import", "FunctionDef"]
    assert body[keep[1]].lineno == 6 and body[keep[1]].decorator_list[0].lineno == 5
    assert "print" not in run and "plot" not in run


def test_a_line_shared_by_kept_and_other_statements_is_sent_whole(tmp_path):
    prog = load_program(write_nb(tmp_path, code("a = 1; print(a)\ndef f():\n    return a\n")))
    assert set(prog.defined) == {"a", "f"}
    index, run, keep = prog.cells[0].runnable()
    assert run == prog.cells[0].source and keep == [0, 2]


def test_last_definition_wins(tmp_path):
    """A name defined twice belongs to its last cell (1-based over all cells, markdown too)."""
    prog = load_program(write_nb(tmp_path,
                                 md("intro"),
                                 code("def f():\n    return 'first'\n"),
                                 md("more prose"),
                                 code("def f():\n    return 'second'\n")))
    assert prog.defined["f"] == 4
    assert prog.where("f") == "cell 4" and prog.where("nope") is None


def test_py_file_loads(tmp_path):
    """A plain .py file loads as a single cell 1."""
    path = tmp_path / "student.py"
    path.write_text("import os\n\ndef f(x):\n    return os.sep * 2\n\nf(3)\n")
    prog = load_program(path)
    assert prog.defined == {"os": 1, "f": 1} and prog.problems == []
    assert kept(prog) == ["import os", "def f(x):\n    return os.sep * 2"]


# --------------------------------------------------------------------------- source_of

def test_source_of_returns_last_definition(tmp_path):
    """source_of gives the text of the last top-level definition of a name."""
    path = write_nb(tmp_path,
                    code("def f(x):\n    return x\n"),
                    code("import numpy as np\n\ndef f(x):\n    # better\n    return np.tanh(x)\n\nf(1)\n"))
    assert source_of(path, "f") == "def f(x):\n    # better\n    return np.tanh(x)"


def test_source_of_unknown_name_or_bad_file(tmp_path):
    """source_of returns None for a name not defined, and for an unreadable notebook."""
    assert source_of(write_nb(tmp_path, code("def f(): pass\n")), "g") is None
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{")
    assert source_of(bad, "f") is None
