"""autograder/book_view.py: how the book shows an exercise (a frame from the metadata, the
stub as `...`, no cell that fails), and whether the frame tells the truth about check()."""
from __future__ import annotations

import contextlib
import io
import json
import re

import pytest

from autograder import book_view, release
from autograder.exercises import CHAPTERS
from autograder.reference import reference
from autograder.selfcheck import check
from conftest import ROOT

STUB = '    raise NotImplementedError("Student exercise: implement rnn_forward")\n'


def _src(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _chapter_nb(chapter):
    return json.loads((ROOT / "chapters" / chapter.NOTEBOOK).read_text(encoding="utf-8"))


def _frames(nb):
    return [(k, c) for k, c in enumerate(nb["cells"]) if book_view._is_frame(c)]


# ------------------------------------------------------------------------------ stubs

def test_release_stub_is_shown_as_an_ellipsis_at_its_indentation():
    """Does the book show release's stub line as `...`, keeping indentation and the rest?"""
    source = "def rnn_forward(x):\n    # YOUR CODE HERE\n" + STUB + "    return 1\n"
    assert book_view.shown_stub(source) == \
        "def rnn_forward(x):\n    # YOUR CODE HERE\n    ...\n    return 1\n"
    generic = '  raise NotImplementedError("Exercise: replace this line with your code")'
    assert book_view.shown_stub(generic) == "  ..."


def test_given_code_that_raises_keeps_its_message_as_a_comment():
    """Is a given `raise NotImplementedError("...")` shown as `...` with its message?"""
    line = '        raise NotImplementedError("LSTMCell.__call__ is completed in chapter 3")'
    assert book_view.shown_stub(line) == "        ...  # LSTMCell.__call__ is completed in chapter 3"
    assert book_view.shown_stub("raise NotImplementedError\n") == "...\n"


@pytest.mark.parametrize("line", [
    'x = 1  # raise NotImplementedError("a")',
    'raise NotImplementedError("a") from e',
    'if x: raise NotImplementedError("a")',
    'print("raise NotImplementedError")',
])
def test_other_lines_are_left_alone(line):
    assert book_view.shown_stub(line) == line


def test_book_text_changes_only_code_cells_with_stubs():
    """Is a notebook without stubs read unchanged, and a markdown cell never touched?"""
    nb = {"cells": [{"cell_type": "markdown", "source": STUB},
                    {"cell_type": "code", "source": "def f():\n" + STUB}]}
    shown = json.loads(book_view.book_notebook_text(json.dumps(nb)))
    assert _src(shown["cells"][0]) == STUB
    assert _src(shown["cells"][1]) == "def f():\n    ...\n"
    plain = json.dumps({"cells": [{"cell_type": "code", "source": "x = 1"}]})
    assert book_view.book_notebook_text(plain) == plain
    assert book_view.book_notebook_text("not json") == "not json"


def test_a_demo_the_book_skips_gets_a_note_and_a_check_does_not():
    nb = {"cells": [{"cell_type": "code", "id": "demo", "source": "plt.plot(rnn_forward(x))",
                     "metadata": {"tags": ["raises-exception", "skip-execution"]}},
                    {"cell_type": "code", "id": "chk", "source": "check(rnn_forward)",
                     "metadata": {"tags": ["raises-exception", "skip-execution"]}},
                    {"cell_type": "code", "id": "plain", "source": "x = 1", "metadata": {}}]}
    shown = json.loads(book_view.book_notebook_text(json.dumps(nb)))["cells"]
    assert [c["id"] for c in shown] == ["demo", "demo-book-note", "chk", "plain"]
    assert shown[1]["source"] == book_view.DEMO_NOTE


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: c.NOTEBOOK)
def test_the_book_reads_no_stub_error_and_runs_no_failing_cell(chapter):
    """As the book reads a chapter: no `NotImplementedError` in any cell's code, and every
    cell that raises until the exercises are solved is skipped (`skip-execution`)."""
    nb = json.loads(book_view.book_notebook_text(
        (ROOT / "chapters" / chapter.NOTEBOOK).read_text(encoding="utf-8")))
    for cell in nb["cells"]:
        tags = cell.get("metadata", {}).get("tags", [])
        assert "NotImplementedError" not in _src(cell), _src(cell)[:200]
        if "raises-exception" in tags:
            assert book_view.SKIP in tags, f"{chapter.NOTEBOOK} {cell.get('id')}: not skipped"


# ----------------------------------------------------------------------------- frames

