"""bench/grade_class.py's synthetic class and nbgrader assignment (nbgrader itself is not run
here, and nothing is timed): the mix of submissions, the nbgrader metadata they carry, test
cells that pass on the reference and fail on a mistake, and our grader's scores ordering
the class sensibly."""
from __future__ import annotations

import json
import os
import sys
from collections import Counter

import numpy as np
import pytest

from autograder.exercises import rnn_review
from autograder.grade import grade_notebook
from autograder.reference import reference
from conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))
import grade_class  # noqa: E402

CHAPTER = rnn_review


@pytest.fixture(scope="module")
def klass(tmp_path_factory):
    return grade_class.make_class(CHAPTER, tmp_path_factory.mktemp("class"), students=40)


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def test_the_class_mixes_correct_wrong_and_broken(klass):
    variants, mutants = grade_class.variants_and_mutants(CHAPTER)
    assert len(variants) >= 4 and len(mutants) >= 10   # from tests/test_grade.py
    subs = klass.submissions
    assert len(subs) == 40 and len({s.student for s in subs}) == 40
    count = Counter(s.category for s in subs)
    assert count["broken"] == 5 and count["correct"] >= 1 + len(variants)
    assert count["wrong"] >= len(mutants) and sum(count.values()) == 40
    labels = {s.label for s in subs}
    assert {"solution", *variants, *mutants} <= labels
    for kind in ("unfinished", "not JSON", "missing function", "exception at import", "infinite loop"):
        assert sum(label.startswith(kind) for label in labels) == 1, kind


def test_capstone_variants_and_mutants_are_built_from_its_glue_template(tmp_path, capsys):
    """Chapter 6's tests write variants and mutants as changes to one glue template: each
    becomes a notebook for each kind of network, none is left out."""
    from autograder.exercises import capstone
    variants, mutants = grade_class.variants_and_mutants(capstone)
    assert len(variants) == 3 * 3 and len(mutants) == 3 * 7
    assert all(list(v) == [f"{k}_loss_and_grads"] for label, v in variants.items()
               for k in ("rnn", "lstm", "gru") if f": {k}: " in label)
    grade_class.make_class(capstone, tmp_path, students=40)
    assert "left out" not in capsys.readouterr().out


def test_submissions_carry_the_assignment_metadata(klass):
    source = json.loads(klass.source.read_text())
    solution = [c for c in source["cells"] if _nbgrader(c).get("solution")]
    tests = [c for c in source["cells"] if _nbgrader(c).get("grade")]
    assert len(solution) == len(tests) == len(CHAPTER.EXERCISES)
    assert sum(_nbgrader(c)["points"] for c in tests) == sum(e.max_points for e in CHAPTER.EXERCISES)
    assert all(_nbgrader(c)["locked"] for c in tests)
    assert not any("check(" in "".join(c["source"]) for c in source["cells"])
    for s in klass.submissions:
        if not s.label.startswith("not JSON"):
            cells = json.loads(s.text)["cells"]
            assert sum(bool(_nbgrader(c).get("grade")) for c in cells) == len(tests), s.label
    with pytest.raises(json.JSONDecodeError):
        json.loads(next(s.text for s in klass.submissions if s.label.startswith("not JSON")))


def _run_test_cells(klass, namespace: dict) -> list[bool]:
    """Each autograded test cell run against the given functions, as nbgrader would."""
    source = json.loads(klass.source.read_text())
    here = os.getcwd()
    os.chdir(klass.source.parent)         # the fixtures sit beside the notebook
    try:
        passed = []
        for cell in (c for c in source["cells"] if _nbgrader(c).get("grade")):
            try:
                exec("".join(cell["source"]), {"np": np, **namespace})
                passed.append(True)
            except AssertionError:
                passed.append(False)
        return passed
    finally:
        os.chdir(here)


@pytest.mark.parametrize("chapter", grade_class.select_chapters(None), ids=grade_class.stem)
def test_every_chapters_test_cells_pass_on_the_reference(chapter, tmp_path):
    klass = grade_class.ChapterClass(chapter, grade_class.nbgrader_source(chapter, tmp_path), None)
    assert all(_run_test_cells(klass, dict(reference(chapter).namespace)))


def test_test_cells_pass_on_the_reference_and_fail_on_a_mistake(klass):
    ref = dict(reference(CHAPTER).namespace)
    assert _run_test_cells(klass, ref) == [True] * 4
    wrong = dict(ref)
    exec("def rnn_step_backward(dh_next, cache):\n"
         "    dx, dh, dWx, dWh, db = REF(dh_next, cache)\n"
         "    return dx, dh, dWx, dWh, 2 * db\n", {"REF": ref["rnn_step_backward"]}, wrong)
    assert _run_test_cells(klass, wrong) == [True, True, False, True]


def test_our_grader_orders_the_class(klass, tmp_path):
    """Solution and a variant full marks, a mutant in between, the stub and not-JSON zero
    (the infinite loop is left out: it waits for the time limit)."""
    def score(label_start):
        s = next(s for s in klass.submissions if s.label.startswith(label_start))
        path = tmp_path / s.student / CHAPTER.NOTEBOOK
        path.parent.mkdir()
        path.write_text(s.text)
        graded = grade_notebook(path)
        return graded.score / graded.max_score

    assert score("solution") == 1 and score("variant:") == 1
    assert 0 < score("mutant: no bias") < 1
    assert score("unfinished") == 0 and score("not JSON") == 0


def test_readme_quotes_the_recorded_class_benchmark():
    """The README's class table is the run kept in bench/results/grade_class.txt (its
    'All chapters' table), not numbers typed by hand from another run."""
    import re
    recorded = (ROOT / "bench" / "results" / "grade_class.txt").read_text()
    table = recorded[recorded.index("All chapters:"):]
    row = re.compile(r"^\| (\d\d_\w+) \| (\d+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+)x \| (\d+) \| (\d+) \|", re.M)
    runs = {m[0]: m[1:] for m in row.findall(table)}
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Benchmark: a class graded by us and by nbgrader"):]
    quoted = {m[0]: m[1:] for m in re.findall(
        r"^\| (\d\d_\w+) \| (\d+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+)× \| (\d+) \| (\d+) \|", section, re.M)}
    assert len(runs) == 6 and quoted == runs
