"""Tests for autograder/release.py: solutions/*.ipynb -> chapters/*.ipynb."""
import copy
import json
import re
from pathlib import Path

import pytest

from autograder import release as rel
from autograder.release import ReleaseError

REPO = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- helpers

def code(source, tags=None, id=None, **metadata):
    if tags is not None:
        metadata["tags"] = tags
    return {"cell_type": "code", "id": id or f"c{abs(hash(source)) % 10**8}",
            "metadata": metadata, "source": source, "outputs": [], "execution_count": None}


def md(source, id=None):
    return {"cell_type": "markdown", "id": id or f"m{abs(hash(source)) % 10**8}",
            "metadata": {}, "source": source}


def notebook(*cells, **metadata):
    metadata.setdefault("kernelspec", {"display_name": "Python 3", "language": "python",
                                       "name": "python3"})
    metadata.setdefault("language_info", {"name": "python"})
    return {"cells": list(cells), "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}


def src(cell):
    s = cell["source"]
    return "".join(s) if isinstance(s, list) else s


STEP = '''\
def rnn_step_forward(x, h_prev, Wx, Wh, b):
    """One step."""
    ### BEGIN SOLUTION
    a = x @ Wx + h_prev @ Wh + b  # (N, H)
    return np.tanh(a), (x, h_prev)
    ### END SOLUTION
'''

METHOD = '''\
class LSTM:
    def __init__(self, H):
        self.H = H

    def forward(self, x):
        """Run the layer."""
        out = []
        ### BEGIN SOLUTION
        for t in range(x.shape[1]):
            out.append(x[:, t] * self.H)
        ### END SOLUTION
        return out
'''

LOOP = '''\
def running_total(xs):
    total = 0
    for x in xs:
        ### BEGIN SOLUTION
        total = total + x * x
        ### END SOLUTION
    return total'''

TOP_LEVEL = '''\
x = 3
### BEGIN SOLUTION
answer = x * 14
### END SOLUTION
print(answer)
'''


def course():
    """A small solution notebook in the shape of the real ones."""
    return notebook(
        md("# Chapter"),
        code("import numpy as np", id="imports"),
        code(STEP, id="step-def"),
        code("check(rnn_step_forward)", id="step-check"),
        code("h, cache = rnn_step_forward(np.ones((1, 2)), np.ones((1, 3)), 0, 0, 0)\n"
             "print(h.shape)", id="demo"),
        code("plt.plot(h)", id="uses-demo"),
        code("z = np.linspace(-4, 4, 9)\nprint(np.tanh(z))", id="unrelated"),
    )


# --------------------------------------------------------------------------- regions

def test_regions_are_the_lines_between_the_markers():
    """Are a region's lines exactly those between BEGIN and END, markers excluded?"""
    nb = notebook(code(STEP), code(LOOP))
    assert rel.solution_regions(nb) == [
        ["    a = x @ Wx + h_prev @ Wh + b  # (N, H)", "    return np.tanh(a), (x, h_prev)"],
        ["        total = total + x * x"],
    ]


def test_regions_read_from_a_path(tmp_path):
    """Does solution_regions accept a notebook's path as well as the notebook?"""
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(notebook(code(STEP))))
    assert rel.solution_regions(path) == rel.solution_regions(notebook(code(STEP)))


@pytest.mark.parametrize("begin,end", [("### BEGIN SOLUTION", "### END SOLUTION"),
                                       ("# BEGIN SOLUTION", "# END SOLUTION"),
                                       ("## begin solution", "## end solution")])
def test_nbgrader_marker_spellings(begin, end):
    """Are nbgrader's marker spellings (any number of #, any case) recognised?"""
    nb = notebook(code(f"def f():\n    {begin}\n    return 1\n    {end}\n"))
    assert rel.solution_regions(nb) == [["    return 1"]]