@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: c.NOTEBOOK)
def test_each_exercise_has_one_frame_right_above_its_stub(chapter):
    """Does the released chapter have one frame per exercise of its metadata, in order,
    each right above the code cell that defines the exercise with a stub?"""
    nb = _chapter_nb(chapter)
    frames = _frames(nb)
    assert len(frames) == len(chapter.EXERCISES)
    for (k, frame), ex in zip(frames, chapter.EXERCISES):
        text = _src(frame)
        assert f"Exercise {ex.number} · {ex.name} · {ex.max_points:g} points" in text
        below = _src(nb["cells"][k + 1])
        assert re.search(rf"^(def|class) {ex.name}\b", below, re.M), below[:80]
        assert "# YOUR CODE HERE" in below and "NotImplementedError" in below
        assert frame["id"] == nb["cells"][k + 1]["id"] + "-frame"


def test_frames_are_added_once():
    """Does adding frames to a notebook that has them give the same notebook?"""
    chapter = CHAPTERS[0]
    nb = _chapter_nb(chapter)
    names = release.exercise_names(release.read_notebook(ROOT / "solutions" / chapter.NOTEBOOK))
    assert release.notebook_text(book_view.add_frames(nb, chapter, names)) == \
        release.notebook_text(nb)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: c.NOTEBOOK)
def test_every_case_label_is_explained(chapter):
    """Does a frame explain every letter of every public case's label? A new letter goes
    into the chapter module's CASE_LABELS (or book_view.LABELS when it is common)."""
    missing = {ex.number: book_view.unexplained_labels(ex, chapter) for ex in chapter.EXERCISES}
    missing = {k: v for k, v in missing.items() if v}
    assert not missing, (f"{chapter.__name__}: case labels no frame explains: {missing}; "
                         f"add CASE_LABELS = {{letter: meaning}} to {chapter.__name__}")


def test_case_words_of_an_exercise_and_of_an_odd_one():
    ex = CHAPTERS[0].EXERCISES[0]
    assert book_view.case_words(ex).startswith("`[N=3, D=5, H=4]`: N batch size")
    odd = type("Odd", (), {"public_dims": ({"N": 2, "Q": 3, "K": 4, "H": 2},)})
    assert book_view.unexplained_labels(odd) == ["K", "Q"]
    assert book_view.case_words(odd).endswith("N batch size; Q; K; H hidden units")
    gru = type("Chapter", (), {"NOTEBOOK": "04_gru.ipynb"})
    assert book_view.case_words(odd, gru).endswith("Q; K = 2H columns of the fused weights; H hidden units")
    own = type("Chapter", (), {"NOTEBOOK": "04_gru.ipynb", "CASE_LABELS": {"Q": "queries", "K": "chunks"}})
    assert book_view.unexplained_labels(odd, own) == []
    assert "Q queries; K chunks" in book_view.case_words(odd, own)


def _frame_of(chapter, ex) -> str:
    return next(_src(c) for _, c in _frames(_chapter_nb(chapter)) if f"Exercise {ex.number} ·" in _src(c))


@pytest.mark.parametrize("chapter, ex", [(c, e) for c in CHAPTERS for e in c.EXERCISES],
                         ids=lambda x: getattr(x, "number", None) or x.NOTEBOOK)
def test_the_frame_says_what_its_check_prints_on_a_correct_solution(chapter, ex):
    """One truth: run the frame's own check call on the reference solution, in a namespace
    like the notebook's. Does it print the header the frame quotes, one `pass` row per
    check the frame lists with the points it gives, and then the frame's last line?"""
    frame = _frame_of(chapter, ex)
    call = re.search(r"\*\*Check it\*\*: run `([^`]+)`", frame).group(1)
    namespace = dict(reference(chapter).namespace, check=check)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(call, namespace)
    lines = out.getvalue().splitlines()
    header = re.search(r"a table headed `([^`]+)`", frame).group(1)
    assert lines[0] == header
    rows = [re.match(r"\s+(\S+)\s+(\S+)\s+(\S+)", s).groups() for s in lines[2:-1]]
    said = frame.split("with their points: ")[1].split(". The grader")[0]
    listed = re.findall(r"(\w+) (\d+)", re.sub(r" \([^)]*\)", "", said))
    assert [(name, "pass", f"{p}/{p}") for name, p in listed] == rows
    assert lines[-1] == book_view.PASS_LINE and frame.rstrip().endswith(
        f"`{book_view.PASS_LINE}`\n\n</div>")
