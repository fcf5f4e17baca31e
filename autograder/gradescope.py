"""`python -m autograder gradescope --chapter 01_rnn_review --out autograder.zip`

Builds the zip Gradescope's autograder settings take: `setup.sh` (makes a venv under
/autograder with the numpy that exists for the image's Python, once per image: Ubuntu
22.04/Python 3.10 and 24.04/Python 3.12 both work), `run_autograder` (grades
/autograder/submission, writes /autograder/results/results.json), and the source it needs: this package with its
fixtures and the chapter's reference notebook. Gradescope runs one container per
submission, so a course can outgrow one machine. Gradescope's own layout can be moved
for testing with the AUTOGRADER_ROOT environment variable.
"""
from __future__ import annotations

import argparse
import io
import zipfile
from pathlib import Path

from autograder.exercises import chapter_named

PACKAGE = Path(__file__).resolve().parent

# numpy for each Python the zip accepts: numpy 2.3 and later need Python 3.11, so Ubuntu
# 22.04's Python 3.10 (Gradescope's default image) gets numpy 2.2's last release. The grader
# runs on both (tests/test_gradescope.py grades with each installed CPython 3.10-3.13).
NUMPY_PY310 = "2.2.6"
NUMPY = "2.4.6"          # = requirements.lock's pin (a test keeps them equal)
PYTHONS = ("3.10", "3.11", "3.12", "3.13")


def numpy_for(version: str) -> str:
    """The numpy release the zip installs on Python `version` ("3.10")."""
    return NUMPY_PY310 if tuple(map(int, version.split(".")[:2])) < (3, 11) else NUMPY


def requirements() -> str:
    return (f'numpy=={NUMPY_PY310}; python_version < "3.11"\n'
            f'numpy=={NUMPY}; python_version >= "3.11"\n')


SETUP = """#!/usr/bin/env bash
# Gradescope image set-up (runs once, as root, when the autograder is built).
# The grader gets a venv of its own under $ROOT (Ubuntu 24.04's system pip refuses
# installs, PEP 668), with the numpy that exists for the image's Python (see requirements.txt).
set -euo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
HERE="$(cd "$(dirname "${{BASH_SOURCE[0]}}")" && pwd)"
# Ubuntu ships venv/ensurepip apart from python3 (python3-venv)
if ! python3 -c "import ensurepip, venv" > /dev/null 2>&1; then
  {{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv; }} \
    > /dev/null || echo "setup.sh: apt-get could not install python3-venv"
fi
python3 - <<'PY'
import sys
if sys.version_info < (3, 10):
    sys.exit(f"setup.sh: the grader needs Python 3.10 or later; this image has {{sys.version.split()[0]}}")
PY
python3 -m venv "$ROOT/venv"
"$ROOT/venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$HERE/requirements.txt"
"$ROOT/venv/bin/python" -c "import sys, numpy; print('setup.sh: grader Python', sys.version.split()[0], 'numpy', numpy.__version__)"
"""

RUN = """#!/usr/bin/env bash
# Grade the submission Gradescope put in $ROOT/submission; write $ROOT/results/results.json.
set -uo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
PYTHON="${{PYTHON:-$ROOT/venv/bin/python}}"
cd "$ROOT/source"
mkdir -p "$ROOT/results"
"$PYTHON" -m autograder grade "$ROOT/submission" --out "$(mktemp -d)" --chapter {chapter} \\
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
        add("setup.sh", SETUP.format(), executable=True)
        add("requirements.txt", requirements())
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