@pytest.mark.parametrize("source,words", [
    ("def f():\n    ### BEGIN SOLUTION\n    return 1\n", "never closed"),
    ("def f():\n    return 1\n    ### END SOLUTION\n", "never opened"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n", "cannot nest"),
], ids=["begin-only", "end-only", "nested"])
def test_unbalanced_markers_raise_naming_the_cell(source, words):
    """Do unbalanced or nested markers raise a ReleaseError naming notebook and cell?"""
    nb = notebook(md("intro"), code(source, id="broken"))
    for call in (lambda: rel.solution_regions(nb, name="solutions/99_x.ipynb"),
                 lambda: rel.to_student(nb, name="solutions/99_x.ipynb")):
        with pytest.raises(ReleaseError) as e:
            call()
        assert "solutions/99_x.ipynb, cell 2 (id broken)" in str(e.value)
        assert words in str(e.value)


def test_markers_in_a_markdown_cell_are_refused():
    """Is a solution region in a markdown cell refused rather than published?"""
    nb = notebook(md("### BEGIN SOLUTION\nthe answer is 42\n### END SOLUTION"))
    with pytest.raises(ReleaseError, match="markdown cell"):
        rel.to_student(nb)


# -------------------------------------------------------------------------- stubbing

def test_regions_are_replaced_by_a_stub():
    """Are solution regions replaced by a stub that raises, and the solution lines gone?"""
    out = rel.stub_source(STEP)
    assert "x @ Wx" not in out and "np.tanh" not in out and "SOLUTION" not in out
    assert out == ('def rnn_step_forward(x, h_prev, Wx, Wh, b):\n'
                   '    """One step."""\n'
                   '    # YOUR CODE HERE\n'
                   '    raise NotImplementedError("Student exercise: implement rnn_step_forward")\n')


def _run(source):
    namespace = {}
    exec(compile(source, "<stub>", "exec"), namespace)
    return namespace


def test_stub_raises_naming_the_function():
    """Does calling a stubbed function raise NotImplementedError naming the function?"""
    f = _run(rel.stub_source(STEP))["rnn_step_forward"]
    with pytest.raises(NotImplementedError, match="Student exercise: implement rnn_step_forward"):
        f(None, None, None, None, None)


def test_stub_in_a_method_keeps_its_indentation_and_names_class_dot_method():
    """Is a region in a method stubbed at its indentation, naming Class.method?"""
    out = rel.stub_source(METHOD)
    assert "        # YOUR CODE HERE\n        raise NotImplementedError(" in out
    assert "        return out\n" in out    # code after the region is kept
    layer = _run(out)["LSTM"](2)
    with pytest.raises(NotImplementedError, match="implement LSTM.forward"):
        layer.forward(None)


def test_stub_in_a_loop_keeps_the_loop_body_indentation():
    """Is a region inside a for loop stubbed at the loop body's indentation?"""
    out = rel.stub_source(LOOP)
    assert out.splitlines()[3:5] == [
        "        # YOUR CODE HERE",
        '        raise NotImplementedError("Student exercise: implement running_total")']
    assert out.endswith("    return total")       # no newline added at the end of the cell
    f = _run(out)["running_total"]
    assert f([]) == 0                              # the loop body is only reached with data
    with pytest.raises(NotImplementedError, match="running_total"):
        f([1])


def test_stub_outside_any_def_is_generic_unless_named():
    """Does a region outside any def get the generic stub, or the hint's name if given?"""
    out = rel.stub_source(TOP_LEVEL)
    assert 'raise NotImplementedError("Exercise: replace this line with your code")' in out
    assert "x * 14" not in out and out.startswith("x = 3\n# YOUR CODE HERE\n")
    named = rel.stub_source(TOP_LEVEL, exercise_name_hint="the answer")
    assert "Student exercise: implement the answer" in named


def test_stub_finds_the_def_in_a_cell_with_magics():
    """Is the enclosing def still found when the cell has IPython magics?"""
    out = rel.stub_source("%load_ext autoreload\n" + STEP)
    assert "implement rnn_step_forward" in out and out.startswith("%load_ext autoreload\n")


def test_a_stub_that_breaks_the_cell_is_refused():
    """Is a BEGIN marker at the wrong indentation (stub would not parse) refused?"""
    nb = notebook(code("def f():\n### BEGIN SOLUTION\n    return 1\n### END SOLUTION\n"))
    with pytest.raises(ReleaseError, match="no longer valid Python"):
        rel.to_student(nb)


def test_exercise_names():
    """Are the exercises the functions, classes and methods that hold a region?"""
    nb = notebook(code(STEP), code(METHOD), code(LOOP), code(TOP_LEVEL),
                  code("def helper():\n    return 1\n"))
    assert rel.exercise_names(nb) == {"rnn_step_forward", "LSTM", "LSTM.forward",
                                      "running_total"}


# ------------------------------------------------------------------------- cleaning

def dirty(nb):
    nb = copy.deepcopy(nb)
    nb["metadata"].update(language_info={"name": "python", "version": "3.11.4",
                                         "codemirror_mode": {"name": "ipython"}},
                          widgets={"state": {}}, toc={"x": 1})
    for k, cell in enumerate(nb["cells"]):
        cell["metadata"].update(collapsed=False, scrolled=True, ExecuteTime={"a": 1},
                                execution={"iopub.status.idle": "2024-01-01T00:00:00.000Z"})
        if cell["cell_type"] == "code":
            cell["execution_count"] = k + 1
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "hi\n"}]
    return nb


