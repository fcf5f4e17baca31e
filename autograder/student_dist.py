"""`python -m autograder release --student-dist DIR`: what a course hands to students.

DIR gets the chapter notebooks (stubs), the self-check package with its public fixtures
and the data the chapters plot (package data, found by `autograder.data_path`, so a notebook
works wherever it is opened), a pyproject so `pip install DIR` works, and a README for
students. Never the solutions, the reference loader, the grader, or the catalogue of
known mistakes (its functions are almost-correct implementations).

What ships is an allow-list (SHIPPED), not a deny-list: a new module of the package stays
with the instructor until someone decides it is safe. Every shipped module must hold data
and checks only, no code that computes an exercise's answer: tests/test_student_dist.py
installs the edition and calls every function in it on every exercise's public cases.
"""
from __future__ import annotations

import shutil
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
# What `check(...)` needs, relative to the package (globs for data). The exercise specs
# ship too: exercises/__init__.py and each chapter module it lists in CHAPTERS (how to
# call and compare); their mistakes (autograder/mistakes/) do not.
SHIPPED = ("__init__.py", "selfcheck.py", "checks.py", "compare.py", "exercise.py", "errors.py",
           "fixtures.py", "notebook.py", "cascade.py", "exercises/__init__.py", "fixtures/*.npz",
           "data/*.json")

LICENSES = ("LICENSE", "LICENSE-TEXT")  # the code's (MIT) and the text's (CC BY 4.0)

PYPROJECT = """[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "lstm-from-the-cell-up-student"
version = "0.1.0"
description = "LSTMs from the cell up: the student notebooks and their self-checks"
requires-python = ">=3.11"
dependencies = ["numpy>=1.24", "matplotlib"]

[tool.setuptools.packages.find]
include = ["autograder*"]

[tool.setuptools.package-data]
autograder = ["fixtures/*.npz", "data/*.json"]
"""

README = """# LSTMs from the cell up: student edition

Needs Python 3.11 or newer. Install once, in a virtual environment, from this folder (the
one holding this README): `python -m pip install .`, then `python -m pip install jupyterlab`
and open the notebooks in `chapters/` (`jupyter lab chapters/`). Run the check cells in
JupyterLab (or Notebook): `jupyter nbconvert --execute` skips them (they carry the
`skip-execution` tag the book uses).

In each notebook, replace every `raise NotImplementedError(...)` under `# YOUR CODE HERE`
with your numpy code, keeping the function's name and signature, and run the Check cell
under the exercise, e.g. `check(rnn_forward)`. It prints a table: each check, pass or
fail, points, the largest relative error against the tolerance and, for a failure, which
output, which timestep and which entries differ, and the likely mistake. The checks use a
few fixed cases; your instructor's grader runs the same checks on hidden cases of other
shapes (N=1, T=1, H=1 included), so make the code general, not just the table green.

Submit the notebook file itself. Demo and plot cells do not count toward the grade: the
grader runs only the top-level statements that define something your exercise functions
use (helpers, lambdas, constants, classes, imports), never loops, plots or check lines;
`check` loads the cells you have run by the same rule.

Licenses: the code (the package and the notebooks' code cells) is MIT (`LICENSE`); the
text and figures are CC BY 4.0 (`LICENSE-TEXT`).
"""


def shipped_files() -> list[Path]:
    """The package's files that go to students (sorted, relative to the package)."""
    from autograder.exercises import CHAPTERS
    files = {p.relative_to(PACKAGE) for pattern in SHIPPED for p in PACKAGE.glob(pattern)
             if p.is_file()}
    files |= {Path(chapter.__file__).resolve().relative_to(PACKAGE) for chapter in CHAPTERS}
    return sorted(files)


def write(root: Path | str, dist: Path | str) -> list[str]:
    """Write the student edition of the course at `root` into `dist` (replaced)."""
    root, dist = Path(root), Path(dist)
    if dist.exists():
        shutil.rmtree(dist)
    (dist / "chapters").mkdir(parents=True)
    written = []
    for nb in sorted((root / "chapters").glob("*.ipynb")):
        shutil.copy(nb, dist / "chapters" / nb.name)
        written.append(f"chapters/{nb.name}")
    for rel in shipped_files():
        target = dist / "autograder" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(PACKAGE / rel, target)
        written.append(f"autograder/{rel.as_posix()}")
    (dist / "pyproject.toml").write_text(PYPROJECT)
    (dist / "README.md").write_text(README)
    for name in LICENSES:
        shutil.copy(root / name, dist / name)
    return written + ["pyproject.toml", "README.md", *LICENSES]
