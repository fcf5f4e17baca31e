"""The reference solutions: the functions of solutions/NN_name.ipynb, run in-process.

The instructor's notebook is trusted, so it runs here, not in a sandbox. Only its
definitions run (the grader's selection for students, `notebook`, with every function
of the notebook as a graded one: its helpers are used by scripts and mistakes too).
"""
from __future__ import annotations

import ast
import builtins
import re
from functools import lru_cache
from pathlib import Path

from autograder import child, notebook
from autograder.exercise import LocalStudent

ROOT = Path(__file__).resolve().parent.parent


class ReferenceMissing(Exception):
    pass


@lru_cache(maxsize=16)
def _load(path: str, stamp: tuple) -> dict:
    """Load once per version of the file (`stamp`: modification time and size)."""
    program = notebook.load_program(Path(path), notebook.EVERY_FUNCTION)
    namespace = {"__name__": "reference", "__builtins__": builtins}
    problems = child.load([(c.index, c.source, c.keep) for c in program.cells], namespace)
    # a plotting import may fail on a grading machine without matplotlib: that is fine; so
    # may a statement only the notebook's other helpers (training, plots) need
    graded = notebook.load_program(Path(path))
    needed = {(c.index, stmt.lineno) for c in graded.cells
              for k, stmt in enumerate(ast.parse(c.source).body) if k in c.keep}
    real = [p for p in problems if "ModuleNotFoundError" not in p
            and tuple(map(int, re.match(r"Cell (\d+), line (\d+)", p).groups())) in needed]
    if real:
        raise ReferenceMissing(f"the reference notebook {path} does not load: {real[0]}")
    return namespace


def reference(chapter, root: Path | str | None = None) -> LocalStudent:
    """The chapter's reference functions, callable like a student (`.call(name, *args)`)."""
    path = Path(root or ROOT) / "solutions" / chapter.NOTEBOOK
    if not path.exists():
        raise ReferenceMissing(
            f"{path} is missing: grading and fixtures need the instructor's solutions/ folder")
    info = path.stat()
    return LocalStudent(_load(str(path.resolve()), (info.st_mtime_ns, info.st_size)))
