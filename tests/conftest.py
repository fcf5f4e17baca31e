"""Shared helpers: build student notebooks from the solution notebook with some
functions replaced, and grade them."""
from __future__ import annotations

import ast
import json
import textwrap
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = ROOT / "solutions" / "01_rnn_review.ipynb"
CHAPTER = ROOT / "chapters" / "01_rnn_review.ipynb"


def _defines(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    return {s.name for s in tree.body if isinstance(s, (ast.FunctionDef, ast.ClassDef))}


def write_notebook(path: Path, replace: dict[str, str] | None = None, base: Path = SOLUTION,
                   extra_cells: list[str] = ()) -> Path:
    """Copy `base`, replacing the cell that defines each name in `replace` by the given
    source (dedented); a value of None deletes that cell. Extra code cells go at the end."""
    nb = json.loads(base.read_text())
    replace = dict(replace or {})
    cells = []
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        hit = [n for n in replace if cell["cell_type"] == "code" and n in _defines(src)]
        if hit:
            new = replace.pop(hit[0])
            if new is None:
                continue
            cell = {**cell, "source": textwrap.dedent(new).strip() + "\n"}
        cells.append(cell)
    assert not replace, f"no cell defines {sorted(replace)}"
    for src in extra_cells:
        cells.append({"cell_type": "code", "metadata": {}, "execution_count": None,
                      "outputs": [], "source": textwrap.dedent(src).strip() + "\n"})
    nb["cells"] = cells
    path.write_text(json.dumps(nb))
    return path


@pytest.fixture
def make_notebook(tmp_path):
    counter = iter(range(10_000))

    def make(replace=None, name=None, **kw):
        path = tmp_path / (name or f"student{next(counter)}.ipynb")
        return write_notebook(path, replace, **kw)
    return make


def assert_leaves_inputs_alone(forward, backward, args, rng):
    """A forward and its backward (given dh shaped like the forward's first output and the
    cache it returns last) change none of their array arguments."""
    copies = [a.copy() for a in args]
    out = forward(*args)
    dh = rng.normal(size=out[0].shape)
    dh_copy = dh.copy()
    backward(dh, out[-1])
    assert all(np.array_equal(a, c) for a, c in zip(args, copies))
    assert np.array_equal(dh, dh_copy)


def numeric_grad(f, x, step=1e-5):
    """Centred differences of the scalar f() with respect to the array x (changed in place):
    the oracle the reference solutions' gradients are checked against."""
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + step
        up = f()
        x[i] = old - step
        down = f()
        x[i] = old
        grad[i] = (up - down) / (2 * step)
    return grad
