"""The first code cell of every chapter notebook: a student without the course package is
told the one command that installs it, instead of a bare ModuleNotFoundError."""
from __future__ import annotations

import json
import os
import sys

import pytest

from conftest import ROOT

CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))
COMMAND = "python -m pip install ."


def _first_code_cell(path) -> str:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    source = next(c["source"] for c in cells if c["cell_type"] == "code")
    return "".join(source) if isinstance(source, list) else source


def test_every_chapter_is_checked():
    assert len(CHAPTERS) >= 6, CHAPTERS


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_without_the_package_the_first_cell_says_how_to_install_it(path, monkeypatch):
    """Run the Setup cell as a Python without `autograder` would: does it stop with one
    message naming the install command (and no chained ImportError)?"""
    monkeypatch.setitem(sys.modules, "autograder", None)   # `import autograder` now fails
    # a fresh Python lacks matplotlib too (the package brings it): the message comes first
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    monkeypatch.setattr(os, "environ", dict(os.environ))   # chapter 6 sets BLAS threads
    with pytest.raises(ModuleNotFoundError) as caught:
        exec(compile(_first_code_cell(path), str(path), "exec"), {})
    message = str(caught.value)
    assert COMMAND in message and "restart the kernel" in message, message
    assert caught.value.__suppress_context__, "the original ImportError is shown too"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_with_the_package_the_first_cell_gives_check(path, monkeypatch):
    monkeypatch.setattr(os, "environ", dict(os.environ))
    namespace = {}
    exec(compile(_first_code_cell(path), str(path), "exec"), namespace)
    assert callable(namespace["check"])