def test_clean_removes_outputs_counts_and_metadata():
    """Are outputs, execution counts and stray metadata removed, tags/mystnb/ids kept?"""
    nb = dirty(notebook(code("print(1)", tags=["hide-input"], id="keep-me",
                             mystnb={"figure": {"name": "fig"}}), md("text")))
    out = rel.clean(nb)
    assert out["metadata"] == {"kernelspec": nb["metadata"]["kernelspec"],
                               "language_info": {"name": "python"}}
    first, second = out["cells"]
    assert first["outputs"] == [] and first["execution_count"] is None
    assert first["metadata"] == {"tags": ["hide-input"], "mystnb": {"figure": {"name": "fig"}}}
    assert first["id"] == "keep-me"
    assert second["metadata"] == {}


def test_clean_leaves_solutions_and_tags_alone():
    """Does clean (also run on solutions) keep solution regions and tags untouched?"""
    nb = notebook(code(STEP, tags=["a", "a", "b"]), code("check(rnn_step_forward)"))
    out = rel.clean(nb)
    assert [c["source"] for c in out["cells"]] == [STEP, "check(rnn_step_forward)"]
    assert out["cells"][0]["metadata"]["tags"] == ["a", "a", "b"]
    assert "tags" not in out["cells"][1]["metadata"]


def test_student_version_is_clean():
    """Is the student version cleaned as well as stubbed?"""
    out = rel.to_student(dirty(course()))
    assert out == rel.clean(out)
    assert all(c["outputs"] == [] for c in out["cells"] if c["cell_type"] == "code")


def test_input_is_not_mutated():
    """Are the notebooks given to to_student and clean left unchanged?"""
    nb = dirty(course())
    nb["cells"].append(code("### SOLUTION CELL\nsecret = 1"))
    before = copy.deepcopy(nb)
    rel.to_student(nb)
    rel.clean(nb)
    assert nb == before


# --------------------------------------------------------------------------- tagging

# A cell that raises until the exercises are solved: nbval and Jupyter run it and expect the
# error; the book (nbclient) skips it, so no failure is produced on a page.
RAISES = ["raises-exception", "skip-execution"]


def tags_by_id(nb):
    return {c["id"]: c["metadata"].get("tags", []) for c in nb["cells"]}


def test_raises_exception_on_cells_that_use_an_exercise():
    """Is raises-exception added to cells calling exercises, but not to the definition
    cell nor to unrelated cells?"""
    tags = tags_by_id(rel.to_student(course()))
    assert tags["step-check"] == RAISES
    assert tags["demo"] == RAISES
    assert tags["step-def"] == []
    assert tags["imports"] == []
    assert tags["unrelated"] == []


def test_raises_exception_follows_results_of_exercises():
    """Is a cell using a variable computed by an exercise tagged, and is a variable
    rebound by working code no longer suspect?"""
    nb = course()
    nb["cells"] += [code("h = np.zeros(3)", id="rebind"), code("print(h)", id="fine")]
    tags = tags_by_id(rel.to_student(nb))
    assert tags["uses-demo"] == RAISES
    assert tags["rebind"] == [] and tags["fine"] == []


