"""Public test cases for the notebook self-check, stored in autograder/fixtures/*.npz.

The self-check must work in a copy of the course without solutions/, so the expected
outputs of a few fixed cases are computed from the reference once, by
`python -m autograder release`, and committed. A case stores its inputs, the expected
outputs, and the outputs of each known mistake (for hints). `check_all` recomputes
everything in memory and reports a file that no longer matches (stale).

Keys in a chapter's file: "<exercise>.<case>.in.<arg>", "<exercise>.<case>.out.<name>",
"<exercise>.<case>.mistake.<k>.<name>" (k: position in the exercise's `mistakes`).
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from autograder.exercise import run
from autograder.exercises import CHAPTERS

HERE = Path(__file__).resolve().parent / "fixtures"
PUBLIC_SEED = 1000      # public case k uses seed PUBLIC_SEED + k; hidden seeds never do
STALE_RTOL = 1e-12      # recomputing may differ in the last bits on another BLAS


def path_for(chapter, root: Path | None = None) -> Path:
    folder = Path(root) / "autograder" / "fixtures" if root is not None else HERE
    return folder / (Path(chapter.NOTEBOOK).stem + ".npz")


def public_inputs(ex, k: int) -> dict:
    return ex.make_inputs(ex.public_dims[k], PUBLIC_SEED + k)


def compute(chapter, root: Path | None = None) -> dict[str, np.ndarray]:
    from autograder.reference import reference  # the instructor's side only
    ref = reference(chapter, root)
    arrays = {}
    for ex in chapter.EXERCISES:
        if ex.checks_fn is not None:   # property checks: nothing to store
            continue
        for k in range(len(ex.public_dims)):
            inputs = public_inputs(ex, k)
            outputs, _ = run(ex, ref, inputs)
            arrays.update({f"{ex.name}.{k}.in.{n}": np.asarray(v) for n, v in inputs.items()})
            arrays.update({f"{ex.name}.{k}.out.{n}": np.asarray(outputs[n])
                           for n in ex.axes if n in outputs})
            for m, wrong in enumerate(ex.mistakes.values()):
                for n, v in wrong(ref, inputs).items():
                    arrays[f"{ex.name}.{k}.mistake.{m}.{n}"] = np.asarray(v)
    return arrays


def load(chapter, root: Path | None = None) -> dict[str, np.ndarray]:
    with np.load(path_for(chapter, root)) as f:
        return {k: f[k] for k in f.files}


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        a[k].shape == b[k].shape and np.allclose(a[k], b[k], rtol=STALE_RTOL, atol=0) for k in a)


def write_all(root: Path | str = ".") -> list[str]:
    """Write each chapter's fixtures if they changed; return the paths written."""
    written = []
    for chapter in CHAPTERS:
        if not (Path(root) / "solutions" / chapter.NOTEBOOK).exists():
            continue
        target = path_for(chapter, root)
        arrays = compute(chapter, root)
        if target.exists() and _same(load(chapter, root), arrays):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        target.write_bytes(buf.getvalue())
        written.append(f"autograder/fixtures/{target.name}")
    return written


def check_all(root: Path | str = ".") -> list[str]:
    """One line per chapter whose fixtures are missing or stale."""
    problems = []
    for chapter in CHAPTERS:
        if not (Path(root) / "solutions" / chapter.NOTEBOOK).exists():
            continue
        target = path_for(chapter, root)
        if not target.exists():
            problems.append(f"{target} is missing: run `python -m autograder release`")
        elif not _same(load(chapter, root), compute(chapter, root)):
            problems.append(f"{target} is stale (the reference or the cases changed): "
                            "run `python -m autograder release`")
    return problems


def _scalar(v: np.ndarray, dims: dict):
    """A stored 0-d int or bool is given back as the scalar the case was made with (a Python
    int, or a numpy int in cases marked "np"), not as a 0-d array no docstring mentions."""
    if v.shape != () or v.dtype.kind not in "iub":
        return v
    if v.dtype.kind == "b":
        return bool(v)
    return v[()] if dims.get("np") else v.item()


class Public:
    """The stored cases of one exercise, as (dims, inputs) plus expected/mistake lookups."""

    def __init__(self, chapter, ex):
        self.ex = ex
        self.arrays = load(chapter)
        self.cases = []
        for k, dims in enumerate(ex.public_dims):
            prefix = f"{ex.name}.{k}.in."
            inputs = {key[len(prefix):]: _scalar(v, dims) for key, v in self.arrays.items()
                      if key.startswith(prefix)}
            self.cases.append((dims, inputs))

    def _case(self, inputs) -> int:
        return next(k for k, (_, i) in enumerate(self.cases) if i is inputs)

    def expected(self, ex, inputs) -> dict:
        k = self._case(inputs)
        return {n: self.arrays[f"{ex.name}.{k}.out.{n}"] for n in ex.axes
                if f"{ex.name}.{k}.out.{n}" in self.arrays}

    def mistakes(self, ex, inputs) -> dict:
        k, out = self._case(inputs), {}
        for m, hint in enumerate(ex.mistakes):
            prefix = f"{ex.name}.{k}.mistake.{m}."
            out[hint] = {key[len(prefix):]: v for key, v in self.arrays.items() if key.startswith(prefix)}
        return out
