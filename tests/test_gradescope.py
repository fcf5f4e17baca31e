"""The Gradescope zip, run the way Gradescope runs it: unpacked in a directory laid out
like /autograder, with the submission in submission/."""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile

from autograder.gradescope import build
from conftest import CHAPTER, SOLUTION


def _run(tmp_path, submission_files):
    tmp_path.mkdir(parents=True, exist_ok=True)
    zip_path = build("01_rnn_review", tmp_path / "autograder.zip")
    root = tmp_path / "autograder"
    with zipfile.ZipFile(zip_path) as z:
        z.extractall(root / "source")
        names = set(z.namelist())
    assert {"setup.sh", "run_autograder", "autograder/grade.py", "solutions/01_rnn_review.ipynb",
            "autograder/fixtures/01_rnn_review.npz"} <= names
    assert not any(n.startswith(("tests/", "chapters/", ".git")) for n in names)
    run = root / "source" / "run_autograder"
    run.chmod(run.stat().st_mode | stat.S_IEXEC)
    (root / "submission").mkdir(parents=True)
    for name, src in submission_files.items():
        shutil.copy(src, root / "submission" / name)
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "PYTHON": sys.executable}
    env.pop("PYTHONPATH", None)
    done = subprocess.run([str(run)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads((root / "results" / "results.json").read_text())


def test_solution_gets_full_marks_with_hidden_tests_after_published(tmp_path):
    results = _run(tmp_path, {"my_work.ipynb": SOLUTION})
    assert results["score"] == 40
    vis = {t["name"].split(": ")[1]: t["visibility"] for t in results["tests"]}
    assert vis["hidden cases"] == "after_published" and vis["inputs left unchanged"] == "visible"
    assert all(t["status"] == "passed" for t in results["tests"])


def test_stub_notebook_and_empty_submission(tmp_path):
    results = _run(tmp_path, {"01_rnn_review.ipynb": CHAPTER})
    assert results["score"] == 0
    assert "not implemented yet" in results["tests"][0]["output"]
    empty = _run(tmp_path / "again", {})
    assert empty["score"] == 0 and "No .ipynb file" in empty["output"]