def test_a_loop_or_with_target_rebinds_a_suspect_name():
    """Is a cell whose for loop (or `with ... as`) rebinds a name a failing cell left
    suspect left untagged, while one that uses the name before rebinding it is tagged?
    (The book skips tagged cells: a wrong tag hides a figure and breaks later cells.)"""
    nb = course()
    nb["cells"] += [code("for k in h:\n    print(k)", id="iterates-h"),
                    code("with open('f') as h:\n    print(h)", id="with"),
                    code("for h in range(3):\n    print(h)", id="loop")]
    tags = tags_by_id(rel.to_student(nb))
    assert tags["uses-demo"] == RAISES          # h comes from an exercise here
    assert tags["loop"] == [] and tags["with"] == []
    assert tags["iterates-h"] == RAISES


def test_raises_exception_through_helpers_and_methods():
    """Are cells tagged when they call a helper that calls an exercise, or a method that
    is an exercise, or when a definition cell calls another exercise at top level?"""
    nb = notebook(
        code(STEP, id="step-def"),
        code("def demo():\n    return rnn_step_forward(1, 2, 3, 4, 5)", id="helper"),
        code("demo()", id="calls-helper"),
        code(METHOD, id="lstm-def"),
        code("layer = make_layer()\nlayer.forward(x)", id="method-call"),
        code(LOOP + "\nprint(rnn_step_forward(1, 2, 3, 4, 5))", id="def-and-call"),
        code(TOP_LEVEL, id="top-level-stub"),
        code("print(answer)", id="after-top-level"),
        code("print(x)", id="before-the-stub"),
    )
    tags = tags_by_id(rel.to_student(nb))
    assert tags["helper"] == RAISES        # names an exercise
    assert tags["calls-helper"] == RAISES
    assert tags["method-call"] == RAISES
    assert tags["def-and-call"] == RAISES
    assert tags["top-level-stub"] == RAISES
    assert tags["after-top-level"] == RAISES
    assert tags["before-the-stub"] == []                  # x = 3 ran before the stub
    assert tags["step-def"] == [] and tags["lstm-def"] == []


def test_tags_are_kept_in_order_without_duplicates():
    """Are existing tags kept, in order, with raises-exception and skip-execution added
    once?"""
    nb = notebook(code(STEP),
                  code("check(rnn_step_forward)", tags=["hide-output", "raises-exception"],
                       id="already"),
                  code("check(rnn_step_forward)", tags=["hide-output", "hide-output"], id="new"))
    tags = tags_by_id(rel.to_student(nb))
    assert tags["already"] == ["hide-output", "raises-exception", "skip-execution"]
    assert tags["new"] == ["hide-output", "raises-exception", "skip-execution"]


def test_a_cell_that_does_not_parse_is_left_alone():
    """Is a cell that is not valid Python left without a new tag?"""
    nb = notebook(code(STEP), code("rnn_step_forward(1,", id="broken"))
    assert tags_by_id(rel.to_student(nb))["broken"] == []


def test_solution_cells_are_dropped():
    """Are instructor-only cells (### SOLUTION CELL on the first line) dropped, and the
    other cells' ids kept?"""
    nb = course()
    nb["cells"].insert(3, code("### SOLUTION CELL\nreference = rnn_step_forward", id="secret"))
    out = rel.to_student(nb)
    assert [c["id"] for c in out["cells"]] == [c["id"] for c in course()["cells"]]
    assert all("reference" not in src(c) for c in out["cells"])


# ---------------------------------------------------------------------- file format

def test_notebook_text_is_what_nbformat_writes():
    """Is the file text byte for byte what nbformat writes (so Jupyter saves cause no diff)?"""
    nbformat = pytest.importorskip("nbformat")
    nb = dirty(course())
    nb["cells"][1]["outputs"].append({"output_type": "display_data", "metadata": {},
                                      "data": {"text/plain": "a\nb", "image/png": "AAAA\n"}})
    nb["cells"].append(md("π ≈ 3.14\n\n* ünïcode"))
    for candidate in (nb, rel.to_student(nb)):
        text = rel.notebook_text(candidate)
        node = nbformat.reads(text, as_version=4)
        nbformat.validate(node)
        assert nbformat.writes(node) + "\n" == text


# --------------------------------------------------------------- release on a project

