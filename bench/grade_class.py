"""Benchmark: grade a class of 20 chapter-1 submissions, and compare with the way
nbgrader's `autograde` works (execute every notebook top to bottom in a Jupyter kernel,
via nbclient, the library nbgrader's ExecutePreprocessor runs on).

    .venv/bin/python bench/grade_class.py [--students 20]

Prints wall times and the ratio. Not a test: nothing here passes or fails on speed.
The peer does less than we do (it runs the notebook once; we run hidden cases, edge
shapes, gradient checks and in-place checks per exercise in fresh sandboxes), so the
ratio is a floor on our advantage, not a like-for-like race.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from conftest import CHAPTER, SOLUTION, write_notebook  # noqa: E402
from test_grade import MUTANTS, VARIANTS  # noqa: E402


def make_class(folder: Path, students: int) -> list[Path]:
    """A realistic mix: correct, differently-correct, buggy, and unfinished notebooks."""
    kinds = [("solution", {})] + [(f"variant {k}", v) for k, v in VARIANTS.items()] + \
        [(f"bug {k}", {target: src}) for k, (target, src, _) in MUTANTS.items()]
    paths = []
    for i in range(students):
        name, replace = kinds[i % len(kinds)]
        path = folder / f"student{i:02d}.ipynb"
        if name == "solution" and i % 2:
            shutil.copy(CHAPTER, path)  # a student who did nothing
        else:
            write_notebook(path, replace)
        paths.append(path)
    return paths


def time_ours(folder: Path, out: Path) -> float:
    from autograder.grade import main_grade
    start = time.perf_counter()
    main_grade([str(folder), "--out", str(out)])
    return time.perf_counter() - start


def time_nbclient(paths: list[Path]) -> float | None:
    try:
        import nbclient
        import nbformat
    except ImportError:
        return None
    start = time.perf_counter()
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        nbclient.NotebookClient(nb, timeout=60, kernel_name="python3", allow_errors=True,
                                resources={"metadata": {"path": str(ROOT / "chapters")}}).execute()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "class"
        folder.mkdir()
        paths = make_class(folder, args.students)
        ours = time_ours(folder, Path(tmp) / "grades")
        peer = time_nbclient(paths)
    print(f"\nautograder grade: {args.students} submissions in {ours:.2f} s "
          f"({ours / args.students:.3f} s each)")
    if peer is None:
        print("nbclient is not installed: no peer timing")
        return 0
    print(f"nbclient execute (nbgrader autograde's engine): {peer:.2f} s "
          f"({peer / args.students:.3f} s each)")
    print(f"ratio: ours / peer = {ours / peer:.2f} (below 1 means we are faster)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
