"""`python -m autograder gradescope --chapter 01_rnn_review --out autograder.zip`

Builds the zip Gradescope's autograder settings take: `setup.sh` (installs numpy into the
image once), `run_autograder` (grades /autograder/submission, writes
/autograder/results/results.json), and the source it needs: this package with its
fixtures and the chapter's reference notebook. Gradescope runs one container per
submission, so a course can outgrow one machine. Gradescope's own layout can be moved
for testing with the AUTOGRADER_ROOT environment variable.
"""
from __future__ import annotations

import argparse
import io
import zipfile
from pathlib import Path

import numpy as np

from autograder.exercises import chapter_named

PACKAGE = Path(__file__).resolve().parent

SETUP = """#!/usr/bin/env bash
# Gradescope image set-up: the grader needs numpy only (and IPython, optionally, to read magics).
set -euo pipefail
apt-get install -y -qq python3 python3-pip > /dev/null || true
pip3 install --quiet "numpy=={numpy}"
"""

RUN = """#!/usr/bin/env bash
# Grade the submission Gradescope put in $ROOT/submission; write $ROOT/results/results.json.
set -uo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
PYTHON="${{PYTHON:-python3}}"
cd "$ROOT/source"
mkdir -p "$ROOT/results"
"$PYTHON" -m autograder grade "$ROOT/submission" --out /tmp/grading --chapter {chapter} \\
    --force --visibility {visibility} --single "$ROOT/results/results.json"
"""


def build(chapter_name: str, out: Path, visibility: str = "after_published",
          root: Path | None = None) -> Path:
    root = Path(root or PACKAGE.parent)
    chapter = chapter_named(chapter_name if chapter_name.endswith(".ipynb") else chapter_name + ".ipynb")
    if chapter is None:
        raise SystemExit(f"unknown chapter {chapter_name!r}")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        def add(name: str, data: bytes | str, executable: bool = False):
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if executable else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
        add("setup.sh", SETUP.format(numpy=np.__version__), executable=True)
        add("run_autograder", RUN.format(chapter=chapter.NOTEBOOK[:-6], visibility=visibility),
            executable=True)
        for path in sorted(PACKAGE.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix in (".py", ".npz"):
                add(f"autograder/{path.relative_to(PACKAGE).as_posix()}", path.read_bytes())
        add(f"solutions/{chapter.NOTEBOOK}", (root / "solutions" / chapter.NOTEBOOK).read_bytes())
    out.write_bytes(buf.getvalue())
    return out


def main_gradescope(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder gradescope",
                                     description="Build a Gradescope autograder zip for one chapter.")
    parser.add_argument("--chapter", required=True, help="e.g. 01_rnn_review")
    parser.add_argument("--out", default="autograder.zip")
    parser.add_argument("--visibility", default="after_published",
                        choices=("hidden", "after_due_date", "after_published", "visible"),
                        help="visibility of the hidden-case tests (default: %(default)s); "
                             "checks that reveal nothing hidden are always visible")
    args = parser.parse_args(argv)
    path = build(args.chapter, Path(args.out), args.visibility)
    print(f"wrote {path}: upload it in the assignment's Configure Autograder page")
    return 0