def project(tmp_path, **solutions):
    (tmp_path / "solutions").mkdir()
    (tmp_path / "chapters").mkdir()
    for name, nb in solutions.items():
        (tmp_path / "solutions" / f"{name}.ipynb").write_text(rel.notebook_text(nb))
    return tmp_path


def test_release_writes_chapters_and_then_checks_clean(tmp_path):
    """Does release write every chapter, and does check then report nothing?"""
    root = project(tmp_path, **{"01_a": course(), "02_b": notebook(code(LOOP))})
    assert rel.release(root, check=True, fixtures=False) == [
        "chapters/01_a.ipynb is missing: run `python -m autograder release`",
        "chapters/02_b.ipynb is missing: run `python -m autograder release`"]
    assert rel.release(root, fixtures=False) == ["chapters/01_a.ipynb", "chapters/02_b.ipynb"]
    assert rel.release(root, check=True, fixtures=False) == []
    assert rel.release(root, fixtures=False) == []      # nothing rewritten when up to date
    chapter = json.loads((root / "chapters" / "01_a.ipynb").read_text())
    assert chapter == json.loads(rel.notebook_text(rel.to_student(course())))


def test_check_reports_stale_and_orphan_chapters(tmp_path):
    """Does check report a chapter edited by hand and a chapter without a solution?"""
    root = project(tmp_path, **{"01_a": course()})
    rel.release(root, fixtures=False)
    chapter = root / "chapters" / "01_a.ipynb"
    chapter.write_text(chapter.read_text().replace("YOUR CODE HERE", "my code"))
    (root / "chapters" / "09_gone.ipynb").write_text(rel.notebook_text(course()))
    assert rel.release(root, check=True, fixtures=False) == [
        "chapters/01_a.ipynb is stale: run `python -m autograder release`",
        "chapters/09_gone.ipynb is an orphan: there is no solutions/09_gone.ipynb to "
        "generate it from"]
    assert (root / "chapters" / "01_a.ipynb").read_text() == chapter.read_text()  # not fixed


def test_check_reports_a_solution_that_is_not_clean(tmp_path):
    """Does check report a solution saved with outputs, and does clean_solutions fix it?"""
    root = project(tmp_path, **{"01_a": dirty(course())})
    rel.release(root, fixtures=False)
    problems = rel.release(root, check=True, fixtures=False)
    assert len(problems) == 1
    assert problems[0].startswith("solutions/01_a.ipynb is not clean (outputs; execution counts;")
    assert problems[0].endswith("run `python -m autograder release --clean-solutions`")
    assert rel.clean_solutions(root) == ["solutions/01_a.ipynb"]
    assert rel.clean_solutions(root) == []
    assert rel.release(root, check=True, fixtures=False) == []


def test_check_reports_a_solution_that_cannot_be_released(tmp_path):
    """Is a solution with broken markers a check problem rather than a crash?"""
    root = project(tmp_path, **{"01_a": notebook(code("### BEGIN SOLUTION\nx = 1\n"))})
    (problem,) = rel.release(root, check=True, fixtures=False)
    assert "solutions/01_a.ipynb, cell 1" in problem and "never closed" in problem
    with pytest.raises(ReleaseError):
        rel.release(root, fixtures=False)


def test_main_release_exit_codes(tmp_path, capsys):
    """Does the command print what it did and exit 1 exactly when something is wrong?"""
    root = project(tmp_path, **{"01_a": course()})
    assert rel.main_release(["--check", "--root", str(root)]) == 1
    assert "01_a.ipynb is missing" in capsys.readouterr().out
    assert rel.main_release(["--root", str(root)]) == 0
    assert "wrote chapters/01_a.ipynb" in capsys.readouterr().out
    assert rel.main_release(["--check", "--root", str(root)]) == 0
    assert rel.main_release(["--root", str(tmp_path / "nowhere")]) == 1
    assert "no solutions/ folder" in capsys.readouterr().out


# ------------------------------------------------------------------ the real repository

REAL_SOLUTIONS = sorted((REPO / "solutions").glob("*.ipynb"))


def test_committed_chapters_match_their_solutions():
    """Is every chapter in the repository exactly what release generates from solutions/
    (no drift, no orphan, solutions clean)? CI relies on this."""
    if not REAL_SOLUTIONS:
        pytest.skip("no solutions/*.ipynb in the repository yet")
    assert rel.release(REPO, check=True) == []


