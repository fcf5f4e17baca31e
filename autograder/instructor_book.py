"""The instructor edition of the book: the same pages, with each exercise's solution
shown, collapsed under the exercise (`make book INSTRUCTOR=1`, into _build/instructor).

It is made from solutions/ in a scratch source folder (_build/instructor_src): the same
_config.yml, intro and table of contents, with chapters/NN.ipynb replaced by the solved
notebook whose solution cells carry the `hide-input` tag (a "show code" toggle), each
exercise under the same frame as in the student book (autograder.book_view).
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from autograder.book_view import add_frames
from autograder.exercises import chapter_named
from autograder.release import exercise_names, notebook_text, read_notebook, solution_regions


def _has_solution(cell: dict) -> bool:
    return cell.get("cell_type") == "code" and "BEGIN SOLUTION" in "".join(cell.get("source", ""))


def prepare(root: Path | str, dest: Path | str) -> Path:
    root, dest = Path(root).resolve(), Path(dest).resolve()
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "chapters").mkdir(parents=True)
    config = (root / "_config.yml").read_text()
    config = config.replace('title: "LSTMs from the cell up"',
                            'title: "LSTMs from the cell up (instructor edition)"', 1)
    (dest / "_config.yml").write_text(config)
    for name in ("_toc.yml", "intro.md"):
        shutil.copy(root / name, dest / name)
    (dest / "_mathjax").symlink_to(root / "_mathjax")
    (dest / "autograder").symlink_to(root / "autograder")   # check() and data_path() import it from the cwd
    for sol in sorted((root / "solutions").glob("*.ipynb")):
        nb = read_notebook(sol)
        assert solution_regions(nb) is not None
        for cell in nb["cells"]:
            if _has_solution(cell):
                tags = cell.setdefault("metadata", {}).setdefault("tags", [])
                if "hide-input" not in tags:
                    tags.append("hide-input")
        chapter = chapter_named(sol.name)
        if chapter is not None:   # the same exercise frames as the student book
            nb = add_frames(nb, chapter, exercise_names(nb, f"solutions/{sol.name}"))
        (dest / "chapters" / sol.name).write_text(notebook_text(nb))
    return dest


if __name__ == "__main__":
    print(prepare(sys.argv[1] if len(sys.argv) > 1 else ".",
                  sys.argv[2] if len(sys.argv) > 2 else "_build/instructor_src"))
