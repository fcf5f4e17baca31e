"""Write and check autograder/fixtures/*.npz (instructor only; `python -m autograder release`).

For each exercise's public cases: the inputs, the reference's outputs, and the outputs of
each known mistake (autograder/mistakes/) with its hint. Computing them needs the
reference solutions and the mistake catalogue, neither of which the student package
carries; autograder/fixtures.py reads the result. `check_all` recomputes everything in
memory and reports a file that no longer matches (stale).
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from autograder.exercise import run
from autograder.exercises import CHAPTERS
from autograder.fixtures import PUBLIC_SEED, load, path_for
from autograder.mistakes import book

STALE_RTOL = 1e-12      # recomputing may differ in the last bits on another BLAS


def public_inputs(ex, k: int) -> dict:
    return ex.make_inputs(ex.public_dims[k], PUBLIC_SEED + k)


def compute(chapter, root: Path | None = None) -> dict[str, np.ndarray]:
    from autograder.reference import reference
    ref = reference(chapter, root)
    arrays = {}
    for ex in chapter.EXERCISES:
        if ex.checks_fn is not None:   # property checks: nothing to store
            continue
        mistakes = book(ex)
        arrays[f"{ex.name}.hints"] = np.array(list(mistakes), dtype=str)
        for k in range(len(ex.public_dims)):
            inputs = public_inputs(ex, k)
            outputs, _ = run(ex, ref, inputs)
            arrays.update({f"{ex.name}.{k}.in.{n}": np.asarray(v) for n, v in inputs.items()})
            arrays.update({f"{ex.name}.{k}.out.{n}": np.asarray(outputs[n])
                           for n in ex.axes if n in outputs})
            for m, wrong in enumerate(mistakes.values()):
                for n, v in wrong(ref, inputs).items():
                    arrays[f"{ex.name}.{k}.mistake.{m}.{n}"] = np.asarray(v)
    return arrays


def _same_array(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape or (a.dtype.kind in "US") != (b.dtype.kind in "US"):
        return False
    if a.dtype.kind in "US":
        return bool(np.array_equal(a, b))
    return bool(np.allclose(a, b, rtol=STALE_RTOL, atol=0))


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(_same_array(a[k], b[k]) for k in a)


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