def _independent_regions(nb):
    """Solution lines and public lines, found without autograder.release."""
    secret, public, inside = [], set(), False
    for cell in nb["cells"]:
        for line in src(cell).splitlines():
            s = line.strip()
            if re.match(r"#+\s*BEGIN\s+SOLUTION", s, re.I):
                inside = True
            elif re.match(r"#+\s*END\s+SOLUTION", s, re.I):
                inside = False
            elif inside:
                secret.append(s)
            else:
                public.add(s)
    return [s for s in secret if len(s) >= 8 and s not in public], public


@pytest.mark.parametrize("solution", REAL_SOLUTIONS or [None],
                         ids=lambda p: p.name if p else "no-solutions")
def test_no_solution_line_in_the_generated_chapter(solution):
    """Does the generated chapter (and the committed one) contain no solution line?"""
    if solution is None:
        pytest.skip("no solutions/*.ipynb in the repository yet")
    nb = json.loads(solution.read_text(encoding="utf-8"))
    secret, _ = _independent_regions(nb)
    assert secret, f"{solution.name} has no solution region to check"
    chapters = [rel.to_student(nb)]
    committed = REPO / "chapters" / solution.name
    if committed.exists():
        chapters.append(json.loads(committed.read_text(encoding="utf-8")))
    for chapter in chapters:
        shown = {line.strip() for c in chapter["cells"] for line in src(c).splitlines()}
        leaked = [s for s in secret if s in shown]
        assert not leaked, f"solution lines of {solution.name} in the chapter: {leaked[:3]}"


# ------------------------------------------------------------------------ carried code

GATE = '''\
def gate(x, w):
    """A gate: sigmoid of x w."""
    ### BEGIN SOLUTION
    z = np.exp(-x * w)  # carried solution line
    return 1.0 / (1.0 + z)
    ### END SOLUTION'''

LAYER = '''\
@some_decorator
def layer(xs, w):
    """Apply the gate to every x."""
    out = []
    ### BEGIN SOLUTION
    for x_step in xs:
        out.append(gate(x_step, w))  # (N, H)
    ### END SOLUTION
    return out'''

BACKWARD = '''\
def layer_backward(dout, cache):
    """Differentiate layer."""
    ### BEGIN SOLUTION
    return [d_step * 0.25 for d_step in dout]
    ### END SOLUTION'''

MARKER = "### FROM 03_gates: gate, layer"


def earlier():
    """A chapter whose exercises a later one carries."""
    return notebook(md("# 3"), code("import numpy as np", id="imports"), code(GATE, id="gate-def"),
                    code("check(gate)", id="gate-check"), code(LAYER + "\n\n\ndef helper():\n"
                                                               "    return 2", id="layer-def"))


def later(body=""):
    """A chapter carrying gate and layer (body: what its carried cell holds now)."""
    return notebook(md("# 5"), code("import numpy as np", id="imports"),
                    code(MARKER + ("\n" + body if body else ""), id="carried"),
                    code(BACKWARD, id="backward-def"), code("check(layer_backward)", id="check"),
                    code("ys = layer([1.0, 2.0], 0.5)\nprint(layer_backward(ys, None))", id="demo"),
                    code("print(np.pi)", id="unrelated"))


def test_carried_marker_is_read_like_the_other_markers():
    """Is `### FROM chapter: a, b` read with any number of '#', any case and spacing, and
    is a marker without a proper list of names refused?"""
    for line in ("### FROM 03_gates: gate, layer", "# from 03_gates:gate,layer",
                 "## From 03_gates.ipynb :  gate ,  layer  "):
        assert rel.carried_from(code(line + "\nx = 1")) == ("03_gates", ["gate", "layer"])
    assert rel.carried_from(code("x = 1\n### FROM 03_gates: gate")) is None   # first line only
    assert rel.carried_from(md("### FROM 03_gates: gate")) is None
    for bad in ("### FROM 03_gates:", "### FROM 03_gates: gate, 2x", "### FROM 03_gates: a, a"):
        with pytest.raises(ReleaseError, match="carried cell"):
            rel.carried_from(code(bad))


