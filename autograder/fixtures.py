"""Public test cases for the notebook self-check, stored in autograder/fixtures/*.npz.

The self-check must work in a copy of the course without solutions/, so the expected
outputs of a few fixed cases are computed from the reference once, by
`python -m autograder release` (autograder/make_fixtures.py, instructor only), and
committed. A case stores its inputs, the expected outputs, and the outputs of each
known mistake (for hints), so this module, which ships in the student package, only
reads data: nothing here or in what it imports computes an answer.

Keys in a chapter's file: "<exercise>.<case>.in.<arg>", "<exercise>.<case>.out.<name>",
"<exercise>.hints" (the known mistakes' hints, in order) and
"<exercise>.<case>.mistake.<k>.<name>" (k: position in "<exercise>.hints").
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent / "fixtures"
PUBLIC_SEED = 1000      # public case k uses seed PUBLIC_SEED + k; hidden seeds never do


def path_for(chapter, root: Path | None = None) -> Path:
    folder = Path(root) / "autograder" / "fixtures" if root is not None else HERE
    return folder / (Path(chapter.NOTEBOOK).stem + ".npz")


def load(chapter, root: Path | None = None) -> dict[str, np.ndarray]:
    with np.load(path_for(chapter, root)) as f:
        return {k: f[k] for k in f.files}


class Public:
    """The stored cases of one exercise, as (dims, inputs) plus expected/mistake lookups."""

    def __init__(self, chapter, ex):
        self.ex = ex
        self.arrays = load(chapter)
        self.hints = [str(h) for h in self.arrays.get(f"{ex.name}.hints", ())]
        self.cases = []
        for k, dims in enumerate(ex.public_dims):
            prefix = f"{ex.name}.{k}.in."
            inputs = {key[len(prefix):]: v for key, v in self.arrays.items() if key.startswith(prefix)}
            self.cases.append((dims, inputs))

    def _case(self, inputs) -> int:
        return next(k for k, (_, i) in enumerate(self.cases) if i is inputs)

    def expected(self, ex, inputs) -> dict:
        k = self._case(inputs)
        return {n: self.arrays[f"{ex.name}.{k}.out.{n}"] for n in ex.axes
                if f"{ex.name}.{k}.out.{n}" in self.arrays}

    def mistakes(self, ex, inputs) -> dict:
        k, out = self._case(inputs), {}
        for m, hint in enumerate(self.hints):
            prefix = f"{ex.name}.{k}.mistake.{m}."
            out[hint] = {key[len(prefix):]: v for key, v in self.arrays.items() if key.startswith(prefix)}
        return out
