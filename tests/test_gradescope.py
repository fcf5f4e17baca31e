"""The Gradescope zip, run the way Gradescope runs it: unpacked in a directory laid out
like /autograder, with the submission in submission/."""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from autograder.gradescope import NUMPY, NUMPY_PY310, PYTHONS, build, requirements
from conftest import CHAPTER, ROOT, SOLUTION


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


# -- the zip in a simulated Gradescope image, once per installed CPython ---------------------
# The image's python3/pip3 are wrapper scripts on PATH that exec a venv of that CPython (a
# symlink would not activate the venv), apt-get does nothing, AUTOGRADER_ROOT moves
# /autograder into a temporary folder, and the grader runs as whoever runs the tests (root in
# CI, as on Gradescope). Nothing is downloaded: pip installs from WHEELS, which `make wheels`
# fills at set-up time (scripts/gradescope_wheels.sh).
PYENV = Path(os.environ.get("PYENV_ROOT", "/root/.pyenv")) / "versions"
WHEELS = Path(os.environ.get("GRADESCOPE_WHEELS", ROOT / ".cache" / "wheels"))


def _cpython(version: str) -> Path | None:
    found = sorted(PYENV.glob(f"{version}.*/bin/python{version}"),
                   key=lambda p: [int(x) for x in p.parent.parent.name.split(".")[:3] if x.isdigit()])
    return found[-1] if found else None


def _wheel_for(version: str) -> bool:
    tag = "cp" + version.replace(".", "")
    return any(WHEELS.glob(f"numpy-*-{tag}-{tag}-*.whl"))


@pytest.mark.parametrize("version", PYTHONS)
def test_zip_in_a_simulated_gradescope_image(version, tmp_path):
    python = _cpython(version)
    if python is None:
        pytest.skip(f"CPython {version} is not installed (looked in {PYENV})")
    if not _wheel_for(version):
        pytest.skip(f"no numpy wheel for CPython {version} in {WHEELS}: run `make wheels` "
                    f"(set-up downloads them; tests never do)")
    image = tmp_path / "image"
    subprocess.run([str(python), "-m", "venv", str(image / "python")], check=True, timeout=120)
    bin_ = image / "bin"
    bin_.mkdir()
    for name, target in (("python3", "python"), ("pip3", "pip")):
        (bin_ / name).write_text(f'#!/bin/sh\nexec "{image / "python" / "bin" / target}" "$@"\n')
    (bin_ / "apt-get").write_text("#!/bin/sh\nexit 0\n")
    for f in bin_.iterdir():
        f.chmod(0o755)
    root = tmp_path / "autograder"
    with zipfile.ZipFile(build("01_rnn_review", tmp_path / "autograder.zip")) as z:
        z.extractall(root / "source")
    for script in ("setup.sh", "run_autograder"):
        (root / "source" / script).chmod(0o755)
    env = {"PATH": f"{bin_}:/usr/bin:/bin", "AUTOGRADER_ROOT": str(root), "HOME": str(tmp_path),
           "LANG": "C.UTF-8", "PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1",
           "PIP_FIND_LINKS": str(WHEELS), "PIP_NO_CACHE_DIR": "1"}
    started = time.monotonic()
    setup = subprocess.run(["bash", str(root / "source" / "setup.sh")], cwd=root / "source",
                           env=env, capture_output=True, text=True, timeout=600)
    setup_seconds = time.monotonic() - started
    assert setup.returncode == 0, setup.stdout + setup.stderr
    assert f"grader Python {version}." in setup.stdout, setup.stdout
    scores = []
    for notebook in (SOLUTION, CHAPTER):
        submission = root / "submission"
        shutil.rmtree(submission, ignore_errors=True)
        submission.mkdir()
        shutil.copy(notebook, submission / notebook.name)
        done = subprocess.run([str(root / "source" / "run_autograder")], cwd=root, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        results = json.loads((root / "results" / "results.json").read_text())
        assert "internal grader error" not in json.dumps(results), results
        scores.append(results["score"])
    table = os.environ.get("GRADESCOPE_TABLE")
    if table:
        with open(table, "a") as f:
            f.write(f"| {python.parent.parent.name} | {setup_seconds:.1f} s | {scores[0]:g}/40 | "
                    f"{scores[1]:g}/40 |\n")
    assert scores == [40, 0]


def test_zip_numpy_pins_exist_for_every_python():
    """requirements.txt pins numpy 2.2.6 for 3.10 (2.3+ needs 3.11) and the lock's numpy
    for 3.11+: the lock and the zip must not drift apart."""
    lock = (ROOT / "requirements.lock").read_text()
    assert f"numpy=={NUMPY}\n" in lock
    assert f'numpy=={NUMPY_PY310}; python_version < "3.11"' in requirements()