def test_top_level_defs_are_verbatim_with_decorators_and_closing_markers():
    """Does a carried def keep its decorator, docstring and END SOLUTION marker (the last
    line of the function, a comment), and stop before the next def?"""
    defs = rel.top_level_defs(earlier())
    assert defs["gate"] == GATE
    assert defs["layer"] == LAYER
    assert defs["helper"] == "def helper():\n    return 2"


def test_release_writes_the_carried_body_and_check_reports_it_stale(tmp_path):
    """Does release fill a carried cell from the source chapter, and does check report it
    (and only it) as stale once the source changes, until release runs again?"""
    root = project(tmp_path, **{"03_gates": earlier(), "05_back": later()})
    assert "solutions/05_back.ipynb" in rel.release(root, fixtures=False)
    carried = src(json.loads((root / "solutions" / "05_back.ipynb").read_text())["cells"][2])
    assert carried == MARKER + "\n" + GATE + "\n\n\n" + LAYER
    assert rel.release(root, check=True, fixtures=False) == []

    changed = earlier()
    changed["cells"][2]["source"] = GATE.replace("carried solution line", "changed comment")
    (root / "solutions" / "03_gates.ipynb").write_text(rel.notebook_text(changed))
    problems = rel.release(root, check=True, fixtures=False)
    assert problems[0] == ("solutions/05_back.ipynb, cell 3 (id carried): the carried cell "
                           "differs from the functions it copies: run `python -m autograder "
                           "release`")
    assert not any("05_back" in p for p in problems[1:])   # the chapter follows the solution
    rel.release(root, fixtures=False)
    assert rel.release(root, check=True, fixtures=False) == []
    assert "changed comment" in (root / "solutions" / "05_back.ipynb").read_text()


def test_a_hand_edited_carried_body_is_drift(tmp_path):
    """Is an edit inside a carried cell reported by check and undone by release?"""
    root = project(tmp_path, **{"03_gates": earlier(), "05_back": later(GATE + "\n\n\n" + LAYER)})
    rel.release(root, fixtures=False)
    path = root / "solutions" / "05_back.ipynb"
    path.write_text(path.read_text().replace("1.0 / (1.0 + z)", "1.0 / (1.0 + z)  # edited"))
    assert any("carried cell differs" in p for p in rel.release(root, check=True, fixtures=False))
    rel.release(root, fixtures=False)
    assert "# edited" not in path.read_text()


def test_student_carried_cell_is_the_marker_a_note_and_the_earlier_stubs(tmp_path):
    """Is the carried cell, in the student notebook, the marker, a note naming the chapter
    and the functions, then the defs exactly as stubbed in that chapter's student
    notebook, with no line of their solutions?"""
    root = project(tmp_path, **{"03_gates": earlier(), "05_back": later()})
    rel.release(root, fixtures=False)
    chapter3 = json.loads((root / "chapters" / "03_gates.ipynb").read_text())
    chapter5 = json.loads((root / "chapters" / "05_back.ipynb").read_text())
    lines = src(chapter5["cells"][2]).splitlines()
    assert lines[0] == MARKER
    assert lines[1] == "# From chapter 3: paste your bodies of gate and layer here"
    stubs = "\n".join(lines[3:])
    for name in ("gate", "layer"):
        stubbed = rel.stub_source(rel.top_level_defs(earlier())[name])
        assert stubbed in stubs
        assert any(stubbed in src(c) for c in chapter3["cells"])     # as in chapter 3
        assert f'raise NotImplementedError("Student exercise: implement {name}")' in stubs
    shown = "\n".join(src(c) for c in chapter5["cells"])
    assert "carried solution line" not in shown and "gate(x_step, w)" not in shown
    assert "SOLUTION" not in shown


def test_carried_functions_are_not_exercises_but_cells_calling_them_raise():
    """Are carried functions left out of the carrying chapter's exercises, while a cell
    that calls one is still tagged raises-exception in the student notebook?"""
    nb = later(GATE + "\n\n\n" + LAYER)
    assert rel.exercise_names(nb) == {"layer_backward"}
    tags = tags_by_id(rel.to_student(nb))
    assert tags["demo"] == RAISES          # calls the carried layer
    assert tags["check"] == RAISES
    assert tags["carried"] == [] and tags["unrelated"] == []


