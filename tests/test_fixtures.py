"""The committed self-check fixtures match the reference, and go stale when it changes."""
from __future__ import annotations

import json
import shutil

import numpy as np

from autograder import fixtures, make_fixtures
from autograder.exercises import rnn_review
from autograder.release import release
from conftest import ROOT


def test_committed_fixtures_are_up_to_date():
    assert make_fixtures.check_all(ROOT) == []


def test_public_cases_include_the_edge_shapes():
    stored = fixtures.load(rnn_review)
    assert stored["rnn_forward.1.in.x"].shape == (1, 1, 1)
    assert stored["rnn_backward.0.out.dWh"].shape == (4, 4)
    assert stored["rnn_step_forward.0.out.h_next"].dtype == np.float64


def _scratch_course(tmp_path):
    shutil.copytree(ROOT / "solutions", tmp_path / "solutions")
    shutil.copytree(ROOT / "autograder" / "fixtures", tmp_path / "autograder" / "fixtures")
    return tmp_path


def test_changing_the_reference_makes_fixtures_stale_and_release_refreshes_them(tmp_path):
    root = _scratch_course(tmp_path)
    assert make_fixtures.check_all(root) == []
    sol = root / "solutions" / "01_rnn_review.ipynb"
    nb = json.loads(sol.read_text())
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        if "def rnn_step_forward" in src:
            cell["source"] = src.replace("h_next = np.tanh(a)", "h_next = np.tanh(1.01 * a)")
    sol.write_text(json.dumps(nb))
    problems = make_fixtures.check_all(root)
    assert len(problems) == 1 and "01_rnn_review.npz is stale" in problems[0]
    assert any("01_rnn_review.npz is stale" in p for p in release(root, check=True))
    assert make_fixtures.write_all(root) == ["autograder/fixtures/01_rnn_review.npz"]
    assert make_fixtures.check_all(root) == []
    assert make_fixtures.write_all(root) == []  # nothing changed: nothing rewritten


def test_missing_fixtures_are_reported(tmp_path):
    root = _scratch_course(tmp_path)
    (root / "autograder" / "fixtures" / "01_rnn_review.npz").unlink()
    assert "is missing" in make_fixtures.check_all(root)[0]
