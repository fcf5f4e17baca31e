"""The student edition: installed into a fresh virtual environment, its self-check works
on a correct and a wrong implementation, and no solution line is anywhere in it."""
from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

from autograder.notebook import source_of
from autograder.release import main_release, solution_regions
from conftest import ROOT, SOLUTION


def test_student_edition_installs_checks_and_hides_solutions(tmp_path, capsys):
    dist = tmp_path / "dist"
    assert main_release(["--student-dist", str(dist), "--root", str(ROOT)]) == 0
    files = [p for p in dist.rglob("*") if p.is_file()]
    names = {p.relative_to(dist).as_posix() for p in files}
    assert "chapters/01_rnn_review.ipynb" in names and "autograder/selfcheck.py" in names
    assert "autograder/fixtures/01_rnn_review.npz" in names and "README.md" in names
    assert not any(n.startswith("solutions/") or n.endswith(("grade.py", "reference.py")) for n in names)
    # A leak is most of a solution region (a one-line region: that line) showing up in the
    # notebooks or the package; one generic line (`self.units = units`, a time loop) is not.
    notebooks = "\n".join(p.read_text() for p in files if p.suffix == ".ipynb")
    package = "\n".join(p.read_text(errors="replace") for p in files if p.suffix == ".py")
    for sol in sorted((ROOT / "solutions").glob("*.ipynb")):
        for region in solution_regions(sol):
            lines = [l.strip() for l in region if len(l.strip()) >= 12 and not l.strip().startswith("#")]
            in_notebooks = [l for l in lines if l in notebooks]
            assert not lines or len(in_notebooks) < max(1, len(lines) / 2), (sol.name, in_notebooks)
            shared = [l for l in lines if l in package]
            assert len(lines) < 3 or len(shared) < len(lines) / 2, (sol.name, shared)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # numpy comes from the project's environment (nothing may download in a test)
    Path(site, "project-numpy.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(py), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                    "--no-build-isolation", str(dist)], check=True, cwd=tmp_path)
    student = "import numpy as np\nfrom autograder import check\n" + source_of(SOLUTION, "rnn_step_forward")
    student += """
ok = True
try:
    check(rnn_step_forward)
except AssertionError:
    ok = False
def rnn_step_forward(x, h_prev, Wx, Wh, b):
    return np.tanh(x @ Wx + h_prev @ Wh), None
try:
    check(rnn_step_forward)
    wrong_passed = True
except AssertionError:
    wrong_passed = False
print("RESULT", ok, wrong_passed)
"""
    (tmp_path / "student.py").write_text(student)
    done = subprocess.run([str(py), "student.py"], cwd=tmp_path, capture_output=True, text=True)
    assert "RESULT True False" in done.stdout, done.stdout + done.stderr
    assert "looks like: the bias b is missing" in done.stdout