def test_carrying_from_several_chapters(tmp_path):
    """Can one notebook carry from two chapters (chapter 6 carries from 1, 3, 4 and 5),
    each cell filled from its own source?"""
    first = notebook(code("def step(x):\n    ### BEGIN SOLUTION\n    return x + 1\n"
                          "    ### END SOLUTION", id="step"))
    capstone = notebook(code("### FROM 01_intro: step", id="from-1"),
                        code("### FROM 03_gates: layer", id="from-3"),
                        code("def train():\n    ### BEGIN SOLUTION\n    return layer(step(1), 2)\n"
                             "    ### END SOLUTION", id="train"))
    root = project(tmp_path, **{"01_intro": first, "03_gates": earlier(), "06_cap": capstone})
    rel.release(root, fixtures=False)
    cells = json.loads((root / "solutions" / "06_cap.ipynb").read_text())["cells"]
    assert src(cells[0]) == "### FROM 01_intro: step\n" + src(first["cells"][0])
    assert src(cells[1]) == "### FROM 03_gates: layer\n" + LAYER
    student = json.loads((root / "chapters" / "06_cap.ipynb").read_text())["cells"]
    assert src(student[0]).splitlines()[1] == "# From chapter 1: paste your bodies of step here"
    assert rel.exercise_names({"cells": cells}) == {"train"}


@pytest.mark.parametrize("marker,words", [
    ("### FROM 09_nowhere: gate", "no solutions/09_nowhere.ipynb"),
    ("### FROM 03_gates: gate, lstm_backward", "has no top-level function lstm_backward"),
], ids=["unknown-chapter", "unknown-function"])
def test_unknown_chapter_or_function_is_a_clear_error(tmp_path, marker, words):
    """Is a carried cell naming a missing chapter or function a ReleaseError saying which
    cell and what is missing, in release and in check alike?"""
    nb = notebook(code(marker, id="carried"))
    root = project(tmp_path, **{"03_gates": earlier(), "05_back": nb})
    with pytest.raises(ReleaseError) as e:
        rel.release(root, fixtures=False)
    assert "solutions/05_back.ipynb, cell 1 (id carried)" in str(e.value) and words in str(e.value)
    assert any(words in p for p in rel.release(root, check=True, fixtures=False))


def test_a_function_is_carried_from_the_chapter_that_writes_it(tmp_path):
    """Is carrying a function from a chapter that itself only carries it refused, naming
    the chapter to carry it from?"""
    capstone = notebook(code("### FROM 05_back: gate", id="carried"))
    root = project(tmp_path, **{"03_gates": earlier(), "05_back": later(), "06_cap": capstone})
    with pytest.raises(ReleaseError, match="it is carried there from 03_gates: carry it from 03_gates"):
        rel.release(root, fixtures=False)


def test_no_solution_line_of_one_chapter_is_given_code_in_another():
    """Does no chapter show, as given code, a solution line of another chapter (a carried
    cell, for one, must be stubbed)? Checked on the committed chapters and on a scratch
    pair with a carried cell, so the test can fail."""
    def leaks(solutions, chapters):
        out = []
        for sol_name, sol in solutions.items():
            secret, _ = _independent_regions(sol)
            for ch_name, chapter in chapters.items():
                shown = {line.strip() for c in chapter["cells"] for line in src(c).splitlines()}
                out += [(sol_name, ch_name, s) for s in secret if s in shown]
        return out

    real = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in REAL_SOLUTIONS}
    committed = {p.name: json.loads(p.read_text(encoding="utf-8"))
                 for p in sorted((REPO / "chapters").glob("*.ipynb"))}
    assert not leaks(real, committed)
    carried = later(GATE + "\n\n\n" + LAYER)
    assert not leaks({"03": earlier()}, {"05": rel.to_student(carried)})
    plain = copy.deepcopy(carried)            # the defs pasted without their markers
    plain["cells"][2]["source"] = "\n".join(
        line for line in src(carried["cells"][2]).splitlines() if "SOLUTION" not in line)
    assert leaks({"03": earlier()}, {"05": rel.to_student(plain)})   # copied without markers
